import json
from functools import partial

import arviz as az
import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats
from scipy.special import betaln
from test_compare import exact_mean_pass_at_k
from test_functionals import mp_log_moment_hyp2f1

import bayes_passk as bp
from bayes_passk.cli import _plotting_grid, main
from bayes_passk.data import InputError, PassData
from bayes_passk.forecast import PER_K_FIELDS, beta_quantile, posterior_pass_at_k
from bayes_passk.hierarchy import IntegratedBinomial

# 24 problems, 60 attempts each, rates from a Beta(0.4, 6): a small, sparse benchmark.
RNG = np.random.default_rng(7)
P_TRUE = RNG.beta(0.4, 6.0, size=24)
DATA = bp.PassData.from_counts(
    [f"p{i}" for i in range(24)], n=np.full(24, 60), c=RNG.binomial(60, P_TRUE)
)
SMALL = dict(chains=2, warmup=300, samples=128, progress=False)


@pytest.fixture(scope="module")
def result():
    return bp.fit(DATA, prior="scaled-beta", seed=1, check=False, **SMALL)


@pytest.mark.slow  # two more fits and forecasts beside the module's own: 15 s
def test_a_refit_reuses_its_compiled_programs(result):
    result.forecast([10, 1000])
    compile_seconds = []

    def listener(event, duration_secs, **_):
        if event == "/jax/core/compile/backend_compile_duration":
            compile_seconds.append(duration_secs)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        bp.fit(DATA, prior="scaled-beta", seed=2, check=False, **SMALL).forecast([10, 1000])
        # Other counts, as many distinct (n, c) rows: the data are arguments of the program.
        other = PassData.from_counts(DATA.problem_id, DATA.n, np.minimum(DATA.c + 1, 60))
        bp.fit(other, prior="scaled-beta", seed=2, check=False, **SMALL).forecast([10, 1000])
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    # Compiled afresh, the NUTS program alone takes 5-10 s here. Small programs may compile
    # (with the other test worker compiling at the same time one took 1.1 s; hence the margin).
    assert max(compile_seconds, default=0.0) < 3.0


def test_chains_start_apart_and_a_seed_gives_its_own_draws(result):
    # Chains from one key would run alike, and their r_hat could not see a stuck chain.
    posterior = result.idata.posterior
    for name in ("a", "b", "scale"):
        draws = posterior[name].values
        assert not np.array_equal(draws[0], draws[1]), name
    again = bp.fit(DATA, prior="scaled-beta", seed=1, check=False, **SMALL).idata.posterior
    other = bp.fit(DATA, prior="scaled-beta", seed=2, check=False, **SMALL).idata.posterior
    for name in ("a", "b", "scale"):
        np.testing.assert_array_equal(again[name].values, posterior[name].values)
        assert not np.array_equal(other[name].values, posterior[name].values), name


def test_inference_data_groups_and_coordinates(result):
    idata = result.idata
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood"):
        assert group in idata.groups()
    assert list(idata.observed_data["problem"].values) == list(DATA.problem_id)
    assert idata.observed_data["group"].shape == (24,)
    np.testing.assert_array_equal(idata.observed_data["c"].values, DATA.c)
    assert idata.posterior["p_mean"].shape == (2, SMALL["samples"], 24)
    assert idata.log_likelihood["c"].shape == (2, SMALL["samples"], 24)
    assert idata.attrs["prior"] == "scaled-beta" and idata.attrs["group"] == ""
    for group in ("posterior", "log_likelihood", "observed_data"):  # each problem's group
        assert idata[group]["group"].dims == ("problem",), group
    # NUTS's statistics under ArviZ's names: a probability, a step count of at most
    # 2^10 - 1 (the default tree depth), the Hamiltonian.
    stats = idata.sample_stats
    accept, steps = stats["acceptance_rate"].values, stats["n_steps"].values
    assert accept.shape == steps.shape == stats["energy"].shape == (2, SMALL["samples"])
    assert np.all((accept >= 0) & (accept <= 1)) and accept.mean() > 0.5
    assert np.all((steps >= 1) & (steps <= 1023) & (steps == np.round(steps)))
    assert np.ptp(stats["energy"].values) > 0 and not np.allclose(stats["energy"], accept)


def test_p_mean_is_the_rate_s_conditional_mean_at_each_draw(result):
    """p_mean = E[p | n, c, theta] = J(c + 1, n - c) / J(c, n - c), J by hyp2f1 at 30 digits.

    The fit computes it with the sampling quadrature rule (within 2e-5 nats for a >= 0.1, so
    rtol 1e-4); returning E[q] or the prior mean instead is off by far more.
    """
    _check_p_mean(result.idata.posterior, [(0, 0), (1, 77), (0, SMALL["samples"] - 1)])


def _check_p_mean(posterior, draws):
    """Each (chain, draw)'s p_mean against J(c + 1, n - c) / J(c, n - c) (DATA's counts)."""
    for chain, draw in draws:
        a, b, s = (float(posterior[name][chain, draw]) for name in ("a", "b", "scale"))
        got = posterior["p_mean"][chain, draw].values
        for c in np.unique(DATA.c):
            m = 60 - int(c)
            exact = np.exp(
                mp_log_moment_hyp2f1(a, b, s, c + 1, m) - mp_log_moment_hyp2f1(a, b, s, c, m)
            )
            np.testing.assert_allclose(got[DATA.c == c], exact, rtol=1e-4)


def test_log_likelihood_sums_to_the_joint(result):
    # Identical (n, c) rows are fitted once with a weight; the per-problem log likelihood
    # must still be one value per problem, equal across problems with equal counts.
    ll = result.idata.log_likelihood["c"].values[0, 0]
    for c in np.unique(DATA.c):
        same = ll[DATA.c == c]
        np.testing.assert_allclose(same, same[0])
    # And it is the likelihood NUTS sampled: the model's log P(c | n, theta) at that draw.
    theta = type(result.params)(*(values[0, 0] for values in result.params))
    joint = jax.jit(lambda t: IntegratedBinomial(result.family, t, DATA.n).log_prob(DATA.c).sum())(
        theta
    )
    assert ll.sum() == pytest.approx(float(joint), rel=1e-12)


def test_forecast_shapes_order_and_table(result):
    ks = [1, 10, 60, 1000, 100_000]
    f = result.forecast(ks, ci=0.8)
    assert (np.diff(f.mean) > 0).all()
    assert (f.lower <= f.median).all() and (f.median <= f.upper).all()
    # The median and the ends: the draws' 50%, 10% and 90% quantiles at each k.
    sampled = result.idata.posterior_predictive["benchmark"].values.reshape(-1, len(ks))
    expected = np.quantile(sampled, [0.5, 0.1, 0.9], axis=0)
    np.testing.assert_allclose([f.median, f.lower, f.upper], expected, rtol=1e-12)
    assert (f.mcse > 0).all() and (f.mcse < 0.01).all()
    table = f.to_frame()
    assert list(table["k"]) == ks and set(table["target"]) == {"benchmark"}
    for name in PER_K_FIELDS:  # each column is the forecast's field of that name
        np.testing.assert_array_equal(table[name], getattr(f, name), err_msg=name)
    # The unbiased estimator exists only where k <= n = 60: the mean over problems of
    # 1 - C(n - c, k) / C(n, k), here in exact integers.
    exact = exact_mean_pass_at_k(DATA.n, DATA.c, ks[:3])
    np.testing.assert_allclose(f.unbiased[:3], exact, rtol=1e-12)
    assert np.isnan(f.unbiased[3:]).all()
    # The scaled Beta's exponent is a: the mean and the 10% and 90% quantiles of its draws.
    a = result.idata.posterior["a"].values
    assert f.exponent.mean == pytest.approx(a.mean(), rel=1e-12)
    np.testing.assert_allclose([f.exponent.lower, f.exponent.upper], np.quantile(a, [0.1, 0.9]))
    # Printed: the method, target and level, a row per k (mean, lower, upper), the exponent.
    lines = repr(f).splitlines()
    assert lines[0] == "Forecast(bayes-scaled-beta, target benchmark, 80% intervals)"
    assert lines[1].split() == ["k", "mean", "lower", "upper"]
    for line, k, *values in zip(lines[2:7], ks, f.mean, f.lower, f.upper, strict=True):
        assert line.split() == [str(k), *(f"{v:.4g}" for v in values)]
    a = f.exponent
    assert lines[7:] == [f"exponent a: {a.mean:.3g} [{a.lower:.3g}, {a.upper:.3g}]"]
    assert set(result.idata.posterior_predictive.data_vars) >= {"benchmark", "new"}
    # The local slope is taken at the largest k, asked in whatever order.
    assert result.idata.posterior_predictive.attrs["local_slope_k"] == 100_000
    result.forecast([1, 10, 1000, 100])
    assert result.idata.posterior_predictive.attrs["local_slope_k"] == 1000


