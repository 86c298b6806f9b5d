r"""Beta prior, unscaled: p ~ Beta(a, b), the Bayesian form of the beta-binomial model.

.. math::  E[(1 - p)^k] = B(a, b + k) / B(a, b), \qquad
           \text{pass@k} \approx 1 - \frac{\Gamma(a + b)}{\Gamma(b)} k^{-a} \text{ for large k}.

The scaled Beta with s = 1: one parameter fewer, so rates up to 1 are always allowed (Kazdan et
al. 2025 fit it by maximum likelihood; the `beta-binomial` baseline). Hyperparameters: the
left-tail exponent a ~ LogNormal(log 0.3, 1) and the mean rate a / (a + b) ~ Uniform(0, 1), as
for `scaled_beta`; per-problem latent as there. Its moments come from the quadrature every
family uses, not from the closed form: one code path for all families. Pass@k is within about
1e-8 of the closed form for a >= 0.01 (`bayes_passk.functionals.FINE`); the error grows below
(1e-4 at a = 0.001; the prior puts 6e-9 of its mass below a = 0.001).

Example:
    >>> from bayes_passk.functionals import log_survival_new
    >>> from scipy.special import betaln
    >>> params = Params(a=0.5, b=2.0)
    >>> exact = float(jnp.exp(betaln(0.5, 2.0 + 100) - betaln(0.5, 2.0)))
    >>> bool(abs(float(jnp.exp(log_survival_new(FAMILY, params, 100.0))) / exact - 1) < 1e-9)
    True
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayes_passk.families import PriorFamily
from bayes_passk.hierarchy import hierarchical_model
from bayes_passk.models import scaled_beta


class Params(NamedTuple):
    """Shapes a and b of the Beta."""

    a: jax.Array
    b: jax.Array


def hyperprior() -> Params:
    """Sample a and the mean a / (a + b); return (a, b)."""
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    mean = numpyro.sample("mean", dist.Uniform(0.0, 1.0))
    return Params(a, numpyro.deterministic("b", a * (1.0 / mean - 1.0)))


def _as_scaled(params: Params) -> scaled_beta.Params:
    return scaled_beta.Params(params.a, params.b, jnp.ones_like(params.a))


FAMILY = PriorFamily(
    name="beta",
    hyperprior=hyperprior,
    latent=lambda params: scaled_beta.BetaByKumaraswamy(params.a, params.b),
    log_rate=lambda v, params: scaled_beta.log_rate(v, _as_scaled(params)),
    log_density_q=lambda lq, l1q, params: scaled_beta.log_density_q(lq, l1q, _as_scaled(params)),
    log_scale=lambda params: jnp.zeros_like(params.a),
    tail_exponent=lambda params: params.a,
    description="p ~ Beta(a, b), unscaled: the beta-binomial model of Kazdan et al. (2025)",
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical Beta-binomial model."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
