r"""Posterior pass@k forecasts, Rao-Blackwellised, with credible intervals and Monte Carlo errors.

For each posterior draw theta of the hyperparameters and each k:

- ``benchmark`` target, pass@k of the fitted problems, mean_i (1 - (1 - p_i)^k): given theta the
  p_i are independent with known conditional moments, so its conditional mean is
  1 - S(k) with S(k) = mean_i E[(1 - p_i)^k | n_i, c_i, theta], and its conditional variance is
  sum_i Var[(1 - p_i)^k | n_i, c_i, theta] / P^2, using E[(1 - p_i)^(2k) | ...] (or, where
  k p_i is tiny and that difference is all rounding, k^2 Var[p_i | ...]);
- ``new`` target, pass@k of a fresh problem from the same population: 1 - E[(1 - p)^k | theta],
  a function of theta alone.

Each conditional expectation is a ratio of quadratures (`bayes_passk.functionals`) rather than an
average of (1 - p_i)^k over sampled p_i, which at k >> n is dominated by rare draws. The
posterior mean is the average of the conditional means; the median and the equal-tailed interval
come from one draw per theta of a Beta with the conditional mean and variance (exact for the
``new`` target, a moment-matched approximation of the within-theta spread for ``benchmark``),
the draws at all k of one theta sharing one uniform, so that the interval ends rise with k.
The approximation is close for a benchmark of tens of problems (interval ends within 0.01 of
exact draws of the p_i at 24 and 128 problems) and coarse for a handful, whose mean of
(1 - p_i)^k is far from a Beta (3 problems: the 5% end at k = 100 0.58 against 0.65, at k =
1e4 0.685 against 2/3, the floor the two solved problems set); the mean is exact at any size.
Monte Carlo standard errors come from the effective sample size (ArviZ).

The exponent: the posterior of the left-tail exponent a (-log pass@k ~ C k^(-a) as k grows), and
of the local slope -d log(-log pass@k) / d log k at the largest k asked for.
"""

from __future__ import annotations

import json
import math
import warnings
from functools import partial
from typing import NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from bayes_passk.data import InputError, check_seed, is_probability, percent
from bayes_passk.estimators import as_ks, mean_pass_at_k
from bayes_passk.families import (
    PriorFamily,
    check_max_draws,
    params_type,
    unstack_draws,
)
from bayes_passk.functionals import FINE, log_grid_moments, log_moment, log_survival
from bayes_passk.hierarchy import distinct_rows, flat_padded_draws, padded, round_up

DEFAULT_KS = tuple(int(k) for k in np.unique(np.round(np.logspace(0, 6, 25))))
TARGETS = ("benchmark", "new")
SLOPE_STEP = 0.01  # log-k step of the finite difference for the local slope
LINEAR_BELOW = 1e-4  # k E[p^2] / E[p] below which a problem's variance is linearised
ROW_DRAWS = 2**17  # distinct rows x draws a forecast computes at most, down to FEWEST_DRAWS
FEWEST_DRAWS = 250
MOMENTS_PER_BATCH = 2**18  # moments computed at once: bounds the memory of many rows
GRID_SUMS_ABOVE = -600.0  # log S(k) above which a grid's matrix sums are exact to rounding
LOPSIDED = 1e6  # max(a, b) / min(a, b) from which a Beta is taken as a gamma over the larger
NORMAL_FROM = 1e4  # min(a, b) from which it is taken as a normal (skewness below 0.02)


class Summary(NamedTuple):
    """Posterior summary of a scalar: mean, median, equal-tailed interval, MCSE of the mean."""

    mean: float
    median: float
    lower: float
    upper: float
    mcse: float

    def to_dict(self) -> dict[str, float]:
        """Plain floats, for JSON."""
        return {name: _finite(value) for name, value in self._asdict().items()}


PER_K_FIELDS = ("mean", "median", "lower", "upper", "mcse", "mcse_lower", "mcse_upper", "unbiased")
"""`Forecast`'s fields with one value per k, as its table and JSON name them."""


