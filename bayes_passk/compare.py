r"""Compare prior families on the same data, check a fit against its data, and compare groups.

- `compare_priors`: PSIS-LOO (ArviZ) of several fits of the same problems, one per prior family,
  with the difference in expected log predictive density (elpd) to the best and its standard
  error, and `verdict`, the same in words. The pointwise log likelihood is per problem,
  log P(c_i | n_i, theta) with p_i integrated out, so LOO asks how well each family predicts
  the counts of a problem it has not seen.
- `predictive_check`: mixed posterior predictive check of the unbiased pass@k for k <= n: per
  posterior draw theta, fresh rates p_i ~ prior(theta) for every problem, c_i ~ Binomial(n_i,
  p_i), and the unbiased pass@k of that replicate, against the observed one.
- `compare_groups`: the posterior of pass@k(A) - pass@k(B) and P(pass@k(A) > pass@k(B)) from
  independent fits of two groups (two models, two checkpoints).

Example:
    >>> import bayes_passk as bp
    >>> data = bp.PassData.from_counts([str(i) for i in range(6)], n=[50] * 6,
    ...                                c=[0, 0, 1, 3, 9, 30])
    >>> fits = {prior: bp.fit(data, prior=prior) for prior in ("beta", "logit-normal")}
    ... # doctest: +SKIP
    >>> print(compare_priors(fits).verdict)  # doctest: +SKIP, +NORMALIZE_WHITESPACE
    LOO prefers beta (elpd -18.3 +- 3.7); logit-normal is 0.2 +- 0.4 lower: too close to call
    (under 4, or under two standard errors).

(Skipped in the doctests: two fits take a minute. The output is that of one run with every
default, on this code; tests/test_compare.py checks `compare_priors` on other fits.)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from bayes_passk.data import InputError, PassData, check_seed
from bayes_passk.estimators import as_ks, mean_pass_at_k, pass_at_k
from bayes_passk.families import check_max_draws, thinned_draws
from bayes_passk.forecast import (
    DEFAULT_KS,
    check_target_and_ci,
    posterior_pass_at_k,
    require_fit,
)
from bayes_passk.hierarchy import IntegratedBinomial

# A difference in elpd below 4 is small whatever its standard error (Sivula et al. 2022,
# "Uncertainty in Bayesian leave-one-out cross-validation based model comparison").
SMALL_ELPD_DIFFERENCE = 4.0
PARETO_K_MAX = 0.7  # at most; lower for fewer draws (`pareto_k_threshold`)


class PriorComparison(NamedTuple):
    """The LOO table (one row per prior, best first) and its verdict in words."""

    table: pd.DataFrame
    verdict: str


def require_problems_for_loo(data) -> None:
    """Raise `InputError` unless `data` has 2 or more problems, over which LOO's errors run."""
    if data.num_problems < 2:
        raise InputError(
            f"leave-one-problem-out comparison needs at least 2 problems; got {data.num_problems}"
        )