def test_each_monte_carlo_error_and_json_field_is_its_own_summary_s(result):
    # Each interval end's MCSE is ArviZ's quantile MCSE at that end, of the sampled draws (the
    # two swapped passed before: 0.0087 and 0.0006 on 5 problems, each the other's); the
    # mean's, of the conditional means. The JSON carries each field as it is.
    f = result.forecast([10, 1000], ci=0.8)
    draws = result.idata.posterior_predictive
    for field, variable, prob in (
        ("mcse", "benchmark_given_hyper", None),
        ("mcse_lower", "benchmark", 0.1),
        ("mcse_upper", "benchmark", 0.9),
    ):
        how = {"method": "mean"} if prob is None else {"method": "quantile", "prob": prob}
        expected = az.mcse(draws[[variable]], **how)[variable].values
        np.testing.assert_allclose(getattr(f, field), expected, rtol=1e-12)
    assert np.abs(f.mcse_lower / f.mcse_upper - 1).min() > 0.01  # the ends told apart
    payload = json.loads(f.to_json())
    assert isinstance(payload["diagnostics"]["divergences"], int)
    for name in ("mean", "median", "lower", "upper", "mcse", "mcse_lower", "mcse_upper"):
        assert payload[name] == getattr(f, name).tolist(), name
    for name in ("exponent", "local_slope"):
        summary = getattr(f, name)
        assert payload[name] == {n: getattr(summary, n) for n in ("mean", "lower", "upper")}
    assert f.local_slope != f.exponent


def test_forecasts_take_a_fit_and_whole_k(result):
    # A PassData in place of the fit, and k of 1.5, gave an AttributeError and "pass@1.5".
    for call in (lambda: bp.forecast.forecast(DATA, [10]), lambda: posterior_pass_at_k(DATA, [10])):
        with pytest.raises(
            InputError, match="this takes a fit, bayes_passk.fit\\(data\\), got PassData"
        ):
            call()
    with pytest.raises(InputError, match="k must be a positive integer"):
        posterior_pass_at_k(result, np.array([1.0, 1.5]))
    listed = posterior_pass_at_k(result, [10, 100], max_draws=20)  # a list, as forecast takes
    assert listed["benchmark"].shape[-1] == 2


@pytest.mark.parametrize(
    ("chains", "draws", "rows", "step"),
    # 2^17 / rows caps the draws below 1,000 past 131 rows, at 250 past 524; the step is whole.
    [
        (2, 300, 131, 1),
        (2, 300, 600, 3),
        (4, 1000, 131, 4),
        (4, 1000, 132, 5),
        (4, 1000, 10**5, 16),
    ],
)
def test_many_rows_thin_the_forecast_s_draws_by_a_whole_step(chains, draws, rows, step):
    import types

    import xarray as xr

    from bayes_passk.forecast import _thinned_posterior

    posterior = xr.Dataset(
        {"a": (("chain", "draw"), np.zeros((chains, draws)))}, coords={"draw": np.arange(draws)}
    )
    fit = types.SimpleNamespace(idata=types.SimpleNamespace(posterior=posterior))
    kept = _thinned_posterior(fit, 1000, rows)
    assert kept.sizes["chain"] == chains
    np.testing.assert_array_equal(kept["draw"], np.arange(0, draws, step))  # evenly, from 0


def test_forecast_keeps_the_order_of_k_and_its_slope_at_the_largest(result):
    ordered, shuffled = result.forecast([10, 1000, 100]), result.forecast([1000, 100, 10])
    np.testing.assert_allclose(shuffled.mean, ordered.mean[[1, 2, 0]], rtol=1e-12)
    assert shuffled.local_slope == ordered.local_slope
    assert 0 < ordered.local_slope.mean < 1


def test_forecast_at_k_1_is_the_mean_rate_and_the_observed_rate_pins_it(result):
    """Benchmark pass@1 given theta is the problems' mean E[p_i | data, theta]: its posterior
    mean is the mean of p_mean over draws and problems. 24 x 60 attempts pin the rate to a
    binomial standard error of sqrt(p (1 - p) / 1440) ~ 0.006: the 80% interval lies within
    4 of them of the observed rate and is no wider than 4 of them.
    """
    f = result.forecast([1], ci=0.8)
    p_mean = result.idata.posterior["p_mean"].values
    assert f.mean[0] == pytest.approx(p_mean.mean(), rel=1e-8)
    observed = DATA.c.sum() / DATA.n.sum()
    se = np.sqrt(observed * (1 - observed) / DATA.n.sum())
    assert f.lower[0] < observed < f.upper[0]
    assert observed - 4 * se < f.lower[0] and f.upper[0] < observed + 4 * se
    assert f.upper[0] - f.lower[0] < 4 * se


def test_new_target_differs_from_benchmark(result):
    benchmark = result.forecast([1, 10_000], target="benchmark")
    new = result.forecast([1, 10_000], target="new")
    assert new.target == "new" and np.isnan(new.unbiased).all()
    # A fresh problem's pass@1 is E[p | theta], the `mean` hyperparameter: exactly its mean.
    mean_rate = float(result.idata.posterior["mean"].mean())
    assert new.mean[0] == pytest.approx(mean_rate, rel=1e-9)
    # The data pin the seen problems' pass@1 (+-0.01); a fresh problem's is as uncertain as
    # theta (measured: interval 3.7 times as wide).
    assert new.upper[0] - new.lower[0] > 2 * (benchmark.upper[0] - benchmark.lower[0])


def test_bad_forecast_arguments(result):
    with pytest.raises(ValueError, match="unknown target"):
        result.forecast([1], target="old")
    with pytest.raises(ValueError, match="ci"):
        result.forecast([1], ci=1.5)
    with pytest.raises(ValueError, match="positive"):
        result.forecast([0, 10])


def test_rao_blackwellised_forecast_matches_the_conjugate_closed_form(result):
    # With every draw at the same (a, b, s = 1), the benchmark forecast is the closed form
    # 1 - mean_i B(a + c_i, b + n_i - c_i + k) / B(a + c_i, b + n_i - c_i), up to quadrature
    # error (~1e-8 relative), for every k.
    a, b = 0.4, 6.0
    fixed = bp.Fit(result.idata.copy())
    posterior = fixed.idata.posterior
    posterior["a"][:] = a
    posterior["b"][:] = b
    posterior["scale"][:] = 1.0
    ks = np.array([1, 10, 1000, 10**6, 10**9])
    f = fixed.forecast(ks, max_draws=20)
    n, c = DATA.n[:, None], DATA.c[:, None]
    survival = np.exp(betaln(a + c, b + n - c + ks) - betaln(a + c, b + n - c)).mean(axis=0)
    np.testing.assert_allclose(f.mean, 1 - survival, rtol=1e-7)
    new = fixed.forecast(ks, max_draws=20, target="new")
    np.testing.assert_allclose(new.mean, 1 - np.exp(betaln(a, b + ks) - betaln(a, b)), rtol=1e-7)

    # The local slope: -d log(-log pass@k) / d log k at k = 1e9 by the same finite difference
    # (step 0.01 in log k). Quadrature error ~1e-8 relative in 1 - pass@k is ~1e-6 in the slope.
    def slope(survival):
        k = np.array([1e9, 1e9 * np.exp(0.01)])
        return -np.diff(np.log(-np.log1p(-survival(k))))[0] / 0.01

    def benchmark(k):
        return np.exp(betaln(a + c, b + n - c + k) - betaln(a + c, b + n - c)).mean(axis=0)

    assert f.local_slope.mean == pytest.approx(slope(benchmark), abs=1e-5)
    fresh = slope(lambda k: np.exp(betaln(a, b + k) - betaln(a, b)))
    assert new.local_slope.mean == pytest.approx(fresh, abs=1e-5)
    assert fresh == pytest.approx(a, abs=1e-3)  # it tends to the exponent a as k grows


def test_unsolved_part_matches_the_conjugate_closed_form(result):
    # With every draw at (a, b, s = 1), the part of pass@k from the problems with c = 0 is
    # (1 / P) sum_{c_i = 0} (1 - B(a, b + n_i + k) / B(a, b + n_i)); the rest tends to the
    # share solved as k grows, each solved problem's pass@k to 1. The unsolved problems are
    # given three different n (the forecast reads the counts from observed_data).
    from bayes_passk.forecast import unsolved_part

    a, b = 0.4, 6.0
    fixed = bp.Fit(result.idata.copy())
    for name, value in (("a", a), ("b", b), ("scale", 1.0)):
        fixed.idata.posterior[name][:] = value
    n = DATA.n + 20 * (np.arange(24) % 3)
    fixed.idata.observed_data["n"][:] = n
    ks = np.array([1, 100, 10**4, 10**9])
    part = unsolved_part(fixed, ks, max_draws=20)
    never = DATA.c == 0
    assert 0 < never.sum() < len(never) and len(np.unique(n[never])) == 3
    closed = 1 - np.exp(betaln(a, b + n[never, None] + ks) - betaln(a, b + n[never, None]))
    np.testing.assert_allclose(part, closed.sum(axis=0) / len(never), rtol=1e-7)
    solved_part = fixed.forecast(ks, max_draws=20).mean - part
    assert solved_part[-1] == pytest.approx(np.mean(~never), abs=1e-9)


