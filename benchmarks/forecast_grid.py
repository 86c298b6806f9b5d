"""Seconds of a forecast against the number of k asked for: what a dense plotting grid costs.

    python benchmarks/forecast_grid.py          # 25, 92 and 235 values of k, two priors
    python benchmarks/forecast_grid.py --small  # 25 and 92 values of k, the default prior

Pythia 12B subsampled to 100 attempts per problem (seed 0), fitted with each prior by `bp.fit`
(2 chains x (300 + 300): 600 draws, all of which the forecast uses). Each grid is log-spaced
from 1 to 1e6 and forecast twice: the first call compiles for its number of k, the second is
the cost a user pays again. A forecast computes, per draw, moments for every distinct (n, c)
row and k, so its time grows linearly in the number of k.

For a discrete family (the default) the script also times those moments alone both ways, side
by side on the same draws: as matrix sums over the grid (what forecasts use) and as sums in
log space (`survival_moments(..., exact_sums=True)`, what they used before, and still use for
draws whose survival underflows the matrix sums).
"""

import argparse
import platform
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

import bayes_passk as bp
from bayes_passk.forecast import survival_moments
from bayes_passk.hierarchy import distinct_rows, flat_padded_draws
from bayes_passk.models import DEFAULT_PRIOR

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="two grids, the default prior only")
args = parser.parse_args()
priors = [DEFAULT_PRIOR] if args.small else [DEFAULT_PRIOR, "scaled-beta"]
sizes = (25, 100) if args.small else (25, 100, 275)
warnings.simplefilter("ignore", bp.ConvergenceWarning)
print(f"# {time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}")
data = bp.datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)


def seconds_of(function, *args) -> float:
    """Wall seconds of a second call (the first compiles)."""
    jax.block_until_ready(function(*args))
    start = time.perf_counter()
    jax.block_until_ready(function(*args))
    return time.perf_counter() - start


print(
    "prior        k values  first call s  second call s  s per k (second)"
    "  moments: matrix s  log-space s  ratio"
)
rows = distinct_rows(data.n, data.c)
rows = tuple(jnp.asarray(x, dtype=float) for x in (rows.n, rows.c, rows.weight))
for prior in priors:
    fit = bp.fit(data, prior=prior, seed=0, chains=2, warmup=300, samples=300, progress=False)
    draws, _ = flat_padded_draws(fit.params)
    for size in sizes:
        ks = np.unique(np.round(np.logspace(0, 6, size)).astype(np.int64))
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            fit.forecast(ks)
            seconds.append(time.perf_counter() - start)
        line = (
            f"{prior:12s} {ks.size:8d}  {seconds[0]:12.1f}  {seconds[1]:13.1f}"
            f"  {seconds[1] / ks.size:16.3f}"
        )
        if fit.family.log_masses is not None:
            k_values = jnp.asarray(ks, dtype=float)
            both = [
                seconds_of(survival_moments, fit.family, draws, *rows, k_values, exact)
                for exact in (False, True)
            ]
            line += f"  {both[0]:17.2f}  {both[1]:11.2f}  {both[1] / both[0]:5.1f}"
        print(line, flush=True)
