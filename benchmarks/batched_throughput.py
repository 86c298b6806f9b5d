"""Batched engine: fits per second of vmapped fits against a loop of single jitted fits.

    python benchmarks/batched_throughput.py                 # 32 replicates, 2 chains x (300 + 300)
    python benchmarks/batched_throughput.py --small         # 8 replicates
    python benchmarks/batched_throughput.py --chunk 2 8     # two batch arms, chunks of 2 and 8
    python benchmarks/batched_throughput.py --replicates 1000 --chunk 1000 --no-loop   # GPU size
    python benchmarks/batched_throughput.py --prior scaled-beta   # the figures before 2026-12-03
    JAX_PLATFORMS=cpu python benchmarks/batched_throughput.py --replicates 8 --no-batch
        # the loops alone, on the host's CPU of a GPU machine
    python benchmarks/batched_throughput.py --interleave 2   # batch and bp.fit loop, alternating
        # (chunks of 2: the package's default on 2 CPU cores, as the README's figure; the batch
        # arm of the other commands takes every replicate in one chunk unless --chunk says)

The replicates: Pythia 12B on MATH subsampled to 100 attempts per problem, one seed each. The
batch and loop arms run the same fits (`fit_one`'s chains in segments, same padding, same
settings) through `fit_batch`: the batch arm with ``chunk`` datasets per chunk (vmapped, the
batch split over ``jax.devices()``), the loop arm with one dataset per chunk, from Python
(with several devices the chunk is padded to the device count with copies of that dataset,
which are dropped). A third arm is what a user writes without the engine: a loop of
`bayes_passk.fit` (compiled programs, reused by every fit of the same padded size; its chains
split over the devices) and `forecast`, same chains, draws and target acceptance. The fourth
is the loop at its best on this engine: each replicate's chains as separate one-chain lanes,
one per device (a chunk of ``chains`` copies of the replicate with ``chains = 1``), so no
device idles or fits a dropped copy (pooling the lanes' draws would give the fit). Each arm is
compiled first on the same data, then timed; compile times are printed apart. Peak resident
memory of the process is printed at the end (``ru_maxrss``).

The arms run one after another, so a machine whose speed drifts during the run (a shared one)
tilts their ratios. ``--interleave CHUNK`` times only the batch (chunks of CHUNK) and the
`bp.fit` loop, alternating group by group over the same replicates (each group of CHUNK
replicates through both, the first of the two alternating too), so that drift falls on both.
"""

import argparse
import platform
import resource
import time

import jax
import numpy as np

import bayes_passk as bp
from bayes_passk.batched import (
    BatchConfig,
    batch_target_accept,
    chunk_size,
    fit_batch,
    rows_and_weights,
)
from bayes_passk.cli import positive_int
from bayes_passk.designs import subsample
from bayes_passk.families import get_family
from bayes_passk.hierarchy import round_up
from bayes_passk.models import DEFAULT_PRIOR

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--replicates", type=int, default=32)
parser.add_argument(
    "--chunk", type=int, nargs="+", default=None, help="batch chunks to time (default: replicates)"
)
parser.add_argument("--warmup", type=int, default=300)
parser.add_argument("--samples", type=int, default=300)
parser.add_argument("--no-loop", action="store_true", help="skip the loop arms")
parser.add_argument("--no-batch", action="store_true", help="skip the batch arms")
parser.add_argument(
    "--interleave",
    type=positive_int,
    metavar="CHUNK",
    help="batch and bp.fit loop alone, alternating (CHUNK divides the replicates)",
)
parser.add_argument("--prior", default=DEFAULT_PRIOR, help="prior family (the package's default)")
args = parser.parse_args()
if args.no_batch and (args.no_loop or args.chunk):
    parser.error("--no-batch runs the loops alone: leave out --no-loop and --chunk")
if args.interleave and (args.no_batch or args.no_loop or args.chunk):
    parser.error("--interleave times its two arms alone: leave out the other arm options")
replicates = 8 if args.small else args.replicates
if args.interleave and (replicates % args.interleave or args.interleave % jax.device_count()):
    parser.error("--interleave CHUNK must divide the replicates and be a multiple of the devices")

