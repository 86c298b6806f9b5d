"""The prior families' two views (latent sampler and density) and the hierarchical model.

Statistical checks use fixed seeds. A Kolmogorov-Smirnov test against the exact CDF passes with
p > 1e-3 when the sampler is right; with 20,000 draws it rejects a CDF error of ~0.015 (its
statistic is ~1.95 / sqrt(n) = 0.014 at that level), so the exact CDFs are computed to 1e-6 or
better, far below that.
"""

from __future__ import annotations

import functools
import json
from functools import partial

import arviz as az
import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import numpyro
import pytest
from numpyro.infer import MCMC, NUTS, Predictive
from scipy import integrate, special, stats

import bayes_passk  # noqa: F401  (float64)
from bayes_passk.families import (
    event_shapes,
    get_family,
    hyperprior_sites,
    log_beta,
    params_type,
    registry,
    stack_draws,
    unstack_draws,
)
from bayes_passk.functionals import log_marginal_likelihood, log_survival_seen
from bayes_passk.hierarchy import IntegratedBinomial, grid_points, grid_rows, hierarchical_model
from bayes_passk.models import DEFAULT_PRIOR, beta_spline, kumaraswamy, scaled_beta
from bayes_passk.models.scaled_beta import BetaByKumaraswamy

NUM_DRAWS = 20_000
KS_LEVEL = 1e-3


def _ks_pvalue(cdf_sorted, n=None, cdf_at_cap=None, atom=(0, 0.0)):
    """Two-sided one-sample KS p-value from the exact CDF at the sorted draws.

    With ``n`` > len(cdf_sorted), the other draws lie above a cap where the exact CDF is
    ``cdf_at_cap``: the supremum runs over values below the cap only, which makes the p-value
    conservative. ``atom = (count, mass)``: that many further draws sit at a point mass below
    every other draw, whose exact mass is ``mass`` (and is included in ``cdf_sorted``).
    """
    at_atom, mass = atom
    m = len(cdf_sorted)
    n = m + at_atom if n is None else n
    i = at_atom + np.arange(1, m + 1)
    d = max(np.max(i / n - cdf_sorted), np.max(cdf_sorted - (i - 1) / n), abs(at_atom / n - mass))
    if cdf_at_cap is not None:
        d = max(d, cdf_at_cap - (at_atom + m) / n)
    return stats.kstwo.sf(d, n)


# ---------------------------------------------------------------------------------------------
# BetaByKumaraswamy: the Beta(a, b) prior of q in the Kumaraswamy(a, b') coordinate v

BETA_SHAPES = [(0.1, 50.0), (0.5, 2.0), (2.0, 3.0), (0.3, 0.7), (5.0, 0.5)]

# A draw of the scaled-Beta hyperprior (numpyro seed 0): b is tiny, half the prior mass of q lies
# within 1e-16 of 1.
TINY_B = (0.0739, 0.0127)


def _kumaraswamy_b(a, b):
    return 1.0 / (a * special.beta(a, b))


def _log_q_from_v(v, a, b):
    """Log of the Kumaraswamy(a, b') inverse CDF, q = (1 - (1 - v)^(1/b'))^(1/a)."""
    return np.log(-np.expm1(np.log1p(-v) / _kumaraswamy_b(a, b))) / a


def _beta_upper_tail(a, b, v):
    """P(q > q(v)) under Beta(a, b) = P(1 - q < 1 - q(v)), a Beta(b, a) CDF; no cancellation."""
    if v == 1.0:
        return 0.0
    log1m_qa = np.log1p(-v) / _kumaraswamy_b(a, b)  # log(1 - q^a)
    return stats.beta.cdf(-np.expm1(np.log1p(-np.exp(log1m_qa)) / a), b, a)


def _beta_cdf(a, b, v):
    """P(q <= q(v)) under Beta(a, b), from whichever tail keeps its digits."""
    if v == 0.0:
        return 0.0
    q = np.exp(_log_q_from_v(v, a, b))
    return stats.beta.cdf(q, a, b) if q < 0.5 else 1.0 - _beta_upper_tail(a, b, v)


def _beta_probability(a, b, v_lo, v_hi):
    """P(q(v_lo) < q <= q(v_hi)) under Beta(a, b), without cancellation near q = 1."""
    if v_lo > 0.0 and np.exp(_log_q_from_v(v_lo, a, b)) >= 0.5:
        return _beta_upper_tail(a, b, v_lo) - _beta_upper_tail(a, b, v_hi)
    return _beta_cdf(a, b, v_hi) - _beta_cdf(a, b, v_lo)


@pytest.mark.parametrize(("b", "x"), [(3.0, 1.0), (9999.0, 2.3), (1e5, 2.3), (3.7e16, 1.546)])
def test_digamma_gap_keeps_its_digits(b, x):
    with mp.workdps(60):
        want = float(mp.digamma(mp.mpf(b) + x) - mp.digamma(mp.mpf(b)))
    # Measured: 4.5e-12 relative just below the switch to the series (b = 1e4), 2e-16 above.
    assert float(kumaraswamy.digamma_gap(b, x)) == pytest.approx(want, rel=1e-11, abs=0)


