"""Quadrature moments of the prior families against mpmath oracles.

The quantity under test is E[(1 - p)^k], for a fresh problem J(0, k) / J(0, 0) and for a problem
seen with c successes in n attempts J(c, n - c + k) / J(c, n - c), where
J(c, m) = int (s q)^c (1 - s q)^m pi(q) dq (see `bayes_passk.functionals`).

Oracles:

- scaled Beta, moderate m: J(c, m) = s^c B(a + c, b) / B(a, b) 2F1(-m, a + c; a + b + c; s), by
  mpmath's hyp2f1 at 30 digits;
- huge m (k = 1e6, 1e9), where the terminating series has up to 1e9 terms, and every Kumaraswamy
  moment: mpmath.quad at 20 digits of the integrand in y = logit q, split at its mode and at
  the widths of its exponential tails. Its own error estimate is asserted below 1e-12, and
  `test_quad_oracle_matches_closed_forms` checks it against hyp2f1 and exact Kumaraswamy moments.

mpmath takes ~0.1 s per quadrature, so by default the parameter grid is 3 points over a in
{0.05, 0.3, 1.5}, b in {0.7, 3, 200}, s in {0.035, 0.5, 1}: each level once, the hardest
(a, b) = (0.05, 3) among them. With -m slow, the full 3 x 3 x 3 grid.
"""

from __future__ import annotations

import itertools
from functools import partial

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from scipy import special, stats

import bayes_passk  # noqa: F401  (float64)
from bayes_passk.functionals import (
    FINE,
    SAMPLING,
    log_marginal_likelihood,
    log_power_law_survival,
    log_survival_new,
    log_survival_seen,
)
from bayes_passk.models.kumaraswamy import FAMILY as KUMA
from bayes_passk.models.kumaraswamy import Params as KumaParams
from bayes_passk.models.scaled_beta import FAMILY as BETA
from bayes_passk.models.scaled_beta import Params as BetaParams

A_GRID = (0.05, 0.3, 1.5)
B_GRID = (0.7, 3.0, 200.0)
S_GRID = (0.035, 0.5, 1.0)
SEEN = ((100, 0), (100, 3), (10000, 9000))
K_MODERATE = (1, 10, 1000, 10000)
K_HUGE = (10**6, 10**9)

# Measured on the full 27-point grid, every (n, c) and k in K_MODERATE + K_HUGE (oracle error
# < 1e-20), with the sinh-sinh rule of step 1/32, the larger of the relative errors of
# E[(1 - p)^k] and of pass@k = 1 - S (where pass@k >= 1e-6, against its own oracle where below
# 1/2; the tests take that oracle below 1e-3 only, the difference of the float logs of J
# holding pass@k to 5e-10 above): at most 1.7e-10 for the scaled Beta and 3.1e-10 for the
# Kumaraswamy, apart from the Kumaraswamy with a = 0.05, b = 3. There the integrand in y has
# its peak at y* = -22 with width 16 and a second, unit-scale feature at y = 0 (where
# 1 - q^a turns into a (1 - q)); the rule's nodes are ~1.6 apart there, which leaves up to
# 6.6e-5 on this grid (a new problem's pass@1e4 at s = 1; 5.0e-5 at s = 0.035, k = 1e6, both
# slow points) (step 1/16: 5e-4; step 1/64: 1e-7, at twice the cost). The tolerances are
# about 3 to 16 times these maxima (the two-scale case's 1.5), far above
# the oracle's 1e-12. Below pass@k = 1e-6 the error of pass@k
# stays about 1e-14 absolute, beyond any forecast's use.
RTOL = {"scaled-beta": 1e-9, "kumaraswamy": 5e-9}
RTOL_KUMARASWAMY_TWO_SCALES = 1e-4
PASS_FLOOR = 1e-6


def _default_points():
    """The 3 grid points (A[i], B[i + 1], S[2i + 1]) (indices mod 3), each level once."""
    return {(A_GRID[i], B_GRID[(i + 1) % 3], S_GRID[(2 * i + 1) % 3]) for i in range(3)}


def _grid(family_name):
    """The full (a, b, s) grid as pytest params: `_default_points` by default, the rest slow."""
    default = _default_points()
    params = []
    for a, b, s in itertools.product(A_GRID, B_GRID, S_GRID):
        marks = [] if (a, b, s) in default else [pytest.mark.slow]
        params.append(pytest.param(a, b, s, marks=marks, id=f"a={a}-b={b}-s={s}"))
    return params


# ---------------------------------------------------------------------------------------------
# mpmath oracles


def _mp_log_density(family_name, a, b):
    """mpmath log pi(q) as a function of (log q, log(1 - q))."""
    if family_name == "scaled-beta":
        log_beta = mp.log(mp.beta(a, b))
        return lambda lq, l1q: (a - 1) * lq + (b - 1) * l1q - log_beta
    log_ab = mp.log(a * b)
    return lambda lq, l1q: log_ab + (a - 1) * lq + (b - 1) * mp.log(-mp.expm1(a * lq))


def mp_log_moment_quad(family_name, a, b, s, c, m):
    """Log J(c, m) by mpmath.quad in y = logit q at 20 digits (float out)."""
    return float(_mp_log_moment_quad(family_name, a, b, s, c, m))


