"""Backtest runner, metrics and plots; the batched engine itself is tested in test_batched."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from functools import partial

import matplotlib as mpl
import matplotlib.colors as mpl_colors
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from scipy import stats

from bayes_passk import backtest, cli
from bayes_passk.baselines import fit_baseline
from bayes_passk.batched import BatchConfig, FitSummary
from bayes_passk.data import InputError, PassData, name_number
from bayes_passk.designs import resample, synthetic
from bayes_passk.families import get_family
from bayes_passk.forecast import unsolved_parts

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
        r_hat=[1.0, 1.02, np.nan, 1.01],
    )
    row = backtest.summarize(table).iloc[0]
    assert row["replicates"] == 4 and row["failed"] == 1
    assert row["unconverged_fits"] == 1  # r_hat 1.02 > 1.01; 1.01 and NaN (no fit) do not count
    assert row["abs_error"] == pytest.approx((0.05 + 0.1 + 0.0) / 3)
    assert row["mse"] == pytest.approx((0.05**2 + 0.1**2) / 3)
    # 3 squared errors (0.0025, 0.01, 0): 2 of the 27 resamples repeat a value below the mean
    # (t = -inf), more than 5%, so the studentized interval has no finite upper end: NaN.
    assert np.isnan(row["mse_lower"]) and np.isnan(row["mse_upper"])
    assert row["coverage"] == pytest.approx(2 / 3)  # 0.6 lies outside [0.65, 0.75]
    assert row["width"] == pytest.approx(0.2 / 3 + 0.1 / 3 + 0.1 / 3)
    assert row["exponent_rel_error"] == pytest.approx((0.2 + 0.2 + 1.0) / 3)
    log_log = lambda x: np.log(-np.log(x))  # noqa: E731
    expected = np.mean(
        [(log_log(e) - log_log(t)) ** 2 for e, t in [(0.5, 0.55), (0.7, 0.6), (0.9, 0.9)]]
    )
    assert row["log_log_se"] == pytest.approx(expected)


def test_a_missing_truth_or_exponent_leaves_that_replicate_out_of_its_score_only():
    table = _table(
        estimate=[0.5, 0.6, 0.7],
        lower=[0.45, 0.5, 0.6],
        upper=[0.6, 0.7, 0.8],
        truth=[0.55, 0.6, np.nan],
        exponent=[0.2, np.nan, 0.3],
        exponent_truth=0.25,
    )
    row = backtest.summarize(table).iloc[0]
    assert row["failed"] == 0 and row["coverage"] == 1.0
    assert row["abs_error"] == pytest.approx(0.05 / 2)
    assert row["mse"] == pytest.approx(0.05**2 / 2)
    assert np.isnan([row["mse_lower"], row["mse_upper"]]).all()  # 2 errors: no interval
    assert row["exponent_rel_error"] == pytest.approx(0.2)  # |0.2/0.25 - 1| = |0.3/0.25 - 1|


def test_the_mse_interval_takes_the_studentized_bootstrap_s_quantiles():
    # Five squared errors: every one of the 5^5 resamples enumerated gives the exact law of
    # t* = (mean* - mean) / s*. The interval's ends, mapped back to t, are its 5% and 95%
    # quantiles from 1000 resamples: each within 4 of their sd, sqrt(0.05 * 0.95 / 1000), in
    # probability of the exact law.
    squared = np.array([0.01, 0.04, 0.02, 0.09, 0.03])
    mean, scale = squared.mean(), squared.std(ddof=1) / np.sqrt(5)
    every = squared[np.array(list(itertools.product(range(5), repeat=5)))]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (every.mean(axis=1) - mean) / (every.std(axis=1, ddof=1) / np.sqrt(5))
    t = np.where(every.mean(axis=1) == mean, 0.0, t)
    lower, upper = backtest.mse_interval(np.random.default_rng(3), squared, 1000)
    tolerance = 4 * np.sqrt(0.05 * 0.95 / 1000)
    for end, level in (((mean - upper) / scale, 0.05), ((mean - lower) / scale, 0.95)):
        assert np.mean(t < end) - tolerance <= level <= np.mean(t <= end) + tolerance
    # Exactly: the quantiles of t* over the generator's own resamples, s* with ddof = 1 (the law
    # above has flat stretches that hid s* with ddof = 0, an interval sqrt(5 / 4) as wide).
    resampled = squared[np.random.default_rng(3).integers(0, 5, (1000, 5))]
    with np.errstate(divide="ignore"):
        t_star = (resampled.mean(axis=1) - mean) / (resampled.std(axis=1, ddof=1) / np.sqrt(5))
    t_low, t_high = np.quantile(t_star, [0.05, 0.95], method="inverted_cdf")
    np.testing.assert_allclose([lower, upper], [mean - t_high * scale, mean - t_low * scale])
    # Errors alike: the interval is the point; one error, or resamples of one value in more
    # than 5% (3 errors: 3 of 27), have none.
    assert backtest.mse_interval(np.random.default_rng(0), np.full(6, 0.04), 100) == (0.04, 0.04)
    for few in (squared[:1], squared[:3], squared[:4], np.full(2, 0.04)):
        assert np.isnan(backtest.mse_interval(np.random.default_rng(0), few, 1000)).all()
    # Ties (8 of 10 errors exactly 0) leave t undefined in a tail: the percentile interval of
    # the same resamples' means, not none.
    tied = np.r_[np.zeros(8), 0.004, 0.02]
    ends = backtest.mean_interval(np.random.default_rng(1), tied, 1000)
    means = tied[np.random.default_rng(1).integers(0, 10, (1000, 10))].mean(axis=1)
    assert ends == tuple(np.quantile(means, [0.05, 0.95], method="inverted_cdf"))
    assert 0 < ends[1] < 0.02
    # The ends within what the mean can be: an MSE of probabilities in [0, 1].
    skewed = np.array([0.01, 0.02, 0.03, 0.05, 0.9])  # unclipped: [-0.075, 8.4]
    lower, upper = backtest.mean_interval(np.random.default_rng(0), skewed, 1000)
    assert lower < 0 and upper > 1
    assert backtest.mse_interval(np.random.default_rng(0), skewed, 1000) == (0, 1)
    # Whatever the three values: copies of some floats have an sd of 1e-20, not 0, which gave
    # t huge but finite and an interval up to 1e15 in 29% of them.
    rng = np.random.default_rng(0)
    for three in rng.uniform(size=(200, 3)):
        assert np.isnan(backtest.mean_interval(rng, three, 1000)).all()


def test_the_mse_interval_covers_as_it_says_where_the_percentile_bootstrap_does_not():
    # 2000 backtests of 20 replicates with normal errors (sd 0.1, MSE 0.01): the studentized
    # interval covers within 4 Monte Carlo sd (0.027) of 0.90 (measured 0.89); the percentile
    # bootstrap of such resamples 0.83 (benchmarks/mse_interval_coverage.py).
    rng = np.random.default_rng(0)
    covered = [
        lower <= 0.01 <= upper
        for lower, upper in (
            backtest.mse_interval(rng, rng.normal(0, 0.1, 20) ** 2, 1000) for _ in range(2000)
        )
    ]
    assert abs(np.mean(covered) - 0.9) <= 4 * np.sqrt(0.09 / 2000)


def test_the_paired_interval_covers_as_it_says_where_the_t_interval_does_not():
    # 2000 backtests of 20 replicates, the errors of two methods correlated normals with the
    # bias and spread measured on Gemini 1.5 Pro (benchmarks/paired_interval_coverage.py):
    # `mean_interval` of the paired differences, what `paired_differences` reports (above),
    # holds the true MSE difference within 4 Monte Carlo sd (0.027) of 0.90 (measured 0.90);
    # the paired t interval on such backtests 0.86.
    rng = np.random.default_rng(0)
    (m1, s1), (m2, s2), rho = (0.006, 0.085), (-0.010, 0.055), 0.99
    covariance = [[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]]
    errors = rng.multivariate_normal([m1, m2], covariance, size=(2000, 20))
    differences = errors[..., 0] ** 2 - errors[..., 1] ** 2
    truth = (m1**2 + s1**2) - (m2**2 + s2**2)
    ends = np.array([backtest.mean_interval(rng, d, 1000) for d in differences])
    covered = (ends[:, 0] <= truth) & (truth <= ends[:, 1])
    assert abs(covered.mean() - 0.9) <= 4 * np.sqrt(0.09 / 2000)


def test_a_cell_s_bootstrap_does_not_depend_on_the_other_cells():
    rng = np.random.default_rng(5)
    cell = _table(rng.uniform(0.4, 0.8, 10), np.nan, np.nan, 0.6)
    other = cell.assign(method="another", estimate=rng.uniform(0.4, 0.8, 10))
    alone = backtest.summarize(cell).iloc[0]
    beside = backtest.summarize(pd.concat([other, cell])).set_index("method").loc["m"]
    # From CSV, whole-number k and budget come back as integers (here floats in memory).
    read_back = backtest.summarize(cell.astype({"k": float, "budget": float})).iloc[0]
    for row in (beside, read_back):
        assert (row["mse_lower"], row["mse_upper"]) == (alone["mse_lower"], alone["mse_upper"])
    reseeded = backtest.summarize(cell, seed=1).iloc[0]
    assert reseeded["mse_lower"] != alone["mse_lower"]
    # Each k of a cell its own resamples, as each method, group and budget.
    for column, value in (("k", 999), ("method", "n"), ("group", "h"), ("budget", 7)):
        other_cell = backtest.summarize(cell.assign(**{column: value})).iloc[0]
        assert other_cell["mse_lower"] != alone["mse_lower"], column


def test_summarize_scores_each_estimate_against_its_unsolved_part():
    # Errors -0.25, 0.1, 0.3 (a fourth replicate without truth is left out) against parts
    # 0.1, 0.05, 0.4: estimate - part <= truth in the first and third, |error| <= part in the third.
    nan = [np.nan] * 4
    table = _table(
        estimate=[0.3, 0.7, 0.9, 0.6], lower=nan, upper=nan, truth=[0.55, 0.6, 0.6, nan[0]]
    )
    row = backtest.summarize(table.assign(unsolved_part=[0.1, 0.05, 0.4, 0.2])).iloc[0]
    assert row["unsolved_part"] == pytest.approx(0.75 / 4)  # defined without a truth too
    assert row["solved_below_truth"] == pytest.approx(2 / 3)
    assert row["error_within_unsolved"] == pytest.approx(1 / 3)
    # A point method's NaN parts, and a table written before the column: no score.
    for old in (table.assign(unsolved_part=np.nan), table):
        scored = backtest.summarize(old).iloc[0]
        assert np.isnan(
            scored[["unsolved_part", "solved_below_truth", "error_within_unsolved"]].astype(float)
        ).all()
    # An error of exactly the part (0.75 - 0.5 = 0.25, exact in binary) counts for both.
    exact = _table(estimate=[0.75], lower=np.nan, upper=np.nan, truth=[0.5])
    row = backtest.summarize(exact.assign(unsolved_part=0.25)).iloc[0]
    assert row["solved_below_truth"] == 1.0 and row["error_within_unsolved"] == 1.0


def test_log_log_error_leaves_out_and_counts_a_pass_at_k_of_exactly_one():
    # A truth within 1e-16 of 1 is 1.0 in float64: log(-log 1) = -inf, no finite error. The
    # metric is the mean over the other replicates, not inf; a missing truth is not counted.
    table = _table(estimate=[0.5, 0.9, 0.7], lower=np.nan, upper=np.nan, truth=[0.6, 1.0, np.nan])
    row = backtest.summarize(table).iloc[0]
    assert row["log_log_se"] == pytest.approx((np.log(-np.log(0.5)) - np.log(-np.log(0.6))) ** 2)
    assert row["log_log_undefined"] == 1
    assert backtest.summarize(table.iloc[:2])["mse"].iloc[0] == pytest.approx(0.1**2)
    # Likewise an estimate of exactly 1 or 0 (a forecast rounded to 1 at a huge k).
    table = _table(estimate=[0.5, 1.0, 0.0], lower=np.nan, upper=np.nan, truth=[0.6, 0.7, 0.3])
    row = backtest.summarize(table).iloc[0]
    assert row["log_log_se"] == pytest.approx((np.log(-np.log(0.5)) - np.log(-np.log(0.6))) ** 2)
    assert row["log_log_undefined"] == 2


def test_a_failed_fit_still_counts_as_unconverged_and_divergent():
    # A fit without a finite forecast is left out of the scores, not out of the fit counts.
    table = _table(estimate=[0.5, np.nan], lower=np.nan, upper=np.nan, truth=0.5)
    table = table.assign(r_hat_max=[1.0, 1.5], divergences=[0, 3])
    row = backtest.summarize(table).iloc[0]
    assert (row["failed"], row["unconverged_fits"], row["divergent_fits"]) == (1, 1, 1)


def test_a_replicate_without_truth_does_not_count_as_a_miss():
    table = _table(estimate=[0.5, 0.7], lower=[0.4, 0.5], upper=[0.6, 0.9], truth=[0.55, np.nan])
    row = backtest.summarize(table).iloc[0]
    # The width over the replicates coverage scores: the one with a truth.
    assert row["coverage"] == 1.0 and row["width"] == pytest.approx(0.2)
    assert np.isnan(backtest.summarize(table.iloc[1:])["coverage"].iloc[0])


def test_a_truth_on_the_interval_bound_counts_as_covered():
    # Closed intervals: truth equal to the lower or to the upper bound is inside; the third
    # replicate, just above its upper bound, is the miss.
    table = _table(
        estimate=[0.5, 0.6, 0.4],
        lower=[0.4, 0.5, 0.3],
        upper=[0.6, 0.7, 0.5],
        truth=[0.4, 0.7, 0.55],
    )
    assert backtest.summarize(table)["coverage"].iloc[0] == pytest.approx(2 / 3)


def test_divergent_fits_count_fits_with_a_divergent_transition():
    # Fits with divergences > 0: 3 and 1 count; 0 does not, nor NaN (no fit, a point method).
    table = _table([0.5] * 5, np.nan, np.nan, 0.5).assign(divergences=[0, 3, np.nan, 0, 1])
    assert backtest.summarize(table)["divergent_fits"].iloc[0] == 2
    point = _table([0.5] * 2, np.nan, np.nan, 0.5)  # divergences NaN throughout
    assert backtest.summarize(point)["divergent_fits"].iloc[0] == 0


def test_a_table_without_groups_read_back_from_csv_summarizes_as_before(tmp_path):
    # Data without groups have the group "", which a CSV reads back as NaN.
    truth = 0.6
    table = pd.concat(
        [
            _table(truth + np.array(e), np.nan, np.nan, truth).assign(method=name, group="")
            for name, e in (("ref", [0.1, -0.2, 0.05, 0.3]), ("m", [0.12, -0.19, 0.0, 0.31]))
        ],
        ignore_index=True,
    )
    table.to_csv(tmp_path / "backtest.csv", index=False)
    read_back = pd.read_csv(tmp_path / "backtest.csv")
    assert read_back["group"].isna().all()
    for summary in (backtest.summarize, partial(backtest.paired_differences, reference="ref")):
        expected = summary(table)
        assert len(expected) in (1, 2)
        pd.testing.assert_frame_equal(summary(read_back), expected, check_dtype=False)


def test_groups_named_as_numbers_or_as_missing_read_back_from_csv(tmp_path):
    # Groups "1000" and "2000" read back as numbers: the same scores and the same bootstrap
    # intervals (each cell's draws are seeded by its names; "1000" and 1000.0 seeded apart and
    # moved an MSE bound from 0.3465 to 0.3342). Groups "NA" and "None" read back as missing
    # alike: two rows for each replicate, refused rather than pooled (summarize counted 10
    # replicates in one group; paired_differences averaged the two groups' errors).
    truth = 0.6
    errors = {"ref": [0.1, -0.2, 0.05, 0.3, -0.15], "m": [0.12, -0.19, 0.0, 0.31, -0.1]}

    def written(groups):
        tables = [
            _table(truth + np.array(e), np.nan, np.nan, truth).assign(method=name, group=group)
            for group in groups
            for name, e in errors.items()
        ]
        return pd.concat(tables, ignore_index=True)

    summaries = (backtest.summarize, partial(backtest.paired_differences, reference="ref"))
    numbers = written(["1000", "2000"])
    numbers.to_csv(tmp_path / "numbers.csv", index=False)
    read_back = pd.read_csv(tmp_path / "numbers.csv")
    assert read_back["group"].tolist()[::5] == [1000, 1000, 2000, 2000]
    for summary in summaries:
        expected = summary(numbers)
        assert expected.filter(like="upper").notna().all().all()
        pd.testing.assert_frame_equal(summary(read_back), expected, check_dtype=False)
    missing = written(["NA", "None"])
    missing.to_csv(tmp_path / "missing.csv", index=False)
    said = (
        r"rows \[0, 10\] of the table forecast the same replicate \(method 'ref', design 'd', "
        r"group '', budget 10, replicate 0, k 100\): .*keep_default_na=False"
    )
    for summary in summaries:
        with pytest.raises(InputError, match=said):
            summary(pd.read_csv(tmp_path / "missing.csv"))
        as_text = pd.read_csv(
            tmp_path / "missing.csv", dtype={"group": str}, keep_default_na=False, na_values=[""]
        )
        pd.testing.assert_frame_equal(summary(as_text), summary(missing), check_dtype=False)
        # Two runs' tables joined, their labels repeated: refused by position, labels named.
        with pytest.raises(InputError, match=r"rows \[0, 0\] of the table"):
            summary(pd.concat([numbers, numbers]))
    # Names that read as one number stay apart (they seed independent draws).
    assert name_number("g", "1") != name_number("g", "1.0")


def test_the_mse_interval_leaves_out_replicates_without_a_truth():
    # Six errors, and a seventh replicate without a truth: the interval is the six's.
    errors = np.array([0.1, -0.2, 0.05, 0.3, -0.15, 0.12])
    truth = np.r_[np.full(6, 0.5), np.nan]
    row = backtest.summarize(_table(np.r_[0.5 + errors, 0.5], np.nan, np.nan, truth)).iloc[0]
    rng = np.random.default_rng([0, name_number("m", "d", "g", 10, 100)])
    expected = backtest.mse_interval(rng, errors**2, 1000)
    assert np.isfinite(expected).all()
    assert (row["mse_lower"], row["mse_upper"]) == pytest.approx(expected, rel=1e-12)


def _bootstrap_t_ends(values, seed, resamples, level=0.9):
    """The bootstrap-t interval rebuilt: t of a resample without spread is (mean* - mean) / 0,
    -inf or +inf, and 0 where mean* is the mean."""
    mean, scale = values.mean(), values.std(ddof=1) / np.sqrt(len(values))
    resampled = values[
        np.random.default_rng(seed).integers(0, len(values), (resamples, len(values)))
    ]
    means = resampled.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (means - mean) / (resampled.std(axis=1, ddof=1) / np.sqrt(len(values)))
    t = np.where(means == mean, 0.0, t)
    alpha = (1 - level) / 2
    t_low, t_high = np.quantile(t, [alpha, 1 - alpha], method="inverted_cdf")
    assert np.isfinite([t_low, t_high]).all()  # the bootstrap-t, not the percentile fallback
    return (mean - t_high * scale, mean - t_low * scale), resampled


def test_resamples_of_one_value_repeated_count_as_t_of_infinity_or_0_at_the_mean():
    # Resamples of the zeros alone lie below the mean: t = -inf, in fewer than 5% of them, so
    # that both quantiles of t stay finite (+inf for them moved the lower end, 0.0032 -> 0.0024).
    values = np.r_[np.zeros(6), 0.01, 0.02, 0.03, 0.05]
    expected, resampled = _bootstrap_t_ends(values, 4, 1000)
    assert 1 <= np.sum(resampled.max(axis=1) == 0) < 50
    assert backtest.mean_interval(np.random.default_rng(4), values, 1000) == pytest.approx(
        expected, rel=1e-12
    )
    # Resamples of the mean repeated: t = 0 (NaN would turn the interval into the percentile
    # one, (0.375, 0.625) for (0.302, 0.698)).
    values = np.array([0.25, 0.5, 0.75, 0.375, 0.625])
    expected, resampled = _bootstrap_t_ends(values, 1, 20_000)
    assert np.any((resampled == 0.5).all(axis=1))
    assert backtest.mean_interval(np.random.default_rng(1), values, 20_000) == pytest.approx(
        expected, rel=1e-12
    )


def test_paired_differences_pair_replicates():
    truth = 0.6
    errors = {
        "ref": [0.1, -0.2, 0.05, 0.3, -0.15, np.nan, 0.4],
        "m": [0.12, -0.19, 0.0, 0.31, -0.1, -np.inf, np.nan],
    }
    table = pd.concat(
        [
            _table(truth + np.array(e), np.nan, np.nan, truth).assign(method=method)
            for method, e in errors.items()
        ]
    )
    row = backtest.paired_differences(table, reference="ref").iloc[0]
    # Replicate 5 failed in both, 6 in m alone: both left out of every figure, the ratio too.
    ref, m = np.array(errors["ref"][:5]), np.array(errors["m"][:5])
    assert row["method"] == "m" and row["replicates"] == 5
    assert row["difference"] == pytest.approx(np.mean(m**2 - ref**2))
    assert row["ratio"] == pytest.approx(np.mean(m**2) / np.mean(ref**2))
    # The interval: the studentized bootstrap of the paired differences, from a generator
    # seeded by the seed, the pair and the cell.
    differences = m**2 - ref**2
    for seed in (0, 7):
        rng = np.random.default_rng([seed, name_number("m", "ref", "d", "g", 10, 100)])
        expected = backtest.mean_interval(rng, differences, 1000)
        row = backtest.paired_differences(table, reference="ref", seed=seed).iloc[0]
        assert (row["lower"], row["upper"]) == pytest.approx(expected, rel=1e-12)
        assert row["lower"] < row["difference"] < row["upper"]
    # At another level, that level's interval: the 50% one inside the 90% one.
    intervals = {}
    for level in (0.5, 0.9):
        rng = np.random.default_rng([0, name_number("m", "ref", "d", "g", 10, 100)])
        expected = backtest.mean_interval(rng, differences, 1000, level)
        row = backtest.paired_differences(table, reference="ref", level=level).iloc[0]
        assert (row["lower"], row["upper"]) == pytest.approx(expected, rel=1e-12)
        assert row["level"] == level  # recorded, so a plot of the table can say it
        intervals[level] = expected
    assert intervals[0.9][0] < intervals[0.5][0] < intervals[0.5][1] < intervals[0.9][1]
    # The ends within what a difference of squared errors of probabilities can be, [-1, 1].
    skewed = np.sqrt([0.01, 0.02, 0.03, 0.05, 0.9])  # unclipped: [-0.075, 8.4]
    errors = {"m": skewed, "ref": np.zeros(5)}
    pair = pd.concat([_table(e, np.nan, np.nan, 0.0).assign(method=m) for m, e in errors.items()])
    row = backtest.paired_differences(pair, reference="ref").iloc[0]
    assert row["lower"] < row["difference"] < row["upper"] == 1
    # Four replicates: no interval (backtest.FEWEST_FOR_INTERVAL).
    four = table[table["replicate"] < 4]
    row = backtest.paired_differences(four, reference="ref").iloc[0]
    assert row["replicates"] == 4 and np.isnan([row["lower"], row["upper"]]).all()
    # A method against itself: no difference, and an interval of width zero.
    same = pd.concat(
        [table[table.method == "ref"], table[table.method == "ref"].assign(method="x")]
    )
    row = backtest.paired_differences(same, reference="ref").iloc[0]
    assert row["difference"] == row["lower"] == row["upper"] == 0.0
    # A reference without error (filterwarnings = error: no division warning either).
    exact = pd.concat(
        [
            _table(np.full(4, truth) + offset, np.nan, np.nan, truth).assign(method=method)
            for method, offset in [("ref", 0.0), ("x", 0.0), ("y", 0.1)]
        ]
    )
    ratios = backtest.paired_differences(exact, reference="ref").set_index("method")["ratio"]
    assert np.isnan(ratios["x"]) and ratios["y"] == np.inf
    with pytest.raises(InputError, match="'nope' is not in the table"):
        backtest.paired_differences(table, reference="nope")
    with pytest.raises(InputError, match="level must lie strictly between 0 and 1, got 90"):
        backtest.paired_differences(table, reference="ref", level=90)  # was NaN, silently
    with pytest.raises(InputError, match="bootstrap must be a positive number of resamples"):
        backtest.paired_differences(table, reference="ref", bootstrap=0)
    with pytest.raises(InputError, match="seed"):
        backtest.paired_differences(table, reference="ref", seed=-1)
    with pytest.raises(InputError, match="bootstrap must be a positive number of resamples"):
        backtest.summarize(table, bootstrap=0)
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
    # Row order is replicate, then k: replicate 2 against a direct fit of its counts.
    data = PassData.from_counts([str(i) for i in range(40)], n=cells[0].n[2], c=cells[0].c[2])
    rows = table[(table["method"] == "regression") & (table["replicate"] == 2)]
    np.testing.assert_allclose(rows["k"], [10, 1000])
    direct = fit_baseline(data, "regression")
    np.testing.assert_allclose(rows["estimate"], direct.pass_at_k([10, 1000]), rtol=1e-12)
    np.testing.assert_allclose(rows["exponent"], direct.exponent, rtol=1e-12)


def test_point_fits_skip_the_bound_check_whose_warning_a_backtest_ignores(monkeypatch):
    # The profile check costs up to 12 times the fit and only warns; a backtest ignores it.
    import bayes_passk.baselines as baselines

    method = baselines.METHODS["scaled-beta-binomial"]
    checks = []

    def fit(data, family_name=None, profile=True):
        checks.append(profile)
        return method.fit(data, profile=profile)

    monkeypatch.setitem(baselines.METHODS, "scaled-beta-binomial", method._replace(fit=fit))
    cells = [resample(0, FULL, budget=50, replicates=3, ks=[10, 1000])]
    table = backtest.run(cells, ["scaled-beta-binomial"])
    assert checks == [False] * 3 and table["estimate"].notna().all()


def test_bayesian_rows_map_back_to_their_cells_and_replicates(monkeypatch):
    cells = [
        synthetic(1, "scaled-beta", 0.4, 3.5, 0.8, 12, 30, 2, [100, 1000]),
        synthetic(2, "scaled-beta", 0.15, 5.0, 0.1, 20, 30, 3, [100, 1000]),
    ]
    calls = []
    # Kumaraswamy draws (a, b, scale), two per dataset, each dataset's own.
    hyper_draws = np.array([[[0.2 + 0.1 * i, 3.0, 0.5], [0.3, 2.0 + i, 0.9]] for i in range(5)])

    def fake_fit_batch(seed, n, c, ks, prior, config, progress, key_ids):
        # Each summary field encodes (dataset, k) so that any mix-up shows.
        calls.append((seed, n, c, prior, key_ids))
        code = np.arange(n.shape[0])[:, None] * 10 + np.arange(len(ks))[None, :]
        per_fit = np.arange(n.shape[0]) + 0.5
        return FitSummary(
            mean=code + 0.1,
            sd=code,
            median=code,
            lower=code + 0.0,
            upper=code + 0.2,
            exponent_mean=per_fit,
            exponent_lower=per_fit,
            exponent_upper=per_fit,
            r_hat_max=per_fit + 1,
            divergences=per_fit * 2,
            hyper_draws=hyper_draws,
        )

    monkeypatch.setattr(backtest, "fit_batch", fake_fit_batch)
    table = backtest.run(cells, ["bayes-kumaraswamy"], seed=4)
    ((seed, n, c, prior, key_ids),) = calls
    assert seed == 4 and prior.name == "kumaraswamy" and n.shape == (5, 20)
    # Each fit keyed by its cell's name and its replicate, whatever the cell's place.
    names = [name_number(cell.design, cell.group, cell.budget) for cell in cells]
    assert names[0] != names[1]
    expected_ids = [(names[0], 0), (names[0], 1), (names[1], 0), (names[1], 1), (names[1], 2)]
    np.testing.assert_array_equal(key_ids, expected_ids)
    calls.clear()
    backtest.run(cells[::-1], ["bayes-kumaraswamy"], seed=4)
    np.testing.assert_array_equal(calls[0][4], expected_ids[2:] + expected_ids[:2])
    assert np.all(n[:2, 12:] == 0) and np.all(n[:2, :12] == 30)  # the smaller cell padded
    np.testing.assert_array_equal(c[2:], cells[1].c)
    assert list(table["group"]) == [cells[0].group] * 4 + [cells[1].group] * 6
    np.testing.assert_array_equal(table["replicate"], [0, 0, 1, 1, 0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(table["k"], [100, 1000] * 5)
    code = np.array([0, 1, 10, 11, 20, 21, 30, 31, 40, 41])
    np.testing.assert_allclose(table["estimate"], code + 0.1)
    np.testing.assert_allclose(table["lower"], code)
    np.testing.assert_allclose(table["upper"], code + 0.2)
    fit_of_row = np.repeat(np.arange(5), 2) + 0.5
    np.testing.assert_allclose(table["exponent"], fit_of_row)
    np.testing.assert_allclose(table["r_hat_max"], fit_of_row + 1)
    np.testing.assert_allclose(table["divergences"], fit_of_row * 2)
    np.testing.assert_allclose(
        table["truth"], np.concatenate([cells[0].truth.ravel(), cells[1].truth.ravel()])
    )
    # Each fit's unsolved part from its own draws and counts, as if computed alone.
    alone = [unsolved_parts(prior, hyper_draws[[i]], n[[i]], c[[i]], [100, 1000]) for i in range(5)]
    np.testing.assert_allclose(table["unsolved_part"], np.ravel(alone), rtol=1e-10)
    assert len(np.unique(np.round(table["unsolved_part"], 8))) == 10  # all differ


def test_an_unregistered_family_is_backtested_under_its_own_name(monkeypatch):
    variant = get_family("scaled-beta")._replace(name="scaled-beta-wide")
    priors = []

    def fake_fit_batch(seed, n, c, ks, prior, config, progress, key_ids):
        priors.append(prior)
        shape = (n.shape[0], len(ks))
        nan = np.full(n.shape[0], np.nan)
        draws = np.tile([0.4, 3.0, 0.8], (n.shape[0], 2, 1))  # scaled-Beta (a, b, scale)
        return FitSummary(*[np.zeros(shape)] * 5, *[nan] * 5, hyper_draws=draws)

    monkeypatch.setattr(backtest, "fit_batch", fake_fit_batch)
    cells = [resample(0, FULL, 20, 2, [10])]
    table = backtest.run(cells, [variant, "bayes-scaled-beta", "regression"])
    assert priors[0] is variant  # the object itself, not a lookup by name
    assert priors[1] is get_family("scaled-beta")
    expected = ["bayes-scaled-beta-wide", "bayes-scaled-beta", "regression"]
    assert list(table["method"]) == [name for name in expected for _ in range(2)]  # 2 replicates
    with pytest.raises(InputError, match="name a method twice"):
        backtest.run(cells, [get_family("scaled-beta"), "bayes-scaled-beta"])
    with pytest.raises(InputError, match="unknown methods"):
        backtest.run(cells, [variant, "lasso"])


def test_too_few_draws_for_r_hat_are_refused_before_fitting():
    cells = [resample(0, FULL, budget=20, replicates=2, ks=[10])]
    with pytest.raises(InputError, match="samples must be at least 4"):
        backtest.run(cells, ["bayes-scaled-beta"], config=BatchConfig(samples=3))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (BatchConfig(ci=90), "BatchConfig ci must lie strictly between 0 and 1, got 90"),
        (BatchConfig(ci=1.0), "BatchConfig ci must lie strictly between 0 and 1"),
        (BatchConfig(target_accept=0), "BatchConfig target_accept must lie strictly between"),
        (BatchConfig(chains=0), "BatchConfig chains must be a positive integer, got 0"),
        (BatchConfig(warmup=2.5), "BatchConfig warmup must be a positive integer, got 2.5"),
        (BatchConfig(chunk=0), "BatchConfig chunk must be a positive integer"),
        (BatchConfig(chains=2, warmup=10, samples=5 * 10**6), r"2 x \(10 \+ 5000000\) NUTS"),
        ({"chains": 2}, "config must be a BatchConfig, got dict"),
    ],
)
def test_settings_the_sampler_cannot_run_are_refused_before_any_method(config, message):
    # ci = 90 gave the extreme draws as the interval, silently, after every fit.
    cells = [resample(0, FULL, budget=20, replicates=2, ks=[10])]
    with pytest.raises(InputError, match=message):
        backtest.run(cells, ["regression", "bayes-scaled-beta"], config=config)


def test_one_cell_or_one_method_may_be_given_alone_and_none_is_refused():
    cell = resample(0, FULL, budget=20, replicates=2, ks=[10])
    alone = backtest.run(cell, "regression")
    listed = backtest.run([cell], ["regression"])
    pd.testing.assert_frame_equal(alone, listed)
    with pytest.raises(InputError, match="no methods to backtest"):
        backtest.run([cell], [])
    for seed in (1.5, True, "0"):
        with pytest.raises(InputError, match="seed must be an integer"):
            backtest.run([cell], ["regression"], seed=seed)


def test_progress_names_the_group_only_where_there_is_one():
    said = []
    backtest.run([resample(0, FULL, 20, 2, [10])], ["regression"], progress=said.append)
    assert said == ["regression: budget 20: 2 fits"]  # was "regression: , budget 20: 2 fits"


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
    with pytest.raises(InputError, match="appears twice"):
        backtest.run([cells[0], resample(2, FULL, 20, 2, [10])], ["regression"])
    with pytest.raises(InputError, match="must be design cells .* got a dict at index 1"):
        backtest.run([cells[0], cells[1]._asdict()], ["regression"])


def test_plot_sets_methods_side_by_side_and_counts_the_fits_not_scored():
    from bayes_passk.plots import plot_backtest

    summary = pd.DataFrame(
        {
            "method": ["a", "b", "c"],
            "design": "d",
            "group": "g",
            "budget": 100,
            "k": 10,
            "coverage": 1.0,  # equal: drawn at one x, only the last would show
            "exponent_rel_error": [0.1, 0.2, 27.0],
            "failed": [0, 2, 1],
        }
    )
    axes = plot_backtest(summary, "coverage").axes[0]
    x = [line.get_xdata()[0] for line in axes.lines if line.get_label() in "abc"]
    assert x[0] < x[1] == 100 < x[2] and x[2] / 100 == pytest.approx(100 / x[0])
    assert axes.get_title() == "k = 10\n3 failed fits not scored (b 2, c 1)"
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["100"]
    # One outlier of a relative error does not flatten the others to zero; errors on a log scale.
    for metric in ("exponent_rel_error", "abs_error", "mse", "log_log_se"):
        scored = summary.assign(**{metric: [0.1, 0.2, 27.0]})
        assert plot_backtest(scored, metric).axes[0].get_yscale() == "log", metric
    assert plot_backtest(summary, "coverage").axes[0].get_yscale() == "linear"
    # A method whose every fit failed has nothing drawn, and the panel says so.
    lost = summary.assign(replicates=2, coverage=[1.0, np.nan, 1.0])
    axes = plot_backtest(lost, "coverage").axes[0]
    assert [container.get_label() for container in axes.containers] == ["a", "c"]
    assert axes.get_title() == "k = 10\n1 failed fit not scored (c 1)\nevery fit failed: b"


def test_plot_averages_every_method_over_the_same_groups():
    from bayes_passk.plots import plot_backtest

    summary = pd.DataFrame(
        {
            "method": ["a", "b"] * 2,
            "design": "d",
            "group": ["easy", "easy", "hard", "hard"],
            "budget": 10,
            "k": 100,
            "mse": [1.0, 2.0, 100.0, np.nan],  # method b failed on the hard group
            "coverage": np.nan,
        }
    )
    figure = plot_backtest(summary, "mse")
    lines = {line.get_label(): line.get_ydata().tolist() for line in figure.axes[0].lines}
    assert lines == {"a": [1.0], "b": [2.0]}  # not a = 50.5, averaged over both groups
    three = pd.DataFrame(
        {"method": "a", "design": "d", "group": ["g1", "g2", "g3"], "budget": 10, "k": 100}
    ).assign(mse=[0.01, 0.02, 0.09])
    [line] = plot_backtest(three, "mse").axes[0].lines
    assert line.get_ydata().tolist() == pytest.approx([0.04])  # the mean, not the median
    assert "1 group/budget cells left out" in figure.axes[0].get_title()
    # One group: the MSE carries its bootstrap interval as error bars.
    one = summary[summary["group"] == "easy"].assign(mse_lower=[0.5, 1.5], mse_upper=[3.0, 2.5])
    bars = plot_backtest(one, "mse").axes[0].containers
    assert len(bars) == 2
    (_, caps, _), _ = bars
    np.testing.assert_allclose(sorted(np.ravel([cap.get_ydata() for cap in caps])), [0.5, 3.0])
    # Two groups: the mean's half-widths are the groups' combined, sqrt(h1^2 + h2^2) / 2.
    two = summary.assign(
        mse=[1.0, 2.0, 3.0, 2.0], mse_lower=[0.5, 1.5, 1.0, 1.0], mse_upper=[3.0, 2.5, 4.0, 3.0]
    )
    figure = plot_backtest(two, "mse")
    (_, caps, _), _ = figure.axes[0].containers
    expected = [2 - np.sqrt(0.5**2 + 2**2) / 2, 2 + np.sqrt(2**2 + 1**2) / 2]
    np.testing.assert_allclose(sorted(np.ravel([cap.get_ydata() for cap in caps])), expected)
    key = figure.legends[0].get_texts()[-1].get_text()
    assert key == "bars: 90% studentized bootstrap interval"
    # A group without an interval (under 5 replicates): no bar for that method's mean, and
    # the key says so; the other method keeps its bar.
    no_interval = two.assign(mse_lower=[np.nan, 1.5, 1.0, 1.0], mse_upper=[np.nan, 2.5, 4.0, 3.0])
    figure = plot_backtest(no_interval, "mse")
    a_bars, b_bars = (container.lines[2][0] for container in figure.axes[0].containers)
    assert len(a_bars.get_segments()[0]) == 0 and len(b_bars.get_segments()[0]) == 2
    key = figure.legends[0].get_texts()[-1].get_text()
    assert key == "bars: 90% studentized bootstrap interval\n(none under 5 scored replicates)"
    # The note of values a log scale cannot draw counts the points, not the groups' values:
    # a's mean over the two groups, 0.5, is drawn; b's, 0, is not.
    zero = two.assign(mse=[0.0, 0.0, 1.0, 0.0])
    title = plot_backtest(zero, "mse").axes[0].get_title()
    assert title == "k = 100\n1 value of 0 not drawn (log scale)"
    # The budgets are the ticks, labelled as they are.
    several = pd.concat([summary.assign(budget=b) for b in (10, 30, 100)], ignore_index=True)
    ticks = plot_backtest(several, "mse").axes[0].get_xticklabels()
    assert [tick.get_text() for tick in ticks] == ["10", "30", "100"]
    # A metric no method reports draws nothing and says so.
    empty = plot_backtest(summary, "coverage")
    assert (
        not empty.axes[0].lines
        and "no method reports coverage" in empty.axes[0].texts[0].get_text()
    )
    # Coverage is a share: every panel from 0 to 1, whatever the values.
    covered = pd.concat([summary.assign(coverage=0.8), summary.assign(k=1000, coverage=1.0)])
    assert all(ax.get_ylim() == (-0.02, 1.02) for ax in plot_backtest(covered, "coverage").axes)


def test_long_panel_notes_and_legend_keys_wrap_clear_of_each_other():
    # Three methods failing: a note longer than its panel ran into the next panel's and under
    # the legend; cells under 5 replicates: the bars' key made the legend ~4 inches wide, over
    # the title, and squeezed the panel.
    from bayes_passk.plots import plot_backtest

    summary = pd.DataFrame(
        [
            {"method": method, "design": "subsample", "group": "Pythia 70M", "budget": budget,
             "k": k, "replicates": 6, "failed": 3 * (budget == 10), "mse": 0.01,
             "mse_lower": np.nan, "mse_upper": np.nan}
            for k in (100, 10_000)
            for method in ("regression", "beta-binomial", "discretized-beta")
            for budget in (10, 50)
        ]
    )  # fmt: skip
    one_panel = summary[summary["k"] == 100].assign(replicates=2, failed=0)
    for figure in (plot_backtest(summary, "mse"), plot_backtest(one_panel, "mse")):
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        legend = figure.legends[0].get_window_extent(renderer)
        boxes = [figure.texts[0].get_window_extent(renderer)]  # the title
        boxes += [ax.title.get_window_extent(renderer) for ax in figure.axes]
        for i, box in enumerate(boxes):
            assert not box.overlaps(legend), i
            assert figure.bbox.x0 <= box.x0 and box.x1 <= figure.bbox.x1, i
            assert not any(box.overlaps(other) for other in boxes[i + 1 :]), i
        widths = [ax.get_window_extent(renderer).width / figure.dpi for ax in figure.axes]
        assert min(widths) > 3.5  # inches: the panels keep their room


def test_backtest_plots_say_what_they_show():
    from bayes_passk.plots import plot_backtest

    summary = pd.DataFrame(
        {
            "method": ["a", "b"],
            "design": "subsample",
            "group": "g",
            "budget": 100,
            "k": 10,
            "replicates": 20,
            "failed": [0, 4],
            "coverage": [0.9, 0.5],
            "mse": [0.0, 2e-3],
            "mse_lower": [0.0, 1e-3],
            "mse_upper": [0.0, 3e-3],
        }
    )
    figure = plot_backtest(summary, "coverage", reference=0.9, title="pythia-math")
    axes = figure.axes[0]
    assert axes.get_ylabel() == "coverage of the intervals"
    # Wrapped short of the legend's column: the title and the legend do not overlap.
    assert figure.get_suptitle() == "pythia-math; subsample design; g; 20 replicates per\ncell"
    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # the constrained layout places them
    renderer = canvas.get_renderer()
    title_box = figure.texts[0].get_window_extent(renderer)
    assert not title_box.overlaps(figure.legends[0].get_window_extent(renderer))
    # A "$" of a name is text, not math, wherever the title wraps.
    wrapped = plot_backtest(summary, "coverage", title="x" * 50 + "$a$b" + "y" * 60)
    title = wrapped.get_suptitle()
    assert title.count("$") == title.count("\\$") == 2 and "\\\\$" not in title
    assert not any(line.endswith("\\") for line in title.splitlines())
    [legend] = figure.legends  # beside the panels, not over the data
    texts = [text.get_text() for text in legend.get_texts()]
    assert texts == ["a", "b", "nominal 90%", "bars: 90% Wilson interval"]
    # The bars' ends solve (share - x)^2 = z^2 x (1 - x) / n over the n scored replicates.
    z = stats.norm.ppf(0.95)
    for container, share, count in zip(axes.containers, [0.9, 0.5], [20, 16], strict=True):
        quadratic = [1 + z**2 / count, -(2 * share + z**2 / count), share**2]
        ends = np.ravel([cap.get_ydata() for cap in container.lines[1]])
        np.testing.assert_allclose(sorted(ends), sorted(np.roots(quadratic)), rtol=1e-12)
    # An MSE of 0 cannot be drawn on the log scale: the panel says so.
    mse = plot_backtest(summary, "mse")
    assert "1 value of 0 not drawn (log scale)" in mse.axes[0].get_title()
    assert mse.axes[0].get_ylabel() == "MSE of pass@k"
    key = mse.legends[0].get_texts()[-1].get_text()
    assert key == "bars: 90% studentized bootstrap interval"


def test_a_run_s_plots_carry_its_level_and_its_dataset(tmp_path, monkeypatch):
    from bayes_passk import plots

    saved = {}  # file name -> the figure written there
    save = plots.save_figure

    def record(figure, path):  # written as .name.partial, then renamed
        saved[path.name[1 : -len(".partial")]] = figure
        save(figure, path)

    monkeypatch.setattr(plots, "save_figure", record)
    cell = {"design": "subsample", "group": "g", "budget": 100, "k": 10}
    summary = pd.DataFrame({"method": ["a", "b"], **cell, "coverage": [0.8, 0.5], "mse": 1e-3})
    paired = pd.DataFrame({"method": ["b"], "reference": "a", **cell, "difference": 1e-3})
    paired = paired.assign(lower=0.0, upper=2e-3)
    table = pd.DataFrame({"replicate": [0]})
    extra = {"paired.csv": paired}
    cli._write_scored(tmp_path, "backtest.csv", table, summary, 0.8, extra=extra, title="mine")
    assert sorted(saved) == ["coverage.png", "error.png", "paired.png"]
    [nominal] = [line for line in saved["coverage.png"].axes[0].lines if line.get_ls() == "--"]
    assert list(nominal.get_ydata()) == [0.8, 0.8]
    assert "nominal 80%" in [t.get_text() for t in saved["coverage.png"].legends[0].get_texts()]
    for figure in saved.values():
        assert figure.get_suptitle().startswith("mine; subsample design; g")


def test_a_method_has_one_colour_in_every_figure_whatever_is_beside_it():
    # error.png, coverage.png and paired.png (which lacks the reference), and a panel where a
    # method has no value: each method drawn in its own colour throughout.
    from bayes_passk.plots import plot_backtest, plot_paired

    def colours(figure):
        return {c.get_label(): c.lines[0].get_color() for c in figure.axes[0].containers} | {
            line.get_label(): line.get_color()
            for line in figure.axes[0].lines
            if not line.get_label().startswith("_")
        }

    methods = ["bayes-beta-spline", "regression", "beta-binomial"]
    summary = pd.DataFrame(
        {"method": methods, "design": "d", "group": "g", "budget": 10, "k": 100}
        | {"mse": [1.0, 2.0, 3.0], "coverage": [0.9, np.nan, np.nan]}
    )
    paired = pd.DataFrame(
        {"method": methods[1:], "reference": methods[0], "design": "d", "group": "g"}
        | {"budget": 10, "k": 100, "difference": [1.0, 2.0], "lower": 0.0, "upper": 3.0}
    )
    seen = [
        colours(plot_backtest(summary, "mse")),
        colours(plot_backtest(summary, "coverage")),
        colours(plot_paired(paired)),
        colours(plot_backtest(summary.iloc[::-1], "mse")),
    ]
    for method in methods:
        drawn = {mpl_colors.to_hex(figure[method]) for figure in seen if method in figure}
        assert len(drawn) == 1, method
    assert len({mpl_colors.to_hex(seen[0][m]) for m in methods}) == 3
    # Families of one's own take the style's first colours, distinct, as the package's do.
    custom = colours(plot_backtest(summary.assign(method=["bayes-x1", "bayes-x2", "x3"]), "mse"))
    cycle = [mpl_colors.to_hex(c) for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"][:3]]
    assert [mpl_colors.to_hex(custom[m]) for m in ["bayes-x1", "bayes-x2", "x3"]] == cycle


def test_a_backtest_title_names_its_designs_how_many_groups_and_replicates():
    from bayes_passk.plots import _backtest_title

    summary = pd.DataFrame(
        {
            "design": ["subsample", "subsample", "resample", "resample"],
            "group": ["g1", "g2", "g1", "g2"],
            "replicates": [2, 5, 5, 5],
        }
    )
    title = "t; subsample design, resample design; mean over 2 groups; 2-5 replicates per cell"
    assert _backtest_title(summary, "t") == title
    one = summary.iloc[2:3]
    assert _backtest_title(one, "") == "resample design; g1; 5 replicates per cell"


def test_budgets_lie_on_a_log_axis_and_panels_go_by_increasing_k():
    from bayes_passk.plots import plot_backtest, plot_paired

    summary = pd.DataFrame(
        {
            "method": "a",
            "design": "d",
            "group": "g",
            "budget": [10, 100, 10, 100],
            "k": [1000, 1000, 10, 10],  # the larger k first
            "mse": [0.1, 0.2, 0.3, 0.4],
        }
    )
    figure = plot_backtest(summary, "mse")
    assert [ax.get_title() for ax in figure.axes] == ["k = 10", "k = 1000"]
    paired = summary.rename(columns={"mse": "difference"}).assign(
        reference="r", lower=-1.0, upper=1.0
    )
    for axes in [*figure.axes, *plot_paired(paired).axes]:
        assert axes.get_xscale() == "log"
    # No paired differences at all (every other method's fits failed): one panel that says so.
    [axes] = plot_paired(paired.iloc[:0]).axes
    assert [text.get_text() for text in axes.texts] == ["no paired differences"]


def test_coverage_bars_pool_the_groups_scored_replicates():
    # Wilson's interval of the groups' covered share over their scored replicates together:
    # 0.8 of 20 and 0.9 of 16 (4 failed) plotted as 0.85 of 36, the ends the roots of
    # (1 + z^2 / n) x^2 - (2 p + z^2 / n) x + p^2.
    from bayes_passk.plots import plot_backtest

    summary = pd.DataFrame(
        {
            "method": "a",
            "design": "d",
            "group": ["g1", "g2"],
            "budget": 10,
            "k": 10,
            "coverage": [0.8, 0.9],
            "replicates": 20,
            "failed": [0, 4],
        }
    )
    [container] = plot_backtest(summary, "coverage").axes[0].containers
    z, share, count = stats.norm.ppf(0.95), 0.85, 36
    roots = np.roots([1 + z**2 / count, -(2 * share + z**2 / count), share**2])
    ends = np.ravel([cap.get_ydata() for cap in container.lines[1]])
    np.testing.assert_allclose(sorted(ends), sorted(roots), rtol=1e-12)
    # An interval at one budget of two: the key says the other has none.
    mse = summary.iloc[:1].assign(budget=[10], mse=0.1, mse_lower=np.nan, mse_upper=np.nan)
    mse = pd.concat([mse, mse.assign(budget=30, mse=0.2, mse_lower=0.1, mse_upper=0.3)])
    key = plot_backtest(mse, "mse").legends[0].get_texts()[-1].get_text()
    assert key.endswith("(none under 5 scored replicates)")


def test_the_paired_plot_averages_the_groups_differences_and_their_intervals():
    from bayes_passk.plots import plot_paired

    paired = pd.DataFrame(
        {
            "method": "b",
            "reference": "a",
            "design": "subsample",
            "group": ["g1", "g2"],
            "budget": 100,
            "k": 10,
            "replicates": 10,
            "difference": [-2.0, 1.0],
            "level": 0.9,
            "lower": [-3.0, -1.0],
            "upper": [-1.5, 2.0],
        }
    )
    figure = plot_paired(paired, title="data")
    axes = figure.axes[0]
    [container] = axes.containers
    assert container.lines[0].get_ydata()[0] == pytest.approx(-0.5)  # the groups' mean
    ends = sorted(np.ravel([cap.get_ydata() for cap in container.lines[1]]))
    # Half-widths combined as for a mean of independent estimates: sqrt(h1^2 + h2^2) / 2.
    expected = [-0.5 - np.sqrt(1**2 + 2**2) / 2, -0.5 + np.sqrt(0.5**2 + 1**2) / 2]
    np.testing.assert_allclose(ends, expected, rtol=1e-12)
    texts = [text.get_text() for text in figure.legends[0].get_texts()]
    assert texts == ["b", "no difference from a", "bars: 90% studentized bootstrap interval"]
    # The level is the table's, unless one is passed; a table without one leaves it unsaid.
    for table, level, said in [
        (paired.assign(level=0.8), None, "80% "),
        (paired.assign(level=0.8), 0.5, "50% "),
        (paired.drop(columns="level"), None, ""),
    ]:
        key = plot_paired(table, level=level).legends[0].get_texts()[-1].get_text()
        assert key == f"bars: {said}studentized bootstrap interval"
    # A group without an interval (under 5 replicates): no bar for the mean, not a bar of
    # width 0, and the key says so.
    unbarred = plot_paired(paired.assign(lower=[np.nan, -1.0], upper=[np.nan, 2.0]))
    [container] = unbarred.axes[0].containers
    assert [len(bars.get_segments()[0]) for bars in container.lines[2]] == [0]
    key = unbarred.legends[0].get_texts()[-1].get_text()
    assert key == "bars: 90% studentized bootstrap interval\n(none under 5 scored replicates)"
    assert axes.get_ylabel() == "MSE of pass@k minus a's"
    title = "data; subsample design; mean over 2 groups; 10 replicates per cell"
    assert figure.get_suptitle().replace("\n", " ") == title
    # A mean outside its interval keeps its bar on the interval's side (was: mirrored below).
    outside = paired.iloc[:1].assign(difference=-0.01, lower=0.0, upper=0.01)
    [container] = plot_paired(outside).axes[0].containers
    ends = sorted(np.ravel([cap.get_ydata() for cap in container.lines[1]]))
    np.testing.assert_allclose(ends, [-0.01, 0.01], rtol=1e-12)
    # Every method over the same groups: c has no difference in g2 (its fits failed there),
    # so b too is averaged over g1 alone, and the panel says a cell was left out.
    with_c = pd.concat([paired, paired.iloc[:1].assign(method="c")], ignore_index=True)
    axes = plot_paired(with_c).axes[0]
    means = {c.get_label(): c.lines[0].get_ydata()[0] for c in axes.containers}
    assert means == {"b": -2.0, "c": -2.0}
    assert axes.get_title() == "k = 10\n1 group/budget cells left out"
    # No cell shared by every method: nothing drawn, and the panel says why.
    apart = with_c.iloc[1:]  # b in g2 only, c in g1 only
    axes = plot_paired(apart).axes[0]
    assert not any(len(c.lines[0].get_ydata()) for c in axes.containers)
    assert "no group/budget cell where every method" in axes.texts[0].get_text()


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
        "5",
        "--methods",
        "beta-binomial",
        "regression",
        "--reference",
        "regression",
        "--seed",
        "3",
        "--out",
        str(out),
        "--json",
    ]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    summary = report["summary"]
    # The bootstrap intervals of the MSE under --seed, from the written per-replicate table.
    again = backtest.summarize(pd.read_csv(out / "backtest.csv"), seed=3)
    for name in ("mse", "mse_lower", "mse_upper"):
        np.testing.assert_allclose([row[name] for row in summary], again[name], rtol=1e-9)
    assert len(summary) == 2 * 2 * 2  # methods x budgets x k
    assert {row["method"] for row in summary} == {"beta-binomial", "regression"}
    assert "regression: Pythia 12B, budget 100: 5 fits" in captured.err
    names = sorted(p.name for p in out.iterdir())
    expected = ["backtest.csv", "coverage.png", "error.png", "paired.csv", "paired.png"]
    assert names == [*expected, "summary.csv"]
    table = pd.read_csv(out / "backtest.csv")
    assert len(table) == 2 * 2 * 5 * 2
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
        # The interval over the 5 replicates, from the written per-replicate table.
        cell = table[(table["budget"] == row["budget"]) & (table["k"] == row["k"])]
        squared = cell.assign(se=(cell["estimate"] - cell["truth"]) ** 2).pivot(
            index="replicate", columns="method", values="se"
        )
        d = (squared["beta-binomial"] - squared["regression"]).dropna().to_numpy()
        assert row["replicates"] == len(d) == 5
        cell_name = ("subsample", "Pythia 12B", row["budget"], row["k"])
        rng = np.random.default_rng([3, name_number("beta-binomial", "regression", *cell_name)])
        lower, upper = backtest.mean_interval(rng, d, 1000)
        assert row["lower"] == pytest.approx(lower, rel=1e-9, abs=1e-15)
        assert row["upper"] == pytest.approx(upper, rel=1e-9, abs=1e-15)
    # A rerun into the same folder without --reference leaves no paired.csv of the first run.
    rerun = argv[: argv.index("--reference")] + argv[argv.index("--reference") + 2 :]
    assert cli.main(rerun) == 0
    capsys.readouterr()
    assert not (out / "paired.csv").exists() and not (out / "paired.png").exists()
    assert (out / "backtest.csv").exists() and (out / "summary.csv").exists()
    # Printed: the summary's columns, then the one paired row under its reference's name.
    first = report["paired"][0]
    one_cell = ["--budgets", str(first["budget"]), "--k", str(first["k"])]
    cut = argv.index("--budgets")
    printed = argv[:cut] + one_cell + argv[cut + 3 : argv.index("--out")]
    assert cli.main(printed) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "method", "group", "budget", "k", "mse", "abs_error", "coverage", "width", "failed",
        "unconverged_fits",
    ]  # fmt: skip
    heading = lines.index(
        "MSE minus regression's on the same replicates (90% studentized bootstrap interval):"
    )
    assert lines[heading + 1].split()[:2] == ["method", "group"] and len(lines) == heading + 3
    # The same replicates as in the run of every cell (each cell draws from its own seed).
    numbers = [cli._number(first[name]) for name in ("difference", "lower", "upper")]
    assert lines[heading + 2].split()[5:8] == numbers  # after "Pythia 12B", budget, k


def test_cli_backtest_of_a_file_without_groups_names_its_rows_after_the_file(tmp_path, capsys):
    path = tmp_path / "my-model.csv"
    rng = np.random.default_rng(3)
    n = np.full(30, 200)
    c = rng.binomial(n, 0.5 * rng.beta(0.5, 3.0, 30))
    pd.DataFrame({"problem_id": range(30), "n": n, "c": c}).to_csv(path, index=False)
    argv = ["backtest", "--dataset", str(path), "--design", "resample", "--budgets", "20"]
    argv += ["--replicates", "2", "--k", "100", "--methods", "regression", "--json"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert {row["group"] for row in json.loads(captured.out)["summary"]} == {"my-model"}
    assert "regression: my-model, budget 20: 2 fits" in captured.err
    # --problems 12: each replicate draws its own 12 of the 30 problems, and their truth.
    out = tmp_path / "drawn"
    argv[argv.index("--replicates") + 1] = "4"
    assert cli.main([*argv, "--problems", "12", "--out", str(out)]) == 0
    capsys.readouterr()
    truth = pd.read_csv(out / "backtest.csv")["truth"]
    assert truth.nunique() == 4  # all 30 problems would give one truth for every replicate


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--design", "synthetic", "--dataset", "pythia-math"], "leave out --dataset"),
        (["--design", "synthetic", "--groups", "Pythia 1B"], "leave out --dataset, --groups"),
        (["--dataset", "pythia-math", "--format", "counts"], "--format applies to files"),
        (["--design", "resample"], "needs --dataset"),
        (["--dataset", "pythia-math", "--groups", "GPT-9"], "no group 'GPT-9'"),
        (["--dataset", "pythia-math", "--budgets", "20000"], "exceeds the 10000 attempts"),
        (["--dataset", "nowhere.csv"], "file not found"),
        (["--dataset", "pythia-math", "--reference", "lasso"], "'lasso' is not one of --methods"),
        (
            ["--dataset", "pythia-math", "--methods", "regression", "--reference", "regression"],
            "--reference 'regression' needs another of --methods to compare",
        ),
        (["--dataset", "pythia-math", "--budgets", "10", "10"], "--budgets names 10 twice"),
        (["--dataset", "pythia-math", "--k", "100", "100"], "--k names 100 twice"),
        (["--dataset", "bon-jailbreak"], "use --design resample"),
        (["--dataset", "pythia-math", "--problems", "200"], "problems 200 exceeds the 128"),
        (["--design", "synthetic", "--problems", "1e12"], "more than 10^8 entries"),
        (["--design", "synthetic", "--distributed", "a:1", "2"], "no value or three"),
        (["--design", "synthetic", "--distributed", "a", "2", "0"], "'a' is not host:port"),
        (["--design", "synthetic", "--distributed", "a:1", "2", "2"], "ID must be from 0 to"),
        (
            ["--design", "synthetic", "--distributed", "a:1", "0", "0"],
            "PROCESSES must be at least 1",
        ),
        (["--dataset", "pythia-math", "--synthetic-prior", "kumaraswamy"], "leave it out"),
        (
            ["--design", "resample", "--dataset", "x.csv", "--synthetic-prior", "scaled-beta"],
            "with --design resample leave it out",
        ),
        (["--design", "synthetic", "--distributed", "a:1", "x", "0"], "must be whole numbers"),
        (["--design", "synthetic", "--distributed", "a:70000", "2", "0"], "a port from 1 to"),
        (["--design", "synthetic", "--distributed", "a:65536", "2", "0"], "a port from 1 to"),
        (["--design", "synthetic", "--distributed", "a:0", "2", "0"], "a port from 1 to"),
        (["--design", "synthetic", "--join-timeout", "0"], "--join-timeout: expected a positive"),
    ],
)
def test_cli_backtest_bad_input_exits_2_without_output(tmp_path, capsys, argv, message):
    out = tmp_path / "never"
    assert cli.main(["backtest", *argv, "--methods", "regression", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_the_console_explains_failed_and_unconverged_fits():
    from bayes_passk.cli import _scoring_notes

    clean = pd.DataFrame({"failed": [0, 0], "unconverged_fits": [0, 0]})
    points = _table(estimate=[0.5, 0.6], lower=np.nan, upper=np.nan, truth=0.55)
    points["unsolved_part"] = np.nan  # a point method's rows
    assert _scoring_notes(clean, points) == []
    notes = _scoring_notes(clean.assign(failed=[0, 2], unconverged_fits=[1, 0]), points)
    assert notes[0].startswith("failed: replicates whose fit gave no finite forecast")
    assert notes[1].startswith("unconverged_fits: Bayesian fits with r_hat above 1.01")
    # Errors -0.05 and -0.1 against parts 0.1 and 0.02 (the third replicate has no truth, the
    # fourth no estimate: left out, as summarize leaves them out).
    # A fifth: an error of exactly its part, -0.25 against 0.25, within it.
    bayes = _table(
        estimate=[0.5, 0.45, 0.7, np.nan, 0.5],
        lower=0.4,
        upper=0.8,
        truth=[0.55, 0.55, np.nan, 0.5, 0.75],
    )
    bayes["unsolved_part"] = [0.1, 0.02, 0.3, 0.2, 0.25]
    (note,) = _scoring_notes(clean, pd.concat([points, bayes]))
    assert note.startswith("unsolved_part (a column of the tables --out writes): the part of")
    assert note.endswith(
        "at most the truth in 3 of 3 forecasts, the estimate's error within it in 2"
    )


def test_cli_synthetic_design_defaults_are_those_its_help_states(monkeypatch):
    # --synthetic-prior: "scaled-beta"; --problems: 128 drawn from the prior; the grid's cells.
    from bayes_passk import designs

    drawn = []
    monkeypatch.setattr(designs, "synthetic", lambda *args: drawn.append(args))
    args = cli.build_parser().parse_args(["backtest", "--design", "synthetic"])
    cli._backtest_cells(args)
    assert [(family, problems) for _, family, _, _, _, problems, *_ in drawn] == [
        ("scaled-beta", 128)
    ] * len(designs.SYNTHETIC_GRID)
    assert [cell[2:5] for cell in drawn] == list(designs.SYNTHETIC_GRID)
    assert all(cell[6:8] == (100, 20) and list(cell[8]) == [1000, 10000] for cell in drawn)
    parser = cli.build_parser(["backtest"])
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    help_text = {action.dest: action.help for action in commands.choices["backtest"]._actions}
    assert help_text["synthetic_prior"].endswith("; scaled-beta)")
    assert help_text["problems"].startswith(
        "problems per replicate: synthetic, drawn from the prior (128)"
    )


@pytest.mark.slow  # three processes compile the batched programs: about 40 s
def test_cli_backtest_across_two_processes_is_the_one_process_backtest(
    tmp_path, coordinator, run_together
):
    argv = ["backtest", "--design", "synthetic", "--problems", "16", "--budgets", "20"]
    argv += ["--replicates", "2", "--k", "100", "--methods", "bayes-scaled-beta", "regression"]
    argv += ["--warmup", "20", "--samples", "20", "--json"]
    command = [sys.executable, "-m", "bayes_passk.cli", *argv]
    one_device = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    hosts = [
        [
            *command,
            "--distributed",
            coordinator,
            "2",
            str(index),
            "--out",
            str(tmp_path / str(index)),
        ]
        for index in range(2)
    ]
    lead, other = run_together(hosts, one_device)
    assert [lead.returncode, other.returncode] == [0, 0], (lead.stderr[-2000:], other.stderr)
    two_devices = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    alone = subprocess.run(command, capture_output=True, text=True, env=two_devices, check=True)
    # Process 0 prints and writes what one process with both devices does; process 1 neither.
    assert json.loads(lead.stdout) == json.loads(alone.stdout)
    assert "bayes-scaled-beta: 16/16 fits" in lead.stderr
    assert other.stdout == "" and "bayes-passk" not in other.stderr
    assert (tmp_path / "0" / "summary.csv").exists() and not (tmp_path / "1").exists()


@pytest.mark.parametrize(
    "extra, messages",
    [
        pytest.param(  # slow (6-8 s): tests/test_batched.py checks other data by default
            ["--seed", "1"],
            ["process 1 was started with another command than process 0"] * 2,
            marks=pytest.mark.slow,
        ),
        (  # process 1 alone asks for a file it lacks
            ["--dataset", "missing.csv", "--design", "subsample"],
            ["process 1 stopped on an input error", "file not found"],
        ),
    ],
)
def test_cli_processes_given_different_commands_all_stop_with_exit_2(
    extra, messages, coordinator, run_together
):
    command = [sys.executable, "-m", "bayes_passk.cli", "backtest", "--design", "synthetic"]
    command += ["--methods", "regression", "--problems", "16", "--replicates", "2"]
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    hosts = [
        [*command, "--distributed", coordinator, "2", "0"],
        [*command, *extra, "--distributed", coordinator, "2", "1"],
    ]
    for run, message in zip(run_together(hosts, env, timeout=120), messages, strict=True):
        assert run.returncode == 2 and run.stdout == "", run.stderr
        assert message in run.stderr and "Traceback" not in run.stderr


@pytest.mark.slow  # 6-10 s; the test above starts two processes by default
def test_processes_may_differ_in_out_and_join_timeout(coordinator, run_together, tmp_path):
    command = [sys.executable, "-m", "bayes_passk.cli", "backtest", "--design", "synthetic"]
    command += ["--methods", "regression", "--problems", "16", "--replicates", "2"]
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    hosts = [
        [*command, "--distributed", coordinator, "2", "0", "--out", str(tmp_path / "0")],
        [*command, "--distributed", coordinator, "2", "1", "--join-timeout", "100"],
    ]
    lead, other = run_together(hosts, env, timeout=120)
    assert [lead.returncode, other.returncode] == [0, 0], (lead.stderr, other.stderr)
    assert (tmp_path / "0" / "summary.csv").exists() and other.stdout == ""


# Process 0 (the coordinator's host) by default; process 1 slow (5 s; the suite near its
# 10 minutes on CI).
@pytest.mark.parametrize("index", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_a_process_left_alone_stops_with_exit_2_at_the_join_timeout(index, coordinator, tmp_path):
    # Without the package's own deadline, JAX aborts the process from C++ (exit 134, a trace).
    command = [sys.executable, "-m", "bayes_passk.cli", "backtest", "--design", "synthetic"]
    command += ["--methods", "regression", "--distributed", coordinator, "2", str(index)]
    command += ["--join-timeout", "2", "--out", str(tmp_path / "never")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == "", run.stderr
    assert "not every process joined at" in run.stderr and "within 2 s" in run.stderr
    assert f"process {index} joining at" in run.stderr and "waiting up to 2 s" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "never").exists()


def test_a_coordinator_port_in_use_is_refused(coordinator):
    # JAX's coordinator service crashes on a taken port (exit 139): process 0 checks first.
    host, port = coordinator.rsplit(":", 1)
    with socket.socket() as holder:
        holder.bind((host, int(port)))
        holder.listen()
        command = [sys.executable, "-m", "bayes_passk.cli", "backtest", "--design", "synthetic"]
        command += ["--distributed", coordinator, "2", "0", "--join-timeout", "2"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stdout == "", run.stderr
    assert f"port {port}, which is taken on this host" in run.stderr


@pytest.mark.parametrize(
    ("stop", "other_code"),
    [
        # Ctrl-C: it says so and leaves at once. Slow (40 s): the default suite keeps the
        # other way a process is lost mid-run (a bug), and Ctrl-C of one process (test_cli).
        pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow),
        pytest.param(signal.SIGKILL, -signal.SIGKILL, marks=pytest.mark.slow),  # a host lost
    ],
    ids=["ctrl-c", "killed"],
)
def test_a_process_lost_mid_run_stops_the_others_with_exit_1(
    stop, other_code, coordinator, tmp_path
):
    # Before: killed, a process left the others a traceback, 100 s of waiting and an abort
    # from C++ (exit 134). Ctrl-C'd, it waited in JAX's shutdown for the others, which waited
    # for it in their next exchange: both stalled 5 minutes, then aborted the same way.
    # As from a terminal: a test run started in the background starts its children with
    # Ctrl-C ignored, and a process that ignores it is left alone.
    cli_with_ctrl_c = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from bayes_passk.cli import main; sys.exit(main())"
    )
    command = [sys.executable, "-c", cli_with_ctrl_c, "backtest", "--design", "synthetic"]
    command += ["--problems", "16", "--budgets", "20", "--replicates", "1", "--k", "100"]
    command += ["--methods", "bayes-scaled-beta", "--warmup", "200", "--samples", "200"]
    command += ["--chunk", "1", "--distributed", coordinator, "2"]  # 4 chunks of 2
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    out = tmp_path / "never"
    pipes = dict(stderr=subprocess.PIPE, text=True, env=env)
    with (
        subprocess.Popen([*command, "0", "--out", str(out)], **pipes) as lead,
        subprocess.Popen([*command, "1"], **pipes) as other,
    ):
        try:
            for line in lead.stderr:  # the first chunk is done: both processes run the fits
                if "fits" in line and "/" in line:
                    break
            other.send_signal(stop)
            assert other.wait(timeout=120) == other_code
            stderr = lead.stderr.read()
            assert lead.wait(timeout=120) == 1, stderr
            other_stderr = other.stderr.read()
        finally:
            lead.kill()
            other.kill()
    assert "error: --distributed lost another process mid-run" in stderr
    assert "Traceback" not in stderr + other_stderr and not out.exists()
    assert ("bayes-passk: interrupted" in other_stderr) == (stop == signal.SIGINT)


@pytest.mark.slow  # two processes compile and fit 4 chunks each: 39 s of the default suite
def test_a_bug_in_one_process_mid_run_stops_every_process_with_exit_1(
    run_with_a_bug_in_process_1, tmp_path
):
    # Before: the failing process printed its traceback, then waited in JAX's shutdown for the
    # others, which waited for it at their next exchange until JAX aborted them from C++.
    arguments = ["backtest", "--design", "synthetic", "--problems", "16", "--budgets", "20"]
    arguments += ["--replicates", "1", "--k", "100", "--methods", "bayes-beta-spline"]
    arguments += ["--warmup", "100", "--samples", "100", "--chunk", "1"]  # 4 chunks of 2
    lead, other = run_with_a_bug_in_process_1(arguments, "backtest")
    assert [lead.returncode, other.returncode] == [1, 1], (lead.stderr, other.stderr)
    assert "error: --distributed lost another process mid-run" in lead.stderr
    assert "Traceback" in other.stderr and "RuntimeError: an injected bug" in other.stderr
    assert "Traceback" not in lead.stderr and not (tmp_path / "never").exists()


@pytest.mark.parametrize(
    ("argv", "design"),
    [
        (["--design", "synthetic", "--problems", "4"], "synthetic"),
        (["--design", "resample", "--dataset", "pythia-math"], "resample"),
        (["--design", "subsample", "--dataset", "pythia-math"], "subsample"),
    ],
)
def test_every_cell_of_a_backtest_draws_from_its_own_seed(argv, design, monkeypatch):
    # A seed shared by two cells (two budgets, or two grid points) would draw their outcomes
    # from one stream: cells that should be independent replicates of the design would not be.
    from bayes_passk import designs

    seeds = []
    draw = getattr(designs, design)

    def recorded(seed, *args, **kwargs):
        seeds.append(tuple(np.atleast_1d(seed)))
        return draw(seed, *args, **kwargs)

    monkeypatch.setattr(designs, design, recorded)
    parser = cli.build_parser(commands=["backtest"])
    argv = ["backtest", *argv, "--budgets", "10", "30", "--replicates", "2"]
    if design != "synthetic":
        argv += ["--groups", "Pythia 1B", "Pythia 12B"]
    args = parser.parse_args(argv)
    cells = cli._backtest_cells(args)
    assert len(seeds) == len(cells) > 2 and len(set(seeds)) == len(seeds)
