"""Forecasts stacked across prior families by PSIS-LOO, on forecast_quality.py's cells.

    python benchmarks/stacking.py                    # 10 replicates of the 13 cells, ~25 minutes
    python benchmarks/stacking.py --small            # 2 replicates of 2 cells, short chains
    python benchmarks/stacking.py --out bench-out/stack.csv.gz
    python benchmarks/stacking.py --groups "Pythia 160M" --draws 4 1000 1000   # longer chains

The beta-spline (the default) and the power-law family err in opposite ways: the first spreads
over replicates (it learns the tail from the few problems near p ~ 1/n), the second is biased
where the truth's curve bends beyond the data (one exponent for the whole curve). Stacking of
predictive distributions (Yao, Vehtari, Simpson and Gelman 2018) weighs the families by how
well the mixture predicts each left-out problem's counts (`bayes_passk.compare.compare_priors`,
ArviZ's ``method="stacking"``), a rule fixed before any score is seen. Each replicate is fitted
under every prior of ``--priors`` (`bp.fit`, 2 x (500 + 500) draws as the backtests), the
weights are computed from that replicate alone, and the stacked forecast of pass@k is the
mixture of the families' posterior draws: its mean, and its 90% equal-tailed interval.

Printed: per cell, bias, spread and MSE of pass@10000 of each family, the stacked forecast and
the kept least-squares power law (`runs/forecast_quality_power_law_2026-12-05.csv.gz`, whose
replicates these are: the script stops otherwise), the cells where each has the lower MSE than
the power law, coverage and mean width, and the mean stacking weights.
"""

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _cells import check_same_replicates, first_replicates, print_against_regression, quality_cells

import bayes_passk as bp
from bayes_passk.compare import compare_priors, pass_at_k_draws

KEPT = Path(__file__).parent / "runs" / "forecast_quality_power_law_2026-12-05.csv.gz"
K = 10000
CI = 0.9

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="2 cells x 2 replicates, short chains")
parser.add_argument("--replicates", type=int, default=10)
parser.add_argument("--priors", nargs="+", default=["beta-spline", "power-law"])
parser.add_argument("--out", help="per-replicate table (CSV, gzip by extension)")
parser.add_argument("--table", help="report on a table written by --out, without fitting")
parser.add_argument("--groups", nargs="+", help="only these models (default: all 13)")
parser.add_argument(
    "--draws",
    nargs=3,
    type=int,
    metavar=("CHAINS", "WARMUP", "SAMPLES"),
    help="chains and draws per fit (default 2 500 500, the backtests'; --small 2 200 200)",
)
args = parser.parse_args()
short = 200 if args.small else 500
chains, warmup, samples = args.draws or (2, short, short)
draws = dict(chains=chains, warmup=warmup, samples=samples)


def weighted_quantiles(values, weights, quantiles):
    """Quantiles of a weighted sample: the inverse of its step CDF at each quantile."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return values[order][np.searchsorted(cumulative, quantiles).clip(max=len(values) - 1)]


def stacked_rows(cell, replicate) -> list[dict]:
    """Fit one replicate under every prior; the rows of each and of their stacked mixture."""
    data = bp.PassData.from_counts(
        [str(i) for i in range(cell.n.shape[1])], n=cell.n[replicate], c=cell.c[replicate]
    )
    truth = float(cell.truth[replicate][list(cell.ks).index(K)])
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bp.ConvergenceWarning)  # r_hat is recorded instead
        for prior in args.priors:
            fits[prior] = bp.fit(data, prior=prior, seed=replicate, progress=False, **draws)
    weights = compare_priors(fits).table["weight"]
    rows, values, masses = [], [], []
    for prior, fit in fits.items():
        sample = pass_at_k_draws(fit, [K])[:, 0]
        lower, upper = np.quantile(sample, [(1 - CI) / 2, (1 + CI) / 2])
        rows.append(
            dict(
                method=f"bayes-{prior}",
                estimate=sample.mean(),
                lower=lower,
                upper=upper,
                weight=weights[prior],
                r_hat_max=fit.diagnostics().r_hat_max,
            )
        )
        values.append(sample)
        masses.append(np.full(len(sample), weights[prior] / len(sample)))
    values, masses = np.concatenate(values), np.concatenate(masses)
    lower, upper = weighted_quantiles(values, masses, [(1 - CI) / 2, (1 + CI) / 2])
    rows.append(
        dict(
            method="bayes-stacked",
            estimate=float(values @ masses / masses.sum()),
            lower=lower,
            upper=upper,
            weight=1.0,
            r_hat_max=np.nan,
        )
    )
    return [
        dict(row, design=cell.design, group=cell.group, replicate=replicate, k=K, truth=truth)
        for row in rows
    ]


if args.table:
    table = pd.read_csv(args.table)
else:
    cells = quality_cells(0, 100, args.replicates, [1000, K])
    if args.small:
        cells = first_replicates([cells[0], cells[-1]], 2)
    if args.groups:
        cells = [cell for cell in cells if cell.group in args.groups]
        if not cells:
            parser.error(f"--groups: none of {args.groups} is one of the 13 models")
    kept = pd.read_csv(KEPT)
    check_same_replicates(cells, kept)
    print(
        f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, "
        f"{len(cells)} cells x {cells[0].n.shape[0]} replicates, priors {args.priors}, {draws}"
    )
    start, rows = time.perf_counter(), []
    for cell in cells:
        for replicate in range(cell.n.shape[0]):
            rows += stacked_rows(cell, replicate)
            weight = rows[-2]["weight"]
            print(
                f"  {time.perf_counter() - start:6.0f} s  {cell.group} replicate {replicate}: "
                f"weight of {args.priors[-1]} {weight:.2f}",
                file=sys.stderr,
                flush=True,
            )
    table = pd.DataFrame(rows)
    print(f"wall {time.perf_counter() - start:.0f} s")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)

kept = pd.read_csv(KEPT)
kept = kept[(kept.k == K) & (kept.method == "regression")]
methods = [*table.method.unique(), "regression"]
print_against_regression(
    table[["method", "group", "replicate", "estimate", "truth"]], kept, methods
)
print("\n| method | coverage | mean width | mean weight | fits with r_hat > 1.01 |")
print("|---|---|---|---|---|")
for method, rows in table.groupby("method", sort=False):
    covered = (rows.lower <= rows.truth) & (rows.truth <= rows.upper)
    se = np.sqrt(covered.mean() * (1 - covered.mean()) / len(rows))
    print(
        f"| {method} | {covered.mean():.3f} (+- {se:.3f}) | {(rows.upper - rows.lower).mean():.3f}"
        f" | {rows.weight.mean():.2f} | {int((rows.r_hat_max > 1.01).sum())} |"
    )
print("\nMean weight of each family by cell")
print(
    table[table.method != "bayes-stacked"]
    .pivot_table(index="group", columns="method", values="weight")
    .round(2)
    .to_string()
)