class Forecast(NamedTuple):
    """pass@k forecast: one row per k; see `forecast`."""

    method: str
    target: str
    ci: float
    k: np.ndarray
    mean: np.ndarray  # a point method's estimate
    median: np.ndarray  # a point method's estimate too, not its bootstrap median
    lower: np.ndarray
    upper: np.ndarray
    mcse: np.ndarray
    mcse_lower: np.ndarray
    mcse_upper: np.ndarray
    unbiased: np.ndarray
    exponent: Summary  # NaN throughout for a family without a power-law tail
    local_slope: Summary
    diagnostics: dict | None  # None for a point method

    def __repr__(self) -> str:
        table = self.to_frame()[["k", "mean", "lower", "upper"]].to_string(
            index=False, float_format=lambda x: f"{x:.4g}"
        )
        a = self.exponent
        exponent = f"\nexponent a: {a.mean:.3g}" if math.isfinite(a.mean) else ""
        if exponent and math.isfinite(a.lower):
            exponent += f" [{a.lower:.3g}, {a.upper:.3g}]"
        header = f"Forecast({self.method}, target {self.target}, {percent(self.ci)} intervals)"
        return f"{header}\n{table}{exponent}"

    def at(self, ks) -> Forecast:
        """Cut the forecast to its rows at `ks`, in their order; each must be one of ``k``.

        Example:
            >>> from bayes_passk import datasets
            >>> from bayes_passk.baselines import fit_baseline
            >>> data = datasets.load("pythia-math", group="Pythia 12B")
            >>> forecast = fit_baseline(data, "regression").forecast([1, 10, 100, 1000])
            >>> forecast.at([1000, 10]).k.tolist()
            [1000, 10]
        """
        ks = as_ks(ks).ravel()
        missing = ks[~np.isin(ks, self.k)]
        if missing.size:
            raise InputError(f"k = {missing[0]} is not among the forecast's k")
        rows = np.array([np.flatnonzero(self.k == k)[0] for k in ks], dtype=int)
        per_k = {
            name: value[rows]
            for name, value in self._asdict().items()
            if isinstance(value, np.ndarray) and value.shape == self.k.shape
        }
        return self._replace(**per_k)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per k with the method, target and interval level."""
        return pd.DataFrame(
            {
                "method": self.method,
                "target": self.target,
                "ci": self.ci,
                "k": self.k,
                **{name: getattr(self, name) for name in PER_K_FIELDS},
            }
        )

    def to_json(self) -> str:
        """Return one JSON object: forecast, unbiased estimates, exponent, slope, diagnostics."""
        exponent = self.exponent.to_dict()
        return json.dumps(
            {
                "method": self.method,
                "target": self.target,
                "ci": float(self.ci),
                "k": [int(k) for k in self.k],
                **{name: [_finite(v) for v in getattr(self, name)] for name in PER_K_FIELDS},
                "exponent": {n: exponent[n] for n in ("mean", "lower", "upper")},
                "local_slope": {
                    n: self.local_slope.to_dict()[n] for n in ("mean", "lower", "upper")
                },
                "diagnostics": None
                if self.diagnostics is None
                else {
                    name: value if isinstance(value, bool | int) else _finite(value)
                    for name, value in self.diagnostics.items()
                },
            }
        )


def forecast(
    result,
    ks=None,
    ci: float = 0.9,
    target: str = "benchmark",
    *,
    max_draws: int = 1000,
    seed: int = 0,
) -> Forecast:
    """Posterior pass@k at each k, for the fitted problems or for new ones.

    Args:
        result: a `bayes_passk.Fit`.
        ks: attempts per problem to forecast at (default `DEFAULT_KS`, 1 to 1e6 on a log grid).
        ci: level of the equal-tailed credible interval.
        target: ``"benchmark"`` (these problems) or ``"new"`` (a fresh problem).
        max_draws: posterior draws used at most (thinned by a whole step within each chain;
            fewer for data with more than 131 distinct (n, c) pairs: see `posterior_pass_at_k`).
        seed: seed for the Beta draws behind the median and the interval. Each draw's curve
            is raised to its running maximum over the k forecast (`_beta_draws`), so on a few
            problems an interval end at one k can move a little (0.01 on 3 problems, nothing
            seen on 20) with the smaller k forecast beside it.

    Returns:
        A `Forecast`; its per-draw values are also stored in ``result.idata.posterior_predictive``.

    Example:
        >>> import bayes_passk as bp
        >>> data = bp.PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
        >>> result = bp.fit(data, chains=2, warmup=200, samples=200, progress=False, check=False)
        >>> f = result.forecast([1, 1000], ci=0.9)
        >>> bool(f.lower[1] <= f.mean[1] <= f.upper[1])
        True
    """
    check_target_and_ci(target, ci)
    require_fit(result)
    ks = as_ks(DEFAULT_KS if ks is None else ks).ravel()
    if result.family.log_masses is not None and result.family.tail_exponent is None:
        smallest_p = _smallest_rate(result.family, result.params)
        if ks.max() * smallest_p > 0.1:
            warnings.warn(
                f"prior '{result.family.name}': pass@k for k above {0.1 / smallest_p:.1e} "
                f"reflects the edge of its grid (p >= {smallest_p:.1e}), not the data",
                stacklevel=3,  # the caller of Fit.forecast
            )
    draws = posterior_pass_at_k(result, ks, max_draws=max_draws, seed=seed)
    if "posterior_predictive" in result.idata.groups():  # a later forecast replaces it
        result.idata.posterior_predictive = draws
    else:  # a plain attribute would not be a group: not saved, unseen by ArviZ
        result.idata.add_groups(posterior_predictive=draws)
    conditional = draws[f"{target}_given_hyper"]
    sampled = draws[target]
    alpha = (1 - ci) / 2
    # skipna=False: a NaN draw makes the summary NaN rather than quietly left out.
    quantiles = sampled.quantile([alpha, 0.5, 1 - alpha], dim=("chain", "draw"), skipna=False)
    quantiles = quantiles.values
    slope = draws[f"{target}_local_slope"]
    data = result.data
    unbiased = mean_pass_at_k(data, ks) if target == "benchmark" else np.full(ks.shape, np.nan)
    diagnostics = result.diagnostics()
    return Forecast(
        method=f"bayes-{result.family.name}",
        target=target,
        ci=ci,
        k=ks,
        mean=conditional.mean(("chain", "draw"), skipna=False).values,
        median=quantiles[1],
        lower=quantiles[0],
        upper=quantiles[2],
        mcse=_mcse(conditional, "mean"),
        mcse_lower=_mcse(sampled, "quantile", alpha),
        mcse_upper=_mcse(sampled, "quantile", 1 - alpha),
        unbiased=unbiased,
        exponent=_exponent(result, ci),
        local_slope=summarize(slope, ci),
        diagnostics={
            "r_hat_max": diagnostics.r_hat_max,
            "ess_bulk_min": diagnostics.ess_bulk_min,
            "ess_tail_min": diagnostics.ess_tail_min,
            "divergences": diagnostics.divergences,
            "ok": diagnostics.ok,
        },
    )


def _smallest_rate(family: PriorFamily, params) -> float:
    """Return the smallest p of a discrete family's grid ((1 - p)^k resolves k below ~0.1 / p)."""
    first = type(params)(*(np.asarray(x)[0, 0] for x in params))
    points, _ = family.log_masses(first)
    return float(jax.nn.sigmoid(jnp.min(points)))


