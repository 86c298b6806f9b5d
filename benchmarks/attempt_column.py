"""What checking a per-attempt table's attempt column costs a load.

    python benchmarks/attempt_column.py            # 1,000,000 rows
    python benchmarks/attempt_column.py --small    # 100,000 rows

A CSV of one row per attempt (``model, problem_id, attempt, success``: 4 models x 250 problems
x 1,000 attempts at full size) is loaded by `bayes_passk.data.load` as it is, and with its
``attempt`` column renamed to one the loader does not read (``idx``), so that the only
difference is the check that no (group, problem, attempt) repeats. Alternating, 3 loads each;
the medians and their ratio.
"""

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_passk.data import load

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="100,000 rows, not 1,000,000")
args = parser.parse_args()
attempts = 100 if args.small else 1000
print(f"{platform.node()}, {platform.processor() or platform.machine()}, pandas {pd.__version__}")

rng = np.random.default_rng(0)
models, problems = 4, 250
index = pd.MultiIndex.from_product(
    [[f"m{j}" for j in range(models)], [f"p{j}" for j in range(problems)], range(attempts)],
    names=["model", "problem_id", "attempt"],
)
frame = index.to_frame(index=False)
frame["success"] = rng.random(len(frame)) < 0.3
folder = Path(tempfile.mkdtemp())
checked, unchecked = folder / "checked.csv", folder / "unchecked.csv"
frame.to_csv(checked, index=False)
frame.rename(columns={"attempt": "idx"}).to_csv(unchecked, index=False)

times = {checked: [], unchecked: []}
for _ in range(3):
    for path in (checked, unchecked):
        start = time.perf_counter()
        data = load(path)
        times[path].append(time.perf_counter() - start)
assert data.n.sum() == len(frame)
with_check, without = statistics.median(times[checked]), statistics.median(times[unchecked])
print(
    f"{len(frame):,} rows: load with the attempt column {with_check:.2f} s, without "
    f"{without:.2f} s, ratio {with_check / without:.2f}"
)