def test_solve_b_gradient_matches_finite_differences_for_huge_b():
    # a = 1.83 and a mean of 8e-10 put b near 3.6e16, where digamma(b) - digamma(b + x) once
    # cancelled to noise and the implicit gradient had the wrong sign (-11.3 against +20.8).
    log_b = jax.jit(lambda a: jnp.log(kumaraswamy.solve_b(a, jnp.log(8e-10))))
    step = 1e-5
    finite = (log_b(1.83 + step) - log_b(1.83 - step)) / (2 * step)
    assert float(jax.jit(jax.grad(log_b))(1.83)) == pytest.approx(float(finite), rel=1e-6)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        *BETA_SHAPES,
    ],
)
def test_beta_by_kumaraswamy_density_is_the_change_of_variables(a, b):
    log_prob = jax.jit(BetaByKumaraswamy(a, b).log_prob)
    density = lambda v: float(jnp.exp(log_prob(v)))  # noqa: E731
    # The density of v may have a power-law singularity at v = 1 (where b' != b): integrate over
    # decades of 1 - v, on each of which quad converges to ~1e-13, up to 1 - 1e-12 (float64 v
    # carries 1 - v to relative 1e-4 there).
    edges = np.concatenate([[0.0, 0.1, 0.5, 0.9], 1 - 10.0 ** -np.arange(2, 13)])
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        got = integrate.quad(density, lo, hi, epsabs=1e-13, epsrel=1e-10, limit=200)[0]
        want = _beta_probability(a, b, lo, hi)
        assert got == pytest.approx(want, rel=1e-8, abs=1e-12), (lo, hi)
        total += got
    # With the exact Beta mass of q beyond q(1 - 1e-12) (< 1e-5 here), v's density integrates to 1.
    remainder = _beta_probability(a, b, edges[-1], 1.0)
    assert remainder < 1e-5
    assert total + remainder == pytest.approx(1.0, abs=1e-9)


def _exact_log_prob(a, b, v):
    """mpmath (50 digits) log density of v: log pi_Beta(q) - log pi_K(q) at q = F_K^{-1}(v)."""
    with mp.workdps(50):
        a, b, v = mp.mpf(a), mp.mpf(b), mp.mpf(v)
        b_kuma = 1 / (a * mp.beta(a, b))
        log1m_qa = mp.log1p(-v) / b_kuma
        log_qa = mp.log1p(-mp.exp(log1m_qa))
        log_q = log_qa / a
        log1m_q = mp.log(-mp.expm1(log_q))
        log_beta = (a - 1) * log_q + (b - 1) * log1m_q - mp.log(mp.beta(a, b))
        log_kuma = mp.log(a * b_kuma) + (a - 1) * log_q + (b_kuma - 1) * log1m_qa
        return float(log_beta - log_kuma)


# A draw of the zero-inflated Beta's hyperprior (numpyro seed 2): b' = 0.0123, so from v = 1 - 1e-4
# on w = 1 - q^a = (1 - v)^(1 / b') underflows (log w = -749), where log_prob was +inf.
UNDERFLOWING_W = (0.6444, 0.0079)


@pytest.mark.parametrize(("a", "b"), [*BETA_SHAPES, TINY_B, UNDERFLOWING_W])
def test_beta_by_kumaraswamy_log_prob_near_one(a, b):
    vs = np.array([1e-9, 0.5, 0.9, 0.999, 0.9999, 1 - 1e-6, 1 - 1e-12])
    got = np.asarray(BetaByKumaraswamy(a, b).log_prob(vs))
    want = np.array([_exact_log_prob(a, b, v) for v in vs])
    # Float64 inputs, evaluated exactly by mpmath: what remains is rounding amplified by
    # 1 / (1 - q) in the cancellation, ~1e-16 / 1e-7 at worst (measured: 4e-8 at a = 0.1,
    # b = 50; under 1e-13 in the other cases).
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize(
    ("a", "b", "v"),
    [(0.5, 0.05, 1 - 1e-4), (0.5, 0.05, 1 - 1e-12), (*UNDERFLOWING_W, 1 - 1e-4)],
)
def test_beta_by_kumaraswamy_gradient_near_one(a, b, v):
    # Where w = 1 - q^a is below 1e-16 but has not underflowed (log w from -37 to -700), the
    # branch of log(1 - e^x) not taken once made the gradient NaN: what NUTS steps on.
    grad = jax.grad(lambda a, b: BetaByKumaraswamy(a, b).log_prob(v), argnums=(0, 1))(a, b)
    step_a, step_b = 1e-5 * a, 1e-5 * b
    finite = (
        (_exact_log_prob(a + step_a, b, v) - _exact_log_prob(a - step_a, b, v)) / (2 * step_a),
        (_exact_log_prob(a, b + step_b, v) - _exact_log_prob(a, b - step_b, v)) / (2 * step_b),
    )
    # Central differences of the mpmath density at a relative step of 1e-5 (truncation ~1e-10,
    # rounding of the 50-digit values to floats ~1e-9): measured within 2e-10 of the gradient.
    np.testing.assert_allclose(np.array(grad, dtype=float), finite, rtol=1e-7)


# Two shapes by default (sampling 20,000 draws: 2-5 s each), the extreme b ones.
@pytest.mark.parametrize(
    ("a", "b"),
    [
        *(
            pytest.param(*shape, marks=[] if shape[1] == 50.0 else [pytest.mark.slow])
            for shape in BETA_SHAPES
        ),
        TINY_B,
    ],
)
def test_beta_by_kumaraswamy_samples_map_back_to_beta(a, b):
    dist = BetaByKumaraswamy(a, b)
    v = np.asarray(dist.sample(jax.random.key(0), (NUM_DRAWS,)))
    assert np.all((v >= 0) & (v <= 1))
    # Each draw has a finite density (what NUTS needs at the prior predictive's points).
    assert np.all(np.isfinite(np.asarray(dist.log_prob(v))))
    # Float64 resolves 1 - v only to 1.1e-16, and sample() returns the largest float below 1
    # for draws that round to 1 (56% of them for TINY_B). Compare the draws below
    # 1 - 1e-12 (where 1 - v keeps 4 digits) with the exact CDF; the rest enter as the mass
    # above that cap.
    cap = 1.0 - 1e-12
    below = np.sort(v[v < cap])
    cdf = np.array([_beta_cdf(a, b, x) for x in below])
    cdf_at_cap = _beta_cdf(a, b, cap)
    assert _ks_pvalue(cdf, len(v), cdf_at_cap) > KS_LEVEL


# ---------------------------------------------------------------------------------------------
# Every registered family: latent + log_rate samples the density log_density_q

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)


# The family-parametrised checks below run in full on the seed papers' two families and the
# default prior in the default suite, on the other families in the slow suite: each family
# compiles its own programs, and the suite has 10 minutes on 2 cores. Every family's first
# hyperprior draw, and the gradient check, run in the default suite too (about 55 s of test
# time, half that on the suite's two workers), so that a wrong density, sampler or gradient in
# any family fails there.
CORE_FAMILIES = ("scaled-beta", "kumaraswamy", DEFAULT_PRIOR)


