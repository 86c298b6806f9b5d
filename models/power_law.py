r"""Power-law prior: the population of rates whose pass@k is the power law exp(-A k^(-a)).

The least-squares power law (Schaeffer et al. 2025) fits -log pass@k = A k^(-a) to the curve of
the attempts seen and extrapolates it. This family is that law as a population of rates: with
h = -log(1 - p) (the hazard of one attempt), the density

.. math::  f(h) = \frac{1}{h} \sum_{r \ge 1} \frac{(-1)^{r + 1} x^r}{r!\,\Gamma(a r)},
           \qquad x = A h^a,

has, term by term, the Laplace transform 1 - exp(-A k^(-a)) = E[(1 - p)^k]: pass@k the law.
(The series is -W(-x) / h, W Wright's function W_{a,0}.) No density has exactly that
transform near k = 0, and f turns negative somewhere for every (a, A), for rates near 1 (where
the float64 series also loses its digits at large x): the family keeps f from p = 0 up to the
first rate where it stops being positive and exact, and renormalises. Where f is kept over the
whole grid (h up to 15) and integrates to less than 1 there, the rest goes on the grid's top
point and pass@k is the law's (to 5e-5 for k up to 1e8, measured; see below for larger k);
otherwise pass@k departs from the law at small k and comes back to it as k grows: pass@1 0.2256
against 0.2231 at a = 0.3, A = 1.5 (kept over the grid, integrating to 1.003), 0.40 against
0.37 at a = 0.5, A = 1, and 0.019 against 0.008 at a = 0.35, A = 4.8 (near a fit of Pythia
12B), within 0.6% and 2.5% of the law from k = 100 on (`tests/test_power_law.py`). Where f is
cut early, as for a above about 1, the family is far from the law at the k of the data, and the
prior's pass@100 is not the family's (a = 1 and a prior pass@100 of 0.5: the family's is 0.64).
Near p = 0, f ~ A h^(a - 1) / Gamma(a): a power law of exponent a. The lowest grid point holds
f below its cell's edge (p = 1.4e-11) and is integrated as that power law, which is exact only
where x is small there: at a = 0.05, A = 3 (x = 0.86 at the edge, 59% of the mass) pass@k
departs from the law by 4e-4 at k = 1e9 and 6% at 1e12. With few attempts per problem the data
are pass@k at small k, where f is cut and moves with (a, A): at 8 attempts fits mix slowly,
whatever coordinates NUTS samples in, and a comes out steep on Pythia 12B (0.8 to 0.9, against
0.4 from 100 attempts; `benchmarks/power_law_coordinates.py`).

Unlike the Beta families it has no shape of its own to bend the tail away from the body: one
exponent runs from the rates near 1 to those near 0, as in the regression. The body is as
rigid, so data whose curve bends are fitted with a compromise exponent. On the 13 real
backtest cells at 100 attempts its posterior mean beats the least-squares power law in 5 and
varies about as little between subsamples, but is biased where the curve bends beyond the data,
and its 90% intervals cover 82% (51% on the synthetic scaled-Beta design), against the default
beta-spline's 93% (`benchmarks/RESULTS.md`, "Thirty-third session").

Priors, fixed before seeing data:

- a ~ LogNormal(log 0.3, 1), as the tail exponent of the other families;
- the law's pass@100, exp(-A 100^(-a)), ~ Uniform(0, 1) (site ``pass_at_100``; A is derived).

The family is discrete, on the log-spline's grid of logit p (from 1.4e-11 to 1 - 3e-7): the
mass of a point is f(h) dh over its cell, the lowest point holding all of f below its upper
edge, Sum_r (-1)^(r + 1) x_e^r / (r! Gamma(a r + 1)), integrated as p^(a - 1) by `functionals`.

Example:
    >>> import jax
    >>> from bayes_passk.functionals import log_survival_new
    >>> params = Params(a=jnp.array(0.3), A=jnp.array(1.5))
    >>> round(float(jax.nn.logsumexp(log_masses(params)[1])), 12)  # the masses sum to one
    0.0
    >>> pass_at_k = lambda k: 1 - float(jnp.exp(log_survival_new(FAMILY, params, k)))
    >>> [round(pass_at_k(k), 3) for k in (100, 10_000)]  # the law: 0.686, 0.910
    [0.687, 0.91]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import gammaln

from bayes_passk.families import grid_family
from bayes_passk.hierarchy import hierarchical_model
from bayes_passk.models.log_spline import GRID

REFERENCE_K = 100.0
# Wherever f is kept the terms have died out by r = 100: the largest term sits near r = x^(1 /
# (1 + a)), and x beyond ~25 at small a loses the digits that keep a point (the masses of 305
# prior draws are the same to the last bit with 40 or 240 terms).
TERMS = np.arange(1, 101, dtype=float)
# A cut point's log mass: finite, so the Categorical's logits are, yet far below anything a
# row's log likelihood (>= -3e17) can add.
CUT_LOG_MASS = -1e30
KEPT_DIGITS = 1e-9  # keep f where the series' sum is at least this share of its terms' sizes
_H = np.log1p(np.exp(GRID))  # h = -log(1 - p) = softplus(logit p) on the grid
_LOG_H = np.log(_H)
_H_EDGE = float(np.log1p(np.exp((GRID[0] + GRID[1]) / 2)))  # the lowest cell's upper edge
_LOG_CELL = np.log(GRID[1] - GRID[0]) + np.log(-np.expm1(-_H))  # log(dh): dh = p dy


class Params(NamedTuple):
    """The law's exponent a and scale A: -log pass@k = A k^(-a)."""

    a: jax.Array
    A: jax.Array


