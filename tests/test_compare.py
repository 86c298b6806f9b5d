"""Model comparison (PSIS-LOO), predictive checks and group differences: `bayes_passk.compare`."""

import functools
import json
import math
from types import SimpleNamespace

import arviz as az
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import optimize, stats

import bayes_passk as bp
from bayes_passk import cli, compare, datasets
from bayes_passk.baselines import fit_baseline
from bayes_passk.cli import main
from bayes_passk.compare import compare_groups, compare_priors, predictive_check, verdict
from bayes_passk.data import InputError
from bayes_passk.estimators import mean_pass_at_k
from bayes_passk.forecast import posterior_pass_at_k, unsolved_part
from bayes_passk.plots import plot_differences

SHORT = {"chains": 2, "warmup": 300, "samples": 128, "progress": False, "check": False}


@functools.cache
def _data(kind):
    rng = np.random.default_rng(0)
    # Both fit in 16 distinct (n, c) rows, so that they share one compiled NUTS program.
    if kind == "easy":  # rates ~ Beta(2, 2): most attempts succeed often; 10 attempts each
        p, attempts = rng.beta(2.0, 2.0, 40), 10
    else:  # rates ~ 0.3 Beta(0.3, 3): most problems are hard; 50 attempts each
        p, attempts = 0.3 * rng.beta(0.3, 3.0, 40), 50
    c = rng.binomial(attempts, p)
    return bp.PassData.from_counts([f"q{i}" for i in range(40)], n=[attempts] * 40, c=c)


@functools.cache
def _fit(kind, prior, seed=0):
    return bp.fit(_data(kind), prior=prior, seed=seed, **SHORT)


