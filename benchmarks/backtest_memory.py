"""Peak memory of a 1,000-fit backtest through the command line's own code path.

    python benchmarks/backtest_memory.py                   # 1,000 replicates, 2 x (50 + 50) draws
    python benchmarks/backtest_memory.py --small           # 64 replicates
    python benchmarks/backtest_memory.py --warmup 500 --samples 500   # the default chains
    python benchmarks/backtest_memory.py --replicates 8 --warmup 500 --samples 500  # 1 minute
    python benchmarks/backtest_memory.py --prior scaled-beta   # the figures before 2026-12-04
    python benchmarks/backtest_memory.py --chunk 1000          # one chunk (a GPU)

Runs ``bayes-passk backtest`` in this process (Pythia 12B, subsample design, 100 attempts per
problem, the default prior unless ``--prior``) and prints the wall time and the peak resident memory
of the process (``ru_maxrss``: host memory only), the share of the wall time spent on the fits'
unsolved parts (`bayes_passk.forecast.unsolved_parts`, on the host after the batch), and on an
accelerator also the device's peak
bytes in use (``memory_stats()["peak_bytes_in_use"]``; JAX reports none on CPU). The batch
runs chunk by chunk and keeps only per-fit summaries, so memory depends on the chunk, not on
the number of fits; short chains keep the 1,000 fits affordable on a small CPU (draws add only
chains x samples x 3 numbers per fit).
"""

import argparse
import platform
import resource
import tempfile
import time

import jax

from bayes_passk import backtest
from bayes_passk.batched import chunk_size
from bayes_passk.cli import main
from bayes_passk.models import DEFAULT_PRIOR

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true")
parser.add_argument("--replicates", type=int, default=1000)
parser.add_argument("--warmup", type=int, default=50)
parser.add_argument("--samples", type=int, default=50)
parser.add_argument("--prior", default=DEFAULT_PRIOR, help="prior family (the package's default)")
parser.add_argument("--chunk", type=int, help="datasets per chunk (the package's default)")
args = parser.parse_args()
replicates = 64 if args.small else args.replicates

print(
    f"# {platform.node()} {platform.machine()}, {jax.devices()[0].platform} x "
    f"{jax.device_count()}, {time.strftime('%Y-%m-%d')}, {replicates} replicates, "
    f"2 chains x ({args.warmup} + {args.samples}), prior {args.prior}, "
    f"chunk {chunk_size(replicates, args.chunk, jax.devices())}"
)
spent = []


def timed_unsolved_parts(*args, **kwargs):
    start = time.perf_counter()
    try:
        return unsolved_parts(*args, **kwargs)
    finally:
        spent.append(time.perf_counter() - start)


unsolved_parts, backtest.unsolved_parts = backtest.unsolved_parts, timed_unsolved_parts
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with tempfile.TemporaryDirectory() as out:
    start = time.perf_counter()
    code = main(
        [
            "backtest",
            "--dataset",
            "pythia-math",
            "--groups",
            "Pythia 12B",
            "--budgets",
            "100",
            "--replicates",
            str(replicates),
            "--k",
            "1000",
            "10000",
            "--methods",
            f"bayes-{args.prior}",
            "--warmup",
            str(args.warmup),
            "--samples",
            str(args.samples),
            "--out",
            out,
        ]
        + ([] if args.chunk is None else ["--chunk", str(args.chunk)])
    )
    seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(
    f"\nexit code {code}, {replicates} fits in {seconds:.0f} s ({replicates / seconds:.2f} fits/s)"
)
print(f"peak resident memory: {peak:.0f} MiB (after imports and data: {before:.0f} MiB)")
print(f"unsolved parts: {sum(spent):.1f} s, {sum(spent) / seconds:.2%} of the wall time")
stats = jax.devices()[0].memory_stats()  # None on CPU
if isinstance(stats, dict) and "peak_bytes_in_use" in stats:
    device = jax.devices()[0]
    print(
        f"peak {device.platform} memory in use: {stats['peak_bytes_in_use'] / 2**20:.0f} MiB "
        f"({device.device_kind}, device 0)"
    )
