"""Coverage of 90% intervals for a paired MSE difference: percentile bootstrap against paired t.

    python benchmarks/paired_interval_coverage.py           # 2,000 simulated backtests per case
    python benchmarks/paired_interval_coverage.py --small   # 300

Each case draws the errors of two methods on R replicates from a bivariate normal with the
bias, spread and correlation measured on Pythia MATH (benchmarks/RESULTS.md, "Paired
differences": the log-spline posterior mean against the least-squares power law on Pythia 12B,
2.8B, GPT4o and Gemini 1.5 Pro) and scores how often each interval for E[d] holds the truth,
d = e_1^2 - e_2^2. The t interval is what `bayes_passk.backtest.paired_differences` reports.
"""

import argparse

import numpy as np
from scipy import stats

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
simulations = 300 if args.small else 2000
bootstrap = 1000
# (bias 1, sd 1, bias 2, sd 2, correlation) of the errors of pass@10000.
CASES = {
    "Pythia 12B": (0.031, 0.020, -0.008, 0.012, 0.95),
    "Pythia 2.8B": (0.063, 0.037, 0.017, 0.022, 0.96),
    "GPT4o": (-0.043, 0.046, -0.058, 0.024, 0.93),
    "Gemini 1.5 Pro": (0.006, 0.085, -0.010, 0.055, 0.99),
}
rng = np.random.default_rng(args.seed)
print(
    f"{simulations} simulated backtests per row; Monte Carlo s.e. at 0.9: "
    f"{np.sqrt(0.09 / simulations):.3f}\n"
)
print("| replicates | case | percentile bootstrap | paired t |")
print("|---|---|---|---|")
for replicates in (10, 20, 80):
    for name, (m1, s1, m2, s2, rho) in CASES.items():
        covariance = [[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]]
        truth = (m1**2 + s1**2) - (m2**2 + s2**2)
        errors = rng.multivariate_normal([m1, m2], covariance, size=(simulations, replicates))
        d = errors[..., 0] ** 2 - errors[..., 1] ** 2  # (simulations, replicates)
        lower, upper = np.empty(simulations), np.empty(simulations)
        for start in range(0, simulations, 100):  # bounded memory
            part = d[start : start + 100]
            picks = rng.integers(0, replicates, (len(part), bootstrap, replicates))
            means = np.take_along_axis(part[:, None, :], picks, axis=2).mean(axis=2)
            lower[start : start + 100], upper[start : start + 100] = np.quantile(
                means, [0.05, 0.95], axis=1
            )
        percentile = np.mean((lower <= truth) & (truth <= upper))
        half = stats.t.ppf(0.95, replicates - 1) * d.std(axis=1, ddof=1) / np.sqrt(replicates)
        paired_t = np.mean(np.abs(d.mean(axis=1) - truth) <= half)
        print(f"| {replicates} | {name} | {percentile:.3f} | {paired_t:.3f} |")