@pytest.mark.slow  # fits two priors, each compiling its sampler: 50 s
def test_compare_priors_ranks_every_prior_and_says_so(write, tmp_path, capsys, monkeypatch):
    fits = {prior: _fit("hard", prior) for prior in ("scaled-beta", "logit-normal")}
    comparison = compare_priors(fits)
    table = comparison.table
    assert sorted(table.index) == sorted(fits)
    # Each fit's own PSIS-LOO, best first; the differences to the best and the problems with
    # Pareto k above 0.7, counted from the pointwise values.
    loo = {prior: az.loo(fit.idata, pointwise=True) for prior, fit in fits.items()}
    assert list(table.index) == sorted(loo, key=lambda prior: -loo[prior].elpd_loo)
    for prior in fits:
        assert table.loc[prior, "elpd_loo"] == pytest.approx(loo[prior].elpd_loo, rel=1e-12)
        assert table.loc[prior, "se"] == pytest.approx(loo[prior].se, rel=1e-12)
        assert table.loc[prior, "elpd_diff"] == pytest.approx(
            loo[table.index[0]].elpd_loo - loo[prior].elpd_loo, rel=1e-12, abs=1e-12
        )
        threshold = compare.pareto_k_threshold(fits[prior].idata)  # 0.66 at 2 x 300 draws
        assert table.loc[prior, "bad_pareto_k"] == int((loo[prior].pareto_k > threshold).sum())
    # The standard error of each difference is the paired one: sqrt(N var(d_i)) over the
    # problems' pointwise differences d_i to the best (an unpaired one is far larger here).
    best, other = table.index
    d = loo[best].loo_i.values - loo[other].loo_i.values
    assert table.loc[other, "dse"] == pytest.approx(np.sqrt(len(d) * d.var()), rel=1e-9)
    # elpd_loo is a sum over the 40 problems of log predictive densities: below the in-sample
    # log likelihood at the posterior mean of each problem's pointwise values.
    for prior, fit in fits.items():
        in_sample = float(fit.idata.log_likelihood["c"].mean(("chain", "draw")).sum())
        assert table.loc[prior, "elpd_loo"] < in_sample
    assert comparison.verdict.startswith(f"LOO prefers {table.index[0]}")

    # The command line on the same data, with these fits (NUTS is tested elsewhere): the
    # verdict, and the LOO table, predictive checks, forecasts and plot as files.
    data = _data("hard")
    rows = [f"{p},{n},{c}" for p, n, c in zip(data.problem_id, data.n, data.c, strict=True)]
    path = write("hard.csv", "problem_id,n,c\n" + "\n".join(rows) + "\n")
    monkeypatch.setattr(cli, "_fit_with_warnings", lambda data, prior, *_, **__: fits[prior])
    out = tmp_path / "priors"
    out.mkdir()  # holding a group comparison from an earlier run, which must go
    (out / "comparison.csv").write_text("an earlier run")
    (out / "difference.png").write_text("an earlier run")
    # The k given out of order: the table's columns and values both follow k upwards.
    argv = ["compare", path, "--priors", *fits, "--k", "50", "1", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert comparison.verdict in printed
    expected = fits["scaled-beta"].forecast([1, 50])
    table_lines = printed.split("\nforecasts (")[1].splitlines()
    header = next(line for line in table_lines if line.startswith("prior "))
    assert header.split()[1:] == ["k=1", "k=50"]
    row = next(line for line in table_lines if line.startswith("scaled-beta "))
    assert row.split()[1:3] == [f"{expected.mean[0]:.3f}", f"[{expected.lower[0]:.3f},"]
    files = ["forecast.csv", "forecast.png", "loo.csv", "predictive_check.csv"]
    assert sorted(p.name for p in out.iterdir()) == files
    loo = pd.read_csv(out / "loo.csv").set_index(table.index.name or "index")
    np.testing.assert_allclose(loo.loc[table.index, "elpd_loo"], table["elpd_loo"], rtol=1e-12)
    checks = pd.read_csv(out / "predictive_check.csv")
    assert set(checks["prior"]) == set(fits) and checks.columns[0] == "prior"  # as in loo.csv
    forecast = pd.read_csv(out / "forecast.csv")
    assert forecast["k"].tolist() == [1, 50, 1, 50]
    np.testing.assert_allclose(forecast["mean"][:2], expected.mean, rtol=1e-12)
    # Where the priors part: the share of each mean from the problems never solved.
    assert (data.c == 0).any()
    parts = np.concatenate([unsolved_part(fits[prior], [1, 50]) for prior in fits])
    np.testing.assert_allclose(forecast["unsolved_part"], parts, rtol=1e-12)
    assert f"the {(data.c == 0).sum()} problems never solved so far" in printed

    # --json carries the same forecasts, parts included, beside the LOO table and checks.
    assert main(["compare", path, "--priors", *fits, "--k", "50", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verdict"] == comparison.verdict
    assert [row["k"] for row in report["forecast"]] == [1, 50, 1, 50]
    np.testing.assert_allclose([row["mean"] for row in report["forecast"]], forecast["mean"])
    np.testing.assert_allclose([row["unsolved_part"] for row in report["forecast"]], parts)
    assert [row["method"] for row in report["forecast"]] == forecast["method"].tolist()
    # --seed seeds the forecasts' intervals as in `forecast`: on the plot's grid, --out or not.
    assert (
        main(["compare", path, "--priors", *fits, "--k", "50", "1", "--json", "--seed", "3"]) == 0
    )
    report = json.loads(capsys.readouterr().out)
    grid = cli._plotting_grid(np.array([1, 50]), [data.n.min()])
    for prior in fits:
        seeded = fits[prior].forecast(grid, seed=3).at([1, 50])
        rows = [row for row in report["forecast"] if row["method"] == f"bayes-{prior}"]
        np.testing.assert_allclose([row["lower"] for row in rows], seeded.lower, rtol=1e-12)
        np.testing.assert_allclose([row["upper"] for row in rows], seeded.upper, rtol=1e-12)


@pytest.mark.slow  # 15 s compiling the logit-normal fit (the default suite nears 10 minutes)
def test_a_prior_without_a_power_law_reports_no_exponent():
    forecast = _fit("hard", "logit-normal").forecast([10, 1000])
    assert np.isnan(forecast.exponent.mean)
    assert '"exponent": {"mean": null' in forecast.to_json()
    assert np.all(np.diff(forecast.mean) > 0)


def test_verdict_separates_clear_from_close_calls():
    def table(diff, dse, bad=0):
        return pd.DataFrame(
            {
                "elpd_loo": [-100.0, -100.0 - diff],
                "se": [5.0, 5.0],
                "elpd_diff": [0.0, diff],
                "dse": [0.0, dse],
                "p_loo": [2.0, 2.0],
                "weight": [1.0, 0.0],
                "bad_pareto_k": [0, bad],
            },
            index=["x", "y"],
        )

    assert "clear preference" in verdict(table(10.0, 2.0))
    assert "too close to call" in verdict(table(3.0, 0.5))  # small, however precise
    assert "too close to call" in verdict(table(10.0, 6.0))  # under two standard errors
    assert "clear preference" in verdict(table(4.0, 1.0))  # at least 4 ...
    assert "clear preference" in verdict(table(6.0, 3.0))  # ... and at least two standard errors
    assert "(Pareto k too large): y (3)" in verdict(table(10.0, 2.0, bad=3))
    assert "(Pareto k too large): y (1)" in verdict(table(10.0, 2.0, bad=1))  # one is enough
    assert "Pareto" not in verdict(table(10.0, 2.0, bad=0))


def test_printed_stacking_weights_have_three_decimals(capsys):
    weights = [1 - 1e-12, 1e-12]  # a pass@k this near 1 would print 0.999999999999
    loo = pd.DataFrame({"prior": ["x", "y"], "elpd_loo": [-10.0, -30.0], "weight": weights})
    checks = pd.DataFrame(
        {"prior": ["x"], "k": [1], "observed": [0.5], "mean": [0.5], "lower": [0.4]}
        | {"upper": [0.6], "p_value": [0.9]}
    )
    args = SimpleNamespace(target="benchmark", ci=0.9, k=[10])
    report = {"loo": loo, "verdict": "x is first", "checks": checks}
    cli._print_comparison(args, report, {}, np.array([True]))
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split() == ["x", "-10", "1"] and printed[2].split() == ["y", "-30", "0"]
    # Each prior's smallest p-value is the one shown.
    report["checks"] = pd.concat([checks, checks.assign(k=10, p_value=0.01)], ignore_index=True)
    cli._print_comparison(args, report, {}, np.array([True]))
    assert capsys.readouterr().out.splitlines()[-1].split() == [
        "x", "10", "0.5", "0.5", "0.4", "0.6", "0.01"
    ]  # fmt: skip


def test_printed_group_comparison_names_its_level_and_columns(capsys):
    comparison = pd.DataFrame(
        {"a": ["m1"], "b": ["m2"], "k": [100], "mean_a": [0.7], "mean_b": [0.5]}
        | {"difference": [0.2], "lower": [0.1], "upper": [0.3], "prob_a_greater": [0.99]}
        | {"prob_a_greater_mcse": [0.004]}
    )
    args = SimpleNamespace(target="benchmark", prior="beta", ci=0.5)
    cli._print_comparison(args, {"comparison": comparison}, {}, np.array([True]))
    title, header, row = capsys.readouterr().out.splitlines()
    assert title == "benchmark pass@k, prior beta, 50% intervals"
    assert header.split() == [
        "A", "B", "k", "mean", "A", "mean", "B", "A", "-", "B", "lower", "upper", "P(A", ">",
        "B)", "its", "MC", "error",
    ]  # fmt: skip
    assert row.split() == ["m1", "m2", "100", "0.7", "0.5", "0.2", "0.1", "0.3", "0.99", "0.004"]


def test_printed_prior_comparison_shows_each_priors_unsolved_part(capsys):
    loo = pd.DataFrame({"prior": ["x", "y"], "elpd_loo": [-10.0, -11.0], "weight": [0.6, 0.4]})
    checks = pd.DataFrame(
        {"prior": ["x"], "k": [1], "observed": [0.5], "mean": [0.5], "lower": [0.4]}
        | {"upper": [0.6], "p_value": [0.9]}
    )
    args = SimpleNamespace(target="benchmark", ci=0.9, k=[1000, 10])
    report = {"loo": loo, "verdict": "x is first", "checks": checks}
    unsolved = {"x": np.array([0.0123, 0.25]), "y": np.array([0.02, 0.5])}
    cli._print_comparison(args, report, {}, np.array([True, True]), unsolved, never_solved=7)
    printed = capsys.readouterr().out.split("\nfrom unsolved")[1].splitlines()
    assert printed[0] == " (the part of each mean from the 7 problems never solved so far):"
    assert printed[1].split() == ["prior", "k=10", "k=1000"]
    assert printed[2].split() == ["x", "0.012", "0.250"] and printed[3].split()[0] == "y"
    # Every problem solved: the parts are zeros, and no table is printed.
    cli._print_comparison(args, report, {}, np.array([True, True]), unsolved, never_solved=0)
    assert "from unsolved" not in capsys.readouterr().out


def test_printed_prior_comparison_of_a_subsample_shows_the_truth(capsys):
    loo = pd.DataFrame({"prior": ["x", "y"], "elpd_loo": [-10.0, -11.0], "weight": [0.6, 0.4]})
    checks = pd.DataFrame(
        {"prior": ["x"], "k": [1], "observed": [0.5], "mean": [0.5], "lower": [0.4]}
        | {"upper": [0.6], "p_value": [0.9]}
    )
    args = SimpleNamespace(target="benchmark", ci=0.9, k=[10, 10**6])
    report = {"loo": loo, "verdict": "x is first", "checks": checks}
    truth = np.array([0.4567, np.nan])  # no truth beyond the attempts recorded
    cli._print_comparison(args, report, {}, np.array([True, True]), truth=truth)
    forecasts = capsys.readouterr().out.split("interval]):\n")[1].splitlines()
    assert forecasts[0].split() == ["prior", "k=10", "k=1000000"]
    assert forecasts[1].split() == ["truth", "(all", "attempts)", "0.457", "nan"]


@pytest.mark.parametrize("column", ["c", "n"])
def test_fits_of_other_counts_of_the_same_problems_are_not_compared_by_loo(column):
    data = bp.PassData.from_counts(["a", "b", "c"], n=[10, 10, 10], c=[1, 2, 3])
    fits = {
        "one": SimpleNamespace(data=data, idata=None, family=None),
        "other": SimpleNamespace(
            data=data._replace(**{column: np.array([10, 10, 9])}), idata=None, family=None
        ),
    }
    with pytest.raises(InputError, match="'other' was fitted to other data than 'one'"):
        compare_priors(fits)


def test_a_pareto_k_is_judged_against_arviz_s_threshold_for_the_draws_taken():
    for chains, draws in ((2, 200), (4, 1000)):
        idata = az.from_dict(posterior={"x": np.zeros((chains, draws))})
        expected = min(1 - 1 / np.log10(chains * draws), 0.7)
        assert compare.pareto_k_threshold(idata) == pytest.approx(expected, rel=1e-15)


def test_each_prior_s_unreliable_problems_stay_on_its_row_of_the_ranked_table():
    # Log-likelihoods stand in for fits: the first fit given ranks last, and only it has a
    # problem whose importance ratios, exp of a unit exponential, have a tail index k = 1.
    rng = np.random.default_rng(0)
    data = bp.PassData.from_counts([f"q{i}" for i in range(20)], n=[10] * 20, c=[1] * 20)

    def fake_fit(log_likelihood):
        draws = {"x": rng.normal(size=(2, 200))}
        idata = az.from_dict(posterior=draws, log_likelihood={"c": log_likelihood})
        return SimpleNamespace(data=data, idata=idata, family=None)

    steady = -1.0 + 0.01 * rng.normal(size=(2, 200, 20))
    spiky = -3.0 + 0.01 * rng.normal(size=(2, 200, 20))
    spiky[..., 0] = -3.0 - rng.standard_exponential(size=(2, 200))
    fits = {"spiky": fake_fit(spiky), "steady": fake_fit(steady)}
    comparison = compare_priors(fits)
    assert list(comparison.table.index) == ["steady", "spiky"]
    # On the log scale, as ArviZ's LOO: the elpd itself (not the deviance, -2 elpd).
    with pytest.warns(UserWarning, match="Pareto"):  # the spiky fit's, which the table counts
        loo = {name: az.loo(fit.idata).elpd_loo for name, fit in fits.items()}
    for name in fits:
        assert comparison.table.loc[name, "elpd_loo"] == pytest.approx(loo[name], rel=1e-12)
    lead = comparison.table.loc["spiky", "elpd_diff"]
    assert lead == pytest.approx(loo["steady"] - loo["spiky"], rel=1e-9)
    assert comparison.table["bad_pareto_k"].to_dict() == {"steady": 0, "spiky": 1}
    assert comparison.verdict.endswith("(Pareto k too large): spiky (1).")


def test_draws_alike_draw_by_draw_are_paired_at_random_and_ties_count_half():
    # Two fits run with the same seed can hold the same draws in the same order: paired by
    # index, every difference would be 0. Paired at random, the difference spreads as that of
    # two independent draws of the same law, and P(A > B) is 1/2.
    draws = np.random.default_rng(1).beta(2, 3, (4000, 1))
    table = compare.difference_table(draws, draws, [10])
    spread = np.quantile(draws[:, 0, None] - draws[None, :, 0], [0.05, 0.95])
    np.testing.assert_allclose(table[["lower", "upper"]].to_numpy()[0], spread, atol=0.02)
    assert table["prob_a_greater"].iloc[0] == pytest.approx(0.5, abs=1e-12)  # every pair, both ways
    # pass@k rounded to 1 in both: ties, no evidence either way.
    ones = np.ones((10, 1))
    assert compare.difference_table(ones, ones, [10**6])["prob_a_greater"].iloc[0] == 0.5


def test_a_group_reads_the_same_in_every_pair_whatever_the_other_s_draws():
    # A group fitted with fewer draws (a draw cap) thins its partner for the paired interval;
    # the means and P(A > B) take every draw, as the group's own forecast does.
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2)), rng.normal(size=(250, 2))
    with_b, with_c = (compare.difference_table(a, other, [1, 10]) for other in (b, c))
    np.testing.assert_array_equal(with_b["mean_a"], a.mean(axis=0))
    np.testing.assert_array_equal(with_c["mean_a"], a.mean(axis=0))
    np.testing.assert_array_equal(with_c["difference"], a.mean(axis=0) - c.mean(axis=0))
    p, _ = compare.probability_greater(a, c)
    np.testing.assert_array_equal(with_c["prob_a_greater"], p)
    greater = (a[:, None] > c[None, :]).mean(axis=(0, 1))  # every pair of all the draws
    np.testing.assert_allclose(with_c["prob_a_greater"], greater, rtol=1e-12)


def test_probability_greater_counts_every_pair_once_and_ties_half():
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 6, (30, 3)) / 5, rng.integers(0, 6, (20, 3)) / 5  # many ties
    p, mcse = compare.probability_greater(a, b)
    greater = (a[:, None] > b[None, :]).mean(axis=(0, 1))
    tied = (a[:, None] == b[None, :]).mean(axis=(0, 1))
    np.testing.assert_allclose(p, greater + tied / 2, rtol=1e-12)
    np.testing.assert_allclose(compare.probability_greater(b, a)[0], 1 - p, rtol=1e-12)
    # Its error from each draw's share of the other side's draws, counted pair by pair: the
    # variance of A's shares over their ESS, plus B's over theirs.
    shares_a = (a[:, None] > b[None, :]).mean(axis=1) + (a[:, None] == b[None, :]).mean(axis=1) / 2
    shares_b = (b[:, None] < a[None, :]).mean(axis=1) + (b[:, None] == a[None, :]).mean(axis=1) / 2
    variance = [
        shares.var(axis=0) / [float(az.ess(column[None, :], method="mean")) for column in shares.T]
        for shares in (shares_a, shares_b)
    ]
    np.testing.assert_allclose(mcse, np.sqrt(variance[0] + variance[1]), rtol=1e-12)
    assert np.all(np.isfinite(compare.probability_greater(a[:3], b[:2])[1]))  # too few for an ESS
    # A NaN draw is neither above nor below: P and its error are NaN, in that column only.
    with_nan = a.copy()
    with_nan[5, 1] = np.nan
    p, mcse = compare.probability_greater(with_nan, b)
    assert np.isnan(p[1]) and np.isnan(mcse[1]) and np.isfinite(p[[0, 2]]).all()
    # Every draw of A above every draw of B: P is 1, with no Monte Carlo error.
    p, mcse = compare.probability_greater(a + 2, b)
    assert p.tolist() == [1.0] * 3 and mcse.tolist() == [0.0] * 3