def require_fit(result) -> None:
    """Raise `InputError` unless ``result`` is a fit of `bayes_passk.fit`, saying how to get one."""
    if not all(hasattr(result, name) for name in ("family", "idata")):
        raise InputError(f"this takes a fit, bayes_passk.fit(data), got {type(result).__name__}")


def check_target_and_ci(target: str, ci: float) -> None:
    """Raise `InputError` unless `target` is one of `TARGETS` and 0 < `ci` < 1.

    Example:
        >>> check_target_and_ci("new", 0.95)
        >>> check_target_and_ci("benchmark", 95)
        Traceback (most recent call last):
        ...
        bayes_passk.data.InputError: ci must lie strictly between 0 and 1, got 95
    """
    if target not in TARGETS:
        raise InputError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if not is_probability(ci):
        raise InputError(f"ci must lie strictly between 0 and 1, got {ci!r}")


def posterior_pass_at_k(
    result, ks, max_draws: int = 1000, seed: int | np.random.SeedSequence = 0
) -> xr.Dataset:
    """Per-draw pass@k for both targets, as a Dataset with dims (chain, draw, k).

    The cost grows with draws x distinct (n, c) rows x k: the draws are thinned by the smallest
    whole step that keeps at most ``max_draws``, or `ROW_DRAWS` / rows where fewer (past 131
    rows at 1,000: problems with varied n), but that bound no lower than `FEWEST_DRAWS`; a whole
    step may keep fewer (2 chains x 300 draws on 600 rows: every third, 200). The Monte Carlo
    errors of the summaries show what that costs.

    Variables: ``benchmark_given_hyper`` and ``new_given_hyper`` (conditional means given the
    hyperparameters), ``benchmark`` and ``new`` (one draw each from the conditional
    distribution), and ``benchmark_local_slope``, ``new_local_slope`` at the largest k.
    """
    if not isinstance(seed, np.random.SeedSequence):
        check_seed(seed, numpy=True)
    require_fit(result)
    ks = as_ks(ks).ravel()
    rows = distinct_rows(result.data.n, result.data.c)
    thinned = _thinned_posterior(result, max_draws, rows.n.size)
    all_ks = with_slope_points(ks)
    log_survival, variance, log_survival_new = _survival_moments_of_draws(
        result.family, thinned, rows, all_ks
    )
    rng = np.random.default_rng(seed)
    benchmark = -np.expm1(log_survival[..., : ks.size])
    new = -np.expm1(log_survival_new[..., : ks.size])
    coords = {"chain": thinned["chain"].values, "draw": thinned["draw"].values, "k": ks}
    dims = ("chain", "draw", "k")
    return xr.Dataset(
        {
            "benchmark_given_hyper": (dims, benchmark),
            "benchmark": (dims, _beta_draws(rng, benchmark, variance[..., : ks.size], ks)),
            "new_given_hyper": (dims, new),
            "new": (dims, new),
            "benchmark_local_slope": (dims[:2], slope_at_largest_k(log_survival)),
            "new_local_slope": (dims[:2], slope_at_largest_k(log_survival_new)),
        },
        coords=coords,
        attrs={"local_slope_k": float(ks.max())},
    )


