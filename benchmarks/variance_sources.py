"""Where the replicate-to-replicate spread of a Bayesian pass@10000 forecast comes from.

    python benchmarks/variance_sources.py                    # Pythia 12B and 1B, 10 replicates
    python benchmarks/variance_sources.py --small            # 12B only, 4 replicates

On subsamples of 100 attempts per problem (seeded as `datasets.load(..., seed=r)`), the scaled
Beta's posterior mean (the package's default when this was first measured; ``--prior`` for
another family) of pass@10000 for the benchmark target (these problems, each through its
own counts and the shared hyperparameters) and for the new target (a fresh problem: through the
hyperparameters alone), beside the least-squares power law, against the truth from all 10,000
attempts. If the benchmark forecast varies much more than the new-problem one, its spread comes
from the per-problem terms; if both vary alike, from the hyperparameters. Each replicate's
count of problems without a success is printed beside, the fluctuation both forecasts answer,
and how much each estimate moves per problem unsolved (the slope of a least-squares line).
"""

import argparse
import time

import numpy as np

import bayes_passk as bp
from bayes_passk.baselines import fit_baseline

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="Pythia 12B, 4 replicates")
parser.add_argument("--groups", nargs="+", default=["Pythia 12B", "Pythia 1B"])
parser.add_argument("--replicates", type=int, default=10)
parser.add_argument("--prior", default="scaled-beta")
args = parser.parse_args()
groups = ["Pythia 12B"] if args.small else args.groups
replicates = 4 if args.small else args.replicates
K = 10_000

start = time.perf_counter()
print(
    "| model | estimate | mean error | sd over replicates | correlation with unsolved count "
    "| change per unsolved problem |"
)
print("|---|---|---|---|---|---|")
for group in groups:
    full = bp.datasets.load("pythia-math", group=group)
    truth = float(bp.estimators.mean_pass_at_k(full, [K])[0])
    rows = {"benchmark": [], "new": [], "regression": []}
    unsolved = []
    for seed in range(replicates):
        data = bp.datasets.load("pythia-math", group=group, attempts_per_problem=100, seed=seed)
        fit = bp.fit(
            data, prior=args.prior, seed=seed, chains=2, warmup=500, samples=500, progress=False
        )
        rows["benchmark"].append(fit.forecast([K]).mean[0])
        rows["new"].append(fit.forecast([K], target="new").mean[0])
        rows["regression"].append(fit_baseline(data, "regression").pass_at_k([K])[0])
        unsolved.append(int((data.c == 0).sum()))
    for name, values in rows.items():
        values = np.array(values)
        correlation = np.corrcoef(values, unsolved)[0, 1]
        per_problem = np.polyfit(unsolved, values, 1)[0]
        print(
            f"| {group} | {name} | {values.mean() - truth:+.3f} | {values.std(ddof=1):.3f} | "
            f"{correlation:+.2f} | {per_problem:+.4f} |"
        )
    print(f"| {group} | problems unsolved in 100 attempts: {unsolved} | truth {truth:.3f} | | | |")
print(f"\nwall {time.perf_counter() - start:.0f} s")
