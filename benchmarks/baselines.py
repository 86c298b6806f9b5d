"""Point methods: published fits reproduced on the embedded Pythia MATH data, and fit times.

    python benchmarks/baselines.py              # ~1 min on 2 cores
    python benchmarks/baselines.py --repeats 20 # steadier timings
    python benchmarks/baselines.py --small      # Pythia 70M and 12B only, repeats 1

Prints two Markdown tables for benchmarks/RESULTS.md:

1. the fitted values next to the published ones (all 10,000 attempts per problem);
2. the time of each fit on 128 problems, after a first (compiling) fit, as the median of
   ``--repeats`` runs, for 100 attempts per problem (seed 0) and for all 10,000, with the
   pass@10000 point forecast from 100 attempts next to the truth.
"""

import argparse
import platform
import time

import numpy as np

import bayes_passk as bp
from bayes_passk.baselines import METHODS, fit_baseline
from bayes_passk.estimators import mean_pass_at_k

PUBLISHED = {
    "discretized-beta a": [0.0528, 0.1458, 0.1543, 0.1860, 0.2243, 0.2411, 0.2543],
    "discretized-beta b": [1.912, 1.679, 1.905, 2.375, 3.037, 2.710, 2.014],
    "regression b": [0.194, 0.280, 0.286, 0.315, 0.336, 0.348, 0.370],
}

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--repeats", type=int, default=None, help="default 5 (1 with --small)")
parser.add_argument("--small", action="store_true", help="Pythia 70M and 12B only, repeats 1")
args = parser.parse_args()
if args.repeats is None:
    args.repeats = 1 if args.small else 5

all_groups = bp.datasets.load("pythia-math").groups
groups = ["Pythia 70M", "Pythia 12B"] if args.small else all_groups
full = {group: bp.datasets.load("pythia-math", group=group) for group in groups}
print(
    f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, repeats={args.repeats}"
)

print("\n| model | discretized-beta a (published) | b (published) | regression b (published) |")
print("|---|---|---|---|")
worst = {name: 0.0 for name in PUBLISHED}
for group in groups:
    i = all_groups.index(group)
    beta = fit_baseline(full[group], "discretized-beta").params
    slope = fit_baseline(full[group], "regression").exponent
    got = {"discretized-beta a": beta["a"], "discretized-beta b": beta["b"], "regression b": slope}
    cells = []
    for name, value in got.items():
        published = PUBLISHED[name][i]
        worst[name] = max(worst[name], abs(value / published - 1))
        cells.append(f"{value:.4f} ({published}, {100 * (value / published - 1):+.1f}%)")
    print(f"| {group} | " + " | ".join(cells) + " |")
print(
    "\nlargest relative deviation: "
    + ", ".join(f"{name} {100 * value:.1f}%" for name, value in worst.items())
)
bb = fit_baseline(full["Pythia 12B"], "beta-binomial")
print(
    f"beta-binomial, Pythia 12B, all attempts: a = {bb.params['a']:.4f} (0.296), "
    f"b = {bb.params['b']:.3f} (12.3), pass@10000 = {bb.pass_at_k([10_000])[0]:.4f} (0.863)"
)
bb70 = fit_baseline(full["Pythia 70M"], "beta-binomial")
print(
    f"beta-binomial, Pythia 70M, all attempts: a = {bb70.params['a']:.4f} (0.035), "
    f"b = {bb70.params['b']:.2f} (3.65), pass@10000 = {bb70.pass_at_k([10_000])[0]:.4f} "
    "(0.248; truth 0.266)"
)


def median_time(data, method):
    fit_baseline(data, method)  # compile and warm caches
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        fit_baseline(data, method)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


print(
    "\n| method | fit time, 100 attempts (s) | fit time, 10,000 attempts (s) | "
    "Pythia 12B pass@10000 from 100 attempts (truth) |"
)
print("|---|---|---|---|")
truth = float(mean_pass_at_k(full["Pythia 12B"], [10_000])[0])
slowest = 0.0
for method in METHODS:
    times = []
    for attempts in (100, None):
        per_group = [
            median_time(
                bp.datasets.load("pythia-math", group=g, attempts_per_problem=attempts, seed=0),
                method,
            )
            for g in groups
        ]
        times.append(max(per_group))
    slowest = max(slowest, *times)
    sub = bp.datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)
    forecast = fit_baseline(sub, method).pass_at_k([10_000])[0]
    print(f"| {method} | {times[0]:.3f} | {times[1]:.3f} | {forecast:.3f} ({truth:.3f}) |")
print(f"\nslowest fit (max over the {len(groups)} models of the median time): {slowest:.3f} s")
