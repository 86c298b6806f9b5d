"""Cost of `forecast.unsolved_parts` on the host after a batch of fits.

    python benchmarks/unsolved_parts_cost.py            # 90 and 1,000 datasets
    python benchmarks/unsolved_parts_cost.py --small    # 90 datasets only

The draws of one fit (Pythia 12B at 100 attempts, the default prior, 2 x (300 + 300)), 200 of
them given to every dataset, as a backtest at the default chains gives its fits' draws.
Backtest-like counts (one n for every problem: one computation for all datasets) against
allocation-like counts (each dataset its own n per problem: one computation per dataset), each
called twice (the first call compiles).
"""

import argparse
import time

import numpy as np

import bayes_passk as bp
from bayes_passk import datasets
from bayes_passk.families import params_type, stack_draws
from bayes_passk.forecast import unsolved_parts
from bayes_passk.hierarchy import flat_padded_draws

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="90 datasets only")
args = parser.parse_args()
data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)
fit = bp.fit(data, chains=2, warmup=300, samples=300, progress=False, check=False)
post = fit.idata.posterior
names = params_type(fit.family)._fields
flat, count = flat_padded_draws(params_type(fit.family)(*(post[f].values for f in names)))
draws = np.asarray(stack_draws(flat))[:count][:200]
rng = np.random.default_rng(0)
hyper = np.repeat(draws[None], 90, axis=0)
same_n = np.full((90, data.num_problems), 100)
varied_n = rng.integers(100, 200, size=(90, data.num_problems))  # c <= 100 <= n
c = np.tile(data.c, (90, 1))
for label, n in (("one n", same_n), ("varied n", varied_n)):
    for run in ("first", "again"):
        start = time.perf_counter()
        unsolved_parts(fit.family, hyper, n, c, [10000])
        print(f"{label}, {run} call: {time.perf_counter() - start:.2f} s")
big = np.repeat(draws[None], 1000, axis=0)
for ks in () if args.small else ([10000], [1000, 10000]):
    for run in ("first", "again"):
        start = time.perf_counter()
        n, c = np.full((1000, data.num_problems), 100), np.tile(data.c, (1000, 1))
        unsolved_parts(fit.family, big, n, c, ks)
        print(f"1000 datasets, one n, k {ks}, {run} call: {time.perf_counter() - start:.2f} s")
