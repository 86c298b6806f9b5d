"""Seconds of a forecast against the number of k asked for: what a dense plotting grid costs.

    python benchmarks/forecast_grid.py          # 25, 92 and 235 values of k, two priors
    python benchmarks/forecast_grid.py --small  # 25 and 92 values of k, the default prior

Pythia 12B subsampled to 100 attempts per problem (seed 0), fitted with each prior by `bp.fit`
(2 chains x (300 + 300): 600 draws, all of which the forecast uses). Each grid is log-spaced
from 1 to 1e6 and forecast twice: the first call compiles for its number of k, the second is
the cost a user pays again. A forecast computes, per draw, moments for every distinct (n, c)
row and k, so its time grows linearly in the number of k.
"""

import argparse
import platform
import time
import warnings

import numpy as np

import bayes_passk as bp
from bayes_passk.models import DEFAULT_PRIOR

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="two grids, the default prior only")
args = parser.parse_args()
priors = [DEFAULT_PRIOR] if args.small else [DEFAULT_PRIOR, "scaled-beta"]
sizes = (25, 100) if args.small else (25, 100, 275)
warnings.simplefilter("ignore", bp.ConvergenceWarning)
print(f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}")
data = bp.datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)
print("prior        k values  first call s  second call s  s per k (second)")
for prior in priors:
    fit = bp.fit(data, prior=prior, seed=0, chains=2, warmup=300, samples=300, progress=False)
    for size in sizes:
        ks = np.unique(np.round(np.logspace(0, 6, size)).astype(np.int64))
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            fit.forecast(ks)
            seconds.append(time.perf_counter() - start)
        print(
            f"{prior:12s} {ks.size:8d}  {seconds[0]:12.1f}  {seconds[1]:13.1f}"
            f"  {seconds[1] / ks.size:16.3f}",
            flush=True,
        )
