"""Seconds and peak memory of loading a large per-attempt table (one row per attempt).

    python benchmarks/attempts_load.py                       # 9,000,000 rows, this checkout
    python benchmarks/attempts_load.py --small               # 1,000,000 rows
    python benchmarks/attempts_load.py --against OTHER_TREE  # and another checkout, alternating
    python benchmarks/attempts_load.py --format jsonl        # JSON lines (or parquet), not CSV
    python benchmarks/attempts_load.py --small --completion  # and a unique text a row

The file: ``model, problem_id, attempt, success`` for 4 models x 250 problems x 9,000 attempts
(1,000 with ``--small``), success at random with probability 0.3, seed 0; at full size 163 MB
as CSV, 586 MB as JSON lines (``{"model":"m0","problem_id":"p0","attempt":0,"success":false}``),
17 MB as Parquet (pandas' default, text as strings). With ``--completion``, a fifth column holds
a different text of about 200 characters in every row, as a log of completions would.
Each load runs `bayes_passk.data.load` in a fresh interpreter in the checkout (its ``PYTHONPATH``),
so its peak resident memory (``ru_maxrss``) is its own; the interpreter's memory after its
imports is printed beside it. Runs of two checkouts alternate to share the machine's noise;
the medians of the repeats are printed, and their ratios.
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

import pandas as pd

CHILD = """
import json, resource, sys, time
from bayes_passk.data import load
imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
data = load(sys.argv[1])
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": peak / 1024, "imports_mb": imports / 1024,
                  "attempts": int(data.n.sum()), "successes": int(data.c.sum())}))
"""

WRITE = """
import sys
from pathlib import Path
import numpy as np, pandas as pd
path, attempts, completion = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
index = pd.MultiIndex.from_product(
    [[f"m{j}" for j in range(4)], [f"p{j}" for j in range(250)], range(attempts)],
    names=["model", "problem_id", "attempt"],
)
frame = index.to_frame(index=False)
frame["success"] = np.random.default_rng(0).random(len(frame)) < 0.3
if completion:
    frame["completion"] = [f"completion {i:09d} " + "x" * 180 for i in range(len(frame))]
if path.suffix == ".csv":
    frame.to_csv(path, index=False)
elif path.suffix == ".jsonl":
    frame.to_json(path, orient="records", lines=True)
else:
    frame.to_parquet(path, index=False)
path.with_suffix(".txt").write_text(f"{len(frame)} {frame.success.sum()}")
"""

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="1,000,000 rows, not 9,000,000")
parser.add_argument("--against", type=Path, help="another checkout to load with, alternating")
parser.add_argument("--repeats", type=int, default=3)
parser.add_argument("--format", choices=["csv", "jsonl", "parquet"], default="csv")
parser.add_argument("--completion", action="store_true", help="a unique text column too")
args = parser.parse_args()
trees = {"this": Path(__file__).resolve().parents[1]}
if args.against:
    trees["against"] = args.against.resolve()
print(f"{platform.node()}, {platform.processor() or platform.machine()}, pandas {pd.__version__}")

# Written by a child, so that this process stays small: a child's peak resident memory starts
# from its parent's at the fork.
path = Path(tempfile.mkdtemp()) / f"attempts.{args.format}"
size = "1000" if args.small else "9000"
subprocess.run(
    [sys.executable, "-c", WRITE, str(path), size, str(int(args.completion))], check=True
)
rows, successes = map(int, path.with_suffix(".txt").read_text().split())
print(f"{rows:,} rows, {path.stat().st_size / 1e6:.1f} MB")

runs = {name: [] for name in trees}
for _ in range(args.repeats):
    for name, tree in trees.items():
        env = {**os.environ, "PYTHONPATH": str(tree)}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)],
            env=env,
            cwd=tree,
            check=True,
            capture_output=True,
            text=True,
        )
        run = json.loads(out.stdout)
        assert (run["attempts"], run["successes"]) == (rows, successes)
        runs[name].append(run)
        print(f"  {name}: {run['seconds']:.2f} s, peak {run['peak_mb']:.0f} MB", flush=True)
median = {
    name: {key: statistics.median(run[key] for run in done) for key in ("seconds", "peak_mb")}
    for name, done in runs.items()
}
for name, tree in trees.items():
    imports, seconds, peak = runs[name][0]["imports_mb"], *median[name].values()
    print(
        f"{name} ({tree}): median {seconds:.2f} s, peak {peak:.0f} MB ({imports:.0f} after imports)"
    )
if args.against:
    this, other = median["this"], median["against"]
    print(
        f"this / against: time {this['seconds'] / other['seconds']:.2f}, "
        f"peak memory {this['peak_mb'] / other['peak_mb']:.2f}"
    )
