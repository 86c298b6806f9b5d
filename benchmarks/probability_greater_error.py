"""Calibration of P(A > B)'s Monte Carlo standard error (`compare.difference_table`).

    python benchmarks/probability_greater_error.py           # 1,000 comparisons per case
    python benchmarks/probability_greater_error.py --small   # 200

Each comparison draws 4 chains x 250 draws for A ~ N(0.5, sd_a^2) and for B ~ N(0, sd_b^2),
AR(1) within a chain, each chain shifted by an offset (chains that disagree, as an unconverged
fit's do), and reports P(A > B) and its standard error. Over the comparisons, the root mean
square of the stated errors against the sd of P says whether the error is right (1), too small
(< 1) or too large; the ratio's own relative error is 1 / sqrt(2 (runs - 1)).
"""

import argparse

import numpy as np

from bayes_passk.compare import difference_table

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
runs = 200 if args.small else 1000
CHAINS, DRAWS = 4, 250
rng = np.random.default_rng(args.seed)


def no_offsets():
    return np.zeros(CHAINS)


def one_chain_apart():
    return np.where(np.arange(CHAINS) == rng.integers(CHAINS), rng.choice([-1.5, 1.5]), 0.0)


# name: (correlation, sd, chain offsets) of A, then of B.
CASES = {
    "independent draws": ((0.0, 1.0, no_offsets), (0.0, 1.0, no_offsets)),
    "correlation 0.8 within chains": ((0.8, 1.0, no_offsets), (0.8, 1.0, no_offsets)),
    "A correlated 0.9, B independent and twice as wide": (
        (0.9, 1.0, no_offsets),
        (0.0, 2.0, no_offsets),
    ),
    "correlation 0.5, chains offset by N(0, 0.3^2)": (
        (0.5, 1.0, lambda: rng.normal(0, 0.3, CHAINS)),
        (0.5, 1.0, lambda: rng.normal(0, 0.3, CHAINS)),
    ),
    "correlation 0.5, one chain 1.5 apart": (
        (0.5, 1.0, one_chain_apart),
        (0.5, 1.0, one_chain_apart),
    ),
}


def chains(correlation, sd, offsets):
    x = np.empty((CHAINS, DRAWS))
    x[:, 0] = rng.normal(size=CHAINS)
    noise = rng.normal(size=(CHAINS, DRAWS)) * np.sqrt(1 - correlation**2)
    for t in range(1, DRAWS):
        x[:, t] = correlation * x[:, t - 1] + noise[:, t]
    return (sd * x + offsets()[:, None]).reshape(-1, 1)


print(f"{runs} comparisons per case; the ratio's relative error: {1 / np.sqrt(2 * (runs - 1)):.3f}")
print()
print("| case | mean P | sd of P | rms of the stated errors | ratio |")
print("|---|---|---|---|---|")
for name, (side_a, side_b) in CASES.items():
    rows = [
        difference_table(chains(*side_a) + 0.5, chains(*side_b), [10], seed=run).iloc[0]
        for run in range(runs)
    ]
    p = np.array([row["prob_a_greater"] for row in rows])
    error = np.array([row["prob_a_greater_mcse"] for row in rows])
    stated = np.sqrt(np.mean(error**2))
    print(
        f"| {name} | {p.mean():.4f} | {p.std(ddof=1):.4f} | {stated:.4f} | "
        f"{stated / p.std(ddof=1):.3f} |"
    )
