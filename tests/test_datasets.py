from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_passk.data import InputError, PassData
from bayes_passk.datasets import (
    Attempts,
    DatasetInfo,
    list_datasets,
    load,
    load_attempts,
)
from bayes_passk.estimators import mean_pass_at_k

PYTHIA_MODELS = [
    "Pythia 70M",
    "Pythia 160M",
    "Pythia 410M",
    "Pythia 1B",
    "Pythia 2.8B",
    "Pythia 6.9B",
    "Pythia 12B",
]
ZERO_SUCCESS_PROBLEMS = [94, 55, 44, 33, 24, 21, 16]
TOTAL_SUCCESSES = [828, 3422, 7960, 10667, 25999, 23757, 29685]


def test_list_datasets_names_kinds_and_groups():
    infos = {info.name: info for info in list_datasets()}
    assert all(isinstance(info, DatasetInfo) for info in infos.values())
    assert {name: info.kind for name, info in infos.items()} == {
        "pythia-math": "attempts",
        "bon-jailbreak": "counts",
        "pythia-checkpoints-math": "counts",
    }
    assert infos["pythia-math"].groups == PYTHIA_MODELS
    assert len(infos["bon-jailbreak"].groups) == 7
    assert len(infos["pythia-checkpoints-math"].groups) == 72
    assert "batches of 60" in infos["bon-jailbreak"].caveat
    for info in infos.values():
        assert info.description and "\n" not in info.description
        assert info.source


@pytest.mark.parametrize(
    ("model", "zero_success", "total"),
    list(zip(PYTHIA_MODELS, ZERO_SUCCESS_PROBLEMS, TOTAL_SUCCESSES, strict=True)),
)
def test_pythia_math_published_facts(model, zero_success, total):
    data = load("pythia-math", group=model)
    assert data.num_problems == 128
    assert (data.n == 10_000).all()
    assert int((data.c == 0).sum()) == zero_success
    assert int(data.c.sum()) == total


@pytest.mark.parametrize(("model", "published"), [("Pythia 70M", 0.266), ("Pythia 12B", 0.875)])
def test_pythia_observed_pass_at_10000_is_the_published(model, published):
    # Schaeffer et al.'s observed pass@10000 (three digits), by the unbiased estimator at k = n.
    data = load("pythia-math", group=model)
    assert mean_pass_at_k(data, 10_000) == pytest.approx(published, abs=5e-4)


def test_pythia_math_all_groups_in_size_order():
    data = load("pythia-math")
    assert isinstance(data, PassData)
    assert data.num_problems == 7 * 128
    assert data.groups == PYTHIA_MODELS
    assert load_attempts("pythia-math").groups == PYTHIA_MODELS
    # The same 128 MATH problems for every model.
    ids = data.problem_id.reshape(7, 128)
    assert (ids == ids[0]).all()
    assert len(set(ids[0])) == 128


def test_pythia_math_problems_carry_their_math_indices():
    # Successes of Pythia 12B in 10,000 attempts at these MATH problems, read from the
    # source table (Brown et al.'s per-attempt scores, summed per `Problem Idx`).
    data = load("pythia-math", group="Pythia 12B")
    c = dict(zip(data.problem_id.tolist(), data.c.tolist(), strict=True))
    expected = {"82": 122, "142": 32, "188": 167, "201": 1, "240": 2227, "4975": 1}
    assert {index: c[index] for index in expected} == expected
    assert data.problem_id[[0, -1]].tolist() == ["82", "4988"]  # the source's order


def test_pythia_math_attempts_shape_and_counts_agree():
    attempts = load_attempts("pythia-math", group="Pythia 410M")
    assert isinstance(attempts, Attempts)
    assert attempts.outcomes.shape == (128, 10_000)
    assert attempts.outcomes.dtype == bool
    counts = attempts.counts()
    np.testing.assert_array_equal(counts.c, attempts.outcomes.sum(axis=1))
    np.testing.assert_array_equal(counts.c, load("pythia-math", group="Pythia 410M").c)