def mp_log_pass_quad(family_name, a, b, s, c, m, k):
    """Log pass@k of a problem seen with c successes in c + m attempts, at 20 digits (float out).

    Log [J(c, m) - J(c, m + k)] / J(c, m), the numerator integrated as such: the difference of
    two float logs of J loses all digits of a pass@k below their rounding, ~1e-14 at log J = -137.
    """
    with mp.workdps(20):
        solved = _mp_log_moment_quad(family_name, a, b, s, c, m, solved_by=k)
        return float(solved - _mp_log_moment_quad(family_name, a, b, s, c, m))


def _mp_log_moment_quad(family_name, a, b, s, c, m, solved_by=0):
    """Log J(c, m), or with solved_by = k > 0 log [J(c, m) - J(c, m + k)], as an mpf."""
    with mp.workdps(20):
        a, b, s = mp.mpf(a), mp.mpf(b), mp.mpf(s)
        log_density = _mp_log_density(family_name, a, b)
        log_s = mp.log(s)

        def log_f(y):
            lq = -mp.log1p(mp.exp(-y))
            l1q = lq - y
            value = c * (log_s + lq) + log_density(lq, l1q) + lq + l1q
            # s < 1 keeps 1 - s q >= 1 - s away from 0; s = 1 uses log(1 - q) exactly.
            l1p = l1q if s == 1 else mp.log1p(-s * mp.exp(lq))
            if m:
                value += m * l1p
            if solved_by:
                value += mp.log(-mp.expm1(solved_by * l1p))
            return value

        # Solved by k, p^c weighs like p^(c + 1) where k p is small.
        shift = 1 if solved_by else 0
        q0 = min((c + shift + a) / (c + shift + m + a + b) / s, mp.mpf(0.5))
        # Only a breakpoint: the error estimate below vouches for the value, not the mode.
        start = mp.log(q0) - mp.log1p(-q0)
        mode = mp.findroot(lambda y: mp.diff(log_f, y), start, verify=False)
        log_peak = log_f(mode)
        # Left tail ~ exp((a + c) y), right tail at least ~ exp(-b y): breakpoints 20 e-folds out.
        points = sorted({mode - 20 / (a + c), mode - 20, mode, mode + 20, mode + 20 / b})
        value, error = mp.quad(
            lambda y: mp.exp(log_f(y) - log_peak), [-mp.inf, *points, mp.inf], error=True
        )
        assert error / value < 1e-12, (family_name, a, b, s, c, m, solved_by, error / value)
        return mp.log(value) + log_peak


def mp_log_moment_hyp2f1(a, b, s, c, m):
    """Log J(c, m) for the scaled Beta: s^c B(a + c, b) / B(a, b) 2F1(-m, a + c; a + b + c; s)."""
    with mp.workdps(30):
        a, b, s = mp.mpf(a), mp.mpf(b), mp.mpf(s)
        return float(
            c * mp.log(s)
            + mp.log(mp.beta(a + c, b))
            - mp.log(mp.beta(a, b))
            + mp.log(mp.hyp2f1(-m, a + c, a + b + c, s))
        )


def oracle_log_moment(family_name, a, b, s, c, m):
    """hyp2f1 for the scaled Beta where the terminating series is cheap, quadrature otherwise."""
    # hyp2f1 sums m + 1 alternating terms for s < 1 (seconds at s m ~ 5000); s = 1 is Gauss's
    # closed form.
    if family_name == "scaled-beta" and (s == 1.0 or s * m <= 2000):
        return mp_log_moment_hyp2f1(a, b, s, c, m)
    return mp_log_moment_quad(family_name, a, b, s, c, m)


def test_quad_oracle_matches_closed_forms():
    """The quadrature oracle agrees with hyp2f1 and with exact Kumaraswamy moments."""
    # Scaled Beta, hard corners of the grid, k = 1e3 on top of each seen problem.
    for a, b, s, c, m in [
        (0.05, 200.0, 0.035, 0, 1000),
        (0.05, 0.7, 0.5, 3, 1097),
        (1.5, 3.0, 0.5, 9000, 2000),
        (0.3, 200.0, 1.0, 9000, 2000),
    ]:
        quad = mp_log_moment_quad("scaled-beta", a, b, s, c, m)
        hyp = mp_log_moment_hyp2f1(a, b, s, c, m)
        assert abs(quad - hyp) < 1e-12 * max(1.0, abs(hyp)), (a, b, s, c, m, quad, hyp)
    # Kumaraswamy: E[q^j] = b B(1 + j / a, b), so J(1, 0) = s b B(1 + 1/a, b) and, at s = 1,
    # J(0, 1) = 1 - b B(1 + 1/a, b); and Kumaraswamy(1, b) = Beta(1, b).
    for a, b in [(0.05, 3.0), (0.3, 200.0), (1.5, 0.7)]:
        with mp.workdps(30):
            mean_q = float(b * mp.beta(1 + 1 / mp.mpf(a), b))
            log1m_mean_q = float(mp.log1p(-b * mp.beta(1 + 1 / mp.mpf(a), b)))
        quad = mp_log_moment_quad("kumaraswamy", a, b, 0.5, 1, 0)
        assert quad == pytest.approx(np.log(0.5 * mean_q), rel=1e-12, abs=1e-12)
        quad = mp_log_moment_quad("kumaraswamy", a, b, 1.0, 0, 1)
        assert quad == pytest.approx(log1m_mean_q, rel=1e-12, abs=1e-14)
    for b, s, c, m in [(3.0, 0.5, 3, 10097), (200.0, 0.035, 0, 10**4)]:
        quad = mp_log_moment_quad("kumaraswamy", 1.0, b, s, c, m)
        hyp = mp_log_moment_hyp2f1(1.0, b, s, c, m)
        assert abs(quad - hyp) < 1e-12 * max(1.0, abs(hyp)), (b, s, c, m, quad, hyp)