def compare_priors(fits: Mapping) -> PriorComparison:
    """PSIS-LOO of fits of the same data under different priors, best first.

    Args:
        fits: `bayes_passk.Fit` objects by name (at least two), all fitted to the same problems.

    Returns:
        A `PriorComparison`. Columns of the table: ``elpd_loo``, ``se``, ``elpd_diff`` (to the
        best), ``dse`` (standard error of that difference), ``p_loo`` (effective number of
        parameters), ``weight`` (stacking), ``bad_pareto_k`` (problems with Pareto k above
        `pareto_k_threshold`, where PSIS is unreliable).
    """
    if not isinstance(fits, Mapping):
        raise InputError(f"fits must be a dict of fits by name, got {type(fits).__name__}")
    if len(fits) < 2:
        raise InputError("model comparison needs at least two fits")
    for fit in fits.values():
        require_fit(fit)
    datasets = [fit.data for fit in fits.values()]
    first = datasets[0]
    require_problems_for_loo(first)
    for name, data in zip(fits, datasets, strict=True):
        if not (
            np.array_equal(data.problem_id, first.problem_id)
            and np.array_equal(data.c, first.c)
            and np.array_equal(data.n, first.n)
        ):
            raise InputError(f"fit {name!r} was fitted to other data than {next(iter(fits))!r}")
    idatas = {name: fit.idata for name, fit in fits.items()}
    with warnings.catch_warnings():
        # The Pareto k check is reported in the table (bad_pareto_k), not as a warning; ArviZ
        # sorts with pandas' deprecated inplace=True.
        warnings.simplefilter("ignore", UserWarning)
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")
        table = az.compare(idatas, ic="loo", method="stacking", scale="log")
        bad = {
            name: int(
                (az.loo(idata, pointwise=True).pareto_k.values > pareto_k_threshold(idata)).sum()
            )
            for name, idata in idatas.items()
        }
    table = table[["elpd_loo", "se", "elpd_diff", "dse", "p_loo", "weight"]].astype(float)
    table["bad_pareto_k"] = [bad[name] for name in table.index]
    table.index.name = "prior"
    return PriorComparison(table, verdict(table))


def pareto_k_threshold(idata) -> float:
    """Pareto k above which PSIS is unreliable: min(1 - 1 / log10(S), 0.7) for S draws.

    ArviZ's rule (Vehtari et al. 2024, "Pareto smoothed importance sampling"): with fewer draws
    a smaller k is already too large (0.62 at S = 400, 0.7 from S = 2,154).

    Example:
        >>> import arviz as az
        >>> draws = az.from_dict(posterior={"x": np.zeros((2, 200))})
        >>> round(pareto_k_threshold(draws), 3)
        0.616
    """
    draws = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"]
    return min(1 - 1 / math.log10(draws), PARETO_K_MAX)


class Ranking(NamedTuple):
    """The first two priors of a LOO table, the first's lead in elpd and whether it is clear."""

    best: str
    runner_up: str
    lead: float
    lead_se: float
    clear: bool  # lead >= SMALL_ELPD_DIFFERENCE and >= two standard errors


def ranking(table: pd.DataFrame) -> Ranking:
    """Read the `Ranking` off a `compare_priors` table (best first).

    Example:
        >>> elpd_diff, dse = [0.0, 5.0, 50.0], [0.0, 2.0, 40.0]  # best first
        >>> table = pd.DataFrame({"elpd_diff": elpd_diff, "dse": dse}, index=["a", "b", "c"])
        >>> ranking(table)
        Ranking(best='a', runner_up='b', lead=5.0, lead_se=2.0, clear=True)
    """
    best, runner_up = table.index[0], table.index[1]
    lead, se = float(table.loc[runner_up, "elpd_diff"]), float(table.loc[runner_up, "dse"])
    return Ranking(best, runner_up, lead, se, lead >= SMALL_ELPD_DIFFERENCE and lead >= 2 * se)


def verdict(table: pd.DataFrame) -> str:
    """Say which prior LOO prefers and whether the data can tell it from the runner-up.

    The best prior is preferred clearly when its elpd exceeds the runner-up's by at least 4 and
    by at least two standard errors of the difference; otherwise the two are not distinguishable.
    """
    best, runner_up, lead, se, clear = ranking(table)
    head = (
        f"LOO prefers {best} (elpd {table.loc[best, 'elpd_loo']:.1f} +- "
        f"{table.loc[best, 'se']:.1f}); {runner_up} is {lead:.1f} +- {se:.1f} lower"
    )
    if clear:
        text = f"{head}: a clear preference."
    else:
        text = f"{head}: too close to call (under 4, or under two standard errors)."
    unreliable = table.index[table["bad_pareto_k"] > 0]
    if len(unreliable):
        counts = ", ".join(f"{name} ({table.loc[name, 'bad_pareto_k']})" for name in unreliable)
        text += f" PSIS-LOO is unreliable for some problems (Pareto k too large): {counts}."
    return text


