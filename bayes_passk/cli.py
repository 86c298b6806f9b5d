"""Command line app ``bayes-passk``.

Each subcommand is a `Subcommand` in `SUBCOMMANDS`: a help line, a function adding its arguments
to its parser, and a function ``run(args) -> int`` giving the exit code. A new subcommand is one
more entry there.

Bad input (`InputError`) and usage errors are printed as ``bayes-passk: error: <message>`` with
exit code 2 and no traceback; outputs are written only after everything has been checked.

Example:
    >>> main(["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1", "--json"])
    {"k": [1], "pass_at_k": [0.02319140625], "problems_with_n_at_least_k": [128]}
    0
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import math
import os
import re
import signal
import socket
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable, Collection, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from bayes_passk import __version__
from bayes_passk import data as data_module
from bayes_passk.data import InputError, PassData, name_number, percent
from bayes_passk.estimators import MAX_K, mean_pass_at_k
from bayes_passk.models import DEFAULT_PRIOR, family_names

if TYPE_CHECKING:  # the command line imports JAX and ArviZ only when it fits
    from arviz import InferenceData

    from bayes_passk.batched import BatchConfig
    from bayes_passk.forecast import Forecast

PROG = "bayes-passk"
JOIN_TIMEOUT_S = 300  # how long --distributed waits for every process, as JAX does
SHORT_EXTRAPOLATION = 10  # k / n beyond which `forecast` notes that the tail is assumed


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
    """Run the command line `argv` (default: ``sys.argv[1:]``); return the exit code.

    Run as the command (no ``argv``), Ctrl-C stops the process at once (`_ctrl_c_stops_at_once`);
    called from Python with ``argv``, it raises KeyboardInterrupt, and `main` returns 130.
    """
    on_the_command_line = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only the named subcommand's arguments are set up; the others' are never built.
    command = next((word for word in argv if not word.startswith("-")), None)
    parser = build_parser(commands=[command])
    try:
        try:
            args, unknown = parser.parse_known_args(argv)
        except SystemExit as exit:  # --help
            return 0 if exit.code is None else int(exit.code)
        if unknown:  # the options of the part of the line they were given in
            before_command = argv.index(unknown[0]) < argv.index(args.command)
            helper = PROG if before_command else f"{PROG} {args.command}"
            raise InputError(f"unrecognized arguments: {' '.join(unknown)} (see '{helper} --help')")
        for name, values in vars(args).items():
            if isinstance(values, list) and name != "distributed":  # a list of settings
                _refuse_repeats(f"--{name.replace('_', '-')}", values)
        run_length = [getattr(args, name, None) for name in ("chains", "warmup", "samples")]
        if None not in run_length:  # before any work
            data_module.check_run_length(*run_length, options=True)
        with warnings.catch_warnings(), _ctrl_c_stops_at_once(on_the_command_line):
            # ArviZ's once-a-day notice of its own refactor says nothing about the user's run.
            warnings.filterwarnings("ignore", r"\s*ArviZ is undergoing", FutureWarning)
            warnings.showwarning = _show_warning  # restored on leaving the block
            return args.run(args)
    except InputError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (e.g. piped into head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:  # Ctrl-C in a call from Python: `_write_all` cleans up
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError) as error:
        if not (_joined_others() and "Gloo" in str(error)):  # a collective failed: one has gone
            raise
        cause = str(error).splitlines()[0]
        print(
            f"{PROG}: error: --distributed lost another process mid-run ({cause})", file=sys.stderr
        )
        return _leave_joined(1)


def _joined_others() -> bool:
    """Whether this process has joined others with `jax.distributed` (``--distributed``)."""
    return "jax" in sys.modules and sys.modules["jax"].distributed.is_initialized()


def _leave_joined(code: int) -> int:
    """Return ``code``; but a process joined to others that stops early exits at once.

    Returning, it would wait in JAX's shutdown for the others, which wait for it at their next
    exchange of results: both stall for minutes, then JAX aborts them from C++. Exiting, the
    others see the loss at that exchange and stop too (CPU collectives report it). Outputs
    are written only at the end, so none is left half written.
    """
    if not _joined_others():
        return code
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@contextlib.contextmanager
def _ctrl_c_stops_at_once(enabled: bool = True):
    """In the block Ctrl-C stops the process at once (`_interrupted`), if ``enabled``.

    Left to Python, Ctrl-C raises a KeyboardInterrupt wherever the main thread happens to be;
    inside a callback Python runs itself (JAX's garbage-collection hook, a finalizer) it is
    printed and dropped, and the run went on to write its outputs and exit 0. In a process
    joined to others (``--distributed``) it also left the process hanging (`_leave_joined`).
    A Ctrl-C that is ignored (a job started in the background) stays ignored, and so does
    the handler of a Python session that calls `main` (a REPL, a Jupyter kernel, which would
    be ended with it).
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main_thread else None
    if enabled and previous is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)
    try:
        yield
    finally:
        # Also what `--distributed` or `_write_all` set, so that a Python session gets its own.
        if previous is not None and signal.getsignal(signal.SIGINT) is not previous:
            signal.signal(signal.SIGINT, previous)


# What an interrupted `_write_all` leaves: its partial files, then the folders it made.
_unfinished_outputs: list[Path] = []


def _interrupted(signum, frame) -> None:
    """Ctrl-C: remove what is half written, say so and leave at once (`_ctrl_c_stops_at_once`).

    Written straight to the file descriptor: the handler may run inside a print.
    """
    for path in _unfinished_outputs:
        with contextlib.suppress(OSError):
            if path.is_dir():
                path.rmdir()  # only if empty: a folder the renames had filled stays
            else:
                path.unlink(missing_ok=True)
    os.write(2, f"{PROG}: interrupted\n".encode())
    os._exit(130)


@contextlib.contextmanager
def _printed_warnings(prefix: str = ""):
    """Collect the package's warnings (UserWarning) in the block; print each on a line after."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        yield
    for warning in caught:
        print(f"{PROG}: warning: {prefix}{warning.message}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a library's warning (e.g. matplotlib's about a font) like the package's own."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def build_parser(commands: Collection[str | None] | None = None) -> argparse.ArgumentParser:
    """Return the parser with one subparser per entry of `SUBCOMMANDS`.

    Given `commands`, only those subparsers get their arguments: enough to parse a command line
    naming one of them, or none.
    """
    parser = _Parser(
        prog=PROG, description="Forecast pass@k of language models under repeated sampling."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, subcommand in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=subcommand.help, description=subcommand.help)
        if commands is None or name in commands:
            subcommand.add_arguments(subparser)
        subparser.set_defaults(run=subcommand.run)
    return parser


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments naming the data: PATH_OR_DATASET, --group, --format."""
    parser.add_argument(
        "source",
        metavar="PATH_OR_DATASET",
        help="a .csv/.tsv/.parquet/.jsonl/.json file, or the name of an embedded dataset",
    )
    parser.add_argument("--group", help="the group (model) to use when the data hold several")
    parser.add_argument(
        "--format",
        choices=data_module.FORMATS,
        default="auto",
        help="file format (default: detect from the columns)",
    )


def load_input(
    source: str, format: str = "auto", group: str | None = None, several: bool = False
) -> PassData:
    """Load one group's counts (every group's if ``several``) from a file or an embedded dataset."""
    if _is_a_path(_not_empty("PATH_OR_DATASET", source)):
        data = _read_file(source, format, group)
    elif source in _embedded_names():
        _refuse_format(format, source)
        from bayes_passk import datasets

        data = datasets.load(source, group=group)
    else:
        names = ", ".join(_embedded_names()) or "none installed"
        raise InputError(f"file not found: {source} (nor is it an embedded dataset: {names})")
    if group is None and not several:
        _refuse_several_groups(source, data.groups)
    return data


# Files this large say that they are being read: millions of attempt rows take seconds.
LARGE_FILE_BYTES = 50_000_000


def _read_file(path: str, format: str, group: str | None = None) -> PassData:
    size = os.path.getsize(path)
    if size >= LARGE_FILE_BYTES:
        _say(f"reading {path} ({size / 1e6:,.0f} MB)")
    try:
        return data_module.load(path, format=format, group=group)
    except InputError as error:
        if path not in _embedded_names():
            raise
        raise InputError(
            f"{error} (the file {path} here is read, not the embedded dataset of that name; "
            "run from another folder to use the dataset)"
        ) from None


def _refuse_several_groups(source: str, groups) -> None:
    if len(groups) > 1:
        raise InputError(
            f"{source} holds {len(groups)} groups; choose one with --group: {', '.join(groups)}"
        )


def _refuse_format(format: str, source: str) -> None:
    if format != "auto":
        raise InputError(f"--format applies to files; {source!r} is an embedded dataset")


def add_datasets_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``datasets``."""
    parser.add_argument("name", nargs="?", metavar="NAME", help="list this dataset's groups")
    parser.add_argument(
        "--json", action="store_true", help="print JSON: a list of datasets, or the one named"
    )


def run_datasets(args: argparse.Namespace) -> int:
    """Print the embedded datasets, or one dataset's groups, source and caveat."""
    try:
        from bayes_passk import datasets
    except ImportError:
        raise InputError("no embedded datasets in this installation") from None
    embedded = {info.name: info for info in datasets.list_datasets()}
    if args.name is not None and args.name not in embedded:
        raise InputError(f"no embedded dataset {args.name!r}; choose one of {', '.join(embedded)}")
    if args.json:
        described = [info._asdict() for info in embedded.values()]
        print(json.dumps(described if args.name is None else embedded[args.name]._asdict()))
        return 0
    if args.name is None:
        rows = [
            [info.name, info.kind, str(len(info.groups)), info.description]
            for info in embedded.values()
        ]
        print(format_table(["name", "kind", "groups", "description"], rows))
        return 0
    info = embedded[args.name]
    print(f"{info.name} ({info.kind}): {info.description}")
    print(f"source: {info.source}")
    if info.caveat:
        print(f"caveat: {info.caveat}")
    print("groups:")
    for group in info.groups:
        print(f"  {group}")
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
    out = _output_file(args.out, args.source)
    data = load_input(args.source, args.format, args.group)
    _note_stopping_rule(args.source, "this estimator")
    ks = np.array(args.k, dtype=np.int64)
    table = pd.DataFrame(
        {
            "k": ks,
            "pass_at_k": mean_pass_at_k(data, ks),
            "problems_with_n_at_least_k": (data.n >= ks[:, None]).sum(axis=1),
        }
    )
    if out is not None:
        _write_all({out: lambda path: table.to_csv(path, index=False)})
    if args.json:
        values = [None if math.isnan(v) else float(v) for v in table["pass_at_k"]]
        covered = table["problems_with_n_at_least_k"].tolist()
        print(
            json.dumps(
                {"k": ks.tolist(), "pass_at_k": values, "problems_with_n_at_least_k": covered}
            )
        )
        return 0
    print(_describe(args.source, data))
    rows = [
        [str(k), f"{value:.6g}", str(covered)]
        for k, value, covered in table.itertuples(index=False)
    ]
    print(format_table(["k", "pass@k", "problems with n >= k"], rows))
    if table["pass_at_k"].isna().any():
        print("nan: where a problem has fewer than k attempts, pass@k cannot be estimated")
    return 0


