r"""Scaled Kumaraswamy prior: p = s q with q ~ Kumaraswamy(a, b), so p lives on (0, s).

Density (a b / s^a) p^(a - 1) (1 - (p / s)^a)^(b - 1) on (0, s), CDF 1 - (1 - (p / s)^a)^b and
inverse CDF p = s (1 - (1 - v)^(1/b))^(1/a) (Schaeffer et al. 2025). Near p = 0 the density
behaves like p^(a - 1), so -log pass@k falls as k^(-a) for large k.

Hyperparameters. NUTS samples the left-tail exponent ``a``, the mean single-attempt success rate
``mean`` = E[p] = s b B(1 + 1/a, b), and ``u`` in (0, 1) placing the scale in (mean, 1):
s = mean + (1 - mean) u, then b solves the mean equation (`solve_b`). As for the scaled Beta,
when every observed rate is far below s the data fix a and the density near 0,
a b s^(-a) p^(a - 1), hence the mean ~ s Gamma(1 + 1/a) b^(-1/a), but hardly s; in
(a, mean, u) that weak direction is the single coordinate u. The mean, not the median, is the
location parameter because it is what the data pin down (it is pass@1): a uniform prior on the
median would put almost no mass on the medians below 1e-4 that small models have, and bias a
upwards.

Priors (weakly informative, fixed before seeing any data):

- a ~ LogNormal(log 0.3, 1), as for the scaled Beta;
- mean ~ Uniform(0, 1);
- u ~ Uniform(0, 1).

Per-problem latent: the inverse-CDF non-centred form, v_i ~ Uniform(0, 1) and
p_i = s (1 - (1 - v_i)^(1/b))^(1/a). The prior of v does not move with the hyperparameters, so a
problem with no successes, whose posterior is nearly its prior, adds no funnel.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import digamma, gammaln

from bayes_passk.families import PriorFamily, ScaledParams, log_beta, tail_mean_scale_prior
from bayes_passk.hierarchy import hierarchical_model

Params = ScaledParams


def hyperprior() -> Params:
    """Sample (a, mean, u) and return the implied (a, b, s); see the module docstring."""
    a, mean, scale = tail_mean_scale_prior()
    b = numpyro.deterministic("b", solve_b(a, jnp.log(mean) - jnp.log(scale)))
    return Params(a, b, scale)


def solve_b(a, log_mean_q, iterations: int = 40):
    """Solve for the b with E[q] = b B(1 + 1/a, b) = exp(log_mean_q), by Newton's method in log b.

    E[q] falls monotonically from 1 (b -> 0) to 0 (b -> inf), as Gamma(1 + 1/a) b^(-1/a) for
    large b, which gives the start. The iterations run without gradient; one last Newton step
    carries the derivative of the root (the implicit function theorem), so NUTS sees exact
    gradients at a fixed cost.

    Example:
        >>> b = solve_b(0.5, jnp.log(0.1))
        >>> round(float(jnp.exp(jnp.log(b) + log_beta(3.0, b))), 12)
        0.1
    """

    def residual(log_b, a, log_mean_q):
        return log_b + log_beta(1.0 + 1.0 / a, jnp.exp(log_b)) - log_mean_q

    def slope(log_b, a):
        b = jnp.exp(log_b)
        return 1.0 - b * digamma_gap(b, 1.0 + 1.0 / a)

    fixed_a, fixed_log_mean_q = jax.lax.stop_gradient((a, log_mean_q))

    def newton(log_b, _):
        step = residual(log_b, fixed_a, fixed_log_mean_q) / slope(log_b, fixed_a)
        return log_b - jnp.clip(step, -2.0, 2.0), None

    start = a * (gammaln(1.0 + 1.0 / a) - log_mean_q)
    start = jax.lax.stop_gradient(jnp.maximum(start, jnp.log(1e-3)))
    root, _ = jax.lax.scan(newton, start, None, length=iterations)
    return jnp.exp(root - residual(root, a, log_mean_q) / slope(root, a))


def digamma_gap(b, x):
    r"""digamma(b + x) - digamma(b), keeping its digits for large b.

    Past b = 1e4 the difference of two values near log b cancels; there the asymptotic series
    psi(z) = log z - 1/(2z) - 1/(12 z^2) + O(z^-4) gives

    .. math::  \log(1 + x/b) + \frac{x}{2 b (b + x)} + \frac{x (2b + x)}{12 b^2 (b + x)^2},

    with a relative error below 1e-17 (the next term is x / (30 b^5)).

    Example:
        >>> round(float(digamma_gap(3.0, 1.0)), 12)  # 1 / 3
        0.333333333333
    """
    large = b > 1e4
    b_large = jnp.where(large, b, 1e4)
    b_small = jnp.where(large, 1.0, b)
    series = (
        jnp.log1p(x / b_large)
        + x / (2 * b_large * (b_large + x))
        + x * (2 * b_large + x) / (12 * b_large**2 * (b_large + x) ** 2)
    )
    return jnp.where(large, series, digamma(b_small + x) - digamma(b_small))


def log_rate(v, params: Params):
    """Log p = log s + log(1 - (1 - v)^(1/b)) / a, the inverse CDF."""
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
    """Run the hierarchical scaled-Kumaraswamy binomial model (see `bayes_passk.hierarchy`)."""
    return hierarchical_model(FAMILY, n, c, weight, marginalize)
