"""Mixed batch: datasets sorted into small chunks against one wide chunk padded to the largest.

    python benchmarks/mixed_batch.py            # 8 replicates of 4 unlike models, 2 x (200 + 200)
    python benchmarks/mixed_batch.py --small    # 4 replicates, 2 x (100 + 100)

A backtest mixes datasets that differ in size (distinct (n, c) rows) and in how hard NUTS finds
them. A vmapped NUTS step lasts as long as its slowest lane, and every lane pays for the padded
rows. Arm "one chunk": every dataset in one chunk, rows padded to the largest dataset.
Arms "sorted chunks": `fit_batch` with datasets sorted by size, rows padded per chunk, 4
datasets per device per call (the CPU default until 2026-12-02) or its default (now 1 per CPU
device). Each arm is timed twice: the first call compiles its shapes, the second
reuses them. Both arms fit the same datasets with the same keys.
"""

import argparse
import os
import platform
import time

import jax

# The first call compiles from cold: the package's on-disk cache of compiled programs would
# otherwise serve it from an earlier run of this script.
os.environ["BAYES_PASSK_CACHE_DIR"] = ""
import bayes_passk as bp  # noqa: E402
from bayes_passk.backtest import stack_problems  # noqa: E402
from bayes_passk.batched import BatchConfig, fit_batch, rows_and_weights  # noqa: E402
from bayes_passk.designs import resample, subsample  # noqa: E402
from bayes_passk.hierarchy import round_up

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="4 replicates, 2 x (100 + 100)")
args = parser.parse_args()
replicates, draws = (4, 100) if args.small else (8, 200)
ks = [1000, 10000]

pythia, bon = bp.datasets.load("pythia-math"), bp.datasets.load("bon-jailbreak")
cells = [
    subsample(0, pythia.select("Pythia 70M"), 100, replicates, ks),
    subsample(1, pythia.select("Pythia 12B"), 100, replicates, ks),
    resample(2, bon.select("GPT4o"), 100, replicates, ks),
    resample(3, bon.select("Gemini 1.5 Pro"), 100, replicates, ks),
]
n = stack_problems([cell.n for cell in cells])  # padded with n = 0: no problem there
c = stack_problems([cell.c for cell in cells])
rows = (rows_and_weights(n, c)[2] > 0).sum(axis=1)
print(
    f"# {platform.node()} {platform.machine()}, {jax.devices()[0].platform} x "
    f"{jax.device_count()}, {time.strftime('%Y-%m-%d')}, {len(n)} datasets "
    f"(distinct rows {rows.min()}-{rows.max()}), 2 chains x ({draws} + {draws})"
)
config = BatchConfig(warmup=draws, samples=draws)
arms = {
    "one chunk": dict(config=config._replace(chunk=len(n)), rows=round_up(int(rows.max()))),
    "sorted chunks, 4 per device": dict(config=config._replace(chunk=4 * jax.device_count())),
    "sorted chunks, default": dict(config=config),
}
print("\n| arm | first call s (compiles) | second call s | fits/s (second) | mean pass@10000 |")
print("|---|---|---|---|---|")
seconds = {}
for name, options in arms.items():
    times = []
    for _ in range(2):
        start = time.perf_counter()
        summary = fit_batch(0, n, c, ks, prior="scaled-beta", **options)
        times.append(time.perf_counter() - start)
    seconds[name] = times
    print(
        f"| {name} | {times[0]:.1f} | {times[1]:.1f} | {len(n) / times[1]:.2f} | "
        f"{summary.mean[:, 1].mean():.4f} |"
    )
print()
for name in list(arms)[1:]:
    first = seconds["one chunk"][0] / seconds[name][0]
    second = seconds["one chunk"][1] / seconds[name][1]
    print(f"speed-up of {name}: {first:.2f}x first call, {second:.2f}x second call")