def _marks(name: str, fast=CORE_FAMILIES) -> tuple:
    return () if name in fast else (pytest.mark.slow,)


def _every_family(everywhere: bool = False, fast=CORE_FAMILIES, discrete: bool = False):
    """Every registered family (only the discrete ones if ``discrete``) as a pytest param;
    outside ``fast`` slow unless ``everywhere``."""
    return [
        pytest.param(family, id=name, marks=() if everywhere else _marks(name, fast))
        for name, family in registry().items()
        if not discrete or family.log_masses is not None
    ]


def _family_params():
    """(family, case) cases: three hyperprior draws each (a seed) and hard shapes where they
    apply (a tuple), turned into parameters by `_params` when the test runs; the first draw of
    every family in the default suite."""
    cases = []
    for name, family in registry().items():
        marks = _marks(name)
        for seed in range(3):
            draw_marks = () if seed == 0 else marks
            cases.append(pytest.param(family, seed, id=f"{name}-prior{seed}", marks=draw_marks))
            if seed == 0 and params_type(family)._fields == ("a", "b", "scale"):
                for hard in [(0.1, 50.0, 0.9), (0.05, 3.0, 0.5), (2.0, 0.5, 1.0)]:
                    cases.append(pytest.param(family, hard, id=f"{name}-{hard}", marks=marks))
    return cases


def _params(family, case):
    """A case's parameters: a hyperprior draw from its seed, or the hard shapes given. Drawn
    as the test runs: drawing every case at collection took 3.6 s of each test worker's start."""
    if isinstance(case, tuple):
        return params_type(family)(*case)
    with numpyro.handlers.seed(rng_seed=case):
        return family.hyperprior()


def _exact_cdf_in_logit(family, params, y_sorted):
    """CDF of y = logit q at sorted points from log_density_q, and the mass above the last."""
    log_scale_free = lambda y: (  # noqa: E731
        family.log_density_q(-jax.nn.softplus(-y), -jax.nn.softplus(y), params)
        - jax.nn.softplus(-y)
        - jax.nn.softplus(y)
    )
    density = jax.jit(lambda y: jnp.exp(log_scale_free(y)))
    scalar = lambda y: float(density(y))  # noqa: E731
    head = integrate.quad(scalar, -np.inf, y_sorted[0], epsabs=1e-12, limit=200)[0]
    tail = integrate.quad(scalar, y_sorted[-1], np.inf, epsabs=1e-12, limit=200)[0]
    # 16-point Gauss-Legendre between consecutive draws: gaps carry ~1 / n of the mass each, and
    # the integrand is analytic within ~pi of the real axis, so even gaps of 10 in y (in the
    # tails) are integrated to a small fraction of their mass.
    mid = (y_sorted[1:] + y_sorted[:-1]) / 2
    half = (y_sorted[1:] - y_sorted[:-1]) / 2
    gaps = half * (np.asarray(density(mid[:, None] + half[:, None] * _GL_NODES)) @ _GL_WEIGHTS)
    return head + np.concatenate([[0.0], np.cumsum(gaps)]), tail


@pytest.mark.parametrize(("family", "case"), _family_params())
def test_latent_and_rate_sample_the_density(family, case):
    params = _params(family, case)
    w = family.latent(params).sample(jax.random.key(1), (NUM_DRAWS,))
    if family.log_masses is not None:  # a discrete family: its draws against its masses
        y, log_mass = (np.asarray(x) for x in family.log_masses(params))
        assert np.exp(log_mass).sum() == pytest.approx(1.0, abs=1e-12)
        log_p = np.asarray(family.log_rate(w, params))
        assert np.all(np.isin(log_p, np.asarray(jax.nn.log_sigmoid(y))))
        # Dvoretzky-Kiefer-Wolfowitz: P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2), any F.
        eps = np.sqrt(np.log(2 / KS_LEVEL) / (2 * NUM_DRAWS))
        empirical = np.cumsum(np.bincount(np.asarray(w), minlength=y.size)) / NUM_DRAWS
        assert np.max(np.abs(empirical - np.cumsum(np.exp(log_mass)))) < eps
        return
    log_p = np.asarray(family.log_rate(w, params))
    log_q = log_p - float(family.log_scale(params))
    # Draws on the atom at p = 0, if the family has one, have log p = -inf.
    zero_mass = 0.0 if family.log_zero_mass is None else float(np.exp(family.log_zero_mass(params)))
    on_atom = np.isneginf(log_q)
    assert np.all(np.isfinite(log_q[~on_atom])) and np.all(log_q <= 0)
    assert zero_mass > 0 or not on_atom.any()
    # log_rate computes q near 1 as 1 minus a rounded number: 1 - q is good to ~1e-16 absolute,
    # so draws with 1 - q < 1e-12 (y = logit q > 27.6) are only counted, as lying above that cap.
    y_cap = np.log(1e12 - 1.0)
    below = ~on_atom & (log_q < np.log1p(-1e-12))
    log_q = log_q[below]
    y = np.sort(log_q - np.log(-np.expm1(log_q)))
    cdf, tail = _exact_cdf_in_logit(family, params, np.append(y, y_cap))
    # The density and the atom have total mass 1 (up to the quadratures' ~1e-8).
    assert zero_mass + cdf[-1] + tail == pytest.approx(1.0, abs=1e-6)
    cdf = zero_mass + cdf
    atom = (int(on_atom.sum()), zero_mass)
    assert _ks_pvalue(cdf[:-1], n=NUM_DRAWS, cdf_at_cap=cdf[-1], atom=atom) > KS_LEVEL


# ---------------------------------------------------------------------------------------------
# The hierarchical model