# ---------------------------------------------------------------------------------------------
# E[(1 - p)^k] against the oracles

FAMILIES = {"scaled-beta": (BETA, BetaParams), "kumaraswamy": (KUMA, KumaParams)}

# One k grid for every call, so that each jitted function compiles once: 0, a log grid from 1 to
# 1e9 (steps of 7%) with the oracle's k, and 1e12.
K_GRID = np.unique(
    np.concatenate([[0.0, 1e12], K_MODERATE, K_HUGE, np.round(np.geomspace(1, 1e9, 300))])
)


def _survival_fns(family_name):
    family, params_cls = FAMILIES[family_name]

    def new(a, b, s, k):
        return log_survival_new(family, params_cls(a, b, s), k)

    def seen(a, b, s, n, c, k):
        return log_survival_seen(family, params_cls(a, b, s), n, c, k)

    new = jax.jit(jax.vmap(new, in_axes=(None, None, None, 0)))
    seen = jax.jit(jax.vmap(seen, in_axes=(None, None, None, None, None, 0)))
    return lambda a, b, s: np.asarray(new(a, b, s, K_GRID)), lambda a, b, s, n, c: np.asarray(
        seen(a, b, s, float(n), float(c), K_GRID)
    )


_SURVIVAL = {name: _survival_fns(name) for name in FAMILIES}


def _check_survival(name, a, b, s, ks):
    """Max relative error of S = E[(1 - p)^k] and of pass@k = 1 - S, fresh and seen, over ks.

    Both: an error small relative to S can be large relative to pass@k when pass@k is small;
    pass@k's counts where it is at least `PASS_FLOOR`, against its own oracle where small.
    """
    new, seen = _SURVIVAL[name]
    index = np.searchsorted(K_GRID, ks)
    rows = []
    for n, c in ((0, 0), *SEEN):
        got = (new(a, b, s) if n == 0 else seen(a, b, s, n, c))[index]
        base = oracle_log_moment(name, a, b, s, c, n - c)
        for i, k in enumerate(ks):
            want = oracle_log_moment(name, a, b, s, c, n - c + k) - base
            want_pass = -np.expm1(want)
            # Two float logs of J (down to -3300 here) carry up to ~5e-13 of rounding: below
            # 1e-3, pass@k's own oracle; above, their difference holds it to 5e-10.
            if PASS_FLOOR <= want_pass < 1e-3:
                want_pass = np.exp(mp_log_pass_quad(name, a, b, s, c, n - c, k))
            rows.append(("fresh" if n == 0 else (n, c), k, got[i], want, want_pass))
    errors = [
        (
            max(abs(np.expm1(got - want)), abs(-np.expm1(got) / want_pass - 1))
            if want_pass >= PASS_FLOOR
            else abs(np.expm1(got - want)),
            where,
            k,
            want,
        )
        for where, k, got, want, want_pass in rows
    ]
    return max(errors, key=lambda e: e[0])


@pytest.mark.parametrize(("a", "b", "s"), _grid("scaled-beta"))
def test_scaled_beta_survival_matches_oracle(a, b, s):
    error, where, k, expected = _check_survival("scaled-beta", a, b, s, K_MODERATE + K_HUGE)
    assert error < RTOL["scaled-beta"], (
        f"rel. error {error:.2e} at {where}, k={k} (log S = {expected:.3e})"
    )


@pytest.mark.parametrize(("a", "b", "s"), _grid("kumaraswamy"))
def test_kumaraswamy_survival_matches_oracle(a, b, s, request):
    # Every Kumaraswamy oracle is a quadrature (0.1 s each): k = 1, 10 and 1e4 only on the slow
    # part of the grid.
    slow = request.node.get_closest_marker("slow") is not None
    ks = K_MODERATE + K_HUGE if slow else (1000,) + K_HUGE
    error, where, k, expected = _check_survival("kumaraswamy", a, b, s, ks)
    rtol = RTOL_KUMARASWAMY_TWO_SCALES if (a, b) == (0.05, 3.0) else RTOL["kumaraswamy"]
    assert error < rtol, f"rel. error {error:.2e} at {where}, k={k} (log S = {expected:.3e})"


# ---------------------------------------------------------------------------------------------
# Marginal likelihood, gradients, monotonicity


@jax.jit
def _beta_log_marginal(a, b, s, n, c):
    one = lambda n, c: log_marginal_likelihood(BETA, BetaParams(a, b, s), n, c)  # noqa: E731
    return jnp.vectorize(one)(n, c)


