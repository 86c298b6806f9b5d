"""The scaled log-gamma prior (models/log_gamma.py): its moments against closed forms and mpmath.

Oracles: E[p^c] = s^c (a / (a + c))^shape exactly; shape 1 is the scaled Beta(a, 1); and
E[p^c (1 - p)^m] by scipy's adaptive quadrature in log u, u = -log q, around the peak
(relative tolerance 1e-11).
"""

from __future__ import annotations

import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from bayes_passk.families import params_type
from bayes_passk.functionals import log_moment, log_survival_new
from bayes_passk.models import scaled_beta
from bayes_passk.models.log_gamma import FAMILY, Params

CASES = [(0.2, 0.5, 1.0), (0.3, 3.0, 0.5), (1.5, 0.2, 0.9), (0.05, 0.1, 1.0), (0.4, 1.7, 0.8)]
COUNTS = [(0, 100), (0, 10_000), (0, 1e9), (3, 97), (60, 40)]  # (0, 0): closed form


@partial(jax.jit, static_argnums=0)
@partial(jax.vmap, in_axes=(None, None, 0, 0))
def _log_moments(family, params, c, m):
    """log E[p^c (1 - p)^m] per (c, m); one program per family and number of counts."""
    return log_moment(family, params, c, m)


def _moments(params, counts, family=FAMILY):
    c, m = (jnp.array(x, float) for x in zip(*counts, strict=True))
    return np.asarray(_log_moments(family, params_type(family)(*map(float, params)), c, m))


def _oracle(a, shape, scale, c, m):
    """Log E[p^c (1 - p)^m] by adaptive quadrature in t = log u, scaled by the peak."""

    def log_f(t):
        u = np.exp(t)
        log_p = np.log(scale) - u
        log1m_p = np.log(-np.expm1(log_p)) if m else 0.0
        return c * log_p + m * log1m_p + shape * t - a * u

    grid = np.linspace(-80.0, 10.0, 9001)
    peak_t = grid[np.argmax([log_f(t) for t in grid])]
    peak = log_f(peak_t)
    with warnings.catch_warnings():  # roundoff near 1e-11; the result holds to ~3e-9 nats
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value, _ = integrate.quad(
            lambda t: np.exp(log_f(t) - peak),
            -80.0,
            10.0,
            points=[peak_t - 3, peak_t - 1, peak_t, peak_t + 1, peak_t + 3],
            limit=1000,
            epsabs=0.0,
            epsrel=1e-11,
        )
    return float(np.log(value) + peak + shape * np.log(a) - special.gammaln(shape))


@pytest.mark.parametrize("params", CASES, ids=str)
def test_power_moments_match_the_closed_form(params):
    a, shape, scale = params
    counts = [(c, 0) for c in (0, 1, 3, 50, 1000)]
    want = [c * np.log(scale) + shape * np.log(a / (a + c)) for c, _ in counts]
    # Measured: <= 1.4e-13 nats.
    np.testing.assert_allclose(_moments(params, counts), want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("params", CASES, ids=str)
def test_moments_match_quadrature(params):
    want = np.array([_oracle(*params, c, m) for c, m in COUNTS])
    # Measured: <= 3e-9 nats (at m = 1e9, the oracle's own limit).
    np.testing.assert_allclose(_moments(params, COUNTS), want, rtol=0, atol=1e-8)


def test_rare_successes_keep_a_finite_likelihood_and_gradient():
    # Mean pass@1 ~ 7e-5: most of the prior mass has q < 1e-16, where 1 - q rounds to 1 and an
    # unguarded log1p(-x) branch once made every moment and its gradient NaN.
    params = (0.05, 3.0, 0.6)
    got = _moments(params, COUNTS)
    want = np.array([_oracle(*params, c, m) for c, m in COUNTS])
    # Measured: 5e-5 nats at (0, 100) and 1.3e-4 at (0, 1e9), where the broad body (width ~30
    # in logit q) and the narrow knee of (1 - p)^m share one rule; 1e-10 with successes.
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-4)
    np.testing.assert_allclose(got[3:], want[3:], rtol=0, atol=1e-8)
    gradient = jax.jit(jax.grad(lambda a: log_moment(FAMILY, Params(a, 3.0, 0.6), 0.0, 100.0)))(
        0.05
    )
    assert np.isfinite(gradient)


def test_shape_one_is_the_scaled_beta_with_b_one():
    for a, scale in [(0.2, 1.0), (0.6, 0.3)]:
        got = _moments((a, 1.0, scale), COUNTS)
        want = _moments((a, 1.0, scale), COUNTS, family=scaled_beta.FAMILY)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_tail_steepens_when_the_shape_exceeds_one():
    # -log pass@k ~ E[(1 - p)^k] ~ (a log k)^(shape - 1) k^(-a) / Gamma(shape): the local slope
    # in log k is a - (shape - 1) / log k, below a and rising towards it.
    params = Params(0.3, 3.0, 1.0)
    ks = jnp.array([1e3, 1e4, 1e6, 1e9])
    log_s = jax.jit(jax.vmap(lambda k: log_survival_new(FAMILY, params, k)))(ks)
    slopes = -np.diff(np.asarray(log_s)) / np.diff(np.log(np.asarray(ks)))
    midpoints = np.exp((np.log(ks[1:]) + np.log(ks[:-1])) / 2)
    predicted = 0.3 - 2.0 / np.log(midpoints)
    # The values themselves against the quadrature oracle (good to ~3e-9 nats; measured 2.9e-9).
    want = [_oracle(0.3, 3.0, 1.0, 0, float(k)) for k in ks]
    np.testing.assert_allclose(np.asarray(log_s), want, rtol=0, atol=1e-7)
    # Measured: 0.141, 0.173, 0.206 against the asymptote's 0.052, 0.126, 0.184.
    assert np.all(np.diff(slopes) > 0) and np.all((predicted < slopes) & (slopes < 0.3))