def test_bon_jailbreak_shape_and_llama_has_no_zero_success_prompts():
    data = load("bon-jailbreak")
    assert data.num_problems == 7 * 159
    assert len(data.groups) == 7
    assert "Llama 3 8B IT" in data.groups
    llama = data.select("Llama 3 8B IT")
    assert llama.num_problems == 159
    assert (llama.c > 0).all()
    # Stopping rule: batches of 60, capped at 10,020, and no success means the cap was reached.
    assert (data.n % 60 == 0).all()
    assert data.n.max() == 10_020
    assert (data.n[data.c == 0] == 10_020).all()
    assert (data.c <= data.n).all()
    # Each model's counts, from the source table's rows with Scaling Parameter == 1: successes,
    # attempts and prompts never jailbroken (so labels cannot trade places unnoticed).
    source = {
        "Claude 3.5 Opus": (733, 155_100, 8),
        "Claude 3.5 Sonnet": (386, 454_740, 32),
        "GPT4o": (578, 284_220, 16),
        "GPT4o Mini": (721, 143_100, 7),
        "Gemini 1.5 Flash": (130, 747_420, 55),
        "Gemini 1.5 Pro": (103, 965_820, 76),
        "Llama 3 8B IT": (471, 29_880, 0),
    }
    for model, expected in source.items():
        part = data.select(model)
        assert (part.c.sum(), part.n.sum(), (part.c == 0).sum()) == expected, model


def test_pythia_checkpoints_have_ragged_attempts():
    data = load("pythia-checkpoints-math")
    assert len(data.groups) == 72
    assert data.n.min() == 128
    assert data.n.max() > 1_000_000
    assert len(np.unique(data.n)) > 50
    assert (data.c >= 0).all() and (data.c <= data.n).all()
    assert data.groups[0] == "Pythia_14M_2M" and data.groups[-1] == "Pythia_12B_300B"
    assert load("pythia-checkpoints-math", group="Pythia_12B_2M").num_problems == 9
    assert load("pythia-checkpoints-math", group="Pythia_1B_300B").num_problems == 128
    # Checkpoints' counts, from the source table's rows with k == 1: problems, attempts and
    # successes (so labels cannot trade places unnoticed).
    source = {
        "Pythia_1B_2B": (128, 1_384_704, 0),
        "Pythia_1B_200B": (128, 409_600, 1040),
        "Pythia_12B_2M": (9, 505_472, 0),
        "Pythia_12B_300B": (128, 337_408, 2250),
    }
    for checkpoint, expected in source.items():
        part = data.select(checkpoint)
        assert (part.num_problems, part.n.sum(), part.c.sum()) == expected, checkpoint


def test_subsample_counts_lie_in_hypergeometric_support():
    attempts = load_attempts("pythia-math", group="Pythia 2.8B")
    full = attempts.counts()
    m = 500
    sub = attempts.subsample(m, seed=7)
    assert (sub.n == m).all()
    np.testing.assert_array_equal(sub.problem_id, full.problem_id)
    np.testing.assert_array_equal(sub.group, full.group)
    assert (sub.c <= np.minimum(m, full.c)).all()
    assert (sub.c >= np.maximum(0, m - (full.n - full.c))).all()
    assert (sub.c[full.c == 0] == 0).all()


def test_subsample_of_every_attempt_gives_the_full_counts():
    attempts = load_attempts("pythia-math", group="Pythia 1B")
    np.testing.assert_array_equal(attempts.subsample(10_000, seed=3).c, attempts.counts().c)


def test_subsample_is_deterministic_by_seed_and_seeds_differ():
    attempts = load_attempts("pythia-math", group="Pythia 12B")
    first = attempts.subsample(200, seed=11)
    again = attempts.subsample(200, seed=11)
    other = attempts.subsample(200, seed=12)
    np.testing.assert_array_equal(first.c, again.c)
    assert not np.array_equal(first.c, other.c)
    np.testing.assert_array_equal(load("pythia-math", "Pythia 12B", 200, seed=11).c, first.c)


def test_subsampled_rate_is_unbiased_within_hypergeometric_error():
    attempts = load_attempts("pythia-math", group="Pythia 12B")
    full = attempts.counts()
    m, num_seeds = 100, 200
    p = full.c / full.n
    rates = [attempts.subsample(m, seed=seed).c.mean() / m for seed in range(num_seeds)]
    # Per problem c ~ Hypergeometric(n, c_full, m): Var(c/m) = p(1-p)/m * (n-m)/(n-1).
    variance_per_seed = np.sum(p * (1 - p) / m * (full.n - m) / (full.n - 1)) / len(p) ** 2
    standard_error = np.sqrt(variance_per_seed / num_seeds)
    assert abs(np.mean(rates) - p.mean()) < 4 * standard_error
    # The spread across seeds matches the hypergeometric variance too: a sample variance of 200
    # draws has relative standard error sqrt(2 / 199) = 0.10, so 0.35 is 3.5 of them.
    assert np.var(rates, ddof=1) == pytest.approx(variance_per_seed, rel=0.35)


