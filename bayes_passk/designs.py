r"""Backtest designs: many small datasets drawn from a big one, each with its true pass@k.

- ``subsample``: draw ``budget`` of each problem's attempts without replacement. From counts this
  is exact: the successes among them are hypergeometric, c ~ HG(n_full, c_full, budget). Truth:
  the unbiased pass@k of all attempts, defined for k <= min n_full.
- ``resample`` (semi-synthetic, Kazdan et al. 2025): fresh Bernoulli attempts at each problem's
  full-data rate p_i = c_full / n_full, c ~ Binomial(budget, p_i). Truth: 1 - mean_i (1 - p_i)^k,
  exact for every k. Use it for data whose counts carry a stopping rule (Best-of-N).

Both keep every problem, or with ``problems`` draw that many of them for each replicate
(without replacement; the truth is then of the problems drawn).
- ``synthetic`` (Schaeffer et al. 2025): rates drawn from a known scaled Beta or Kumaraswamy,
  c ~ Binomial(budget, p_i). Truth: 1 - mean_i (1 - p_i)^k of the drawn problems, and the
  exponent a.

Every design returns a `Design`: arrays with a leading replicate axis, ready for
`bayes_passk.batched.fit_batch` and the point methods.

Example:
    >>> from bayes_passk.data import PassData
    >>> full = PassData.from_counts(["a", "b", "c"], n=[1000] * 3, c=[0, 10, 500])
    >>> design = subsample(0, full, budget=50, replicates=4, ks=[1, 100])
    >>> design.c.shape, bool((design.c <= 50).all())
    ((4, 3), True)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Real
from typing import NamedTuple

import numpy as np

from bayes_passk.data import (
    InputError,
    PassData,
    check_seed,
    is_positive_int,
    require_pass_data,
)
from bayes_passk.estimators import as_ks, pass_at_k

# Schaeffer et al.'s synthetic grid: (a, b, scale).
SYNTHETIC_GRID = tuple(
    (a, b, scale) for a in (0.15, 0.4) for b in (3.5, 5.0) for scale in (0.1, 0.8)
)


class Design(NamedTuple):
    """Replicates of one backtest cell: counts (replicates, problems) and truth (replicates, k)."""

    design: str
    group: str
    budget: int
    n: np.ndarray
    c: np.ndarray
    ks: np.ndarray
    truth: np.ndarray
    exponent: float  # the true exponent where known (synthetic), else NaN


MAX_ENTRIES = 10**8
"""Largest replicates x problems of one design cell (8 bytes each per array held)."""


def _checked(seed, budget: int, replicates: int, problems: int, ks) -> np.ndarray:
    for part in seed if isinstance(seed, Sequence) and not isinstance(seed, str) else [seed]:
        check_seed(part, numpy=True)
    for name, value in (("budget", budget), ("replicates", replicates), ("problems", problems)):
        if not is_positive_int(value):
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if replicates * problems > MAX_ENTRIES:
        raise InputError(
            f"{replicates} replicates x {problems} problems is more than 10^8 "
            "entries per design cell; use fewer"
        )
    ks = as_ks(ks).ravel()
    if np.unique(ks).size < ks.size:
        raise InputError(f"k values repeat: {ks.tolist()}")
    return ks


def subsample(
    seed: int | Sequence[int],
    full: PassData,
    budget: int,
    replicates: int,
    ks,
    problems: int | None = None,
) -> Design:
    """``budget`` attempts per problem without replacement; truth from all attempts (k <= n).

    With ``problems``, each replicate first draws that many problems without replacement.

    Returns:
        A `Design`: counts (replicates, problems), truth (replicates, k).

    Example:
        >>> full = PassData.from_counts(["a", "b", "c"], n=[1000] * 3, c=[0, 30, 500])
        >>> cell = subsample(0, full, budget=100, replicates=4, ks=[10, 1000])
        >>> cell.n.shape, cell.truth[0].round(4).tolist()  # truth: all 1,000 attempts
        ((4, 3), [0.4209, 0.6667])
    """
    full = require_pass_data(full).single_group()
    ks = _checked(seed, budget, replicates, _problem_count(full, problems), ks)
    if budget > full.n.min():
        raise InputError(
            f"budget {budget} exceeds the {full.n.min()} attempts of the smallest problem; "
            "use the resample design to go beyond the recorded attempts"
        )
    if ks.max() > full.n.min():
        raise InputError(
            f"k = {ks.max()} exceeds the {full.n.min()} attempts of the smallest problem, so "
            "the subsample design has no truth for it; use the resample design (exact truth "
            "for every k) or a k up to the recorded attempts"
        )
    rng = np.random.default_rng(seed)
    drawn = _drawn_problems(rng, full.num_problems, problems, replicates)
    c = _hypergeometric(rng, full.c[drawn], (full.n - full.c)[drawn], budget)
    truth = _mean_over_drawn(pass_at_k(full.n, full.c, ks), drawn, problems)
    n = np.full(drawn.shape, budget)
    return Design("subsample", full.groups[0], budget, n, c, ks, truth, np.nan)


HYPERGEOMETRIC_LIMIT = 10**9  # NumPy draws HG(good, bad, m) only for good, bad below this


def _hypergeometric(rng, good: np.ndarray, bad: np.ndarray, draws: int) -> np.ndarray:
    """Successes among ``draws`` attempts taken without replacement from ``good`` + ``bad``.

    Past NumPy's limit, a problem's attempts are drawn by their numbers (`Generator.choice`),
    its first ``good`` numbers standing for its successes: exact, and cheap for the budgets
    of a backtest. Below it, the stream of draws is NumPy's own.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> _hypergeometric(rng, np.array([0, 3 * 10**9]), np.array([10, 0]), 5).tolist()
        [0, 5]
    """
    large = (good >= HYPERGEOMETRIC_LIMIT) | (bad >= HYPERGEOMETRIC_LIMIT)
    count = rng.hypergeometric(np.where(large, 0, good), np.where(large, draws, bad), draws)
    for index in zip(*np.nonzero(large), strict=True):
        picked = rng.choice(int(good[index]) + int(bad[index]), draws, replace=False)
        count[index] = np.count_nonzero(picked < good[index])
    return count


def resample(
    seed: int | Sequence[int],
    full: PassData,
    budget: int,
    replicates: int,
    ks,
    problems: int | None = None,
) -> Design:
    """Fresh Bernoulli attempts at each problem's full-data rate; exact truth for every k.

    The rate c/n is taken as true: a problem without a success in the full data never succeeds,
    which the truth at k beyond its n asserts without evidence (a warning says so). With
    ``problems``, each replicate first draws that many problems without replacement.

    Returns:
        A `Design`: counts (replicates, problems), truth (replicates, k) at any k.

    Example:
        >>> full = PassData.from_counts(["a", "b", "c"], n=[1000] * 3, c=[1, 30, 500])
        >>> cell = resample(0, full, budget=100, replicates=4, ks=[10, 10**6])
        >>> cell.n.shape, cell.truth[0].round(4).tolist()  # truth: the rates c / n
        ((4, 3), [0.4239, 1.0])
    """
    full = require_pass_data(full).single_group()
    ks = _checked(seed, budget, replicates, _problem_count(full, problems), ks)
    unsure = (full.c == 0) & (full.n < ks.max())
    if unsure.any():
        warnings.warn(
            f"resample{f' {full.groups[0]}' if full.groups[0] else ''}: {unsure.sum()} of "
            f"{full.num_problems} problems have no success in fewer than k = {ks.max()} attempts; "
            "their rate is taken as 0, so the truth at that k counts them as never solved",
            stacklevel=2,
        )
    rates = full.c / full.n
    rng = np.random.default_rng(seed)
    drawn = _drawn_problems(rng, full.num_problems, problems, replicates)
    c = rng.binomial(budget, rates[drawn])
    truth = _mean_over_drawn(-np.expm1(_log_survival(rates, ks)), drawn, problems)
    n = np.full(drawn.shape, budget)
    return Design("resample", full.groups[0], budget, n, c, ks, truth, np.nan)


def _problem_count(full: PassData, problems: int | None) -> int:
    """Return the problems per replicate: all of ``full``'s, or ``problems`` if it has them."""
    if problems is None:
        return full.num_problems
    if is_positive_int(problems) and problems > full.num_problems:
        raise InputError(
            f"problems {problems} exceeds the {full.num_problems} problems of the data to draw "
            "them from"
        )
    return problems


