import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_passk import estimators
from bayes_passk.data import InputError, PassData
from bayes_passk.estimators import mean_pass_at_k, mean_pass_hat_k, pass_at_k, pass_hat_k


@st.composite
def outcomes_and_k(draw):
    outcomes = draw(st.lists(st.booleans(), min_size=1, max_size=10))
    k = draw(st.integers(1, len(outcomes)))
    return outcomes, k


def brute_force(outcomes, k, event):
    subsets = list(itertools.combinations(outcomes, k))
    return Fraction(sum(event(subset) for subset in subsets), len(subsets))


@settings(max_examples=300, deadline=None)
@given(outcomes_and_k())
def test_pass_at_k_matches_enumeration_of_all_k_subsets(case):
    outcomes, k = case
    expected = brute_force(outcomes, k, any)
    assert pass_at_k(len(outcomes), sum(outcomes), k) == pytest.approx(float(expected), abs=1e-14)


@settings(max_examples=300, deadline=None)
@given(outcomes_and_k())
def test_pass_hat_k_matches_enumeration_of_all_k_subsets(case):
    outcomes, k = case
    expected = brute_force(outcomes, k, all)
    assert pass_hat_k(len(outcomes), sum(outcomes), k) == pytest.approx(float(expected), abs=1e-14)


@pytest.mark.parametrize("n", [1, 7, 1000, 4_000_000])
def test_closed_forms_at_no_and_all_successes(n):
    ks = [k for k in (1, 2, 50, n) if k <= n]
    assert np.all(pass_at_k(n, 0, ks) == 0.0)
    assert np.all(pass_at_k(n, n, ks) == 1.0)
    assert np.all(pass_hat_k(n, 0, ks) == 0.0)
    assert np.all(pass_hat_k(n, n, ks) == 1.0)
    assert np.signbit(pass_at_k(n, 0, 1)) == 0  # +0.0, not -0.0


def test_k_above_n_is_nan_never_a_made_up_value():
    n, c = np.array([3, 5, 10]), np.array([0, 5, 2])
    for estimate in (pass_at_k, pass_hat_k):
        values = estimate(n, c, [4, 6, 11])
        assert np.isnan(values[0]).tolist() == [True, False, False]
        assert np.isnan(values[1]).tolist() == [True, True, False]
        assert np.isnan(values[2]).all()


def test_large_n_single_success_is_one_over_n():
    assert pass_at_k(4_000_000, 1, 1) == pytest.approx(2.5e-7, rel=1e-14, abs=0)
    assert pass_hat_k(4_000_000, 1, 1) == pytest.approx(2.5e-7, rel=1e-14, abs=0)


@pytest.mark.parametrize("n", [2**53, 3 * 10**17, 2**63 - 1])
def test_huge_n_single_success_is_k_over_n(n):
    # 1 - C(n - 1, k) / C(n, k) = k / n exactly; the work stays bounded for any int64 n.
    np.testing.assert_allclose(pass_at_k(n, 1, [1, 10**6]), [1 / n, 1e6 / n], rtol=1e-12)


def test_matches_exact_fractions_for_moderate_n():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 3000, size=200)
    c = rng.integers(0, n + 1)
    k = 37
    got_at, got_hat = pass_at_k(n, c, k), pass_hat_k(n, c, k)
    for i in range(len(n)):
        ni, ci = int(n[i]), int(c[i])
        if k > ni:
            assert np.isnan(got_at[i]) and np.isnan(got_hat[i])
            continue
        exact_at = 1 - Fraction(math.comb(ni - ci, k), math.comb(ni, k))
        exact_hat = Fraction(math.comb(ci, k), math.comb(ni, k))
        assert got_at[i] == pytest.approx(float(exact_at), rel=1e-12, abs=1e-300)
        assert got_hat[i] == pytest.approx(float(exact_hat), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(
    ("n", "c", "k"),
    [
        (4_000_000, 1, 1),
        (4_000_000, 3, 1000),
        (4_000_000, 1000, 3),
        (4_000_000, 50_000, 100),
        (4_000_000, 100_000, 1000),  # log(1 - pass@k) = -25.3: every term counts
        (4_000_000, 130_000, 1000),  # -33.0: 1 - pass@k = 4.5e-15 still shows in float64
        (3_720_320, 17, 1_000_000),
        (4_000_000, 2_000_000, 2_000_000),  # stops summing early: pass@k is 1 in float64
    ],
)
def test_matches_mpmath_for_n_in_the_millions(n, c, k):
    with mpmath.workdps(60):
        all_miss = mpmath.binomial(n - c, k) / mpmath.binomial(n, k)
        all_hit = mpmath.binomial(c, k) / mpmath.binomial(n, k)
    # Within float64's rounding (measured: at most 1.6e-16).
    assert pass_at_k(n, c, k) == pytest.approx(float(1 - all_miss), rel=1e-15, abs=0)
    assert pass_hat_k(n, c, k) == pytest.approx(float(all_hit), rel=1e-10, abs=0)


def test_pass_hat_k_tiny_values_keep_relative_precision():
    n, c, k = 4_000_000, 3_999_000, 1_000_000
    with mpmath.workdps(60):
        exact = mpmath.binomial(c, k) / mpmath.binomial(n, k)
    assert float(exact) < 1e-100
    assert pass_hat_k(n, c, k) == pytest.approx(float(exact), rel=1e-10, abs=0)


def test_ragged_vector_equals_problem_by_problem():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 5000, size=300)
    n[:3] = [3_720_320, 128, 1]
    c = rng.binomial(n, 0.3)
    ks = [1, 7, 100, 2000]
    vector = pass_at_k(n, c, ks)
    assert vector.shape == (len(ks), len(n))
    for j, k in enumerate(ks):
        single = [pass_at_k(int(ni), int(ci), k) for ni, ci in zip(n, c, strict=True)]
        np.testing.assert_array_equal(vector[j], single)


