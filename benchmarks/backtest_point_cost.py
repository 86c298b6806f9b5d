"""Seconds of a backtest's point fits of the three binomial MLEs, and what they forecast.

    python benchmarks/backtest_point_cost.py [--replicates 10]        # this checkout
    python benchmarks/backtest_point_cost.py --small                  # 3 replicates
    cd OTHER && PYTHONPATH=. python /path/to/backtest_point_cost.py   # another, to compare

Pythia 1B, the subsample design at 100 attempts a problem (seed 0), k = 1,000 and 10,000:
`backtest.run` of each method, timed after one warm-up replicate. Prints one JSON object: the
seconds per method and the mean of its estimates (equal digits: the same fits).
"""

import argparse
import json
import time
import warnings

from bayes_passk import backtest, datasets, designs

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--replicates", type=int, default=10, help="replicates (default 10)")
parser.add_argument("--small", action="store_true", help="3 replicates")
args = parser.parse_args()
if args.small:
    args.replicates = 3

full = datasets.load("pythia-math", group="Pythia 1B")
cell = designs.subsample(0, full, 100, args.replicates, [1000, 10_000])
warm = designs.subsample(1, full, 100, 1, [1000, 10_000])
report = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # fits at a bound, uninformative data: scored all the same
    for method in ["beta-binomial", "scaled-beta-binomial", "kumaraswamy-binomial"]:
        backtest.run([warm], [method])
        start = time.perf_counter()
        table = backtest.run([cell], [method])
        seconds = time.perf_counter() - start
        report[method] = {
            "seconds": round(seconds, 2),
            "mean_estimate": round(float(table["estimate"].mean()), 10),
        }
print(json.dumps(report, indent=1))
