"""Compile time of the batched engine's programs, apart from the time it runs.

    python benchmarks/batched_compile.py                        # a chunk of 32, 2 x (300 + 300)
    python benchmarks/batched_compile.py --small                # a chunk of 4, 2 x (30 + 30)
    python benchmarks/batched_compile.py --chunk 1000 --runs 2  # the GPU size
    python benchmarks/batched_compile.py --chunk 1000 --xla-flags=--xla_gpu_autotune_level=0

The data: Pythia 12B on MATH subsampled to 100 attempts per problem, one seed per dataset, as
in batched_throughput.py. The programs are those `fit_batch` calls for one chunk (the chains'
start, one segment of iterations, the summaries; ``--segments`` sets their count), compiled
ahead of time (``lower``, then ``compile``), so tracing, compiling and each run are timed
apart; the compile caches are off, so the compile is always a real one. The chunk is laid out
as `fit_batch` lays it out (`bayes_passk.batched.chunk_inputs`: same order, same keys), so a
run is `fit_batch`'s first call less its trace, compile and copy back to the host. Prints the
programs' sizes (StableHLO text, optimized HLO text, their while loops and fusions). The chunk is
rounded up to a multiple of the device count, as `fit_batch` rounds it. ``--xla-flags`` adds
compiler flags to ``XLA_FLAGS`` (before JAX starts), to see which compiler pass costs the time.
"""

import argparse
import os
import sys

os.environ["BAYES_PASSK_CACHE_DIR"] = ""  # before the package sets JAX up
for argument in sys.argv:  # before JAX reads XLA_FLAGS
    if argument.startswith("--xla-flags="):
        extra = argument.split("=", 1)[1]
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {extra}".strip()

import platform  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec  # noqa: E402

import bayes_passk as bp  # noqa: E402
from bayes_passk.batched import (  # noqa: E402
    BatchConfig,
    _compiled,
    chunk_inputs,
    chunk_size,
    rows_and_weights,
)
from bayes_passk.cli import positive_int  # noqa: E402
from bayes_passk.designs import subsample  # noqa: E402
from bayes_passk.families import get_family  # noqa: E402
from bayes_passk.hierarchy import round_up  # noqa: E402
from bayes_passk.models import DEFAULT_PRIOR  # noqa: E402
from bayes_passk.nuts import Segmented, run_in_segments  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
parser.add_argument("--small", action="store_true", help="defaults 4, 30 and 30 below")
parser.add_argument("--chunk", type=positive_int, help="datasets in the chunk (32)")
parser.add_argument("--warmup", type=positive_int, help="warm-up draws per chain (300)")
parser.add_argument("--samples", type=positive_int, help="kept draws per chain (300)")
parser.add_argument("--runs", type=int, default=1, help="timed runs of the compiled programs (1)")
parser.add_argument(
    "--segments",
    type=positive_int,
    default=BatchConfig().segments,
    help="calls that run the chains' iterations (the package's default)",
)
parser.add_argument("--prior", default=DEFAULT_PRIOR, help="prior family (the package's default)")
parser.add_argument("--xla-flags", default="", help="added to XLA_FLAGS, as --xla-flags=...")
args = parser.parse_args()
defaults = (4, 30, 30) if args.small else (32, 300, 300)
for name, default in zip(("chunk", "warmup", "samples"), defaults, strict=True):
    if getattr(args, name) is None:
        setattr(args, name, default)
jax.config.update("jax_enable_compilation_cache", False)

start = time.perf_counter()
devices = jax.devices()
chunk = chunk_size(args.chunk, args.chunk, devices)
full = bp.datasets.load("pythia-math", group="Pythia 12B")
cell = subsample(0, full, budget=100, replicates=chunk, ks=[1000, 10000])
config = BatchConfig(
    chains=2, warmup=args.warmup, samples=args.samples, chunk=chunk, segments=args.segments
)
print(
    f"# {platform.node()} {platform.machine()}, {devices[0].platform} x {len(devices)} "
    f"({devices[0].device_kind}), jax {jax.__version__}, {time.strftime('%Y-%m-%d')}, chunk "
    f"{chunk}, 2 chains x ({args.warmup} + {args.samples}) in {args.segments} segments, "
    f"prior {args.prior}, XLA_FLAGS {os.environ.get('XLA_FLAGS', '')!r}",
    flush=True,
)

mesh = Mesh(np.array(devices), ("batch",))
shard = NamedSharding(mesh, PartitionSpec("batch"))
ks = tuple(float(k) for k in np.ravel(cell.ks))
program = _compiled(get_family(args.prior), ks, config, chunk, mesh)
# As `fit_batch` lays out its one chunk: datasets sorted by their distinct rows (which lanes
# share a device changes how long they wait for each other).
distinct = (rows_and_weights(cell.n, cell.c)[2] > 0).sum(axis=1)
order = np.argsort(distinct, kind="stable")
rows = round_up(int(distinct.max()))
inputs = chunk_inputs(jax.random.key(0), cell.n, cell.c, order, rows, shard)
print(f"data and inputs: {time.perf_counter() - start:.1f} s", flush=True)


def sharded_shapes(tree):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=shard), tree)


# Each program is lowered for its arguments' shapes (and shardings), so all three compile
# before any runs.
start = time.perf_counter()
states = sharded_shapes(jax.eval_shape(program.start, *inputs))
piece = sharded_shapes(jax.eval_shape(program.advance, states, *inputs[1:])[1])
lowered = Segmented(
    program.start.lower(*inputs),
    program.advance.lower(states, *inputs[1:]),
    program.finish.lower(inputs[0], (piece,) * program.count, *inputs[1:]),
    program.count,
)
print(f"trace and lower: {time.perf_counter() - start:.1f} s", flush=True)
parts, compile_seconds = {}, 0.0
for name in ("start", "advance", "finish"):  # each timed: which one a slow compiler spends on
    start = time.perf_counter()
    parts[name] = getattr(lowered, name).compile()
    compile_seconds += time.perf_counter() - start
    print(f"compile {name}: {time.perf_counter() - start:.1f} s", flush=True)
compiled = Segmented(**parts, count=program.count)
print(f"compile: {compile_seconds:.1f} s", flush=True)
for name in ("start", "advance", "finish"):
    low, hlo = getattr(lowered, name), getattr(compiled, name).as_text()
    print(
        f"{name}: StableHLO {len(low.as_text()) / 1e6:.2f} MB, optimized HLO "
        f"{len(hlo) / 1e6:.2f} MB, {hlo.count(' while(')} while loops, "
        f"{hlo.count('fusion(')} fusions",
        flush=True,
    )
print(f"segments: {program.count}", flush=True)
for run in range(args.runs):
    start = time.perf_counter()
    out = jax.block_until_ready(run_in_segments(compiled, *inputs))
    seconds = time.perf_counter() - start
    print(
        f"run {run + 1}: {seconds:.1f} s, {chunk / seconds:.2f} fits/s; mean pass@10000 "
        f"{np.mean(out.mean[:, 1]):.4f}, divergent fits {int(np.sum(out.divergences > 0))}, "
        f"max r_hat {float(np.max(out.r_hat_max)):.3f}",
        flush=True,
    )