def hyperprior() -> Params:
    """Sample (a, pass@100 of the law), return (a, A); see the module docstring."""
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    pass_at_reference = numpyro.sample("pass_at_100", dist.Uniform(0.0, 1.0))
    A = numpyro.deterministic("A", -jnp.log(pass_at_reference) * REFERENCE_K**a)
    return Params(a, A)


def _alternating_series(log_x, a, shift):
    """Log of Sum_r (-1)^(r + 1) x^r / (r! Gamma(a r + shift)), and whether it kept its digits."""
    log_terms = TERMS * log_x[..., None] - gammaln(TERMS + 1) - gammaln(a * TERMS + shift)
    # The largest term by argmax, not jnp.max: max's derivative finds its argument by equality
    # with a recomputed copy, which a compiler need not round alike (then 0 / 0, a NaN).
    largest = jnp.take_along_axis(log_terms, jnp.argmax(log_terms, axis=-1, keepdims=True), -1)
    scaled = jnp.exp(log_terms - largest)
    total = jnp.sum(jnp.where(TERMS % 2 == 1, scaled, -scaled), axis=-1)
    exact = total > KEPT_DIGITS * jnp.sum(scaled, axis=-1)
    safe = jnp.where(exact, total, 1.0)  # no NaN in the gradient of the cut branch
    return largest[..., 0] + jnp.log(safe), exact


def log_masses(params: Params) -> tuple[jax.Array, jax.Array]:
    """Return the grid of logit p and the log prior mass at each point (summing to 1)."""
    log_f, exact = _alternating_series(jnp.log(params.A) + params.a * _LOG_H, params.a, 0.0)
    kept = jnp.cumprod(exact.astype(float)) > 0  # up to the first point where f is not kept
    log_mass = jnp.where(kept, log_f - _LOG_H + _LOG_CELL, CUT_LOG_MASS)
    log_below, _ = _alternating_series(
        jnp.log(params.A) + params.a * np.log(_H_EDGE), params.a, 1.0
    )
    log_mass = log_mass.at[0].set(log_below)
    # f integrates to 1: where it is kept to the grid's top and what is kept falls short of 1,
    # the rest lies above the top and goes on the top point (else nothing is added).
    beyond = jnp.where(kept[-1], 1.0 - jnp.exp(jax.nn.logsumexp(log_mass)), 0.0)
    log_beyond = jnp.where(beyond > 0, jnp.log(jnp.where(beyond > 0, beyond, 1.0)), -jnp.inf)
    log_mass = log_mass.at[-1].set(jnp.logaddexp(log_mass[-1], log_beyond))
    return jnp.asarray(GRID), log_mass - jax.nn.logsumexp(log_mass)


FAMILY = grid_family(
    name="power-law",
    hyperprior=hyperprior,
    log_masses=log_masses,
    grid=GRID,
    tail_exponent=lambda params: params.a,
    description="the rates whose pass@k is the power law exp(-A k^-a), on a logit grid",
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical power-law binomial model (fit it with ``marginalize=True``)."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
