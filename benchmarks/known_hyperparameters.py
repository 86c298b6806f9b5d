"""Forecast quality at 100 attempts if the hyperparameters were known from every attempt.

    python benchmarks/known_hyperparameters.py --table \
        benchmarks/runs/forecast_quality_beta_spline_ta099_2026-12-03.csv.gz
    python benchmarks/known_hyperparameters.py --small --table ...   # two models, 3 replicates

The cells and replicates of `forecast_quality.py` (same seeds): 7 Pythia MATH models subsampled
to 100 attempts per problem, 6 Best-of-N models resampled at 100. For each model the default
prior is fitted once to all its attempts; then each replicate's forecast is that posterior's
E[pass@k | the replicate's counts, theta], averaged over the draws of theta. Only the
hyperparameters come from all the attempts; each problem is still read through its 100. The
gap between this forecast's MSE and the fit to the replicate alone is what learning theta from
100 attempts costs; the gap left to the least-squares power law is the family's (or the
truth's departure from any smooth population). The kept table gives the other methods' errors
on the same replicates, after a check that the truths agree.
"""

import argparse
import time

import numpy as np
import pandas as pd
from _cells import quality_cells

import bayes_passk as bp
from bayes_passk.inference import Fit

K = 10_000
FULL = {
    group: data.select(group)
    for data in (bp.datasets.load("pythia-math"), bp.datasets.load("bon-jailbreak"))
    for group in data.groups
}

parser = argparse.ArgumentParser()
parser.add_argument("--table", required=True, help="a kept forecast_quality.py table")
parser.add_argument("--small", action="store_true", help="two models, 3 replicates")
parser.add_argument("--prior", default=bp.models.DEFAULT_PRIOR)
parser.add_argument("--seed", type=int, default=0, help="forecast_quality.py's --seed (0)")
args = parser.parse_args()


class WithData(Fit):
    """A fit whose forecasts read other counts: the same hyperparameter draws, new data."""

    def __init__(self, fit: Fit, data: bp.PassData):
        super().__init__(fit.idata, fit.family)
        self._data = data

    @property
    def data(self) -> bp.PassData:
        return self._data


table = pd.read_csv(args.table)
table = table[table.k == K]
replicates = int(table.replicate.max()) + 1
chosen = [(cell, FULL[cell.group]) for cell in quality_cells(args.seed, 100, replicates, [1000, K])]
if args.small:
    chosen = [chosen[i] for i in (6, 3)]  # Pythia 12B and Pythia 1B
start = time.perf_counter()
rows = []
for cell, full in chosen:
    kept = table[table.group == cell.group]
    truth = kept[kept.method == "regression"].sort_values("replicate").truth.to_numpy()
    if not np.allclose(truth, cell.truth[:, 1], rtol=1e-9):
        raise SystemExit(f"{cell.group}: truths differ from the kept table's; another seed?")
    fit = bp.fit(full, prior=args.prior, progress=False)  # 4 x (1000 + 1000)
    count = 3 if args.small else replicates
    for replicate in range(count):
        sub = bp.PassData.from_counts(full.problem_id, cell.n[replicate], cell.c[replicate])
        estimate = WithData(fit, sub).forecast([K]).mean[0]
        rows.append((cell.group, replicate, estimate, cell.truth[replicate, 1]))
    print(f"{cell.group}: done, {time.perf_counter() - start:.0f} s", flush=True)

known = pd.DataFrame(rows, columns=["group", "replicate", "estimate", "truth"])
known["method"] = "known-hyperparameters"
scored = pd.concat([known, table[known.columns]])
scored = scored.merge(known[["group", "replicate"]], on=["group", "replicate"])
scored["error"] = scored.estimate - scored.truth
bayes = sorted(m for m in scored.method.unique() if m.startswith("bayes-"))
columns = ["known-hyperparameters", *bayes, "regression"]
summary = scored.groupby(["group", "method"]).error.agg(
    bias="mean", sd="std", mse=lambda e: np.mean(e**2)
)
print("\n| model | " + " | ".join(f"{m}: bias, sd, MSE x 1e3" for m in columns) + " |")
print("|---|" + "---|" * len(columns))
for group in known.group.unique():
    cells_text = []
    for method in columns:
        bias, sd, mse = summary.loc[(group, method)]
        cells_text.append(f"{bias:+.3f}, {sd:.3f}, {1e3 * mse:.2f}")
    print(f"| {group} | " + " | ".join(cells_text) + " |")
mse = summary.mse.unstack("method")
for method in columns[:-1]:
    wins = int((mse[method] < mse["regression"]).sum())
    print(f"{method}: lower MSE than the regression in {wins} of {len(mse)} models")
print(f"\n{time.perf_counter() - start:.0f} s")