@pytest.mark.parametrize(("a", "b"), [(0.05, 200.0), (0.3, 3.0), (1.5, 0.7), (2.0, 5.0)])
def test_unscaled_beta_marginal_likelihood_is_beta_binomial(a, b):
    ns = np.array([1, 1, 20, 20, 20, 100, 100, 10000, 10000, 10000], dtype=float)
    cs = np.array([0, 1, 0, 7, 20, 3, 100, 0, 9000, 10000], dtype=float)
    got = np.asarray(_beta_log_marginal(a, b, 1.0, ns, cs))
    want = stats.betabinom.logpmf(cs, ns, a, b)
    # Quadrature error (RTOL's 1e-9 for the scaled Beta; measured here: 3.1e-11 at most) plus
    # scipy's ~1e-12.
    np.testing.assert_allclose(np.exp(got - want), 1.0, rtol=RTOL["scaled-beta"], atol=0)


def _value_and_grad(family_name):
    family, params_cls = FAMILIES[family_name]

    def f(a, b, s, n, c):
        return log_marginal_likelihood(family, params_cls(a, b, s), n, c)

    return jax.jit(f), jax.jit(jax.grad(f, argnums=(0, 1, 2)))


_VALUE_AND_GRAD = {name: _value_and_grad(name) for name in FAMILIES}


@pytest.mark.parametrize(
    ("family_name", "params", "n", "c"),
    [
        ("scaled-beta", (0.3, 3.0, 0.5), 100.0, 3.0),
        ("scaled-beta", (1.5, 200.0, 0.035), 10000.0, 158.0),
        ("kumaraswamy", (0.3, 3.0, 0.5), 100.0, 0.0),
        ("kumaraswamy", (1.5, 0.7, 0.9), 20.0, 7.0),
    ],
)
def test_marginal_likelihood_gradient_matches_finite_difference(family_name, params, n, c):
    f, grad = _VALUE_AND_GRAD[family_name]
    params = np.array(params)
    gradient = grad(*params, n, c)
    for i, g in enumerate(gradient):
        assert np.isfinite(g), i
        # Central difference, h = 1e-5 x: truncation ~h^2 |f'''| ~ 1e-10 relative, rounding
        # ~1e-16 |f| / h ~ 1e-9 for |f| ~ 1e2. The gradient holds the quadrature nodes fixed
        # where a finite difference moves them with the mode: a further change of the order of
        # the quadrature error (< 1e-7) over a step that changes f by O(h).
        h = 1e-5 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        fd = (f(*up, n, c) - f(*down, n, c)) / (up[i] - down[i])
        assert float(g) == pytest.approx(float(fd), rel=1e-6, abs=1e-7), i


@pytest.mark.parametrize(
    ("family_name", "params", "n", "c", "k"),
    [
        ("scaled-beta", (0.3, 3.0, 0.5), 0.0, 0.0, 100.0),
        ("scaled-beta", (0.3, 3.0, 0.001), 100.0, 0.0, 1e8),
        ("kumaraswamy", (0.3, 3.0, 0.5), 100.0, 3.0, 1.0),
    ],
)
def test_pass_at_k_gradient_matches_finite_difference(family_name, params, n, c, k):
    # log E[(1 - p)^k | n, c] takes log(1 - (1 - p)^k) at nodes where p rounds to 0 (log 0):
    # its value is left out there, and so must its infinite slope be. Central difference as in
    # the marginal likelihood's test.
    f, grad = _SURVIVAL_VALUE_AND_GRAD[family_name]
    gradient = grad(*params, n, c, k)
    for i, g in enumerate(gradient):
        h = 1e-5 * params[i]
        up, down = list(params), list(params)
        up[i] += h
        down[i] -= h
        fd = (f(*up, n, c, k) - f(*down, n, c, k)) / (up[i] - down[i])
        assert np.isfinite(g) and float(g) == pytest.approx(float(fd), rel=1e-6, abs=1e-7), i


def _survival_value_and_grad(family_name):
    family, params_cls = FAMILIES[family_name]

    def f(a, b, s, n, c, k):
        return log_survival_seen(family, params_cls(a, b, s), n, c, k)

    return jax.jit(f), jax.jit(jax.grad(f, argnums=(0, 1, 2)))


_SURVIVAL_VALUE_AND_GRAD = {name: _survival_value_and_grad(name) for name in FAMILIES}


def test_gradient_at_scale_one_is_finite():
    # u rounding to 1 puts s at exactly 1, where log(1 - s) = -inf: the gradient must stay finite
    # for NUTS (the scale component then omits the (1 - s) q term; s = 1 is a rounding artefact,
    # the MLE keeps s < 1), and the a, b components stay exact.
    f, grad = _VALUE_AND_GRAD["scaled-beta"]
    gradient = np.asarray(grad(0.3, 3.0, 1.0, 100.0, 3.0))
    assert np.all(np.isfinite(gradient))
    for i, h in [(0, 1e-6), (1, 1e-5)]:
        up, down = np.array([0.3, 3.0, 1.0]), np.array([0.3, 3.0, 1.0])
        up[i] += h
        down[i] -= h
        fd = (f(*up, 100.0, 3.0) - f(*down, 100.0, 3.0)) / (2 * h)
        assert float(gradient[i]) == pytest.approx(float(fd), rel=1e-6)


