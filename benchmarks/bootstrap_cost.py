"""Seconds of a point method's bootstrap, and its interval ends, for the three binomial MLEs.

    python benchmarks/bootstrap_cost.py                     # this checkout
    python benchmarks/bootstrap_cost.py --small             # 5 resamples, not 20
    cd OTHER && PYTHONPATH=. python /path/to/bootstrap_cost.py  # another, to compare

Pythia 1B at 100 attempts a problem (seed 0): each method is fitted, a 2-resample bootstrap
compiles what it needs, then ``forecast([10, 1000], bootstrap=20, seed=0)`` is timed (5
resamples with ``--small``). Prints one JSON object: seconds and the lower interval ends per
method.
"""

import argparse
import json
import time

import bayes_passk as bp
from bayes_passk.baselines import fit_baseline

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="5 resamples instead of 20")
resamples = 5 if parser.parse_args().small else 20

data = bp.datasets.load("pythia-math", group="Pythia 1B", attempts_per_problem=100, seed=0)
report = {}
for method in ["kumaraswamy-binomial", "scaled-beta-binomial", "beta-binomial"]:
    fitted = fit_baseline(data, method)
    fitted.forecast([10], bootstrap=2, seed=0)
    start = time.perf_counter()
    forecast = fitted.forecast([10, 1000], bootstrap=resamples, seed=0)
    seconds = time.perf_counter() - start
    report[method] = {"seconds": round(seconds, 2), "lower": forecast.lower.round(6).tolist()}
print(json.dumps(report, indent=1))
