"""Allocation policies on Pythia MATH: uniform, dynamic and bayes at a fixed total budget.

    python benchmarks/allocation.py                          # 2 models x 2 budgets x 10 reps
    python benchmarks/allocation.py --small                  # 1 model, 1,000 attempts, 3 reps
    python benchmarks/allocation.py --out bench-out/allocation   # also the tables and plots
    python benchmarks/allocation.py --across-problems        # bayes with the full criterion
    python benchmarks/allocation.py --prior kumaraswamy      # every fit under another family
    python benchmarks/allocation.py --tables A.csv.gz B.csv.gz --budgets 1000   # pool kept runs
    python benchmarks/allocation.py --tables A.csv.gz --versus C.csv.gz  # same seeds, other prior

Semi-synthetic design: each attempt succeeds at its problem's full-data rate (10,000 recorded
attempts), so pass@K is known exactly. The budget is spent in 4 equal rounds over the 128
problems, the first uniform; every fit (the bayes policy's between rounds, and every policy's
forecast from its final data, batched NUTS) is under the family of ``--prior``: the scaled Beta
unless told, as in the first runs, not the package's default beta-spline (``--prior
beta-spline``, as the later runs in RESULTS.md). Forecasts are scored on pass@10,000: MSE
with a bootstrap interval and the coverage of 90% intervals. The policies share their outcomes
(the j-th attempt at a problem has the same outcome under every policy), and each is compared
with dynamic sampling on the same replicates: the MSE difference with a studentized bootstrap
interval.
"""

import argparse
import platform
import time
from pathlib import Path

import pandas as pd

import bayes_passk as bp
from bayes_passk import allocation, backtest
from bayes_passk.batched import BatchConfig, batch_target_accept
from bayes_passk.families import get_family
from bayes_passk.plots import plot_backtest, save_figure

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--groups", nargs="+", default=["Pythia 12B", "Pythia 1B"])
parser.add_argument("--budgets", nargs="+", type=int, default=[1000, 10_000])
parser.add_argument("--replicates", type=int, default=10)
parser.add_argument("--rounds", type=int, default=4)
parser.add_argument("--k", type=int, default=10_000)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--across-problems", action="store_true", help="the full criterion")
parser.add_argument("--prior", default="scaled-beta", help="family of every fit")
parser.add_argument("--out")
parser.add_argument(
    "--tables", nargs="+", help="score kept per-replicate tables together (runs with other seeds)"
)
parser.add_argument(
    "--versus",
    nargs="+",
    help="kept tables of the same seeds in the same order under another prior: each policy's MSE "
    "against theirs on the same outcomes",
)
args = parser.parse_args()
if args.small:
    args.groups, args.budgets, args.replicates = args.groups[:1], [1000], 3
config = BatchConfig(chains=2, warmup=400, samples=400)
config = config._replace(target_accept=batch_target_accept(get_family(args.prior), config))
if args.tables:
    print(f"# kept tables {args.tables}, budgets {args.budgets} (no simulation)")
else:
    print(
        f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, groups "
        f"{args.groups}, budgets {args.budgets}, {args.replicates} replicates, {args.rounds} "
        f"rounds, {config}, prior {args.prior}"
    )
pythia = bp.datasets.load("pythia-math")
start = time.perf_counter()


def read_kept(paths: list[str]) -> pd.DataFrame:
    tables = []
    for run, path in enumerate(paths):
        kept = pd.read_csv(path)
        # Replicates pair only within a run: number them apart.
        tables.append(
            kept[kept["budget"].isin(args.budgets)].assign(replicate=kept.replicate + run * 10**6)
        )
    return pd.concat(tables, ignore_index=True)


tables = [read_kept(args.tables)] if args.tables else []
for group in [] if args.tables else args.groups:
    tables.append(
        allocation.simulate(
            args.seed,
            pythia.select(group),
            args.budgets,
            args.k,
            replicates=args.replicates,
            rounds=args.rounds,
            prior=args.prior,
            config=config,
            across_problems=args.across_problems,
            progress=lambda line: print(
                f"{time.perf_counter() - start:7.0f} s  {line}", flush=True
            ),
        )
    )
table = pd.concat(tables, ignore_index=True)
summary = backtest.summarize(table, seed=args.seed)
print(f"wall {time.perf_counter() - start:.0f} s\n")
print(
    "| model | budget | policy | MSE x 1e3 (90% bootstrap) | coverage | mean width | r_hat > 1.01 |"
)
print("|---|---|---|---|---|---|---|")
for row in summary.itertuples():
    print(
        f"| {row.group} | {row.budget} | {row.method} | {1e3 * row.mse:.2f} "
        f"({1e3 * row.mse_lower:.2f}-{1e3 * row.mse_upper:.2f}) | {row.coverage:.2f} | "
        f"{row.width:.3f} | {row.unconverged_fits} |"
    )


def print_paired(paired: pd.DataFrame, title: str, against: str, policy: str) -> None:
    """Print paired MSE differences (`backtest.paired_differences`), the policy in `policy`."""
    print(f"\n{title}\n")
    print(f"| model | budget | policy | MSE - {against}, x 1e3 (90% bootstrap-t) | ratio |")
    print("|---|---|---|---|---|")
    for row in paired.itertuples():
        print(
            f"| {row.group} | {row.budget} | {getattr(row, policy)} | {1e3 * row.difference:+.2f} "
            f"({1e3 * row.lower:+.2f} to {1e3 * row.upper:+.2f}) | {row.ratio:.2f} |"
        )


if "dynamic" in set(table["method"]):
    print_paired(
        backtest.paired_differences(table, reference="dynamic", seed=args.seed),
        "Against dynamic sampling on the same outcomes (common random numbers):",
        "dynamic MSE",
        "method",
    )
if args.versus:
    # Each policy becomes a cell and each run a method, so that the paired differences are
    # this run's squared errors minus the other run's, replicate by replicate.
    both = pd.concat(
        [
            table.assign(design=table.method, method="this"),
            read_kept(args.versus).assign(design=lambda t: t.method, method="versus"),
        ]
    )
    print_paired(
        backtest.paired_differences(both, reference="versus"),
        "Against the --versus tables on the same outcomes:",
        "their MSE",
        "design",
    )
if args.out:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "allocation.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    for metric, reference in (("mse", None), ("coverage", 0.9)):
        figure = plot_backtest(summary, metric, reference=reference)
        figure.axes[0].set_xlabel("total attempts")
        save_figure(figure, out / f"{metric}.png")