def test_each_problem_draws_its_own_attempts():
    # 400 copies of one row, 50 successes in 100 attempts: drawing 10 of them, each copy's
    # count is its own Hypergeometric(100, 50, 10), variance 10 x 0.25 x 90 / 99 = 2.27 (the
    # same draw for every problem made every count equal). The sample variance of 400 has
    # relative standard error sqrt(2 / 399) = 0.071; 0.3 is over 4 of them.
    row = np.arange(100) % 2 == 0
    copies = 400
    attempts = Attempts(
        np.array([f"p{i}" for i in range(copies)]),
        np.tile(row, (copies, 1)),
        np.full(copies, 100),
        np.full(copies, "g"),
    )
    counts = attempts.subsample(10, seed=0).c
    assert np.var(counts, ddof=1) == pytest.approx(10 * 0.25 * 90 / 99, rel=0.3)


def test_a_group_of_ragged_attempts_keeps_each_problem_s_attempts():
    outcomes = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)
    attempts = Attempts(
        np.array(["a", "b", "c"]), outcomes, np.array([4, 2, 3]), np.array(["g", "g", "h"])
    )
    kept = attempts.select("g")
    assert kept.outcomes.shape == (2, 4)  # the padding past the longest row trimmed
    np.testing.assert_array_equal(kept.counts().c, [4, 1])
    np.testing.assert_array_equal(attempts.select("h").outcomes, [[1, 1, 0]])


def test_subsample_of_ragged_attempts_respects_each_problem():
    # Rows of 60 and 120 attempts, padded with True past each row's end (padding is False in
    # the package's own rows, which would hide a draw from it): a row of exactly 60 gives all
    # of its attempts, and no draw reaches the padding.
    rng = np.random.default_rng(0)
    n = np.array([60, 120, 60, 120])
    outcomes = np.ones((4, 120), dtype=bool)
    outcomes[np.arange(120) < n[:, None]] = rng.random(n.sum()) < 0.3
    attempts = Attempts(np.array(["a", "b", "c", "d"]), outcomes, n, np.full(4, "g"))
    recorded = (outcomes & (np.arange(120) < n[:, None])).sum(axis=1)
    drawn = []
    for seed in range(20):
        sub = attempts.subsample(60, seed=seed)
        assert (sub.c <= np.minimum(60, recorded)).all()
        np.testing.assert_array_equal(sub.c[n == 60], recorded[n == 60])
        drawn.append(sub.c[n == 120])
    # A row of 120 draws half its attempts, from all of them (hypergeometric mean and sd).
    share = recorded[n == 120] / 120
    sd = np.sqrt(60 * share * (1 - share) * 60 / 119 / len(drawn))
    assert np.all(np.abs(np.mean(drawn, axis=0) - 60 * share) < 4 * sd)
    with pytest.raises(InputError, match="61 exceeds the 60 attempts recorded for problem 'a'"):
        attempts.subsample(61)


@pytest.mark.parametrize("budget", [0, -5, 10_001])
def test_subsample_rejects_out_of_range_budgets(budget):
    with pytest.raises(InputError, match="attempts_per_problem"):
        load("pythia-math", group="Pythia 70M", attempts_per_problem=budget)


def test_subsample_rejects_non_integer_budget():
    attempts = load_attempts("pythia-math", group="Pythia 70M")
    with pytest.raises(InputError, match="integer"):
        attempts.subsample(10.5)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(InputError, match="pythia-math.*bon-jailbreak"):
        load("no-such-data")
    with pytest.raises(InputError, match="known datasets"):
        load_attempts("no-such-data")


def test_unknown_group_lists_known_groups():
    with pytest.raises(InputError, match="Pythia 70M.*Pythia 12B"):
        load("pythia-math", group="Pythia 13B")
    with pytest.raises(InputError, match="Llama 3 8B IT"):
        load("bon-jailbreak", group="Llama 3 70B")
    with pytest.raises(InputError, match="known groups"):
        load_attempts("pythia-math").select("Pythia 13B")


