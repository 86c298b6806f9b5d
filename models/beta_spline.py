r"""Beta-spline prior: a Beta's log density in logit p plus a smooth, stationary deviation.

.. math::  P(\operatorname{logit} p = y_j) \propto \exp\theta(y_j), \qquad
           \theta(y) = a\,y - (a + b)\log(1 + e^y) + \delta(y), \qquad
           \delta(y) = \sum_k \beta_k B_k(y),

on the log-spline's grid and cubic B-splines (`log_spline`), with the coefficients a stationary
Gaussian AR(1) sequence along the knots (an Ornstein-Uhlenbeck process sampled every H = 1.6):

.. math::  \beta_0 = s z_0, \quad \beta_k = \rho\,\beta_{k-1} + s\sqrt{1 - \rho^2}\,z_k,
           \quad \rho = e^{-H / \ell}, \quad z_k \sim N(0, 1).

Without delta this is the Beta(a, b) density of p, written in logit p: its log density has
slope a - (a + b) sigmoid(y), which tends to the tail exponent a as p -> 0. The deviation
bends the body freely, but it is stationary: the same spread everywhere, its value forgotten
over a correlation length ell, so it adds wiggles around the power law p^(a - 1) and no lasting
tilt. The exponent a is then set by the trend of the log density over the whole left side of
the data, with the body's departures from a Beta left to delta; below the data, delta reverts
to its prior (mean 0, sd about 0.85 s) and the forecast to the Beta's tail. This is the
empirical regularity of repeated sampling (-log pass@k a power law in k over many decades,
Schaeffer et al. 2025) as a prior: a power law with bounded departures. The log-spline instead
lets the local exponent drift like a Brownian motion and so continues the slope it has at the
edge of the data.

Priors, fixed before seeing data:

- a ~ LogNormal(log 0.3, 1) and the Beta's mean a / (a + b) ~ Uniform(0, 1), as for `beta`
  (site ``base_mean``: with the deviation it is not the mean rate);
- s ~ HalfNormal(1) (``deviation_scale``): the coefficients' standard deviation; delta's own is
  about 0.85 s (the B-splines average neighbouring coefficients), a factor of e^1.7 either way
  at s = 1;
- ell = ln 10 (fixed): the deviation's correlation length is one decade of p in the tail
  (where logit p ~ ln p);
- z ~ Normal(0, 1), the non-centred innovations.

The family is discrete like the log-spline: moments are sums over the grid (p from 1.4e-11 to
1 - 3e-7), with the power-law tail below it held by its lowest point (`log_masses`) and
integrated exactly there, so a forecast follows the Beta's trend p^(a - 1) at any k.
`tail_exponent` is a, the exponent of that trend: the local slope of the log density wanders
around it with delta's slope (prior sd about 0.4 s at a point, 0.34 s averaged over a decade of
p).

Example:
    >>> import jax
    >>> params = Params(a=jnp.array(0.4), b=jnp.array(3.0), deviation_scale=jnp.array(1.0),
    ...                 z=jnp.zeros(NUM_Z))
    >>> y, log_mass = log_masses(params)
    >>> round(float(jax.nn.logsumexp(log_mass)), 12)  # the masses sum to one
    0.0
    >>> slope = (log_mass[2] - log_mass[1]) / (y[2] - y[1])  # z = 0: the Beta, slope a far left
    >>> round(float(slope), 6)
    0.4
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from bayes_passk.families import grid_family
from bayes_passk.hierarchy import hierarchical_model
from bayes_passk.models.log_spline import BASIS, GRID, KNOT_SPACING

CORRELATION_LENGTH = float(np.log(10.0))
GRID_STEP = float(GRID[1] - GRID[0])
NUM_Z = BASIS.shape[1]


def _stationary_ar1(num: int, rho: float) -> np.ndarray:
    """Matrix L with L z a stationary AR(1) sequence of unit variance for z ~ N(0, I)."""
    index = np.arange(num)
    lags = index[:, None] - index[None, :]
    weights = np.where(index == 0, 1.0, np.sqrt(1.0 - rho**2))[None, :]
    return np.where(lags >= 0, rho ** np.maximum(lags, 0) * weights, 0.0)


AR1 = _stationary_ar1(NUM_Z, float(np.exp(-KNOT_SPACING / CORRELATION_LENGTH)))
DEVIATION_BASIS = BASIS @ AR1  # (grid, innovations): delta = s * DEVIATION_BASIS @ z


class Params(NamedTuple):
    """Beta shapes a and b, the deviation's scale s, innovations z (NUM_Z,)."""

    a: jax.Array
    b: jax.Array
    deviation_scale: jax.Array
    z: jax.Array


def hyperprior(tail_log_sd: float = 1.0) -> Params:
    """Sample (a, b, deviation_scale, z); see the module docstring.

    ``tail_log_sd``, the log-scale of a's prior, is there for prior-sensitivity studies
    (`benchmarks/prior_sensitivity.py`); the family's is 1.
    """
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), tail_log_sd))
    base_mean = numpyro.sample("base_mean", dist.Uniform(0.0, 1.0))  # the Beta's, not p's
    b = numpyro.deterministic("b", a * (1.0 / base_mean - 1.0))
    deviation_scale = numpyro.sample("deviation_scale", dist.HalfNormal(1.0))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([NUM_Z]).to_event(1))
    return Params(a, b, deviation_scale, z)


def deviation(params: Params) -> jax.Array:
    """Delta on the grid: the stationary smooth departure from the Beta's log density."""
    return params.deviation_scale * (jnp.asarray(DEVIATION_BASIS) @ params.z)


def log_masses(params: Params) -> tuple[jax.Array, jax.Array]:
    """Return the grid of logit p and the log prior mass at each point (summing to 1).

    The lowest point holds the power law below the grid's first cell edge: exp(theta(y_0) +
    a (y - y_0)) for y < y_0 + h / 2 integrates to exp(theta(y_0)) exp(a h / 2) / a, that is
    exp(a h / 2) / (a h) points' worth (3% of the mass at a = 0.15, 30% at a = 0.05), and
    `functionals.log_moment` integrates its share of E[(1 - p)^k] exactly, p^(a - 1) below
    p = 1.4e-11, so a forecast follows the tail at any k.
    """
    y = jnp.asarray(GRID)
    theta = params.a * y - (params.a + params.b) * jax.nn.softplus(y) + deviation(params)
    step_a = params.a * GRID_STEP
    theta = theta.at[0].add(step_a / 2 - jnp.log(step_a))  # finite down to a ~ 1e-300
    return y, theta - jax.nn.logsumexp(theta)


FAMILY = grid_family(
    name="beta-spline",
    hyperprior=hyperprior,
    log_masses=log_masses,
    grid=GRID,
    tail_exponent=lambda params: params.a,
    description="a Beta's log density plus a smooth stationary deviation, on a logit grid",
    # The deviation's non-centred innovations make a funnel at a large deviation_scale: at 0.9
    # about 2 transitions in 4,000 diverge in most fits, at 0.97 still some (target_accept.py).
    target_accept=0.99,
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical beta-spline binomial model (fit it with ``marginalize=True``)."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
