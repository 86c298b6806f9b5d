r"""Scaled Kumaraswamy prior: p = s q with q ~ Kumaraswamy(a, b), so p lives on (0, s).

Density (a b / s^a) p^(a - 1) (1 - (p / s)^a)^(b - 1) on (0, s), CDF 1 - (1 - (p / s)^a)^b and
inverse CDF p = s (1 - (1 - v)^(1/b))^(1/a) (Schaeffer et al. 2025). Near p = 0 the density
behaves like p^(a - 1), so -log pass@k falls as k^(-a) for large k.

Hyperparameters. NUTS samples the left-tail exponent ``a``, the median single-attempt success
rate ``median`` = s (1 - 2^(-1/b))^(1/a) (closed form, unlike the mean), and ``u`` in (0, 1)
placing the scale in (median, 1): s = median + (1 - median) u, then
b = -log 2 / log(1 - (median / s)^a). As for the scaled Beta, when every observed rate is far
below s the data fix a and the density near 0, a b s^(-a) p^(a - 1), hence the median, but hardly
s; in (a, median, u) that weak direction is the single coordinate u.

Priors (weakly informative, fixed before seeing any data):

- a ~ LogNormal(log 0.3, 1), as for the scaled Beta;
- median ~ Uniform(0, 1);
- u ~ Uniform(0, 1).

Per-problem latent: the inverse-CDF non-centred form, v_i ~ Uniform(0, 1) and
p_i = s (1 - (1 - v_i)^(1/b))^(1/a). The prior of v does not move with the hyperparameters, so a
problem with no successes, whose posterior is nearly its prior, adds no funnel.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayes_passk.families import PriorFamily
from bayes_passk.hierarchy import hierarchical_model


class Params(NamedTuple):
    """Hyperparameters: Kumaraswamy shapes a, b and scale s."""

    a: jax.Array
    b: jax.Array
    scale: jax.Array


def hyperprior() -> Params:
    """Sample (a, median, u) and return the implied (a, b, s); see the module docstring."""
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    median = numpyro.sample("median", dist.Uniform(0.0, 1.0))
    u = numpyro.sample("u", dist.Uniform(0.0, 1.0))
    scale = numpyro.deterministic("scale", median + (1.0 - median) * u)
    log_median_q_a = a * (jnp.log(median) - jnp.log(scale))
    b = numpyro.deterministic("b", -jnp.log(2.0) / jnp.log1p(-jnp.exp(log_median_q_a)))
    return Params(a, b, scale)


def log_rate(v, params: Params):
    """log p = log s + log(1 - (1 - v)^(1/b)) / a, the inverse CDF."""
    return jnp.log(params.scale) + jnp.log(-jnp.expm1(jnp.log1p(-v) / params.b)) / params.a


def log_density_q(log_q, log1m_q, params: Params):
    """Kumaraswamy(a, b) log density of q: log a b + (a - 1) log q + (b - 1) log(1 - q^a)."""
    a_log_q = params.a * log_q
    # Near q = 1, 1 - q^a ~ a (1 - q): use log1m_q there, where expm1(a log q) rounds to 0.
    near_one = a_log_q > -1e-8
    log1m_qa = jnp.where(
        near_one,
        jnp.log(params.a) + log1m_q,
        jnp.log(-jnp.expm1(jnp.where(near_one, -1.0, a_log_q))),
    )
    return jnp.log(params.a * params.b) + (params.a - 1) * log_q + (params.b - 1) * log1m_qa


FAMILY = PriorFamily(
    name="kumaraswamy",
    hyperprior=hyperprior,
    latent=lambda params: dist.Uniform(jnp.zeros_like(params.a), 1.0),
    log_rate=log_rate,
    log_density_q=log_density_q,
    log_scale=lambda params: jnp.log(params.scale),
    tail_exponent=lambda params: params.a,
    description="p = s q, q ~ Kumaraswamy(a, b): the scaled Kumaraswamy of Schaeffer et al. (2025)",
)


def model(n, c=None, weight=None, marginalize=False):
    """The hierarchical scaled-Kumaraswamy binomial model (see `bayes_passk.hierarchy`)."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
