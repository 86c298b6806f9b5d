"""Forecast quality at 100 attempts per problem: Bayesian posterior mean against every baseline.

    python benchmarks/forecast_quality.py                      # 20 replicates, default prior
    python benchmarks/forecast_quality.py --small              # 3 replicates, short chains
    python benchmarks/forecast_quality.py --out bench-out      # also keep the tidy tables
    python benchmarks/forecast_quality.py --table benchmarks/runs/forecast_quality_2026-11-24.csv.gz
    python benchmarks/forecast_quality.py --average bayes-scaled-beta bayes-log-spline --table \
        benchmarks/runs/forecast_quality_2026-11-24.csv.gz \
        benchmarks/runs/forecast_quality_log_spline_2026-12-01.csv.gz  # two runs, their average

Cells: the 7 Pythia MATH models (subsample design: 100 of the 10,000 recorded attempts per
problem, truth from all of them) and 6 Best-of-N jailbreaking models (resample design: 100
fresh Bernoulli attempts at each prompt's full-data rate, exact truth; Llama 3 8B IT is left
out, it has no power law). Every method forecasts pass@k on the same replicates. For each
Bayesian method and each baseline the script counts the (model, budget) cells where the
Bayesian posterior mean has the lower MSE of pass@10,000 (over the replicates both forecast),
and the coverage of the 90% intervals. Failed fits (NaN estimates) are left out everywhere and
counted. With --out, backtest.csv appears only once every method is done; until then the
methods done so far are in backtest.csv.partial.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _cells import quality_cells

import bayes_passk as bp
from bayes_passk import backtest, designs
from bayes_passk.baselines import METHODS
from bayes_passk.batched import BatchConfig
from bayes_passk.models import DEFAULT_PRIOR

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="3 replicates, 2 x (200 + 200) draws")
parser.add_argument("--replicates", type=int, default=20)
parser.add_argument("--budget", type=int, default=100)
parser.add_argument("--k", type=int, nargs="+", default=[1000, 10000])
parser.add_argument(
    "--bayes",
    nargs="+",
    default=[f"bayes-{DEFAULT_PRIOR}"],
    help=f"Bayesian methods to backtest (bayes-{DEFAULT_PRIOR}, the package's default prior)",
)
parser.add_argument("--out", help="directory for backtest.csv and summary.csv")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument(
    "--table",
    nargs="+",
    help="report on backtest.csv files written by --out (or kept in benchmarks/runs), without "
    "fitting; rows of the same method and replicate in several files are taken once",
)
parser.add_argument(
    "--average",
    nargs="+",
    metavar="METHOD",
    help="with --table: also score the equal-weight average of these Bayesian methods' "
    "posterior means (an estimate without an interval)",
)
args = parser.parse_args()
replicates = 3 if args.small else args.replicates
config = BatchConfig(warmup=200, samples=200) if args.small else BatchConfig()


def forecast_all() -> pd.DataFrame:
    cells = quality_cells(args.seed, args.budget, replicates, args.k)
    print(
        f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, "
        f"{len(cells)} cells x {replicates} replicates, budget {args.budget}, k {args.k}, {config}"
        + ("" if config.target_accept else " (target_accept None: each family's, at least 0.95)")
    )
    start = time.perf_counter()
    frames = []
    for method in [*args.bayes, *METHODS]:
        frames.append(
            backtest.run(
                cells,
                [method],
                seed=args.seed,
                config=config,
                progress=lambda line: print(
                    f"  {time.perf_counter() - start:6.0f} s  {line}", file=sys.stderr, flush=True
                ),
            )
        )
        if args.out:  # keep what is done so far, under a name that does not look complete
            Path(args.out).mkdir(parents=True, exist_ok=True)
            pd.concat(frames).to_csv(Path(args.out) / "backtest.csv.partial", index=False)
    if args.out:
        os.replace(Path(args.out) / "backtest.csv.partial", Path(args.out) / "backtest.csv")
    print(f"wall {time.perf_counter() - start:.0f} s")
    return pd.concat(frames, ignore_index=True)


KEY = ["method", "design", "group", "budget", "replicate", "k"]


def averaged(table: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Rows of a method whose estimate is the mean of ``methods``' estimates, replicate by
    replicate (model averaging with equal weights); no interval."""
    missing = sorted(set(methods) - set(table["method"]))
    if missing:
        parser.error(f"--average: the tables have no rows for {', '.join(missing)}")
    part = table[table["method"].isin(methods)]
    cell = [c for c in KEY if c != "method"]
    mean = part.groupby(cell).agg(
        estimate=("estimate", "mean"), truth=("truth", "first"), count=("method", "nunique")
    )
    mean = mean[mean["count"] == len(methods)].drop(columns="count").reset_index()
    names = "+".join(m.removeprefix("bayes-") for m in methods)
    return mean.assign(method=f"bayes-average({names})", lower=np.nan, upper=np.nan)