def _drawn_problems(rng, available: int, problems: int | None, replicates: int) -> np.ndarray:
    """Draw indices (replicates, problems): a row ``problems`` of ``available``, sorted, no repeat.

    Every problem in every row, and nothing drawn, when ``problems`` is None.

    Example:
        >>> drawn = _drawn_problems(np.random.default_rng(0), 5, 3, 2)
        >>> drawn.shape, all(len(set(row)) == 3 for row in drawn.tolist())
        ((2, 3), True)
    """
    if problems is None:
        return np.broadcast_to(np.arange(available), (replicates, available))
    order = rng.permuted(np.tile(np.arange(available), (replicates, 1)), axis=1)
    return np.sort(order[:, :problems], axis=1)


def _mean_over_drawn(per_problem: np.ndarray, drawn: np.ndarray, problems: int | None):
    """Mean of ``per_problem`` (k, problems) over each replicate's problems: (replicates, k)."""
    if problems is None:  # one mean for every replicate, without a (k, replicates, P) array
        return np.broadcast_to(per_problem.mean(axis=1), (drawn.shape[0], len(per_problem))).copy()
    return per_problem[:, drawn].mean(axis=-1).T


def synthetic(
    seed: int | Sequence[int],
    family: str,
    a: float,
    b: float,
    scale: float,
    problems: int,
    budget: int,
    replicates: int,
    ks,
) -> Design:
    """Rates from a scaled Beta or Kumaraswamy(a, b) on (0, scale); the true exponent is a.

    Returns:
        A `Design`: counts (replicates, problems), truth (replicates, k) from each
        replicate's own rates.

    Example:
        >>> cell = synthetic(0, "scaled-beta", 0.4, 5.0, 0.8, problems=50, budget=100,
        ...                  replicates=3, ks=[10, 1000])
        >>> cell.n.shape, cell.truth.shape, cell.exponent
        ((3, 50), (3, 2), 0.4)
    """
    ks = _checked(seed, budget, replicates, problems, ks)
    for name, value, high in (("a", a, np.inf), ("b", b, np.inf), ("scale", scale, 1.0)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value <= high:
            where = "in (0, 1]" if high == 1 else "positive"
            raise InputError(f"{name} of the synthetic rates must be {where}, got {value!r}")
    rng = np.random.default_rng(seed)
    shape = (replicates, problems)
    if family == "scaled-beta":
        q = rng.beta(a, b, size=shape)
    elif family == "kumaraswamy":
        q = (-np.expm1(np.log1p(-rng.uniform(size=shape)) / b)) ** (1.0 / a)
    else:
        raise InputError(
            f"synthetic rates come from 'scaled-beta' or 'kumaraswamy', not {family!r}"
        )
    rates = scale * q
    c = rng.binomial(budget, rates)
    truth = np.stack([pass_at_k_of_rates(row, ks) for row in rates])
    group = f"{family} a={a} b={b} s={scale}"
    return Design("synthetic", group, budget, np.full(shape, budget), c, ks, truth, float(a))


def pass_at_k_of_rates(rates: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """1 - mean_i (1 - p_i)^k, in log space so that k = 1e9 and p = 1e-12 keep their digits.

    Example:
        >>> pass_at_k_of_rates(np.array([0.5, 0.0]), np.array([1, 2])).tolist()
        [0.25, 0.375]
    """
    return -np.expm1(_log_survival(rates, ks)).mean(axis=1)  # keeps tiny values


def _log_survival(rates: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """Return k log(1 - p) for each k and problem, shape (k, problems)."""
    with np.errstate(divide="ignore"):  # p = 1: log(0) = -inf, survival 0 as it should be
        return ks[:, None] * np.log1p(-rates)[None, :]
