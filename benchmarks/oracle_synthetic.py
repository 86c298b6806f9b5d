"""How far is the least-squares power law from the best any forecast can do? Synthetic designs.

    python benchmarks/oracle_synthetic.py                  # 1,000 replicates per cell
    python benchmarks/oracle_synthetic.py --small          # 50 replicates, scaled Beta only
    python benchmarks/oracle_synthetic.py --kept T1 T2     # also the kept Bayesian fits
    python benchmarks/oracle_synthetic.py --replicates 0 --kept T1 T2   # those alone

The synthetic design draws each replicate's 128 rates from a known scaled Beta or scaled
Kumaraswamy (the issue's grid, 100 attempts per problem) and scores pass@10000 of those rates.
Given the generating hyperparameters theta, the posterior mean

    E[pass@k | counts, theta] = 1 - mean_i J(c_i, n - c_i + k) / J(c_i, n - c_i),

J(c, m) = E[p^c (1 - p)^m] under the true prior, minimises the expected squared error over
every function of the counts: no forecast, Bayesian or not, has a lower MSE in expectation
(Bayes risk at the true theta). Its MSE is the floor; a method's MSE over the floor's says how
much room it leaves. The oracle and the point methods cost milliseconds, so they run on many
replicates; `--kept` scores the oracle on the replicates of kept backtest tables too (the
seeds of `bayes-passk backtest --design synthetic --budgets 100 --replicates 10 --k 10000`),
beside the Bayesian fits recorded there, after checking that the truths are the same.
"""

import argparse
import time

import jax.numpy as jnp
import numpy as np
import pandas as pd

from bayes_passk import backtest, designs
from bayes_passk.families import ScaledParams, get_family
from bayes_passk.forecast import survival_moments

K = 10_000
BUDGET = 100
PROBLEMS = 128
POINT_METHODS = ("regression", "beta-binomial")

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="50 replicates, scaled Beta only")
parser.add_argument("--replicates", type=int, default=1000)
parser.add_argument("--families", nargs="+", default=["scaled-beta", "kumaraswamy"])
parser.add_argument("--kept", nargs="*", default=[], help="kept synthetic backtest tables")
parser.add_argument("--seed", type=int, default=0, help="the backtest's --seed (0)")
args = parser.parse_args()
replicates = 50 if args.small else args.replicates
families = ["scaled-beta"] if args.small else args.families


def oracle(family: str, a: float, b: float, scale: float, c: np.ndarray) -> np.ndarray:
    """Posterior mean of pass@K given the true hyperparameters, per replicate (rows of c)."""
    params = ScaledParams(*(jnp.array([value]) for value in (a, b, scale)))
    estimates = []
    for counts in c:
        log_survival = survival_moments(
            get_family(family),
            params,
            jnp.full(counts.shape, float(BUDGET)),
            jnp.asarray(counts, float),
            jnp.ones(counts.shape),
            jnp.array([float(K)]),
        )[0]
        estimates.append(-float(jnp.expm1(log_survival[0, 0])))
    return np.array(estimates)


def point(method: str, cell: designs.Design) -> np.ndarray:
    """A point method's pass@K per replicate, as a backtest scores it (NaN where it cannot fit)."""
    table = backtest.run([cell], [method])
    return table.sort_values("replicate").estimate.to_numpy()


def mse(errors: np.ndarray) -> float:
    """Mean squared error (NaN if any entry is: score every method on the same replicates)."""
    return float(np.mean(errors**2))


def floor_table() -> None:
    """Oracle MSE per cell and each point method's over it, on `replicates` replicates.

    Where a point method cannot fit (every problem unsolved, say), the replicate is left out
    for every column and counted.
    """
    print(f"## {replicates} replicates per cell, budget {BUDGET}, k = {K}, seed {args.seed}\n")
    print(
        "| rates from | a | b | s | replicates left out | oracle MSE x 1e3 | regression over "
        "oracle | beta-binomial over oracle | regression: share of its MSE that is bias^2 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for family in families:
        for index, (a, b, scale) in enumerate(designs.SYNTHETIC_GRID):
            cell = designs.synthetic(
                [args.seed, index, BUDGET], family, a, b, scale, PROBLEMS, BUDGET, replicates, [K]
            )
            truth = cell.truth[:, 0]
            errors = {method: point(method, cell) - truth for method in POINT_METHODS}
            kept = np.all([np.isfinite(e) for e in errors.values()], axis=0)
            best = mse(oracle(family, a, b, scale, cell.c[kept]) - truth[kept])
            ratio = {method: mse(e[kept]) / best for method, e in errors.items()}
            regression = errors["regression"][kept]
            print(
                f"| {family} | {a} | {b} | {scale} | {np.sum(~kept)} | {1e3 * best:.2f} | "
                f"{ratio['regression']:.2f} | {ratio['beta-binomial']:.2f} | "
                f"{np.mean(regression) ** 2 / mse(regression):.2f} |"
            )


start = time.perf_counter()
if replicates:
    floor_table()
for path in args.kept:
    table = pd.read_csv(path)
    table = table[(table.k == K) & (table.budget == BUDGET)]
    family = table.group.iloc[0].split(" ")[0]
    print(f"\n## Kept table {path}: MSE x 1e3 on its replicates\n")
    methods = sorted(table.method.unique())
    print("| cell | replicates left out | oracle | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for index, (a, b, scale) in enumerate(designs.SYNTHETIC_GRID):
        group = f"{family} a={a} b={b} s={scale}"
        rows = table[table.group == group]
        count = int(rows.replicate.max()) + 1
        cell = designs.synthetic(
            [args.seed, index, BUDGET], family, a, b, scale, PROBLEMS, BUDGET, count, [K]
        )
        kept_truth = rows[rows.method == methods[0]].sort_values("replicate").truth.to_numpy()
        if not np.allclose(kept_truth, cell.truth[:, 0], rtol=1e-9):
            raise SystemExit(f"{path}: {group}'s truths differ from the design's; other seed?")
        wide = rows.pivot(index="replicate", columns="method", values="estimate")
        kept = wide.notna().all(axis=1).to_numpy()
        truth = cell.truth[kept, 0]
        best = mse(oracle(family, a, b, scale, cell.c[kept]) - truth)
        scores = " | ".join(f"{1e3 * mse(wide[m].to_numpy()[kept] - truth):.2f}" for m in methods)
        print(f"| {group} | {np.sum(~kept)} | {1e3 * best:.2f} | {scores} |")
print(f"\n{time.perf_counter() - start:.0f} s")