DEFAULT_FORECAST = ("pythia-math", "Pythia 12B", 100)


def add_forecast_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``forecast``."""
    parser.add_argument(
        "source",
        nargs="?",
        metavar="PATH_OR_DATASET",
        help="a counts/attempts/human-eval file or an embedded dataset (default: Pythia 12B on "
        "MATH subsampled to 100 attempts per problem, with the truth from all 10,000 overlaid)",
    )
    parser.add_argument("--group", help="the group (model) to fit when the data hold several")
    parser.add_argument(
        "--all-groups",
        action="store_true",
        help="forecast every group, one fit each (the outputs gain a group column or key)",
    )
    parser.add_argument("--format", choices=data_module.FORMATS, default="auto", help=FORMAT_HELP)
    parser.add_argument(
        "--method",
        choices=forecast_methods(),
        help=f"bayes-<prior> (default: bayes-{DEFAULT_PRIOR}) or one of the papers' point methods",
    )
    parser.add_argument(
        "--prior",
        choices=family_names(),
        help="prior family of the Bayesian model (short for --method bayes-<prior>)",
    )
    parser.add_argument(
        "--bootstrap",
        type=positive_int,
        metavar="N",
        help="point methods: percentile intervals from N bootstrap resamples of the problems",
    )
    parser.add_argument(
        "--k", nargs="+", type=positive_int, help="k values (default: log grid from 1 to 1e6)"
    )
    _add_fit_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write forecast.csv, forecast.json, forecast.png and, for a Bayesian fit, "
        "posterior.nc there (posterior-<place>-<group>.nc each with --all-groups, <place> "
        "zero-padded to the number of groups' digits)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")


def _add_fit_arguments(parser) -> None:
    """Add what `forecast` and `compare` share: --ci, --target, --attempts, the sampler's."""
    parser.add_argument("--ci", type=probability, default=0.9, help="interval level (0.9)")
    parser.add_argument(
        "--target",
        choices=["benchmark", "new"],
        default="benchmark",
        help=TARGET_HELP + " (benchmark)",
    )
    parser.add_argument(
        "--attempts",
        type=positive_int,
        metavar="M",
        help="subsample an embedded per-attempt dataset to M attempts per problem (seed --seed);"
        " default: every attempt",
    )
    _add_sampler_arguments(parser, chains=4, warmup=1000, samples=1000)


def _add_sampler_arguments(
    parser, chains: int, warmup: int, samples: int, batched: bool = False
) -> None:
    parser.add_argument("--seed", type=seed_int, default=0, help="random seed (0)")
    parser.add_argument(
        "--chains", type=positive_int, default=chains, help=f"NUTS chains ({chains})"
    )
    parser.add_argument(
        "--warmup", type=positive_int, default=warmup, help=f"warm-up draws per chain ({warmup})"
    )
    parser.add_argument(
        "--samples",
        type=draws_int,
        default=samples,
        help=f"kept draws per chain ({samples}; at least 4)",
    )
    parser.add_argument(
        "--target-accept",
        type=probability,
        help="NUTS target acceptance (default: the prior's, 0.9 for most, 0.99 for the"
        " beta-spline and log-spline"
        + ("; at least 0.95 in these batched fits" if batched else "")
        + "); raise it when a fit warns of divergences",
    )
    if batched:
        parser.add_argument(
            "--chunk",
            type=positive_int,
            metavar="N",
            help="datasets run together, at most about N (evened over the chunks,"
            " rounded up to the device count; default: one per CPU core, 128 per GPU)",
        )
        parser.add_argument(
            "--distributed",
            nargs="*",
            metavar="ADDRESS PROCESSES ID",
            help="run as one of several processes (hosts) that share the fits, each running"
            " the same command: with no value, as the cluster says (SLURM, Open MPI,"
            " Kubernetes, Cloud TPU); otherwise the coordinator's host:port, how many"
            " processes, and this one's number from 0. Process 0 alone prints and writes"
            " --out",
        )
        parser.add_argument(
            "--join-timeout",
            type=positive_int,
            default=JOIN_TIMEOUT_S,
            metavar="SECONDS",
            help=f"with --distributed: how long to wait for every process to join before"
            f" stopping ({JOIN_TIMEOUT_S})",
        )


def _distributed(values: list[str] | None) -> tuple | None:
    """Check --distributed: None (one process), () (the cluster's settings) or (address, n, i)."""
    if values is None:
        return None
    if not values:
        return ()
    if len(values) != 3:
        raise InputError(
            f"--distributed takes no value or three (ADDRESS PROCESSES ID), got {len(values)}"
        )
    address, processes, index = values
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 2**16:
        raise InputError(
            f"--distributed: the address {address!r} is not host:port (a port from 1 to 65535)"
        )
    try:
        processes, index = int(processes), int(index)
    except ValueError:
        raise InputError(
            f"--distributed: PROCESSES and ID must be whole numbers, got {values[1]!r}, "
            f"{values[2]!r}"
        ) from None
    if processes < 1:
        raise InputError(f"--distributed: PROCESSES must be at least 1, got {processes}")
    if not 0 <= index < processes:
        raise InputError(
            f"--distributed: ID must be from 0 to PROCESSES - 1, got ID {index} of {processes}"
        )
    return address, processes, index


def _check_port_free(address: str) -> None:
    """Refuse a coordinator port that is taken here (JAX's service would crash on it)."""
    port = int(address.rpartition(":")[2])
    try:  # JAX's service listens on [::]:port, which holds IPv4's 0.0.0.0:port too
        probe = socket.socket(socket.AF_INET6)
    except OSError:  # a host without IPv6
        probe = socket.socket(socket.AF_INET)
    with probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError as error:
            raise InputError(
                f"--distributed: process 0 serves the coordinator on port {port}, which is"
                f" taken on this host ({error.strerror}); choose another port"
            ) from None


@contextlib.contextmanager
def _deadline(seconds: int, message: str):
    """Exit 2 with ``message`` if the block runs longer than ``seconds``.

    For waits that JAX ends by aborting the process from C++ (a join that times out), where no
    exception reaches Python; the block's C++ call releases the GIL, so the timer runs.
    """

    def expire() -> None:
        print(f"{PROG}: error: {message}", file=sys.stderr, flush=True)
        os._exit(2)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send what is written to file descriptor 1 in the block (from C++ too) to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _joined(args: argparse.Namespace):
    """Join the processes of ``--distributed``, if given; yield whether this one reports.

    The block holds the command's input checks. Every process runs them, then all compare:
    if any failed, or if the processes were given different commands, every one stops with
    exit 2 rather than wait for the others. A process that never joins leaves the others
    waiting ``--join-timeout`` seconds (each says so on stderr as it starts to wait); then they
    stop with exit 2. Once joined, only process 0 reports: the others print no progress and no
    warnings, write nothing, and return once the fits are done.
    """
    settings = _distributed(args.distributed)
    if settings is None:
        yield True
        return
    import jax
    from jax.experimental import multihost_utils

    if settings and settings[2] == 0:
        _check_port_free(settings[0])
    where = f"at {settings[0]} ({settings[1]} processes)" if settings else "in the cluster"
    late = (
        f"--distributed: not every process joined {where} within {args.join_timeout} s;"
        " start each with the same ADDRESS and PROCESSES, or give --join-timeout more"
    )
    who = f"process {settings[2]}" if settings else "this process"
    print(
        f"--distributed: {who} joining {where}; waiting up to {args.join_timeout} s"
        " (--join-timeout) for the others",
        file=sys.stderr,
        flush=True,
    )
    try:
        # Gloo announces its connections on stdout, before a --json. JAX's own deadline comes
        # later than ours: at its own it aborts the process with a C++ trace.
        with _stdout_to_stderr(), _deadline(args.join_timeout, late):
            jax.distributed.initialize(*settings, initialization_timeout=args.join_timeout + 60)
            multihost_utils.sync_global_devices("bayes-passk")  # connects them now
    except (RuntimeError, ValueError) as error:
        how = f"at {settings[0]}" if settings else "with the cluster's settings"
        message = f"--distributed: could not join the other processes {how}: {error}"
        if not settings:
            message += (
                " (found no SLURM, Open MPI, Kubernetes or Cloud TPU; give ADDRESS PROCESSES ID)"
            )
        raise InputError(message) from None
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored
        signal.signal(signal.SIGINT, _interrupted)  # called from Python too; `main` restores it
    index = jax.process_index()
    if index != 0:
        warnings.simplefilter("ignore")  # process 0 says it; `main` restores the filters
    failure = None
    try:
        with _leaving_on_a_bug():
            yield index == 0
    except InputError as error:
        failure = error
    # The command, but for where the process stands and where it would write.
    ignored = ("distributed", "join_timeout", "out", "run")
    command = {k: v for k, v in vars(args).items() if k not in ignored}
    digest = hashlib.sha256(repr(sorted(command.items())).encode()).digest()
    mine = np.array([failure is not None, *np.frombuffer(digest[:8], np.uint32)], np.int64)
    every = np.asarray(multihost_utils.process_allgather(mine)).reshape(-1, mine.size)
    if failure is not None:
        raise failure
    if every[:, 0].any():
        raise InputError(f"process {int(np.argmax(every[:, 0]))} stopped on an input error")
    differ = np.flatnonzero((every[:, 1:] != every[0, 1:]).any(axis=1))
    if differ.size:
        raise InputError(
            f"process {differ[0]} was started with another command than process 0; every "
            "process must run the same (--out, --join-timeout and --distributed's ID aside)"
        )


@contextlib.contextmanager
def _leaving_on_a_bug():
    """In a joined process, end at once on an unexpected exception (a bug) in the block.

    For blocks that end in an exchange with the other processes (the input checks, the fits):
    returning, the process would wait in JAX's shutdown for the others, which wait for it at
    that exchange until JAX aborts them from C++. Leaving, its traceback printed, the others
    see the loss there and stop too. Input errors and a lost process are handled by the caller.
    """
    try:
        yield
    except InputError:
        raise
    except Exception as error:
        if not _joined_others() or "Gloo" in str(error):
            raise
        traceback.print_exc()
        _leave_joined(1)


def _say(line: str) -> None:
    """Print a progress line of a long command to stderr."""
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def _tuning(args: argparse.Namespace) -> dict:
    """Collect the sampler options the user set, for `bayes_passk.fit` or `BatchConfig`."""
    return {} if args.target_accept is None else {"target_accept": args.target_accept}