@pytest.mark.parametrize("family_name", sorted(FAMILIES))
@pytest.mark.parametrize(
    ("a", "b", "s"),
    [(0.05, 200.0, 0.035), (0.3, 0.7, 1.0), (1.5, 3.0, 0.5), (0.1, 50.0, 0.9)],
)
def test_survival_is_decreasing_in_k_and_a_probability(family_name, a, b, s):
    new, seen = _SURVIVAL[family_name]
    curves = {"fresh": new(a, b, s)}
    for n, c in SEEN:
        curves[(n, c)] = seen(a, b, s, n, c)
    for where, log_e in curves.items():
        assert np.all(np.isfinite(log_e)), where
        # Two quadratures of the same integral differ by rounding, ~1e-15 in log E: all that
        # E[(1 - p)^k] = 1 - k E[p] + ... shows when E[p] is tiny (the Kumaraswamy(0.05, 200)
        # has E[q] ~ 1e-40, so E stays 1 - 5e-12 up to k = 1e9).
        rounding = 1e-12
        assert abs(log_e[0]) < rounding, where  # k = 0
        assert np.all(np.diff(log_e) < rounding), where
        survival = np.exp(log_e)
        assert np.all((survival >= 0) & (survival <= 1 + rounding)), where
        # Where the decrease is resolved it is strict: consecutive k differ by >= 1 or 7%,
        # which moves E far more than the quadrature's error of at most 1e-6.
        resolved = log_e[1:] < -1e-9
        assert np.all(np.diff(log_e[1:])[resolved[1:]] < 0), where


def test_log_moment_accepts_huge_counts():
    # k = 1e12 on top of c = 1e6 successes: finite, and below k = 1e9.
    log_e = _SURVIVAL["scaled-beta"][1](0.3, 3.0, 0.5, 1e6, 1e6)
    assert np.all(np.isfinite(log_e)) and log_e[-1] < log_e[-2] < 0
    # For a fresh problem with s k >> 1, (1 - s q)^k ~ exp(-k s q) gives
    # E ~ Gamma(a + b) / Gamma(b) (s k)^-a, with relative corrections O(1 / (s k)) ~ 1e-12.
    got = _SURVIVAL["scaled-beta"][0](0.3, 3.0, 0.5)[-1]
    want = special.gammaln(3.3) - special.gammaln(3.0) - 0.3 * np.log(0.5e12)
    assert got == pytest.approx(want, abs=RTOL["scaled-beta"])  # measured: 1.4e-12


# Measured on this grid: max |log P(c | n)| difference between the rules of 5.7e-7 (scaled Beta),
# 1.4e-5 (Kumaraswamy, a >= 0.1) and 1.5e-3 (Kumaraswamy at a = 0.03, the two-scale integrand
# above); FINE itself is within 1e-9 relative of mpmath. Tolerances about 3 times those.
SAMPLING_ATOL = {("scaled-beta", False): 2e-6, ("kumaraswamy", False): 5e-3}
SAMPLING_ATOL |= {("scaled-beta", True): 2e-6, ("kumaraswamy", True): 5e-5}


@pytest.mark.parametrize("family_name", sorted(FAMILIES))
def test_sampling_rule_likelihood_is_close_to_fine_rule(family_name):
    family, params_cls = FAMILIES[family_name]
    a_values, b_values, s_values = (
        [0.03, 0.05, 0.1, 0.3, 1.0, 3.0],
        [0.3, 1, 3, 30, 300],
        [0.01, 0.5, 1],
    )
    grid = np.array(list(itertools.product(a_values, b_values, s_values)), dtype=float)
    rows = np.array(
        [(n, c) for n in (10, 100, 10000) for c in np.unique(np.round(np.geomspace(1, n, 8)))]
        + [(n, 0) for n in (10, 100, 10000)],
        dtype=float,
    )

    def table(rule):
        def one(a, b, s, n, c):
            return log_marginal_likelihood(family, params_cls(a, b, s), n, c, rule)

        per_row = jax.vmap(one, in_axes=(None, None, None, 0, 0))
        per_params = jax.vmap(per_row, in_axes=(0, 0, 0, None, None))
        return np.asarray(jax.jit(per_params)(*grid.T, *rows.T))

    fine, coarse = table(FINE), table(SAMPLING)
    assert np.isfinite(fine).all() and np.isfinite(coarse).all()
    error = np.abs(coarse - fine)
    for tail_ok in (False, True):
        keep = grid[:, 0] >= 0.1 if tail_ok else np.ones(len(grid), bool)
        assert error[keep].max() < SAMPLING_ATOL[(family_name, tail_ok)]
    assert len(SAMPLING.offsets) < 0.6 * len(FINE.offsets)  # the point of the coarse rule