def test_unsolved_parts_of_many_datasets_match_the_closed_form():
    # Each dataset its own draws of Beta(a, b) (scaled Beta at s = 1); problems with n = 0 are
    # padding, and the unsolved problems of a dataset may have several n.
    from bayes_passk.families import get_family
    from bayes_passk.forecast import unsolved_parts

    # The fourth dataset's unsolved problems have the first's n (10 and 20, one each) among
    # more problems: the two go through one computation, with their own draws and shares.
    n = np.array([[10, 20, 20, 0, 0], [30, 10, 30, 30, 7], [5, 5, 0, 0, 0], [20, 10, 40, 40, 9]])
    c = np.array([[0, 0, 3, 0, 0], [0, 0, 0, 5, 2], [1, 4, 0, 0, 0], [0, 0, 1, 2, 9]])
    draws = np.array(
        [
            [[0.3, 2.0, 1.0], [0.5, 6.0, 1.0]],
            [[0.2, 1.0, 1.0], [0.8, 3.0, 1.0]],
            [[1.0, 1.0, 1.0]] * 2,
            [[0.6, 4.0, 1.0], [0.25, 9.0, 1.0]],
        ]
    )
    ks = np.array([1, 100, 10**5])
    parts = unsolved_parts(get_family("scaled-beta"), draws, n, c, ks)
    for i in range(4):
        a, b = draws[i, :, 0, None, None], draws[i, :, 1, None, None]  # (draws, problem, k)
        never = (n[i] > 0) & (c[i] == 0)
        m = n[i][never, None]
        closed = 1 - np.exp(betaln(a, b + m + ks) - betaln(a, b + m))
        expected = closed.sum(axis=1).mean(axis=0) / (n[i] > 0).sum()
        np.testing.assert_allclose(parts[i], expected, rtol=1e-7, atol=1e-300)
    assert np.all(parts[2] == 0) and np.all(parts[[0, 1, 3]] > 0)  # none unsolved in the third


def test_unsolved_part_is_zero_without_unsolved_problems_and_all_of_it_with_only_those(result):
    from bayes_passk.forecast import unsolved_part

    idata = result.idata.copy()
    idata.observed_data["c"][:] = np.maximum(DATA.c, 1)
    np.testing.assert_array_equal(unsolved_part(bp.Fit(idata), [1, 10**6]), [0.0, 0.0])
    # Every problem unsolved: the part is the whole forecast, draw for draw.
    idata.observed_data["c"][:] = 0
    ks = [1, 100, 10**6]
    everything = bp.Fit(idata)
    np.testing.assert_allclose(unsolved_part(everything, ks), everything.forecast(ks).mean, 1e-12)


@pytest.mark.parametrize(
    ("a", "c", "n", "k"),
    [
        (0.4, 2, 10**9, 1),
        (0.4, 0, 10**9, 1000),
        (0.4, 0, 10**12, 1),
        (0.01, 0, 10**9, 5 * 10**4),
        (0.01, 0, 10**9, 5 * 10**6),  # k E[p] = 5e-5 but x = 5e-3: computed directly
        (0.4, 3, 1000, 10),
        (0.4, 2, 10**9, 10**6),
    ],
)
def test_a_problems_variance_keeps_its_digits_when_k_p_is_tiny(a, c, n, k):
    # Var[(1-p)^k | c, n] under a Beta(a, b) prior against the conjugate closed form in 60
    # digits. s2 - s1^2 gave 7e-15 for the 2.4e-18 of the first case (all rounding), which
    # collapsed the interval of a tiny pass@k to the hyperparameters' spread. Where
    # x = k E[p^2] / E[p] = k (a + c + 1) / (a + b + n) < 1e-4 the variance is linearised, with
    # an error of about x (measured 1.0 to 2.0 x, so 3 x allowed); elsewhere it is computed
    # directly (<= 6e-9 measured, 2e-8 allowed).
    import jax.numpy as jnp
    import mpmath

    from bayes_passk.forecast import survival_moments
    from bayes_passk.models.beta import FAMILY, Params

    b, m = 6.0, n - c
    params = Params(a=jnp.full(1, a), b=jnp.full(1, b))
    rows = (jnp.array([x], dtype=float) for x in (n, c, 1))
    variance = float(survival_moments(FAMILY, params, *rows, jnp.array([float(k)]))[1][0, 0])
    with mpmath.workdps(60):
        ratio = [mpmath.beta(a + c, b + m + j * k) / mpmath.beta(a + c, b + m) for j in (1, 2)]
        exact = float(ratio[1] - ratio[0] ** 2)
    x = k * (a + c + 1) / (a + b + n)
    assert variance == pytest.approx(exact, rel=3 * x if x < 1e-4 else 2e-8, abs=0)


def test_benchmark_variance_counts_every_problem_of_a_row():
    # Distinct (n, c) rows carry the number of problems that share them (weight). Under a Beta
    # prior the benchmark survival's within-draw variance is sum_i Var[(1-p_i)^k | n_i, c_i] /
    # N^2 with conjugate Beta posteriors, summed here over every problem in 50 digits; and its
    # mean the average of their E[(1-p_i)^k]. Rows of weights 5, 2, 3 against 10 problems.
    import jax.numpy as jnp
    import mpmath

    from bayes_passk.forecast import survival_moments
    from bayes_passk.models.beta import FAMILY, Params

    a, b = 0.3, 4.0
    rows = [(100, 0, 5), (100, 3, 2), (40, 12, 3)]
    ks = [1.0, 30.0, 1000.0]
    n, c, weight = (jnp.array([float(row[j]) for row in rows]) for j in range(3))
    params = Params(a=jnp.full(1, a), b=jnp.full(1, b))
    log_mean, variance, _ = survival_moments(FAMILY, params, n, c, weight, jnp.array(ks))
    problems = [(row_n, row_c) for row_n, row_c, count in rows for _ in range(count)]
    with mpmath.workdps(50):
        for j, k in enumerate(ks):
            moments = [
                [
                    mpmath.beta(a + pc, b + pn - pc + power * k) / mpmath.beta(a + pc, b + pn - pc)
                    for power in (1, 2)
                ]
                for pn, pc in problems
            ]
            mean = sum(s1 for s1, _ in moments) / len(problems)
            exact = sum(s2 - s1**2 for s1, s2 in moments) / len(problems) ** 2
            assert float(jnp.exp(log_mean[0, j])) == pytest.approx(float(mean), rel=1e-9)
            # Relative error of the quadrature moments (<= 3e-10) times s2 / Var <= ~1e2 here.
            assert float(variance[0, j]) == pytest.approx(float(exact), rel=1e-7)


def test_local_slope_from_log_survival_survives_underflow():
    from bayes_passk.forecast import SLOPE_STEP, slope_at_largest_k

    # S(k) = exp(-k / 100) at k = 1e6: S underflows to 0, yet -log pass@k = -log1p(-S) ~ S, so
    # log(-log pass@k) = -k / 100 to 1e-4300, and the finite difference is exact.
    k = 1e6 * np.exp([0.0, SLOPE_STEP])
    expected = (k[1] - k[0]) / 100 / SLOPE_STEP
    assert slope_at_largest_k(-k / 100) == pytest.approx(expected, rel=1e-12)
    # pass@k = 1e-18 (S rounds to 1): pass@k = -expm1(log S) = -log S to 1e-18 relative.
    log_survival = -1e-18 * np.exp([0.0, 0.5 * SLOPE_STEP])
    exact = -np.diff(np.log(-np.log(-log_survival)))[0] / SLOPE_STEP
    assert slope_at_largest_k(log_survival) == pytest.approx(exact, rel=1e-12)  # was NaN
    # Where S does not underflow, the direct formula.
    survival = np.array([0.3, 0.29])
    direct = -np.diff(np.log(-np.log1p(-survival)))[0] / SLOPE_STEP
    assert slope_at_largest_k(np.log(survival)) == pytest.approx(direct, rel=1e-12)