def _batch_config(args: argparse.Namespace) -> BatchConfig:
    """Build the batched commands' `BatchConfig` from their sampler options."""
    from bayes_passk.batched import BatchConfig

    return BatchConfig(
        chains=args.chains,
        warmup=args.warmup,
        samples=args.samples,
        ci=args.ci,
        chunk=args.chunk,
        **_tuning(args),
    )


def run_forecast(args: argparse.Namespace) -> int:
    """Fit the model, forecast pass@k, print the table or JSON, and write the outputs."""
    from bayes_passk.forecast import DEFAULT_KS
    from bayes_passk.plots import plot_forecast, save_figure

    method = _forecast_method(args)
    source, group, attempts = args.source, args.group, args.attempts
    if args.all_groups and group:
        raise InputError("--all-groups forecasts every group; leave out --group")
    if source is None:
        source, default_group, default_attempts = DEFAULT_FORECAST
        group = None if args.all_groups else group or default_group
        attempts = attempts or default_attempts
    out = _output_dir(args.out)
    to_forecast = _groups_to_forecast(args, source, group, attempts)
    _note_stopping_rule(source, "the unbiased pass@k beside the forecast")
    labels = [_label(source, data) for _, data in to_forecast]
    posteriors = _posterior_names(labels) if args.all_groups else []
    written = ["forecast.csv", "forecast.json", "forecast.png", "posterior.nc", *posteriors]
    _check_outputs(out, written, [source], command="forecast")
    wanted = np.array(args.k if args.k else DEFAULT_KS, dtype=np.int64)
    plot = out is not None
    runs = []
    for place, (name, data) in enumerate(to_forecast, start=1):
        try:
            where = (place, len(to_forecast))
            runs.append(
                _forecast_group(args, method, source, name, data, attempts, wanted, plot, where)
            )
        except InputError as error:
            if not args.all_groups:
                raise
            raise InputError(f"group {name or Path(source).stem}: {error}") from None

    if args.all_groups:
        report = {"groups": [{"group": run.label, **run.report} for run in runs]}
    else:
        [run] = runs
        report = run.report
    if out is not None:
        table = runs[0].table
        if args.all_groups:
            tables = [run.table.assign(group=run.label) for run in runs]
            table = pd.concat(tables, ignore_index=True)[["group", *table.columns]]
        curves = {run.label: run.truth_curve for run in runs if run.truth_curve is not None}
        name = source if args.all_groups else runs[0].label
        title = _plot_title(name, method, [data for _, data in to_forecast])
        solved = None  # drawn beside one forecast only: a curve per group crowds the plot
        if len(runs) == 1 and runs[0].solved_curve is not None:
            solved = {runs[0].label: runs[0].solved_curve}
        figure = plot_forecast(
            {run.label: run.plotted for run in runs},
            truth=curves or None,
            title=title,
            solved=solved,
            attempts=max(int(data.n.max()) for _, data in to_forecast),
        )
        writers = {
            out / "forecast.csv": lambda path: table.to_csv(path, index=False),
            # The whole report (exponent, diagnostics), which the table's columns cannot hold.
            out / "forecast.json": lambda path: path.write_text(json.dumps(report) + "\n"),
            out / "forecast.png": lambda path: save_figure(figure, path),
        }
        for i, run in enumerate(runs):
            if run.idata is not None:
                name = posteriors[i] if args.all_groups else "posterior.nc"
                writers[out / name] = partial(_save_posterior, run.idata)
        # Outputs an earlier run wrote that this one does not (a point method writes no posterior).
        earlier = [
            p for p in out.glob("posterior-*.nc") if re.fullmatch(r"posterior-\d+-.*", p.stem)
        ]
        _write_all(writers, stale=[out / "posterior.nc", *sorted(earlier)])
    if args.json:
        print(json.dumps(report))
        return 0
    for i, run in enumerate(runs):
        if i:
            print()
        _print_forecast(source, run.data, run.forecast, run.true_values, run.unsolved)
    return 0


class _GroupForecast(NamedTuple):
    """One group's forecast as `run_forecast` reports and writes it."""

    label: str  # the group, or the file's stem when the data have no groups
    data: PassData
    forecast: Forecast  # at the k asked for
    plotted: Forecast  # on the plotting grid
    true_values: np.ndarray | None  # pass@k from all attempts, when subsampled
    unsolved: np.ndarray | None  # the part of the mean from problems never solved (Bayesian)
    truth_curve: tuple | None  # (k, pass@k) on the plotting grid, when subsampled
    solved_curve: np.ndarray | None  # mean less the unsolved part, on the plotting grid
    report: dict  # the JSON object
    table: pd.DataFrame  # the CSV rows
    idata: InferenceData | None  # the posterior; None for a point method


def _forecast_group(
    args, method, source, group, data, attempts, wanted, plot, place
) -> _GroupForecast:
    """Fit one group's ``data`` and forecast at the k ``wanted``, and on a grid for a ``plot``.

    ``place`` is (this group, of how many).
    """
    from bayes_passk import datasets
    from bayes_passk.baselines import fit_baseline
    from bayes_passk.forecast import unsolved_part

    truth = None if attempts is None else datasets.load(source, group=group)  # all attempts
    # Forecast on the plot's fine grid, with a plot or without, and report the k asked for:
    # a Bayesian forecast's interval ends at one k move with the smaller k forecast beside it
    # (`bayes_passk.forecast.forecast`), and --out must not change the numbers printed.
    ks = _plotting_grid(wanted, [d.n.min() for d in (data, truth) if d is not None])
    label = _label(source, data)
    which = f" ({label}, {place[0]} of {place[1]})" if args.all_groups else ""
    idata = unsolved = None
    if method.startswith("bayes-"):
        first = " (compiling takes part of a first run)" if place[0] == 1 else ""
        _say_fitting(method, data, args, which, first)
        prefix = f"{label}: " if args.all_groups else ""
        result = _fit_with_warnings(data, method.removeprefix("bayes-"), args, prefix)
        grid = f", {len(ks)} on the plot's grid" if plot and len(ks) > len(wanted) else ""
        print(
            f"{PROG}: forecasting pass@k at {_plural(len(wanted), 'value')} of k{grid}",
            file=sys.stderr,
            flush=True,
        )
        with _printed_warnings(prefix):
            forecast = result.forecast(ks, ci=args.ci, target=args.target, seed=args.seed)
            if args.target == "benchmark":
                unsolved = unsolved_part(result, ks)  # on the plot's grid too
        idata = result.idata
    else:
        with _printed_warnings(f"{label}: {method}: " if args.all_groups else f"{method}: "):
            fitted = fit_baseline(data, method)
        forecast = fitted.forecast(
            ks, ci=args.ci, bootstrap=args.bootstrap or 0, seed=args.seed, target=args.target
        )
        if np.all(np.isnan(forecast.mean)):
            params = ", ".join(f"{name} = {value:.3g}" for name, value in fitted.params.items())
            raise InputError(
                f"{method}: the fit ({params}) is too degenerate to forecast from; the data do "
                "not identify it"
            )

    plotted, forecast = forecast, forecast.at(wanted)
    # The part from problems solved so far says something when some, not all, were solved.
    some_never_solved = (data.c == 0).any() and (data.c > 0).any()
    solved = plotted.mean - unsolved if unsolved is not None and some_never_solved else None
    if unsolved is not None:
        unsolved = unsolved[[np.flatnonzero(ks == k)[0] for k in wanted]]
    true_values = None if truth is None else mean_pass_at_k(truth, wanted)
    report = json.loads(forecast.to_json())
    if true_values is not None:
        report["truth"] = [_json_value(value) for value in true_values]
    if unsolved is not None:
        report["unsolved_part"] = [_json_value(value) for value in unsolved]
    table = forecast.to_frame()
    if true_values is not None:
        table["truth"] = true_values
    if unsolved is not None:
        table["unsolved_part"] = unsolved
    truth_curve = None if truth is None else (ks, mean_pass_at_k(truth, ks))
    return _GroupForecast(
        label,
        data,
        forecast,
        plotted,
        true_values,
        unsolved,
        truth_curve,
        solved,
        report,
        table,
        idata,
    )


def _groups_to_forecast(args, source, group, attempts) -> list[tuple[str | None, PassData]]:
    """(group, its counts) for each group to forecast: the one named, or every group.

    With --all-groups a file is read once; None names the group of data without groups.
    """
    if not args.all_groups:
        return [(group, _load_group(source, args.format, group, attempts, args.seed))]
    if attempts is None:
        everything = load_input(source, args.format, several=True)
        return [(name or None, everything.select(name)) for name in everything.groups]
    if _is_a_path(source) or source not in _embedded_names():
        return [(None, _load_group(source, args.format, None, attempts, args.seed))]  # refused
    from bayes_passk import datasets

    # Subsampled group by group, each as a run with --group draws it.
    groups = {info.name: info for info in datasets.list_datasets()}[source].groups
    return [(name, _load_group(source, args.format, name, attempts, args.seed)) for name in groups]


def _plot_title(name: str, method: str, fitted: list[PassData]) -> str:
    """``name, method, N attempts per problem``, the name cut so that the rest shows.

    Example:
        >>> data = PassData.from_counts(["a", "b"], n=[100, 40], c=[1, 0])
        >>> _plot_title("Pythia 12B", "bayes-beta-spline", [data])
        'Pythia 12B, bayes-beta-spline, 40-100 attempts per problem'
    """
    from bayes_passk.plots import TITLE_LENGTH, shorten

    low = min(int(data.n.min()) for data in fitted)
    high = max(int(data.n.max()) for data in fitted)
    attempts = f"{low}" if low == high else f"{low}-{high}"
    rest = f", {method}, {attempts} attempts per problem"
    return shorten(name, max(TITLE_LENGTH - len(rest), 16)) + rest


def _label(source: str, data: PassData) -> str:
    """Name a forecast by its group, or by the file's stem when the data have no groups."""
    return data.groups[0] or Path(source).stem


def _posterior_names(labels: list[str]) -> list[str]:
    """``posterior-<place>-<label>.nc`` per group, the label cut to 60 safe characters.

    The place in the data's order makes each name unique, whatever the labels.

    Example:
        >>> _posterior_names(["Pythia 1B", "a/b", "a?b"])
        ['posterior-1-Pythia_1B.nc', 'posterior-2-a_b.nc', 'posterior-3-a_b.nc']
        >>> _posterior_names([f"m{i}" for i in range(10)])[::9]  # the first and the tenth
        ['posterior-01-m0.nc', 'posterior-10-m9.nc']
        >>> _posterior_names(["m  2 (x)"])  # a run of other characters is one _
        ['posterior-1-m_2_x_.nc']
        >>> len(_posterior_names(["x" * 70])[0]) == len("posterior-1-.nc") + 60
        True
    """
    width = len(str(len(labels)))
    return [
        f"posterior-{place:0{width}d}-{re.sub(r'[^A-Za-z0-9._-]+', '_', label)[:60]}.nc"
        for place, label in enumerate(labels, start=1)
    ]


