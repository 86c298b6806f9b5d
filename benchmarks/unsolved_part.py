"""How much of each real forecast rests on the problems never solved, and does the rest hold?

    python benchmarks/unsolved_part.py                 # 13 models x 2 replicates, ~12 minutes
    python benchmarks/unsolved_part.py --replicates 1 --small   # 2 models, short chains

For each model of issue 5's forecast-quality cells (7 Pythia MATH models subsampled to 100
attempts per problem, 6 Best-of-N models resampled at 100 from their full-data rates; the same
seeds), the first replicates are fitted with `bp.fit`'s defaults (the beta-spline, 4 x (1000 +
1000) draws) and forecast to k = 1,000 and 10,000. Beside the posterior mean and its 90%
interval: the unsolved part (`bayes_passk.forecast.unsolved_part`, what the problems with no
success among their 100 attempts add to the mean: the part that rests on the prior's tail),
the mean less it (what the problems solved at least once give), and the truth. The mean less
the unsolved part is below the truth unless the solved problems themselves are over-forecast.
"""

import argparse
import time

import numpy as np
import pandas as pd
from _cells import quality_cells

import bayes_passk as bp
from bayes_passk.forecast import unsolved_part

KS = np.array([1_000, 10_000])

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--replicates", type=int, default=2)
parser.add_argument("--small", action="store_true", help="2 models, 2 x (300 + 300) draws")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", help="CSV of the per-replicate rows")
args = parser.parse_args()
draws = dict(chains=2, warmup=300, samples=300) if args.small else {}

start = time.perf_counter()
cells = quality_cells(args.seed, 100, args.replicates, KS)
if args.small:
    cells = [cells[-1], cells[6]]
rows = []
for cell in cells:
    for r in range(args.replicates):
        ids = [str(i) for i in range(cell.n.shape[1])]
        data = bp.PassData.from_counts(ids, n=cell.n[r], c=cell.c[r])
        fit = bp.fit(data, seed=args.seed, progress=False, check=False, **draws)
        forecast = fit.forecast(KS, seed=args.seed)
        part = unsolved_part(fit, KS)
        diagnostics = fit.diagnostics()
        for i, k in enumerate(KS):
            rows.append(
                {
                    "model": cell.group,
                    "replicate": r,
                    "k": k,
                    "never_solved": np.mean(data.c == 0),
                    "truth": cell.truth[r, i],
                    "mean": forecast.mean[i],
                    "lower": forecast.lower[i],
                    "upper": forecast.upper[i],
                    "unsolved_part": part[i],
                    "solved_part": forecast.mean[i] - part[i],
                    "r_hat_max": diagnostics.r_hat_max,
                }
            )
        print(f"{time.perf_counter() - start:6.0f} s  {cell.group} {r}", flush=True)

table = pd.DataFrame(rows)
if args.out:
    table.to_csv(args.out, index=False)
table["error"] = table["mean"] - table.truth
table["below_truth"] = table.solved_part <= table.truth
table["covered"] = (table.lower <= table.truth) & (table.truth <= table.upper)
columns = ["never_solved", "truth", "mean", "unsolved_part", "solved_part", "error"]
summary = table.groupby(["model", "k"], sort=False)[[*columns, "below_truth", "covered"]].mean()
with pd.option_context("display.width", 200, "display.max_rows", 100):
    print(summary.round(3).to_string())
at_10000 = table[table.k == 10_000]
print(
    f"\nk = 10,000: mean less the unsolved part below the truth in {at_10000.below_truth.sum()} "
    f"of {len(at_10000)} fits; |error| at most the unsolved part in "
    f"{(at_10000.error.abs() <= at_10000.unsolved_part).sum()}; "
    f"{time.perf_counter() - start:.0f} s"
)