def unsolved_part(result, ks, max_draws: int = 1000) -> np.ndarray:
    r"""Posterior mean of the part of pass@k (benchmark target) from problems never solved.

    .. math::  \frac{1}{P} \sum_{i:\, c_i = 0} E\left[1 - (1 - p_i)^k \mid
               \text{data}\right]

    The counts put these problems' rates only below about 1 / n_i; what they add to pass@k at
    k >> n comes from the tail the prior family assumes there, which no count checks. pass@k
    less this part is what the problems solved at least once give: the forecast if none of the
    others were ever solved. It uses the draws `forecast` uses at the same ``max_draws``.

    Example:
        >>> import bayes_passk as bp
        >>> data = bp.PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
        >>> result = bp.fit(data, chains=2, warmup=200, samples=200, progress=False, check=False)
        >>> part = unsolved_part(result, [10, 100_000])
        >>> bool(0 <= part[0] < part[1] <= 1 / 3)  # one problem of three, never solved
        True
    """
    require_fit(result)
    ks = as_ks(ks).ravel()
    rows = distinct_rows(result.data.n, result.data.c)
    never = (rows.c == 0) & (rows.weight > 0)
    if not never.any():
        return np.zeros(ks.size)
    # The forecast's draws, rows and k with the solved rows weighted 0: the forecast's
    # compiled program again, not one of its own (4 s of a first run).
    weight = np.where(never, rows.weight, 0.0)
    log_survival, _, _ = _survival_moments_of_draws(
        result.family,
        _thinned_posterior(result, max_draws, rows.n.size),
        rows._replace(weight=weight),
        with_slope_points(ks),
    )
    per_draw = -np.expm1(log_survival[..., : ks.size])
    return weight.sum() / rows.weight.sum() * per_draw.mean(axis=(0, 1))


def unsolved_parts(family: PriorFamily, hyper_draws, n, c, ks) -> np.ndarray:
    r"""`unsolved_part` of many datasets, from each one's hyperparameter draws: (datasets, k).

    .. math::  \frac{1}{P} \sum_{i:\, c_i = 0} \frac{1}{D} \sum_{d=1}^{D}
               \left(1 - E\left[(1 - p)^k \mid c = 0,\, n_i,\, \theta_d\right]\right)

    Args:
        family: the prior family the draws are of.
        hyper_draws: (datasets, draws, width), as `bayes_passk.families.stack_draws` lays them
            out (`bayes_passk.batched.FitSummary.hyper_draws`).
        n: attempts per problem, (datasets, problems); a problem with n = 0 is padding.
        c: successes, the same shape.
        ks: attempts per problem.

    Example:
        >>> from bayes_passk.families import get_family
        >>> draws = np.array([[[0.5, 1.0, 1.0]]])  # one dataset, one draw: Beta(0.5, 1)
        >>> part = unsolved_parts(get_family("scaled-beta"), draws, [[10, 10]], [[0, 4]], [10])
        >>> float(np.round(part[0, 0], 6))  # (1/2)(1 - B(0.5, 21) / B(0.5, 11))
        0.140078
    """
    hyper_draws = np.asarray(hyper_draws, dtype=float)
    n, c = np.atleast_2d(n), np.atleast_2d(c)
    ks = as_ks(ks).ravel()
    datasets, num_draws, width = hyper_draws.shape
    never = (n > 0) & (c == 0)
    # Datasets whose unsolved problems have the same distinct n (in the same proportions, where
    # there are several) share one computation, their draws stacked: a backtest's usually all.
    alike = {}
    for i in np.flatnonzero(never.any(axis=1)):
        values, counts = np.unique(n[i, never[i]], return_counts=True)
        alike.setdefault((tuple(values), tuple(counts / counts.sum())), []).append(i)
    parts = np.zeros((datasets, ks.size))
    for (values, shares), which in alike.items():
        draws = unstack_draws(family, hyper_draws[which].reshape(-1, width))
        params, real = flat_padded_draws(jax.tree.map(lambda x: x[None], draws))  # one "chain"
        rows = distinct_rows(values, np.zeros(len(values)))  # one row per value, padded
        weight = np.zeros(rows.weight.size)
        weight[: len(values)] = shares
        log_survival, _, _ = _flat_survival_moments(
            family, params, real, rows._replace(weight=weight), ks
        )
        per_draw = -np.expm1(log_survival).reshape(len(which), num_draws, -1)
        share_unsolved = never[which].sum(axis=1) / (n[which] > 0).sum(axis=1)
        parts[which] = share_unsolved[:, None] * per_draw.mean(axis=1)
    return parts


