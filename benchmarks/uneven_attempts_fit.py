"""Fit time on data with a different number of attempts per problem (as many rows as problems).

    python benchmarks/uneven_attempts_fit.py                    # this checkout
    python benchmarks/uneven_attempts_fit.py --against /tmp/old # and another, side by side
    python benchmarks/uneven_attempts_fit.py --small            # 500 problems

2,000 problems (500 with --small), n uniform on 50-399 attempts, c ~ Binomial(n, p) with p ~
Beta(0.3, 3): about 1,600 distinct (n, c) rows, against at most 101 with 100 attempts each.
Each prior's `bp.fit` (2 chains x (150 + 150), seed 0) and forecast at k = 100 and 10,000 run
in a fresh interpreter with an empty compilation cache, so each time includes compiling.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

FIT = """
import json, sys, time
import numpy as np
import bayes_passk as bp
problems, prior = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(0)
n = rng.integers(50, 400, problems)
c = rng.binomial(n, rng.beta(0.3, 3, problems))
data = bp.PassData.from_counts([f"q{i}" for i in range(problems)], n=n, c=c)
start = time.perf_counter()
fit = bp.fit(data, prior=prior, chains=2, warmup=150, samples=150, seed=0, check=False)
forecast = fit.forecast([100, 10000])
seconds = time.perf_counter() - start
rows = len(np.unique(np.stack([n, c]), axis=1).T)
print(json.dumps({"seconds": seconds, "rows": rows, "mean": forecast.mean.tolist()}))
"""

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--against", metavar="TREE", help="another checkout to time beside this one")
parser.add_argument("--priors", nargs="+", default=["beta-spline", "scaled-beta"])
args = parser.parse_args()
problems = 500 if args.small else 2000
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
trees = [("this", here)] + ([("against", os.path.abspath(args.against))] if args.against else [])

print("| checkout | prior | problems | distinct rows | seconds | pass@100, pass@10000 |")
print("|---|---|---|---|---|---|")
for prior in args.priors:
    for label, tree in trees:
        env = {**os.environ, "PYTHONPATH": tree, "BAYES_PASSK_CACHE_DIR": tempfile.mkdtemp()}
        run = subprocess.run(
            [sys.executable, "-c", FIT, str(problems), prior],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(run.stdout.strip().splitlines()[-1])
        mean = ", ".join(f"{m:.4f}" for m in result["mean"])
        print(
            f"| {label} | {prior} | {problems} | {result['rows']} | {result['seconds']:.1f} | "
            f"{mean} |"
        )