def test_a_forecast_with_a_nan_draw_is_nan_at_that_k_throughout(result, monkeypatch):
    # A NaN draw spreads to every summary of its k (the interval ends and median included),
    # rather than being quietly left out of some of them.
    from bayes_passk import forecast as forecast_module

    real = forecast_module.posterior_pass_at_k

    def with_a_nan(*args, **kwargs):
        draws = real(*args, **kwargs)
        for name in ("benchmark", "benchmark_given_hyper"):
            draws[name].values[0, 3, 1] = np.nan  # chain 0, draw 3, k = 1000
        return draws

    monkeypatch.setattr(forecast_module, "posterior_pass_at_k", with_a_nan)
    forecast = bp.Fit(result.idata.copy()).forecast([10, 1000])
    fields = ["mean", "median", "lower", "upper", "mcse", "mcse_lower", "mcse_upper"]
    for field in fields:
        values = np.asarray(getattr(forecast, field))
        assert np.isfinite(values[0]) and np.isnan(values[1]), field


def test_a_summary_with_a_nan_draw_is_nan_throughout(caplog):
    import xarray as xr

    from bayes_passk.forecast import summarize

    values = np.random.default_rng(0).normal(size=(2, 50))
    values[1, 7] = np.nan
    summary = summarize(xr.DataArray(values, dims=("chain", "draw")), ci=0.9)
    assert all(np.isnan(x) for x in summary)  # the mean skipped the NaN before
    assert not caplog.records  # ArviZ logged "Array contains NaN-value"


def test_within_draw_spread_matches_simulation(result):
    # Given fixed hyperparameters the benchmark pass@k is random only through the p_i, whose
    # posteriors are Beta(a + c_i, b + n_i - c_i). Its 10% and 90% quantiles, from 20,000
    # simulations (Monte Carlo error ~6e-4), must match the forecast's: a moment-matched Beta
    # (its quantiles off by 0.0013 and 0.0015 on these data, measured against 1e6 simulations)
    # drawn once per posterior draw (Monte Carlo error ``mcse_lower``, ``mcse_upper``, ~4e-3).
    # Sharper, the variance of those draws is the simulations' (the Beta's is matched): their
    # ratio within 4 of its standard errors, sqrt((2 + excess kurtosis) / draws) for each.
    a, b, k = 0.4, 6.0, 100
    fixed = bp.Fit(result.idata.copy())
    for name, value in (("a", a), ("b", b), ("scale", 1.0)):
        fixed.idata.posterior[name][:] = value
    f = fixed.forecast([k], ci=0.8)
    rng = np.random.default_rng(0)
    p = rng.beta(a + DATA.c, b + DATA.n - DATA.c, size=(20_000, 24))
    simulated = (1 - (1 - p) ** k).mean(axis=1)
    lower, upper = np.quantile(simulated, [0.1, 0.9])
    assert abs(f.lower[0] - lower) < 0.003 + 4 * f.mcse_lower[0]
    assert abs(f.upper[0] - upper) < 0.003 + 4 * f.mcse_upper[0]
    assert abs(f.mean[0] - simulated.mean()) < 4 * simulated.std() / np.sqrt(20_000)
    # Four seeds' within-draw Beta draws (4 x 256): one run's 256 let a variance 0.75 times
    # the right one pass.
    draws = np.concatenate(
        [
            posterior_pass_at_k(fixed, np.array([k]), seed=seed)["benchmark"].values.ravel()
            for seed in range(4)
        ]
    )
    spread = 2 + stats.kurtosis(simulated)
    tolerance = 4 * np.sqrt(spread / draws.size + spread / simulated.size)
    assert abs(draws.var(ddof=1) / simulated.var(ddof=1) - 1) < tolerance


# Slow (29 s in the default suite, which nears its 10 minutes on CI).
@pytest.mark.slow
def test_interval_ends_rise_with_k(result):
    # Each posterior draw's pass@k rises with k; the within-draw Beta draws share one uniform
    # across k, so the quantiles over draws do too (independent draws per k broke this 19 times
    # on this grid, 100 times on a 300-point grid for the Pythia MATH subsamples, by up to 0.03).
    ks = np.unique(np.round(np.logspace(0, 9, 60))).astype(np.int64)
    f = result.forecast(ks, ci=0.9)
    for values in (f.mean, f.lower, f.median, f.upper):
        assert np.all(np.diff(values) >= 0)


@pytest.mark.parametrize(
    "a, b",
    [(0.3, 5.0), (5.0, 0.3), (1.0, 1e12), (1000.0, 1e12), (1e12, 1000.0), (2e4, 3e4), (2e4, 1e11)],
)
def test_beta_quantile_has_the_betas_mean_and_sd_in_every_regime(a, b):
    # Over a midpoint grid of N levels the quantile function's mean and sd are the Beta's closed
    # forms up to the grid's own error, which at N = 2e5 is below 1e-4 sd (measured <= 3e-5).
    levels = (np.arange(200_000) + 0.5) / 200_000
    x = beta_quantile(levels, a, b)
    mean, sd = a / (a + b), np.sqrt(a * b / (a + b + 1)) / (a + b)
    assert np.all(np.diff(x) >= 0)
    assert abs(x.mean() - mean) < 1e-4 * sd
    assert abs(x.std() / sd - 1) < 1e-4


@pytest.mark.parametrize("shape", [3.0, 1e12])
def test_beta_quantile_matches_the_closed_forms_with_a_unit_shape(shape):
    levels = np.array([0.001, 0.3, 0.5, 0.9, 0.999])
    # Beta(1, b): 1 - (1 - u)^(1/b); Beta(a, 1): u^(1/a).
    np.testing.assert_allclose(
        beta_quantile(levels, 1.0, shape), -np.expm1(np.log1p(-levels) / shape), rtol=1e-9
    )
    np.testing.assert_allclose(
        beta_quantile(levels, shape, 1.0), np.exp(np.log(levels) / shape), rtol=1e-15
    )


def test_netcdf_round_trip(result, tmp_path):
    path = tmp_path / "fit.nc"
    result.save(path)
    loaded = bp.load_fit(path)
    assert loaded.family.name == "scaled-beta"
    np.testing.assert_array_equal(loaded.data.c, DATA.c)
    assert list(loaded.data.problem_id) == list(DATA.problem_id)
    np.testing.assert_array_equal(
        loaded.idata.posterior["a"].values, result.idata.posterior["a"].values
    )
    assert loaded.diagnostics() == result.diagnostics()
    np.testing.assert_allclose(loaded.forecast([100]).mean, result.forecast([100]).mean)
    assert not list(tmp_path.glob("*.partial"))


def test_saving_and_loading_fits_name_the_path_in_their_errors(result, tmp_path):
    with pytest.raises(InputError, match=r"cannot save the fit to .*x.nc: no folder .*missing"):
        result.save(tmp_path / "missing" / "x.nc")
    assert not (tmp_path / "missing").exists()
    with pytest.raises(InputError, match=r"file not found: .*absent.nc"):
        bp.load_fit(tmp_path / "absent.nc")
    counts = tmp_path / "counts.csv"
    counts.write_text("problem_id,n,c\na,10,1\n")
    with pytest.raises(InputError, match=r"counts.csv is not a fit saved by Fit.save \(netCDF\)"):
        bp.load_fit(counts)
    other = tmp_path / "other.nc"
    az.from_dict(posterior={"x": np.zeros((1, 5))}).to_netcdf(other)
    with pytest.raises(InputError, match="lacks observed_data, sample_stats"):
        bp.load_fit(other)


def test_a_saved_fit_loads_only_under_its_own_prior_and_with_its_draws(result, tmp_path):
    from bayes_passk.families import get_family

    path = tmp_path / "fit.nc"
    result.save(path)
    # The Kumaraswamy has the scaled Beta's fields: its density would read these draws silently.
    with pytest.raises(InputError, match=r"fit.nc was fitted under the prior 'scaled-beta', not"):
        bp.load_fit(path, family=get_family("kumaraswamy"))
    assert bp.load_fit(path, family=get_family("scaled-beta")).family.name == "scaled-beta"
    assert bp.load_fit(path, family="scaled-beta").family.name == "scaled-beta"  # or its name
    # A save that fails leaves nothing behind: here the path is a folder.
    (tmp_path / "folder.nc").mkdir()
    with pytest.raises(InputError, match=r"cannot save the fit to .*folder.nc"):
        result.save(tmp_path / "folder.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc", "folder.nc"]

    def tampered(name, change):
        idata = result.idata.copy()
        change(idata)
        idata.to_netcdf(tmp_path / name)
        return tmp_path / name

    # A site NUTS sampled but not a field of the family's parameters (scale from u).
    no_u = tampered("no_u.nc", lambda idata: idata.posterior.__delitem__("u"))
    with pytest.raises(InputError, match=r"no_u.nc lacks posterior draws of u, which the prior"):
        bp.load_fit(no_u)
    renamed = tampered("renamed.nc", lambda idata: idata.attrs.update(prior="logit-normal"))
    with pytest.raises(InputError, match=r"renamed.nc lacks posterior draws of .*'logit-normal'"):
        bp.load_fit(renamed)
    unknown = tampered("unknown.nc", lambda idata: idata.attrs.update(prior="my-variant"))
    with pytest.raises(InputError, match=r"unknown prior 'my-variant'.*family=that_family"):
        bp.load_fit(unknown)

    def too_many_successes(idata):
        idata.observed_data["c"].values[0] = idata.observed_data["n"].values[0] + 1

    with pytest.raises(InputError, match=r"bad.nc, row 1, column 'c': .* successes exceed"):
        bp.load_fit(tampered("bad.nc", too_many_successes))