def _plotting_grid(ks: np.ndarray, edges=()) -> np.ndarray:
    """Return the k asked for, 25 log-spaced k between their extremes, and ``edges`` within.

    An edge is the fewest attempts of a problem: where the unbiased estimates and the truth
    end, so that their curves reach it.

    Example:
        >>> grid = _plotting_grid(np.array([1, 10_000]), edges=[75, 10**6])
        >>> len(grid), [int(k) for k in grid if 50 < k < 150]  # 10**6 is beyond the k asked
        (25, [68, 75, 100, 147])
    """
    low, high = np.log10(ks.min()), np.log10(ks.max())
    grid = np.round(np.logspace(low, high, 25)).astype(np.int64)
    inside = [edge for edge in edges if ks.min() <= edge <= ks.max()]
    return np.unique(np.concatenate([ks, grid, np.array(inside, dtype=np.int64)]))


# The names of `bayes_passk.allocation.POLICIES` and `bayes_passk.baselines.METHODS`, here so
# that the parser needs no JAX (tests/test_package.py checks that they agree).
POLICIES = ("uniform", "dynamic", "bayes")
POINT_METHODS = (
    "regression",
    "discretized-beta",
    "discretized-kumaraswamy",
    "beta-binomial",
    "scaled-beta-binomial",
    "kumaraswamy-binomial",
)

FORMAT_HELP = "input format (auto: detected from the columns)"
TARGET_HELP = "benchmark: pass@k of these problems; new: of a fresh problem like them"

# Every table `compare` writes: a group comparison, or the priors' LOO, checks and forecasts.
COMPARE_TABLES = ("comparison.csv", "loo.csv", "predictive_check.csv", "forecast.csv")
COMPARE_PLOTS = ("forecast.png", "difference.png")  # the second for groups only


def forecast_methods() -> list[str]:
    """``bayes-<family>`` for every prior family, then the point methods."""
    return [f"bayes-{name}" for name in family_names()] + list(POINT_METHODS)


def _forecast_method(args: argparse.Namespace) -> str:
    """Return the method named by --method or --prior; reject conflicting options."""
    method = args.method or f"bayes-{args.prior or DEFAULT_PRIOR}"
    if args.prior and method != f"bayes-{args.prior}":
        raise InputError(f"--prior {args.prior} contradicts --method {method}")
    if method.startswith("bayes-"):
        if args.bootstrap:
            raise InputError("--bootstrap applies to the point methods, not to " + method)
    elif args.target != "benchmark" and method == "regression":
        raise InputError(
            f"--target {args.target}: the regression fits the benchmark's pass@k curve only; "
            "the other point methods fit a distribution of rates over problems"
        )
    return method


def _describe(source: str, data: PassData) -> str:
    """``SOURCE (GROUP): N problems, M attempts each`` (M a range when the counts differ)."""
    fewest, most = int(data.n.min()), int(data.n.max())
    attempts = _plural(fewest, "attempt") if fewest == most else f"{fewest} to {most} attempts"
    group = f" ({data.groups[0]})" if data.groups != [""] else ""
    return f"{source}{group}: {_plural(data.num_problems, 'problem')}, {attempts} each"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _print_forecast(source: str, data: PassData, forecast, true_values, unsolved) -> None:
    print(f"{_describe(source, data)}; {forecast.method}, target {forecast.target}")
    named = {
        "mean": forecast.mean,
        "median": forecast.median,
        f"{percent(forecast.ci)} lower": forecast.lower,
        "upper": forecast.upper,
        "mcse": forecast.mcse,
        "unbiased": forecast.unbiased,
    }
    if forecast.diagnostics is None:  # a point method: its estimate, no median or MCSE
        named = {"estimate": forecast.mean, **named}
        del named["mean"], named["median"], named["mcse"]
    if true_values is not None:
        named["truth"] = true_values
    never_solved = int(np.sum(data.c == 0))
    if unsolved is not None and never_solved:
        named["from unsolved"] = unsolved
    # Columns that are NaN throughout (intervals of an un-bootstrapped point method) say nothing.
    named = {name: column for name, column in named.items() if not np.isnan(column).all()}
    rows = [
        [str(k), *(_number(column[i]) for column in named.values())]
        for i, k in enumerate(forecast.k)
    ]
    print(format_table(["k", *named], rows))
    if true_values is not None and forecast.target == "new":
        print(
            "truth: these problems' pass@k from all their attempts, an estimate (not the "
            "value) of a new problem's"
        )
    if "unbiased" in named and np.isnan(named["unbiased"]).any():
        print(f"unbiased: nan where a problem has fewer than k attempts (here k > {data.n.min()})")
    if "from unsolved" in named:
        print(
            f"from unsolved: the part of the mean from the {_plural(never_solved, 'problem')} "
            "never solved so far, whose rates the counts put only below about 1/n"
        )
    if forecast.k.max() > SHORT_EXTRAPOLATION * data.n.max():
        # Measured in benchmarks/misspecified_populations.py: off a power-law tail, intervals
        # at 100x the attempts miss while a backtest at 10x still covers.
        print(
            f"note: k = {forecast.k.max()} is more than {SHORT_EXTRAPOLATION} times the most "
            "attempts of a problem; "
            "that far the forecast rests on the tail the method assumes below 1/n, "
            "which the counts cannot check"
        )
    if math.isnan(forecast.exponent.mean):
        print("exponent: none (this prior has no power-law tail)")
    else:
        from bayes_passk.families import get_family

        prior = forecast.method.removeprefix("bayes-")
        unsolvable = prior in family_names() and get_family(prior).log_zero_mass is not None
        whose = " of the solvable problems" if unsolvable else ""
        print(f"exponent{whose}: {_with_interval(forecast.exponent)}")
    slope = forecast.local_slope
    if not math.isnan(slope.mean):
        print(f"local slope of -log pass@k at k = {forecast.k.max()}: {_with_interval(slope)}")
    d = forecast.diagnostics
    if d is None:
        return
    verdict = "ok" if d["ok"] else "FAILED (see warning)"
    print(
        f"diagnostics: r_hat_max {d['r_hat_max']:.3f}, ess_bulk_min {d['ess_bulk_min']:.0f}, "
        f"ess_tail_min {d['ess_tail_min']:.0f}, divergences {d['divergences']}: {verdict}"
    )


def _with_interval(summary) -> str:
    """'0.25 [0.2, 0.3]', or '0.25' when there is no interval."""
    if math.isnan(summary.lower):
        return f"{summary.mean:.3f}"
    return f"{summary.mean:.3f} [{summary.lower:.3f}, {summary.upper:.3f}]"


# Suffixes of files that the commands read or write. A new --out folder named so is a slip for a
# file name, and a CSV table written under another of them would mislead whoever opens it.
FILE_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".png", ".pdf", ".svg", ".nc")


def _output_dir(value: str | None) -> Path | None:
    """Return the --out folder, checked before any work: it may be missing, not a file."""
    out = Path(_not_empty("--out", value)) if value is not None else None
    if out is not None:
        kind = data_module.path_kind(out)
        if kind not in (None, "dir"):
            raise InputError(f"--out {out}: exists and is not a directory")
        if kind is None and out.suffix.lower() in FILE_SUFFIXES and not _names_a_folder(value):
            raise InputError(
                f"--out {out}: this command writes a folder of files, and {out.name} is a file "
                f"name; give a folder name (it is created if missing; {out.name}/ is taken as one)"
            )
        _check_ancestors(out)
    return out


def _check_outputs(
    out: Path | None, names: Sequence[str], inputs: Sequence[str] = (), command: str = ""
) -> None:
    """Refuse, before any work, an output file with a folder, a device or an input in its place.

    ``names`` are the files the command writes in (or removes from) the folder ``out``. A
    folder holding the files of another ``command`` is refused too: a rerun replaces and
    removes its own command's earlier files, and must not mix or remove another's.
    """
    if out is None:
        return
    if data_module.path_kind(out) == "dir":
        _refuse_other_commands_files(out, command)
    files = [Path(p) for p in inputs if data_module.path_kind(p) == "file"]
    for name in names:
        kind = data_module.path_kind(out / name)
        if kind == "dir":
            raise InputError(f"--out {out}: {name} in it is a folder; an output file goes there")
        if kind == "other":
            raise InputError(f"--out {out}: {name} in it is not a regular file")
        if kind == "file" and any(os.path.samefile(out / name, p) for p in files):
            raise InputError(f"--out {out}: {name} in it is an input file; give another folder")


def _command_files() -> dict[str, tuple[str, ...]]:
    """Return the files (glob patterns) that mark a command's folder: it alone writes them.

    Names two commands share (``summary.csv``, ``forecast.png``) or a user's own files may
    have are left out: they say nothing of whose folder it is.
    """
    return {
        "forecast": ("forecast.json", "posterior*.nc"),
        "compare": ("comparison.csv", "loo.csv", "predictive_check.csv", "difference.png"),
        "backtest": ("backtest.csv", *_with_plots(["paired.csv"])),
        "simulate-allocation": ("allocation.csv", *_with_plots(["against_dynamic.csv"])),
    }


def _refuse_other_commands_files(out: Path, command: str) -> None:
    """Refuse a folder holding a file that marks another command's folder (`_command_files`)."""
    for other, patterns in _command_files().items():
        for pattern in patterns if other != command else ():
            found = sorted(out.glob(pattern))
            if found:
                raise InputError(
                    f"--out {out}: holds {found[0].name}, which `{PROG} {other}` writes; give "
                    f"another folder, so that the two commands' files are neither mixed nor "
                    "removed one by the other"
                )


def _output_file(value: str | None, source: str | None = None) -> Path | None:
    """Return the --out file, checked before any work: new or regular, not `source`, in a folder."""
    out = Path(_not_empty("--out", value)) if value is not None else None
    if out is not None:
        kind = data_module.path_kind(out)
        if kind == "dir" or _names_a_folder(value):
            raise InputError(f"--out {value}: names a folder; give a file name")
        if kind == "other":
            raise InputError(f"--out {out}: is not a regular file (a device, pipe or socket)")
        if kind == "file" and source is not None and data_module.path_kind(source) == "file":
            if os.path.samefile(out, source):
                raise InputError(f"--out {out}: is the input file; give another name")
        if out.suffix.lower() in set(FILE_SUFFIXES) - {".csv"}:
            raise InputError(f"--out {out}: the table is CSV; give a name ending in .csv")
        _check_ancestors(out, file=True)
        if data_module.path_kind(out.absolute().parent) != "dir":
            raise InputError(f"--out {out}: the folder {out.parent} does not exist")
    return out


def _names_a_folder(value: str) -> bool:
    """Whether a path ends in a separator, which makes it a folder whatever its suffix."""
    return value.endswith(("/", os.sep))


