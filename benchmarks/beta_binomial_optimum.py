"""The beta-binomial baseline's fit on the full Pythia MATH data: time, optimum and pass@10^4.

    python benchmarks/beta_binomial_optimum.py                  # this checkout
    python benchmarks/beta_binomial_optimum.py --small          # Pythia 1B, one timed fit
    cd OTHER && PYTHONPATH=. python /path/to/beta_binomial_optimum.py  # another, to compare

Prints one JSON object: for Pythia 70M, 1B and 12B (10,000 attempts a problem), the mean
seconds of a fit (5 fits after one warm-up), the fitted a and b, the negative log-likelihood
there and the forecast pass@10000.
"""

import argparse
import json
import time

import numpy as np
from scipy import special

import bayes_passk as bp
from bayes_passk.baselines import fit_baseline

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="Pythia 1B alone, one timed fit")
small = parser.parse_args().small
REPEATS = 1 if small else 5
report = {}
for group in ["Pythia 1B"] if small else ["Pythia 70M", "Pythia 1B", "Pythia 12B"]:
    data = bp.datasets.load("pythia-math", group=group)
    fitted = fit_baseline(data, "beta-binomial")  # a warm-up
    start = time.perf_counter()
    for _ in range(REPEATS):
        fitted = fit_baseline(data, "beta-binomial")
    seconds = (time.perf_counter() - start) / REPEATS
    n, c = data.n.astype(float), data.c.astype(float)
    a, b = fitted.params["a"], fitted.params["b"]
    report[group] = {
        "seconds": seconds,
        "a": a,
        "b": b,
        "negative_log_likelihood": -np.sum(special.betaln(c + a, n - c + b) - special.betaln(a, b)),
        "pass_at_10000": float(fitted.forecast([10_000]).mean[0]),
    }
print(json.dumps(report, indent=1))