full = bp.datasets.load("pythia-math", group="Pythia 12B")
cell = subsample(0, full, budget=100, replicates=replicates, ks=[1000, 10000])
config = BatchConfig(chains=2, warmup=args.warmup, samples=args.samples)
PRIOR = args.prior  # the figures in benchmarks/RESULTS.md before 2026-12-03: the scaled Beta
ks = cell.ks

print(
    f"# {platform.node()} {platform.machine()}, {jax.devices()[0].platform} x "
    f"{jax.device_count()}, {time.strftime('%Y-%m-%d')}, {replicates} replicates, "
    f"2 chains x ({args.warmup} + {args.samples}), prior {PRIOR}"
)


# Every arm pads to the same number of distinct (n, c) rows: one compiled shape per arm.
distinct = (rows_and_weights(cell.n, cell.c)[2] > 0).sum(axis=1)  # (n, c) rows per replicate
rows = round_up(int(distinct.max()))


def timed(chunk: int, count: int):
    cfg = config._replace(chunk=chunk)
    first = min(chunk_size(count, chunk, jax.devices()), count)
    start = time.perf_counter()
    fit_batch(
        0, cell.n[:first], cell.c[:first], ks, prior=PRIOR, config=cfg, rows=rows
    )  # compile + 1 chunk
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    summary = fit_batch(1, cell.n[:count], cell.c[:count], ks, prior=PRIOR, config=cfg, rows=rows)
    return compile_seconds, time.perf_counter() - start, summary


arms = []
for chunk in [] if args.no_batch or args.interleave else args.chunk or [replicates]:
    compile_b, seconds_b, batch = timed(chunk, replicates)
    arms.append((f"vmapped batch, chunk {chunk}", compile_b, seconds_b, replicates))


def fit_forecast(i: int) -> float:
    """`bayes_passk.fit` and `forecast` on replicate i: its posterior mean of pass@10000."""
    data = bp.PassData.from_counts([str(j) for j in range(cell.n.shape[1])], cell.n[i], cell.c[i])
    fit = bp.fit(
        data,
        prior=PRIOR,
        chains=config.chains,
        warmup=config.warmup,
        samples=config.samples,
        target_accept=batch_target_accept(get_family(PRIOR), config),
        seed=i,
        progress=False,
        check=False,
    )
    return float(fit.forecast(ks).mean[-1])


def interleaved(chunk: int) -> None:
    """Time the batch and the `bp.fit` loop group by group, alternating; print the ratio."""
    cfg = config._replace(chunk=chunk)
    start = time.perf_counter()
    fit_batch(0, cell.n[:chunk], cell.c[:chunk], ks, prior=PRIOR, config=cfg, rows=rows)
    compile_b = time.perf_counter() - start
    # `bp.fit` pads each replicate's rows on its own (a multiple of 8): compile every size first.
    sizes = [round_up(int(d)) for d in distinct]
    start = time.perf_counter()
    for size in sorted(set(sizes)):
        fit_forecast(sizes.index(size))
    compile_f = time.perf_counter() - start
    seconds = {"batch": 0.0, "loop": 0.0}
    worst = {"r_hat": 0.0, "divergent": 0}
    means = {"batch": [], "loop": []}
    for number, first in enumerate(range(0, replicates, chunk)):
        group = range(first, min(first + chunk, replicates))
        for arm in ("batch", "loop") if number % 2 == 0 else ("loop", "batch"):
            start = time.perf_counter()
            if arm == "batch":
                n, c = cell.n[list(group)], cell.c[list(group)]
                summary = fit_batch(1 + first, n, c, ks, prior=PRIOR, config=cfg, rows=rows)
                means[arm] += list(summary.mean[:, 1])
                worst["r_hat"] = max(worst["r_hat"], float(np.max(summary.r_hat_max)))
                worst["divergent"] += int((summary.divergences > 0).sum())
            else:
                means[arm] += [fit_forecast(i) for i in group]
            seconds[arm] += time.perf_counter() - start
    print("\n| arm | compile (first chunk; every padded size) s | timed s | fits | fits/s |")
    print("|---|---|---|---|---|")
    for name, compile_s, arm in (
        (f"vmapped batch, chunk {chunk} (interleaved)", compile_b, "batch"),
        ("loop of bp.fit + forecast (interleaved)", compile_f, "loop"),
    ):
        rate = replicates / seconds[arm]
        print(f"| {name} | {compile_s:.1f} | {seconds[arm]:.1f} | {replicates} | {rate:.2f} |")
    print(f"\nthroughput ratio, batch / bp.fit loop: {seconds['loop'] / seconds['batch']:.2f}")
    print(
        f"mean pass@10000, batch {np.mean(means['batch']):.4f}, "
        f"bp.fit loop {np.mean(means['loop']):.4f}; max r_hat over the batch {worst['r_hat']:.3f}, "
        f"divergent fits {worst['divergent']}"
    )