def _not_empty(option: str, value: str) -> str:
    if not value.strip():
        raise InputError(f"{option} is empty; give a path")
    return value


def _check_ancestors(path: Path, file: bool = False) -> None:
    """Check that the nearest existing folder at or above `path` is a folder we can write in.

    Before any work: a long fit should not end in "cannot write". An output ``file`` may
    exist already (a rerun replaces it): the search starts at its folder.
    """
    above = list(path.absolute().parents)
    for folder in above if file else [path.absolute(), *above]:
        if (kind := data_module.path_kind(folder)) is not None:
            if kind != "dir":
                raise InputError(f"--out {path}: {folder} is a file, not a directory")
            try:
                with tempfile.TemporaryFile(dir=folder):
                    pass
            except OSError as error:
                raise InputError(
                    f"--out {path}: cannot write in {folder}: {error.strerror or error}"
                ) from None
            return


def _save_posterior(idata, path: Path) -> None:
    """Write the posterior as netCDF; its library reports a full disk as a RuntimeError."""
    try:
        idata.to_netcdf(path)
    except RuntimeError as error:
        raise OSError(str(error)) from error


def _write_all(writers: dict, stale: Sequence[Path] = ()) -> None:
    """Write every file under a temporary name, then rename them all: all or nothing.

    ``stale`` files, outputs of an earlier run that this run does not write, are removed with
    the renames, so that a folder never mixes two runs. A line on stderr says what was written
    and which earlier files it replaced or removed.
    """
    partials = {path: path.with_name(f".{path.name}.partial") for path in writers}
    folder = next(iter(writers)).parent
    replaced = [path.name for path in writers if path.exists()]
    removed = [path.name for path in stale if path not in writers and path.exists()]
    for path in writers:  # the one thing that would stop a rename halfway through
        if path.is_dir():
            raise InputError(f"cannot write {path}: a folder of that name is in the way")
    for path in stale:  # nor a removal, after the renames
        if path not in writers and path.is_dir():
            raise InputError(f"cannot remove the earlier output {path}: it is a folder")
    created = [d for d in [folder, *folder.parents] if not d.exists()]  # leaf first
    done = False
    _unfinished_outputs[:] = [*partials.values(), *created]  # for a Ctrl-C (`_interrupted`)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, write in writers.items():
            write(partials[path])
        if signal.getsignal(signal.SIGINT) is _interrupted:
            # All written: the command now finishes (renames, stale files, its report), so
            # that a Ctrl-C cannot leave an earlier run's outputs half replaced.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        for path, partial in partials.items():
            partial.replace(path)
        for path in stale:
            if path not in writers:
                path.unlink(missing_ok=True)
        done = True
    except OSError as error:
        raise InputError(f"cannot write to {folder}: {error.strerror or error}") from None
    else:
        written = ", ".join(path.name for path in writers)
        # Replaced files may be the user's own (`--out table.csv`); removed ones are outputs.
        earlier = [f"replaced the existing {', '.join(replaced)}"] if replaced else []
        earlier += [f"removed {', '.join(removed)} of an earlier run"] if removed else []
        note = f" ({'; '.join(earlier)})" if earlier else ""
        print(f"{PROG}: wrote {written} in {folder}{note}", file=sys.stderr, flush=True)
    finally:
        _unfinished_outputs.clear()
        for partial in partials.values():
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
        if not done:
            for made in created:  # leaf first; rmdir removes only empty folders
                with contextlib.suppress(OSError):
                    made.rmdir()


def probability(text: str) -> float:
    """Parse a level strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        hint = f" (for {value:g}%, write {value / 100:g})" if 1 < value < 100 else ""
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}{hint}")
    return value


def positive_int(text: str) -> int:
    """Parse a command line integer from 1 to 2^53; '1e6' is read as 1000000."""
    try:
        number = float(text)
        value = int(text) if text.strip().lstrip("+").isdigit() else int(number)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value > MAX_K:
        raise argparse.ArgumentTypeError(f"expected an integer up to 2^53 = {MAX_K}, got {text!r}")
    if value != number or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def draws_int(text: str) -> int:
    """Parse a number of kept draws per chain: at least 4 (for the split r_hat)."""
    value = positive_int(text)
    if value < 4:
        raise argparse.ArgumentTypeError(f"expected at least 4 draws, got {text!r}")
    return value


def seed_int(text: str) -> int:
    """Parse a seed: a whole number from 0 to 2^63 - 1 (what a JAX key takes)."""
    message = f"expected an integer from 0 to 2^63 - 1, got {text!r}"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(message) from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(message)
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


def _is_a_path(source: str) -> bool:
    """Whether PATH_OR_DATASET names a path to read rather than an embedded dataset.

    Any path that exists does, but a folder named as an embedded dataset (the --out folder of
    an earlier run on it, say): a folder holds no data to read, and would hide the dataset.
    """
    kind = data_module.path_kind(source)
    return kind is not None and not (kind == "dir" and source in _embedded_names())


def _embedded_names() -> list[str]:
    try:
        from bayes_passk import datasets
    except ImportError:
        return []
    return [info.name for info in datasets.list_datasets()]


DESIGNS = ("subsample", "resample", "synthetic")


def add_backtest_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``backtest``."""
    parser.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        help="embedded dataset or counts file to draw from: needed by the subsample and resample"
        " designs, not taken by synthetic",
    )
    parser.add_argument("--groups", nargs="+", help="groups to backtest (default: all)")
    parser.add_argument("--format", choices=data_module.FORMATS, default="auto", help=FORMAT_HELP)
    parser.add_argument(
        "--design",
        choices=DESIGNS,
        default="subsample",
        help="subsample: BUDGET of each problem's recorded attempts, truth from all of them (k "
        "up to the fewest attempts); resample: fresh attempts at each problem's rate, exact "
        "truth; synthetic: rates from a known prior (default: subsample)",
    )
    parser.add_argument(
        "--synthetic-prior",
        choices=["scaled-beta", "kumaraswamy"],
        help="with --design synthetic: family of the rates (grid a 0.15/0.4, b 3.5/5, "
        "s 0.1/0.8; scaled-beta)",
    )
    parser.add_argument(
        "--problems",
        type=positive_int,
        help="problems per replicate: synthetic, drawn from the prior (128); subsample and "
        "resample, drawn without replacement from each group's (default: all of them)",
    )
    parser.add_argument(
        "--budgets",
        nargs="+",
        type=positive_int,
        default=[100],
        help="attempts per problem each forecast sees (100)",
    )
    parser.add_argument(
        "--replicates", type=positive_int, default=20, help="replicates per budget and group (20)"
    )
    parser.add_argument(
        "--k",
        nargs="+",
        type=positive_int,
        default=[1000, 10000],
        help="k values to forecast and score (1000 10000; with --design subsample at most the "
        "fewest attempts of a problem, e.g. --k 100 on 100-attempt data)",
    )
    default_methods = [f"bayes-{DEFAULT_PRIOR}", "beta-binomial", "discretized-beta", "regression"]
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=forecast_methods(),
        default=default_methods,
        metavar="METHOD",
        help=f"methods to backtest, from: {', '.join(forecast_methods())} (default: "
        f"{' '.join(default_methods)})",
    )
    parser.add_argument(
        "--reference",
        metavar="METHOD",
        help="also compare every method with this one (of --methods) on the same replicates",
    )
    _add_sampler_arguments(parser, chains=2, warmup=500, samples=500, batched=True)
    parser.add_argument("--ci", type=probability, default=0.9, help="interval level (0.9)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write backtest.csv, summary.csv, error.png, coverage.png (and paired.csv, "
        "paired.png)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print JSON: {"design", "summary"} and with --reference "paired", the rows of the '
        "tables --out writes",
    )


def _backtest_cells(args: argparse.Namespace) -> list:
    """Check the backtest's inputs and draw its design cells."""
    from bayes_passk import designs

    if args.reference is not None and args.reference not in args.methods:
        raise InputError(
            f"--reference {args.reference!r} is not one of --methods ({', '.join(args.methods)})"
        )
    if args.reference is not None and set(args.methods) == {args.reference}:
        raise InputError(f"--reference {args.reference!r} needs another of --methods to compare")
    cells = []
    if args.design == "synthetic":
        if args.dataset or args.groups or args.format != "auto":
            raise InputError(
                "--design synthetic draws its own rates; leave out --dataset, --groups and --format"
            )
        for index, (a, b, scale) in enumerate(designs.SYNTHETIC_GRID):
            for budget in args.budgets:
                cells.append(
                    designs.synthetic(
                        [args.seed, index, budget],
                        args.synthetic_prior or "scaled-beta",
                        a,
                        b,
                        scale,
                        args.problems or 128,
                        budget,
                        args.replicates,
                        args.k,
                    )
                )
    else:
        if not args.dataset:
            raise InputError(f"--design {args.design} needs --dataset NAME_OR_PATH")
        if args.synthetic_prior is not None:
            raise InputError(
                f"--synthetic-prior is the family of --design synthetic's rates; with --design "
                f"{args.design} leave it out"
            )
        everything = _load_all_groups(args.dataset, args.format)
        if args.design == "subsample" and _stops_at_success(args.dataset):
            raise InputError(
                f"{args.dataset}'s attempts stopped at the first success, so subsamples "
                "inherit that stopping rule and its unbiased pass@k is no truth; use "
                "--design resample (fresh attempts at each problem's rate)"
            )
        groups = args.groups or everything.groups
        draw = designs.subsample if args.design == "subsample" else designs.resample
        for group in groups:
            full = _select_group(args.dataset, everything, group)
            # Seeded by the group's name, so a group's replicates do not depend on the others.
            group_seed = name_number(group)
            for budget in args.budgets:
                seed = [args.seed, group_seed, budget]
                cell = draw(seed, full, budget, args.replicates, args.k, args.problems)
                # A file without groups: its rows and progress lines are named after the file.
                cells.append(cell._replace(group=group or Path(args.dataset).stem))
    return cells


