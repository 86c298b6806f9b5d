"""Width and coverage of the studentized bootstrap against the t interval, by replicates.

    python benchmarks/bootstrap_t_width.py           # 1,000 simulated backtests per row
    python benchmarks/bootstrap_t_width.py --small   # 200

Why `bayes_passk.backtest.mean_interval` gives no interval below `FEWEST_FOR_INTERVAL`
values: each row draws paired differences of squared errors as
benchmarks/paired_interval_coverage.py does (bias, spread and correlation measured on Pythia
MATH) and reports the coverage of 90% intervals for their mean and the studentized
interval's width over the t interval's (median, 90th and 99th percentiles, largest). The
package's floor is lifted here to measure what it leaves out.
"""

import argparse

import numpy as np
from scipy import stats

from bayes_passk import backtest

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
simulations = 200 if args.small else 1000
backtest.FEWEST_FOR_INTERVAL = 2  # measure below the package's floor too
CASES = {
    "Pythia 12B": (0.031, 0.020, -0.008, 0.012, 0.95),
    "Gemini 1.5 Pro": (0.006, 0.085, -0.010, 0.055, 0.99),
}
rng = np.random.default_rng(args.seed)
print(f"{simulations} simulated backtests per row\n")
print("| replicates | case | coverage: studentized | t | width / t's: median | 90% | 99% | max |")
print("|---|---|---|---|---|---|---|---|")
for replicates in (4, 5, 6, 8, 10, 20):
    for name, (m1, s1, m2, s2, rho) in CASES.items():
        covariance = [[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]]
        truth = (m1**2 + s1**2) - (m2**2 + s2**2)
        errors = rng.multivariate_normal([m1, m2], covariance, size=(simulations, replicates))
        d = errors[..., 0] ** 2 - errors[..., 1] ** 2
        ends = np.array([backtest.mean_interval(rng, row, 1000) for row in d])
        half = stats.t.ppf(0.95, replicates - 1) * d.std(axis=1, ddof=1) / np.sqrt(replicates)
        ratio = (ends[:, 1] - ends[:, 0]) / (2 * half)
        studentized = np.mean((ends[:, 0] <= truth) & (truth <= ends[:, 1]))
        paired_t = np.mean(np.abs(d.mean(axis=1) - truth) <= half)
        q50, q90, q99 = np.nanquantile(ratio, [0.5, 0.9, 0.99])
        print(
            f"| {replicates} | {name} | {studentized:.3f} | {paired_t:.3f} | {q50:.2f} | "
            f"{q90:.1f} | {q99:.1f} | {np.nanmax(ratio):.0f} |",
            flush=True,
        )
