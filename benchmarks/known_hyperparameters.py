"""Forecast quality at 100 attempts if the hyperparameters were known from many more attempts.

    python benchmarks/known_hyperparameters.py --table \
        benchmarks/runs/forecast_quality_beta_spline_ta099_2026-12-03.csv.gz
    python benchmarks/known_hyperparameters.py --in-sample --table ...   # the upper bound
    python benchmarks/known_hyperparameters.py --small --table ...   # two models, 3 replicates

The cells and replicates of `forecast_quality.py` (same seeds, checked by recomputing the
least-squares power law on them): 7 Pythia MATH models subsampled to 100 attempts per problem,
6 Best-of-N models resampled at 100. The problems of each model are split in two halves (seeded);
the default prior is fitted to every attempt of each half, and each replicate's forecast reads
each problem through its own 100 attempts with theta drawn from the posterior of the other
half: E[pass@k | the replicate's counts, theta], averaged over the draws of theta, then over the
two halves. No problem's own full attempts inform its forecast; theta does come from far more
attempts than a replicate has. `--in-sample` fits theta once to every problem instead (an
upper bound: the attempts the truth is made of inform it). The gap between these forecasts' MSE
and the fit to the replicate alone is what learning theta from 100 attempts costs. The kept
table gives the other methods' errors on the same replicates.
"""

import argparse
import time

import numpy as np
import pandas as pd
from _cells import check_same_replicates, print_against_regression, quality_cells

import bayes_passk as bp
from bayes_passk.forecast import posterior_pass_at_k
from bayes_passk.inference import Fit
from bayes_passk.models import DEFAULT_PRIOR

K = 10_000
FULL = {
    group: data.select(group)
    for data in (bp.datasets.load("pythia-math"), bp.datasets.load("bon-jailbreak"))
    for group in data.groups
}

parser = argparse.ArgumentParser()
parser.add_argument("--table", required=True, help="a kept forecast_quality.py table")
parser.add_argument("--small", action="store_true", help="two models, 3 replicates")
parser.add_argument("--prior", default=DEFAULT_PRIOR)
parser.add_argument("--seed", type=int, default=0, help="forecast_quality.py's --seed (0)")
parser.add_argument(
    "--in-sample",
    action="store_true",
    help="theta from every attempt of every problem (an upper bound: the scored problems' own "
    "attempts inform it); by default each half of the problems is read with theta fitted to "
    "the other half",
)
args = parser.parse_args()


class WithData(Fit):
    """A fit whose forecasts read other counts: the same hyperparameter draws, new data."""

    def __init__(self, fit: Fit, data: bp.PassData):
        super().__init__(fit.idata, fit.family)
        self._data = data

    @property
    def data(self) -> bp.PassData:
        return self._data


def fit_full(full: bp.PassData) -> Fit:
    """The default prior fitted to every attempt of `full` (4 x (1000 + 1000)), its checks shown."""
    fit = bp.fit(full, prior=args.prior, progress=False)
    d = fit.diagnostics()
    print(
        f"  fit to {full.n.size} problems: r_hat {d.r_hat_max:.3f}, bulk ESS {d.ess_bulk_min:.0f}, "
        f"{d.divergences} divergent",
        flush=True,
    )
    return fit


def subset(data: bp.PassData, index: np.ndarray) -> bp.PassData:
    return bp.PassData.from_counts(data.problem_id[index], data.n[index], data.c[index])


def halves(problems: int, seed: int) -> list[np.ndarray]:
    """A seeded split of the problem indices into two halves."""
    order = np.random.default_rng(seed).permutation(problems)
    return [np.sort(order[: problems // 2]), np.sort(order[problems // 2 :])]


kept_table = pd.read_csv(args.table)
table = kept_table[kept_table.k == K]
replicates = int(table.replicate.max()) + 1
chosen = [(cell, FULL[cell.group]) for cell in quality_cells(args.seed, 100, replicates, [1000, K])]
if args.small:
    chosen = [chosen[i] for i in (6, 3)]  # Pythia 12B and Pythia 1B
start = time.perf_counter()
rows = []
for cell, full in chosen:
    check_same_replicates([cell], kept_table)
    count = 3 if args.small else replicates
    if args.in_sample:  # theta from every attempt of every problem, the scored ones included
        parts = [(np.arange(full.n.size), fit_full(full))]
    else:  # each half's problems read with theta from the other half's attempts
        split = halves(full.n.size, seed=0)
        parts = [(mine, fit_full(subset(full, other))) for mine, other in (split, split[::-1])]
    for replicate in range(count):
        estimate = 0.0
        for mine, fit in parts:
            sub = bp.PassData.from_counts(
                full.problem_id[mine], cell.n[replicate, mine], cell.c[replicate, mine]
            )
            draws = posterior_pass_at_k(WithData(fit, sub), np.array([K]))
            estimate += float(draws.benchmark_given_hyper.mean()) * mine.size / full.n.size
        rows.append((cell.group, replicate, estimate, cell.truth[replicate, 1]))
    print(f"{cell.group}: done, {time.perf_counter() - start:.0f} s", flush=True)

known = pd.DataFrame(rows, columns=["group", "replicate", "estimate", "truth"])
known["method"] = "known-hyperparameters"
bayes = sorted(m for m in table.method.unique() if m.startswith("bayes-"))
print_against_regression(known, table, ["known-hyperparameters", *bayes, "regression"])
print(f"\n{time.perf_counter() - start:.0f} s")
