"""Model comparison (PSIS-LOO), predictive checks and group differences: `bayes_passk.compare`."""

import functools
import json

import numpy as np
import pandas as pd
import pytest

import bayes_passk as bp
from bayes_passk import cli
from bayes_passk.cli import main
from bayes_passk.compare import compare_groups, compare_priors, predictive_check, verdict
from bayes_passk.data import InputError

SHORT = {"chains": 2, "warmup": 300, "samples": 300, "progress": False, "check": False}


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


def test_compare_priors_ranks_every_prior_and_says_so(write, tmp_path, capsys, monkeypatch):
    fits = {prior: _fit("hard", prior) for prior in ("scaled-beta", "logit-normal")}
    comparison = compare_priors(fits)
    table = comparison.table
    assert sorted(table.index) == sorted(fits)
    assert table["elpd_diff"].iloc[0] == 0 and table["elpd_diff"].iloc[1] >= 0
    assert table["elpd_loo"].is_monotonic_decreasing
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
    monkeypatch.setattr(cli, "_fit_with_warnings", lambda data, prior, *_: fits[prior])
    out = tmp_path / "priors"
    out.mkdir()  # holding a group comparison from an earlier run, which must go
    (out / "comparison.csv").write_text("an earlier run")
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
    assert set(pd.read_csv(out / "predictive_check.csv")["prior"]) == set(fits)
    forecast = pd.read_csv(out / "forecast.csv")
    assert forecast["k"].tolist() == [1, 50, 1, 50]
    np.testing.assert_allclose(forecast["mean"][:2], expected.mean, rtol=1e-12)


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
    assert "Pareto k > 0.7): y (3)" in verdict(table(10.0, 2.0, bad=3))


@pytest.mark.slow
def test_compare_priors_rejects_fits_of_different_data():
    fits = {"easy": _fit("easy", "scaled-beta"), "hard": _fit("hard", "scaled-beta")}
    with pytest.raises(InputError, match="other data"):
        compare_priors(fits)
    with pytest.raises(InputError, match="at least two"):
        compare_priors({"one": fits["easy"]})


def test_predictive_check_mean_matches_the_posterior_of_new_problems():
    # E[unbiased pass@k of a replicate | theta] = 1 - E[(1 - p)^k | theta]: averaged over the
    # same draws, the replicates' mean equals the `new` forecast up to the replicates' Monte
    # Carlo error (their sd / sqrt(draws), the draws being thinned to be nearly independent).
    fit = _fit("hard", "scaled-beta")
    ks = np.array([1, 5, 50])
    check = predictive_check(fit, ks, max_draws=600, seed=1)
    expected = fit.forecast(ks, target="new", max_draws=600).mean
    spread = (check["upper"] - check["lower"]).to_numpy() / (2 * 1.645)  # ~ sd of a replicate
    assert np.all(np.abs(check["mean"].to_numpy() - expected) < 4 * spread / np.sqrt(600))
    np.testing.assert_allclose(check["observed"], bp.estimators.mean_pass_at_k(fit.data, ks))
    assert np.all(check["p_value"] > 0.05)  # the model fitted these counts
    # A negative control: the same posterior checked against five times the easy problems'
    # counts (pass@1 ~0.5 of 50 attempts, where the model's replicates give ~0.03) is rejected.
    idata = fit.idata.copy()
    idata.observed_data["c"] = ("problem", 5 * _data("easy").c)
    assert predictive_check(bp.Fit(idata), ks, max_draws=600, seed=1)["p_value"].iloc[0] == 0
    with pytest.raises(InputError, match="1 <= k <= 50"):
        predictive_check(fit, [100])


def test_compare_groups_difference_and_probability():
    easy, hard = _fit("easy", "scaled-beta"), _fit("hard", "scaled-beta")
    table = compare_groups(easy, hard, [1, 10, 1000])
    np.testing.assert_allclose(table["difference"], table["mean_a"] - table["mean_b"], atol=1e-12)
    assert np.all(table["lower"] <= table["difference"]) and np.all(
        table["difference"] <= table["upper"]
    )
    # Rates ~ Beta(2, 2) against 0.3 Beta(0.3, 3): pass@1 0.5 against ~0.03.
    assert table["prob_a_greater"].iloc[0] == 1.0
    swapped = compare_groups(hard, easy, [1, 10, 1000])
    # No ties between continuous draws: P(B > A) = 1 - P(A > B) exactly.
    np.testing.assert_allclose(swapped["prob_a_greater"], 1 - table["prob_a_greater"], atol=1e-12)
    # A fit against itself pairs each hyperparameter draw with itself, and what is left is the
    # spread of the problems' rates given the hyperparameters, drawn independently for A and B:
    # symmetric about 0, so P(A > B) is 1/2 up to its binomial error over the 600 draws.
    itself = compare_groups(hard, hard, [1, 1000])
    assert np.all(itself["lower"] < 0) and np.all(itself["upper"] > 0)
    assert np.all(np.abs(itself["prob_a_greater"] - 0.5) < 4 * 0.5 / np.sqrt(600))
    # Its mean difference is 0 up to 4 Monte Carlo standard errors: per-draw differences are
    # independent given the draws (sd ~ the 90% interval's width / 3.29).
    sd = (itself["upper"] - itself["lower"]) / (2 * 1.645)
    assert np.all(np.abs(itself["difference"]) < 4 * sd / np.sqrt(600))


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

    def cached_fit(data, prior, *args, **kwargs):
        fitted.append((data.groups[0], prior))
        return _fit(kinds[data.groups[0]], prior)

    monkeypatch.setattr(cli, "_fit_with_warnings", cached_fit)
    out = tmp_path / "cmp"
    argv = ["compare", path, "--groups", "m1", "m2", "--k", "1", "100", "--out", str(out)]
    assert main([*argv, "--json"]) == 0
    assert fitted == [("m1", "scaled-beta"), ("m2", "scaled-beta")]
    report = json.loads(capsys.readouterr().out)
    assert [row["k"] for row in report["comparison"]] == [1, 100]
    assert report["comparison"][0]["prob_a_greater"] == 1.0
    assert sorted(p.name for p in out.iterdir()) == ["comparison.csv", "forecast.png"]
    assert main(argv) == 0
    assert "P(A > B)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--groups", "m1"], "at least two different groups"),
        (["--groups", "m1", "m3"], "unknown group 'm3'"),
        (["--priors", "scaled-beta"], "at least two different priors"),
        (["--groups", "m1", "m2", "--priors", "all"], "not allowed with argument"),
        (["--priors", "all"], "choose one with --group"),
    ],
)
def test_compare_cli_bad_usage_is_a_clean_error(extra, fragment, write, tmp_path, capsys):
    path = write("groups.csv", "model,problem_id,n,c\nm1,A,3,1\nm2,A,4,2\n")
    out = tmp_path / "cmp"
    assert main(["compare", path, *extra, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("bayes-passk: error: ") and fragment in captured.err
    assert "Traceback" not in captured.err and not out.exists()