def run_backtest(args: argparse.Namespace) -> int:
    """Draw the design cells, forecast each replicate with each method, summarise, write."""
    from bayes_passk import backtest

    with _joined(args) as reports:
        out = _output_dir(args.out)
        written = _scored_files("backtest.csv", ["paired.csv"])
        _check_outputs(out, written, [args.dataset or ""], command="backtest")
        cells = _backtest_cells(args)
        config = _batch_config(args)
    # Every process runs every method (the point methods take milliseconds); one reports.
    progress = _say if reports else None
    with _leaving_on_a_bug():
        table = backtest.run(cells, args.methods, seed=args.seed, config=config, progress=progress)
    if not reports:
        return 0
    summary = backtest.summarize(table, seed=args.seed)
    paired = None
    if args.reference is not None:
        paired = backtest.paired_differences(table, args.reference, seed=args.seed)
    if out is not None:
        extra = {} if paired is None else {"paired.csv": paired}
        title = None if args.design == "synthetic" else Path(args.dataset).name
        _write_scored(
            out,
            "backtest.csv",
            table,
            summary,
            args.ci,
            extra=extra,
            optional=["paired.csv"],
            title=title,
        )
    if args.json:
        report = {"design": args.design, "summary": _records(summary)}
        if paired is not None:
            report["paired"] = _records(paired)
        print(json.dumps(report))
        return 0
    columns = ["method", "group", "budget", "k", "mse", "abs_error", "coverage", "width", "failed"]
    columns += ["unconverged_fits"]
    print(format_table(columns, _text_rows(summary[columns])))
    for note in _scoring_notes(summary, table):
        print(note)
    if paired is not None and len(paired):
        print(
            f"\nMSE minus {args.reference}'s on the same replicates "
            f"(90% studentized bootstrap interval{_none_under(paired)}):"
        )
        paired_columns = ["method", "group", "budget", "k", "difference", "lower", "upper", "ratio"]
        print(format_table(paired_columns, _text_rows(paired[paired_columns])))
    return 0


UNSOLVED_SCORES = ["unsolved_part", "solved_below_truth", "error_within_unsolved"]


def _scoring_notes(summary, table) -> list[str]:
    """Lines that explain a scored table's failed and unconverged counts and unsolved parts."""
    from bayes_passk.backtest import FEWEST_FOR_INTERVAL
    from bayes_passk.inference import R_HAT_MAX

    notes = []
    if "mse_lower" in summary and (summary["mse"].notna() & summary["mse_lower"].isna()).any():
        notes.append(
            f"mse_lower, mse_upper: none for a cell of fewer than {FEWEST_FOR_INTERVAL} scored "
            "replicates, too few for a bootstrap interval"
        )
    if (summary["failed"] > 0).any():
        notes.append(
            "failed: replicates whose fit gave no finite forecast, left out of mse, abs_error, "
            "coverage and width"
        )
    if (summary["unconverged_fits"] > 0).any():
        notes.append(
            f"unconverged_fits: Bayesian fits with r_hat above {R_HAT_MAX}, scored as they are; "
            "run longer (--warmup, --samples) or raise --target-accept"
        )
    # As summarize scores them: failed fits and replicates without truth left out.
    scored = table[np.isfinite(table[["estimate", "unsolved_part", "truth"]]).all(axis=1)]
    if len(scored):
        error, part = scored["estimate"] - scored["truth"], scored["unsolved_part"]
        notes.append(
            "unsolved_part (a column of the tables --out writes): the part of a Bayesian estimate "
            "from the problems its replicate never solved, whose rates the counts put only below "
            f"about 1/n; the estimate less it was at most the truth in {(error <= part).sum()} of "
            f"{len(scored)} forecasts, the estimate's error within it in "
            f"{(error.abs() <= part).sum()}"
        )
    return notes


def _none_under(paired) -> str:
    """'; none under 5 replicates' where a paired difference has no interval, else ''."""
    from bayes_passk.backtest import FEWEST_FOR_INTERVAL

    if (paired["difference"].notna() & paired["lower"].isna()).any():
        return f"; none under {FEWEST_FOR_INTERVAL} replicates"
    return ""


def _refuse_repeats(option: str, values) -> None:
    """`InputError` when a list option names a value twice (every list option names each once)."""
    seen = set()
    for value in values or ():
        if value in seen:
            raise InputError(f"{option} names {value} twice")
        seen.add(value)


def _note_stopping_rule(source: str, what: str) -> None:
    """Say on stderr that ``what`` assumes attempts fixed in advance, if ``source``'s were not."""
    if _stops_at_success(source):
        print(
            f"{PROG}: note: {source}'s attempts stopped at each problem's first success "
            f"(`{PROG} datasets {source}`); {what} assumes a number of attempts fixed in "
            "advance and over-states pass@k here",
            file=sys.stderr,
        )


def _stops_at_success(source: str) -> bool:
    """Whether ``source`` is an embedded dataset collected with a stop-at-success rule."""
    if source not in _embedded_names() or _is_a_path(source):
        return False
    from bayes_passk import datasets

    return {info.name: info for info in datasets.list_datasets()}[source].stops_at_success


def _text_rows(frame: pd.DataFrame) -> list[list[str]]:
    """Cells of a table as text: names and integers as they are, numbers by `_number`."""
    return [
        [str(v) if isinstance(v, str | int | np.integer) else _number(v) for v in row]
        for row in frame.itertuples(index=False)
    ]