# The default family's cases by default; the others' slow (4-6 s each, the default suite near
# its 10 minutes on CI).
@pytest.mark.parametrize("marginalize", [False, True])
@pytest.mark.parametrize("family", _every_family(fast=(DEFAULT_PRIOR,)))
def test_prior_predictive_counts_are_integers_in_range(family, marginalize):
    n = jnp.array([1, 20, 1000])
    draws = Predictive(hierarchical_model, num_samples=200)(
        jax.random.key(2), family, n, marginalize=marginalize
    )
    c = np.asarray(draws["c"])
    assert c.shape == (200, 3)
    assert np.issubdtype(c.dtype, np.integer) or np.all(c == np.round(c))
    assert np.all((c >= 0) & (c <= np.asarray(n)))
    # Not degenerate: the prior puts mass on both some and no successes out of 1000.
    assert 0 < np.mean(c[:, 2] > 0) < 1


@functools.cache
def _integrated_pmf(family):
    """P(c | n = 20) for c = 0..20 from `IntegratedBinomial`, jitted once per family."""
    n, c = jnp.full(21, 20), jnp.arange(21)
    return jax.jit(lambda params: jnp.exp(IntegratedBinomial(family, params, n).log_prob(c)))


INTEGRATED_CASES = [
    pytest.param(
        module,
        params,
        id=f"{module.FAMILY.name}-{params}",
    )
    for module in (scaled_beta, kumaraswamy)
    for params in [
        (0.3, 3.0, 0.5),
        (1.5, 0.7, 1.0),
        (0.1, 50.0, 0.9),
        (0.074, 0.05, 0.79),
        (0.05, 3.0, 0.5),
    ]
]


# The families whose quadrature error was measured on every case of `_family_params`.
MEASURED_FAMILIES = {
    "beta",
    "beta-spline",
    "kumaraswamy",
    "log-gamma",
    "log-spline",
    "logit-normal",
    "power-law",
    "scaled-beta",
    "zero-inflated-beta",
}


@pytest.mark.parametrize(("family", "case"), _family_params())
def test_marginal_likelihood_sums_to_one(family, case):
    params = _params(family, case)
    # Every family, atoms included: sum over c of P(c | n) = 1 for n = 0, 1, 20, with the fine
    # rule. Its error is at most 1.4e-5 at the Kumaraswamy's two-scale shape (0.05, 3) (see
    # test_functionals; measured here 1.4e-6), and measured at most 4.5e-9 in every other case
    # of the families measured (the logit-normal's third hyperprior draw). A family added since
    # gets the rule's own bound: a correct one can reach 1.03e-7 at an extreme prior draw, while
    # a wrong normalisation or a NaN density is off by far more (0.55 and 0.94 in a review).
    two_scales = family.name == "kumaraswamy" and tuple(map(float, params)) == (0.05, 3.0, 0.5)
    tolerance = 1e-7 if family.name in MEASURED_FAMILIES and not two_scales else 5e-5
    for n in (0, 1, 20):
        assert float(_pmf_sum(family)(params, n)) == pytest.approx(1.0, abs=tolerance)


@functools.cache
def _pmf_sum(family):
    """Sum over c = 0..n of P(c | n), n <= 20, compiled once per family."""

    def total(params, n):
        c = jnp.arange(21.0)  # every n asked (at most 20) in one program: c > n left out
        terms = jnp.exp(jax.vmap(partial(log_marginal_likelihood, family, params, n))(c))
        return jnp.where(c <= n, terms, 0.0).sum()

    jitted = jax.jit(total)
    return lambda params, n: jitted(params, jnp.float64(n))


@pytest.mark.parametrize(("module", "params"), INTEGRATED_CASES)
def test_integrated_binomial_sums_to_one(module, params):
    pmf = np.asarray(_integrated_pmf(module.FAMILY)(module.Params(*params)))
    assert np.all(pmf > 0)
    # Each term carries the relative error of the sampling rule (`functionals.SAMPLING`, the
    # likelihood NUTS uses), so does the sum: measured <= 1.2e-8 on these cases, bar the
    # two-scale Kumaraswamy(0.05, 3) of test_functionals (8.7e-5; the fine rule: 1.4e-6).
    two_scales = module is kumaraswamy and params == (0.05, 3.0, 0.5)
    assert pmf.sum() == pytest.approx(1.0, abs=3e-4 if two_scales else 5e-8)


def _posterior_survival_exact(module, a, b, n, c, k):
    """E[(1 - p_i)^k | c_i] given (a, b) and scale 1, per problem."""
    if module is scaled_beta:
        # Conjugate: p_i | c_i ~ Beta(a + c_i, b + n_i - c_i).
        return np.exp(special.betaln(a + c, b + n - c + k) - special.betaln(a + c, b + n - c))
    # No closed form: the quadrature of `bayes_passk.functionals` (relative error < 1e-6, see
    # test_functionals), a check that the latent model and the integrated one agree.
    params = module.Params(a, b, 1.0)
    per_problem = jax.jit(
        jax.vmap(lambda ni, ci: log_survival_seen(module.FAMILY, params, ni, ci, k))
    )
    return np.exp(np.asarray(per_problem(jnp.asarray(n, float), jnp.asarray(c, float))))


DISCRETE = [name for name, family in registry().items() if family.log_masses is not None]


@pytest.mark.parametrize("name", DISCRETE)
def test_a_discrete_family_s_likelihood_as_a_product_is_its_sum_row_by_row(name):
    # NUTS evaluates a discrete family's likelihood as one matrix-vector product with terms the
    # data fix (`grid_rows`): the same as the log-sum-exp over the grid, row by row, for
    # padding (n = 0), no or all successes, uneven n, and a row far from every mass, where the
    # product underflows (power-law draw 1: every term of n = 1e6, c = 5e5 below 1e-308) and the
    # sum row by row is taken instead. (Measured: within 6e-11 nats.)
    family = get_family(name)
    n = jnp.array([0.0, 1.0, 7.0, 100.0, 399.0, 399.0, 1e4, 1e6])
    c = jnp.array([0.0, 1.0, 0.0, 37.0, 0.0, 399.0, 5e3, 5e5])
    rows = jax.jit(grid_rows, static_argnums=0)(family, n, c)  # eagerly: 60 programs
    assert rows.scaled.shape == (len(n), len(grid_points(family)))
    by_product = jax.jit(lambda params: IntegratedBinomial(family, params, n, rows).log_prob(c))
    by_rows = jax.jit(lambda params: IntegratedBinomial(family, params, n).log_prob(c))
    draw = jax.jit(lambda key: numpyro.handlers.seed(family.hyperprior, key)())
    lowest = jax.jit(lambda params: (rows.scaled @ jnp.exp(family.log_masses(params)[1])).min())
    underflows = []
    for seed in range(4):
        params = draw(jax.random.PRNGKey(seed))
        underflows.append(float(lowest(params)) == 0)
        np.testing.assert_allclose(by_product(params), by_rows(params), rtol=1e-9, atol=1e-12)
    assert any(underflows) == (name == "power-law")


