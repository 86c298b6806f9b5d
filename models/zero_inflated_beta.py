r"""Zero-inflated scaled Beta prior: a share z of problems is never solved, the rest scaled Beta.

.. math::  p = 0 \text{ with probability } z, \qquad p = s q,\ q \sim \text{Beta}(a, b)
           \text{ otherwise},

so pass@k = (1 - z) (1 - E[(1 - s q)^k]) levels off at 1 - z instead of creeping towards 1, and
J(c, m) = z [c = 0] + (1 - z) J_Beta(c, m): the atom enters every zero-success likelihood.
-log pass@k no longer falls as a power law of k; the exponent reported, a, is that of the
solvable problems, whose pass@k approaches 1 - z as k^(-a).

Hyperparameters: z ~ Uniform(0, 1), and (a, mean, u) with the priors of `scaled_beta`, where
``mean`` is now the mean rate of the solvable problems. A zero-success problem is either
unsolvable or solvable at a rate below ~1/n: the data separate z from the left tail of the Beta
only through how the share of problems with c = 0 and the counts of the near-zero ones
(c = 1, 2, ...) change together, so z and a are correlated in the posterior.

Per-problem latent (for the prior predictive and the latent model): w on (0, 1), uniform on
(0, z) for an unsolvable problem and z + (1 - z) v above, v the `scaled_beta` latent. A NUTS
chain in w cannot cross the atom's edge smoothly; `bayes_passk.fit` integrates the rates out.

Example (``bp.fit(data, prior="zero-inflated-beta")`` fits it): pass@k levels off at 1 - z.
    >>> from bayes_passk.functionals import log_survival_new
    >>> params = Params(a=0.3, b=3.0, scale=0.5, zero=0.2)
    >>> [round(1 - float(jnp.exp(log_survival_new(FAMILY, params, k))), 3) for k in (1, 10**9)]
    [0.036, 0.797]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.util import promote_shapes

from bayes_passk.families import PriorFamily, tail_mean_scale_prior
from bayes_passk.hierarchy import hierarchical_model
from bayes_passk.models import scaled_beta


class Params(NamedTuple):
    """Shapes a, b and scale s of the solvable problems' scaled Beta; z, the unsolvable share."""

    a: jax.Array
    b: jax.Array
    scale: jax.Array
    zero: jax.Array


def hyperprior() -> Params:
    """Sample z, then (a, mean, u) as for the scaled Beta; return (a, b, s, z)."""
    zero = numpyro.sample("zero", dist.Uniform(0.0, 1.0))
    a, mean, scale = tail_mean_scale_prior()
    b = numpyro.deterministic("b", a * (scale / mean - 1.0))
    return Params(a, b, scale, zero)


def _solvable(params: Params) -> scaled_beta.Params:
    return scaled_beta.Params(params.a, params.b, params.scale)


class ZeroInflatedLatent(dist.Distribution):
    """W uniform on (0, z) with mass z (the atom), else z + (1 - z) v with v ~ BetaByKumaraswamy.

    The density of w is 1 on (0, z) and that of v at (w - z) / (1 - z) above.

    Example:
        >>> w = ZeroInflatedLatent(0.5, 2.0, 0.3).sample(jax.random.key(0), (20_000,))
        >>> share = float((w < 0.3).mean())  # the atom's mass, 0.3, within 4 binomial errors
        >>> abs(share - 0.3) < 4 * (0.3 * 0.7 / 20_000) ** 0.5
        True
    """

    arg_constraints = {
        "a": constraints.positive,
        "b": constraints.positive,
        "zero": constraints.unit_interval,
    }
    support = constraints.unit_interval

    def __init__(self, a, b, zero, *, validate_args=None):
        self.a, self.b, self.zero = promote_shapes(a, b, zero)
        batch_shape = jax.lax.broadcast_shapes(jnp.shape(a), jnp.shape(b), jnp.shape(zero))
        self.solvable = scaled_beta.BetaByKumaraswamy(self.a, self.b)
        super().__init__(batch_shape, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        """Draw the component, then w uniform on (0, z) or z + (1 - z) v."""
        shape = sample_shape + self.batch_shape
        key_atom, key_u, key_v = jax.random.split(key, 3)
        unsolvable = jax.random.uniform(key_atom, shape) < self.zero
        u = jax.random.uniform(key_u, shape)
        v = self.solvable.expand(shape).sample(key_v)
        return jnp.where(unsolvable, self.zero * u, self.zero + (1.0 - self.zero) * v)

    def log_prob(self, value):
        """0 on (0, z); log pi_v((w - z) / (1 - z)) above."""
        above = value > self.zero
        v = jnp.where(above, (value - self.zero) / (1.0 - self.zero), 0.5)
        return jnp.where(above, self.solvable.log_prob(v), 0.0)


def log_rate(w, params: Params):
    """Log p: -inf on the atom (w < z), else the scaled Beta's log rate at v."""
    above = w > params.zero
    v = jnp.where(above, (w - params.zero) / (1.0 - params.zero), 0.5)
    return jnp.where(above, scaled_beta.log_rate(v, _solvable(params)), -jnp.inf)


def log_density_q(log_q, log1m_q, params: Params):
    """(1 - z) times the Beta(a, b) density of q."""
    return jnp.log1p(-params.zero) + scaled_beta.log_density_q(log_q, log1m_q, _solvable(params))


FAMILY = PriorFamily(
    name="zero-inflated-beta",
    hyperprior=hyperprior,
    latent=lambda params: ZeroInflatedLatent(params.a, params.b, params.zero),
    log_rate=log_rate,
    log_density_q=log_density_q,
    log_scale=lambda params: jnp.log(params.scale),
    tail_exponent=lambda params: params.a,
    description="a share z of problems never solved, the rest p = s q, q ~ Beta(a, b)",
    log_zero_mass=lambda params: jnp.log(params.zero),
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical zero-inflated scaled-Beta binomial model."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