if args.average and not args.table:
    parser.error("--average applies to --table")
if args.table:
    table = pd.concat([pd.read_csv(path) for path in args.table], ignore_index=True)
    table = table.drop_duplicates(KEY)
    if args.average:
        table = pd.concat([table, averaged(table, args.average)], ignore_index=True)
else:
    table = forecast_all()
args.bayes = [m for m in table["method"].unique() if m.startswith("bayes-")]
missing = [m for m in METHODS if m not in set(table["method"])]
if missing or not args.bayes:
    parser.error(
        f"{args.table or 'the backtest'} has no rows for "
        + ", ".join(missing + ([] if args.bayes else ["any bayes-* method"]))
        + f"; this report needs one bayes-* method and every baseline: {', '.join(METHODS)}"
    )
args.k = sorted(table["k"].unique())
summary = backtest.summarize(table, seed=args.seed)
if args.out:
    Path(args.out).mkdir(parents=True, exist_ok=True)
    summary.to_csv(Path(args.out) / "summary.csv", index=False)

target = max(args.k)
at_target = summary[summary["k"] == target]
mse = at_target.pivot_table(index=["design", "group"], columns="method", values="mse")
failed = at_target.pivot_table(index=["design", "group"], columns="method", values="failed")
print(
    f"\nMSE of pass@{target} per cell (x 1e3; lowest in bold), each method over the replicates"
    " it forecast (failed fits, if any, in parentheses)\n"
)
methods = [*args.bayes, *METHODS]
print("| design | model | " + " | ".join(methods) + " |")
print("|---|---|" + "---|" * len(methods))
for (design, group), row in mse.iterrows():
    best = row[methods].min()
    cells_text = [
        (f"**{row[m] * 1e3:.2f}**" if row[m] == best else f"{row[m] * 1e3:.2f}")
        + (
            f" ({failed.loc[(design, group), m]:.0f} failed)"
            if failed.loc[(design, group), m] > 0  # NaN: the method has no rows here
            else ""
        )
        for m in methods
    ]
    print(f"| {design} | {group} | " + " | ".join(cells_text) + " |")

print(f"\nCells where the Bayesian posterior mean has the lower MSE of pass@{target}\n")
print("| Bayesian method | " + " | ".join(METHODS) + " |")
print("|---|" + "---|" * len(METHODS))
# Per replicate, so that each pair is compared on the replicates both methods forecast.
squared = (
    table[(table["k"] == target) & np.isfinite(table["estimate"])]
    .assign(squared=lambda t: (t["estimate"] - t["truth"]) ** 2)
    .pivot_table(index=["design", "group", "replicate"], columns="method", values="squared")
    .reindex(columns=methods)
)
for bayes in args.bayes:
    entries = []
    for baseline in METHODS:
        both = squared[[bayes, baseline]].dropna().groupby(level=["design", "group"]).mean()
        lower = int((both[bayes] < both[baseline]).sum())
        entries.append(f"{lower / max(len(both), 1):.0%} ({lower}/{len(both)})")
    print(f"| {bayes} | " + " | ".join(entries) + " |")