@pytest.mark.parametrize("name", ["beta-spline", "log-spline"])
def test_unstack_draws_gives_each_field_its_own_columns_in_order(name):
    # A vector site (the splines' coefficients) as a scalar one: draw by draw, column by column.
    family = get_family(name)
    sizes = [int(np.prod(shape)) for shape in event_shapes(family)]
    stacked = np.arange(4.0 * sum(sizes)).reshape(4, -1)
    params = unstack_draws(family, stacked)
    for field, start, end in zip(
        params, np.cumsum([0, *sizes[:-1]]), np.cumsum(sizes), strict=True
    ):
        np.testing.assert_array_equal(np.reshape(field, (4, -1)), stacked[:, start:end])
    np.testing.assert_array_equal(stack_draws(params), stacked)


def test_families_with_a_density_have_no_grid_rows():
    for name, family in registry().items():
        assert (grid_rows(family, [10.0], [1.0]) is None) == (family.log_masses is None), name
    np.testing.assert_array_equal(grid_points(get_family(DEFAULT_PRIOR)), beta_spline.GRID)


def test_latent_model_refuses_weighted_rows():
    # A row of weight w stands for w problems, each with its own rate: the latent form has one.
    model = numpyro.handlers.seed(scaled_beta.model, 0)
    with pytest.raises(ValueError, match="marginalize=True"):
        model(jnp.array([10, 10]), jnp.array([2, 3]), weight=jnp.array([3.0, 1.0]))
    model(jnp.array([10, 10]), jnp.array([2, 3]), weight=jnp.array([3.0, 1.0]), marginalize=True)


@pytest.mark.parametrize(
    "module",
    [
        # Slow (15 s, most of it compiling op by op): the density NUTS samples is the test's
        # below, by default.
        pytest.param(scaled_beta, id="scaled-beta", marks=pytest.mark.slow),
        pytest.param(kumaraswamy, id="kumaraswamy", marks=pytest.mark.slow),  # 7 s, as above
    ],
)
def test_latent_nuts_matches_the_exact_posterior(module):
    # Fix the hyperparameters at a = 0.5, b = 2 and u = 1, i.e. scale = 1, through the sites
    # (a, mean, u): the scaled Beta's mean is a / (a + b), the Kumaraswamy's b B(1 + 1/a, b).
    a, b, k = 0.5, 2.0, 10
    mean = a / (a + b) if module is scaled_beta else b * special.beta(1 + 1 / a, b)
    fixed = {"a": a, "mean": mean, "u": 1.0}
    n = np.full(5, 20)
    c = np.array([0, 1, 5, 10, 20])
    model = numpyro.handlers.condition(module.model, fixed)
    mcmc = MCMC(NUTS(model), num_warmup=500, num_samples=1000, num_chains=1, progress_bar=False)
    mcmc.run(jax.random.key(3), jnp.asarray(n), jnp.asarray(c), marginalize=False)
    samples = mcmc.get_samples()
    np.testing.assert_allclose(samples["b"], b, rtol=1e-10)
    np.testing.assert_allclose(samples["scale"], 1.0, rtol=0, atol=1e-15)
    p = np.asarray(samples["p"])
    assert p.shape == (1000, 5)
    # The Monte Carlo estimate of mean_i E[(1 - p_i)^k | c_i], with its MCSE from the ESS.
    g = np.mean((1 - p) ** k, axis=1)
    exact = np.mean(_posterior_survival_exact(module, a, b, n, c, k))
    ess = float(az.ess(g[None, :]))
    mcse = np.std(g, ddof=1) / np.sqrt(ess)
    assert ess > 200
    assert abs(np.mean(g) - exact) < 4 * mcse, (np.mean(g), exact, mcse, ess)


def test_the_latent_model_s_density_is_the_prior_s_times_each_binomial():
    # The density NUTS samples with marginalize=False, at fixed hyperparameters (a = 0.5,
    # b = 2, scale 1 through the sites a, mean, u), in the latent v = F_K(q), the CDF of the
    # Kumaraswamy(a, b') with b' = 1 / (a B(a, b)): log Beta(q | a, b) - log pi_K(q)
    # + log Binomial(c | n, q) per problem, by scipy. Two sets of rates, so that the
    # hyperprior's terms cancel.
    from numpyro.infer.util import log_density

    a, b = 0.5, 2.0
    b_k = 1 / (a * special.beta(a, b))
    n, c = np.array([20, 20, 20, 20, 30]), np.array([0, 1, 5, 10, 30])
    rates = [np.array([0.01, 0.2, 0.4, 0.6, 0.97]), np.array([0.3, 0.05, 0.5, 0.9, 0.8])]

    @jax.jit
    def joint(v):
        fixed = {"a": a, "mean": a / (a + b), "u": 1.0, "w": v}
        model = numpyro.handlers.condition(scaled_beta.model, fixed)
        return log_density(model, (jnp.asarray(n),), {"c": jnp.asarray(c)}, {})[0]

    def exact(q):
        log_kumaraswamy = np.log(a * b_k) + (a - 1) * np.log(q) + (b_k - 1) * np.log1p(-(q**a))
        log_v = stats.beta.logpdf(q, a, b) - log_kumaraswamy
        return np.sum(log_v + stats.binom.logpmf(c, n, q))

    got = [float(joint(jnp.asarray(-np.expm1(b_k * np.log1p(-(q**a)))))) for q in rates]
    assert got[0] - got[1] == pytest.approx(exact(rates[0]) - exact(rates[1]), rel=1e-9)


