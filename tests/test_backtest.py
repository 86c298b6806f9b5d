"""Backtest runner and metrics, on point methods (fast); the Bayesian path is in test_batched."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bayes_passk import backtest, cli
from bayes_passk.data import InputError, PassData
from bayes_passk.designs import resample, synthetic

FULL = PassData.from_counts(
    [f"p{i}" for i in range(40)],
    n=[1000] * 40,
    c=[0] * 15 + [1, 2, 3, 5, 8, 13, 21, 34, 55, 89] * 2 + [144, 233, 377, 610, 987],
)


def _table(estimate, lower, upper, truth, exponent=np.nan, exponent_truth=np.nan, r_hat=np.nan):
    rows = len(estimate)
    return pd.DataFrame(
        {
            "method": "m",
            "design": "d",
            "group": "g",
            "budget": 10,
            "replicate": np.arange(rows),
            "k": 100,
            "estimate": estimate,
            "lower": lower,
            "upper": upper,
            "truth": truth,
            "exponent": exponent,
            "exponent_truth": exponent_truth,
            "r_hat_max": r_hat,
            "divergences": np.nan,
        }
    )


def test_summarize_computes_the_metrics():
    table = _table(
        estimate=[0.5, 0.7, np.nan, 0.9],
        lower=[0.4, 0.65, np.nan, 0.85],
        upper=[0.6, 0.75, np.nan, 0.95],
        truth=[0.55, 0.6, 0.6, 0.9],
        exponent=[0.2, 0.3, np.nan, 0.5],
        exponent_truth=0.25,
        r_hat=[1.0, 1.02, np.nan, 1.005],
    )
    row = backtest.summarize(table).iloc[0]
    assert row["replicates"] == 4 and row["failed"] == 1
    assert row["unconverged_fits"] == 1  # r_hat 1.02 > 1.01; NaN (no fit) does not count
    assert row["abs_error"] == pytest.approx((0.05 + 0.1 + 0.0) / 3)
    assert row["mse"] == pytest.approx((0.05**2 + 0.1**2) / 3)
    assert row["mse_lower"] <= row["mse"] <= row["mse_upper"]
    assert row["coverage"] == pytest.approx(2 / 3)  # 0.6 lies outside [0.65, 0.75]
    assert row["width"] == pytest.approx(0.2 / 3 + 0.1 / 3 + 0.1 / 3)
    assert row["exponent_rel_error"] == pytest.approx((0.2 + 0.2 + 1.0) / 3)
    log_log = lambda x: np.log(-np.log(x))  # noqa: E731
    expected = np.mean(
        [(log_log(e) - log_log(t)) ** 2 for e, t in [(0.5, 0.55), (0.7, 0.6), (0.9, 0.9)]]
    )
    assert row["log_log_se"] == pytest.approx(expected)


def test_a_replicate_without_truth_does_not_count_as_a_miss():
    table = _table(estimate=[0.5, 0.7], lower=[0.4, 0.6], upper=[0.6, 0.8], truth=[0.55, np.nan])
    row = backtest.summarize(table).iloc[0]
    assert row["coverage"] == 1.0 and row["width"] == pytest.approx(0.2)
    assert np.isnan(backtest.summarize(table.iloc[1:])["coverage"].iloc[0])


def test_paired_differences_pair_replicates():
    truth = 0.6
    errors = {"ref": [0.1, -0.2, 0.05, 0.3, np.nan], "m": [0.12, -0.19, 0.0, 0.31, -np.inf]}
    table = pd.concat(
        [
            _table(truth + np.array(e), np.nan, np.nan, truth).assign(method=method)
            for method, e in errors.items()
        ]
    )
    row = backtest.paired_differences(table, reference="ref").iloc[0]
    ref, m = np.array(errors["ref"][:4]), np.array(errors["m"][:4])  # replicate 4 failed in both
    assert row["method"] == "m" and row["replicates"] == 4
    assert row["difference"] == pytest.approx(np.mean(m**2 - ref**2))
    assert row["ratio"] == pytest.approx(np.mean(m**2) / np.mean(ref**2))
    differences = m**2 - ref**2
    assert differences.min() <= row["lower"] <= row["difference"] <= row["upper"]
    assert row["upper"] <= differences.max()
    # A method against itself: no difference, and an interval of width zero.
    same = pd.concat(
        [table[table.method == "ref"], table[table.method == "ref"].assign(method="x")]
    )
    row = backtest.paired_differences(same, reference="ref").iloc[0]
    assert row["difference"] == row["lower"] == row["upper"] == 0.0
    with pytest.raises(InputError, match="'nope' is not in the table"):
        backtest.paired_differences(table, reference="nope")
    # Every fit failed: no rows, but the columns a reader expects.
    failed = table.assign(estimate=np.nan)
    empty = backtest.paired_differences(failed, reference="ref")
    assert empty.empty and {"method", "difference", "lower", "upper", "ratio"} <= set(empty)


def test_point_methods_have_no_intervals_and_match_direct_fits():
    cells = [resample(0, FULL, budget=50, replicates=3, ks=[10, 1000])]
    table = backtest.run(cells, ["beta-binomial", "regression"])
    assert list(table.columns) == backtest.COLUMNS
    assert len(table) == 2 * 3 * 2
    assert table["lower"].isna().all()
    summary = backtest.summarize(table)
    assert summary["coverage"].isna().all() and (summary["failed"] == 0).all()
    np.testing.assert_allclose(table["truth"].to_numpy()[:2], cells[0].truth[0])


def test_synthetic_cells_score_the_exponent():
    cells = [synthetic(0, "scaled-beta", 0.4, 3.5, 0.8, 64, 100, 2, [1000])]
    table = backtest.run(cells, ["beta-binomial"])
    assert (table["exponent_truth"] == 0.4).all()
    summary = backtest.summarize(table)
    expected = np.mean(np.abs(table["exponent"] / 0.4 - 1))
    assert summary["exponent_rel_error"].iloc[0] == pytest.approx(expected)


def test_run_rejects_unknown_methods_and_mixed_ks():
    cells = [resample(0, FULL, 20, 2, [10]), resample(1, FULL, 20, 2, [100])]
    with pytest.raises(InputError, match="unknown methods"):
        backtest.run(cells[:1], ["lasso"])
    with pytest.raises(InputError, match="same k"):
        backtest.run(cells, ["regression"])


def test_cli_backtest_json_and_outputs(tmp_path, capsys):
    out = tmp_path / "bt"
    argv = [
        "backtest",
        "--dataset",
        "pythia-math",
        "--groups",
        "Pythia 12B",
        "--budgets",
        "30",
        "100",
    ]
    argv += [
        "--replicates",
        "3",
        "--methods",
        "beta-binomial",
        "regression",
        "--reference",
        "regression",
        "--out",
        str(out),
        "--json",
    ]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    summary = report["summary"]
    assert len(summary) == 2 * 2 * 2  # methods x budgets x k
    assert {row["method"] for row in summary} == {"beta-binomial", "regression"}
    assert "regression: Pythia 12B, budget 100: 3 fits" in captured.err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["backtest.csv", "coverage.png", "error.png", "paired.csv", "summary.csv"]
    table = pd.read_csv(out / "backtest.csv")
    assert len(table) == 2 * 2 * 3 * 2
    # The paired comparison: one row per budget and k, the MSEs as in the summary.
    mse = {(r["method"], r["budget"], r["k"]): r["mse"] for r in summary}
    assert len(report["paired"]) == 2 * 2
    for row in report["paired"]:
        assert row["method"] == "beta-binomial" and row["reference"] == "regression"
        mine, theirs = (
            mse[("beta-binomial", row["budget"], row["k"])],
            mse[("regression", row["budget"], row["k"])],
        )
        assert row["difference"] == pytest.approx(mine - theirs)
        assert row["lower"] <= row["difference"] <= row["upper"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--design", "synthetic", "--dataset", "pythia-math"], "leave out --dataset"),
        (["--design", "resample"], "needs --dataset"),
        (["--dataset", "pythia-math", "--groups", "GPT-9"], "no group 'GPT-9'"),
        (["--dataset", "pythia-math", "--budgets", "20000"], "exceeds the 10000 attempts"),
        (["--dataset", "nowhere.csv"], "file not found"),
        (["--dataset", "pythia-math", "--reference", "lasso"], "'lasso' is not one of --methods"),
    ],
)
def test_cli_backtest_bad_input_exits_2_without_output(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert cli.main(["backtest", *argv, "--methods", "regression", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
