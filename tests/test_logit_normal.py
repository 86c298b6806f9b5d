"""The logit-normal prior (models/logit_normal.py): its moments and a parameter recovery.

Oracle: E[p^c (1 - p)^m] for logit p ~ Normal(mu, sigma), by mpmath.quad at 25 digits in
y = logit p, split at the mode of the integrand and 40 widths either side.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

import bayes_passk as bp
from bayes_passk.functionals import log_moment
from bayes_passk.models.logit_normal import FAMILY, Params

CASES = [(-3.0, 2.0), (-12.0, 4.0), (1.0, 0.3), (0.0, 9.0)]
COUNTS = [(0, 0), (0, 100), (0, 10_000), (0, 1e9), (3, 97), (9000, 1000)]


def _oracle(mu, sigma, c, m):
    with mp.workdps(25):
        mu, sigma = mp.mpf(mu), mp.mpf(sigma)

        def log_f(y):
            log_p = -mp.log1p(mp.exp(-y))
            log1m_p = log_p - y
            return c * log_p + m * log1m_p - ((y - mu) / sigma) ** 2 / 2

        def slope(y):  # decreasing in y: one root, bracketed
            p = 1 / (1 + mp.exp(-y))
            return c * (1 - p) - m * p - (y - mu) / sigma**2

        low, high = mu - 1000, mu + 1000
        for _ in range(200):  # bisection to ~1e-57
            middle = (low + high) / 2
            low, high = (middle, high) if slope(middle) > 0 else (low, middle)
        mode = (low + high) / 2
        p = 1 / (1 + mp.exp(-mode))
        width = 1 / mp.sqrt((c + m) * p * (1 - p) + 1 / sigma**2)
        peak = log_f(mode)
        points = [mode + j * width for j in (-40, -10, 0, 10, 40)]
        value = mp.quad(lambda y: mp.exp(log_f(y) - peak), [-mp.inf, *points, mp.inf])
        return float(mp.log(value) + peak - mp.log(sigma * mp.sqrt(2 * mp.pi)))


@pytest.mark.parametrize("params", CASES, ids=str)
def test_moments_match_quadrature(params):
    got = jax.jit(jax.vmap(lambda c, m: log_moment(FAMILY, Params(*params), c, m)))(
        jnp.array([c for c, _ in COUNTS], float), jnp.array([m for _, m in COUNTS], float)
    )
    want = np.array([_oracle(*params, c, m) for c, m in COUNTS])
    # Measured: <= 6e-9 nats, at (-12, 4) with m = 100, where the Gaussian (width 4) is cut off
    # by (1 - p)^100 within ~1 of y = -4.6: two scales, as for the Kumaraswamy (0.05, 3).
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=3e-8)


@pytest.mark.slow
def test_fit_recovers_mu_and_sigma():
    # 200 problems at 100 attempts from logit p ~ Normal(-2, 1.5): the 99% intervals cover the
    # truth (one fixed seed; posterior sds ~0.15 and ~0.12).
    rng = np.random.default_rng(1)
    problems, mu, sigma = 200, -2.0, 1.5
    p = 1 / (1 + np.exp(-(mu + sigma * rng.standard_normal(problems))))
    c = rng.binomial(100, p)
    data = bp.PassData.from_counts([str(i) for i in range(problems)], n=[100] * problems, c=c)
    fit = bp.fit(
        data, prior=FAMILY.name, chains=2, warmup=400, samples=400, progress=False, check=False
    )
    for name, truth in (("mu", mu), ("sigma", sigma)):
        lower, upper = np.quantile(fit.idata.posterior[name].values, [0.005, 0.995])
        assert lower < truth < upper, (name, lower, upper)
