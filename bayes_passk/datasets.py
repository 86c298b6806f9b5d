"""Real repeated-sampling datasets shipped with the package (numpy only, no network).

Datasets:

- ``pythia-math`` (per-attempt outcomes): Pythia 70M .. 12B on 128 MATH problems, 10,000
  attempts each (Brown et al. 2024).
- ``bon-jailbreak`` (counts): Best-of-N jailbreaking of 7 models on 159 HarmBench prompts
  (Hughes et al. 2024), attempts collected with an outcome-dependent stopping rule.
- ``pythia-checkpoints-math`` (counts): 72 Pythia training checkpoints on MATH with ragged
  attempt counts per problem (128 .. 3.7M).

Sources, licences and caveats: ``bayes_passk/embedded/DATA_NOTICE.md``.

Example:
    >>> from bayes_passk.datasets import load, load_attempts
    >>> data = load("pythia-math", group="Pythia 12B")
    >>> int(data.c.sum()), int(data.n.sum())
    (29685, 1280000)
    >>> small = load_attempts("pythia-math", group="Pythia 12B").subsample(100, seed=1)
    >>> int(small.n.max())
    100
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import NamedTuple

import numpy as np

from bayes_passk.data import InputError, PassData, check_seed, group_label

_EMBEDDED_PACKAGE = "bayes_passk.embedded"

_BON_STOPPING_CAVEAT = (
    "Attempts were collected in batches of 60, stopping after the first batch holding a "
    "success (cap 10,020), so n depends on the outcome: likelihood fits stay valid (the "
    "stopping rule is ignorable), but the unbiased pass@k estimator is biased under this "
    "design and the truth at large k cannot be read off these counts."
)


class DatasetInfo(NamedTuple):
    """Description of one embedded dataset.

    Attributes:
        name: dataset name passed to `load`.
        kind: "attempts" (per-attempt outcomes, can be subsampled) or "counts" (n, c only).
        groups: group labels (models or checkpoints) in their stored order.
        description: one line.
        source: short citation.
        caveat: what to keep in mind when using the data; "" when nothing special.
        stops_at_success: attempts stopped at a problem's first success (an outcome-dependent
            rule: fits stay valid, but subsamples and the unbiased pass@k of the counts do not).

    Example:
        >>> info = {d.name: d for d in list_datasets()}["pythia-math"]
        >>> info.kind, info.groups[0]
        ('attempts', 'Pythia 70M')
    """

    name: str
    kind: str
    groups: list[str]
    description: str
    source: str
    caveat: str
    stops_at_success: bool = False


class _Spec(NamedTuple):
    """Static facts about a dataset; groups are read from its file."""

    file_name: str
    kind: str
    group_key: str
    description: str
    source: str
    caveat: str
    stops_at_success: bool = False


_SPECS: dict[str, _Spec] = {
    "pythia-math": _Spec(
        file_name="pythia_math.npz",
        kind="attempts",
        group_key="models",
        description="Pythia 70M-12B on 128 MATH problems, 10,000 attempts each",
        source=(
            "Brown et al. 2024, Large Language Monkeys (arXiv 2407.21787); "
            "ScalingIntelligence/monkey_business, MIT licence"
        ),
        caveat="",
    ),
    "bon-jailbreak": _Spec(
        file_name="bon_jailbreak.npz",
        kind="counts",
        group_key="models",
        description=(
            "Best-of-N jailbreaking of 7 models on 159 HarmBench prompts, per-prompt counts"
        ),
        source=(
            "Hughes et al. 2024, Best-of-N Jailbreaking; processed by Schaeffer et al. 2025; "
            "no licence stated"
        ),
        caveat=_BON_STOPPING_CAVEAT
        + " Llama 3 8B IT has no zero-success prompts and shows no power law.",
        stops_at_success=True,
    ),
    "pythia-checkpoints-math": _Spec(
        file_name="pythia_checkpoints_math.npz",
        kind="counts",
        group_key="checkpoints",
        description=(
            "72 Pythia training checkpoints (14M-12B parameters, 2M-300B tokens) on MATH, "
            "ragged attempts per problem"
        ),
        source=(
            "Pythia on MATH after Brown et al. 2024; tables published alongside "
            "Schaeffer et al. 2025 and Kazdan et al. 2025"
        ),
        caveat=(
            "Attempts per problem differ widely (128 to about 3.7 million); "
            "checkpoint Pythia_12B_2M covers only 9 problems."
        ),
    ),
}


@functools.cache
def _read_npz(file_name: str) -> dict[str, np.ndarray]:
    """All arrays of one embedded file, read-only (shared by every caller through the cache)."""
    with resources.files(_EMBEDDED_PACKAGE).joinpath(file_name).open("rb") as handle:
        with np.load(handle, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    for array in arrays.values():
        array.setflags(write=False)
    return arrays


def _spec(name: str) -> _Spec:
    """Look up dataset `name`; `InputError` listing the known names otherwise."""
    if not isinstance(name, str) or name not in _SPECS:
        raise InputError(f"unknown dataset {name!r}; known datasets: {', '.join(_SPECS)}")
    return _SPECS[name]


def _groups(name: str) -> list[str]:
    """Group labels of dataset `name` in stored order."""
    spec = _spec(name)
    return [str(label) for label in _read_npz(spec.file_name)[spec.group_key]]


def _check_group(name: str, group: str) -> None:
    """`InputError` naming the valid groups when `group` is not in dataset `name`.

    The group is named as `PassData.select` reads it (`data.group_label`: spaces stripped).
    """
    groups = _groups(name)
    if group_label(group) not in groups:
        raise InputError(
            f"unknown group {group!r} for dataset {name!r}; known groups: {', '.join(groups)}"
        )


def _read_only(*arrays: np.ndarray) -> None:
    for array in arrays:
        array.setflags(write=False)


def list_datasets() -> list[DatasetInfo]:
    """Describe every embedded dataset.

    Example:
        >>> [d.name for d in list_datasets()][:2]
        ['pythia-math', 'bon-jailbreak']
    """
    return [
        DatasetInfo(
            name,
            spec.kind,
            _groups(name),
            spec.description,
            spec.source,
            spec.caveat,
            spec.stops_at_success,
        )
        for name, spec in _SPECS.items()
    ]


class Attempts(NamedTuple):
    """Per-attempt outcomes: one row per (group, problem), attempts in recorded order.

    Attributes:
        problem_id: problem identifiers, shape (P,), strings.
        outcomes: success of each attempt, bool, shape (P, N_max); row i is valid up to
            ``n[i]`` and padded with False after it.
        n: attempts per problem, shape (P,), int64.
        group: group label per problem, shape (P,), strings.

    Arrays returned by `load_attempts` without a group are shared and read-only.

    Example:
        >>> attempts = load_attempts("pythia-math", group="Pythia 70M")
        >>> attempts.outcomes.shape
        (128, 10000)
        >>> int(attempts.counts().c.sum())
        828
    """

    problem_id: np.ndarray
    outcomes: np.ndarray
    n: np.ndarray
    group: np.ndarray

    @property
    def groups(self) -> list[str]:
        """Distinct groups in order of first appearance."""
        _, first = np.unique(self.group, return_index=True)
        return [str(self.group[i]) for i in sorted(first)]

    def counts(self) -> PassData:
        """Count attempts and successes per problem over all recorded attempts.

        Example:
            >>> load_attempts("pythia-math", group="Pythia 12B").counts().n[:2]
            array([10000, 10000])
        """
        successes = self.outcomes.sum(axis=1)
        return PassData.from_counts(self.problem_id, self.n, successes, self.group)

    def subsample(self, attempts_per_problem: int, seed: int = 0) -> PassData:
        """Count successes in `attempts_per_problem` attempts drawn without replacement per problem.

        Problems are drawn independently, in row order, from ``np.random.default_rng(seed)``,
        so the same seed gives the same counts. `InputError` when `attempts_per_problem` is
        below 1 or above some problem's number of attempts.

        Example:
            >>> attempts = load_attempts("pythia-math", group="Pythia 12B")
            >>> d = attempts.subsample(50, seed=3)
            >>> bool((d.c <= 50).all()), bool((d.n == 50).all())
            (True, True)
        """
        m = _attempt_budget(attempts_per_problem)
        if m > int(self.n.min()):
            fewest = int(np.argmin(self.n))
            raise InputError(
                f"attempts_per_problem={m} exceeds the {int(self.n[fewest])} attempts recorded "
                f"for problem {str(self.problem_id[fewest])!r} (group {str(self.group[fewest])!r})"
            )
        check_seed(seed, numpy=True)
        rng = np.random.default_rng(seed)
        successes = np.empty(self.num_problems, dtype=np.int64)
        for row in range(self.num_problems):
            chosen = rng.choice(int(self.n[row]), size=m, replace=False)
            successes[row] = np.count_nonzero(self.outcomes[row, chosen])
        attempts = np.full(self.num_problems, m, dtype=np.int64)
        return PassData.from_counts(self.problem_id, attempts, successes, self.group)

    def select(self, group: str) -> Attempts:
        """Keep the rows of one group, padding trimmed; `InputError` naming the known groups.

        The group is named as `PassData.select` reads it (`data.group_label`: spaces stripped).

        Example:
            >>> load_attempts("pythia-math").select("Pythia 1B").n.shape
            (128,)
        """
        group = group_label(group)
        if group not in self.groups:
            raise InputError(f"unknown group {group!r}; known groups: {', '.join(self.groups)}")
        keep = self.group == group
        n = self.n[keep]
        return Attempts(self.problem_id[keep], self.outcomes[keep, : n.max()], n, self.group[keep])

    @property
    def num_problems(self) -> int:
        """Number of rows (problems, over all groups)."""
        return int(self.n.shape[0])


def _attempt_budget(attempts_per_problem) -> int:
    """`attempts_per_problem` as a positive int; `InputError` otherwise."""
    if isinstance(attempts_per_problem, bool) or not isinstance(
        attempts_per_problem, int | np.integer
    ):
        raise InputError(f"attempts_per_problem must be an integer, got {attempts_per_problem!r}")
    if attempts_per_problem < 1:
        raise InputError(f"attempts_per_problem must be at least 1, got {attempts_per_problem}")
    return int(attempts_per_problem)


def _unpack_pythia_math(arrays: dict[str, np.ndarray]) -> Attempts:
    models, problems = arrays["models"], arrays["problem_idx"]
    num_attempts = int(arrays["num_attempts"])
    bits = np.unpackbits(arrays["outcomes_packed"], axis=2, count=num_attempts)
    outcomes = bits.view(bool).reshape(len(models) * len(problems), num_attempts)
    problem_id = np.tile(problems.astype(str), len(models))
    group = np.repeat(models.astype(str), len(problems))
    n = np.full(len(problem_id), num_attempts, dtype=np.int64)
    return Attempts(problem_id, outcomes, n, group)


@functools.cache
def _attempts_table(name: str) -> Attempts:
    """All groups of an attempts dataset, unpacked once and kept read-only."""
    arrays = _read_npz(_SPECS[name].file_name)
    attempts = _unpack_pythia_math(arrays)
    _read_only(*attempts)
    return attempts


@functools.cache
def _counts_table(name: str) -> PassData:
    """All groups of a counts dataset, kept read-only."""
    arrays = _read_npz(_SPECS[name].file_name)
    if name == "bon-jailbreak":
        models, problems = arrays["models"], arrays["problem_idx"]
        problem_id = np.tile(problems.astype(str), len(models))
        group = np.repeat(models.astype(str), len(problems))
        data = PassData.from_counts(problem_id, arrays["n"].ravel(), arrays["c"].ravel(), group)
    else:
        group = arrays["checkpoints"][arrays["checkpoint_index"]]
        problem_id = arrays["problem_idx"].astype(str)
        data = PassData.from_counts(problem_id, arrays["n"], arrays["c"], group)
    _read_only(*data)
    return data


def load_attempts(name: str, group: str | None = None) -> Attempts:
    """Per-attempt outcomes of an attempts dataset, all groups or one.

    `InputError` for an unknown name or group, or for a counts-only dataset.

    Example:
        >>> attempts = load_attempts("pythia-math", group="Pythia 12B")
        >>> int((attempts.counts().c > 0).sum())
        112
    """
    spec = _spec(name)
    if spec.kind != "attempts":
        attempt_names = [n for n, s in _SPECS.items() if s.kind == "attempts"]
        raise InputError(
            f"dataset {name!r} holds per-problem counts only, no per-attempt outcomes; "
            f"use load({name!r}) for its counts, or one of: {', '.join(attempt_names)}"
        )
    if group is None:
        return _attempts_table(name)
    _check_group(name, group)
    return _attempts_table(name).select(group)


def load(
    name: str,
    group: str | None = None,
    attempts_per_problem: int | None = None,
    seed: int = 0,
) -> PassData:
    """Per-problem counts of an embedded dataset, optionally subsampled.

    Args:
        name: a dataset name from `list_datasets`.
        group: one group (model or checkpoint); all groups when None.
        attempts_per_problem: for attempts datasets, draw this many attempts per problem
            without replacement (see `Attempts.subsample`); None uses all attempts.
        seed: seed of the subsample.

    Example:
        >>> d = load("pythia-math", group="Pythia 12B")
        >>> round(float(d.c.sum() / d.n.sum()), 4)
        0.0232
        >>> load("bon-jailbreak").num_problems
        1113
    """
    spec = _spec(name)
    check_seed(seed, numpy=True)  # even where nothing is drawn: a typo is a typo
    if group is not None:
        _check_group(name, group)
    if spec.kind == "attempts":
        attempts = load_attempts(name, group)
        if attempts_per_problem is None:
            return attempts.counts()
        return attempts.subsample(attempts_per_problem, seed=seed)
    if attempts_per_problem is not None:
        raise InputError(
            f"dataset {name!r} holds per-problem counts only and cannot be subsampled by "
            "attempt; leave attempts_per_problem unset"
        )
    data = _counts_table(name)
    if group is not None:
        return data.select(group)
    return PassData(*(array.copy() for array in data))
