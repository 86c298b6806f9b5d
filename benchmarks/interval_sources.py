"""How much of a forecast's posterior variance is the population's tail, how much the problems'.

    python benchmarks/interval_sources.py                    # Pythia 12B and 1B, 8 and 100 attempts
    python benchmarks/interval_sources.py --small            # Pythia 12B, 8 attempts
    python benchmarks/interval_sources.py --tables A.csv.gz  # kept backtests: width against error

The posterior variance of pass@10000 for these problems splits as

    Var(pass@k) = Var_theta(E[pass@k | theta, data]) + E_theta[Var(pass@k | theta, data)]:

the first term is the uncertainty of the hyperparameters (the population's shape, its tail
below the attempts made above all), the second that of each problem's own rate given them.
`posterior_pass_at_k` gives both per draw: ``benchmark_given_hyper`` is the conditional mean,
``benchmark`` one draw from a Beta with the conditional mean and variance. The default prior
is fitted by `bp.fit` to a subsample of m attempts per problem (seed 0); 8 attempts per problem is
the 1,000-attempt budget of the allocation comparison, 100 that of the forecast-quality backtests.

With ``--tables`` (kept per-replicate backtest or allocation tables, no fitting), per cell and
Bayesian method at k = 10,000: the bias, spread and root mean square of the error over
replicates beside the posterior sd the intervals imply (the 90% interval's width / 3.29, as
for a normal), and the coverage. An interval that is right for a fixed truth has a posterior sd
near the root mean square error; a larger one covers more than 90%.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import bayes_passk as bp
from bayes_passk.forecast import posterior_pass_at_k

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="Pythia 12B at 8 attempts")
parser.add_argument("--groups", nargs="+", default=["Pythia 12B", "Pythia 1B"])
parser.add_argument("--attempts", nargs="+", type=int, default=[8, 100])
parser.add_argument("--tables", nargs="+", help="kept per-replicate tables: width against error")
args = parser.parse_args()
if args.small:
    args.groups, args.attempts = args.groups[:1], args.attempts[:1]
K = 10_000.0


def width_against_error(paths: list[str]) -> None:
    """Print, per cell, the error over replicates beside the posterior sd the intervals imply."""
    # One cell per table: two tables of the same cells (other criteria) are not pooled.
    table = pd.concat(
        [pd.read_csv(path).assign(table=Path(path).name) for path in paths], ignore_index=True
    )
    bayesian = table.method.str.startswith("bayes") | (table.design == "allocation")
    table = table[bayesian & (table.k == K)]
    finite = np.isfinite(table[["estimate", "lower", "upper", "truth"]]).all(axis=1)
    if not finite.all():
        print(f"# {int((~finite).sum())} replicates without a finite forecast left out")
    table = table[finite].assign(
        error=lambda t: t.estimate - t.truth,
        implied_sd=lambda t: (t.upper - t.lower) / (2 * stats.norm.ppf(0.95)),
        covered=lambda t: (t.lower <= t.truth) & (t.truth <= t.upper),
    )
    print(
        "| model | budget | method | replicates | bias | sd of error | RMSE | implied posterior sd "
        "| implied sd / RMSE | coverage |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (_, group, budget, method), cell in table.groupby(["table", "group", "budget", "method"]):
        rmse = float(np.sqrt(np.mean(cell.error**2)))
        print(
            f"| {group} | {budget} | {method} | {len(cell)} | {cell.error.mean():+.3f} "
            f"| {cell.error.std():.3f} | {rmse:.3f} | {cell.implied_sd.mean():.3f} "
            f"| {cell.implied_sd.mean() / rmse:.2f} | {cell.covered.mean():.2f} |"
        )


def variance_split(groups: list[str], attempts_per_problem: list[int]) -> None:
    """Print, per group and subsample size, the posterior sd and the hyperparameters' share."""
    start = time.perf_counter()
    print(
        "| model | attempts per problem | posterior sd | sd of E[pass@k given theta] "
        "| share of the variance from theta |"
    )
    print("|---|---|---|---|---|")
    attempts = bp.datasets.load_attempts("pythia-math")
    for group in groups:
        for m in attempts_per_problem:
            fit = bp.fit(attempts.select(group).subsample(m, seed=0), seed=0, progress=False)
            draws = posterior_pass_at_k(fit, np.array([K])).sel(k=K)
            total = draws.benchmark.values.ravel()
            given_theta = draws.benchmark_given_hyper.values.ravel()
            # One k: the running maximum over k in the draws changes nothing. The share carries
            # Monte Carlo error (about 0.02 at 0.9 with 1,000 draws).
            print(
                f"| {group} | {m} | {total.std():.4f} | {given_theta.std():.4f} "
                f"| {given_theta.var() / total.var():.2f} |",
                flush=True,
            )
    print(f"\nwall {time.perf_counter() - start:.0f} s")


if args.tables:
    width_against_error(args.tables)
else:
    variance_split(args.groups, args.attempts)
