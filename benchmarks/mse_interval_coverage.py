"""Coverage of 90% intervals for an MSE over replicates: percentile bootstrap against studentized.

    python benchmarks/mse_interval_coverage.py           # 2,000 simulated backtest cells per row
    python benchmarks/mse_interval_coverage.py --small   # 300

Each row draws one method's errors of pass@k on R replicates and scores how often each interval
for the MSE, E[e^2], holds the truth: the percentile bootstrap of the mean squared error, and
the studentized bootstrap that `bayes_passk.backtest.summarize` reports (`mse_interval`), both
from the same 1,000 resamples. Errors: normal with the bias and spread measured on Pythia MATH
for the posterior mean and the power law (benchmarks/paired_interval_coverage.py's cases),
unbiased normal, and Student t with 3 degrees of freedom (heavy tails).
"""

import argparse

import numpy as np

from bayes_passk.backtest import mse_interval

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
simulations = 300 if args.small else 2000
resamples = 1000
CASES = {  # name: (draw errors of shape (count,), true MSE)
    "normal, unbiased": (lambda rng, r: rng.normal(0, 0.1, r), 0.01),
    "Pythia 12B (bias 0.031, sd 0.020)": (
        lambda rng, r: rng.normal(0.031, 0.020, r),
        0.031**2 + 0.020**2,
    ),
    "Pythia 2.8B (bias 0.063, sd 0.037)": (
        lambda rng, r: rng.normal(0.063, 0.037, r),
        0.063**2 + 0.037**2,
    ),
    "GPT4o (bias -0.043, sd 0.046)": (
        lambda rng, r: rng.normal(-0.043, 0.046, r),
        0.043**2 + 0.046**2,
    ),
    "Gemini 1.5 Pro (bias 0.006, sd 0.085)": (
        lambda rng, r: rng.normal(0.006, 0.085, r),
        0.006**2 + 0.085**2,
    ),
    "Student t, 3 df (scale 0.1)": (lambda rng, r: 0.1 * rng.standard_t(3, r), 0.03),
}
print(
    f"{simulations} simulated cells per row; Monte Carlo s.e. at 0.9: "
    f"{np.sqrt(0.09 / simulations):.3f}\n"
)
print("| replicates | errors | percentile bootstrap | studentized bootstrap |")
print("|---|---|---|---|")
rng = np.random.default_rng(args.seed)
for replicates in (10, 20, 80):
    for name, (draw, truth) in CASES.items():
        percentile = studentized = 0
        for _ in range(simulations):
            squared = draw(rng, replicates) ** 2
            state = rng.bit_generator.state
            means = squared[rng.integers(0, replicates, (resamples, replicates))].mean(axis=1)
            low, high = np.quantile(means, [0.05, 0.95])
            percentile += low <= truth <= high
            rng.bit_generator.state = state  # the same resamples for both
            low, high = mse_interval(rng, squared, resamples)
            studentized += low <= truth <= high
        print(
            f"| {replicates} | {name} | {percentile / simulations:.3f} | "
            f"{studentized / simulations:.3f} |",
            flush=True,
        )
