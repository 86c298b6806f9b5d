r"""Scaled Beta prior: p = s q with q ~ Beta(a, b), so p lives on (0, s).

Near p = 0 the density behaves like p^(a - 1), so -log pass@k falls as k^(-a) for large k, and
E[(1 - p)^k] = 2F1(-k, a; a + b; s) (Schaeffer et al. 2025).

Hyperparameters. NUTS samples the left-tail exponent ``a``, the mean single-attempt success rate
``mean`` = E[p] = s a / (a + b), and ``u`` in (0, 1), which places the scale in (mean, 1):
s = mean + (1 - mean) u, then b = a (s / mean - 1). When every observed rate is far below s the
data fix a and the density near 0, A p^(a - 1) with A ~ (b / s)^a / Gamma(a), hence the mean
~ a s / b, but hardly s itself. In (a, b, s) that weak direction is a curved ridge; in
(a, mean, u) it is the single coordinate u, which NUTS crosses without divergences.

Priors (weakly informative, fixed before seeing any data):

- a ~ LogNormal(log 0.3, 1): a = 1 is a flat density near 0, published fits of repeated
  sampling report a between 0.05 and 0.5; 95% of the prior mass lies in (0.04, 2.1);
- mean ~ Uniform(0, 1);
- u ~ Uniform(0, 1): the scale is uniform between the mean and 1.

Per-problem latent. A zero-success problem has a posterior for q close to its prior, whose shape
moves with (a, b): sampled as q (centred), it forms a funnel with the hyperparameters. The Beta
has no closed-form inverse CDF for the usual non-centred form, so the latent model transports q
through the Kumaraswamy(a, b') inverse CDF instead, v_i in (0, 1),
q_i = (1 - (1 - v_i)^(1/b'))^(1/a), and gives v_i its exact density (see `BetaByKumaraswamy`);
with b' = 1 / (a B(a, b)) that density is flat near v = 0 for all hyperparameters. This still
leaves a funnel on very sparse data (Pythia 70M at 100 attempts: r_hat 1.02, bulk ESS 207,
2 divergences; benchmarks/latent_vs_marginal.py), so `bayes_passk.fit` integrates the rates out
instead (``marginalize=True``, see `bayes_passk.hierarchy`), which samples cleanly on all seven
Pythia models. The latent form serves the prior predictive and research on sampler geometry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.distributions.util import promote_shapes

from bayes_passk.families import PriorFamily, ScaledParams, log_beta, tail_mean_scale_prior
from bayes_passk.hierarchy import hierarchical_model

Params = ScaledParams


def hyperprior() -> Params:
    """Sample (a, mean, u) and return the implied (a, b, s); see the module docstring."""
    a, mean, scale = tail_mean_scale_prior()
    b = numpyro.deterministic("b", a * (scale / mean - 1.0))
    return Params(a, b, scale)


def _kumaraswamy_b(params: Params):
    """B' = 1 / (a B(a, b)): the Kumaraswamy(a, b') with the same density A q^(a - 1) near 0."""
    return jnp.exp(-jnp.log(params.a) - log_beta(params.a, params.b))


def _log1mexp(x):
    """Log(1 - e^x) for x < 0, accurate at both ends (Maechler 2012).

    Each branch sees only the x it serves: log1p(-e^x) at x ~ -1e-17 has an infinite
    derivative, which would make the gradient NaN through the branch not taken.
    """
    far = x < -jnp.log(2.0)
    near_zero = jnp.log(-jnp.expm1(jnp.where(far, -1.0, x)))
    return jnp.where(far, jnp.log1p(-jnp.exp(jnp.where(far, x, -1.0))), near_zero)


def _q_from_v(v, a, b_kuma):
    """Log q and log(1 - q) for the Kumaraswamy(a, b') inverse CDF q = (1 - (1 - v)^(1/b'))^(1/a).

    Goes through log w, w = (1 - v)^(1/b') = 1 - q^a, so that 1 - q keeps its digits as q -> 1;
    where w underflows (b' << 1 puts v = 1 - 1e-4 at w = 1e-325), 1 - q = w / a (1 + O(w)).
    """
    log_w = jnp.log1p(-v) / b_kuma
    log_q = _log1mexp(log_w) / a
    tiny = log_w < -700.0
    log1m_q = jnp.where(tiny, log_w - jnp.log(a), _log1mexp(jnp.where(tiny, -1.0, log_q)))
    return log_q, log1m_q


class BetaByKumaraswamy(dist.Distribution):
    r"""The Beta(a, b) prior of q written in v = F_K(q), the Kumaraswamy(a, b') CDF.

    q = F_K^{-1}(v) is a change of variables, so v has density pi_Beta(q) / pi_K(q), exactly.
    With b' = 1 / (a B(a, b)) the two densities agree near q = 0, so the density of v is flat
    near v = 0 whatever the hyperparameters: zero-success problems add no funnel.

    Example:
        >>> import jax
        >>> v = BetaByKumaraswamy(0.5, 2.0).sample(jax.random.key(0), (4,))
        >>> bool(((v > 0) & (v < 1)).all())
        True
    """

    arg_constraints = {"a": constraints.positive, "b": constraints.positive}
    support = constraints.unit_interval
    reparametrized_params = ["a", "b"]

    def __init__(self, a, b, *, validate_args=None):
        self.a, self.b = promote_shapes(a, b)
        batch_shape = jax.lax.broadcast_shapes(jnp.shape(a), jnp.shape(b))
        super().__init__(batch_shape, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        """Draw q ~ Beta(a, b) through two log-gammas (no underflow), return F_K(q)."""
        shape = sample_shape + self.batch_shape
        key_a, key_b = jax.random.split(key)
        log_ga = jax.random.loggamma(key_a, self.a, shape)
        log_gb = jax.random.loggamma(key_b, self.b, shape)
        # log q = -log(1 + G_b / G_a), not log G_a - log(G_a + G_b), which cancels to 0 as q -> 1.
        log_q = -jax.nn.softplus(log_gb - log_ga)
        b_kuma = _kumaraswamy_b(Params(self.a, self.b, 1.0))
        v = -jnp.expm1(b_kuma * jnp.log(-jnp.expm1(self.a * log_q)))
        # v rounds to 1 when 1 - q^a < 1e-16^(1/b') (b << 1 piles mass at q = 1), where
        # log_prob is NaN; the largest float below 1 moves q by less than that.
        return jnp.minimum(v, 1.0 - jnp.finfo(v.dtype).epsneg)

    def log_prob(self, value):
        """Log pi_Beta(q) - log pi_K(q) at q = F_K^{-1}(v)."""
        a, b = self.a, self.b
        b_kuma = _kumaraswamy_b(Params(a, b, 1.0))
        log_q, log1m_q = _q_from_v(value, a, b_kuma)
        log1m_qa = jnp.log1p(-value) / b_kuma
        log_density = (a - 1) * log_q + (b - 1) * log1m_q - log_beta(a, b)
        log_kuma = jnp.log(a * b_kuma) + (a - 1) * log_q + (b_kuma - 1) * log1m_qa
        return log_density - log_kuma


def log_rate(v, params: Params):
    """Log p = log s + log F_K^{-1}(v)."""
    return jnp.log(params.scale) + _q_from_v(v, params.a, _kumaraswamy_b(params))[0]


def log_density_q(log_q, log1m_q, params: Params):
    """Beta(a, b) log density of q."""
    return (params.a - 1) * log_q + (params.b - 1) * log1m_q - log_beta(params.a, params.b)


FAMILY = PriorFamily(
    name="scaled-beta",
    hyperprior=hyperprior,
    latent=lambda params: BetaByKumaraswamy(params.a, params.b),
    log_rate=log_rate,
    log_density_q=log_density_q,
    log_scale=lambda params: jnp.log(params.scale),
    tail_exponent=lambda params: params.a,
    description="p = s q, q ~ Beta(a, b): the scaled Beta of Schaeffer et al. (2025)",
)


def model(n, c=None, weight=None, marginalize=False):
    """Run the hierarchical scaled-Beta binomial model (see `bayes_passk.hierarchy`)."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
