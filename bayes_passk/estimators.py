r"""Unbiased estimators of pass@k and pass^k from observed counts (no model).

A problem attempted n times with c successes is a draw of k attempts without replacement:

- pass@k, at least one of k attempts succeeds (Chen et al. 2021):

  .. math::  \widehat{\text{pass@}k} = 1 - \binom{n - c}{k} \Big/ \binom{n}{k}
             = 1 - \prod_{j = n - c + 1}^{n} \Big(1 - \frac{k}{j}\Big);

- pass^k, all k attempts succeed:

  .. math::  \widehat{\text{pass}^k} = \binom{c}{k} \Big/ \binom{n}{k}
             = \prod_{j=0}^{k-1} \frac{c - j}{n - j}.

Both are unbiased for k <= n and undefined for k > n, where they are NaN (never a made-up
value): the data cannot say anything about more attempts than were made.
"""

from __future__ import annotations

import numbers

import numpy as np

from bayes_passk.data import MAX_ATTEMPTS, InputError, PassData, require_pass_data

# Sums of log-factors stop once they pass these floors: beyond them the result is fixed in
# float64 (1 - e^-40 rounds to 1; e^-750 underflows to 0).
_PASS_AT_K_LOG_FLOOR = -40.0
_PASS_HAT_K_LOG_FLOOR = -750.0
_TERMS_PER_BATCH = 1 << 22
MAX_K = MAX_ATTEMPTS  # 2^53: the largest k that float64 holds exactly, far beyond any forecast


def pass_at_k(n, c, k) -> np.ndarray:
    r"""Unbiased pass@k per problem: :math:`1 - \binom{n-c}{k} / \binom{n}{k}`.

    Computed as :math:`-\mathrm{expm1}` of a sum of logs over the :math:`\min(c, k)` factors of
    the equal product :math:`\prod_{i<\min(c,k)} (1 - \max(c,k)/(n-i))`, so it is accurate to
    float64 rounding for n in the millions, both for tiny values (n = 4e6, c = 1, k = 1 gives
    2.5e-7) and near 1.

    Args:
        n: attempts per problem, shape (P,); may differ across problems.
        c: successes per problem, shape (P,), 0 <= c <= n.
        k: a positive integer, or a sequence of them.

    Returns:
        Shape (P,) for one k, (len(k), P) for a sequence; NaN where k > n.

    Example:
        >>> pass_at_k([10, 10, 3], [0, 2, 3], [1, 5])
        array([[0.        , 0.2       , 1.        ],
               [0.        , 0.77777778,        nan]])
    """
    return _per_k(n, c, k, _pass_at_one_k)


def pass_hat_k(n, c, k) -> np.ndarray:
    r"""Unbiased pass^k per problem: :math:`\binom{c}{k} / \binom{n}{k}`, all k attempts succeed.

    Same shapes and NaN convention as `pass_at_k`; pass^1 = pass@1 = c / n.

    Example:
        >>> pass_hat_k([10, 10, 3], [10, 5, 3], [1, 2, 4])
        array([[1.        , 0.5       , 1.        ],
               [1.        , 0.22222222, 1.        ],
               [1.        , 0.02380952,        nan]])
    """
    return _per_k(n, c, k, _pass_hat_one_k)


def mean_pass_at_k(data: PassData, ks) -> np.ndarray:
    """Mean of `pass_at_k` over the problems of one group: the benchmark's pass@k.

    NaN for a k above some problem's n (the mean would need that problem's pass@k).

    Example:
        >>> data = PassData.from_counts(["a", "b"], n=[10, 20], c=[0, 4])
        >>> mean_pass_at_k(data, [1, 15])
        array([0.1, nan])
    """
    data = require_pass_data(data).single_group()
    return pass_at_k(data.n, data.c, ks).mean(axis=-1)


def mean_pass_hat_k(data: PassData, ks) -> np.ndarray:
    """Mean of `pass_hat_k` over the problems of one group; NaN for a k above some n.

    Example:
        >>> data = PassData.from_counts(["a", "b"], n=[10, 20], c=[10, 4])
        >>> mean_pass_hat_k(data, [1, 2])
        array([0.6       , 0.51578947])
    """
    data = require_pass_data(data).single_group()
    return pass_hat_k(data.n, data.c, ks).mean(axis=-1)


def _per_k(n, c, k, estimator) -> np.ndarray:
    n, c = as_counts(n, c)
    ks = as_ks(k)
    values = np.stack([estimator(n.ravel(), c.ravel(), one_k) for one_k in ks.ravel()])
    return values.reshape(ks.shape + n.shape)


def _pass_at_one_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    result = np.where(k > n, np.nan, 1.0)  # c > n - k: every k-subset holds a success
    some_miss = (k <= n) & (c <= n - k)
    log_all_miss = _log_binomial_ratio(n[some_miss], c[some_miss], k, _PASS_AT_K_LOG_FLOOR)
    result[some_miss] = np.abs(np.expm1(log_all_miss))  # abs: 0.0 rather than -0.0 when c = 0
    return result


def _pass_hat_one_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    # All k succeed = no failure among k draws: the all-miss probability with the n - c
    # failures in the role of successes.
    result = np.where(k > n, np.nan, 0.0)  # k > c: some attempt fails
    all_pass = (k <= n) & (k <= c)
    failures = n[all_pass] - c[all_pass]
    result[all_pass] = np.exp(_log_binomial_ratio(n[all_pass], failures, k, _PASS_HAT_K_LOG_FLOOR))
    return result


