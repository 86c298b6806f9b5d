"""Backtest designs: distributions of the drawn counts and their truths, against closed forms."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from scipy import stats

from bayes_passk import designs
from bayes_passk.data import InputError, PassData
from bayes_passk.estimators import mean_pass_at_k

FULL = PassData.from_counts(
    [f"p{i}" for i in range(6)], n=[1000] * 5 + [400], c=[0, 1, 20, 300, 1000, 100]
)
KS = [1, 10, 100]


def test_subsample_counts_are_hypergeometric_and_truth_is_the_full_data_estimate():
    design = designs.subsample(0, FULL, budget=40, replicates=4000, ks=KS)
    assert design.n.shape == design.c.shape == (4000, 6)
    assert (design.n == 40).all()
    # Hypergeometric mean and variance per problem; the sample mean over 4000 replicates is
    # within 4 standard errors.
    n, c = FULL.n, FULL.c
    mean = 40 * c / n
    var = 40 * (c / n) * (1 - c / n) * (n - 40) / (n - 1)
    se = np.sqrt(var / 4000)
    assert np.all(np.abs(design.c.mean(axis=0) - mean) <= 4 * se + 1e-12)
    np.testing.assert_array_equal(design.truth[0], mean_pass_at_k(FULL, KS))
    assert (design.truth == design.truth[0]).all()
    assert design.c[:, 0].max() == 0 and (design.c[:, 4] == 40).all()


def test_subsample_variance_has_the_finite_population_factor():
    # Without replacement the variance shrinks by (n - b) / (n - 1): 0.50 for p5 (b = 200 of
    # 400), 0.80 for the others; draws with replacement would give 1. The sample variance of
    # 8000 replicates is within 5 of its standard errors, sqrt(2 / 7999) = 1.6%, of it.
    design = designs.subsample(3, FULL, budget=200, replicates=8000, ks=KS)
    n, c = FULL.n, FULL.c
    inside = (c > 0) & (c < n)
    var = 200 * (c / n) * (1 - c / n) * (n - 200) / (n - 1)
    ratio = design.c.var(axis=0, ddof=1)[inside] / var[inside]
    assert np.all(np.abs(ratio - 1) <= 5 * np.sqrt(2 / 7999)), ratio


def test_a_number_of_problems_is_drawn_anew_for_each_replicate():
    # Every attempt of ten problems with distinct counts: each replicate's counts name the
    # problems it drew, and its truth must be theirs.
    full = PassData.from_counts([f"q{i}" for i in range(10)], n=[500] * 10, c=np.arange(10) * 7)
    design = designs.subsample(5, full, budget=500, replicates=3000, ks=KS, problems=4)
    assert design.c.shape == design.n.shape == (3000, 4)
    drawn = design.c // 7
    assert (np.diff(drawn, axis=1) > 0).all()  # four different problems, in the data's order
    for row, truth in zip(drawn[:50], design.truth[:50], strict=True):
        picked = PassData.from_counts(row.astype(str), n=full.n[row], c=full.c[row])
        np.testing.assert_allclose(truth, mean_pass_at_k(picked, KS), rtol=1e-12)
    # Each problem in a replicate with probability 4/10: within 4 standard errors.
    share = np.bincount(drawn.ravel(), minlength=10) / 3000
    assert np.all(np.abs(share - 0.4) <= 4 * np.sqrt(0.4 * 0.6 / 3000)), share
    # Rates 0 and 1 only: the resample's truth is the share of sure problems among those drawn.
    sure = PassData.from_counts([f"s{i}" for i in range(6)], n=[200] * 6, c=[0, 200] * 3)
    resampled = designs.resample(5, sure, budget=20, replicates=200, ks=KS, problems=3)
    share_sure = (resampled.c == 20).mean(axis=1)
    np.testing.assert_allclose(resampled.truth, np.repeat(share_sure[:, None], 3, axis=1))
    assert np.unique(share_sure).size == 4  # 0 to 3 sure problems: the problems drawn differ
    with pytest.raises(InputError, match="problems 11 exceeds the 10 problems"):
        designs.subsample(5, full, budget=50, replicates=2, ks=KS, problems=11)
    with pytest.raises(InputError, match="problems must be a positive integer, got 0"):
        designs.resample(5, full, budget=50, replicates=2, ks=KS, problems=0)


@pytest.mark.parametrize("draw", [designs.subsample, designs.resample])
def test_every_part_of_a_seed_counts(draw):
    # The command line seeds a cell by [seed, group, budget]: cells that differ in the last
    # part alone must draw other problems (seen in their truths), not share one stream.
    first = draw([7, 1, 10], FULL, 10, 40, [1], problems=3).truth
    second = draw([7, 1, 20], FULL, 10, 40, [1], problems=3).truth
    assert not np.array_equal(first, second)


def test_subsample_draws_past_numpy_s_hypergeometric_limit():
    # NumPy refuses HG(good, bad, m) with good or bad of 10^9 or more; such problems are drawn
    # exactly another way. Rates 1/4 and 1/2 of 4 * 10^9 attempts, 50 drawn (a finite-population
    # factor of 1 to 10^-8): binomial counts, means within 4 standard errors, variances within
    # 5 of theirs (2%).
    n = 4 * 10**9
    full = PassData.from_counts(["a", "b", "c"], n=[n, n, 400], c=[n // 4, n // 2, 100])
    design = designs.subsample(7, full, budget=50, replicates=4000, ks=KS)
    rate = np.array([0.25, 0.5, 0.25])
    assert np.all(
        np.abs(design.c.mean(axis=0) - 50 * rate) <= 4 * np.sqrt(50 * rate * (1 - rate) / 4000)
    )
    variance = 50 * rate * (1 - rate) * (full.n - 50) / (full.n - 1)
    assert np.all(np.abs(design.c.var(axis=0, ddof=1) / variance - 1) <= 5 * np.sqrt(2 / 3999))
    # Every attempt a success or every one a failure: all successes or none, as below the limit.
    sure = PassData.from_counts(["s", "f"], n=[n, n], c=[n, 0])
    assert designs.subsample(1, sure, budget=30, replicates=5, ks=KS).c.tolist() == [[30, 0]] * 5
    # At the limit itself (10^9 successes or failures: NumPy refuses those too).
    edge = PassData.from_counts(["g", "b"], n=[10**9 + 1, 10**9 + 1], c=[10**9, 1])
    counts = designs.subsample(2, edge, budget=20, replicates=3, ks=KS).c
    assert counts.shape == (3, 2) and (counts[:, 0] >= 19).all() and (counts[:, 1] <= 1).all()


def test_a_subsample_of_every_attempt_is_the_full_count():
    # Without replacement all 400 attempts of p5 are its 100 successes, in every replicate.
    design = designs.subsample(1, FULL, budget=400, replicates=50, ks=KS)
    assert (design.c[:, 5] == 100).all()


def test_subsample_cannot_exceed_the_recorded_attempts():
    with pytest.raises(InputError, match="exceeds the 400 attempts"):
        designs.subsample(0, FULL, budget=401, replicates=2, ks=KS)
    with pytest.raises(InputError, match="k = 401 exceeds the 400 attempts"):
        designs.subsample(0, FULL, budget=40, replicates=2, ks=[1, 401])


def test_resample_truth_is_exact_for_huge_k():
    # FULL's unsolved problem had fewer attempts than k: the design says what that means.
    with pytest.warns(UserWarning, match=r"1 of \d+ problems have no success in fewer than k = "):
        design = designs.resample(1, FULL, budget=50, replicates=3, ks=[1, 10**6, 10**9])
    rates = FULL.c / FULL.n
    with np.errstate(divide="ignore"):
        exact = [1 - np.mean((1 - rates) ** k) for k in (1, 10**6, 10**9)]
    np.testing.assert_allclose(design.truth[0], exact, rtol=1e-12)
    assert (design.c[:, 0] == 0).all() and (design.c[:, 4] == 50).all()


def test_resample_warns_only_where_k_exceeds_an_unsolved_problem_s_attempts():
    full = PassData.from_counts(["a", "b"], [10, 10], [0, 5])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # k = n: the truth needs no extrapolation
        designs.resample(0, full, budget=5, replicates=2, ks=[10])
    with pytest.warns(UserWarning, match=r"1 of 2 problems have no success in fewer than k = 11"):
        designs.resample(0, full, budget=5, replicates=2, ks=[11])


def test_resample_counts_are_binomial_at_the_full_data_rates():
    # Binomial(40, c / n) mean per problem: the mean over 4000 replicates within 4 standard
    # errors; rates at another n (p5 has 400 attempts, the others 1000) would be off by many.
    design = designs.resample(2, FULL, budget=40, replicates=4000, ks=KS)
    assert (design.n == 40).all()
    rates = FULL.c / FULL.n
    se = np.sqrt(40 * rates * (1 - rates) / 4000)
    assert np.all(np.abs(design.c.mean(axis=0) - 40 * rates) <= 4 * se + 1e-12)
    # And the spread of a Binomial: the sample variance of 4000 draws has a relative sd of
    # sqrt((2 + excess kurtosis) / 4000), at most 2.9% here (p2, mean 0.8, excess kurtosis
    # ~1.2): within 4 of them, 12%.
    inner = [2, 3, 5]
    variance = 40 * rates[inner] * (1 - rates[inner])
    np.testing.assert_allclose(design.c[:, inner].var(axis=0, ddof=1), variance, rtol=0.12)


@pytest.mark.parametrize("family", ["scaled-beta", "kumaraswamy"])
def test_synthetic_rates_follow_the_family(family):
    a, b, scale = 0.4, 3.5, 0.8
    design = designs.synthetic(2, family, a, b, scale, 2000, 10**6, 1, [1])
    # With a million attempts c / n is the rate to within 1e-3: compare its distribution with
    # the exact CDF (KS). The binomial noise, and rates below 1e-6 read as 0, move the empirical
    # CDF by under 0.01, a quarter of the test's critical distance (0.044 at 2,000 draws).
    q = design.c[0] / design.n[0] / scale
    if family == "scaled-beta":
        cdf = stats.beta(a, b).cdf
    else:
        cdf = lambda x: 1 - (1 - np.clip(x, 0, 1) ** a) ** b  # noqa: E731
    assert stats.kstest(q, cdf).pvalue > 1e-3
    assert design.exponent == a
    assert design.group == f"{family} a=0.4 b=3.5 s=0.8"  # rows name the cell they come from


def test_synthetic_rates_may_fill_the_whole_unit_interval():
    # scale = 1 is the unscaled family, inside the documented (0, 1].
    design = designs.synthetic(0, "scaled-beta", 0.4, 5.0, 1.0, 10, 5, 2, [1])
    assert design.c.shape == (2, 10)
    with pytest.raises(InputError, match=r"scale of the synthetic rates must be in \(0, 1\]"):
        designs.synthetic(0, "scaled-beta", 0.4, 5.0, 1.01, 10, 5, 2, [1])


def test_synthetic_truth_matches_the_drawn_problems():
    # pass@1 truth is each replicate's mean rate; with 10^6 attempts per problem the observed
    # rate is within ~1e-5 of it, while the mean rate of 50 problems varies by ~0.01 between
    # replicates, so a truth taken from another replicate's problems fails.
    design = designs.synthetic(3, "scaled-beta", 0.15, 5.0, 0.1, 50, 10**6, 5, [1])
    rate = design.truth[:, 0]
    se = np.sqrt(rate * (1 - rate) / (50 * 10**6))
    assert np.all(np.abs(design.c.mean(axis=1) / 10**6 - rate) < 5 * se + 1e-12)
    assert np.ptp(rate) > 100 * se.max()


@pytest.mark.parametrize("family", ["scaled-beta", "kumaraswamy"])
def test_synthetic_counts_are_binomial_in_the_whole_budget(family):
    # Given its drawn rates a replicate's mean count is budget x its pass@1 truth; over 2000
    # replicates the mean difference is within 4 standard errors (bounded by the binomial
    # variance at the mean rate). Counts of budget - 1 attempts would be 20% low.
    design = designs.synthetic(4, family, 0.4, 3.5, 0.8, 100, 5, 2000, [1])
    rate = design.truth[:, 0]
    difference = design.c.mean(axis=1) - 5 * rate
    se = np.sqrt(np.mean(5 * rate * (1 - rate) / 100) / 2000)
    assert abs(difference.mean()) < 4 * se, (difference.mean(), se)
    assert (design.n == 5).all()


def test_bad_arguments_are_clear_errors():
    with pytest.raises(InputError, match="budget must be a positive integer, got 0"):
        designs.resample(0, FULL, budget=0, replicates=2, ks=KS)
    with pytest.raises(InputError, match="budget must be a positive integer, got 50.5"):
        designs.resample(0, FULL, budget=50.5, replicates=2, ks=KS)  # was run with float n
    with pytest.raises(InputError, match="replicates must be a positive integer, got 2.0"):
        designs.resample(0, FULL, budget=5, replicates=2.0, ks=KS)
    for a, b, scale, named in [(-0.1, 1.0, 0.5, "a"), (0.1, 0.0, 0.5, "b"), (0.1, 1.0, 2, "scale")]:
        with pytest.raises(InputError, match=f"^{named} of the synthetic rates must be"):
            designs.synthetic(0, "kumaraswamy", a, b, scale, 10, 10, 1, KS)
    with pytest.raises(InputError, match="positive integer"):
        designs.resample(0, FULL, budget=5, replicates=2, ks=[0])
    with pytest.raises(InputError, match="positive integer"):
        designs.resample(0, FULL, budget=5, replicates=2, ks=[10, 2.5])  # not truncated to 2
    with pytest.raises(InputError, match="k values repeat"):
        designs.resample(0, FULL, budget=5, replicates=2, ks=[10, 10])
    with pytest.raises(InputError, match="more than 10\\^8 entries"):
        designs.synthetic(0, "scaled-beta", 0.1, 1.0, 0.5, 10**12, 10, 1, KS)
    with pytest.raises(InputError, match="scaled-beta"):
        designs.synthetic(0, "normal", 0.1, 1.0, 0.5, 10, 10, 1, KS)


def test_seeds_are_checked_before_numpy_sees_them():
    """A negative or fractional seed, alone or in a sequence, is named; NumPy's error was not."""
    for seed, shown in [(-1, "-1"), (1.5, "1.5"), ([3, -2], "-2"), ("7", "'7'")]:
        with pytest.raises(InputError, match=f"seed must be an integer from 0 .*got {shown}$"):
            designs.resample(seed, FULL, budget=5, replicates=2, ks=KS)
    same = [designs.resample([3, 2], FULL, budget=5, replicates=2, ks=KS).c for _ in range(2)]
    np.testing.assert_array_equal(*same)
    # Every part of a seed counts: cells seeded [seed, group, budget] draw their own streams.
    for other in ([3, 5], [4, 2]):
        assert not np.array_equal(
            same[0], designs.resample(other, FULL, budget=5, replicates=2, ks=KS).c
        )


