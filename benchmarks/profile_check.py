"""The point methods' profile-likelihood check: which embedded fits it flags, and its cost.

    python benchmarks/profile_check.py          # every embedded group: ~8 min on 2 cores
    python benchmarks/profile_check.py --small  # Pythia MATH only: ~1 min

A likelihood method's shape whose 95% likelihood interval reaches a bound of its search range
(or, for the discretized methods, that rates in fewer than three bins cannot pin) gets a
`FitAtBoundWarning`. Prints, per method, the fits flagged over every group at all attempts,
100 and 20 attempts a problem (seed 0), and the worst ratio of a checked fit's time to an
unchecked one's (``profile=False``, as backtests fit) on Pythia 70M, 1B and 12B.
"""

import argparse
import platform
import time
import warnings

import bayes_passk as bp
from bayes_passk.baselines import METHODS, FitAtBoundWarning, fit_baseline
from bayes_passk.data import InputError

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", help="Pythia MATH only")
args = parser.parse_args()

methods = [method for method in METHODS if method != "regression"]
names = ["pythia-math"] if args.small else [info.name for info in bp.datasets.list_datasets()]
flagged = {method: [] for method in methods}
for name in names:
    for group in bp.datasets.load(name).groups:
        for attempts in (None, 100, 20):
            try:
                data = bp.datasets.load(name, group=group, attempts_per_problem=attempts, seed=0)
            except InputError:  # fewer attempts than asked for
                continue
            for method in methods:
                with warnings.catch_warnings(record=True) as said:
                    warnings.simplefilter("always")
                    try:
                        fitted = fit_baseline(data, method)
                    except InputError:  # no success at all: nothing to fit
                        continue
                if any(issubclass(w.category, FitAtBoundWarning) for w in said):
                    label = f"{name} / {group} / {attempts or 'all'}"
                    flagged[method].append(f"{label}: {fitted.pass_at_k([10_000])[0]:.3f}")

worst = dict.fromkeys(methods, 0.0)
for group in ("Pythia 70M", "Pythia 1B", "Pythia 12B"):
    for attempts in (20, 100, None):
        data = bp.datasets.load("pythia-math", group=group, attempts_per_problem=attempts, seed=0)
        for method in methods:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_baseline(data, method, profile=False)  # compiles
                start = time.perf_counter()
                fit_baseline(data, method, profile=False)
                plain = time.perf_counter() - start
                start = time.perf_counter()
                fit_baseline(data, method)
                checked = time.perf_counter() - start
            worst[method] = max(worst[method], checked / plain)

print(f"{platform.node()} ({platform.machine()}), {' '.join(names)}\n")
print("| method | fits flagged | worst checked / unchecked time |")
print("|---|---|---|")
for method in methods:
    print(f"| {method} | {len(flagged[method])} | {worst[method]:.1f}x |")
for method in methods:
    print(f"\n{method} (pass@10000 of each flagged fit):")
    for line in flagged[method]:
        print(f"- {line}")