if args.interleave:
    interleaved(args.interleave)
    args.no_loop = args.no_batch = True  # nothing else to time or print


def single(i: int, seed: int):
    """The engine on replicate i alone (a chunk of one, padded to the devices with copies)."""
    return fit_batch(
        seed, cell.n[i : i + 1], cell.c[i : i + 1], ks, prior=PRIOR, config=config, rows=rows
    )


if not args.no_loop:
    start = time.perf_counter()
    single(0, 0)
    compile_l = time.perf_counter() - start
    start = time.perf_counter()
    loop_means = [single(i, 1).mean[0, 1] for i in range(replicates)]
    seconds_l = time.perf_counter() - start
    arms.append(("loop of single fits (engine, one per call)", compile_l, seconds_l, replicates))
    start = time.perf_counter()
    fit_forecast(0)
    compile_f = time.perf_counter() - start
    start = time.perf_counter()
    fit_means = [fit_forecast(i) for i in range(replicates)]
    seconds_f = time.perf_counter() - start
    arms.append(("loop of bp.fit + forecast", compile_f, seconds_f, replicates))
    one_chain = config._replace(chains=1, chunk=config.chains)
    lanes = [i for i in range(replicates) for _ in range(config.chains)]

    def chains_as_lanes(i: int, seed: int):
        pick = lanes[i * config.chains : (i + 1) * config.chains]
        return fit_batch(
            seed, cell.n[pick], cell.c[pick], ks, prior=PRIOR, config=one_chain, rows=rows
        )

    start = time.perf_counter()
    chains_as_lanes(0, 0)
    compile_c = time.perf_counter() - start
    start = time.perf_counter()
    lane_means = [chains_as_lanes(i, 1).mean[:, 1].mean() for i in range(replicates)]
    seconds_c = time.perf_counter() - start
    arms.append(("loop, one chain per device", compile_c, seconds_c, replicates))

if arms:
    print("\n| arm | compile + first chunk s | timed s | fits | fits/s |")
    print("|---|---|---|---|---|")
for name, compile_s, seconds, fits in arms:
    print(f"| {name} | {compile_s:.1f} | {seconds:.1f} | {fits} | {fits / seconds:.2f} |")
if not args.no_loop and not args.no_batch:
    print()
    for name, _, seconds, _ in arms[:-3]:
        print(f"throughput ratio, {name} / engine loop: {seconds_l / seconds:.2f}")
        print(f"throughput ratio, {name} / bp.fit loop: {seconds_f / seconds:.2f}")
        print(f"throughput ratio, {name} / one-chain-per-device loop: {seconds_c / seconds:.2f}")
if not args.no_loop:
    means = [] if args.no_batch else [f"batch {batch.mean[:, 1].mean():.4f}"]
    means += [f"engine loop {np.mean(loop_means):.4f}", f"bp.fit loop {np.mean(fit_means):.4f}"]
    means += [f"one-chain-per-device loop {np.mean(lane_means):.4f}"]
    print(("\n" if args.no_batch else "") + "mean pass@10000, " + ", ".join(means))
if not args.no_batch:
    print(
        f"max r_hat over the batch: {np.max(batch.r_hat_max):.3f}, "
        f"divergent fits: {int((batch.divergences > 0).sum())}"
    )
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"peak resident memory: {peak:.0f} MiB")
