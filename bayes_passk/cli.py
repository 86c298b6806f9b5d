"""Command line app ``bayes-passk``.

Each subcommand is a `Subcommand` in `SUBCOMMANDS`: a help line, a function adding its arguments
to its parser, and a function ``run(args) -> int`` giving the exit code. A new subcommand is one
more entry there.

Bad input (`InputError`) and usage errors are printed as ``bayes-passk: error: <message>`` with
exit code 2 and no traceback; outputs are written only after everything has been checked.

Example:
    >>> main(["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1", "--json"])
    {"k": [1], "pass_at_k": [0.02319140625]}
    0
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from bayes_passk import data as data_module
from bayes_passk.data import InputError, PassData
from bayes_passk.estimators import mean_pass_at_k

PROG = "bayes-passk"


class Subcommand(NamedTuple):
    """One subcommand: help line, argument setup, and the function that runs it."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """Reports usage errors as `InputError`, so that `main` prints every error the same way."""

    def error(self, message: str):
        raise InputError(f"{message} (see '{self.prog} --help')")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit:  # --help
            return 0 if exit.code is None else int(exit.code)
        return args.run(args)
    except InputError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with one subparser per entry of `SUBCOMMANDS`."""
    parser = _Parser(
        prog=PROG, description="Forecast pass@k of language models under repeated sampling."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, subcommand in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=subcommand.help, description=subcommand.help)
        subcommand.add_arguments(subparser)
        subparser.set_defaults(run=subcommand.run)
    return parser


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments naming the data: PATH_OR_DATASET, --group, --format."""
    parser.add_argument(
        "source",
        metavar="PATH_OR_DATASET",
        help="a .csv/.parquet/.jsonl/.json file, or the name of an embedded dataset",
    )
    parser.add_argument("--group", help="the group (model) to use when the data hold several")
    parser.add_argument(
        "--format",
        choices=data_module.FORMATS,
        default="auto",
        help="file format (default: detect from the columns)",
    )


def load_input(source: str, format: str = "auto", group: str | None = None) -> PassData:
    """Load one group's counts from a file or, failing that, an embedded dataset."""
    if Path(source).exists():
        data = data_module.load(source, format=format, group=group)
    elif source in _embedded_names():
        if format != "auto":
            raise InputError(f"--format applies to files; {source!r} is an embedded dataset")
        from bayes_passk import datasets

        data = datasets.load(source, group=group)
    else:
        names = ", ".join(_embedded_names()) or "none installed"
        raise InputError(f"file not found: {source} (nor is it an embedded dataset: {names})")
    if group is None and len(data.groups) > 1:
        raise InputError(
            f"{source} holds {len(data.groups)} groups; choose one with --group: "
            f"{', '.join(data.groups)}"
        )
    return data


def run_datasets(args: argparse.Namespace) -> int:
    """Print the embedded datasets."""
    try:
        from bayes_passk import datasets
    except ImportError:
        raise InputError("no embedded datasets in this installation") from None
    rows = [
        [info.name, info.kind, str(len(info.groups)), info.description]
        for info in datasets.list_datasets()
    ]
    print(format_table(["name", "kind", "groups", "description"], rows))
    return 0


def add_estimate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``estimate``."""
    add_input_arguments(parser)
    parser.add_argument(
        "--k",
        nargs="+",
        type=positive_int,
        default=[1, 10, 100],
        help="k values (default: 1 10 100)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument("--out", metavar="FILE.csv", help="also write the table as CSV")


def run_estimate(args: argparse.Namespace) -> int:
    """Print the unbiased pass@k of the data for each k (NaN where some problem has n < k)."""
    data = load_input(args.source, args.format, args.group)
    ks = np.array(args.k, dtype=np.int64)
    table = pd.DataFrame(
        {
            "k": ks,
            "pass_at_k": mean_pass_at_k(data, ks),
            "problems_with_n_at_least_k": (data.n >= ks[:, None]).sum(axis=1),
        }
    )
    if args.out:
        data_module.write_csv(table, args.out)
    if args.json:
        values = [None if math.isnan(v) else float(v) for v in table["pass_at_k"]]
        print(json.dumps({"k": ks.tolist(), "pass_at_k": values}))
        return 0
    group = f" ({data.groups[0]})" if data.groups != [""] else ""
    fewest, most = int(data.n.min()), int(data.n.max())
    attempts = f"{fewest}" if fewest == most else f"{fewest} to {most}"
    print(f"{args.source}{group}: {data.num_problems} problems, {attempts} attempts each")
    rows = [
        [str(k), f"{value:.6g}", str(covered)]
        for k, value, covered in table.itertuples(index=False)
    ]
    print(format_table(["k", "pass@k", "problems with n >= k"], rows))
    if table["pass_at_k"].isna().any():
        print("nan: some problems have fewer than k attempts, so pass@k cannot be estimated")
    return 0


def positive_int(text: str) -> int:
    """Parse a command line integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Align columns: text left, numbers right.

    Example:
        >>> print(format_table(["k", "pass@k"], [["1", "0.5"], ["10", "0.75"]]))
         k  pass@k
         1     0.5
        10    0.75
    """
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join(line(cells) for cells in [header, *rows])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _embedded_names() -> list[str]:
    try:
        from bayes_passk import datasets
    except ImportError:
        return []
    return [info.name for info in datasets.list_datasets()]


SUBCOMMANDS: dict[str, Subcommand] = {
    "datasets": Subcommand("list the embedded datasets", lambda parser: None, run_datasets),
    "estimate": Subcommand(
        "unbiased pass@k of observed counts, averaged over problems",
        add_estimate_arguments,
        run_estimate,
    ),
}


if __name__ == "__main__":
    raise SystemExit(main())
