"""How much the default prior's forecasts depend on the prior of the tail exponent a.

    python benchmarks/prior_sensitivity.py                     # a ~ LogNormal(log 0.3, 2)
    python benchmarks/prior_sensitivity.py --tail-log-sd 0.5   # half as wide instead
    python benchmarks/prior_sensitivity.py --small             # 2 replicates, short chains

The beta-spline's a ~ LogNormal(log 0.3, 1) is its one informative hyperprior: 100 attempts
say little about rates below 1e-2, and at a true a = 0.15 the posterior mean of a sits near
the prior's median (benchmarks/RESULTS.md). This refits the backtests of the default with
only that log-scale changed, on the same cells, replicates and seeds as the kept tables of
the default: the 13 real-data cells of `forecast_quality.py` (pass@10000) and the synthetic
scaled Beta and Kumaraswamy designs (`bayes-passk backtest --design synthetic --budgets 100
--replicates 10 --k 10000`). It prints each cell's MSE and coverage under both priors, beside
the least-squares power law. A sensitivity check, not a search: one other value is fitted.
"""

import argparse
import time
from functools import partial

import numpy as np
import pandas as pd
from _cells import check_same_replicates, first_replicates, quality_cells, synthetic_cells

from bayes_passk import backtest
from bayes_passk.batched import BatchConfig
from bayes_passk.models import beta_spline

K = 10_000
KEPT = {
    "real": "benchmarks/runs/forecast_quality_beta_spline_ta099_2026-12-03.csv.gz",
    "scaled-beta": "benchmarks/runs/synthetic_scaled-beta_beta_spline_ta099_2026-12-03.csv.gz",
    "kumaraswamy": "benchmarks/runs/synthetic_kumaraswamy_beta_spline_ta099_2026-12-03.csv.gz",
}

parser = argparse.ArgumentParser()
parser.add_argument("--tail-log-sd", type=float, default=2.0)
parser.add_argument("--small", action="store_true", help="2 replicates, 2 x (200 + 200) draws")
parser.add_argument("--out", help="file for the variant's tidy per-replicate table (.csv.gz)")
args = parser.parse_args()
replicates = 2 if args.small else 10
config = BatchConfig(warmup=200, samples=200) if args.small else BatchConfig()
variant = beta_spline.FAMILY._replace(
    name=f"beta-spline-a-log-sd-{args.tail_log_sd:g}",
    hyperprior=partial(beta_spline.hyperprior, tail_log_sd=args.tail_log_sd),
)
designs_to_run = {  # built at the kept tables' size, 10 replicates, then cut
    "real": first_replicates(quality_cells(0, 100, 10, [1000, K]), replicates),
    "scaled-beta": first_replicates(synthetic_cells(0, "scaled-beta", 10, [K]), replicates),
    "kumaraswamy": first_replicates(synthetic_cells(0, "kumaraswamy", 10, [K]), replicates),
}

start = time.perf_counter()
tables = []
for design, cells in designs_to_run.items():
    kept = pd.read_csv(KEPT[design])
    kept = kept[kept.replicate < replicates]
    check_same_replicates(cells, kept)
    fitted = backtest.run(cells, [variant], seed=0, config=config)
    fitted = fitted[fitted.k == K].assign(design_set=design)
    kept = kept[(kept.k == K) & kept.method.isin(["bayes-beta-spline", "regression"])]
    kept = kept.assign(design_set=design)
    tables.append(pd.concat([fitted, kept]))
    print(f"{design}: {time.perf_counter() - start:.0f} s", flush=True)
table = pd.concat(tables, ignore_index=True)
if args.out:
    table[table.method == f"bayes-{variant.name}"].to_csv(args.out, index=False)

table["error"] = table.estimate - table.truth
table["covered"] = (table.lower <= table.truth) & (table.truth <= table.upper)
per_cell = table.groupby(["design_set", "group", "method"]).agg(
    mse=("error", lambda e: np.mean(e**2)), bias=("error", "mean"), coverage=("covered", "mean")
)
methods = ["bayes-beta-spline", f"bayes-{variant.name}", "regression"]
print("\n| design | cell | " + " | ".join(f"{m}: MSE x 1e3 (bias)" for m in methods) + " |")
print("|---|---|" + "---|" * len(methods))
for (design, group), rows in per_cell.groupby(level=["design_set", "group"]):
    rows = rows.droplevel(["design_set", "group"])
    text = " | ".join(f"{1e3 * rows.mse[m]:.2f} ({rows.bias[m]:+.3f})" for m in methods)
    print(f"| {design} | {group} | {text} |")
print("\n| design | method | cells with lower MSE than regression | coverage of 90% intervals |")
print("|---|---|---|---|")
# Wins on the replicates both methods forecast (the regression fails where nothing is solved).
squared = table.assign(squared=table.error**2).pivot_table(
    index=["design_set", "group", "replicate"], columns="method", values="squared"
)
for design, rows in squared.groupby(level="design_set"):
    for method in methods[:2]:
        both = rows[[method, "regression"]].dropna().groupby(level="group").mean()
        wins = int((both[method] < both["regression"]).sum())
        cover = table[(table.design_set == design) & (table.method == method)].covered.mean()
        print(f"| {design} | {method} | {wins}/{len(both)} | {cover:.3f} |")
print(f"\n{time.perf_counter() - start:.0f} s")
