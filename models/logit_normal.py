r"""Logit-normal prior: logit p ~ Normal(mu, sigma), the random-effects model of item response.

.. math::  \text{logit}\, p_i = \mu + \sigma z_i, \qquad z_i \sim \text{Normal}(0, 1).

Problem difficulty on the logit scale is Gaussian, as in a Rasch model with a normal population
of items. Near p = 0 the density falls like exp(-(log p)^2 / (2 sigma^2)) / p, faster than any
power of p, so -log pass@k has no power-law tail: its local slope in log k grows slowly with k
(like log(k) / sigma^2), and the family reports no exponent. Against the power-law families this
is the alternative where the hardest problems are not a fat tail of near-impossible ones.

Priors (weakly informative, fixed before seeing any data): mu ~ Normal(0, 5), two standard
deviations covering rates from 5e-5 to 1 - 5e-5; sigma ~ HalfNormal(5), allowing anything from
problems of one difficulty to difficulties spread over many decades of p.

Per-problem latent: z_i (non-centred), p_i = sigmoid(mu + sigma z_i).

Example (``bp.fit(data, prior="logit-normal")`` fits it):
    >>> from bayes_passk.functionals import log_survival_new
    >>> params = Params(mu=-3.0, sigma=2.0)  # median rate 0.047
    >>> [round(1 - float(jnp.exp(log_survival_new(FAMILY, params, k))), 3) for k in (1, 100)]
    [0.13, 0.822]
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayes_passk.families import PriorFamily
from bayes_passk.hierarchy import hierarchical_model

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class Params(NamedTuple):
    """Mean mu and standard deviation sigma of logit p."""

    mu: jax.Array
    sigma: jax.Array


def hyperprior() -> Params:
    """Sample mu ~ Normal(0, 5) and sigma ~ HalfNormal(5)."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(5.0))
    return Params(mu, sigma)


def log_rate(z, params: Params):
    """Log p = log sigmoid(mu + sigma z)."""
    return jax.nn.log_sigmoid(params.mu + params.sigma * z)


def log_density_q(log_q, log1m_q, params: Params):
    """Return the Normal log density of y = logit q plus log dy/dq = -log(q (1 - q))."""
    standardized = (log_q - log1m_q - params.mu) / params.sigma
    return -0.5 * standardized**2 - LOG_SQRT_2PI - jnp.log(params.sigma) - log_q - log1m_q


FAMILY = PriorFamily(
    name="logit-normal",
    hyperprior=hyperprior,
    latent=lambda params: dist.Normal(jnp.zeros_like(params.mu), 1.0),
    log_rate=log_rate,
    log_density_q=log_density_q,
    log_scale=lambda params: jnp.zeros_like(params.mu),
    tail_exponent=None,
    description="logit p ~ Normal(mu, sigma): Gaussian difficulties, no power-law tail",
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical logit-normal binomial model."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
