"""Batched engine: fits per second of one vmapped program against a loop of single jitted fits.

    python benchmarks/batched_throughput.py                 # 32 replicates, 2 chains x (300 + 300)
    python benchmarks/batched_throughput.py --small         # 8 replicates
    python benchmarks/batched_throughput.py --chunk 2 8     # two batch arms, chunks of 2 and 8
    python benchmarks/batched_throughput.py --replicates 1000 --chunk 1000 --no-loop   # GPU size

The replicates: Pythia 12B on MATH subsampled to 100 attempts per problem, one seed each. Both
arms run the same `fit_one` (same padding, same settings) through `fit_batch`: the batch arm with
``chunk = replicates`` (one program, vmapped, batch sharded over ``jax.devices()``), the loop arm
with ``chunk = 1`` (one jitted fit at a time, called from Python). Each arm is compiled first on
the same data, then timed; compile times are printed apart. Peak resident memory of the process
is printed at the end (``ru_maxrss``).
"""

import argparse
import platform
import resource
import time

import jax
import numpy as np

import bayes_passk as bp
from bayes_passk.batched import BatchConfig, fit_batch, rows_and_weights
from bayes_passk.designs import subsample

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--replicates", type=int, default=32)
parser.add_argument(
    "--chunk", type=int, nargs="+", default=None, help="batch chunks to time (default: replicates)"
)
parser.add_argument("--warmup", type=int, default=300)
parser.add_argument("--samples", type=int, default=300)
parser.add_argument("--no-loop", action="store_true", help="skip the loop arm")
args = parser.parse_args()
replicates = 8 if args.small else args.replicates

full = bp.datasets.load("pythia-math", group="Pythia 12B")
cell = subsample(0, full, budget=100, replicates=replicates, ks=[1000, 10000])
config = BatchConfig(chains=2, warmup=args.warmup, samples=args.samples)
ks = cell.ks

print(
    f"# {platform.node()} {platform.machine()}, {jax.devices()[0].platform} x "
    f"{jax.device_count()}, {time.strftime('%Y-%m-%d')}, {replicates} replicates, "
    f"2 chains x ({args.warmup} + {args.samples})"
)


# Every arm pads to the same number of distinct (n, c) rows: one compiled shape per arm.
rows = 16 * -(-int((rows_and_weights(cell.n, cell.c)[2] > 0).sum(axis=1).max()) // 16)


def timed(chunk: int, count: int):
    cfg = config._replace(chunk=chunk)
    start = time.perf_counter()
    fit_batch(0, cell.n[:chunk], cell.c[:chunk], ks, config=cfg, rows=rows)  # compile + 1 chunk
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    summary = fit_batch(1, cell.n[:count], cell.c[:count], ks, config=cfg, rows=rows)
    return compile_seconds, time.perf_counter() - start, summary


arms = []
for chunk in args.chunk or [replicates]:
    compile_b, seconds_b, batch = timed(chunk, replicates)
    arms.append((f"vmapped batch, chunk {chunk}", compile_b, seconds_b, replicates))
if not args.no_loop:
    compile_l, seconds_l, loop = timed(1, replicates)
    arms.append(("loop of single fits", compile_l, seconds_l, replicates))

print("\n| arm | compile + first chunk s | timed s | fits | fits/s |")
print("|---|---|---|---|---|")
for name, compile_s, seconds, fits in arms:
    print(f"| {name} | {compile_s:.1f} | {seconds:.1f} | {fits} | {fits / seconds:.2f} |")
if not args.no_loop:
    for name, _, seconds, _ in arms[:-1]:
        print(f"\nthroughput ratio, {name} / loop: {seconds_l / seconds:.2f}")
    print(
        f"mean pass@10000, batch {batch.mean[:, 1].mean():.4f}, loop {loop.mean[:, 1].mean():.4f}"
    )
print(
    f"max r_hat over the batch: {np.max(batch.r_hat_max):.3f}, "
    f"divergent fits: {int((batch.divergences > 0).sum())}"
)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"peak resident memory: {peak:.0f} MiB")