@pytest.mark.parametrize("family", _every_family(everywhere=True))
def test_potential_and_gradient_are_finite_and_consistent(family):
    # NUTS needs a finite potential and its exact gradient wherever a chain may start (uniform in
    # [-2, 2] per unconstrained site, as in nuts.sample_chains); a NaN gradient passes every
    # other check here but makes every transition diverge. Central differences with step h err
    # by h^2 |U'''| / 6 + eps |U| / h, ~1e-8 of |U| ~ 1e3 at h = 1e-4, well under the
    # tolerance; a dropped or wrong gradient term is off by O(1).
    _check_potential_and_gradient(family, [100, 100, 100, 100], [0, 1, 10, 100], [40, 20, 60, 8])


# The power law's NaN was at ordinary starts; the splines' only far out: slow.
@pytest.mark.parametrize("family", _every_family(fast=("power-law",), discrete=True))
def test_a_discrete_family_s_gradient_is_finite_where_rows_are_summed_one_by_one(family):
    # At n = 10,000 a row's likelihood as a product with the masses underflows where they sit
    # far from its rate (the power law's are 0 on part of its grid), and that row is summed in
    # log space instead (`IntegratedBinomial.log_prob`). The product's log, computed and not
    # taken, once made every gradient NaN there: 7 of 8 power-law starts, and every transition
    # of a power-law fit at n >= 1,000 diverged.
    n, c = [10_000] * 5, [0, 1, 50, 5_000, 10_000]
    _check_potential_and_gradient(family, n, c, [20, 10, 30, 5, 2])


def _check_potential_and_gradient(family, n, c, weight):
    """The potential NUTS samples, by rows and as a product, at 3 starts in [-2, 2]: finite,
    the two alike, the gradient the central differences'."""
    from numpyro.infer.util import potential_energy

    n, c, weight = (jnp.asarray(x, dtype=float) for x in (n, c, weight))
    kwargs = {"c": c, "weight": weight, "marginalize": True}
    sites = {
        name: shape for name, (kind, shape) in hyperprior_sites(family).items() if kind == "sample"
    }
    sizes = [int(np.prod(shape)) for shape in sites.values()]
    model = partial(hierarchical_model, family)

    def potential(flat, kwargs=kwargs):
        parts = jnp.split(flat, np.cumsum(sizes)[:-1])
        z = {
            name: part.reshape(shape)
            for (name, shape), part in zip(sites.items(), parts, strict=True)
        }
        return potential_energy(model, (n,), kwargs, z)

    # What NUTS runs: a discrete family's likelihood as a product (`grid_rows`), the same.
    rows = jax.jit(grid_rows, static_argnums=0)(family, n, c)

    def both(flat):
        plain = jax.value_and_grad(potential)(flat)
        if rows is None:  # a density: NUTS runs the potential above (one program, not two)
            return plain, plain
        by_product = partial(potential, kwargs={**kwargs, "rows": rows})
        return plain, jax.value_and_grad(by_product)(flat)

    # One program for every point: 3 starts, and each start moved by +-h along each axis.
    h, size = 1e-4, sum(sizes)
    starts = np.random.default_rng(0).uniform(-2.0, 2.0, (3, 1, size))
    steps = h * np.eye(size)
    points = np.concatenate([starts, starts + steps, starts - steps], axis=1)
    (values, gradients), (values_nuts, gradients_nuts) = jax.jit(jax.vmap(both))(
        jnp.asarray(points.reshape(-1, size))
    )
    values, values_nuts = (np.asarray(x).reshape(3, -1) for x in (values, values_nuts))
    gradients, gradients_nuts = (
        np.asarray(x).reshape(3, -1, size) for x in (gradients, gradients_nuts)
    )
    for value, gradient, ahead, behind in zip(
        values[:, 0], gradients[:, 0], values[:, 1 : 1 + size], values[:, 1 + size :], strict=True
    ):
        assert np.isfinite(value)
        assert np.all(np.isfinite(gradient))
        central = (ahead - behind) / (2 * h)
        np.testing.assert_allclose(gradient, central, rtol=1e-4, atol=1e-4 * abs(value))
    np.testing.assert_allclose(values_nuts[:, 0], values[:, 0], rtol=1e-11)
    np.testing.assert_allclose(gradients_nuts[:, 0], gradients[:, 0], rtol=1e-8, atol=1e-8)


@pytest.mark.slow  # a pytest in a child process, compiling all anew: ~40 s
def test_every_gradient_is_finite_when_the_compiler_rounds_copies_apart():
    # The derivative of a max finds its argument by equality with a recomputed copy of the
    # input; a compiler may round the copy apart in the last bit (0 / 0). The power law's
    # series took its largest term so: without LLVM's optimisations 416 of 430 gradient
    # entries of the test above were NaN. Runs that test under that compiler setting.
    import os
    import subprocess
    import sys

    env = {**os.environ, "XLA_FLAGS": "--xla_backend_optimization_level=0"}
    test = f"{__file__}::test_potential_and_gradient_are_finite_and_consistent"
    command = [sys.executable, "-m", "pytest", "-q", "-n0", "-p", "no:cacheprovider", test]
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.parametrize(
    "family",
    [f for f in registry().values() if "mean" in hyperprior_sites(f)],
    ids=[name for name, f in registry().items() if "mean" in hyperprior_sites(f)],
)
def test_the_mean_site_is_the_mean_rate_the_shapes_imply(family):
    # Families parameterised by the mean rate solve for a shape (b, or the log-gamma's shape)
    # in closed form or by Newton's method; the quadrature's E[p | p > 0] must give the mean
    # back (measured within 1.2e-9, the Kumaraswamy's Newton solve; quadrature <= 3e-10).
    from bayes_passk.functionals import log_moment

    first_moment = jax.jit(lambda params: log_moment(family, params, 1.0, 0.0))  # once, 4 draws
    for seed in range(4):
        with numpyro.handlers.trace() as trace, numpyro.handlers.seed(rng_seed=seed):
            params = family.hyperprior()
        zero_mass = 0.0 if family.log_zero_mass is None else np.exp(family.log_zero_mass(params))
        mean_rate = float(jnp.exp(first_moment(params))) / (1 - zero_mass)
        assert mean_rate == pytest.approx(float(trace["mean"]["value"]), rel=1e-7)