def test_diagnostics_are_the_worst_site_s_by_arviz_and_every_chain_s_divergences(result, capsys):
    from bayes_passk.families import hyperprior_sites

    idata = result.idata.copy()
    diverging = idata.sample_stats["diverging"].values
    diverging[:] = False
    diverging[-1, 5] = diverging[-1, 9] = True  # in the last chain only
    diagnostics = bp.Fit(idata).diagnostics()
    sites = list(hyperprior_sites(result.family))
    posterior = idata.posterior[sites]
    per_site = {
        "r_hat": az.rhat(posterior),
        "bulk": az.ess(posterior, method="bulk"),
        "tail": az.ess(posterior, method="tail"),
    }
    worst = {
        kind: [float(values[site].values) for site in sites] for kind, values in per_site.items()
    }
    assert diagnostics.r_hat_max == max(worst["r_hat"])
    assert diagnostics.ess_bulk_min == min(worst["bulk"])
    assert diagnostics.ess_tail_min == min(worst["tail"])
    assert worst["tail"] != worst["bulk"] and len(set(worst["r_hat"])) > 1  # the checks bite
    assert diagnostics.divergences == 2
    # Its forecast carries them, failed; the command line prints the verdict.
    from bayes_passk.cli import _print_forecast

    forecast = bp.Fit(idata).forecast([10, 1000])
    assert forecast.diagnostics == {**diagnostics._asdict(), "ok": False}
    passed = {**forecast.diagnostics, "divergences": 0, "ok": True}
    for checks, verdict in ((forecast.diagnostics, "FAILED (see warning)"), (passed, "ok")):
        _print_forecast("counts.csv", DATA, forecast._replace(diagnostics=checks), None, None)
        last = capsys.readouterr().out.splitlines()[-1]
        assert last.startswith("diagnostics: r_hat_max ") and last.endswith(f": {verdict}")


def test_unknown_prior_and_ambiguous_groups():
    with pytest.raises(ValueError, match="known priors"):
        bp.fit(DATA, prior="gaussian")
    two = bp.PassData.from_counts(["a", "a"], n=[5, 5], c=[1, 2], group=["x", "y"])
    with pytest.raises(bp.InputError, match="choose one"):
        bp.fit(two)


@pytest.mark.slow
def test_kumaraswamy_fit_and_forecast():
    result = bp.fit(DATA, prior="kumaraswamy", seed=0, check=False, **SMALL)
    f = result.forecast([1, 1000])
    assert f.method == "bayes-kumaraswamy"
    assert result.diagnostics().r_hat_max < 1.05
    # pass@1 of the benchmark is the average rate; 24 x 60 attempts pin it to about +-0.01.
    assert f.lower[0] < DATA.c.sum() / DATA.n.sum() < f.upper[0]
    # Every problem solved at least once at k = 1000 is solved for sure there; the others
    # add to that floor.
    assert (DATA.c > 0).mean() < f.lower[1]


# DATA with at most 7 successes: 6 distinct rows, padded to 8 as those of the doctests' fit,
# whose sampler settings the CLI tests take too: the compiled NUTS programs serve both.
CLI_DATA = PassData.from_counts(DATA.problem_id, DATA.n, np.minimum(DATA.c, 7))
CLI_SAMPLER = ["--chains", "2", "--warmup", "200", "--samples", "200"]