def _draw_cap(max_draws: int, num_rows: int) -> int:
    """Return the most draws to keep: `max_draws`, or `ROW_DRAWS` / rows if fewer (>= 250)."""
    check_max_draws(max_draws)
    return min(max_draws, max(FEWEST_DRAWS, ROW_DRAWS // num_rows))


def _thinned_posterior(result, max_draws: int, num_rows: int) -> xr.Dataset:
    """Thin the posterior evenly within chains to at most `max_draws` (fewer for many rows)."""
    max_draws = _draw_cap(max_draws, num_rows)
    posterior = result.idata.posterior
    step = max(1, math.ceil(posterior.sizes["chain"] * posterior.sizes["draw"] / max_draws))
    return posterior.isel(draw=slice(None, None, step))


def _survival_moments_of_draws(family: PriorFamily, thinned: xr.Dataset, rows, ks):
    """Return `resolved_survival_moments` of the thinned draws, each shaped (chain, draw, k)."""
    names = params_type(family)._fields
    flat, count = flat_padded_draws(params_type(family)(*(thinned[f].values for f in names)))
    shape = (thinned.sizes["chain"], thinned.sizes["draw"])
    return [x.reshape(*shape, -1) for x in _flat_survival_moments(family, flat, count, rows, ks)]


def _flat_survival_moments(family: PriorFamily, flat, count: int, rows, ks):
    """`resolved_survival_moments` of `flat_padded_draws`' output, each shaped (count, k)."""
    # Padded like the rows and draws, so that forecasts share compilations.
    padded_ks = padded(ks, float(ks.max()))
    moments = resolved_survival_moments(family, flat, count, rows.n, rows.c, rows.weight, padded_ks)
    return [x[:count, : ks.size] for x in moments]


def summarize(draws: xr.DataArray, ci: float) -> Summary:
    """Mean, median, equal-tailed `ci` interval and MCSE of the mean of (chain, draw) values."""
    alpha = (1 - ci) / 2
    lower, median, upper = np.quantile(draws.values, [alpha, 0.5, 1 - alpha])
    return Summary(
        mean=float(np.mean(draws.values)),  # NaN with any NaN draw, like the quantiles
        median=float(median),
        lower=float(lower),
        upper=float(upper),
        mcse=float(_mcse(draws, "mean")),
    )


def resolved_survival_moments(family: PriorFamily, params, count: int, n, c, weight, ks):
    """`survival_moments` as NumPy arrays, exact to rounding for the first ``count`` draws.

    Draws whose survival (benchmark or new problem) at some k is below e^`GRID_SUMS_ABOVE`, where
    a discrete family's matrix sums lose digits to underflow, are summed again in log space. A
    quadrature family integrates solved parts for the rows of problems never solved only
    (`unsolved_row_count`).
    """
    arguments = [jnp.asarray(x, dtype=float) for x in (n, c, weight, ks)]
    if family.log_masses is None:  # quadrature: every sum already in log space
        solved_rows = unsolved_row_count(c, weight)
        moments = survival_moments(family, params, *arguments, None, solved_rows)
        return [np.array(x) for x in moments]
    moments = [np.array(x) for x in survival_moments(family, params, *arguments)]
    log_survivals = np.concatenate([moments[0][:count], moments[2][:count]], axis=1)
    tiny = np.flatnonzero((log_survivals < GRID_SUMS_ABOVE).any(axis=1))
    if tiny.size:
        repeated = np.resize(tiny, round_up(tiny.size))  # shared compilations, as for the rows
        redone = survival_moments(
            family, jax.tree.map(lambda x: x[repeated], params), *arguments, exact_sums=True
        )
        for array, exact in zip(moments, redone, strict=True):
            array[tiny] = np.asarray(exact)[: tiny.size]
    return moments


def unsolved_row_count(c, weight) -> int:
    """Count the rows of problems never solved (c = 0, weight > 0), up to a power of two.

    `survival_moments`' ``solved_rows`` for a forecast, at most every row; the power of two
    lets forecasts share compilations.

    Example:
        >>> unsolved_row_count([0, 0, 0, 3, 0], [1, 2, 4, 1, 0]), unsolved_row_count([2], [1])
        (4, 1)
    """
    count = int(np.count_nonzero((np.asarray(c) == 0) & (np.asarray(weight) > 0)))
    return min(len(c), 1 << max(0, count - 1).bit_length())


@partial(jax.jit, static_argnums=(0, 6, 7))
def survival_moments(
    family: PriorFamily,
    params,
    n,
    c,
    weight,
    ks,
    exact_sums: bool = False,
    solved_rows: int | None = None,
):
    """Per draw and k: log S(k), S(k) = mean_i E[(1-p_i)^k | ...], Var S(k), log E[(1-p)^k].

    ``params`` holds draws along a leading axis; each output has shape (draws, len(ks)). The
    survivals come as logs: pass@k = -expm1(log S) keeps its digits when tiny, and S its own
    when pass@k rounds to 1.

    Rows are the distinct (n, c) pairs, ``weight`` the number of problems sharing each.

    A discrete family's sums are matrix products (`functionals.log_grid_moments`), exact to
    rounding while S(k) > e^`GRID_SUMS_ABOVE`; ``exact_sums`` (static) takes every sum in log
    space instead (`functionals.log_moment`), for the draws where S(k) is smaller.

    A quadrature family's small pass@k are the parts of J(c, m) that k attempts solve
    (`functionals.log_survival`), integrated for the first ``solved_rows`` (static; default
    all) rows, those of problems never solved first (c = 0, weight > 0): rows with successes
    have single-scale posteriors, whose S keeps its digits as J(c, m + k) / J(c, m) (within
    5e-12 of pass@k on priors of E[p] >= 1e-6, benchmarks/RESULTS.md), and the solved parts
    double the cost.

    A problem's variance Var[(1-p)^k] = s2 - s1^2 loses every digit to rounding when k p is
    tiny (s1 and s2 both round to ~1); there it is taken as k^2 Var[p], from
    (1-p)^k = 1 - k p + O((k p)^2). Its relative error is about k E[p^2] / E[p] (the typical k p
    where the variance comes from; k E[p] alone misses a factor 1 / (a + c) for a heavy left
    tail), so it applies below k E[p^2] / E[p] = `LINEAR_BELOW`.
    """
    m = n - c
    num_problems = jnp.sum(weight)
    rows, num_ks = c.shape[0], ks.shape[0]
    grid_sums = family.log_masses is not None and not exact_sums
    if grid_sums:
        zero = jnp.zeros(1)
        per_k = jnp.concatenate([zero, ks, 2 * ks])
        work = rows * (3 + 2 * num_ks) + num_ks + 1  # the moments, as in log space

        def log_moments(theta):
            log_k = log_grid_moments(family, theta, c, m, per_k)
            log_c12 = log_grid_moments(
                family, theta, jnp.concatenate([c + 1, c + 2]), jnp.tile(m, 2), zero
            )
            log_new = log_grid_moments(family, theta, zero, zero, per_k[: num_ks + 1])[:, 0]
            log_c1, log_c2 = log_c12[0].reshape(2, rows)
            log_k1, log_k2 = log_k[1 : num_ks + 1], log_k[num_ks + 1 :]
            # Sums over one grid: rounding of 1e-16 of S is all the error of S and of 1 - S.
            log_s1, log_s2 = log_k1 - log_k[0], log_k2 - log_k[0]
            return log_k[0], log_c1, log_c2, log_s1, log_s2, log_new[1:] - log_new[0]

    else:
        # Every moment a draw needs, in one batch: one traced quadrature compiles in a fraction
        # of the time of two. Per row (c, m), (c + 1, m), (c + 2, m); per k and row (c, m + k)
        # and (c, m + 2k); per k and solved row the parts of (c, m) that k and 2k more attempts
        # solve; per k (0, k) and the part of (0, 0) that k solve; and (0, 0). Each S is then
        # J(c, m + k) / J(c, m) or, where pass@k is small, 1 - the solved part / J(c, m)
        # (`functionals.log_survival`). Integrating one way only, chosen by a guess (a Beta's
        # from E[p] and E[p^2], in a second batch, or the draw before's), doubled the compile
        # time or lost S's digits where consecutive draws differ (benchmarks/RESULTS.md).
        solved_first = jnp.argsort((c > 0) | (weight == 0), stable=True)
        solved = solved_first[: rows if solved_rows is None else solved_rows]
        num_solved = solved.shape[0]
        zeros = jnp.zeros(num_ks)
        tiled_c, tiled_m = jnp.tile(c, 2 * num_ks), jnp.tile(m, 2 * num_ks)
        both_ks = jnp.repeat(jnp.concatenate([ks, 2 * ks]), rows)
        solved_ks = jnp.repeat(jnp.concatenate([ks, 2 * ks]), num_solved)
        solved_c, solved_m = jnp.tile(c[solved], 2 * num_ks), jnp.tile(m[solved], 2 * num_ks)
        zero_rows = jnp.zeros(3 * rows + 2 * num_ks * rows)
        successes = jnp.concatenate([c, c + 1, c + 2, tiled_c, solved_c, zeros, zeros, zeros[:1]])
        failures = jnp.concatenate([m, m, m, tiled_m + both_ks, solved_m, ks, zeros, zeros[:1]])
        solved_by = jnp.concatenate([zero_rows, solved_ks, zeros, ks, zeros[:1]])
        moments = jax.vmap(log_moment, in_axes=(None, None, 0, 0, None, 0))
        work = successes.shape[0]

        def log_moments(theta):
            log_moments = moments(family, theta, successes, failures, FINE, solved_by)
            log_base, log_c1, log_c2 = log_moments[: 3 * rows].reshape(3, rows)
            end = (3 + 2 * num_ks) * rows
            unsolved = log_moments[3 * rows : end].reshape(2, num_ks, rows)
            # A row without a solved part gets J(c, m) as one: its "small" pass@k is then 1, so
            # log_survival takes J(c, m + k) / J(c, m).
            log_solved = jnp.broadcast_to(log_base, unsolved.shape)
            log_solved = log_solved.at[:, :, solved].set(
                log_moments[end : end + 2 * num_ks * num_solved].reshape(2, num_ks, num_solved)
            )
            log_s1, log_s2 = log_survival(unsolved, log_solved, log_base)
            fresh = log_moments[end + 2 * num_ks * num_solved :]
            log_new = log_survival(fresh[:num_ks], fresh[num_ks:-1], fresh[-1])
            return log_base, log_c1, log_c2, log_s1, log_s2, log_new

    def per_draw(theta):
        log_base, log_c1, log_c2, log_s1, log_s2, log_new = log_moments(theta)
        log_mean_p, log_square_p = log_c1 - log_base, log_c2 - log_base
        variance_p = jnp.exp(2 * log_mean_p) * jnp.expm1(log_square_p - 2 * log_mean_p)
        typical_p = jnp.exp(log_square_p - log_mean_p)  # E[p^2] / E[p]
        s1, s2 = jnp.exp(log_s1), jnp.exp(log_s2)
        log_mean = jax.nn.logsumexp(log_s1, b=weight, axis=1) - jnp.log(num_problems)
        linear = ks[:, None] * typical_p < LINEAR_BELOW
        per_problem = jnp.where(linear, ks[:, None] ** 2 * variance_p, s2 - s1**2)
        variance = jnp.sum(weight * jnp.clip(per_problem, 0.0), axis=1) / num_problems**2
        return log_mean, variance, log_new

    # Draws at once; one alone runs a third slower than two (measured with 98,000 moments each).
    batch = max(2, min(16, MOMENTS_PER_BATCH // work))
    return jax.lax.map(per_draw, params, batch_size=batch)


def _exponent(result, ci: float) -> Summary:
    """Posterior summary of the family's tail exponent; NaN when it has none."""
    if result.family.tail_exponent is None:
        return Summary(*[math.nan] * len(Summary._fields))
    draws = np.asarray(result.family.tail_exponent(result.params))
    return summarize(xr.DataArray(draws, dims=("chain", "draw")), ci)


def _beta_draws(
    rng: np.random.Generator, mean: np.ndarray, variance: np.ndarray, ks: np.ndarray
) -> np.ndarray:
    """Draws (..., k) from the Betas with this mean and variance (the mean where var = 0).

    The draws at every k of one posterior draw share one uniform: each is its Beta's quantile at
    that level, so the marginals are each k's Beta while a draw's curve follows pass@k up with
    k. Neighbouring Betas need not be ordered, though (where solved problems put a floor under
    pass@k, its variance can grow faster than its mean and the low quantiles fall), so each
    curve is then raised to its running maximum over increasing k, which moves the marginals
    only there: it rises with k as pass@k does, and so do the quantiles over draws (the
    interval ends of the forecast). A NaN stays where it is, without spreading to larger k.
    """
    spread = mean * (1 - mean)
    usable = (variance > 0) & (variance < spread)
    concentration = np.where(usable, spread / np.where(usable, variance, 1.0) - 1, 1.0)
    alpha = np.where(usable, np.clip(mean * concentration, 1e-300, None), 1.0)
    beta = np.where(usable, np.clip((1 - mean) * concentration, 1e-300, None), 1.0)
    level = np.broadcast_to(rng.uniform(size=(*mean.shape[:-1], 1)), mean.shape)
    draws = np.where(usable, beta_quantile(level, alpha, beta), mean)
    order = np.argsort(ks)
    in_order = draws[..., order]
    draws[..., order] = np.where(np.isnan(in_order), np.nan, np.fmax.accumulate(in_order, axis=-1))
    return draws


def beta_quantile(level: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Quantile of Beta(a, b) at `level`, accurate where `scipy.special.betaincinv` is not.

    With s = min(a, b) and t = max(a, b), computed for the side with shape s (1 - x when a > b):
    s <= t / `LOPSIDED`: g / (g + t), g the Gamma(s) quantile (Beta(s, t) -> Gamma(s) / t as
    t / s grows; betaincinv(1000, 1e12, 1/2) returns 1.5e-8 for a median of 1e-9); s >=
    `NORMAL_FROM`: the normal with the Beta's mean and variance (faster, and as exact as the
    moment match it serves); otherwise betaincinv.

    Example:
        >>> exact = -np.expm1(np.log(0.5) / 1e12)  # Beta(1, b) median: 1 - 2^(-1 / b)
        >>> bool(np.isclose(beta_quantile(0.5, 1.0, 1e12), exact, rtol=1e-9, atol=0))
        True
    """
    level, a, b = np.broadcast_arrays(level, a, b)
    flip = a > b
    side_level = np.where(flip, 1 - level, level)
    small, large = np.minimum(a, b), np.maximum(a, b)
    lopsided = large >= LOPSIDED * small
    normal = ~lopsided & (small >= NORMAL_FROM)
    middle = ~lopsided & ~normal
    side = np.empty(level.shape)
    g = special.gammaincinv(small[lopsided], side_level[lopsided])
    side[lopsided] = g / (g + large[lopsided])
    s, t = small[normal], large[normal]
    sd = np.sqrt(s * t / (s + t + 1)) / (s + t)
    side[normal] = s / (s + t) + sd * special.ndtri(side_level[normal])
    side[middle] = special.betaincinv(small[middle], large[middle], side_level[middle])
    return np.where(flip, 1 - side, side)


def with_slope_points(ks) -> np.ndarray:
    """Return the k values, then k_max and k_max e^SLOPE_STEP (for `slope_at_largest_k`)."""
    ks = np.asarray(ks, dtype=float)
    return np.concatenate([ks, [ks.max(), ks.max() * math.exp(SLOPE_STEP)]])


def slope_at_largest_k(log_survival: np.ndarray) -> np.ndarray:
    """-d log(-log pass@k) / d log k at k_max, per draw, from `with_slope_points`' last two.

    Taken from log S = log(1 - pass@k), in three regimes that keep their digits: pass@k =
    -expm1(log S) where it is small (S > 1/2); log(-log1p(-S)) in between; and, where S would
    round to 0 (log S < -30), log(-log pass@k) = log S + O(S).
    """
    log_survival = np.asarray(log_survival, dtype=float)[..., -2:]
    survival = np.exp(log_survival)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        small_pass = np.log(-np.log(-np.expm1(log_survival)))
        middle = np.log(-np.log1p(-survival))
        log_neg_log_pass = np.where(
            log_survival < -30, log_survival, np.where(survival > 0.5, small_pass, middle)
        )
        return -(log_neg_log_pass[..., 1] - log_neg_log_pass[..., 0]) / SLOPE_STEP


def _mcse(draws: xr.DataArray, method: str, prob: float | None = None) -> np.ndarray:
    """ArviZ's MCSE over (chain, draw); NaN, without ArviZ's warning, where a draw is NaN."""
    kwargs = {} if prob is None else {"prob": prob}
    finite = np.all(np.isfinite(draws.values), axis=(0, 1))
    result = np.full(draws.shape[2:], np.nan)
    if np.any(finite):
        kept = draws if np.all(finite) else draws[..., finite]
        with np.errstate(invalid="ignore", divide="ignore"):  # constant draws: NaN, no warning
            values = az.mcse(xr.Dataset({"x": kept}), method=method, **kwargs)["x"].values
        result[finite] = values
    return result


def _finite(value) -> float | None:
    """Return a float for JSON, None for NaN or infinity (JSON has neither), 0.0 for -0.0.

    Example:
        >>> _finite(float("nan")), _finite(-0.0), _finite(0.25)
        (None, 0.0, 0.25)
    """
    value = float(value)
    return value + 0.0 if math.isfinite(value) else None  # -0.0 + 0.0 is 0.0