def _draws(with_latent_density: bool = False, tail: bool = False, seeds=(0, 1, 2)):
    """(family, seed) of hyperprior draws (see `_params`): every family's in the default suite
    or slow."""
    cases = []
    for name, family in registry().items():
        if (with_latent_density and family.log_masses is not None) or (
            tail and family.tail_exponent is None
        ):
            continue
        for seed in seeds:
            cases.append(pytest.param(family, seed, id=f"{name}-prior{seed}", marks=_marks(name)))
    return cases


@pytest.mark.parametrize(("family", "seed"), _draws(with_latent_density=True))
def test_the_latent_density_integrates_to_one(family, seed):
    params = _params(family, seed)
    # The latent form's log_prob (marginalize=False) is the density NUTS sees: adaptive
    # quadrature over its support, the zero-inflated latent split at its atom's end z.
    from numpyro.distributions import constraints

    latent = family.latent(params)
    support = latent.support
    if support is constraints.positive:  # in log w: a Gamma's w^(shape - 1) spike at 0 is flat
        density = jax.jit(lambda t: jnp.exp(latent.log_prob(jnp.exp(t)) + t))
        low, high = -np.inf, np.inf
    else:
        density = jax.jit(lambda w: jnp.exp(latent.log_prob(w)))
        real = support is constraints.real
        low, high = (-np.inf, np.inf) if real else (support.lower_bound, support.upper_bound)
    scalar = lambda w: float(density(w))  # noqa: E731
    ends = [float(latent.zero)] if hasattr(latent, "zero") else None
    total = integrate.quad(scalar, low, high, points=ends, limit=500, epsabs=1e-12, epsrel=1e-10)
    # Measured within 1e-11 of 1 on every draw (quad's error estimates 3e-10 and below).
    assert total[0] == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize(("family", "seed"), _draws(tail=True, seeds=(1,)))
def test_the_tail_exponent_is_the_slope_of_the_survival_far_out(family, seed):
    params = _params(family, seed)
    # pi(p) ~ A p^(a - 1) as p -> 0 makes E[(1 - p)^k | p > 0] ~ A Gamma(a) k^(-a): the local
    # slope of its log in log k, between k = 1e12 and 1e14, is -a (measured within 1e-5).
    # The log-gamma's carries a logarithmic factor: its first-order slope, a - (alpha - 1) /
    # (log(s k) - psi(a)) at the middle k, measured within 3e-4.
    from bayes_passk.functionals import log_survival_new

    ks = np.array([1e12, 1e14])
    survival = jax.jit(log_survival_new, static_argnums=0)  # compiled, as in a forecast
    log_survival = np.array([float(survival(family, params, k)) for k in ks])
    if family.log_zero_mass is not None:  # the solvable problems' share still unsolved
        log_survival = np.log(np.exp(log_survival) - np.exp(float(family.log_zero_mass(params))))
    slope = -np.diff(log_survival)[0] / np.diff(np.log(ks))[0]
    a = float(family.tail_exponent(params))
    if family.name == "log-gamma":
        middle = np.log(float(params.scale) * np.sqrt(ks.prod()))
        a -= (float(params.shape) - 1) / (middle - special.digamma(a))
    assert slope == pytest.approx(a, abs=1e-3)


def test_the_beta_s_tail_exponent_is_its_a():
    # E[(1 - p)^k] = B(a, b + k) / B(a, b): the slope of its log in log k between 1e12 and
    # 1e14 is -a to within ~b / 1e12 (a closed form, nothing compiled; every family's by
    # quadrature in the test above, most of them slow).
    from bayes_passk.models.beta import FAMILY, Params

    for a, b in [(0.3, 2.0), (1.7, 0.4)]:
        slope = -(special.betaln(a, b + 1e14) - special.betaln(a, b + 1e12)) / np.log(100)
        assert float(FAMILY.tail_exponent(Params(a, b))) == pytest.approx(slope, abs=1e-9)


_TAIL = ("LogNormal", np.log(0.3), 1.0)  # a: the shared tail exponent's prior
_UNIT = ("Uniform", 0.0, 1.0)
_SCALED = {"a": _TAIL, "mean": _UNIT, "u": _UNIT}
# Each family's hyperprior sites as its module docstring states them.
DOCUMENTED_HYPERPRIORS = {
    "beta": {"a": _TAIL, "mean": _UNIT},
    "beta-spline": {
        "a": _TAIL,
        "base_mean": _UNIT,
        "deviation_scale": ("HalfNormal", 1.0),
        "z": ("Normal", 0.0, 1.0),
    },
    "kumaraswamy": _SCALED,
    "log-gamma": _SCALED,
    "log-spline": {
        "slope": ("Normal", 0.0, 2.0),
        "sigma": ("HalfNormal", 0.05),
        "z": ("Normal", 0.0, 1.0),
    },
    "logit-normal": {"mu": ("Normal", 0.0, 5.0), "sigma": ("HalfNormal", 5.0)},
    "power-law": {"a": _TAIL, "pass_at_100": _UNIT},
    "scaled-beta": _SCALED,
    "zero-inflated-beta": {"zero": _UNIT, **_SCALED},
}


def _law(fn) -> tuple:
    """(name, parameters) of a sample site's distribution, batch expansion removed."""
    while isinstance(
        fn, numpyro.distributions.ExpandedDistribution | numpyro.distributions.Independent
    ):
        fn = fn.base_dist
    name = type(fn).__name__
    fields = {"Uniform": ("low", "high"), "HalfNormal": ("scale",)}.get(name, ("loc", "scale"))
    values = [np.unique(np.asarray(getattr(fn, field))) for field in fields]
    assert all(value.size == 1 for value in values), (name, values)  # one law for every entry
    return (name, *(float(value[0]) for value in values))