def _records(frame: pd.DataFrame) -> list[dict]:
    """Return the rows as dicts for `json.dumps`: floats in full, NaN as None.

    (pandas' ``to_json`` keeps 10 decimals, which turns a rate of 2e-12 into 0.0.)

    Example:
        >>> _records(pd.DataFrame({"k": [10], "mean": [2.32e-12], "lower": [float("nan")]}))
        [{'k': 10, 'mean': 2.32e-12, 'lower': None}]
    """
    return [
        {name: _json_value(value) for name, value in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _json_value(value):
    """Return a plain Python value for `json.dumps`; None for NaN and infinities.

    Example:
        >>> [_json_value(v) for v in (np.float64("nan"), np.float32("-inf"), float("inf"))]
        [None, None, None]
        >>> _json_value(np.int64(3)), _json_value(np.float32(0.5))
        (3, 0.5)
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _number(value: float) -> str:
    """Four significant digits; within 1e-3 below 1, four of the distance to 1.

    A pass@k of 0.99996 is not 1: the chance that every attempt fails is what a risk reading
    needs. At most 16 decimals, all that a float64 holds next to 1 (its spacing there is 1e-16).

    Example:
        >>> [_number(v) for v in (0.8372, 0.99996, 1 - 2.5e-9, 1.0, 1234567.0, -0.0)]
        ['0.8372', '0.99996', '0.9999999975', '1', '1.235e+06', '0']
        >>> _number(1 - 3.3e-16), _number(0.99987655), _number(0.9912345)
        ('0.9999999999999997', '0.9998765', '0.9912')
    """
    if not 0.999 < value < 1:
        return f"{value + 0.0:.4g}"  # + 0.0: no "-0"
    decimals = min(16, 3 - math.floor(math.log10(1 - value)))
    return f"{value:.{decimals}f}".rstrip("0")


SCORE_PLOTS = ("error.png", "coverage.png")


def _scored_files(name: str, extra: Sequence[str]) -> list[str]:
    """List what `_write_scored` writes or removes: table ``name``, summary, plots, extras."""
    return [name, "summary.csv", *SCORE_PLOTS, *_with_plots(extra)]


def _with_plots(tables: Sequence[str]) -> list[str]:
    """Each table of paired differences (``paired.csv``) and its plot (``paired.png``)."""
    return [name for table in tables for name in (table, str(Path(table).with_suffix(".png")))]


def _write_scored(
    out: Path,
    name: str,
    table,
    summary,
    ci: float,
    x_label=None,
    extra=None,
    optional=(),
    title=None,
) -> None:
    """Write the per-replicate table, the summary, any ``extra`` tables and the plots.

    ``extra`` holds tables of paired differences, each also plotted (``paired.csv`` and
    ``paired.png``). ``optional`` names extra tables some runs write: one left from an earlier
    run is removed, with its plot.
    ``title`` begins the plots' titles (the dataset).
    """
    from bayes_passk.plots import plot_backtest, plot_paired, save_figure

    error, coverage = SCORE_PLOTS
    figures = {
        error: plot_backtest(summary, "mse", title=title),
        coverage: plot_backtest(summary, "coverage", reference=ci, title=title),
    }
    for file_name, frame in (extra or {}).items():
        figures[str(Path(file_name).with_suffix(".png"))] = plot_paired(frame, title=title)
    if x_label:
        for figure in figures.values():
            for axes in figure.axes:
                axes.set_xlabel(x_label)
    writers = {
        out / name: lambda path: table.to_csv(path, index=False),
        out / "summary.csv": lambda path: summary.to_csv(path, index=False),
    }
    for file_name, frame in (extra or {}).items():
        writers[out / file_name] = partial(frame.to_csv, index=False)
    for file_name, figure in figures.items():
        writers[out / file_name] = partial(save_figure, figure)
    _write_all(writers, stale=[out / file_name for file_name in _with_plots(optional)])


def _select_group(source: str, everything: PassData, group: str) -> PassData:
    """Return one group of `source`; `InputError` naming the file and its groups if none."""
    if group not in everything.groups:
        if not any(everything.groups):
            raise InputError(
                f"{source} has no group column, so no group {group!r}: leave out the group and "
                "its rows are named after the file"
            )
        raise InputError(
            f"{source} has no group {group!r}; its groups: {', '.join(everything.groups)}"
        )
    return everything.select(group)


def _load_all_groups(source: str, format: str) -> PassData:
    if _is_a_path(_not_empty("--dataset", source)):
        return _read_file(source, format)
    if source in _embedded_names():
        from bayes_passk import datasets

        _refuse_format(format, source)
        return datasets.load(source)
    names = ", ".join(_embedded_names()) or "none installed"
    raise InputError(f"file not found: {source} (nor is it an embedded dataset: {names})")


def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``compare``."""
    parser.add_argument("source", metavar="PATH_OR_DATASET", help="a file or embedded dataset")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--groups",
        nargs="+",
        metavar="GROUP",
        help="compare pass@k of these groups (2 or more), each with the first (see --pairs)",
    )
    parser.add_argument(
        "--pairs",
        choices=["first", "all"],
        default="first",
        help="with --groups: first: each group against the first; all: every pair (default: first)",
    )
    which.add_argument(
        "--priors",
        nargs="+",
        choices=[*family_names(), "all"],
        help="compare these prior families on one group by PSIS-LOO ('all': every one)",
    )
    parser.add_argument("--group", help="with --priors: the group to fit")
    parser.add_argument("--format", choices=data_module.FORMATS, default="auto", help=FORMAT_HELP)
    parser.add_argument(
        "--prior",
        choices=family_names(),
        help=f"prior family of the fits with --groups ({DEFAULT_PRIOR})",
    )
    parser.add_argument(
        "--k", nargs="+", type=positive_int, default=[1, 100, 10_000], help="k values (1 100 10000)"
    )
    _add_fit_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write forecast.png and, with --groups, comparison.csv and difference.png; with "
        "--priors, loo.csv, predictive_check.csv and forecast.csv",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")


def run_compare(args: argparse.Namespace) -> int:
    """Compare groups (difference in pass@k) or prior families (PSIS-LOO) and report."""
    from bayes_passk import compare
    from bayes_passk.forecast import unsolved_part
    from bayes_passk.plots import plot_differences, plot_forecast, save_figure

    out = _output_dir(args.out)
    _check_outputs(out, [*COMPARE_TABLES, *COMPARE_PLOTS], [args.source], command="compare")
    if args.groups is not None:
        if len(set(args.groups)) < 2:
            raise InputError("--groups needs at least two different groups")
        if args.group:
            raise InputError("--group picks the group for --priors; with --groups leave it out")
        args.prior = args.prior or DEFAULT_PRIOR
        runs = {g: (args.prior, g) for g in dict.fromkeys(args.groups)}
    else:
        if args.pairs != "first":
            raise InputError("--pairs all compares groups; with --priors leave it out")
        if args.prior is not None:
            raise InputError("--prior is the family of the fits with --groups; --priors names them")
        priors = family_names() if "all" in args.priors else args.priors
        if len(set(priors)) < 2:
            raise InputError("--priors needs at least two different priors (or 'all')")
        if args.chains * args.samples < compare.FEWEST_REPLICATES:  # the predictive checks'
            raise InputError(
                f"--chains x --samples must be at least {compare.FEWEST_REPLICATES} with --priors"
                f" (got {args.chains * args.samples}): the predictive checks take one replicate"
                " dataset per draw"
            )
        runs = {prior: (prior, args.group) for prior in dict.fromkeys(priors)}
    ks = np.sort(np.array(args.k, dtype=np.int64))
    loaded = {}
    for _, group in runs.values():
        if group not in loaded:
            loaded[group] = _load_group(args.source, args.format, group, args.attempts, args.seed)
    if args.groups is None:
        compare.require_problems_for_loo(loaded[args.group])  # before any fit
    elif args.target == "benchmark":
        _note_different_problems(loaded)

    every_attempt = {}  # subsampled: each group's truth comes from all its attempts
    if args.attempts is not None:
        from bayes_passk import datasets

        every_attempt = {group: datasets.load(args.source, group=group) for group in loaded}
    # The plot draws each curve on a fine grid through the k asked for; the prior comparison
    # reports forecasts at those k, the group comparison none. On that grid with --out or
    # without, as `forecast` does, so that the numbers printed are the same.
    edges = [d.n.min() for d in [*loaded.values(), *every_attempt.values()]]
    plot_ks = _plotting_grid(ks, edges)
    fits, forecasts, unsolved, truth, truth_curve = {}, {}, {}, None, None
    curves = {group: (plot_ks, mean_pass_at_k(d, plot_ks)) for group, d in every_attempt.items()}
    truths = {name: curves[group] for name, (_, group) in runs.items()} if curves else {}
    for name, (prior, group) in runs.items():
        print(f"{PROG}: fitting {name}", file=sys.stderr, flush=True)
        # Each group's chains from their own seed, keyed by its name: the same whichever
        # groups are compared beside it, and not correlated draw by draw with the others'.
        seed = args.seed if args.groups is None else _group_seed(args.seed, name)
        fits[name] = _fit_with_warnings(loaded[group], prior, args, f"{name}: ", seed=seed)
        if out is not None or args.groups is None:
            with _printed_warnings(f"{name}: "):
                forecasts[name] = fits[name].forecast(
                    plot_ks, ci=args.ci, target=args.target, seed=seed
                )
    at_ks = np.isin(plot_ks, ks)

    tables = {}
    if args.groups is not None:
        names = list(fits)
        if args.pairs == "all":
            pairs = list(itertools.combinations(names, 2))
        else:
            pairs = [(names[0], other) for other in names[1:]]
        # Each group's draws once, from its own stream: a group reads the same in every pair.
        streams = np.random.SeedSequence(args.seed).spawn(len(names))
        draws = {
            name: compare.draws_and_means(fits[name], ks, args.target, seed=stream)
            for name, stream in zip(names, streams, strict=True)
        }
        frames = []
        for a, b in pairs:
            (draws_a, mean_a), (draws_b, mean_b) = draws[a], draws[b]
            frame = compare.difference_table(
                draws_a, draws_b, ks, args.ci, seed=args.seed, means=(mean_a, mean_b)
            )
            if truths:  # NaN beyond the attempts recorded
                true_a, true_b = truths[a][1][at_ks], truths[b][1][at_ks]
                frame = frame.assign(true_a=true_a, true_b=true_b, true_difference=true_a - true_b)
            frames.append(frame.assign(a=a, b=b))
        # The JSON says the level once, at its top; the file on every row, with the settings.
        comparison = pd.concat(frames, ignore_index=True).drop(columns="ci")
        report = {"prior": args.prior, "comparison": comparison}
        settings = {"prior": args.prior, "target": args.target, "ci": args.ci}
        tables["comparison.csv"] = comparison.assign(**settings)[
            [*settings, "a", "b", *comparison.columns.drop(["a", "b"])]
        ]
    else:
        comparison = compare.compare_priors(fits)
        checks = pd.concat(
            [compare.predictive_check(fit, ci=args.ci).assign(prior=n) for n, fit in fits.items()],
            ignore_index=True,
        )
        checks = checks[["prior", *checks.columns.drop("prior")]]  # first, as in loo.csv
        tables["loo.csv"] = comparison.table.reset_index()
        tables["predictive_check.csv"] = checks
        # Where the priors' forecasts part: the problems never solved, whose tails they assume.
        if args.target == "benchmark":  # zeros where every problem was solved
            unsolved = {name: unsolved_part(fit, ks) for name, fit in fits.items()}
        frames = [f.to_frame()[at_ks] for f in forecasts.values()]
        if truths:  # the priors' fits share their data, and the truth
            truth_curve = next(iter(truths.values()))
            truth = truth_curve[1][at_ks]
            frames = [frame.assign(truth=truth) for frame in frames]
        if unsolved:  # last, as in forecast.csv
            frames = [
                frame.assign(unsolved_part=part)
                for frame, part in zip(frames, unsolved.values(), strict=True)
            ]
        tables["forecast.csv"] = pd.concat(frames, ignore_index=True)
        report = {
            "verdict": comparison.verdict,
            "loo": tables["loo.csv"],
            "checks": checks,
            "forecast": tables["forecast.csv"],
        }

    if out is not None:
        from bayes_passk.plots import shorten

        of = f" ({shorten(args.group, 24)})" if args.group and args.groups is None else ""
        prior = f", prior {args.prior}" if args.groups is not None else ""
        title = f"{shorten(args.source, 24)}{of}, {args.target} pass@k{prior}"
        most = max(int(data.n.max()) for data in loaded.values())
        if args.groups is not None:  # each group's truth in its forecast's colour
            figure = plot_forecast(forecasts, truth=truths or None, title=title, attempts=most)
        else:
            figure = plot_forecast(forecasts, title=title, shared_truth=truth_curve, attempts=most)
        writers = {
            out / name: (lambda t: lambda path: t.to_csv(path, index=False))(table)
            for name, table in tables.items()
        }
        writers[out / "forecast.png"] = lambda path: save_figure(figure, path)
        if args.groups is not None:
            differences = plot_differences(tables["comparison.csv"], title=title)
            writers[out / "difference.png"] = lambda path: save_figure(differences, path)
        # Groups and priors write different tables: a folder never mixes the two.
        _write_all(writers, stale=[out / name for name in [*COMPARE_TABLES, *COMPARE_PLOTS]])
    if args.json:
        records = {
            name: value if isinstance(value, str) else _records(value)
            for name, value in report.items()
        }
        print(json.dumps({"target": args.target, "ci": args.ci, **records}))
        return 0
    never_solved = 0 if args.groups is not None else int((loaded[args.group].c == 0).sum())
    _print_comparison(args, report, forecasts, at_ks, unsolved, never_solved, truth)
    return 0


def _load_group(source, format, group, attempts, seed) -> PassData:
    """One group's counts, subsampled to ``attempts`` per problem if given."""
    if attempts is None:
        return load_input(source, format, group)
    from bayes_passk import datasets

    embedded = {info.name: info for info in datasets.list_datasets()}
    if source not in embedded or embedded[source].kind != "attempts" or _is_a_path(source):
        raise InputError("--attempts applies to embedded per-attempt datasets only")
    _refuse_format(format, source)
    if group is None:  # before any fit: a subsample of every group is not one model's
        _refuse_several_groups(source, embedded[source].groups)
    return datasets.load(source, group=group, attempts_per_problem=attempts, seed=seed)


def _print_comparison(
    args, report, forecasts, at_ks, unsolved=None, never_solved=0, truth=None
) -> None:
    def formatted(frame: pd.DataFrame) -> str:
        return format_table(list(frame.columns), _text_rows(frame))

    if "comparison" in report:
        print(f"{args.target} pass@k, prior {args.prior}, {percent(args.ci)} intervals")
        shown = {"a": "A", "b": "B", "k": "k", "mean_a": "mean A", "mean_b": "mean B"}
        shown |= {"difference": "A - B", "lower": "lower", "upper": "upper"}
        shown |= {"prob_a_greater": "P(A > B)", "prob_a_greater_mcse": "its MC error"}
        if "true_difference" in report["comparison"]:
            shown |= {"true_difference": "true A - B"}
        table = report["comparison"][list(shown)].copy()
        # A standard error is worth two significant digits.
        table["prob_a_greater_mcse"] = [f"{e:.2g}" for e in table["prob_a_greater_mcse"]]
        print(formatted(table.rename(columns=shown)))
        return
    # A stacking weight is not a probability near 1 whose distance to 1 matters: 3 decimals.
    print(formatted(report["loo"].round({"weight": 3})))
    print(report["verdict"])
    print(f"\nforecasts ({args.target} pass@k, mean [{percent(args.ci)} interval]):")
    rows = [
        [
            name,
            *(
                f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                for m, lo, hi in zip(f.mean[at_ks], f.lower[at_ks], f.upper[at_ks], strict=True)
            ),
        ]
        for name, f in forecasts.items()
    ]
    if truth is not None:  # NaN beyond the attempts recorded
        rows.append(["truth (all attempts)", *(f"{value:.3f}" for value in truth)])
    print(format_table(["prior", *(f"k={k}" for k in sorted(args.k))], rows))
    if unsolved and never_solved:
        never = _plural(never_solved, "problem")
        print(f"\nfrom unsolved (the part of each mean from the {never} never solved so far):")
        rows = [[name, *(f"{value:.3f}" for value in part)] for name, part in unsolved.items()]
        print(format_table(["prior", *(f"k={k}" for k in sorted(args.k))], rows))
    checks = report["checks"]
    worst = checks.loc[checks.groupby("prior")["p_value"].idxmin()]
    print("\npredictive check of the unbiased pass@k (smallest two-sided p-value per prior):")
    print(formatted(worst[["prior", "k", "observed", "mean", "lower", "upper", "p_value"]]))


def add_allocate_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``allocate``."""
    add_input_arguments(parser)
    parser.add_argument(
        "--budget", type=positive_int, required=True, help="attempts to run next, in total"
    )
    parser.add_argument(
        "--k",
        type=positive_int,
        help=f"target K of pass@K, for --policy bayes ({ALLOCATE_FIT['k']})",
    )
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default="dynamic",
        help="dynamic (default: needs no fit; bayes did no better in simulations), bayes, uniform",
    )
    parser.add_argument(
        "--prior",
        choices=family_names(),
        help=f"prior family of the fit ({ALLOCATE_FIT['prior']}; the fit options are for "
        "--policy bayes only)",
    )
    sampler = {name: ALLOCATE_FIT[name] for name in ("chains", "warmup", "samples")}
    _add_sampler_arguments(parser, **sampler)
    # None until given, so that run_allocate can tell given fit options from defaults.
    parser.set_defaults(**dict.fromkeys(ALLOCATE_FIT))
    parser.add_argument("--out", metavar="FILE.csv", help="write the plan as CSV too")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")


# Allocation keeps the scaled Beta: its policies were measured under it (benchmarks/RESULTS.md),
# and `bayes` refits between rounds, where the beta-spline's fits take two to three times as long.
# The target K, too, is for `bayes` alone.
ALLOCATE_FIT = {"prior": "scaled-beta", "chains": 4, "warmup": 1000, "samples": 1000, "k": 10_000}


def run_allocate(args: argparse.Namespace) -> int:
    """Tell the user how many more attempts to run on each problem."""
    from bayes_passk import allocation

    given = [name for name in [*ALLOCATE_FIT, "target_accept"] if getattr(args, name) is not None]
    if args.policy != "bayes":
        for name in given:
            print(
                f"{PROG}: warning: --{name.replace('_', '-')} is for --policy bayes only; "
                f"--policy {args.policy} fits nothing",
                file=sys.stderr,
            )
    for name, default in ALLOCATE_FIT.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    data = load_input(args.source, args.format, args.group)
    out = _output_file(args.out, args.source)
    rng = np.random.default_rng(args.seed)
    options = {}
    if args.policy == "bayes":
        _say_fitting(args.prior, data, args)
        fit = _fit_with_warnings(data, args.prior, args, label="")
        options = {"k": args.k, "fit": fit}
    plan = allocation.allocate(rng, args.policy, data.n, data.c, args.budget, **options)
    table = pd.DataFrame(
        {"problem_id": data.problem_id, "n": data.n, "c": data.c, "next_attempts": plan}
    )
    if out is not None:
        _write_all({out: lambda path: table.to_csv(path, index=False)})
    if args.json:
        print(
            json.dumps(
                {
                    "policy": args.policy,
                    "problem_id": [str(p) for p in data.problem_id],
                    "next_attempts": [int(a) for a in plan],
                }
            )
        )
        return 0
    shown = table[table["next_attempts"] > 0].sort_values("next_attempts", ascending=False)
    print(
        f"{args.policy} policy: {args.budget} attempts over {len(shown)} of "
        f"{_plural(data.num_problems, 'problem')}"
        + (f" (target pass@{args.k})" if args.policy == "bayes" else "")
    )
    print(format_table(list(shown.columns), [[str(v) for v in row] for row in shown.values]))
    return 0


def _say_fitting(name: str, data: PassData, args, which: str = "", note: str = "") -> None:
    """Print on stderr what is about to be fitted: a fit can take minutes."""
    print(
        f"{PROG}: fitting {name} to {_plural(data.num_problems, 'problem')}{which}, "
        f"{_plural(args.chains, 'chain')} x ({args.warmup} + {args.samples}) draws{note}",
        file=sys.stderr,
        flush=True,
    )


def _note_different_problems(loaded: dict[str, PassData]) -> None:
    """Say on stderr when groups hold different problems: their benchmarks differ too."""
    problems = {group: set(data.problem_id) for group, data in loaded.items()}
    if len({frozenset(ids) for ids in problems.values()}) > 1:
        shared = len(set.intersection(*problems.values()))
        counts = ", ".join(f"{group}: {len(ids)}" for group, ids in problems.items())
        print(
            f"{PROG}: note: the groups hold different problems ({counts}; {shared} in all of "
            "them): each benchmark pass@k is over its own problems (--target new compares a "
            "new problem's)",
            file=sys.stderr,
        )


def _group_seed(seed: int, group: str) -> int:
    """Return a seed in [0, 2^63) for a group's fit, from ``seed`` and the group's name.

    Example:
        >>> _group_seed(0, "Pythia 12B") == _group_seed(0, "Pythia 12B") != _group_seed(0, "x")
        True
        >>> _group_seed(0, "Pythia 12B") != _group_seed(1, "Pythia 12B")
        True
    """
    name = int.from_bytes(hashlib.sha256(group.encode()).digest()[:16], "little")
    return int(np.random.SeedSequence([seed, name]).generate_state(1, np.uint64)[0] >> 1)


def _fit_with_warnings(data, prior, args: argparse.Namespace, label: str, seed=None):
    """Fit with the sampler arguments, then print each convergence warning on a line.

    ``seed`` replaces ``--seed`` (a group's own seed in a comparison of groups). The progress
    shows as a bar on a terminal, and in a log as a line at each tenth of the sampling.
    """
    import bayes_passk as bp

    with _printed_warnings(label):
        return bp.fit(
            data,
            prior=prior,
            seed=args.seed if seed is None else seed,
            chains=args.chains,
            warmup=args.warmup,
            samples=args.samples,
            progress=True,
            **_tuning(args),
        )


def add_simulate_allocation_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``simulate-allocation``."""
    parser.add_argument(
        "--dataset",
        metavar="NAME_OR_PATH",
        default="pythia-math",
        help="an embedded dataset or a file (pythia-math)",
    )
    parser.add_argument("--group", help="the group to simulate when the data hold several")
    parser.add_argument("--format", choices=data_module.FORMATS, default="auto", help=FORMAT_HELP)
    parser.add_argument(
        "--budgets",
        nargs="+",
        type=positive_int,
        default=[1000, 10_000],
        help="total attempts over all problems, one simulation each (1000 10000)",
    )
    parser.add_argument(
        "--k", type=positive_int, default=10_000, help="the K of the pass@K to forecast (10000)"
    )
    parser.add_argument(
        "--policies",
        nargs="+",
        choices=POLICIES,
        default=list(POLICIES),
        help="policies to compare (all)",
    )
    parser.add_argument(
        "--replicates", type=positive_int, default=10, help="replicates per budget (10)"
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=4,
        help="batches each budget is spent in; the first is uniform for every policy (4)",
    )
    parser.add_argument(
        "--prior",
        choices=family_names(),
        default="scaled-beta",
        help="prior family of the fits (scaled-beta)",
    )
    _add_sampler_arguments(parser, chains=2, warmup=500, samples=500, batched=True)
    parser.add_argument("--ci", type=probability, default=0.9, help="interval level (0.9)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write allocation.csv, summary.csv, error.png, coverage.png (and "
        "against_dynamic.csv, against_dynamic.png)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='print JSON: {"group", "summary", "against_dynamic"}, the rows of the tables --out'
        " writes (method named policy)",
    )


def run_simulate_allocation(args: argparse.Namespace) -> int:
    """Compare allocation policies on semi-synthetic replicates of one group."""
    from bayes_passk import allocation, backtest

    with _joined(args) as reports:
        out = _output_dir(args.out)
        written = _scored_files("allocation.csv", ["against_dynamic.csv"])
        _check_outputs(out, written, [args.dataset], command="simulate-allocation")
        everything = _load_all_groups(args.dataset, args.format)
        if args.group is None:
            _refuse_several_groups(args.dataset, everything.groups)
        full = _select_group(args.dataset, everything, args.group or everything.groups[0])
        if full.groups == [""]:  # a file without groups: named after the file, as in backtests
            full = full._replace(group=np.full(full.num_problems, Path(args.dataset).stem))
        config = _batch_config(args)
    with _leaving_on_a_bug():
        table = allocation.simulate(
            args.seed,
            full,
            args.budgets,
            args.k,
            args.policies,
            args.replicates,
            args.rounds,
            args.prior,
            config,
            _say if reports else None,
        )
    if not reports:
        return 0
    summary = backtest.summarize(table, seed=args.seed)
    columns = ["method", "budget", "k", "mse", "mse_lower", "mse_upper", "coverage", "width"]
    # Every policy against dynamic sampling on the same outcomes (common random numbers).
    paired_columns = ["method", "budget", "k", "difference", "lower", "upper", "ratio"]
    paired = pd.DataFrame(columns=paired_columns)
    if "dynamic" in args.policies and len(set(args.policies)) > 1:
        paired = backtest.paired_differences(table, reference="dynamic", seed=args.seed)
    if out is not None:
        extra = {"against_dynamic.csv": paired} if len(paired) else {}
        _write_scored(
            out,
            "allocation.csv",
            table,
            summary,
            args.ci,
            x_label="total attempts",
            extra=extra,
            optional=["against_dynamic.csv"],
            title=Path(args.dataset).name,
        )
    if args.json:  # the rows of summary.csv and against_dynamic.csv, a method named a policy
        records = {
            name: _records(frame.rename(columns={"method": "policy"}))
            for name, frame in (("summary", summary), ("against_dynamic", paired))
        }
        print(json.dumps({"group": full.groups[0], **records}))
        return 0

    shown = [*columns, "failed", "unconverged_fits"]
    print(format_table(["policy", *shown[1:]], _text_rows(summary[shown])))
    for note in _scoring_notes(summary, table):
        print(note)
    if len(paired):
        print(
            "\nMSE minus dynamic sampling's, on the same outcomes "
            f"(90% studentized bootstrap interval{_none_under(paired)}):"
        )
        print(format_table(["policy", *paired_columns[1:]], _text_rows(paired[paired_columns])))
    return 0


SUBCOMMANDS: dict[str, Subcommand] = {
    "datasets": Subcommand(
        "list the embedded datasets, or one dataset's groups", add_datasets_arguments, run_datasets
    ),
    "estimate": Subcommand(
        "unbiased pass@k of observed counts, averaged over problems",
        add_estimate_arguments,
        run_estimate,
    ),
    "forecast": Subcommand(
        "fit the hierarchical model and forecast pass@k with credible intervals",
        add_forecast_arguments,
        run_forecast,
    ),
    "compare": Subcommand(
        "compare groups (posterior of the difference in pass@k) or priors (PSIS-LOO)",
        add_compare_arguments,
        run_compare,
    ),
    "allocate": Subcommand(
        "how many more attempts to run on each problem (policy bayes, dynamic or uniform)",
        add_allocate_arguments,
        run_allocate,
    ),
    "simulate-allocation": Subcommand(
        "compare allocation policies on simulated runs of a dataset (batched NUTS)",
        add_simulate_allocation_arguments,
        run_simulate_allocation,
    ),
    "backtest": Subcommand(
        "subsample, forecast and score many replicates with every method (batched NUTS)",
        add_backtest_arguments,
        run_backtest,
    ),
}


if __name__ == "__main__":
    raise SystemExit(main())