FEWEST_REPLICATES = 40  # so that a p-value can fall below 0.05 (`predictive_check`)


def predictive_check(
    fit, ks=None, ci: float = 0.9, max_draws: int = 500, seed: int = 0
) -> pd.DataFrame:
    """Mixed posterior predictive check of the unbiased pass@k for k <= min n.

    Args:
        fit: a `bayes_passk.Fit`.
        ks: values of k (default: 12 log-spaced values from 1 to the smallest n).
        ci: level of the predictive interval.
        max_draws: posterior draws, one replicate dataset each: about this many, at least 40
            (and the fit must have 40).
        seed: seed of the replicates.

    Returns:
        One row per k: ``observed`` unbiased pass@k, the replicates' ``mean``, ``lower`` and
        ``upper``, and ``p_value``, two-sided: 2 min(P(replicate >= observed), P(replicate <=
        observed)), at most 1 (small values flag a misfit; a replicate equal to the observed
        value, common where pass@k is a share of few problems, counts on both sides).
    """
    check_target_and_ci("benchmark", ci)
    require_fit(fit)
    data = fit.data
    smallest = int(data.n.min())
    if ks is None:
        ks = np.unique(np.round(np.logspace(0, math.log10(smallest), 12)).astype(int))
    ks = as_ks(ks).ravel()
    if (ks > smallest).any():
        raise InputError(f"predictive checks need 1 <= k <= {smallest} (the smallest n)")
    check_max_draws(max_draws)
    if max_draws < FEWEST_REPLICATES:
        raise InputError(
            f"max_draws must be at least {FEWEST_REPLICATES}, got {max_draws}: a two-sided "
            "p-value from R replicates is at least 2/R"
        )
    total = int(np.prod(np.shape(fit.params[0])[:2]))
    if total < FEWEST_REPLICATES:
        raise InputError(
            f"the fit has {total} posterior draws, a predictive check needs at least "
            f"{FEWEST_REPLICATES} (one replicate dataset each): fit with more samples"
        )
    check_seed(seed)
    params = thinned_draws(fit.params, max_draws, least=FEWEST_REPLICATES)
    counts = np.asarray(_replicate_counts(jax.random.key(seed), fit.family, params, data.n))
    replicated = np.stack(
        [np.nanmean(pass_at_k(np.broadcast_to(data.n, c.shape), c, ks), axis=1) for c in counts]
    )
    observed = mean_pass_at_k(data, ks)
    alpha = (1 - ci) / 2
    lower, upper = np.quantile(replicated, [alpha, 1 - alpha], axis=0)
    # Equal up to rounding: the same counts summed in another order.
    tied = np.isclose(replicated, observed, rtol=1e-12, atol=1e-15)
    at_least = ((replicated >= observed) | tied).mean(axis=0)
    at_most = ((replicated <= observed) | tied).mean(axis=0)
    return pd.DataFrame(
        {
            "k": ks,
            "observed": observed,
            "mean": replicated.mean(axis=0),
            "lower": lower,
            "upper": upper,
            "p_value": np.minimum(1.0, 2 * np.minimum(at_least, at_most)),
        }
    )


def _replicate_counts(key, family, params, n):
    """Draw one replicate dataset per draw: fresh rates from the prior, then binomial counts."""
    n = jnp.asarray(n)

    @jax.jit
    def one(key, theta):
        return IntegratedBinomial(family, theta, n).sample(key).astype(int)

    keys = jax.random.split(key, jnp.shape(params[0])[0])
    return jax.lax.map(lambda args: one(*args), (keys, params))