@pytest.mark.parametrize("problems", [None, 3])
@pytest.mark.parametrize("design", [designs.subsample, designs.resample])
def test_a_seed_fixes_the_problems_and_attempts_drawn(design, problems):
    # The same seed draws the same problems and attempts; another seed draws others.
    def drawn(seed):
        cell = design(seed, FULL, budget=20, replicates=50, ks=KS, problems=problems)
        return cell.c, cell.truth

    again = drawn([7, 1])
    for same, repeat in zip(again, drawn([7, 1]), strict=True):
        np.testing.assert_array_equal(same, repeat)
    other = drawn([7, 2])
    assert not np.array_equal(again[0], other[0])
    if problems is not None:  # which problems a replicate has shows in its truth
        assert not np.array_equal(again[1], other[1])


def test_the_synthetic_grid_is_the_published_one():
    # Schaeffer et al. 2025: a in {0.15, 0.4}, b in {3.5, 5}, scale in {0.1, 0.8}.
    expected = {(a, b, s) for a in (0.15, 0.4) for b in (3.5, 5.0) for s in (0.1, 0.8)}
    assert len(designs.SYNTHETIC_GRID) == 8 and set(designs.SYNTHETIC_GRID) == expected


def test_the_truth_of_tiny_rates_at_huge_k_keeps_its_digits():
    # 1 - (1 - p)^k at p = 1e-12, k = 1e9: about 1e-3, where log(1 - p) in place of
    # log1p(-p) is off by 1e-4 of the answer (1 - p rounds to a neighbour of 1).
    rates, ks = np.array([1e-12, 3e-7]), np.array([10**9, 10**4])
    with mpmath.workdps(50):
        exact = [
            float(1 - sum((1 - mpmath.mpf(p)) ** int(k) for p in rates) / len(rates)) for k in ks
        ]
    np.testing.assert_allclose(designs.pass_at_k_of_rates(rates, ks), exact, rtol=1e-12)
    # pass@1 is the mean rate, however small: 1 - exp(log S) in place of -expm1 kept 5 digits.
    tiny = designs.pass_at_k_of_rates(np.array([1e-15, 3e-13]), np.array([1]))
    np.testing.assert_allclose(tiny, [1.505e-13], rtol=1e-12)
