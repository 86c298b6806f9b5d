"""Forecasts where the problems' rates follow no power law: how far off, and do intervals say so?

    python benchmarks/misspecified_populations.py               # 30 replicates per population
    python benchmarks/misspecified_populations.py --small       # 4 replicates
    python benchmarks/misspecified_populations.py --methods bayes-beta-spline regression
    python benchmarks/misspecified_populations.py --self-check 10   # the check a user can run
    python benchmarks/misspecified_populations.py --fits 5  # LOO, and the unsolved part

Every prior family here has a power-law tail, p^(a - 1) as p -> 0, and so has the
least-squares power law. Real benchmarks need not: some problems are beyond a model at any k,
some sit in a cluster of near-impossible ones. Each replicate draws 128 rates from one of these
populations, fixed before any run, and 100 attempts per problem; the truth is pass@k of the
drawn rates, exact at every k:

- ``logit-normal``: logit p ~ N(-5, 2.5); its tail is lighter than any power law, so the
  local exponent of -log pass@k grows with k;
- ``never-solved``: a quarter of the problems at p = 0, the rest p ~ Beta(0.3, 3); pass@k
  levels off at 0.75 or below;
- ``two-clusters``: half p ~ Beta(2, 2), half p ~ 0.01 Beta(0.4, 3.5), a hard cluster whose
  rates sit below one in a hundred attempts;
- ``power-law`` (a control inside every family's reach): p ~ 0.8 Beta(0.4, 3.5), a cell of
  the synthetic design's grid.

Printed per population, method and k: the truth's mean over replicates, the bias and spread of
the estimates, the MSE, and for methods with intervals their coverage and mean width. The tidy
per-replicate table goes to ``--out`` (default ``benchmarks/runs/misspecified_<date>.csv.gz``).

``--fits R`` asks what else a user can learn from their data: fit the first R replicates of
each population under each prior of ``--priors`` (`bp.fit`'s defaults, 4 x (1000 + 1000)
draws), compare them by PSIS-LOO (`bayes-passk compare --priors`; does LOO prefer the family
whose tail matches the population?) and forecast with each, beside the forecast's unsolved
part (`bayes_passk.forecast.unsolved_part`; does the forecast less that part stay below the
truth, and does the part bound the error?). Forecasts go to ``--out``, the comparison beside it
(``*_loo.csv``).

``--self-check B`` runs instead what a user can run on the one dataset they have (`bayes-passk
backtest --design subsample`): each replicate's 100 attempts per problem subsampled once to B,
forecast to k = 100 and scored against the unbiased pass@100 of all 100. Does that short
extrapolation show the misfit that the long one suffers?
"""

import argparse
import datetime
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayes_passk as bp
from bayes_passk import backtest
from bayes_passk.compare import compare_priors, ranking
from bayes_passk.data import PassData
from bayes_passk.designs import Design, pass_at_k_of_rates, subsample
from bayes_passk.forecast import unsolved_part

BUDGET = 100
PROBLEMS = 128
KS = np.array([100, 1_000, 10_000, 1_000_000])


def logit_normal(rng, shape):
    return 1.0 / (1.0 + np.exp(-rng.normal(-5.0, 2.5, shape)))


def never_solved(rng, shape):
    return np.where(rng.uniform(size=shape) < 0.25, 0.0, rng.beta(0.3, 3.0, shape))


def two_clusters(rng, shape):
    easy = rng.uniform(size=shape) < 0.5
    return np.where(easy, rng.beta(2.0, 2.0, shape), 0.01 * rng.beta(0.4, 3.5, shape))


def power_law(rng, shape):
    return 0.8 * rng.beta(0.4, 3.5, shape)


POPULATIONS = {
    "logit-normal": logit_normal,
    "never-solved": never_solved,
    "two-clusters": two_clusters,
    "power-law": power_law,
}


def cell(seed: int, name: str, replicates: int) -> Design:
    """Replicates of one population: rates drawn first, then 100 attempts at each."""
    rng = np.random.default_rng([seed, list(POPULATIONS).index(name)])
    rates = POPULATIONS[name](rng, (replicates, PROBLEMS))
    c = rng.binomial(BUDGET, rates)
    truth = np.stack([pass_at_k_of_rates(row, KS) for row in rates])
    n = np.full(c.shape, BUDGET)
    return Design("misspecified", name, BUDGET, n, c, KS, truth, np.nan)


def self_check_cells(population: Design, budget: int, seed: int) -> list[Design]:
    """One subsample of each replicate's counts to ``budget`` attempts, truth pass@100."""
    ids = [str(i) for i in range(PROBLEMS)]
    cells = []
    for r, (n, c) in enumerate(zip(population.n, population.c, strict=True)):
        full = PassData.from_counts(ids, n=n, c=c)
        cell = subsample([seed, r], full, budget, replicates=1, ks=[BUDGET])
        cells.append(cell._replace(group=f"{population.group} {r}"))
    return cells


