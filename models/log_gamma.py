r"""Scaled log-gamma prior: p = s exp(-u) with u ~ Gamma(shape, rate a).

.. math::  \pi(q) = \frac{a^{\alpha}}{\Gamma(\alpha)} (-\log q)^{\alpha - 1} q^{a - 1},
           \qquad q = p / s \in (0, 1), \quad \alpha = \text{shape}.

The hardest problems' difficulty -log p is Gamma distributed. With shape 1 this is the scaled
Beta(a, 1); otherwise the power law near p = 0 carries a logarithmic factor, and the share of
problems unsolved after k attempts falls like
Gamma(1 + a) (a log(s k))^(alpha - 1) (s k)^(-a) / Gamma(alpha) (at alpha = 1 the scaled Beta's
Gamma(1 + a) (s k)^(-a)): the local slope of -log pass@k in log k is, to first order,
a - (alpha - 1) / (log(s k) - psi(a)) (at a = 0.3, alpha = 3, s = 1: 0.217 against 0.219
measured at k = 1e9, 0.143 against 0.154 at 1e4), which approaches the exponent a from below as k
grows when alpha > 1 (a tail that steepens, between the power-law families and the
logit-normal) and from above when alpha < 1. Near q = 1 it behaves like a Beta with b = alpha.

Hyperparameters: the same (a, mean, u) coordinates and priors as the scaled Beta
(`bayes_passk.families.tail_mean_scale_prior`); the mean E[p] = s (a / (a + 1))^alpha gives
alpha = log(mean / s) / log(a / (a + 1)) in closed form.

Per-problem latent: u_i ~ Gamma(alpha, a) (centred; `bayes_passk.fit` integrates the rates
out), log p_i = log s - u_i.

Example:
    >>> from bayes_passk.functionals import log_moment
    >>> params = Params(a=0.4, shape=2.0, scale=0.8)
    >>> exact = 0.8 * (0.4 / 1.4) ** 2.0  # E[p]
    >>> bool(abs(float(jnp.exp(log_moment(FAMILY, params, 1.0, 0.0))) / exact - 1) < 1e-8)
    True
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import gammaln

from bayes_passk.families import PriorFamily, tail_mean_scale_prior
from bayes_passk.hierarchy import hierarchical_model


class Params(NamedTuple):
    """Tail exponent a (the Gamma's rate), the Gamma's shape, and the scale s."""

    a: jax.Array
    shape: jax.Array
    scale: jax.Array


def hyperprior() -> Params:
    """Sample (a, mean, u) and return the implied (a, shape, s); see the module docstring."""
    a, mean, scale = tail_mean_scale_prior()
    shape = numpyro.deterministic("shape", jnp.log(mean / scale) / -jnp.log1p(1.0 / a))
    return Params(a, shape, scale)


def log_density_q(log_q, log1m_q, params: Params):
    """Gamma log density of u = -log q, plus log |du/dq| = -log q."""
    a, shape = params.a, params.shape
    # As q -> 1, log q rounds to 0: there log u = log(1 - q) + log(-log1p(-x) / x), x = 1 - q.
    x = jnp.exp(log1m_q)
    near_one = log_q > -0.5
    # Guarded on both sides: far from q = 1, x rounds to 1 and log1p(-x) (or its gradient,
    # which jnp.where does not stop) would be infinite.
    use = near_one & (x > 1e-8)
    safe_x = jnp.where(use, x, 0.5)
    ratio = jnp.where(use, -jnp.log1p(-safe_x) / safe_x, 1.0 + x / 2.0)
    log_u = jnp.where(
        near_one, log1m_q + jnp.log(ratio), jnp.log(-jnp.where(near_one, -1.0, log_q))
    )
    return shape * jnp.log(a) - gammaln(shape) + (shape - 1) * log_u + (a - 1) * log_q


FAMILY = PriorFamily(
    name="log-gamma",
    hyperprior=hyperprior,
    latent=lambda params: dist.Gamma(params.shape, params.a),
    log_rate=lambda u, params: jnp.log(params.scale) - u,
    log_density_q=log_density_q,
    log_scale=lambda params: jnp.log(params.scale),
    tail_exponent=lambda params: params.a,
    description="p = s exp(-u), u ~ Gamma(shape, a): a power law with a log(k) factor",
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical scaled log-gamma binomial model."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