@pytest.mark.parametrize("name", sorted(registry()))
def test_the_hyperpriors_are_the_documented_ones(name):
    # A changed prior moves every posterior on sparse data, yet no likelihood test sees it.
    family = registry()[name]
    with numpyro.handlers.trace() as trace, numpyro.handlers.seed(rng_seed=0):
        params = family.hyperprior()
    sampled = {
        site: _law(entry["fn"]) for site, entry in trace.items() if entry["type"] == "sample"
    }
    assert name in DOCUMENTED_HYPERPRIORS, (
        f"a new family: add its hyperprior sites, as its docstring states them, to "
        f"DOCUMENTED_HYPERPRIORS: {sampled}"
    )
    assert sampled.keys() == DOCUMENTED_HYPERPRIORS[name].keys()
    for site, law in DOCUMENTED_HYPERPRIORS[name].items():
        assert sampled[site][0] == law[0] and sampled[site][1:] == pytest.approx(law[1:]), site
    value = {site: float(np.asarray(entry["value"]).ravel()[0]) for site, entry in trace.items()}
    if "u" in value:  # the scale uniform between the mean and 1
        expected = value["mean"] + (1 - value["mean"]) * value["u"]
        assert float(params.scale) == pytest.approx(expected, rel=1e-12)
    if name == "power-law":  # the site is the law's pass@100
        law_at_100 = np.exp(-float(params.A) * 100.0 ** -float(params.a))
        assert law_at_100 == pytest.approx(value["pass_at_100"], rel=1e-12)


@pytest.mark.parametrize("a", np.geomspace(1e-4, 1e5, 12))
def test_log_beta_keeps_its_digits(a):
    # jax.scipy.special.betaln is off by up to 1.2e-6 near (2.8, 8.4); log_beta, and its
    # gradient digamma(a) - digamma(a + b), to 1e-11 against 40-digit mpmath.
    mp.mp.dps = 40
    b = np.geomspace(1e-4, 1e13, 40)
    exact = np.array([float(mp.log(mp.beta(a, x))) for x in b])
    slope = np.array([float(mp.digamma(a) - mp.digamma(mp.mpf(a) + x)) for x in b])
    got = np.asarray(jax.jit(log_beta)(jnp.full_like(b, a), b))
    slopes = jax.jit(jax.vmap(jax.grad(log_beta), in_axes=(None, 0)))
    got_slope = np.asarray(slopes(a, jnp.asarray(b)))
    np.testing.assert_allclose(got, exact, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(got_slope, slope, rtol=1e-11, atol=1e-11)


# ---------------------------------------------------------------------------------------------
# Registry


def test_registry_lists_the_families():
    families = registry()
    assert {"scaled-beta", "kumaraswamy"} <= set(families)
    for name, family in families.items():
        assert family.name == name
        assert get_family(name) is family
        assert get_family(family) is family


def test_unknown_family_error_lists_the_known_names():
    with pytest.raises(ValueError, match="nope") as info:
        get_family("nope")
    for name in registry():
        assert name in str(info.value)


PLUGIN = '''
"""A prior family that lives outside the package's own files."""

from bayes_passk.models import beta_spline

FAMILY = beta_spline.FAMILY._replace(name="plugin-prior", description="a prior from another folder")
'''


# By default the CLI's fit is stubbed (it compiles its own NUTS programs: 20-25 s); with -m slow
# the forecast runs.
@pytest.mark.parametrize("fitted", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_a_family_file_is_all_a_new_prior_needs(fitted, tmp_path, monkeypatch, write, capsys):
    import sys

    import bayes_passk as bp
    import bayes_passk.models as models
    from bayes_passk.backtest import all_methods
    from bayes_passk.cli import main

    class Fitting(Exception):
        """Raised in place of the fit: the family it was given is recorded."""

    given = []

    def recording_fit(data, prior, **settings):
        given.append(prior)
        raise Fitting

    (tmp_path / "plugin_prior.py").write_text(PLUGIN)
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    registry.cache_clear()
    try:
        assert registry()["plugin-prior"].description == "a prior from another folder"
        assert "bayes-plugin-prior" in all_methods()
        counts = write("counts.csv", "problem_id,n,c\nA,50,0\nB,50,3\nC,50,20\n")
        argv = ["forecast", counts, "--prior", "plugin-prior", "--k", "1", "1000", "--json"]
        argv += ["--chains", "2", "--warmup", "200", "--samples", "200"]
        if not fitted:
            monkeypatch.setattr(bp, "fit", recording_fit)
            with pytest.raises(Fitting):
                main(argv)
            assert get_family(given[0]) is registry()["plugin-prior"]
            return
        # The data and settings of the examples of `bp.fit` and `forecast`, whose default
        # prior this one copies: they and this test share their compiled NUTS programs.
        assert main(argv) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["method"] == "bayes-plugin-prior"
        assert 0 < report["mean"][0] < report["mean"][1] < 1
    finally:
        monkeypatch.undo()
        registry.cache_clear()
        sys.modules.pop("bayes_passk.models.plugin_prior", None)


def test_a_row_s_weight_counts_its_problems_in_the_potential():
    # Rows (n, c) of weight 2 and 1, a padding row of weight 0: the potential NUTS samples is
    # the one of the three problems written out, one row each.
    from numpyro.infer.util import potential_energy

    family = get_family("scaled-beta")
    z = {"a": jnp.array(0.3), "mean": jnp.array(1.2), "u": jnp.array(-0.5)}  # unconstrained
    model = partial(hierarchical_model, family)

    @jax.jit  # one program for both: compiled, not run op by op
    def potential(n, c, weight):
        return potential_energy(model, (n,), {"c": c, "weight": weight, "marginalize": True}, z)

    weighted = potential(*(jnp.array(x) for x in ([20, 50, 1.0], [3, 0, 0.0], [2, 1, 0.0])))
    written_out = potential(*(jnp.array(x) for x in ([20, 20, 50.0], [3, 3, 0.0], [1, 1, 1.0])))
    np.testing.assert_allclose(weighted, written_out, rtol=1e-12)