print(f"\nCoverage of the {config.ci:.0%} intervals for pass@{target}\n")
print(
    "| Bayesian method | design | model | coverage | mean width | failed fits | divergent fits "
    "| fits with r_hat > 1.01 |"
)
print("|---|---|---|---|---|---|---|---|")
for bayes in args.bayes:
    if table.loc[table["method"] == bayes, ["lower", "upper"]].isna().all(axis=None):
        continue  # an average of posterior means: no interval
    rows = at_target[at_target["method"] == bayes]
    for row in rows.itertuples():
        print(
            f"| {bayes} | {row.design} | {row.group} | {row.coverage:.2f} | {row.width:.3f} | "
            f"{row.failed} | {row.divergent_fits} | {row.unconverged_fits} |"
        )
    part = table[(table["method"] == bayes) & (table["k"] == target)]
    # As in backtest.summarize: failed fits (NaN estimate) and missing intervals left out.
    ok = part[np.isfinite(part["estimate"])]
    ok = ok[np.isfinite(ok[["lower", "upper", "truth"]]).all(axis=1)]
    covered = ((ok["lower"] <= ok["truth"]) & (ok["truth"] <= ok["upper"])).to_numpy()
    se = np.sqrt(covered.mean() * (1 - covered.mean()) / len(covered))
    print(
        f"| {bayes} | all | all | **{covered.mean():.3f}** (+- {se:.3f}, {len(covered)} "
        f"intervals) | {(ok['upper'] - ok['lower']).mean():.3f} | "
        f"{int((~np.isfinite(part['estimate'])).sum())} | "
        f"{int((part['divergences'] > 0).sum())} | {int((part['r_hat_max'] > 1.01).sum())} |"
    )

# How much of each Bayesian forecast rests on the problems never solved in its replicate
# (tables written before the unsolved_part column have none).
with_part = table.iloc[:0]
if "unsolved_part" in table:
    with_part = table[
        table["method"].isin(args.bayes)
        & (table["k"] == target)
        & np.isfinite(table[["truth", "unsolved_part"]]).all(axis=1)
    ]
if len(with_part):
    print(f"\nThe part of pass@{target} from problems never solved in the replicate\n")
    print(
        "| Bayesian method | design | model | mean part | mean error | estimate - part <= truth "
        "| abs(error) <= part |"
    )
    print("|---|---|---|---|---|---|---|")
    for (bayes, design, group), rows in with_part.groupby(["method", "design", "group"]):
        error = rows["estimate"] - rows["truth"]
        print(
            f"| {bayes} | {design} | {group} | {rows['unsolved_part'].mean():.3f} | "
            f"{error.mean():+.3f} | {(error <= rows['unsolved_part']).sum()}/{len(rows)} | "
            f"{(error.abs() <= rows['unsolved_part']).sum()}/{len(rows)} |"
        )
    for bayes, rows in with_part.groupby("method"):
        error = rows["estimate"] - rows["truth"]
        print(
            f"| {bayes} | all | all | {rows['unsolved_part'].mean():.3f} | {error.mean():+.3f} | "
            f"**{(error <= rows['unsolved_part']).sum()}/{len(rows)}** | "
            f"**{(error.abs() <= rows['unsolved_part']).sum()}/{len(rows)}** |"
        )

# Why: the bias of each method, and the power law each extrapolates with. The slope of
# log(-log pass@k) between the two k values (the exponent of -log pass@k) against the truth's.
low, high = min(args.k), max(args.k)
print(f"\nMean error (estimate - truth) of pass@{high}, and in parentheses the slope of")
print(f"-log pass@k over [{low}, {high}] (the truth's in the last column)\n")
finite = table[np.isfinite(table["estimate"])]  # as in backtest.summarize: failed fits left out
slopes = finite.pivot_table(
    index=["method", "design", "group", "replicate"], columns="k", values=["estimate", "truth"]
)


def slope(frame):
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.log(-np.log(frame[high]))
        lower = np.log(-np.log(frame[low]))
    return -(upper - lower) / np.log(high / low)


