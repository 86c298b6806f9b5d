r"""Log-spline prior: p on a fine logit grid, its log masses a smooth random curve.

.. math::  P(\operatorname{logit} p = y_j) \propto \exp\theta(y_j), \qquad
           \theta(y) = \sum_k \beta_k B_k(y),

with cubic B-splines B_k on knots spaced H = 1.6 apart (logit units) and a second-order random
walk on the coefficients, anchored at y = 0 and running outwards both ways:

.. math::  \beta_0 = 0, \quad \beta_{\pm 1} = \pm H\,\text{slope} + \tau z_{\pm 1}, \quad
           \Delta^2 \beta_k = \tau z_k, \quad z_k \sim N(0, 1), \quad \tau = \sigma H^{3/2}.

This is the g-modelling of Efron (2016) with the penalty written as a prior. No shape is assumed:
theta'(y), the local exponent of the rate density (pi(p) ~ p^(theta' - 1) near p = 0), moves
like a Brownian motion of intensity sigma along logit p. Where the data speak (rates above about
1/n) they set theta; below, theta continues with the slope it has at the edge of the data,
its uncertainty growing with the distance. That is the power-law extrapolation of the
least-squares fit, with its error bars, and unlike the Beta families the tail's exponent is
set by the problems near p ~ 1/n, not by the body of the distribution.

Priors, fixed before seeing data:

- sigma ~ HalfNormal(0.05): over one decade of p (2.3 logit units) the local exponent moves
  by about sigma sqrt(2.3) ~ 0.05, against exponents of 0.05 to 0.5 in published fits;
- slope ~ Normal(0, 2): the slope of theta at p = 1/2 ((a - b) / 2 for a Beta(a, b));
- z ~ Normal(0, 1), the non-centred random-walk innovations.

The grid spans logit p in [-25, 15] (p from 1.4e-11 to 1 - 3e-7) in steps of 0.05, so
pass@k is resolved for k up to about 1e10; a problem's likelihood is finer than the grid only
for thousands of attempts at rates near 1/2. The family is discrete: its moments are sums over
the grid (`PriorFamily.log_masses`), exact and free of quadrature, and it has no power-law
exponent of its own (`tail_exponent` is None; forecasts report the local slope of pass@k).
At target acceptance 0.9 its posterior can have a few divergent transitions (3-8 of 4,000 on
256 problems with Beta-distributed rates, `tests/test_log_spline.py`; 4 of the 13 real cells),
hence the family's 0.99.

Example:
    >>> import jax
    >>> params = Params(slope=jnp.array(0.5), sigma=jnp.array(0.05), z=jnp.zeros(NUM_Z))
    >>> y, log_mass = log_masses(params)
    >>> abs(float(jax.nn.logsumexp(log_mass))) < 1e-12  # the masses sum to one
    True
    >>> theta = log_mass - log_mass[0]  # z = 0: theta is the straight line slope * y
    >>> round(float((theta[1] - theta[0]) / (y[1] - y[0])), 6)
    0.5
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

GRID = np.linspace(-25.0, 15.0, 801)  # logit p, steps of 0.05
KNOT_SPACING = 1.6
# Knots k H for every k whose B-spline (support 4 H) reaches the grid; k = 0 is the anchor.
_KNOT_INDEX = np.arange(
    int(np.floor(GRID[0] / KNOT_SPACING)) - 1, int(np.ceil(GRID[-1] / KNOT_SPACING)) + 2
)
_LEFT = int(np.sum(_KNOT_INDEX < 0))
NUM_Z = _KNOT_INDEX.size - 1


def _cubic_bspline(t):
    """Evaluate the cardinal cubic B-spline, centred at 0 with support (-2, 2)."""
    t = np.abs(t)
    return np.where(t < 1, 2 / 3 - t**2 + t**3 / 2, np.where(t < 2, (2 - t) ** 3 / 6, 0.0))


BASIS = _cubic_bspline(GRID[:, None] / KNOT_SPACING - _KNOT_INDEX[None, :])  # (grid, knots)


class Params(NamedTuple):
    """Slope of theta at p = 1/2, random-walk intensity sigma, innovations z (NUM_Z,)."""

    slope: jax.Array
    sigma: jax.Array
    z: jax.Array


def hyperprior() -> Params:
    """Sample (slope, sigma, z); see the module docstring."""
    slope = numpyro.sample("slope", dist.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(0.05))
    z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([NUM_Z]).to_event(1))
    return Params(slope, sigma, z)


def coefficients(params: Params) -> jax.Array:
    """Spline coefficients beta: zero at the anchor, a second-order random walk either side."""
    tau = params.sigma * KNOT_SPACING**1.5
    left, right = params.z[:_LEFT], params.z[_LEFT:]
    step = params.slope * KNOT_SPACING
    rise_right = jnp.cumsum(step + tau * jnp.cumsum(right))
    fall_left = jnp.cumsum(step + tau * jnp.cumsum(left))  # beta_0 - beta_{-j}
    return jnp.concatenate([-fall_left[::-1], jnp.zeros(1), rise_right])


def log_masses(params: Params) -> tuple[jax.Array, jax.Array]:
    """Return the grid of logit p and the log prior mass at each point (summing to 1)."""
    theta = jnp.asarray(BASIS) @ coefficients(params)
    return jnp.asarray(GRID), theta - jax.nn.logsumexp(theta)


FAMILY = grid_family(
    name="log-spline",
    hyperprior=hyperprior,
    log_masses=log_masses,
    grid=GRID,
    tail_exponent=None,
    description="nonparametric: smooth log masses on a logit grid (Efron's g-modelling)",
    # On the 13 real cells at 100 attempts, 4 of 13 fits had divergent transitions at 0.9 (8 in
    # all), 1 of 13 at 0.95, none at 0.99 (target_accept.py --priors log-spline --bon).
    target_accept=0.99,
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical log-spline binomial model (fit it with ``marginalize=True``)."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