def compare_groups(
    fit_a,
    fit_b,
    ks=None,
    ci: float = 0.9,
    target: str = "benchmark",
    max_draws: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Posterior of pass@k(A) - pass@k(B) at each k, from independent fits of A and B.

    The two posteriors are independent, so pairing their draws at random gives draws of the
    joint (see `difference_table`; pairing by index would not do: fits run with the same seed,
    as `bayes_passk.fit`'s default is, have chains correlated draw by draw). Each draw of
    pass@k includes the spread of the problems' rates given the hyperparameters (see
    `bayes_passk.forecast`), drawn from a separate random stream for each group (one shared
    stream would correlate A and B and shrink the interval). ``ks`` defaults to the forecast's
    grid, `bayes_passk.forecast.DEFAULT_KS`.

    Returns:
        One row per k: the level ``ci``, the posterior means of A and B, the mean of the
        difference and its equal-tailed ``ci`` interval, and ``prob_a_greater`` =
        P(pass@k(A) > pass@k(B)), ties counted half (they arise where pass@k rounds to 1 in
        both), with its Monte Carlo standard error ``prob_a_greater_mcse``.
    """
    check_target_and_ci(target, ci)
    if any(isinstance(fit, PassData) for fit in (fit_a, fit_b)):
        raise TypeError("compare_groups takes two fits: bayes_passk.fit(data, group=...) each")
    for fit in (fit_a, fit_b):  # both before the first's draws
        require_fit(fit)
    ks = as_ks(DEFAULT_KS if ks is None else ks).ravel()
    check_seed(seed, numpy=True)
    streams = np.random.SeedSequence(seed).spawn(2)
    (draws_a, mean_a), (draws_b, mean_b) = (
        draws_and_means(fit, ks, target, max_draws, stream)
        for fit, stream in zip((fit_a, fit_b), streams, strict=True)
    )
    return difference_table(draws_a, draws_b, ks, ci, seed=seed, means=(mean_a, mean_b))


def pass_at_k_draws(fit, ks, target="benchmark", max_draws=1000, seed=0) -> np.ndarray:
    """Posterior draws of a fit's pass@k at ``ks``, shape (draws, len(ks)), chains in order.

    Drawn once per group, they can be paired with every other group's (`difference_table`),
    so that a group reads the same in every comparison it is part of.
    """
    return draws_and_means(fit, ks, target, max_draws, seed)[0]


def draws_and_means(
    fit, ks, target="benchmark", max_draws=1000, seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """`pass_at_k_draws` and the posterior means of pass@k that `bayes_passk.forecast` reports.

    The means average the conditional means given the hyperparameters (Rao-Blackwellised),
    not the draws, which add the spread of the problems' rates: the same numbers as the
    forecast's mean, with less Monte Carlo error.
    """
    ks = as_ks(ks).ravel()
    posterior = posterior_pass_at_k(fit, ks, max_draws=max_draws, seed=seed)
    draws = posterior[target].values.reshape(-1, len(ks))
    means = posterior[f"{target}_given_hyper"].mean(("chain", "draw"), skipna=False).values
    return draws, means


def difference_table(
    draws_a, draws_b, ks, ci: float = 0.9, seed: int = 0, means=None
) -> pd.DataFrame:
    """Summarise pass@k(A) - pass@k(B) from independent draws of each, shape (draws, len(ks)).

    The means (the draws' unless ``means``, (A's, B's), are given: `draws_and_means`), their
    ``difference`` and ``prob_a_greater`` (ties counted half, over every pair of draws, with
    its Monte Carlo standard error ``prob_a_greater_mcse``, `probability_greater`) take every
    draw, so that a group reads the same in every pair. The interval takes pairs:
    the larger set is thinned evenly to the smaller's size, every chain taking part, and B's
    draws are paired with A's in a random order (``seed``), so that chains run alike (the same
    seed) do not pair alike draws. Each row carries its interval's level, ``ci``.

    Example:
        >>> a, b = np.array([[0.5], [0.7]]), np.array([[0.4], [0.6], [0.9], [0.2]])
        >>> difference_table(a, b, [10])[["k", "mean_a", "mean_b", "prob_a_greater"]]
            k  mean_a  mean_b  prob_a_greater
        0  10     0.6   0.525           0.625
    """
    check_seed(seed, numpy=True)
    draws_a, draws_b = (np.asarray(d, float) for d in (draws_a, draws_b))
    mean_a, mean_b = (
        (draws_a.mean(axis=0), draws_b.mean(axis=0))
        if means is None
        else (np.asarray(m, float) for m in means)
    )
    greater, greater_mcse = probability_greater(draws_a, draws_b)
    size = min(len(draws_a), len(draws_b))
    a, b = (d[np.round(np.linspace(0, len(d) - 1, size)).astype(int)] for d in (draws_a, draws_b))
    b = b[np.random.default_rng(seed).permutation(size)]
    alpha = (1 - ci) / 2
    lower, upper = np.quantile(a - b, [alpha, 1 - alpha], axis=0)
    return pd.DataFrame(
        {
            "ci": ci,
            "k": np.ravel(ks),
            "mean_a": mean_a,
            "mean_b": mean_b,
            "difference": mean_a - mean_b,
            "lower": lower,
            "upper": upper,
            "prob_a_greater": greater,
            "prob_a_greater_mcse": greater_mcse,
        }
    )


def probability_greater(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""P(A > B) over every pair of draws, ties counted half, and its Monte Carlo standard error.

    .. math:: \hat P = \frac{1}{S_a} \sum_j G_B(a_j), \quad
              G_B(x) = \frac{\#\{i: b_i < x\} + \#\{i: b_i = x\} / 2}{S_b},

    a two-sample U-statistic, whose variance to first order (Hoeffding's decomposition) is
    Var(G_B(a)) / ESS_a + Var(1 - G_A(b)) / ESS_b: each side's share, with the effective sample
    size of its chain-ordered draws (ArviZ's ESS of the mean), since draws of a chain are
    correlated.

    Args:
        a: posterior draws of A, shape (draws, columns) or (draws,), in chain order.
        b: draws of B, independent of A's, the same columns.

    Returns:
        P and its standard error, one per column; NaN for a column with a NaN draw.

    Example:
        >>> p, mcse = probability_greater(np.array([[0.5], [0.7]]), np.array([[0.5], [0.2]]))
        >>> p.tolist()  # pairs (0.5, 0.5): a tie; the other three: a greater
        [0.875]
    """
    a, b = (np.asarray(d, float) for d in (a, b))
    a, b = (d[:, None] if d.ndim == 1 else d for d in (a, b))
    p, mcse = np.empty(a.shape[1]), np.empty(a.shape[1])
    for column, (x, y) in enumerate(zip(a.T, b.T, strict=True)):
        if np.isnan(x).any() or np.isnan(y).any():  # NaN is neither above nor below
            p[column] = mcse[column] = np.nan
            continue
        below_a = _share_below(np.sort(y), x)  # G_B(a_j)
        above_b = 1 - _share_below(np.sort(x), y)  # share of A's draws above b_i
        p[column] = below_a.mean()
        mcse[column] = math.sqrt(_mean_variance(below_a) + _mean_variance(above_b))
    return p, mcse


def _share_below(sorted_draws: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Share of ``sorted_draws`` below each x, those equal to it counted half."""
    below = np.searchsorted(sorted_draws, x, side="left")
    not_above = np.searchsorted(sorted_draws, x, side="right")
    return (below + not_above) / (2 * len(sorted_draws))


def _mean_variance(values: np.ndarray) -> float:
    """Variance of the mean of chain-ordered ``values``: their variance over their ESS."""
    if len(values) < 4:  # too few for an ESS: taken as independent
        return values.var() / len(values)
    return values.var() / float(az.ess(values[None, :], method="mean"))