def test_small_batches_give_the_same_sums(monkeypatch):
    rng = np.random.default_rng(2)
    n = rng.integers(50, 400, size=100)
    c = rng.integers(0, n + 1)
    expected = pass_at_k(n, c, [5, 40]), pass_hat_k(n, c, [5, 40])
    monkeypatch.setattr(estimators, "_TERMS_PER_BATCH", 64)
    np.testing.assert_allclose(pass_at_k(n, c, [5, 40]), expected[0], rtol=1e-15)
    np.testing.assert_allclose(pass_hat_k(n, c, [5, 40]), expected[1], rtol=1e-15)


def test_shapes_for_scalar_and_sequence_k():
    n, c = [10, 20, 30], [1, 2, 3]
    assert pass_at_k(n, c, 3).shape == (3,)
    assert pass_at_k(n, c, [3]).shape == (1, 3)
    assert pass_hat_k(n, c, (1, 2)).shape == (2, 3)
    assert pass_at_k(n, c, np.int64(3)).shape == (3,)
    assert pass_at_k([], [], [1, 2]).shape == (2, 0)


@pytest.mark.parametrize(
    "k",
    [0, -1, 2.5, [], [1, 0], True, [True, 5], np.True_, [[1]], "100", ["1", "2"], [[1, 2], [3]]],
)
def test_invalid_k_raises(k):
    with pytest.raises(InputError, match="k must be a positive integer"):
        pass_at_k([10], [1], k)


def test_the_largest_k_is_2_to_the_53():
    assert estimators.as_ks([1, 2**53]).tolist() == [1, 2**53]
    assert pass_at_k([2**62], [2**61], 2**53) == 1.0


def test_too_large_a_k_is_named_alone():
    with pytest.raises(InputError, match=r"at most 2\^53 = 9007199254740992, got 1e\+300$"):
        pass_at_k([10], [1], [1, 1e300])


@pytest.mark.parametrize(
    ("n", "c", "message"),
    [
        ([5, 5], [1, 6], "at index 1: n = 5, c = 6"),
        ([5], [-1], "at index 0: n = 5, c = -1"),
        ([5, 5.5], [1, 1], "n must hold whole numbers, got 5.5$"),
        ([np.nan], [1], "n must hold whole numbers, got nan$"),
        (["a"], [1], "n must hold whole numbers, got 'a'$"),
        ([10, None], [1, 1], "n must hold whole numbers, got None$"),
        ([10], [True], "c must hold whole numbers, got True$"),
        ([10, 2**64], [1, 1], "n = 18446744073709551616 at index 1 is too large"),
        ([1e20], [1], r"n = 1e\+20 at index 0 is too large"),
        ([2**63], [0], "n = 9223372036854775808 at index 0 is too large"),  # int64 + 1
        ([2.0**63], [0], r"n = 9\.223372036854776e\+18 at index 0 is too large"),
        ([10, 10], [1, 2, 3], r"n and c differ in shape: \(2,\) and \(3,\)"),
    ],
)
def test_invalid_counts_raise_naming_the_value(n, c, message):
    with pytest.raises(InputError, match=message):
        pass_at_k(n, c, 1)


def test_a_table_where_pass_data_is_expected_is_told_how_to_build_it():
    import pandas as pd

    from bayes_passk.baselines import fit_baseline

    frame = pd.DataFrame({"problem_id": ["a", "b"], "n": [10, 10], "c": [1, 2]})
    for call in (mean_pass_at_k, mean_pass_hat_k):
        with pytest.raises(InputError, match="data must be a PassData .* got DataFrame"):
            call(frame, [1])
    with pytest.raises(InputError, match="data must be a PassData .* got DataFrame"):
        fit_baseline(frame, "beta-binomial")
    assert mean_pass_at_k(PassData.from_frame(frame), [1]) == pytest.approx([0.15], rel=1e-15)


def test_mean_pass_at_k_averages_and_is_nan_when_any_problem_has_too_few_attempts():
    data = PassData.from_counts(["a", "b", "c"], n=[10, 20, 5], c=[1, 0, 5])
    means = mean_pass_at_k(data, [1, 5, 6])
    assert means[0] == pytest.approx((0.1 + 0 + 1) / 3)
    assert means[1] == pytest.approx(pass_at_k([10, 20, 5], [1, 0, 5], 5).mean())
    assert np.isnan(means[2])
    hats = mean_pass_hat_k(data, [1, 6])
    assert hats[0] == pytest.approx(means[0])
    assert np.isnan(hats[1])


def test_means_need_a_single_group():
    data = PassData.from_counts(["a", "a"], n=[10, 10], c=[1, 2], group=["m1", "m2"])
    with pytest.raises(InputError, match="2 groups"):
        mean_pass_at_k(data, 1)
    assert mean_pass_hat_k(data.select("m2"), 1) == pytest.approx(0.2)