def test_a_group_is_named_as_select_reads_it():
    # PassData.select strips a group's name (as a file's cell is read); load and
    # load_attempts refused " Pythia 12B" while select took it.
    for name, group in (("pythia-math", "Pythia 12B"), ("bon-jailbreak", "Llama 3 8B IT")):
        want = load(name, group=group)
        got = load(name, group=f" {group} ")
        np.testing.assert_array_equal(got.c, want.c)
        assert got.groups == [group]
    got = load("pythia-math", group="Pythia 12B ", attempts_per_problem=10, seed=3)
    np.testing.assert_array_equal(
        got.c, load("pythia-math", group="Pythia 12B", attempts_per_problem=10, seed=3).c
    )
    attempts = load_attempts("pythia-math", group=" Pythia 1B")
    assert attempts.groups == ["Pythia 1B"]
    assert load_attempts("pythia-math").select("Pythia 1B ").groups == ["Pythia 1B"]


def test_a_dataset_is_named_by_text():
    for load_any in (load, load_attempts):
        with pytest.raises(InputError, match=r"unknown dataset \['pythia-math'\]; known datasets"):
            load_any(["pythia-math"])  # was "unhashable type: 'list'"


def test_counts_datasets_cannot_give_attempts_or_subsamples():
    with pytest.raises(InputError, match="counts only"):
        load_attempts("bon-jailbreak")
    with pytest.raises(InputError, match="counts only"):
        load("pythia-checkpoints-math", attempts_per_problem=10)


def test_returned_counts_are_independent_of_the_cache():
    first = load("bon-jailbreak")
    first.c[:] = -1
    assert (load("bon-jailbreak").c >= 0).all()
    counts = load("pythia-math", group="Pythia 70M")
    counts.c[:] = -1
    assert int(load("pythia-math", group="Pythia 70M").c.sum()) == 828
    shared = load_attempts("pythia-math")
    with pytest.raises(ValueError, match="read-only"):
        shared.outcomes[0, 0] = True


def test_a_bad_seed_is_refused_even_where_nothing_is_drawn():
    for seed in ("zzz", -1, 1.5):
        with pytest.raises(InputError, match="seed must be an integer from 0"):
            load("pythia-math", group="Pythia 1B", seed=seed)


SOURCE = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not SOURCE.is_dir(), reason="no source tables (../shared/data) here")
def test_the_embedded_data_are_the_source_tables_problem_by_problem():
    # Every outcome of pythia-math in attempt order, and every (n, c) of the counts datasets,
    # against the published tables read afresh: two problems' rows swapped kept every total
    # the other tests check.
    columns = ["Model", "Problem Idx", "Attempt Idx", "Score"]
    table = pd.read_parquet(SOURCE / "pythia_math_attempts.parquet", columns=columns)
    table = table.sort_values(columns[:3])
    attempts = load_attempts("pythia-math")
    assert sorted(table["Model"].unique()) == sorted(attempts.groups)
    for model, part in table.groupby("Model"):
        problems = part["Problem Idx"].unique()
        outcomes = part["Score"].to_numpy().astype(bool).reshape(len(problems), -1)
        mine = attempts.select(model)
        order = np.argsort(mine.problem_id.astype(int))
        np.testing.assert_array_equal(mine.problem_id[order].astype(int), problems)
        np.testing.assert_array_equal(mine.outcomes[order], outcomes)
    for name, file, keys in [
        ("bon-jailbreak", "bon_jailbreaking_counts.parquet", ("Model", "Problem Idx")),
        ("pythia-checkpoints-math", "pythia_checkpoints_math_counts.parquet", None),
    ]:
        source = pd.read_parquet(SOURCE / file)
        if keys is None:
            source = source[source["k"] == 1]
            keys = ("Model Nickname", "prompt_idx")
        else:
            source = source[source["Scaling Parameter"] == 1]
        counts = ["Num. Samples", "Num. Samples Correct"]
        expected = {
            (str(group), str(problem)): (int(n), int(c))
            for group, problem, n, c in source[[*keys, *counts]].itertuples(index=False)
        }
        data = load(name)
        shipped = dict(
            zip(
                zip(data.group.tolist(), data.problem_id.tolist(), strict=True),
                zip(data.n.tolist(), data.c.tolist(), strict=True),
                strict=True,
            )
        )
        assert len(shipped) == data.num_problems and shipped == expected, name
