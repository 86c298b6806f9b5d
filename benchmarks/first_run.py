"""Seconds to a first forecast with an empty compilation cache, where compiling is most of it.

    python benchmarks/first_run.py                       # this checkout
    python benchmarks/first_run.py --against OTHER_TREE  # and another checkout, alternating
    python benchmarks/first_run.py --small               # one repeat, no batched fit

Each repeat runs in a fresh interpreter with an empty ``BAYES_PASSK_CACHE_DIR``, in the
checkout (its working directory and ``PYTHONPATH``), so two checkouts share one install of the
dependencies; their runs alternate to share the machine's noise. Measured, on Pythia 12B
subsampled to 100 attempts per problem: `bayes_passk.fit` (2 chains x (300 + 300)), its first
`forecast` at 8 k values, the same forecast again (the time left once compiled), and a batched
fit of 2 such subsamples on one device (`bayes_passk.batched.fit_batch`, 2 x (200 + 200)). The
seconds XLA spent compiling come from JAX's monitoring events.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUN = """
import json, sys, time
import jax, numpy as np
compiling = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, seconds, **_: compiling.append(seconds)
    if event == "/jax/core/compile/backend_compile_duration" else None)
import bayes_passk as bp
from bayes_passk.batched import BatchConfig, fit_batch

ks = [1, 10, 100, 1000, 10**4, 10**5, 10**6, 10**7]
data = bp.datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)
times = {}
start = time.perf_counter()
fit = bp.fit(
    data, prior="scaled-beta", chains=2, warmup=300, samples=300, progress=False, check=False
)
times["fit"] = time.perf_counter() - start
for name in ("forecast", "forecast again"):
    start = time.perf_counter()
    fit.forecast(ks)
    times[name] = time.perf_counter() - start
times["compiling (fit and forecasts)"] = sum(compiling)
if sys.argv[1] == "batched":
    other = bp.datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=1)
    n, c = np.stack([data.n, other.n]), np.stack([data.c, other.c])
    start = time.perf_counter()
    fit_batch(0, n, c, ks, prior="scaled-beta", config=BatchConfig(warmup=200, samples=200))
    times["batched fit of 2"] = time.perf_counter() - start
print(json.dumps(times))
"""

parser = argparse.ArgumentParser()
parser.add_argument("--against", type=Path, help="another checkout to time side by side")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--small", action="store_true", help="one repeat, no batched fit")
args = parser.parse_args()
repeats = 1 if args.small else args.repeats
trees = {"this": Path(__file__).resolve().parents[1]}
if args.against:
    trees["against"] = args.against.resolve()


def seconds(tree: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="first_run_cache_") as cache:
        env = {**os.environ, "PYTHONPATH": str(tree), "BAYES_PASSK_CACHE_DIR": cache}
        mode = "single" if args.small else "batched"
        run = [sys.executable, "-c", RUN, mode]
        done = subprocess.run(run, env=env, cwd=tree, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.splitlines()[-1])


print(f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
runs = {label: [] for label in trees}
for _ in range(repeats):
    for label, tree in trees.items():
        runs[label].append(seconds(tree))
for measure in runs["this"][0]:
    medians = {label: statistics.median(r[measure] for r in runs[label]) for label in trees}
    line = ", ".join(f"{label} {value:.1f} s" for label, value in medians.items())
    if args.against:
        line += f", ratio against/this {medians['against'] / medians['this']:.2f}"
    print(f"{measure}: median of {repeats}: {line}")