def test_cli_forecast_json_schema_and_outputs(tmp_path, capsys, monkeypatch):
    from bayes_passk import plots

    plotted = []  # the keyword arguments forecast.png was drawn with
    draw = plots.plot_forecast

    def recorded(*args, **kwargs):
        plotted.append(kwargs)
        return draw(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_forecast", recorded)
    counts = tmp_path / "counts.csv"
    CLI_DATA.to_frame().drop(columns="group").to_csv(counts, index=False)
    out = tmp_path / "out"
    # k out of order: each figure stays with the k it was asked for.
    argv = ["forecast", str(counts), "--k", "1000", "1", *CLI_SAMPLER]
    argv += ["--json", "--out", str(out), "--ci", "0.8"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)  # exactly one JSON object on stdout
    # Stages on stderr, and in a log (no terminal here) the sampling's progress by tenths.
    said = captured.err.splitlines()
    assert said[0].startswith("bayes-passk: fitting bayes-beta-spline to 24 problems, 2 chains")
    progress = [line.split(" (")[0] for line in said if line.startswith("NUTS")]
    assert progress == [f"NUTS: {p}%" for p in range(10, 101, 10)]
    grid = len(_plotting_grid(np.array([1, 1000]), [CLI_DATA.n.min()]))
    forecasting = f"bayes-passk: forecasting pass@k at 2 values of k, {grid} on the plot's grid"
    [done] = [i for i, line in enumerate(said) if line.startswith("NUTS: 100% (800/800 ")]
    assert said.index(forecasting) > done
    assert set(payload) >= {
        "method",
        "target",
        "ci",
        "k",
        "mean",
        "median",
        "lower",
        "upper",
        "mcse",
        "mcse_lower",
        "mcse_upper",
        "exponent",
        "diagnostics",
    }
    assert payload["method"] == "bayes-beta-spline" and payload["target"] == "benchmark"
    assert payload["ci"] == 0.8 and payload["k"] == [1000, 1]
    for name in ("mean", "median", "lower", "upper", "mcse", "mcse_lower", "mcse_upper"):
        assert len(payload[name]) == 2 and all(isinstance(v, float) for v in payload[name])
    assert set(payload["exponent"]) == {"mean", "lower", "upper"}
    assert set(payload["diagnostics"]) >= {"r_hat_max", "ess_bulk_min", "divergences", "ok"}
    assert isinstance(payload["diagnostics"]["ok"], bool)
    assert sorted(p.name for p in out.iterdir()) == [
        "forecast.csv",
        "forecast.json",
        "forecast.png",
        "posterior.nc",
    ]
    assert json.loads((out / "forecast.json").read_text()) == payload  # --out keeps it all
    # Each part at most its problems' share: every problem's pass@k is at most 1.
    part, mean = np.array(payload["unsolved_part"]), np.array(payload["mean"])
    assert np.all((0 < part) & (part < mean)) and part[0] <= np.mean(CLI_DATA.c == 0)
    assert mean[0] > mean[1] and part[0] > part[1]  # pass@1000 above pass@1, each part too
    assert np.all(mean - part <= np.mean(CLI_DATA.c > 0))
    np.testing.assert_array_equal(pd.read_csv(out / "forecast.csv")["unsolved_part"], part)
    [solved] = plotted[0]["solved"].values()  # dotted: the mean less the unsolved part
    assert solved.size == grid and np.all(np.diff(solved) >= 0) and solved[-1] < payload["mean"][0]
    assert bp.load_fit(out / "posterior.nc").data.num_problems == 24
    # Without --out the same numbers: forecast on the plot's grid all the same (an interval
    # end at one k moves with the smaller k beside it; 0.01 on 3 problems).
    forecast_ks = []
    forecast = bp.Fit.forecast
    monkeypatch.setattr(
        bp.Fit,
        "forecast",
        lambda self, ks, **kw: forecast_ks.append(ks) or forecast(self, ks, **kw),
    )
    assert main(argv[: argv.index("--out")] + argv[argv.index("--out") + 2 :]) == 0
    assert json.loads(capsys.readouterr().out) == payload
    [ks] = forecast_ks
    np.testing.assert_array_equal(ks, _plotting_grid(np.array([1, 1000]), [CLI_DATA.n.min()]))


@pytest.mark.slow  # two fits, one per group, as the single-group CLI test's: 30 s
def test_cli_forecast_of_every_group_writes_a_posterior_each(tmp_path, capsys):
    # Same shapes and sampler settings as the test above: the compiled program is shared.
    frame = CLI_DATA.to_frame().drop(columns="group")
    counts = tmp_path / "groups.csv"
    pd.concat([frame.assign(model="m/1"), frame.assign(model="m 2")]).to_csv(counts, index=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "posterior.nc").write_text("an earlier single-group run")
    argv = ["forecast", str(counts), "--all-groups", "--k", "1", "1000", *CLI_SAMPLER]
    argv += ["--json", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert [entry["group"] for entry in payload["groups"]] == ["m/1", "m 2"]
    assert all(entry["k"] == [1, 1000] for entry in payload["groups"])
    assert "(m/1, 1 of 2)" in captured.err and "(m 2, 2 of 2)" in captured.err
    assert sorted(p.name for p in out.iterdir()) == [
        "forecast.csv",
        "forecast.json",
        "forecast.png",
        "posterior-1-m_1.nc",
        "posterior-2-m_2.nc",
    ]
    for name, group in (("posterior-1-m_1.nc", "m/1"), ("posterior-2-m_2.nc", "m 2")):
        assert bp.load_fit(out / name).data.groups == [group]
    table = pd.read_csv(out / "forecast.csv")
    assert table["group"].tolist() == ["m/1", "m/1", "m 2", "m 2"]
    assert table["mean"].tolist() == [m for e in payload["groups"] for m in e["mean"]]


@pytest.mark.parametrize(
    ("content", "extra", "fragment"),
    [
        ("problem_id,n,c\na,10,11\n", [], "11 successes exceed the 10 attempts"),
        ("problem_id,n,c\na,10,1\n", ["--ci", "1.5"], "expected a number in (0, 1)"),
        ("problem_id,n,c\na,10,1\n", ["--prior", "gauss"], "invalid choice"),
        ("problem_id,n,c\na,10,1\n", ["--attempts", "5"], "--attempts applies"),
        ("problem_id,n,c\na,10,1\n", ["--samples", "1e12"], "--chains x (--warmup + --samples)"),
    ],
)
def test_cli_forecast_bad_input_exits_2_and_writes_nothing(
    content, extra, fragment, tmp_path, capsys
):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = tmp_path / "out"
    assert main(["forecast", str(path), "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bayes-passk: error:") and fragment in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (
            {
                "data": PassData(
                    np.array(["a", "b"]), np.array([3, 5]), np.array([4, 1]), np.array(["", ""])
                )
            },
            "4 successes exceed the 3 attempts",
        ),
        ({"data": PassData.from_counts([], [], [])}, "no problems to fit"),
        ({"data": {"n": [3], "c": [1]}}, "must be a PassData"),
        ({"chains": 0}, "chains must be a positive integer"),
        ({"warmup": 10.5}, "warmup must be a positive integer"),
        ({"samples": 3}, "samples must be at least 4"),
        ({"samples": 10**12}, r"x \(\d+ \+ 1000000000000\) NUTS iterations is more than 10,0"),
        ({"seed": "a"}, "seed must be an integer"),
        ({"seed": 2**63}, "seed must be an integer from -2"),
        ({"target_accept": 2.0}, "target_accept must lie strictly between 0 and 1"),
        ({"progress": "no"}, "progress must be True, False or None, got 'no'"),  # it showed one
        ({"check": 0}, "check must be True or False, got 0"),
    ],
)
def test_fit_refuses_bad_data_and_settings_before_sampling(change, fragment):
    arguments = {"data": DATA, **change}
    with pytest.raises(InputError, match=fragment):
        bp.fit(arguments.pop("data"), **arguments)


def test_forecast_refuses_fractional_k_and_keeps_its_draws_as_a_group(result):
    with pytest.raises(InputError, match="positive integer"):
        result.forecast([2.5])
    result.forecast([10, 100])
    assert "posterior_predictive" in result.idata.groups()
    result.forecast([10, 1000])  # a later forecast replaces the group
    assert list(result.idata.posterior_predictive["k"].values) == [10, 1000]


@pytest.mark.slow  # compiles the sampler twice: 30 s
def test_chains_run_alike_vectorised_or_one_after_another():
    from functools import partial

    import jax.numpy as jnp

    from bayes_passk.families import get_family
    from bayes_passk.nuts import sample_chains

    keys = jax.random.split(jax.random.key(3), 2)
    n, c, weight = jnp.array([40.0, 40.0, 40.0]), jnp.array([0.0, 2.0, 9.0]), jnp.ones(3)
    runs = {
        vectorize: jax.jit(
            partial(
                sample_chains,
                family=get_family("beta"),
                warmup=40,
                target_accept=0.9,
                samples=60,
                vectorize=vectorize,
            )
        )(keys, n=n, c=c, weight=weight)
        for vectorize in (True, False)
    }
    for name in runs[True].z:
        np.testing.assert_allclose(runs[True].z[name], runs[False].z[name], rtol=1e-8)
    np.testing.assert_array_equal(runs[True].num_steps, runs[False].num_steps)


# Slow (15-20 s, three programs compiled for it alone): every fit runs in segments, and
# tests/test_batched.py checks the batched finish on given segments by default.
@pytest.mark.slow
def test_a_run_in_segments_is_the_run_in_one_program():
    # bp.fit samples in segments (nuts.start_chains, then nuts.advance_chains again and again):
    # the state carried between calls, warm-up adaptation included, gives the same chains.
    import jax.numpy as jnp

    from bayes_passk.families import get_family
    from bayes_passk.nuts import advance_chains, sample_chains, start_chains

    family = get_family("beta-spline")
    keys = jax.random.split(jax.random.key(3), 2)
    n, c, weight = jnp.array([40.0, 40.0, 40.0]), jnp.array([0.0, 2.0, 9.0]), jnp.ones(3)
    settings = {"family": family, "warmup": 30, "target_accept": 0.9}
    # Compiled, as bp.fit runs them (run eagerly, the test took twice as long).
    whole = jax.jit(partial(sample_chains, samples=30, **settings))(keys, n=n, c=c, weight=weight)
    states = jax.jit(partial(start_chains, **settings))(keys, n=n, c=c, weight=weight)
    advance = jax.jit(partial(advance_chains, iterations=15, **settings))
    pieces = []
    for _ in range(4):  # 60 iterations: 30 of warm-up, 30 kept
        states, trace = advance(states, n=n, c=c, weight=weight)
        pieces.append(trace)
    parts = jax.tree.map(lambda *x: np.concatenate(x, axis=1)[:, 30:], *pieces)
    for name in whole.z:
        np.testing.assert_allclose(parts.z[name], whole.z[name], rtol=1e-8)
    np.testing.assert_array_equal(parts.num_steps, whole.num_steps)
    assert len(np.unique(np.asarray(whole.z["a"]))) > 10  # the chains moved


def test_a_short_run_counts_its_progress_and_warns_naming_the_failing_diagnostic(monkeypatch):
    # One short fit (one set of compiled programs) for both: the progress bar and the warning.
    import tqdm

    bars = []

    class Recording(tqdm.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, disable=True, **kwargs)
            bars.append(self)
            self.counted = 0

        def update(self, n=1):
            self.counted += n

    from bayes_passk import inference

    monkeypatch.setattr(tqdm, "tqdm", Recording)
    monkeypatch.setattr(inference, "_interactive", lambda: True)
    with pytest.warns(bp.ConvergenceWarning, match=r"ess_bulk_min.*[Rr]un longer") as caught:
        short = bp.fit(DATA, prior="scaled-beta", chains=2, warmup=20, samples=30, progress=True)
    assert caught[0].filename == __file__  # the warning points at the line that called fit
    # 60 draws, padded to 256 for the per-problem summaries: each draw keeps its own.
    _check_p_mean(short.idata.posterior, [(0, 0), (1, 29)])
    [bar] = bars
    assert bar.total == bar.counted == 2 * (20 + 30)
    from bayes_passk.inference import _ProgressBar

    assert _ProgressBar.active is None


def test_a_fit_whose_every_kept_transition_diverged_says_so(monkeypatch):
    # The divergences are counted over the kept draws (2 x 30 here, not the 100 iterations):
    # all of them diverging points at the family's functions, not at target_accept. The
    # fit's settings are the test above's: its compiled program serves.
    from bayes_passk.inference import Diagnostics, Fit

    every = Diagnostics(r_hat_max=1.0, ess_bulk_min=1000.0, ess_tail_min=1000.0, divergences=60)
    monkeypatch.setattr(Fit, "diagnostics", lambda self: every)
    with pytest.warns(bp.ConvergenceWarning, match="Every transition diverged"):
        bp.fit(DATA, prior="scaled-beta", chains=2, warmup=20, samples=30, progress=False)


def test_progress_in_a_log_is_a_line_at_each_tenth_of_the_run(monkeypatch, capsys):
    # Where nobody watches a terminal (a log file, a pipe), progress=True writes plain lines.
    from bayes_passk import inference

    monkeypatch.setattr(inference, "_interactive", lambda: False)
    bp.fit(DATA, prior="scaled-beta", chains=2, warmup=20, samples=30, progress=True, check=False)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"NUTS: {p}%" for p in range(10, 101, 10)]
    assert lines[-1].startswith("NUTS: 100% (100/100 iterations, ")
    assert inference._ProgressBar.active is None