@pytest.mark.parametrize("family_name", ["beta-spline", "log-spline"])
def test_grid_moments_are_the_log_space_sums(family_name):
    # A discrete family's forecasts take J(c, m + k) as a matrix product over its grid
    # (log_grid_moments); log_moment sums the same terms in log space. They agree to rounding
    # (measured: 1.1e-13 in log) wherever J(c, m + k) / J(c, m) > e^-600, and below that the
    # product can only lose terms to underflow, never add them. Prior draws of every parameter,
    # rows from unsolved to solved in every attempt, k from 0 to 1e12 (the exact power-law tail
    # below the grid takes over from k ~ 1e8).
    from numpyro import handlers

    from bayes_passk.families import get_family
    from bayes_passk.functionals import log_grid_moments, log_moment

    family = get_family(family_name)
    n = np.array([100, 100, 100, 100, 100, 10000, 1, 100.0])
    c = np.array([0, 1, 5, 50, 99, 3, 1, 100.0])
    ks = np.array([0, 1, 10, 1e3, 1e4, 1e6, 1e8, 1e10, 1e12])
    # Compiled once for the five draws (run eagerly, each operation compiles on its own).
    grid_moments = jax.jit(partial(log_grid_moments, family))
    exact_moments = jax.jit(jax.vmap(partial(log_moment, family), (None, 0, 0)))
    for seed in range(5):
        with handlers.seed(rng_seed=seed):
            params = family.hyperprior()
        fast = np.asarray(grid_moments(params, c, n - c, ks))
        m = (n - c)[None, :] + ks[:, None]
        exact = np.asarray(exact_moments(params, np.tile(c, ks.size), m.ravel()))
        exact = exact.reshape(fast.shape)
        resolved = exact - exact[0] > -600
        assert resolved.mean() > 0.8
        np.testing.assert_allclose(fast[resolved], exact[resolved], rtol=0, atol=1e-10)
        assert np.all(fast[~resolved] <= exact[~resolved] + 1e-10)


def test_rows_far_apart_in_likelihood_each_keep_their_part_of_the_forecast():
    # The benchmark's survival is the mean of each row's: a row solved 5000 of 10000 times and
    # one never solved in 100 have log J thousands of nats apart, and a shift shared by both
    # rows (not each its own) underflowed the first to nothing (pass@1 0.00145, not 0.2514).
    from bayes_passk.forecast import resolved_survival_moments
    from bayes_passk.models.beta_spline import FAMILY, NUM_Z, Params

    rng = np.random.default_rng(1)
    a = jnp.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0, 6.0])
    params = Params(a, jnp.full(8, 3.0), jnp.full(8, 0.8), jnp.asarray(rng.normal(size=(8, NUM_Z))))
    ks = np.array([1.0, 30.0, 1e3, 1e6])

    def survival(rows):
        # Three rows and four k, as in the next test (their programs compiled once): the last
        # row repeated at weight 0, no part of the mean.
        weight = np.array([1.0] * len(rows) + [0.0] * (3 - len(rows)))
        rows = rows + rows[-1:] * (3 - len(rows))
        n, c = (np.array([float(row[j]) for row in rows]) for j in range(2))
        return np.exp(resolved_survival_moments(FAMILY, params, 8, n, c, weight, ks)[0])

    solved, unsolved = survival([(10_000, 5_000)]), survival([(100, 0)])
    together = survival([(10_000, 5_000), (100, 0)])
    np.testing.assert_allclose(together, (solved + unsolved) / 2, rtol=1e-9)
    assert np.all(solved[:, 0] < 0.6)  # the solved row's rate is near 1/2, not 0


def test_the_solved_part_of_a_tail_that_underflows_is_nothing_not_nan():
    # A discrete family's tail part E[(1 - p)^m] underflows to 0 for c = 100, m = 1e8; its
    # solved part was -inf - -inf = NaN, and with it the row's whole solved part.
    from bayes_passk.functionals import log_moment
    from bayes_passk.models.beta_spline import FAMILY, NUM_Z, Params

    params = Params(0.4, 3.0, 1.0, jnp.zeros(NUM_Z))
    moment = jax.jit(lambda m, k: log_moment(FAMILY, params, 100.0, m, solved_by=k))
    for k in (1.0, 1e3):
        base, after = moment(1e8, 0.0), moment(1e8 + k, 0.0)
        # The reference's logs of J near -1489 hold ~2e-13 each: 2e-7 of an S - 1 of 1e-6.
        want = base + np.log(-np.expm1(after - base))
        np.testing.assert_allclose(moment(1e8, k), want, rtol=0, atol=1e-6)


def test_forecast_moments_as_grid_sums_are_the_log_space_ones():
    # survival_moments of a discrete family: log S(k), Var S(k) and a new problem's log S(k)
    # from matrix sums (the default) against sums in log space (exact_sums), on eight distinct
    # prior-like draws. Rows seen often and rarely, and rows of a million attempts (their
    # variance linearised at small k). Where every problem is solved nearly every time,
    # S(1e6) falls below e^-600 for some draws (log S from -576 to -630 here) or all (-783 to
    # -836, where the matrix sums give -1949 to -2096): the matrix sums can lose digits there,
    # and resolved_survival_moments redoes exactly those draws in log space.
    from bayes_passk.forecast import resolved_survival_moments, survival_moments
    from bayes_passk.models.beta_spline import FAMILY, NUM_Z, Params

    rng = np.random.default_rng(0)
    a = jnp.array([0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0, 6.0])
    params = Params(a, jnp.full(8, 3.0), jnp.full(8, 0.8), jnp.asarray(rng.normal(size=(8, NUM_Z))))
    ks = jnp.array([1.0, 30.0, 1e3, 1e6])

    def moments(rows, **options):
        n, c, weight = (jnp.array([float(row[j]) for row in rows]) for j in range(3))
        return [
            np.asarray(x) for x in survival_moments(FAMILY, params, n, c, weight, ks, **options)
        ]

    def resolved(rows):
        n, c, weight = (np.array([float(row[j]) for row in rows]) for j in range(3))
        return resolved_survival_moments(FAMILY, params, 8, n, c, weight, ks)

    for ordinary in (
        [(100, 0, 3), (100, 3, 2), (40, 12, 1)],
        [(1e6, 0, 3), (1e6, 3, 2), (1e6, 30, 1)],
    ):
        grid, exact = moments(ordinary), moments(ordinary, exact_sums=True)
        np.testing.assert_allclose(grid[0], exact[0], rtol=0, atol=1e-10)
        # Var S = s2 - s1^2 per problem carries the rounding of s1, s2 ~ 1 (~1e-16) in both
        # ways; where k E[p^2] / E[p] < 1e-4 it is linearised, k^2 Var p, with no rounding.
        np.testing.assert_allclose(grid[1], exact[1], rtol=1e-7, atol=1e-14)
        np.testing.assert_allclose(grid[2], exact[2], rtol=0, atol=1e-10)
    np.testing.assert_allclose(grid[1][:, 0], exact[1][:, 0], rtol=1e-9)  # all linear at k = 1
    for solved, tiny in (
        ([(100, 90, 2), (100, 95, 1), (100, 60, 1)], [6, 7]),
        ([(100, 100, 2), (100, 90, 1), (100, 80, 1)], list(range(8))),
    ):
        exact = moments(solved, exact_sums=True)
        assert np.flatnonzero((exact[0] < -600).any(axis=1)).tolist() == tiny
        for got, want in zip(resolved(solved), exact, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-300)
    assert np.all(moments(solved)[0][:, -1] < exact[0][:, -1] - 100)  # what a redo repairs