def _log_binomial_ratio(n: np.ndarray, c: np.ndarray, k: int, floor: float) -> np.ndarray:
    r"""Log of :math:`\binom{n-c}{k}/\binom{n}{k}` per problem (c + k <= n), exact above `floor`.

    The ratio is symmetric in c and k, :math:`\prod_{i<m}(1 - M/(n-i))` with m = min(c, k),
    M = max(c, k): a sum of m log1p terms. Each term is at most -M/n, so after
    :math:`\lceil |floor|\, n / M \rceil` terms the sum is below `floor` and the rest is skipped;
    this bounds the work per problem by about :math:`\sqrt{|floor|\, n}` terms.
    """
    few, many = np.minimum(c, k), np.maximum(c, k)
    needed = np.ceil(-floor * n / np.maximum(many, 1))  # float: may exceed int64 for huge n
    num_terms = np.minimum(few, needed).astype(np.int64)
    total = np.zeros(len(n))
    for rows in _batches(num_terms, _TERMS_PER_BATCH):
        counts = num_terms[rows]
        owner = np.repeat(np.arange(len(rows)), counts)
        offset = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
        # Factor (j - M) / j with j = n - i, from exact integers: log1p of -M/j when the factor
        # is near 1, log of the quotient when it is near 0 (where 1 - M/j would lose digits).
        j = (n[rows][owner] - offset).astype(np.float64)
        factor = (j - many[rows][owner]) / j
        terms = np.where(factor > 0.5, np.log1p(-many[rows][owner] / j), np.log(factor))
        total[rows] = np.bincount(owner, weights=terms, minlength=len(rows))
    return total


def _batches(sizes: np.ndarray, limit: int) -> list[np.ndarray]:
    """Split indices of `sizes` into consecutive runs whose sizes sum to about `limit`."""
    if sizes.size == 0:
        return []
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(limit, ends[-1], limit), side="right")
    return [rows for rows in np.split(np.arange(sizes.size), np.unique(cuts)) if rows.size]


def as_counts(n, c) -> tuple[np.ndarray, np.ndarray]:
    """Return n, c as int64 arrays, or raise `InputError` naming the first value not a count.

    Example:
        >>> as_counts([10, 10], [0, 11])
        Traceback (most recent call last):
        ...
        bayes_passk.data.InputError: need 0 <= c <= n for every problem; at index 1: n = 10, c = 11
    """
    try:
        n, c = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    except ValueError:
        raise InputError(
            f"n and c differ in shape: {np.shape(n)} and {np.shape(c)} (one value per problem)"
        ) from None
    n, c = _whole_numbers("n", n), _whole_numbers("c", c)
    bad = np.flatnonzero((c < 0) | (c > n))
    if bad.size:
        i = bad[0]
        raise InputError(
            f"need 0 <= c <= n for every problem; at index {i}: n = {n.flat[i]}, c = {c.flat[i]}"
        )
    return n, c


def _whole_numbers(name: str, values: np.ndarray) -> np.ndarray:
    """Return ``values`` as int64, or raise `InputError` naming the first that is not a count.

    Example:
        >>> _whole_numbers("n", np.array([3, 1e20]))
        Traceback (most recent call last):
        ...
        bayes_passk.data.InputError: n = 1e+20 at index 1 is too large for int64
        >>> _whole_numbers("c", np.array([-1e20]))
        Traceback (most recent call last):
        ...
        bayes_passk.data.InputError: c = -1e+20 at index 0 is too large for int64
    """
    given = values
    if values.dtype.kind not in "iuf":  # objects, strings, booleans: name the first non-number
        for value in values.ravel().tolist():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InputError(f"{name} must hold whole numbers, got {value!r}")
        values = values.astype(np.float64)
    if values.dtype.kind == "f":
        whole = np.isfinite(values) & (values == np.round(values))
        if not whole.all():
            raise InputError(
                f"{name} must hold whole numbers, got {values[~whole].flat[0].item()!r}"
            )
    large = np.flatnonzero((values >= 2**63) | (values < -(2**63)))
    if large.size:
        i = large[0]
        value = np.asarray(given.flat[i]).item()
        raise InputError(f"{name} = {value!r} at index {i} is too large for int64")
    return values.astype(np.int64)


def real_array(values) -> np.ndarray | None:
    """Return ``values`` as an array of integers or floats, or None if they are not numbers.

    None too for a ragged nesting or a bool among them (NumPy reads ``[True, 5]`` as [1, 5]).

    Example:
        >>> real_array([1, 2.5]).tolist(), real_array([True, 5]), real_array([[1, 2], [3]])
        ([1.0, 2.5], None, None)
    """
    try:
        array = np.asarray(values)
    except ValueError:  # ragged: [[1, 10], [100]]
        return None
    if array.dtype.kind not in "iuf":
        return None
    if any(isinstance(x, bool | np.bool_) for x in np.ravel(np.asarray(values, object))):
        return None
    return array


def as_ks(k) -> np.ndarray:
    """Return k as int64 values, or raise `InputError` unless each is a whole number 1..2^53.

    Example:
        >>> as_ks([1, 10.0, 1e6]).tolist()
        [1, 10, 1000000]
    """
    ks = real_array(k)
    valid = (
        ks is not None
        and ks.ndim <= 1
        and ks.size > 0
        and np.all(ks == np.round(ks))
        and np.all(ks >= 1)
    )
    if not valid:
        raise InputError(f"k must be a positive integer or a sequence of them, got {k!r}")
    if np.any(ks > MAX_K):
        raise InputError(f"k must be at most 2^53 = {MAX_K}, got {ks[ks > MAX_K].flat[0].item()!r}")
    return ks.astype(np.int64)
