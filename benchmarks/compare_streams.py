"""compare_groups with one random stream for both groups (the old code) against one each.

    python benchmarks/compare_streams.py
    python benchmarks/compare_streams.py --small  # 2 chains x (300 + 300), 200 draws per forecast

Pythia 12B against Pythia 6.9B, 100 attempts per problem, default fit (4 chains x (1000 +
1000)). Each draw of the benchmark's pass@k adds the spread of the problems' rates given the
hyperparameters, a Beta draw; with one seed for both groups those draws are nearly the same
for A and B and cancel in the difference, so its interval comes out too narrow.
"""

import argparse

import numpy as np

import bayes_passk as bp
from bayes_passk.forecast import posterior_pass_at_k

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "--small", action="store_true", help="2 chains x (300 + 300), 200 draws per forecast"
)
args = parser.parse_args()
chains, warmup, samples = (2, 300, 300) if args.small else (4, 1000, 1000)
max_draws = 200 if args.small else 1000

ks = np.array([1, 100, 10_000])
fits = [
    bp.fit(
        bp.datasets.load("pythia-math", group=group, attempts_per_problem=100, seed=0),
        prior="scaled-beta",
        seed=0,
        chains=chains,
        warmup=warmup,
        samples=samples,
        progress=False,
    )
    for group in ("Pythia 12B", "Pythia 6.9B")
]


def difference(seeds):
    a, b = (
        posterior_pass_at_k(fit, ks, max_draws, seed)["benchmark"].values.reshape(-1, ks.size)
        for fit, seed in zip(fits, seeds, strict=True)
    )
    lower, upper = np.quantile(a - b, [0.05, 0.95], axis=0)
    return lower, upper, (a > b).mean(axis=0)


print("| streams | k | 90% interval of pass@k(12B) - pass@k(6.9B) | width | P(12B > 6.9B) |")
print("|---|---|---|---|---|")
for name, seeds in (("one shared", [0, 0]), ("one each", np.random.SeedSequence(0).spawn(2))):
    for k, lower, upper, above in zip(ks, *difference(seeds), strict=True):
        interval = f"[{lower:+.4f}, {upper:+.4f}]"
        print(f"| {name} | {k} | {interval} | {upper - lower:.4f} | {above:.3f} |")
