"""Coverage of 90% intervals for a paired MSE difference: percentile, t and bootstrap-t.

    python benchmarks/paired_interval_coverage.py           # 2,000 simulated backtests per case
    python benchmarks/paired_interval_coverage.py --small   # 300

Each case draws the errors of two methods on R replicates from a bivariate normal with the
bias, spread and correlation measured on Pythia MATH (benchmarks/RESULTS.md, "Paired
differences": the log-spline posterior mean against the least-squares power law on Pythia 12B,
2.8B, GPT4o and Gemini 1.5 Pro), and for heavy tails the Gemini case's errors scaled from a
bivariate Student t of 3 degrees of freedom (same covariance), and scores how often each
interval for E[d] holds the truth, d = e_1^2 - e_2^2. The studentized bootstrap is what
`bayes_passk.backtest.paired_differences` reports (`bayes_passk.backtest.mean_interval`).
"""

import argparse

import numpy as np
from scipy import stats

from bayes_passk.backtest import mean_interval

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
    "Gemini 1.5 Pro, t3": (0.006, 0.085, -0.010, 0.055, 0.99),
}
rng = np.random.default_rng(args.seed)
print(
    f"{simulations} simulated backtests per row; Monte Carlo s.e. at 0.9: "
    f"{np.sqrt(0.09 / simulations):.3f}\n"
)
print("| replicates | case | percentile bootstrap | paired t | studentized bootstrap |")
print("|---|---|---|---|---|")
for replicates in (5, 10, 20, 80):
    for name, (m1, s1, m2, s2, rho) in CASES.items():
        covariance = np.array([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]])
        shape = (simulations, replicates)
        if name.endswith("t3"):  # variance df / (df - 2) = 3: scaled back to the covariance
            normal = rng.multivariate_normal([0, 0], covariance / 3, size=shape)
            errors = [m1, m2] + normal / np.sqrt(rng.chisquare(3, shape) / 3)[..., None]
        else:
            errors = rng.multivariate_normal([m1, m2], covariance, size=shape)
        truth = (m1**2 + s1**2) - (m2**2 + s2**2)
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
        ends = np.array([mean_interval(rng, row, bootstrap) for row in d])
        studentized = np.mean((ends[:, 0] <= truth) & (truth <= ends[:, 1]))
        row = f"| {replicates} | {name} | {percentile:.3f} | {paired_t:.3f} | {studentized:.3f} |"
        print(row, flush=True)