def fitted_rows(population: Design, replicates: int, priors: list[str], seed: int):
    """Fit each prior to each of the first replicates (`bp.fit`'s defaults).

    Returns the PSIS-LOO comparison (one row per replicate: the ranking and the lead) and the
    forecasts (one row per replicate, prior and k: mean, interval, the unsolved part, truth).
    """
    ids = [str(i) for i in range(PROBLEMS)]
    comparisons, forecasts = [], []
    for r in range(replicates):
        data = PassData.from_counts(ids, n=population.n[r], c=population.c[r])
        fits, unconverged = {}, []
        for prior in priors:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", bp.ConvergenceWarning)
                fits[prior] = fit = bp.fit(data, prior=prior, seed=seed, progress=False)
            if any(issubclass(w.category, bp.ConvergenceWarning) for w in caught):
                unconverged.append(prior)
            forecast = fit.forecast(KS, seed=seed)
            forecasts += [
                {
                    "population": population.group,
                    "replicate": r,
                    "prior": prior,
                    "k": k,
                    "mean": forecast.mean[i],
                    "lower": forecast.lower[i],
                    "upper": forecast.upper[i],
                    "unsolved_part": part,
                    "truth": population.truth[r, i],
                }
                for i, (k, part) in enumerate(zip(KS, unsolved_part(fit, KS), strict=True))
            ]
        table = compare_priors(fits).table
        first = ranking(table)
        comparisons.append(
            {
                "population": population.group,
                "replicate": r,
                "never_solved": float(np.mean(data.c == 0)),
                **first._asdict(),
                **{f"diff:{prior}": table.loc[prior, "elpd_diff"] for prior in priors},
                "bad_pareto_k": int(table["bad_pareto_k"].sum()),
                "unconverged": " ".join(unconverged),
            }
        )
        lead = f"{first.lead:.1f} +- {first.lead_se:.1f}"
        print(f"{population.group} {r}: {first.best} by {lead}", flush=True)
    return comparisons, forecasts


def describe_fits(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Per population, prior and k: bias, unsolved part, how often mean - part <= truth."""
    frame = forecasts.assign(
        bias=forecasts["mean"] - forecasts.truth,
        floor_holds=forecasts["mean"] - forecasts.unsolved_part <= forecasts.truth,
        coverage=(forecasts.lower <= forecasts.truth) & (forecasts.truth <= forecasts.upper),
    )
    columns = ["truth", "bias", "unsolved_part", "floor_holds", "coverage"]
    return frame.groupby(["population", "prior", "k"], sort=False)[columns].mean().reset_index()


def describe(table: pd.DataFrame) -> pd.DataFrame:
    """Bias, spread, MSE, coverage and width per population, method and k."""
    rows = []
    for (group, method, k), part in table.groupby(["group", "method", "k"], sort=False):
        error = part.estimate - part.truth
        has_interval = part.lower.notna().all()
        rows.append(
            {
                "population": group,
                "method": method,
                "k": k,
                "truth": part.truth.mean(),
                "bias": error.mean(),
                "sd": part.estimate.std(),
                "mse_x1e3": 1e3 * (error**2).mean(),
                "coverage": ((part.lower <= part.truth) & (part.truth <= part.upper)).mean()
                if has_interval
                else np.nan,
                "width": (part.upper - part.lower).mean() if has_interval else np.nan,
                "failed": int(part.estimate.isna().sum()),
            }
        )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="4 replicates per population")
    parser.add_argument("--replicates", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--methods", nargs="+", default=["bayes-beta-spline", "regression", "beta-binomial"]
    )
    parser.add_argument("--populations", nargs="+", default=list(POPULATIONS))
    parser.add_argument("--self-check", type=int, metavar="B", help="subsample to B, k = 100")
    parser.add_argument("--fits", type=int, metavar="R", help="fit --priors to R replicates")
    parser.add_argument(
        "--priors", nargs="+", default=["beta-spline", "logit-normal", "zero-inflated-beta"]
    )
    runs = Path(__file__).parent / "runs"  # wherever the script is run from
    parser.add_argument("--out", default=str(runs / f"misspecified_{datetime.date.today()}.csv.gz"))
    args = parser.parse_args()
    replicates = 4 if args.small else args.replicates

    start = time.perf_counter()
    cells = [cell(args.seed, name, replicates) for name in args.populations]
    if args.fits and (args.fits > replicates or args.self_check):
        parser.error(f"--fits takes at most --replicates ({replicates}), without --self-check")
    if args.fits:
        comparisons, forecasts = [], []
        for population in cells:
            rows = fitted_rows(population, args.fits, args.priors, args.seed)
            comparisons += rows[0]
            forecasts += rows[1]
        table, loo = pd.DataFrame(forecasts), pd.DataFrame(comparisons)
        table.to_csv(args.out, index=False)
        out = Path(args.out)
        loo_out = out.with_name(out.name.split(".")[0] + "_loo" + "".join(out.suffixes))
        loo.to_csv(loo_out, index=False)
        with pd.option_context("display.width", 200, "display.max_rows", 500):
            print(loo.round(1).to_string(index=False), end="\n\n")
        summary = describe_fits(table).round(4)
    else:
        if args.self_check:
            budget = args.self_check
            cells = [part for c in cells for part in self_check_cells(c, budget, args.seed)]
        table = backtest.run(cells, args.methods, seed=args.seed, progress=print)
        table.to_csv(args.out, index=False)
        if args.self_check:  # "logit-normal 7" -> "logit-normal"
            table["group"] = table.group.str.rsplit(" ", n=1).str[0]
        summary = describe(table).round(4)
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(summary.to_string(index=False))
    print(f"\n{args.out}; {time.perf_counter() - start:.0f} s")