by_cell = (
    pd.DataFrame({"slope": slope(slopes["estimate"]), "slope_truth": slope(slopes["truth"])})
    .groupby(["method", "design", "group"])
    .mean()
)
bias = finite[finite["k"] == high].assign(error=lambda t: t["estimate"] - t["truth"])
bias = bias.groupby(["method", "design", "group"])["error"].mean()
print("| design | model | " + " | ".join(methods) + " | truth slope |")
print("|---|---|" + "---|" * (len(methods) + 1))
for design, group in mse.index:
    entries = [
        f"{bias[(m, design, group)]:+.3f} ({by_cell.loc[(m, design, group), 'slope']:.2f})"
        for m in methods
    ]
    truth_slope = by_cell.loc[(methods[0], design, group), "slope_truth"]
    print(f"| {design} | {group} | " + " | ".join(entries) + f" | {truth_slope:.2f} |")

# Which of those wins and losses are more than replicate noise: the paired difference of the
# squared errors on the same replicates, with a 90% studentized bootstrap interval.
at_k = table[table["k"] == target]
print(f"\nPaired MSE differences of pass@{target} (same replicates, 90% bootstrap-t interval):")
print("cells where the Bayesian MSE is lower with the interval below 0 / undecided /")
print("higher with the interval above 0\n")
print("| Bayesian method | " + " | ".join(METHODS) + " |")
print("|---|" + "---|" * len(METHODS))
for bayes in args.bayes:
    entries = []
    for baseline in METHODS:
        pair = at_k[at_k["method"].isin([bayes, baseline])]
        paired = backtest.paired_differences(pair, reference=baseline, seed=args.seed)
        below = int((paired["upper"] < 0).sum())
        above = int((paired["lower"] > 0).sum())
        entries.append(f"{below} / {len(paired) - below - above} / {above}")
    print(f"| {bayes} | " + " | ".join(entries) + " |")

# The Bayesian forecasts against the least-squares power law, replicate by replicate: how far
# each is off on average (bias), how much it moves between replicates (sd), how closely the
# two move together (correlation) and by how much more the Bayesian one moves (the slope of
# its error regressed on the power law's).
errors = at_k.assign(error=at_k["estimate"] - at_k["truth"]).pivot_table(
    index=["design", "group", "replicate"], columns="method", values="error"
)
for bayes in args.bayes:
    print(f"\n{bayes} against regression, errors of pass@{target} over replicates\n")
    print("| design | model | bias | sd | regression bias | regression sd | correlation | slope |")
    print("|---|---|---|---|---|---|---|---|")
    for (design, group), cell in errors.groupby(level=["design", "group"]):
        pair = cell[[bayes, "regression"]].dropna().to_numpy()
        mine, theirs = pair[:, 0], pair[:, 1]
        print(
            f"| {design} | {group} | {mine.mean():+.3f} | {mine.std(ddof=1):.3f} | "
            f"{theirs.mean():+.3f} | {theirs.std(ddof=1):.3f} | "
            f"{np.corrcoef(mine, theirs)[0, 1]:.2f} | {np.polyfit(theirs, mine, 1)[0]:.2f} |"
        )

# The truth's own power law: the local exponent of -log pass@k, decade by decade. Forecasts
# from 100 attempts see k <= 100 and extrapolate into the last two decades.
print("\nLocal exponent of the truth, -d log(-log pass@k) / d log k, per decade of k\n")
decades = np.array([1, 10, 100, 1000, 10000])
print("| design | model | 1-10 | 10-100 | 100-1e3 | 1e3-1e4 |")
print("|---|---|---|---|---|---|")
truth_curves = {}
pythia_data = bp.datasets.load("pythia-math")
for group in pythia_data.groups:  # subsample design: the unbiased estimate from all attempts
    truth_curves[("subsample", group)] = bp.estimators.mean_pass_at_k(
        pythia_data.select(group), decades
    )
bon_data = bp.datasets.load("bon-jailbreak")
for group in bon_data.groups:  # resample design: exact, from each prompt's full-data rate
    counts = bon_data.select(group)
    truth_curves[("resample", group)] = designs.pass_at_k_of_rates(counts.c / counts.n, decades)
for design, group in mse.index:
    local = -np.diff(np.log(-np.log(np.asarray(truth_curves[(design, group)])))) / np.log(10)
    print(f"| {design} | {group} | " + " | ".join(f"{v:.2f}" for v in local) + " |")