def test_progress_lines_end_at_100_percent_when_the_total_is_uneven(monkeypatch, capsys):
    # The sampler reports every 1% (here every 2 of 207 iterations): the last one goes unsaid.
    from bayes_passk import inference

    monkeypatch.setattr(inference, "_interactive", lambda: False)
    with inference._ProgressBar(207, enabled=True):
        for _ in range(103):
            inference._ProgressBar.report(2)
    lines = capsys.readouterr().err.splitlines()
    assert lines[-2].startswith("NUTS: 90% (")
    assert lines[-1].startswith("NUTS: 100% (207/207 iterations, ")
    # A run stopped early does not claim to have finished.
    with pytest.raises(KeyboardInterrupt), inference._ProgressBar(207, enabled=True):
        inference._ProgressBar.report(30)
        raise KeyboardInterrupt
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("NUTS: 10% (30/207 iterations, ")


@pytest.mark.slow  # compiles the sampler for a family of its own: 15 s
def test_a_family_with_a_nan_gradient_is_named_as_the_cause():
    # Every transition diverges when the gradient is NaN; longer runs would not help.
    import jax.numpy as jnp

    from bayes_passk.models import beta

    def log_density_q(log_q, log1m_q, params):
        nan_slope = jnp.where(True, 0.0, jnp.sqrt(params.a - 10.0))  # value 0, gradient NaN
        return beta.FAMILY.log_density_q(log_q, log1m_q, params) + nan_slope

    broken = beta.FAMILY._replace(name="nan-gradient-beta", log_density_q=log_density_q)
    with pytest.warns(bp.ConvergenceWarning, match="Every transition diverged"):
        result = bp.fit(DATA, prior=broken, chains=1, warmup=10, samples=10)
    assert result.family is broken  # kept as given, not looked up by its (unregistered) name


@pytest.mark.parametrize(
    ("r_hat", "divergences", "target_accept", "advice"),
    [
        (1.0, 2, 0.9, r"2 divergent transitions\. Raise target_accept \(to 0\.95; it was 0\.9\)"),
        (1.0, 1, 0.95, r"Raise target_accept \(to 0\.975; it was 0\.95\)"),
        (1.0, 1, 0.9999, r"Raise target_accept \(to 0\.99995; it was 0\.9999\)"),
        (1.0, 0, 0.9, r"ess_bulk_min = 100 < 400\. Run longer \(warmup/samples\), or treat"),
        (1.3, 0, 0.9, r"r_hat_max = 1\.3000 > 1\.01; .* Run longer .* if r_hat stays high"),
        (1.0, 4000, 0.9, r"4000 divergent .* Every transition diverged: .* prior family's func"),
    ],
)
def test_convergence_advice_follows_the_failure(r_hat, divergences, target_accept, advice):
    from bayes_passk.inference import Diagnostics, _warn_if_unconverged

    ess = 100.0 if divergences == 0 else 1000.0
    diagnostics = Diagnostics(
        r_hat_max=r_hat, ess_bulk_min=ess, ess_tail_min=1000.0, divergences=divergences
    )
    with pytest.warns(bp.ConvergenceWarning, match=advice) as caught:
        _warn_if_unconverged(diagnostics, "beta", 4000, target_accept)
    assert ("target_accept" in str(caught[0].message)) == (0 < divergences < 4000)


def test_each_diagnostic_fails_just_past_its_documented_threshold():
    # README: r_hat above 1.01, bulk or tail ESS below 400, any divergence.
    from bayes_passk.inference import Diagnostics

    good = Diagnostics(r_hat_max=1.01, ess_bulk_min=400.0, ess_tail_min=400.0, divergences=0)
    assert good.ok and good.problems == []
    for field, value, said in [
        ("r_hat_max", 1.0101, "r_hat_max = 1.0101 > 1.01"),
        ("ess_bulk_min", 399.9, "ess_bulk_min = 399 < 400"),
        ("ess_tail_min", 399.9, "ess_tail_min = 399 < 400"),
        ("divergences", 1, "1 divergent transitions"),
        (
            "r_hat_max",
            np.nan,
            "r_hat is undefined (it needs 2 or more chains of non-constant draws)",
        ),
        ("ess_tail_min", np.nan, "ess_tail_min = nan < 400"),
        ("ess_bulk_min", np.nan, "ess_bulk_min = nan < 400"),
    ]:
        failing = good._replace(**{field: value})
        assert failing.problems == [said] and not failing.ok, (field, value)


@pytest.mark.parametrize(
    ("prior", "given", "used"),
    [
        ("scaled-beta", None, 0.9),
        ("beta-spline", None, 0.99),
        ("log-spline", None, 0.99),
        ("beta-spline", 0.8, 0.8),
    ],
)
def test_target_accept_defaults_to_the_family_s(prior, given, used, monkeypatch):
    from bayes_passk import inference

    seen = []

    class Stop(Exception):
        pass

    def sampler(family, chains, warmup, samples, accept, progress):
        seen.append(accept)
        raise Stop  # only the argument is checked

    monkeypatch.setattr(inference, "_sampler", sampler)
    with pytest.raises(Stop):
        bp.fit(DATA, prior=prior, target_accept=given)
    assert seen == [used]


class _Stop(Exception):
    pass


def _stop_at_the_sampler(monkeypatch, seen):
    """Make bp.fit stop where it would build its sampler, recording (chains, warmup, samples)."""
    from bayes_passk import inference

    def sampler(family, chains, warmup, samples, accept, progress):
        seen.append((chains, warmup, samples))
        raise _Stop

    monkeypatch.setattr(inference, "_sampler", sampler)


def test_fit_takes_four_samples_and_warns_before_sampling_what_counts_cannot_say(monkeypatch):
    seen = []
    _stop_at_the_sampler(monkeypatch, seen)
    with pytest.raises(_Stop):  # "at least 4" includes 4
        bp.fit(DATA, prior="beta", chains=1, warmup=1, samples=4)
    assert seen == [(1, 1, 4)]
    one = bp.PassData.from_counts(["a"], n=[100], c=[3])
    with pytest.warns(UserWarning, match=r"one problem: how rates vary .* \(beta\)"):
        with pytest.raises(_Stop):
            bp.fit(one, prior="beta")
    unsolved = bp.PassData.from_counts(["a", "b"], n=[100, 50], c=[0, 0])
    with pytest.warns(UserWarning, match=r"no attempt succeeded in 150"):
        with pytest.raises(_Stop):
            bp.fit(unsolved, prior="beta")


def test_diagnostics_cover_every_element_of_a_vector_site():
    # The beta-spline's z has a coefficient per knot: one coefficient whose chains disagree
    # (5 sd apart) sets r_hat_max, one that random-walks the smallest ESS, as ArviZ has them.
    from bayes_passk.families import get_family, hyperprior_sites

    rng = np.random.default_rng(0)
    chains, draws = 2, 200
    sites = hyperprior_sites(get_family("beta-spline"))
    posterior = {
        name: rng.normal(size=(chains, draws, *shape)) for name, (_, shape) in sites.items()
    }
    posterior["z"][1, :, 17] += 5.0
    posterior["z"][:, :, 3] = np.cumsum(rng.normal(size=(chains, draws)), axis=1)
    idata = az.from_dict(
        posterior=posterior,
        sample_stats={"diverging": np.zeros((chains, draws), bool)},
        attrs={"prior": "beta-spline"},
    )
    diagnostics = bp.Fit(idata).diagnostics()
    z = idata.posterior[["z"]]
    assert diagnostics.r_hat_max == float(az.rhat(z)["z"].values.max()) > 1.5
    assert diagnostics.ess_bulk_min == float(az.ess(z, method="bulk")["z"].values.min())
    assert diagnostics.ess_tail_min <= float(az.ess(z, method="tail")["z"].values.min())


def test_a_fit_under_an_unregistered_family_loads_with_that_family(result, tmp_path):
    from bayes_passk.models import scaled_beta

    variant = scaled_beta.FAMILY._replace(name="my-variant")
    idata = result.idata.copy()
    idata.attrs["prior"] = "my-variant"
    bp.Fit(idata, variant).save(tmp_path / "variant.nc")
    loaded = bp.load_fit(tmp_path / "variant.nc", family=variant)
    assert loaded.family is variant
    np.testing.assert_array_equal(loaded.idata.posterior["a"], result.idata.posterior["a"])