def _exact_log_moment(name, a, b, c, m):
    """Log J(c, m) at s = 1 as the alternating sum over E[q^j] of (1 - q)^m's binomial terms.

    E[q^j] = b B(1 + j / a, b) (Kumaraswamy) and (a / (a + j))^shape (log-gamma); 400 digits
    hold the cancellation of m up to a few hundred.
    """
    with mp.workdps(400):
        a, b = mp.mpf(a), mp.mpf(b)
        power = (lambda j: b * mp.beta(1 + j / a, b)) if name == "kumaraswamy" else None
        power = power or (lambda j: (a / (a + j)) ** b)
        terms = (mp.binomial(m, j) * (-1) ** j * power(c + j) for j in range(m + 1))
        return mp.log(mp.fsum(terms))


@pytest.mark.parametrize(("name", "a", "b"), [("kumaraswamy", 0.02, 3.0), ("log-gamma", 0.05, 3.0)])
def test_small_pass_at_k_keeps_its_digits(name, a, b):
    # A broad body (a = 0.02: most problems' rates far below 1e-10) and a second feature at
    # q ~ 1, which one quadrature rule resolves to ~1e-5 of J: pass@k ~ 1e-5 to 1e-3 taken as
    # 1 - J(c, m + k) / J(c, m) was 5% to 28% off (the integrals' errors did not cancel). Now
    # the part that k attempts solve is integrated as such, for the forecast's moments: the
    # benchmark's mean pass@k, its per-problem variance, and a new problem's pass@k.
    from bayes_passk.families import get_family, params_type
    from bayes_passk.forecast import survival_moments

    family = get_family(name)
    params = jax.tree.map(lambda x: jnp.full(2, x), params_type(family)(a, b, 1.0))
    rows, weight, ks = [(100, 0), (100, 3)], np.array([2.0, 1.0]), [1, 10, 100]
    n, c = (jnp.array([float(row[j]) for row in rows]) for j in range(2))
    got = survival_moments(family, params, n, c, jnp.asarray(weight), jnp.asarray(ks, float))
    log_mean, variance, log_new = (np.asarray(x)[0] for x in got)

    def exact_survival(c, m, k):  # E[(1 - p)^k | c, m]
        return mp.exp(_exact_log_moment(name, a, b, c, m + k) - _exact_log_moment(name, a, b, c, m))

    passes, variances, new = [], [], []
    for k in ks:
        s1 = [exact_survival(c, n - c, k) for n, c in rows]
        s2 = [exact_survival(c, n - c, 2 * k) for n, c in rows]
        per_problem = np.array([float(1 - s) for s in s1])
        spread = np.array([float(b2 - b1**2) for b1, b2 in zip(s1, s2, strict=True)])
        passes.append(weight @ per_problem / weight.sum())
        variances.append(weight @ spread / weight.sum() ** 2)
        new.append(float(1 - exact_survival(0, 0, k)))
    assert min(new) < 1e-3 and min(passes) < 1e-2  # the small values this is about
    # Measured: at most 5.8e-6 (a new problem's pass@k of the Kumaraswamy, from the error of
    # J(0, 0) itself), 1.1e-6 (the variance), 1.2e-7 (the benchmark's mean).
    tolerance = 3e-5
    np.testing.assert_allclose(-np.expm1(log_mean), passes, rtol=tolerance)
    np.testing.assert_allclose(-np.expm1(log_new), new, rtol=tolerance)
    np.testing.assert_allclose(variance, variances, rtol=tolerance)