@pytest.mark.parametrize(
    ("correlation_a", "sd_a", "correlation_b", "sd_b"),
    [(0.0, 1.0, 0.0, 1.0), (0.8, 1.0, 0.8, 1.0), (0.9, 1.0, 0.0, 2.0)],
)
def test_the_error_of_p_a_greater_matches_its_spread_over_repeated_runs(
    correlation_a, sd_a, correlation_b, sd_b
):
    # 400 comparisons (`difference_table`) of 4 chains x 250 draws each, A ~ N(0.5, sd_a^2) and
    # B ~ N(0, sd_b^2), AR(1) within a chain: the root mean square of the stated errors against
    # the sd of P over the runs, whose relative error is 1 / sqrt(2 * 399) = 3.5%: within 4 of
    # those. Errors that took correlated draws for independent ones would come out a third as
    # large; in the last case, each side's variance over the other's ESS 1.9 times as large.
    # (Measured: 0.954, 0.995 and 1.038; over 3,000 runs of 1,000 independent draws, 1.006.)
    rng = np.random.default_rng(0)

    def chains(correlation, sd):
        x = np.empty((4, 250))
        x[:, 0] = rng.normal(size=4)
        noise = rng.normal(size=(4, 250)) * np.sqrt(1 - correlation**2)
        for t in range(1, 250):
            x[:, t] = correlation * x[:, t - 1] + noise[:, t]
        return sd * x.reshape(-1, 1)

    runs = [
        compare.difference_table(
            chains(correlation_a, sd_a) + 0.5, chains(correlation_b, sd_b), [10], seed=run
        )
        for run in range(400)
    ]
    p, mcse = (
        np.array([run[name].iloc[0] for run in runs])
        for name in ("prob_a_greater", "prob_a_greater_mcse")
    )
    ratio = np.sqrt(np.mean(mcse**2)) / p.std(ddof=1)
    assert abs(ratio - 1) < 4 / np.sqrt(2 * 399)
    # And P itself, within 4 standard errors of the mean over the runs.
    expected = stats.norm.cdf(0.5 / np.hypot(sd_a, sd_b))
    assert abs(p.mean() - expected) < 4 * p.std(ddof=1) / np.sqrt(400)


