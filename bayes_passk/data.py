"""Repeated-sampling results: the `PassData` value, loaders for common table formats, validation.

Every loader returns a `PassData`: one row per (group, problem) with attempts ``n`` and
successes ``c``. Bad input raises `InputError` with a message naming file, row, column and value.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class InputError(ValueError):
    """Input data that cannot be used; the message names file, row, column and value."""


class PassData(NamedTuple):
    """Per-problem attempt and success counts, optionally for several groups (e.g. models).

    Attributes:
        problem_id: problem identifiers, shape (P,), strings.
        n: attempts per problem, shape (P,), int64, n >= 1 (may differ across problems).
        c: successes per problem, shape (P,), int64, 0 <= c <= n.
        group: group label per problem, shape (P,), strings; all "" when there is one group.

    Example:
        >>> d = PassData.from_counts(["a", "b"], n=[10, 20], c=[0, 3])
        >>> d.num_problems, d.groups
        (2, [''])
    """

    problem_id: np.ndarray
    n: np.ndarray
    c: np.ndarray
    group: np.ndarray

    @classmethod
    def from_counts(cls, problem_id, n, c, group=None) -> PassData:
        """Build from sequences, checking counts (see `validate_counts`)."""
        problem_id = np.asarray(problem_id).astype(str)
        n = np.asarray(n)
        c = np.asarray(c)
        group = np.full(problem_id.shape, "", dtype=str) if group is None else np.asarray(group)
        return cls(problem_id, n.astype(np.int64), c.astype(np.int64), group.astype(str))

    @property
    def num_problems(self) -> int:
        """Number of rows (problems, over all groups)."""
        return int(self.n.shape[0])

    @property
    def groups(self) -> list[str]:
        """Distinct groups in order of first appearance."""
        _, first = np.unique(self.group, return_index=True)
        return [str(self.group[i]) for i in sorted(first)]

    def select(self, group: str) -> PassData:
        """The rows of one group; `InputError` naming the known groups if it is absent."""
        if group not in self.groups:
            raise InputError(f"unknown group {group!r}; known groups: {', '.join(self.groups)}")
        keep = self.group == group
        return PassData(self.problem_id[keep], self.n[keep], self.c[keep], self.group[keep])

    def single_group(self, group: str | None = None) -> PassData:
        """The one group to fit: `group` if given, else the only group present."""
        if group is not None:
            return self.select(group)
        if len(self.groups) > 1:
            raise InputError(
                f"data hold {len(self.groups)} groups ({', '.join(self.groups)}); choose one"
            )
        return self