def test_forecast_moments_take_each_survival_where_it_keeps_its_digits():
    # The forecast's moments, laid out per row and k over 40 draws (three batches of 16, the
    # last padded), give each draw's S as log_survival_seen does on its own (J(c, m + k), or
    # where pass@k is small the part of J(c, m) that k attempts solve), from pass@k ~ 1e-9 to
    # S ~ e^-1e5, in S and in pass@k alike.
    from bayes_passk.forecast import survival_moments

    ks = jnp.array([1.0, 1e3, 1e6, 1e9])
    rng = np.random.default_rng(0)

    @jax.jit
    def one_by_one(params, n, c):
        per_draw = lambda theta: jax.vmap(  # noqa: E731
            lambda k: log_survival_seen(KUMA, theta, n, c, k)
        )(ks)
        return jax.vmap(per_draw)(params)

    for a, b, s in [(0.05, 3.0, 0.5), (0.3, 200.0, 0.035), (1.5, 0.7, 1.0)]:
        jitter = np.exp(0.05 * rng.normal(size=(3, 40)))
        params = KumaParams(*(jnp.asarray(x * j) for x, j in zip((a, b, s), jitter, strict=True)))
        params = params._replace(scale=jnp.minimum(params.scale, 1.0))
        for n, c in SEEN:
            one_row = (jnp.array([float(n)]), jnp.array([float(c)]), jnp.ones(1))
            log_mean, _, log_new = survival_moments(KUMA, params, *one_row, ks)
            for got, want in (
                (log_mean, one_by_one(params, n, c)),
                (log_new, one_by_one(params, 0, 0)),
            ):
                got, want = np.asarray(got), np.asarray(want)
                # log S to rounding (the same integrals where S is small), and pass@k.
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
                np.testing.assert_allclose(np.expm1(got), np.expm1(want), rtol=1e-9)


def test_forecast_moments_integrate_the_solved_parts_of_unsolved_rows_only():
    # With solved_rows (the forecast passes the count of rows with c = 0 and weight > 0, up to a
    # power of two) the rows never solved, wherever they stand, keep their solved parts: S as
    # log_survival_seen gives it, to rounding. Rows with successes take J(c, m + k) / J(c, m),
    # whose pass@k was within 5e-12 of the solved part's on priors of E[p] >= 1e-6
    # (benchmarks/RESULTS.md, forty-first session).
    from bayes_passk.forecast import resolved_survival_moments, survival_moments

    ks = jnp.array([1.0, 1e3, 1e6])
    # (0.02, 3, 1): E[p] = 4.4e-5; the rows with c = 0 have pass@1 ~ 1e-6 to 4e-5, which
    # 1 - J(0, m + k) / J(0, m) gets 14% to 29% wrong.
    params = KumaParams(jnp.array([0.02, 0.3]), jnp.array([3.0, 3.0]), jnp.array([1.0, 0.5]))
    seen = jax.jit(
        jax.vmap(
            jax.vmap(partial(log_survival_seen, KUMA), (None, None, None, 0)), (0, None, None, None)
        )
    )

    def check(got, n, c):  # got: log S of one problem seen n times, c solved, (draws, k)
        want = np.asarray(seen(params, n, c, ks))
        if c == 0:
            np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
        else:
            np.testing.assert_allclose(np.expm1(got), np.expm1(want), rtol=0, atol=5e-12)

    rows = [(50, 3), (50, 0), *[(100, c) for c in range(1, 13)], (1000, 0), (100, 0)]
    n, c = (jnp.array([float(row[j]) for row in rows]) for j in range(2))
    for row, (attempts, successes) in enumerate(rows):
        weight = jnp.zeros(len(rows)).at[row].set(1.0)
        every, some = (
            [np.asarray(x) for x in survival_moments(KUMA, params, n, c, weight, ks, False, count)]
            for count in (None, 3)
        )
        check(some[0], attempts, successes)
        check(some[2], 0, 0)  # a new problem's
        np.testing.assert_allclose(some[1], every[1], rtol=1e-13 if successes == 0 else 1e-8)

    # The forecast's count covers every problem never solved: here eight rows, after padding
    # rows (1, 0) and rows with successes, all of weight 0.
    rows = [(1, 0)] * 3 + [(100, c) for c in range(1, 9)] + [(100 + j, 0) for j in range(8)]
    n, c = (np.array([float(row[j]) for row in rows]) for j in range(2))
    weight = np.array([0.0] * 11 + [1.0] * 8)
    log_mean, _, log_new = resolved_survival_moments(KUMA, params, 2, n, c, weight, ks)
    passes = -np.expm1([np.asarray(seen(params, 100 + j, 0, ks)) for j in range(8)])
    # The log of a mean of S ~ 1 holds its rounding, ~1e-16, in absolute terms.
    np.testing.assert_allclose(-np.expm1(log_mean), passes.mean(axis=0), rtol=1e-12, atol=1e-15)
    check(log_new, 0, 0)


@pytest.mark.parametrize("a", [0.3, 1.0, 3.0])
def test_the_power_law_tail_survival_is_exact_on_both_sides_of_its_series(a):
    # E[exp(-x t)], t ~ Beta(a, 1): the series where x < 1e-3, the incomplete gamma above.
    edge = -25.0
    xs = np.array([1e-6, 1e-4, 9e-4, 1.1e-3, 9e-3, 0.05, 0.5, 5.0, 50.0])
    got = np.asarray(log_power_law_survival(a, xs / jax.nn.sigmoid(edge), edge))
    with mp.workdps(40):  # a x^-a times the lower incomplete gamma function gamma(a, x)
        exact = [float(mp.log(a * mp.mpf(x) ** -a * mp.gammainc(a, 0, x))) for x in xs]
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-12)