def test_a_predictive_check_counts_replicates_equal_to_the_data_on_both_sides(monkeypatch):
    fit = _fit("hard", "scaled-beta")
    observed = fit.data.c

    def the_data_again(key, family, params, n):
        return np.broadcast_to(observed, (len(params[0]), len(observed)))

    monkeypatch.setattr(compare, "_replicate_counts", the_data_again)
    checks = predictive_check(fit, ks=[1, 10, 50])
    np.testing.assert_array_equal(checks["p_value"], [1.0, 1.0, 1.0])  # was 0: a false alarm
    # The same where the observed value rounds an ulp below or above every replicate.
    real = compare.mean_pass_at_k
    for toward in (0.0, 1.0):
        monkeypatch.setattr(
            compare, "mean_pass_at_k", lambda *args, t=toward: np.nextafter(real(*args), t)
        )
        checks = predictive_check(fit, ks=[1, 10, 50])
        np.testing.assert_array_equal(checks["p_value"], [1.0, 1.0, 1.0])


def test_groups_of_different_problems_are_compared_with_a_note(write, monkeypatch, capsys):
    path = write("two.csv", "model,problem_id,n,c\nA,p1,20,3\nA,p2,20,0\nB,q1,5,1\nB,p2,5,0\n")

    def stop(*args, **kwargs):
        raise InputError("stopped before fitting")

    monkeypatch.setattr(cli, "_fit_with_warnings", stop)
    assert main(["compare", path, "--groups", "A", "B"]) == 2
    err = capsys.readouterr().err
    assert "the groups hold different problems (A: 2, B: 2; 1 in all of them)" in err
    assert main(["compare", path, "--groups", "A", "B", "--target", "new"]) == 2
    assert "different problems" not in capsys.readouterr().err  # new problems: no matter


def test_compare_priors_rejects_fits_of_different_data():
    fits = {"easy": _fit("easy", "scaled-beta"), "hard": _fit("hard", "scaled-beta")}
    with pytest.raises(InputError, match="other data"):
        compare_priors(fits)
    with pytest.raises(InputError, match="at least two"):
        compare_priors({"one": fits["easy"]})


def test_predictive_check_reads_k_ci_and_draws_as_the_forecast_does():
    fit = _fit("hard", "scaled-beta")
    pd.testing.assert_frame_equal(predictive_check(fit, ks=5), predictive_check(fit, ks=[5]))
    for bad, message in [
        ({"ks": [1.5, 2.7]}, "k must be a positive integer"),  # was read as [1, 2]
        ({"ci": 90}, "ci must lie strictly between 0 and 1"),
        ({"max_draws": 0}, "max_draws must be a positive integer, got 0"),
        ({"max_draws": 2.5}, "max_draws must be a positive integer, got 2.5"),
        # One draw per chain: p-values of 0 from 2 replicates.
        ({"max_draws": 1}, "max_draws must be at least 40, got 1: a two-sided p-value"),
        ({"max_draws": 39}, "max_draws must be at least 40, got 39"),
    ]:
        with pytest.raises(ValueError, match=message):
            predictive_check(fit, **bad)
    assert len(predictive_check(fit, ks=[1], max_draws=40)) == 1  # the least allowed
    # By default 12 log-spaced k from 1 to the fewest attempts (50), rounded: 11 distinct.
    checked = predictive_check(fit, max_draws=40)["k"].tolist()
    assert checked == [1, 2, 3, 4, 6, 8, 12, 17, 25, 35, 50]
    with pytest.raises(InputError, match="max_draws must be a positive integer, got -5"):
        fit.forecast([10], max_draws=-5)  # was: every draw, silently
    for call in (
        lambda: fit.forecast([10], seed=-1),  # NumPy's "expected non-negative integer"
        lambda: compare_groups(fit, fit, [10], seed=np.random.default_rng(0)),
        lambda: predictive_check(fit, seed=1.5),
    ):
        with pytest.raises(InputError, match="seed must be an integer from"):
            call()


def test_predictive_check_mean_matches_the_posterior_of_new_problems():
    # E[unbiased pass@k of a replicate | theta] = 1 - E[(1 - p)^k | theta]: averaged over the
    # same draws, the replicates' mean equals the `new` forecast up to the replicates' Monte
    # Carlo error (their sd / sqrt(draws), the draws being thinned to be nearly independent).
    fit = _fit("hard", "scaled-beta")
    ks = np.array([1, 5, 50])
    replicates = []

    def recorded(*args):
        replicates.append(np.asarray(real(*args)))
        return replicates[-1]

    real = compare._replicate_counts
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compare, "_replicate_counts", recorded)
        check = predictive_check(fit, ks, max_draws=600, seed=1)
    expected = fit.forecast(ks, target="new", max_draws=600).mean
    # The sd of a replicate's pass@k, from the replicates themselves (not from the interval).
    (counts,) = replicates
    per_draw = np.array([exact_mean_pass_at_k(fit.data.n, row, ks) for row in counts])
    sd = per_draw.std(axis=0, ddof=1)
    assert np.all(np.abs(check["mean"].to_numpy() - expected) < 4 * sd / np.sqrt(len(counts)))
    np.testing.assert_allclose(check["observed"], bp.estimators.mean_pass_at_k(fit.data, ks))
    assert np.all(check["p_value"] > 0.05)  # the model fitted these counts
    # A negative control: the same posterior checked against five times the easy problems'
    # counts (pass@1 ~0.5 of 50 attempts, where the model's replicates give ~0.03) is rejected.
    idata = fit.idata.copy()
    idata.observed_data["c"] = ("problem", 5 * _data("easy").c)
    assert predictive_check(bp.Fit(idata), ks, max_draws=600, seed=1)["p_value"].iloc[0] == 0
    with pytest.raises(InputError, match="1 <= k <= 50"):
        predictive_check(fit, [100])


@pytest.mark.slow  # a second fit and 4,000 draws of pass@k; the exact summary is checked fast
def test_compare_groups_difference_and_probability():
    easy, hard = _fit("easy", "scaled-beta"), _fit("hard", "scaled-beta")
    table = compare_groups(easy, hard, [1, 10, 1000])
    np.testing.assert_allclose(table["difference"], table["mean_a"] - table["mean_b"], atol=1e-12)
    # Each group's mean is its forecast's posterior mean, what the plot of the two draws.
    for fit, column in ((easy, "mean_a"), (hard, "mean_b")):
        np.testing.assert_allclose(table[column], fit.forecast([1, 10, 1000]).mean, rtol=1e-12)
    # Rates ~ Beta(2, 2) against 0.3 Beta(0.3, 3): pass@1 0.5 against ~0.03.
    assert table["prob_a_greater"].iloc[0] == 1.0
    swapped = compare_groups(hard, easy, [1, 10, 1000])
    # No ties between continuous draws: P(B > A) = 1 - P(A > B) exactly.
    np.testing.assert_allclose(swapped["prob_a_greater"], 1 - table["prob_a_greater"], atol=1e-12)
    # A fit against itself: its draws paired at random, A - B is symmetric about 0, so P(A > B)
    # is 1/2 up to its binomial error over the draws.
    itself = compare_groups(hard, hard, [1, 1000])
    assert np.all(itself["lower"] < 0) and np.all(itself["upper"] > 0)
    draws = SHORT["chains"] * SHORT["samples"]
    assert np.all(np.abs(itself["prob_a_greater"] - 0.5) < 4 * 0.5 / np.sqrt(draws))
    # Its mean difference is 0 up to 4 Monte Carlo standard errors: the pairing does not move
    # the means, and A and B hold the same hyperparameter draws, so what differs is the
    # problems' rates drawn given them, independently for A and B (sd: sqrt(2) times their
    # deviations from the conditional mean, measured on draws of another seed).
    draws = posterior_pass_at_k(hard, np.array([1, 1000]), max_draws=1000, seed=9)
    deviation = (draws["benchmark"] - draws["benchmark_given_hyper"]).values.reshape(-1, 2)
    sd = np.sqrt(2) * deviation.std(axis=0, ddof=1)
    assert np.all(np.abs(itself["difference"]) < 4 * sd / np.sqrt(len(deviation)))


