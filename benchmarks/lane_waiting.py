"""How long vmapped NUTS lanes wait for each other: leapfrog steps per draw, mean against max.

    python benchmarks/lane_waiting.py            # 16 datasets, 2 chains x (300 + 300)
    python benchmarks/lane_waiting.py --small    # 4 datasets, 2 chains x (100 + 100)

A vmapped NUTS draw lasts as long as its slowest lane's trajectory. This fits Pythia 12B
subsamples (100 attempts per problem) one at a time with the batched engine's sampler settings
(`nuts.sample_chains`, its target acceptance and tree depth; the kept draws only, warm-up not
counted), pools the leapfrog steps of every kept draw, and for L lanes stepping together gives
E[max of L draws] from that pool (lanes taken as independent, draws as exchangeable): the steps
a vmapped draw of L lanes runs, against the mean steps one lane needs. Their ratio is the share
of a vectorised device's work that does something (on a GPU, where L lanes cost about what one
does, the throughput per step grows as L x mean / E[max]).
"""

import argparse
import platform
import time

import jax
import numpy as np

import bayes_passk as bp
from bayes_passk.batched import (
    DEFAULT_CONFIG,
    batch_chains,
    batch_target_accept,
    rows_and_weights,
)
from bayes_passk.designs import subsample
from bayes_passk.families import get_family
from bayes_passk.hierarchy import round_up
from bayes_passk.models import DEFAULT_PRIOR

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true")
parser.add_argument("--datasets", type=int, default=16)
parser.add_argument("--warmup", type=int, default=300)
parser.add_argument("--samples", type=int, default=300)
parser.add_argument("--prior", default=DEFAULT_PRIOR, help="prior family (the package's default)")
args = parser.parse_args()
if args.small:
    args.datasets, args.warmup, args.samples = 4, 100, 100

family = get_family(args.prior)
config = DEFAULT_CONFIG._replace(warmup=args.warmup, samples=args.samples)
full = bp.datasets.load("pythia-math", group="Pythia 12B")
cell = subsample(0, full, budget=100, replicates=args.datasets, ks=[10000])
size = round_up(rows_and_weights(cell.n, cell.c)[0].shape[1])  # one shape, one compile
n_rows, c_rows, weight = rows_and_weights(cell.n, cell.c, size=size)
print(
    f"# {platform.node()}, {time.strftime('%Y-%m-%d')}, {args.datasets} datasets, "
    f"{config.chains} chains x ({args.warmup} + {args.samples}), prior {args.prior}, target "
    f"acceptance {batch_target_accept(family, config)}, max tree depth {config.max_tree_depth}"
)


@jax.jit
def steps(key, n, c, w):
    keys = jax.random.split(key, config.chains)
    return batch_chains(keys, n, c, w, family=family, config=config).num_steps


start = time.perf_counter()
pool = np.concatenate(
    [
        np.asarray(steps(jax.random.key(i), n_rows[i], c_rows[i], weight[i])).ravel()
        for i in range(args.datasets)
    ]
)
print(
    f"{pool.size} kept draws in {time.perf_counter() - start:.0f} s; steps per draw: mean "
    f"{pool.mean():.1f}, median {np.median(pool):.0f}, max {pool.max()}, "
    f"share at the cap {np.mean(pool >= 2**config.max_tree_depth - 1):.3f}"
)
values, counts = np.unique(pool, return_counts=True)
below = np.concatenate([[0.0], np.cumsum(counts)[:-1]]) / pool.size  # F(x-)
upto = np.cumsum(counts) / pool.size  # F(x)
print("\n| lanes L | E[max of L] steps | mean / E[max] | L x mean / E[max] |")
print("|---|---|---|---|")
for lanes in (1, 2, 4, 16, 128, 1000, 2000):
    expected_max = float(np.sum(values * (upto**lanes - below**lanes)))
    share = pool.mean() / expected_max
    print(f"| {lanes} | {expected_max:.1f} | {share:.3f} | {lanes * share:.1f} |")