def test_warm_up_adapts_the_step_size_to_the_target_and_the_mass_matrix_to_the_posterior():
    # The chains as bp.fit runs them (start, then a segment), target 0.99. Dual averaging
    # tunes the step size so that the acceptance statistic averages the target (measured:
    # 0.986 and 0.989; NumPyro's default target, 0.8, gave 0.85-0.88). The diagonal mass
    # matrix is the variance of the unconstrained draws in the last adaptation window, so it
    # lies near the kept draws' variance (measured within a factor 1.7; unadapted, it stays
    # 1, five to ten times the variance here). Two small programs: ~9 s.
    import jax.numpy as jnp

    from bayes_passk.families import get_family
    from bayes_passk.nuts import advance_chains, start_chains

    settings = {"family": get_family("beta"), "warmup": 200, "target_accept": 0.99}
    keys = jax.random.split(jax.random.key(3), 2)
    rows = {  # 20 problems of 100 attempts, as weighted rows
        "n": jnp.full(5, 100.0),
        "c": jnp.array([0.0, 2.0, 9.0, 30.0, 70.0]),
        "weight": jnp.array([8.0, 4.0, 4.0, 2.0, 2.0]),
    }
    states = jax.jit(partial(start_chains, **settings))(keys, **rows)
    advance = jax.jit(partial(advance_chains, iterations=600, **settings))
    states, trace = advance(states, **rows)
    accepted = np.asarray(trace.accept_prob)[:, 200:].mean(axis=1)
    assert np.all(accepted > 0.95)
    # NumPyro ravels the sites in sorted order.
    kept = np.stack([np.asarray(trace.z[name])[:, 200:] for name in sorted(trace.z)], axis=1)
    ratio = np.asarray(states.adapt_state.inverse_mass_matrix) / kept.var(axis=2)
    assert np.all((ratio > 1 / 3) & (ratio < 3))


# Slow (15-19 s; the default suite near its 10 minutes on CI): by default the marginal
# likelihood is checked against sums and quadrature (tests/test_models.py), and fits against
# each other (tests/test_batched.py).
@pytest.mark.slow
def test_posterior_of_the_beta_prior_matches_quadrature_on_a_grid():
    # The Beta family's posterior in (log a, mean) has two dimensions: its moments by the
    # trapezoid rule on a fine grid, with the beta-binomial likelihood from scipy, are the
    # oracle. NUTS's posterior means must match within 4 Monte Carlo standard errors.
    from scipy import stats

    rng = np.random.default_rng(11)
    n = np.full(30, 20)
    c = rng.binomial(n, rng.beta(0.6, 3.0, size=30))
    data = PassData.from_counts([f"q{i}" for i in range(30)], n=n, c=c)
    log_a = np.linspace(np.log(0.3) - 6, np.log(0.3) + 6, 801)
    mean = np.linspace(0, 1, 801)[1:-1]
    A, M = np.exp(log_a)[:, None], mean[None, :]
    log_post = stats.norm.logpdf(log_a, np.log(0.3), 1.0)[:, None]  # a ~ LogNormal, in log a
    for n_i, c_i in zip(n, c, strict=True):
        log_post = log_post + stats.betabinom.logpmf(c_i, n_i, A, A * (1 / M - 1))
    weight = np.exp(log_post - log_post.max())
    mass = np.trapezoid(np.trapezoid(weight, mean, axis=1), log_a)
    oracle = {
        "a": np.trapezoid(np.trapezoid(weight * A, mean, axis=1), log_a) / mass,
        "mean": np.trapezoid(np.trapezoid(weight * M, mean, axis=1), log_a) / mass,
    }
    assert weight[[0, -1], :].max() < 1e-12 and weight[:, [0, -1]].max() < 1e-12  # grid wide

    fit = bp.fit(data, prior="beta", chains=2, warmup=500, samples=1000, progress=False)
    mcse = az.mcse(fit.idata, var_names=list(oracle), method="mean")
    for name, expected in oracle.items():
        estimate = float(fit.idata.posterior[name].mean())
        assert abs(estimate - expected) < 4 * float(mcse[name]), (name, estimate, expected)


def test_progress_shows_by_default_in_a_terminal_or_a_notebook(monkeypatch):
    import sys
    import types

    from bayes_passk import inference

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not inference._interactive()
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert inference._interactive()


def test_a_summary_is_the_mean_quantiles_and_mcse_of_its_draws():
    from bayes_passk.forecast import summarize

    values = np.random.default_rng(3).gamma(2.0, size=(2, 500))
    draws = xr.DataArray(values, dims=("chain", "draw"))
    summary = summarize(draws, 0.8)
    median, lower, upper = np.quantile(values, [0.5, 0.1, 0.9])
    assert summary.mean == pytest.approx(values.mean(), rel=1e-12)
    assert (summary.median, summary.lower, summary.upper) == pytest.approx((median, lower, upper))
    mcse = float(az.mcse(az.convert_to_dataset(values), method="mean")["x"])
    assert summary.mcse == pytest.approx(mcse, rel=1e-12)


def test_beta_draws_rise_with_k_where_the_betas_are_not_ordered():
    # From k = 1 to k = 10 the mean rises (0.50 to 0.51) while the sd grows from 0.001 to 0.1:
    # the second Beta's 5% quantile (about 0.35) lies below the first's, so a shared uniform
    # alone would lower the draw; the running maximum keeps every curve rising, whatever the
    # order the ks come in, and leaves the smallest k's draws (the first Beta's) as they are.
    from bayes_passk.forecast import _beta_draws

    mean = np.broadcast_to([0.51, 0.5, 0.6], (20_000, 3))
    variance = np.broadcast_to([0.01, 1e-6, 0.01], (20_000, 3))
    ks = np.array([10, 1, 100])
    draws = _beta_draws(np.random.default_rng(0), mean, variance, ks)
    in_order = draws[:, np.argsort(ks)]
    assert np.all(np.diff(in_order, axis=1) >= 0)
    assert np.quantile(draws[:, 0], 0.05) >= np.quantile(draws[:, 1], 0.05)
    # One uniform per curve: at two k with the same Beta, a draw is the same quantile twice.
    same = _beta_draws(
        np.random.default_rng(1),
        np.full((1000, 2), 0.3),
        np.full((1000, 2), 0.01),
        np.array([1, 10]),
    )
    np.testing.assert_array_equal(same[:, 0], same[:, 1])
    first = draws[:, 1]  # Beta(mean 0.5, sd 0.001): a = b = 124999.5
    assert abs(first.mean() - 0.5) < 4 * 0.001 / np.sqrt(first.size)
    assert abs(first.std() - 0.001) < 4 * 0.001 / np.sqrt(2 * first.size)


def test_beta_draws_follow_each_k_s_beta_and_share_one_level_across_k():
    # Moment-matched Betas (sd 0.15) whose quantiles already rise with k: each k's 20,000 draws
    # follow its own Beta (KS; their variance within 4 standard errors, 4%: a concentration off
    # by one is 8% off), and a posterior draw's values at every k sit at one level (the same
    # rank at every k; a uniform of its own per k would move a draw's rank, and the running
    # maximum its marginals).
    from bayes_passk.forecast import _beta_draws

    mean, variance = np.array([0.3, 0.5, 0.7]), np.full(3, 0.15**2)
    draws = _beta_draws(
        np.random.default_rng(1),
        np.broadcast_to(mean, (20_000, 3)),
        np.broadcast_to(variance, (20_000, 3)),
        np.array([1, 10, 100]),
    )
    concentration = mean * (1 - mean) / variance - 1
    for j in range(3):
        beta = stats.beta(mean[j] * concentration[j], (1 - mean[j]) * concentration[j])
        assert stats.kstest(draws[:, j], beta.cdf).pvalue > 1e-3
        standard_error = variance[j] * np.sqrt((2 + beta.stats(moments="k")) / draws.shape[0])
        assert abs(draws[:, j].var() - variance[j]) < 4 * standard_error
    ranks = np.argsort(np.argsort(draws, axis=0), axis=0)
    assert (ranks == ranks[:, :1]).all()


def test_a_hyperparameter_computed_outside_a_site_is_named_before_sampling():
    # The fit keeps the sites' draws only: this failed with KeyError: 'scale' after sampling.
    import numpyro
    import numpyro.distributions as dist

    from bayes_passk.batched import fit_batch
    from bayes_passk.models import scaled_beta

    def hyperprior():
        a = numpyro.sample("a", dist.LogNormal(-1.0, 1.0))
        b = numpyro.sample("b", dist.LogNormal(1.0, 1.0))
        return scaled_beta.Params(a, b, 0.5 + 0.5 * numpyro.sample("u", dist.Uniform(0, 1)))

    variant = scaled_beta.FAMILY._replace(name="unsited", hyperprior=hyperprior)
    message = "prior 'unsited': its hyperprior returns scale without a site"
    with pytest.raises(InputError, match=message):
        bp.fit(DATA, prior=variant, chains=1, warmup=10, samples=10)
    with pytest.raises(InputError, match=message):
        fit_batch(0, DATA.n[None], DATA.c[None], [10], prior=variant)