def exact_mean_pass_at_k(n, c, ks):
    """Mean over problems of 1 - C(n - c, k) / C(n, k) (binomials in exact integers), per k."""
    pairs = list(zip(n.tolist(), c.tolist(), strict=True))
    return [np.mean([1 - math.comb(m - s, k) / math.comb(m, k) for m, s in pairs]) for k in ks]


def test_a_predictive_check_draws_at_least_40_replicates_or_says_it_cannot(monkeypatch):
    # Thinning by whole steps can fall short of max_draws (2 x 128 draws to 40 kept 38, whose
    # smallest p-value above 0 is 2/38 > 0.05): the largest step that keeps 40 is taken instead.
    data = bp.PassData.from_counts(["a", "b"], n=[10, 10], c=[1, 5])
    replicates = []

    def counted(key, family, params, n):
        replicates.append(len(params[0]))
        return np.zeros((len(params[0]), 2), int)

    monkeypatch.setattr(compare, "_replicate_counts", counted)
    for shape, max_draws, expected in [((2, 128), 40, 44), ((4, 1000), 40, 40), ((2, 20), 500, 40)]:
        fit = SimpleNamespace(data=data, family=None, params=(np.zeros(shape),), idata=None)
        predictive_check(fit, [1], max_draws=max_draws)
        assert replicates.pop() == expected, shape
    fit = SimpleNamespace(data=data, family=None, params=(np.zeros((2, 15)),), idata=None)
    with pytest.raises(InputError, match="the fit has 30 posterior draws, a predictive check"):
        predictive_check(fit, [1])


def test_predictive_check_summarises_its_replicates_exactly(monkeypatch):
    # Fixed replicate datasets in place of the posterior predictive draws: the interval is the
    # equal-tailed quantiles of the replicates' mean pass@k at the requested level, and the
    # p-value 2 min(P(replicate >= observed), 1 - that), capped at 1.
    n = np.array([20, 21, 22, 23, 24, 25])
    observed_c = np.array([0, 1, 2, 4, 6, 10])
    data = bp.PassData.from_counts([f"q{i}" for i in range(6)], n=n, c=observed_c)
    rng = np.random.default_rng(4)
    counts = rng.binomial(n, rng.uniform(0.0, 0.4, (50, 6)))
    fit = SimpleNamespace(data=data, family=None, params=(np.zeros((1, 50)),), idata=None)
    monkeypatch.setattr(compare, "_replicate_counts", lambda key, family, params, n: counts)
    ks = [1, 5, 20]
    replicated = np.array([exact_mean_pass_at_k(n, row, ks) for row in counts])
    observed = np.array(exact_mean_pass_at_k(n, observed_c, ks))
    assert np.abs(replicated - observed).min() > 1e-9  # no ties for rounding to flip
    above = (replicated >= observed).mean(axis=0)
    p_value = np.minimum(1.0, 2 * np.minimum(above, 1 - above))
    assert ((0 < p_value) & (p_value < 1)).all()  # neither end: the factor 2 shows
    for ci in (0.9, 0.5):
        check = predictive_check(fit, ks, ci=ci)
        np.testing.assert_allclose(check["observed"], observed, rtol=1e-12)
        np.testing.assert_allclose(check["mean"], replicated.mean(axis=0), rtol=1e-12)
        tail = (1 - ci) / 2
        np.testing.assert_allclose(check["lower"], np.quantile(replicated, tail, axis=0), 1e-12)
        np.testing.assert_allclose(
            check["upper"], np.quantile(replicated, 1 - tail, axis=0), rtol=1e-12
        )
        np.testing.assert_allclose(check["p_value"], p_value, rtol=1e-12)


def test_compare_groups_passes_target_max_draws_and_seed_on(monkeypatch):
    # Each group's draws at the target and number asked, from its own stream of the seed; the
    # pairs' permutation from the seed too.
    rng = np.random.default_rng(2)
    draws = {g: {t: rng.beta(2, 3, (2, 50, 2)) for t in ("benchmark", "new")} for g in "AB"}
    asked = []

    def fixed(fit, ks, max_draws, seed):
        asked.append((fit, max_draws, seed.entropy, seed.spawn_key))
        given = {
            f"{t}_given_hyper": xr.DataArray(d / 2, dims=("chain", "draw", "k"))
            for t, d in draws[fit].items()
        }
        return {**{t: SimpleNamespace(values=d) for t, d in draws[fit].items()}, **given}

    monkeypatch.setattr(compare, "posterior_pass_at_k", fixed)
    monkeypatch.setattr(compare, "require_fit", lambda fit: None)  # names stand in for fits
    table = compare_groups("A", "B", [10, 100], target="new", max_draws=77, seed=5)
    assert asked == [("A", 77, 5, (0,)), ("B", 77, 5, (1,))]
    a, b = (draws[g]["new"].reshape(-1, 2) for g in "AB")
    np.testing.assert_allclose(table["mean_a"], a.mean(axis=0) / 2, rtol=1e-12)
    difference = a - b[np.random.default_rng(5).permutation(100)]
    np.testing.assert_allclose(table["lower"], np.quantile(difference, 0.05, axis=0), rtol=1e-12)
    np.testing.assert_allclose(table["upper"], np.quantile(difference, 0.95, axis=0), rtol=1e-12)


def test_compare_groups_summarises_fixed_draws_exactly(monkeypatch):
    # Fixed draws in place of the two posteriors: A has 120 in 2 chains, B 100. The means and
    # P(A > B) take every draw; for the interval A is thinned evenly over both chains to 100,
    # and B's draws are paired with A's in the order of a permutation drawn from the seed: the
    # equal-tailed quantiles of A - B at the level asked.
    rng = np.random.default_rng(2)
    draws = {"A": rng.beta(2, 3, (2, 60, 2)), "B": rng.beta(2, 4, (1, 100, 2))}
    given = {
        name: xr.DataArray(d * 0.9 + 0.05, dims=("chain", "draw", "k")) for name, d in draws.items()
    }
    seeds = []

    def fixed(fit, ks, max_draws, seed):
        seeds.append(seed)
        return {
            "benchmark": SimpleNamespace(values=draws[fit]),
            "benchmark_given_hyper": given[fit],
        }

    monkeypatch.setattr(compare, "posterior_pass_at_k", fixed)
    monkeypatch.setattr(compare, "require_fit", lambda fit: None)  # names stand in for fits
    kept = np.round(np.arange(100) * 119 / 99).astype(int)
    assert kept[0] == 0 and kept[-1] == 119 and np.unique(kept).size == 100
    every_a, b = draws["A"].reshape(-1, 2), draws["B"].reshape(-1, 2)
    a, paired_b = every_a[kept], b[np.random.default_rng(0).permutation(100)]
    for ci in (0.9, 0.5):
        table = compare_groups("A", "B", [10, 100], ci=ci)
        tail = (1 - ci) / 2
        # The means: the conditional means given the hyperparameters, as a forecast's.
        for column, name in (("mean_a", "A"), ("mean_b", "B")):
            expected = given[name].values.reshape(-1, 2).mean(axis=0)
            np.testing.assert_allclose(table[column], expected, rtol=1e-12)
        difference = a - paired_b
        np.testing.assert_allclose(table["lower"], np.quantile(difference, tail, axis=0), 1e-12)
        np.testing.assert_allclose(table["upper"], np.quantile(difference, 1 - tail, axis=0), 1e-12)
        # P(A > B) over every pair of all the draws (continuous draws: no ties).
        every_pair = (every_a[:, None] > b[None, :]).mean(axis=(0, 1))
        np.testing.assert_allclose(table["prob_a_greater"], every_pair, rtol=1e-12)
        assert np.all((table["prob_a_greater_mcse"] > 0) & (table["prob_a_greater_mcse"] < 0.05))
        # The table carries its level, and its plot says it (it said 90% whatever the level).
        assert table["ci"].tolist() == [ci, ci]
        legend = plot_differences(table).axes[0].get_legend()
        assert f"bars: {ci:.0%} credible interval" in [
            text.get_text() for text in legend.get_texts()
        ]
    # A table without its level (built by hand) leaves the level unsaid, not guessed.
    legend = plot_differences(table.drop(columns="ci")).axes[0].get_legend()
    assert "bars: credible interval" in [text.get_text() for text in legend.get_texts()]
    # A separate random stream for each group.
    first, second = seeds[:2]
    assert first.spawn_key != second.spawn_key


