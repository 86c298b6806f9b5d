"""The zero-inflated scaled Beta (models/zero_inflated_beta.py): moments, parameter recovery.

Oracle: J(c, m) = z [c = 0] + (1 - z) s^c B(a + c, b) / B(a, b) 2F1(-m, a + c; a + b + c; s),
the scaled Beta's closed form by mpmath at 30 digits (`test_functionals.mp_log_moment_hyp2f1`).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from test_functionals import mp_log_moment_hyp2f1

import bayes_passk as bp
from bayes_passk.functionals import log_moment, log_survival_new
from bayes_passk.models.zero_inflated_beta import FAMILY, Params

CASES = [(0.3, 3.0, 0.5, 0.2), (0.05, 200.0, 1.0, 0.6), (1.5, 0.7, 0.035, 0.01)]
COUNTS = [(0, 0), (0, 100), (0, 10_000), (3, 97), (9000, 1000)]


def _oracle(a, b, s, z, c, m):
    log_beta = mp_log_moment_hyp2f1(a, b, s, c, m)
    with mp.workdps(30):
        value = (1 - mp.mpf(z)) * mp.exp(log_beta) + (z if c == 0 else 0)
        return float(mp.log(value))


@pytest.mark.parametrize("params", CASES, ids=str)
def test_moments_match_the_closed_form(params):
    got = jax.jit(jax.vmap(lambda c, m: log_moment(FAMILY, Params(*params), c, m)))(
        jnp.array([c for c, _ in COUNTS], float), jnp.array([m for _, m in COUNTS], float)
    )
    want = np.array([_oracle(*params, c, m) for c, m in COUNTS])
    # Relative error of J: the scaled Beta's quadrature is good to 3e-10 on this grid.
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-9)


def test_the_latent_density_holds_the_atom_s_mass_below_z_and_the_rest_above():
    # w has density 1 on (0, z) and (1 - z)^-1 pi_v((w - z) / (1 - z)) above, whose integral
    # is 1 - z: the mixture weight cancels the change of variables' Jacobian.
    from scipy import integrate

    from bayes_passk.models.zero_inflated_beta import ZeroInflatedLatent

    latent = ZeroInflatedLatent(0.5, 2.0, 0.3)
    density = jax.jit(lambda w: jnp.exp(latent.log_prob(w)))
    below = integrate.quad(lambda w: float(density(w)), 0.0, 0.3, epsabs=1e-12)[0]
    above = integrate.quad(lambda w: float(density(w)), 0.3, 1.0, epsabs=1e-12, limit=200)[0]
    assert below == pytest.approx(0.3, abs=1e-8) and above == pytest.approx(0.7, abs=1e-8)


def test_small_pass_at_k_leaves_the_unsolvable_atom_out_of_the_solved_part():
    # pass@k = [J(c, m) - J(c, m + k)] / J(c, m), J(0, m) = z + (1 - z) E[(1 - p)^m]: the atom at
    # p = 0 counts in J but never in the part that k attempts solve (an atom counted there gave
    # a fresh pass@1 of 0.284 for 0.034). The solved part itself, and pass@k fresh and seen 0
    # of 100, alone and in the forecast's moments.
    from bayes_passk.forecast import survival_moments

    params, ks = (0.3, 3.0, 0.5, 0.01), [1.0, 10.0, 1000.0]
    oracle = {
        (c, m): mp.mpf(_oracle(*params, c, m)) for c in (0,) for m in (0, 100, 101, 110, 1100)
    }
    oracle |= {(0, int(k)): mp.mpf(_oracle(*params, 0, int(k))) for k in ks}

    def solved(m, k):  # log [J(0, m) - J(0, m + k)]; the float logs hold ~1e-15 of J
        return float(oracle[0, m] + mp.log(-mp.expm1(oracle[0, m + int(k)] - oracle[0, m])))

    solved_part = jax.jit(
        jax.vmap(lambda m, k: log_moment(FAMILY, Params(*params), 0.0, m, solved_by=k))
    )
    got = solved_part(jnp.array([0.0, 0.0, 100.0, 100.0]), jnp.array([1.0, 1000.0, 1.0, 10.0]))
    want = [solved(0, 1), solved(0, 1000), solved(100, 1), solved(100, 10)]
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-9)
    want_new = [float(-mp.expm1(oracle[0, int(k)] - oracle[0, 0])) for k in ks]
    want_seen = [float(-mp.expm1(oracle[0, 100 + int(k)] - oracle[0, 100])) for k in ks]
    assert min(want_seen) < 0.05  # where pass@k is the solved part's ratio
    alone = jax.jit(jax.vmap(partial(log_survival_new, FAMILY, Params(*params))))(jnp.array(ks))
    draws = Params(*(jnp.full(2, x) for x in params))
    one_row = (jnp.array([100.0]), jnp.array([0.0]), jnp.ones(1))
    log_mean, _, log_new = survival_moments(FAMILY, draws, *one_row, jnp.array(ks))
    np.testing.assert_allclose(-np.expm1(np.asarray(alone)), want_new, rtol=1e-8)
    np.testing.assert_allclose(-np.expm1(np.asarray(log_new)[0]), want_new, rtol=1e-8)
    np.testing.assert_allclose(-np.expm1(np.asarray(log_mean)[0]), want_seen, rtol=1e-8)


def test_pass_at_k_levels_off_at_the_solvable_share():
    params = Params(0.3, 3.0, 0.5, 0.25)
    pass_at_k = -np.expm1(
        np.asarray(
            jax.jit(jax.vmap(lambda k: log_survival_new(FAMILY, params, k)))(
                jnp.array([1e3, 1e6, 1e12, 1e18])
            )
        )
    )
    assert np.all(np.diff(pass_at_k) > 0)
    # 1 - z - pass@k = (1 - z) E[(1 - s q)^k] ~ (1 - z) Gamma(a + b) / Gamma(b) (s k)^(-a).
    gap = 0.75 - pass_at_k[-1]
    expected = 0.75 * np.exp(
        np.log(jax.scipy.special.gamma(3.3) / jax.scipy.special.gamma(3.0)) - 0.3 * np.log(0.5e18)
    )
    # Relative corrections O(1 / (s k)) ~ 1e-18; quadrature ~1e-9 (the scaled Beta's); the
    # subtraction from 0.75 loses ~1e-16 / 5e-6 ~ 2e-11.
    assert gap == pytest.approx(expected, rel=1e-7, abs=0)


@pytest.mark.slow
def test_fit_recovers_the_unsolvable_share():
    # 300 problems, 2,000 attempts each: 30% unsolvable, the rest from a scaled Beta whose
    # hardest problems still show successes at this depth, so z is identified. The 99% interval
    # covers the truth (one fixed seed; the posterior sd is ~0.03).
    rng = np.random.default_rng(0)
    problems, attempts, zero = 300, 2000, 0.3
    p = 0.6 * rng.beta(1.0, 3.0, problems) * (rng.uniform(size=problems) > zero)
    c = rng.binomial(attempts, p)
    data = bp.PassData.from_counts([str(i) for i in range(problems)], n=[attempts] * problems, c=c)
    fit = bp.fit(
        data, prior=FAMILY.name, chains=2, warmup=400, samples=400, progress=False, check=False
    )
    draws = fit.idata.posterior["zero"].values.ravel()
    lower, upper = np.quantile(draws, [0.005, 0.995])
    assert lower < zero < upper, (lower, upper)
    assert upper - lower < 0.2