@pytest.mark.slow
def test_compare_cli_groups_json_and_out(write, tmp_path, capsys, monkeypatch):
    # The fits are the cached ones above (NUTS is tested elsewhere); the rest of the command
    # runs as it is: loading, comparisons, JSON and the outputs.
    rows = ["model,problem_id,n,c"]
    for model, kind in (("m1", "easy"), ("m2", "hard")):
        data = _data(kind)
        rows += [
            f"{model},{p},{n},{c}" for p, n, c in zip(data.problem_id, data.n, data.c, strict=True)
        ]
    path = write("two.csv", "\n".join(rows) + "\n")
    kinds = {"m1": "easy", "m2": "hard"}
    fitted = []

    seeds = {}

    def cached_fit(data, prior, *args, **kwargs):
        fitted.append((data.groups[0], prior))
        seeds[data.groups[0]] = kwargs["seed"]
        return _fit(kinds[data.groups[0]], prior)

    monkeypatch.setattr(cli, "_fit_with_warnings", cached_fit)
    out = tmp_path / "cmp"
    argv = ["compare", path, "--groups", "m1", "m2", "--k", "1", "100", "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    assert fitted == [("m1", "beta-spline"), ("m2", "beta-spline")]  # the default prior
    # Each group's chains from a seed of its own, keyed by its name (not by its place).
    assert seeds == {group: cli._group_seed(0, group) for group in ("m1", "m2")}
    assert seeds["m1"] != seeds["m2"]
    report = json.loads(capsys.readouterr().out)
    assert [row["k"] for row in report["comparison"]] == [1, 100]
    assert report["comparison"][0]["prob_a_greater"] == 1.0
    # Each group's mean as its forecast gives it (and forecast.png draws it).
    for side, group in (("a", "m1"), ("b", "m2")):
        expected = _fit(kinds[group], "beta-spline").forecast([1, 100]).mean
        means = [row[f"mean_{side}"] for row in report["comparison"]]
        np.testing.assert_allclose(means, expected, rtol=1e-12)
    files = ["comparison.csv", "difference.png", "forecast.png"]
    assert sorted(p.name for p in out.iterdir()) == files
    written = pd.read_csv(out / "comparison.csv")
    assert list(written.columns[:6]) == ["prior", "target", "ci", "a", "b", "k"]
    assert set(written["prior"]) == {"beta-spline"} and set(written["ci"]) == {0.9}
    np.testing.assert_allclose(
        written["prob_a_greater"], [row["prob_a_greater"] for row in report["comparison"]]
    )
    assert main(argv) == 0
    header, first = capsys.readouterr().out.splitlines()[1:3]
    assert header.split()[-6:] == ["P(A", ">", "B)", "its", "MC", "error"]
    error = report["comparison"][0]["prob_a_greater_mcse"]
    assert first.split()[-1] == f"{error:.2g}"


def test_compare_cli_pairs_each_group_with_the_first_or_every_pair(
    write, monkeypatch, capsys, tmp_path
):
    # Fits and their draws stand in for the real ones (tested above): what is checked is which
    # pairs the command compares, in which order, and that a group reads the same in each.
    rows = ["model,problem_id,n,c"] + [f"{m},p{i},10,{i}" for m in "xyz" for i in range(3)]
    path = write("three.csv", "\n".join(rows) + "\n")
    seeds = {}

    class StandIn(str):
        """A group's name as its fit; its forecast (drawn by --out) a baseline's."""

        def forecast(self, ks, **kwargs):
            return fit_baseline(self.data, "beta-binomial").forecast(ks, **kwargs)

    def fit(data, *args, seed, **kwargs):
        seeds[data.groups[0]] = seed
        stand_in = StandIn(data.groups[0])
        stand_in.data = data
        return stand_in

    monkeypatch.setattr(cli, "_fit_with_warnings", fit)
    drawn = []

    streams = []

    def draws(fit, ks, target, seed):
        drawn.append(fit)
        streams.append(seed)
        sample = np.random.default_rng(seed).beta(2, 3, (400, len(ks)))
        return sample, sample.mean(axis=0) + 1  # means apart from the draws': the table's

    monkeypatch.setattr(compare, "draws_and_means", draws)
    argv = ["compare", path, "--groups", "y", "x", "z", "--k", "10", "--json"]
    for pairs, expected in (
        ("first", [("y", "x"), ("y", "z")]),
        ("all", [("y", "x"), ("y", "z"), ("x", "z")]),
    ):
        drawn.clear()
        assert main([*argv, "--pairs", pairs]) == 0
        report = json.loads(capsys.readouterr().out)
        assert drawn == ["y", "x", "z"]  # each group's draws once
        assert [(row["a"], row["b"]) for row in report["comparison"]] == expected
    means = {}
    for row in report["comparison"]:
        for side in ("a", "b"):
            means.setdefault(row[side], set()).add(row[f"mean_{side}"])
    assert all(len(seen) == 1 for seen in means.values())  # x reads the same as A and as B
    assert all(mean > 1 for seen in means.values() for mean in seen)  # the means given
    assert len({seen.pop() for seen in means.values()}) == 3  # and each group its own stream
    # Without --k: pass@1, pass@100 and pass@10000; the JSON says which level its intervals have.
    assert main(argv[: argv.index("--k")] + ["--ci", "0.5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["k"] for row in report["comparison"]] == [1, 100, 10_000, 1, 100, 10_000]
    assert (report["target"], report["ci"]) == ("benchmark", 0.5)
    # Printed and written as the JSON gives them: the level, and each bound in its place.
    assert main([*argv, "--ci", "0.5", "--json"]) == 0
    report = pd.DataFrame(json.loads(capsys.readouterr().out)["comparison"])
    out = tmp_path / "cmp"
    out.mkdir()
    for stale in ("loo.csv", "predictive_check.csv", "forecast.csv"):  # of a --priors run
        (out / stale).write_text("old")
    assert main([*argv[:-1], "--ci", "0.5", "--out", str(out)]) == 0
    files = ["comparison.csv", "difference.png", "forecast.png"]
    assert sorted(p.name for p in out.iterdir()) == files  # the stale ones removed
    title, header, *lines = capsys.readouterr().out.splitlines()
    assert title == "benchmark pass@k, prior beta-spline, 50% intervals"
    assert header.split()[8:12] == ["-", "B", "lower", "upper"]
    printed = np.array([line.split()[6:8] for line in lines], dtype=float)
    np.testing.assert_allclose(printed, report[["lower", "upper"]], rtol=1e-3)
    written = pd.read_csv(out / "comparison.csv")
    assert set(written["ci"]) == {0.5}
    np.testing.assert_allclose(written[["lower", "upper"]], report[["lower", "upper"]])
    # k given in any order is reported in increasing order.
    assert main([*argv[: argv.index("--k")], "--k", "100", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["k"] for row in report["comparison"]] == [1, 100, 1, 100]
    # Each group's chains from a seed of its own, keyed by its name (not by its place).
    assert seeds == {group: cli._group_seed(0, group) for group in "xyz"}
    assert len(set(seeds.values())) == 3
    # --seed reaches the fits and the draws' streams (spawned in the groups' order).
    assert main([*argv, "--seed", "3"]) == 0
    assert seeds == {group: cli._group_seed(3, group) for group in "xyz"}
    assert [(s.entropy, s.spawn_key) for s in streams[-3:]] == [(3, (0,)), (3, (1,)), (3, (2,))]


def test_compare_cli_on_subsampled_groups_reports_each_groups_truth(monkeypatch, capsys):
    # Fits and draws stand in (tested above): what is checked is the truth beside each pair.
    fitted = {}

    def fit(data, *args, **kwargs):
        fitted[data.groups[0]] = data
        return data.groups[0]

    monkeypatch.setattr(cli, "_fit_with_warnings", fit)

    def draws(fit, ks, target, seed):
        sample = np.random.default_rng(seed).beta(2, 3, (400, len(ks)))
        return sample, sample.mean(axis=0)

    monkeypatch.setattr(compare, "draws_and_means", draws)
    groups, ks = ["Pythia 12B", "Pythia 1B"], [10, 10_000, 10**6]
    argv = ["compare", "pythia-math", "--groups", *groups, "--attempts", "50", "--k"]
    assert main([*argv, *map(str, ks), "--json"]) == 0
    [row_10, row_10000, row_beyond] = json.loads(capsys.readouterr().out)["comparison"]
    truth = {g: mean_pass_at_k(datasets.load("pythia-math", group=g), ks) for g in groups}
    for row, expected_a, expected_b in zip(
        [row_10, row_10000], truth[groups[0]][:2], truth[groups[1]][:2], strict=True
    ):
        assert row["true_a"] == pytest.approx(expected_a, rel=1e-12)
        assert row["true_b"] == pytest.approx(expected_b, rel=1e-12)
        assert row["true_difference"] == pytest.approx(expected_a - expected_b, rel=1e-12)
    assert row_beyond["true_difference"] is None  # beyond the attempts recorded
    assert main([*argv, "10"]) == 0
    header, row = capsys.readouterr().out.splitlines()[1:3]
    assert header.endswith("true A - B")
    assert float(row.split()[-1]) == pytest.approx(row_10["true_difference"], rel=1e-3)
    # Each group fitted to its subsample drawn with --seed.
    assert main([*argv, "10", "--seed", "3", "--json"]) == 0
    for group in groups:
        expected = datasets.load("pythia-math", group=group, attempts_per_problem=50, seed=3)
        np.testing.assert_array_equal(fitted[group].c, expected.c)
        np.testing.assert_array_equal(fitted[group].n, expected.n)
    other = datasets.load("pythia-math", group=groups[0], attempts_per_problem=50, seed=0)
    assert not np.array_equal(fitted[groups[0]].c, other.c)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--groups", "m1"], "at least two different groups"),
        (["--groups", "m1", "m3"], "unknown group 'm3'"),
        (["--priors", "scaled-beta"], "at least two different priors"),
        (["--groups", "m1", "m2", "--priors", "all"], "not allowed with argument"),
        (["--priors", "all"], "choose one with --group"),
        (["--priors", "all", "--group", "m1", "--pairs", "all"], "with --priors leave it out"),
        (["--groups", "m1", "m2", "--group", "m1"], "with --groups leave it out"),
        (
            ["--priors", "all", "--group", "m1", "--chains", "2", "--samples", "19"],
            "--chains x --samples must be at least 40 with --priors (got 38)",
        ),
    ],
)
def test_compare_cli_bad_usage_is_a_clean_error(extra, fragment, write, tmp_path, capsys):
    path = write("groups.csv", "model,problem_id,n,c\nm1,A,3,1\nm2,A,4,2\n")
    out = tmp_path / "cmp"
    assert main(["compare", path, *extra, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("bayes-passk: error: ") and fragment in captured.err
    assert "Traceback" not in captured.err and not out.exists()


def test_compare_priors_takes_exactly_40_draws(write, monkeypatch, capsys):
    # 2 x 20 draws are the fewest a predictive check takes: refused is 38, not 40.
    def stop(*args, **kwargs):
        raise InputError("stopped before fitting")

    monkeypatch.setattr(cli, "_fit_with_warnings", stop)
    path = write("two.csv", "problem_id,n,c\nA,3,1\nB,4,2\n")
    argv = ["compare", path, "--priors", "beta", "scaled-beta", "--chains", "2", "--samples"]
    assert main([*argv, "20"]) == 2
    assert "stopped before fitting" in capsys.readouterr().err


def test_compare_priors_refuses_one_problem():
    one = bp.PassData.from_counts(["only"], n=[50], c=[7])
    fits = {
        name: SimpleNamespace(data=one, idata=None, family=None) for name in ("beta", "scaled-beta")
    }
    with pytest.raises(InputError, match="at least 2 problems"):
        compare_priors(fits)


def test_compare_groups_defaults_to_the_forecast_grid(monkeypatch):
    # Without ks the comparison is at the k a forecast takes by default, as `forecast` does.
    from bayes_passk.forecast import DEFAULT_KS

    asked = []

    def fixed(fit, ks, max_draws, seed):
        asked.append(ks)
        draws = np.full((1, 4, len(ks)), 0.5 if fit == "A" else 0.25)
        given = xr.DataArray(draws, dims=("chain", "draw", "k"))
        return {"benchmark": SimpleNamespace(values=draws), "benchmark_given_hyper": given}

    monkeypatch.setattr(compare, "posterior_pass_at_k", fixed)
    monkeypatch.setattr(compare, "require_fit", lambda fit: None)  # names stand in for fits
    table = compare_groups("A", "B")
    assert table["k"].tolist() == list(DEFAULT_KS)
    assert [k.tolist() for k in asked] == [list(DEFAULT_KS)] * 2
    np.testing.assert_allclose(table["mean_a"] - table["mean_b"], 0.25)


@pytest.mark.parametrize(
    "target, ci, message",
    [("nwe", 0.9, "unknown target 'nwe'; choose one of benchmark, new"), ("new", 90, "got 90")],
)
def test_compare_groups_checks_its_arguments_before_any_work(target, ci, message):
    from bayes_passk.compare import compare_groups

    with pytest.raises(ValueError, match=message):
        compare_groups(None, None, [10], ci=ci, target=target)


def test_what_reads_a_fit_refuses_anything_else_before_any_work(monkeypatch):
    data = _data("hard")
    drawn = []
    monkeypatch.setattr(compare, "posterior_pass_at_k", lambda *args: drawn.append(args))
    fit = SimpleNamespace(data=data, family=None, idata=None)  # what require_fit looks for
    for call in (
        lambda: compare_groups(fit, None, [10]),  # was refused after the first fit's draws
        lambda: predictive_check(data),  # these were AttributeErrors from inside
        lambda: compare_priors({"a": fit, "b": data}),
        lambda: unsolved_part(data, [10]),
    ):
        with pytest.raises(InputError, match="this takes a fit, bayes_passk.fit\\(data\\), got"):
            call()
    assert not drawn


def test_compare_groups_takes_fits_not_data():
    from bayes_passk.compare import compare_groups

    data = bp.PassData.from_counts(["a"], n=[10], c=[1])
    with pytest.raises(TypeError, match="takes two fits"):
        compare_groups(data, data, [10])


def test_the_difference_plot_s_axes_and_each_pair_s_truth_beside_its_bar():
    from bayes_passk.plots import plot_differences

    comparison = pd.DataFrame(
        {
            "a": ["A", "A"],
            "b": ["B", "C"],
            "k": [1, 1],
            "ci": 0.9,
            "difference": [0.1, -0.1],
            "lower": [0.0, -0.2],
            "upper": [0.2, 0.0],
            "prob_a_greater": [0.9, 0.1],
            "true_difference": [0.12, -0.08],
        }
    )
    comparison = pd.concat([comparison, comparison.assign(k=10_000)], ignore_index=True)
    axes = plot_differences(comparison).axes[0]
    assert axes.get_xscale() == "log"
    assert axes.get_ylabel() == "pass@k(A) - pass@k(B)"
    marks = [line for line in axes.lines if line.get_marker() == "D"]
    for bar, mark in zip(axes.containers, marks, strict=True):
        np.testing.assert_array_equal(mark.get_xdata(), bar.lines[0].get_xdata())
        assert mark.get_color() == bar.lines[0].get_color()


def test_the_difference_plot_draws_each_pair_s_interval_beside_the_others():
    from bayes_passk.plots import DODGE

    comparison = pd.DataFrame(
        {
            "ci": 0.8,
            "a": ["A", "A", "A", "A"],
            "b": ["B", "B", "C", "C"],
            "k": [100, 10_000] * 2,
            "difference": [0.1, 0.05, -0.2, 0.3],
            "lower": [0.05, -0.1, -0.3, 0.35],  # the last mean outside its interval: no error
            "upper": [0.2, 0.2, -0.1, 0.4],
            "prob_a_greater": [0.99, 0.7, 0.0, 1.0],
            "true_difference": [0.12, np.nan, -0.25, np.nan],
        }
    )
    figure = plot_differences(comparison, title="t")
    axes = figure.axes[0]
    first, second = axes.containers
    x = first.lines[0].get_xdata()
    np.testing.assert_allclose(x, [100 * 10 ** (-1.5 * DODGE), 10_000 * 10 ** (-1.5 * DODGE)])
    np.testing.assert_allclose(second.lines[0].get_xdata(), x * 10 ** (3 * DODGE))
    ends = sorted(np.ravel([cap.get_ydata() for cap in first.lines[1]]))
    np.testing.assert_allclose(ends, sorted([0.05, 0.2, -0.1, 0.2]))
    notes = sorted(text.get_text() for text in axes.texts)
    assert notes == ["P(A > B) = 0.00", "P(A > B) = 0.70", "P(A > B) = 0.99", "P(A > B) = 1.00"]
    # Each pair's notes a line above the last pair's, over the highest bar at that k.
    offsets = sorted({text.xyann[1] for text in axes.texts})
    assert offsets == [4, 13]
    assert sorted(text.xy[1] for text in axes.texts) == [0.2, 0.2, 0.4, 0.4]
    texts = [text.get_text() for text in axes.get_legend().get_texts()]
    assert texts == ["A - B", "A - B: truth", "A - C", "A - C: truth"] + [
        "bars: 80% credible interval",
        "no difference",
    ]


def test_the_difference_plot_keeps_three_pairs_notes_apart_and_inside():
    # --pairs all over 3 groups: each pair's P(A > B) stood over its own bar, so two notes
    # overlapped where the bars' tops differed by about a line (and one ran into the frame).
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    comparison = pd.DataFrame(
        {
            "a": ["12B", "12B", "6.9B"] * 2,
            "b": ["6.9B", "1B", "1B"] * 2,
            "k": [1] * 3 + [10_000] * 3,
            "difference": [0.01, 0.05, 0.04, 0.02, 0.12, 0.1],
            "lower": [-0.01, 0.03, 0.02, -0.05, 0.02, 0.0],
            "upper": [0.03, 0.07, 0.062, 0.09, 0.22, 0.2],
            "prob_a_greater": [0.8, 1.0, 1.0, 0.66, 0.91, 0.88],
        }
    )
    figure = plot_differences(comparison)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    axes = figure.axes[0]
    inside = axes.get_window_extent(renderer)
    boxes = [text.get_window_extent(renderer) for text in axes.texts]
    assert len(boxes) == 6
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1 :]), axes.texts[i]
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, axes.texts[i]


TWENTY = bp.PassData.from_counts([f"q{i}" for i in range(20)], n=[10] * 20, c=[1] * 20)


def _loo_fit(log_likelihood, seed=0):
    """A stand-in fit with the given pointwise log-likelihood draws, for LOO alone."""
    draws = {"x": np.random.default_rng(seed).normal(size=log_likelihood.shape[:2])}
    idata = az.from_dict(posterior=draws, log_likelihood={"c": log_likelihood})
    return SimpleNamespace(data=TWENTY, idata=idata, family=None)


def test_pareto_k_between_the_draw_dependent_threshold_and_0_7_is_flagged():
    # 2 x 200 draws: threshold 1 - 1/log10(400) = 0.616. Problem 0's ratios are exp(0.66 E),
    # E a stratified unit exponential: a Pareto tail with k = 0.66, between 0.616 and 0.7.
    rng = np.random.default_rng(0)
    u = (np.arange(400) + 0.5) / 400
    ll = -1.0 + 0.01 * rng.normal(size=(2, 200, 20))
    ll[..., 0] = -3.0 - 0.66 * rng.permutation(-np.log1p(-u)).reshape(2, 200)
    other = -1.5 + 0.01 * rng.normal(size=(2, 200, 20))
    fits = {"a": _loo_fit(ll), "b": _loo_fit(other, 1)}
    with pytest.warns(UserWarning):
        k = az.loo(fits["a"].idata, pointwise=True).pareto_k.values
    threshold = compare.pareto_k_threshold(fits["a"].idata)
    assert threshold < k[0] <= 0.7 and (k[1:] <= threshold).all()  # precondition
    table = compare.compare_priors(fits).table
    assert table.loc["a", "bad_pareto_k"] == 1 and table.loc["b", "bad_pareto_k"] == 0


def test_weights_are_stacking_weights_of_the_pointwise_loo():
    # Two priors, each better on half the problems: stacking maximises
    # sum_i log(w exp(loo_i,a) + (1 - w) exp(loo_i,b)) over w; solved here by scipy.
    rng = np.random.default_rng(1)
    base = -1.0 + 0.01 * rng.normal(size=(2, 200, 20))
    a, b = base.copy(), base.copy()
    a[..., :10] -= 1.0
    b[..., 10:] -= 0.5
    fits = {"a": _loo_fit(a), "b": _loo_fit(b, 1)}
    loo = {name: az.loo(f.idata, pointwise=True).loo_i.values for name, f in fits.items()}

    def objective(w):
        return -np.log(w * np.exp(loo["a"]) + (1 - w) * np.exp(loo["b"])).sum()

    w = optimize.minimize_scalar(
        objective, bounds=(0, 1), method="bounded", options={"xatol": 1e-10}
    ).x
    table = compare.compare_priors(fits).table
    assert table.loc["a", "weight"] == pytest.approx(w, abs=1e-4)
    assert table.loc["b", "weight"] == pytest.approx(1 - w, abs=1e-4)


def test_a_nan_draw_of_b_makes_p_and_its_error_nan():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(30, 3)), rng.normal(size=(20, 3))
    b[3, 1] = np.nan
    p, mcse = compare.probability_greater(a, b)
    assert np.isnan(p[1]) and np.isnan(mcse[1]) and np.isfinite(p[[0, 2]]).all()
