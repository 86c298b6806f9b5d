r"""The seed papers' point estimators, behind the same forecast interface as the Bayesian fit.

Every method takes a `PassData`, fits by least squares or maximum likelihood, and returns a
`BaselineFit` whose ``forecast(ks)`` gives pass@k for the benchmark's problems and whose
``exponent`` is its power-law exponent:

- ``regression``: least squares of log(-log pass@k) on log k over the unbiased estimates at
  101 log-spaced k up to the smallest n, rounded to distinct whole numbers (85 at n = 10,000,
  55 at n = 100; Brown et al. 2024; Schaeffer et al. 2025). Brown et
  al.'s coverage form pass@k ~ exp(a k^b) is the same line: log(-log pass@k) = log(-a) + b log k,
  so it is not a separate method. Forecast exp(-A k^(-b)), exponent b.
- ``discretized-beta``, ``discretized-kumaraswamy``: the per-problem rates c_i / n_i are binned
  ([0, r/2], then 10 log-spaced edges per decade from the resolution r = 1 / max n to 1, so every
  zero-success problem falls in the left-tail bucket) and the scaled distribution is fitted to
  the bin counts by maximum likelihood, scale fixed at the largest observed rate
  (Schaeffer et al. 2025; ``fit_scale=True`` fits it too; a largest rate on an edge, such as
  0.1, counts in the bin below it). Forecast 1 - E[(1 - p)^k], exponent a.
- ``beta-binomial``: two-parameter beta-binomial MLE, forecast 1 - B(a, b + k) / B(a, b)
  (Kazdan et al. 2025). Ragged n is fine: each problem has its own likelihood term.
- ``scaled-beta-binomial``, ``kumaraswamy-binomial``: three-parameter MLE of the binomial
  likelihood integrated over the scaled prior (Schaeffer et al. 2025), by the same float64
  quadrature the Bayesian model uses, with exact gradients (JAX), no multi-precision arithmetic.

Parameters are optimised in log space (scale through a logistic map) with bounded L-BFGS-B from
several starts. Data that cannot identify a method (no success at all, every problem always
solved, or one problem for the methods that fit a distribution over problems) raise
`InputError` instead of returning NaN; a shape (a or b) that stops at a bound of its search
range, or whose 95% likelihood interval reaches one, or that rates in fewer than three bins
cannot pin (discretized methods), issues a `FitAtBoundWarning`, and a regression line that
misses the estimates it was fitted to by more than `LACK_OF_FIT` a `LackOfFitWarning` (both
`BaselineFitWarning`).

Example:
    >>> import bayes_passk as bp
    >>> data = bp.PassData.from_counts(["a", "b", "c", "d"], n=[100] * 4, c=[0, 1, 5, 40])
    >>> fitted = fit_baseline(data, "beta-binomial")
    >>> forecast = fitted.forecast([1, 1000])
    >>> bool(forecast.mean[0] < forecast.mean[1] < 1)
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize, special

from bayes_passk.data import (
    InputError,
    PassData,
    check_seed,
    require_pass_data,
    validate_counts,
    warn_if_uninformative,
)
from bayes_passk.estimators import as_ks, mean_pass_at_k, real_array
from bayes_passk.families import ScaledParams, get_family
from bayes_passk.forecast import (
    DEFAULT_KS,
    Forecast,
    Summary,
    check_target_and_ci,
    slope_at_largest_k,
    with_slope_points,
)
from bayes_passk.functionals import log_marginal_likelihood, log_moment, log_survival_new
from bayes_passk.hierarchy import distinct_rows, padded

REGRESSION_POINTS = 101
PROFILE_DROP = 1.92  # half the 95% point of chi-square(1): a likelihood-ratio interval
LACK_OF_FIT = 0.1  # largest miss on any embedded group: 0.069 (Llama 3 8B IT)
BINS_PER_DECADE = 10
SCALED_STARTS = 2


class BaselineFit(NamedTuple):
    """A fitted point method: its name, parameters, exponent and the data it saw."""

    method: str
    params: dict[str, float]
    exponent: float
    data: PassData
    options: dict

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value:.4g}" for name, value in self.params.items())
        return (
            f"BaselineFit(method={self.method!r}, {params}, exponent={self.exponent:.4g}, "
            f"problems={self.data.num_problems})"
        )

    def pass_at_k(self, ks) -> np.ndarray:
        """Point forecast of pass@k at each k (at least 1; between whole numbers, the curve).

        Example:
            >>> from bayes_passk import datasets
            >>> data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100)
            >>> fit_baseline(data, "regression").pass_at_k([1, 10.5, 100]).round(3).tolist()
            [0.015, 0.172, 0.466]
        """
        return -np.expm1(self.log_survival(ks))

    def log_survival(self, ks) -> np.ndarray:
        """log(1 - pass@k) at each k: keeps its digits where pass@k rounds to 1.

        Any real k >= 1: the fitted curve runs between whole numbers too.
        """
        values = real_array(ks)
        if values is None:
            raise InputError(f"k must be real numbers at least 1 (a sequence or one), got {ks!r}")
        ks = values.astype(float)
        if not np.all(np.isfinite(ks) & (ks >= 1)):
            raise InputError(f"k must be finite and at least 1, got {ks.tolist()!r}")
        return METHODS[self.method].log_survival(self.params, ks)

    def forecast(
        self,
        ks=None,
        ci: float = 0.9,
        bootstrap: int = 0,
        seed: int = 0,
        target: str = "benchmark",
    ) -> Forecast:
        """pass@k at each k as a `Forecast`; intervals only with ``bootstrap`` > 0 replicates.

        The bootstrap resamples problems with replacement, refits, and reports equal-tailed
        percentile intervals of pass@k and of the exponent. The methods that fit a distribution
        of rates over problems estimate 1 - E[(1 - p)^k] under it, the pass@k of a fresh
        problem as much as the benchmark's: ``target="new"`` labels it so (and carries no
        unbiased estimates, as a Bayesian new-problem forecast). The regression fits the
        benchmark's curve only.

        Example:
            >>> from bayes_passk import datasets
            >>> data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100)
            >>> forecast = fit_baseline(data, "beta-binomial").forecast([100, 10_000], bootstrap=10)
            >>> bool(np.all((forecast.lower < forecast.mean) & (forecast.mean < forecast.upper)))
            True
        """
        check_target_and_ci(target, ci)
        if target == "new" and self.method == "regression":
            raise InputError(
                "target new: the regression fits the benchmark's pass@k curve, not a "
                "distribution of rates over problems"
            )
        ks = as_ks(DEFAULT_KS if ks is None else ks).ravel()
        if isinstance(bootstrap, bool) or not isinstance(bootstrap, int | np.integer):
            raise InputError(f"bootstrap must be a whole number of resamples, got {bootstrap!r}")
        if bootstrap < 0 or bootstrap == 1:
            raise InputError(
                f"bootstrap must be 0 (no interval) or at least 2 resamples, got {bootstrap}"
            )
        check_seed(seed, numpy=True)  # with a bootstrap or without, as every seed is taken
        all_ks = with_slope_points(ks)
        log_survival = self.log_survival(all_ks)
        point = -np.expm1(log_survival[: ks.size])
        nan = np.full(ks.shape, np.nan)
        lower, upper = nan, nan
        exponent = Summary(self.exponent, self.exponent, np.nan, np.nan, np.nan)
        slope = float(slope_at_largest_k(log_survival))
        local_slope = Summary(slope, slope, np.nan, np.nan, np.nan)
        if bootstrap > 0:
            log_survivals, exponents = _bootstrap(self, all_ks, bootstrap, seed)
            quantiles = [(1 - ci) / 2, (1 + ci) / 2]
            passes = 0.0 - np.expm1(log_survivals[:, : ks.size])  # 0, not -0, where log S = 0
            lower, upper = np.nanquantile(passes, quantiles, axis=0)
            exponent = exponent._replace(**_interval(exponents, quantiles))
            slopes = slope_at_largest_k(log_survivals)
            local_slope = local_slope._replace(**_interval(slopes, quantiles))
        return Forecast(
            method=self.method,
            target=target,
            ci=ci,
            k=ks,
            mean=point,
            median=point,
            lower=lower,
            upper=upper,
            mcse=nan,
            mcse_lower=nan,
            mcse_upper=nan,
            unbiased=mean_pass_at_k(self.data, ks) if target == "benchmark" else nan,
            exponent=exponent,
            local_slope=local_slope,
            diagnostics=None,
        )


class _Method(NamedTuple):
    fit: Callable[..., tuple[dict[str, float], float]]
    log_survival: Callable[[dict[str, float], np.ndarray], np.ndarray]  # log(1 - pass@k)
    profiled: bool = False  # fit takes `profile`: whether to check the profile at the bounds


def fit_baseline(
    data: PassData, method: str, *, group: str | None = None, profile: bool = True, **options
) -> BaselineFit:
    """Fit one of `METHODS` to `data` (one group).

    Args:
        data: counts per problem.
        method: a name in `METHODS`.
        group: the group to fit, when `data` holds several.
        profile: check, for the likelihood methods (all but ``regression``), whether the
            profile likelihood is flat out to a bound of a shape (a `FitAtBoundWarning` if
            so). Its only outcome is that warning, and a checked fit takes 2 to 7 times as
            long (`benchmarks/profile_check.py`): backtests, which ignore it, skip it.
        **options: method options: ``fit_scale`` (discretized methods).

    Returns:
        A `BaselineFit`.

    Example:
        >>> from bayes_passk import datasets
        >>> data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100)
        >>> fitted = fit_baseline(data, "beta-binomial")
        >>> round(fitted.exponent, 3), fitted.pass_at_k([100, 10_000]).round(3).tolist()
        (0.274, [0.471, 0.846])
    """
    if not isinstance(method, str) or method not in METHODS:
        raise InputError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    unknown = set(options) - ({"fit_scale"} if method.startswith("discretized") else set())
    if unknown:
        raise InputError(f"{method} takes no option {', '.join(sorted(unknown))}")
    if not isinstance(options.get("fit_scale", False), (bool, np.bool_)):
        raise InputError(f"fit_scale must be True or False, got {options['fit_scale']!r}")
    data = validate_counts(require_pass_data(data).single_group(group))
    fitted = _fit(data, method, options, profile)  # refuses data without a success
    warn_if_uninformative(data, "the method's assumptions")
    return fitted


def _fit(data: PassData, method: str, options: dict, profile: bool = True) -> BaselineFit:
    """Fit checked counts (bootstrap resamples repeat problems, which `validate_counts` refuses).

    ``profile=False`` skips the profile likelihood's bound check, whose only outcome is a
    warning: for bootstrap refits, which ignore it.
    """
    if data.c.sum() == 0:
        raise InputError(f"{method}: no problem has a success, so nothing identifies the fit")
    if (data.c == data.n).all():
        raise InputError(f"{method}: every attempt succeeded, so nothing identifies the fit")
    if method != "regression" and data.num_problems < 2:
        raise InputError(f"{method} fits a distribution over problems: needs two problems or more")
    checks = {"profile": profile} if METHODS[method].profiled else {}
    params, exponent = METHODS[method].fit(data, **options, **checks)
    if np.isnan(METHODS[method].log_survival(params, np.array([1.0]))).any():
        shape = ", ".join(f"{name} = {value:.3g}" for name, value in params.items())
        warnings.warn(
            f"{method}: the fitted density ({shape}) is too narrow for the quadrature, so its "
            "forecasts are NaN; the data do not identify the shape",
            FitAtBoundWarning,
            stacklevel=3,
        )
    return BaselineFit(method, params, float(exponent), data, dict(options))


# --- regression -------------------------------------------------------------------------------


def _fit_regression(data: PassData) -> tuple[dict[str, float], float]:
    ks = np.unique(np.round(np.logspace(0, np.log10(data.n.min()), REGRESSION_POINTS)))
    estimates = mean_pass_at_k(data, ks.astype(np.int64))
    usable = (estimates > 0) & (estimates < 1)
    if usable.sum() < 2:
        shortest = int(np.argmin(data.n))
        raise InputError(
            f"regression: fewer than two k with 0 < pass@k < 1 to fit a line to; it uses k up "
            f"to the smallest n, {data.n[shortest]} (problem {str(data.problem_id[shortest])!r})"
        )
    slope, intercept = np.polyfit(np.log(ks[usable]), np.log(-np.log(estimates[usable])), 1)
    params = {"log_A": float(intercept), "b": float(-slope)}
    fitted = -np.expm1(_regression_log_survival(params, ks[usable]))
    misses = np.abs(fitted - estimates[usable])
    if misses.max() > LACK_OF_FIT:
        worst = int(np.argmax(misses))
        warnings.warn(
            f"the fitted line misses the unbiased pass@k it was fitted to by up to "
            f"{misses[worst]:.2f} (at k = {ks[usable][worst]:.0f}: {fitted[worst]:.4g} against "
            f"{estimates[usable][worst]:.4g}); log(-log pass@k) of these data is not linear in "
            "log k, and the forecast follows from the method, not the data",
            LackOfFitWarning,
            stacklevel=3,
        )
    return params, -slope


def _regression_log_survival(params, ks):
    """log(1 - pass@k) = log(1 - exp(-y)), y = A k^-b, to full precision both ways (Maechler).

    Example:
        >>> log_survival = _regression_log_survival({"log_A": np.log(50.0), "b": 0.0}, 1)
        >>> print(f"{-np.expm1(log_survival):.6g}")  # pass@1 = e^-50
        1.92875e-22
    """
    y = np.exp(params["log_A"] - params["b"] * np.log(ks))
    with np.errstate(divide="ignore"):  # y = 0 (pass@k = 1): log(0) = -inf is right
        return np.where(y < np.log(2), np.log(-np.expm1(-y)), np.log1p(-np.exp(-np.maximum(y, 0))))


# --- beta-binomial ----------------------------------------------------------------------------


def _fit_beta_binomial(data: PassData, profile: bool = True) -> tuple[dict[str, float], float]:
    n, c = data.n.astype(float), data.c.astype(float)

    def negative_log_likelihood(theta):
        """-sum log B(c + a, n - c + b) / B(a, b) and its gradient in (log a, log b).

        Exact: with difference quotients, whose rounding grows with the sum, L-BFGS-B stopped
        6.5e-4 nats short of the optimum on Pythia 70M's 10,000 attempts a problem.
        """
        a, b = np.exp(theta)
        value = -np.sum(special.betaln(c + a, n - c + b) - special.betaln(a, b))
        both = special.digamma(n + a + b) - special.digamma(a + b)
        d_a = -np.sum(special.digamma(c + a) - special.digamma(a) - both)
        d_b = -np.sum(special.digamma(n - c + b) - special.digamma(b) - both)
        return value, np.array([a * d_a, b * d_b])

    rate = (c / n).mean()
    starts = [np.log([a, a * (1 - rate) / max(rate, 1e-9)]) for a in (0.05, 0.3, 1.0)]
    bounds = [(-12, 8), (-12, 16)]
    theta = _minimize(negative_log_likelihood, starts, bounds=bounds, jac=True, profile=profile)
    a, b = np.exp(theta)
    return {"a": float(a), "b": float(b)}, a


def _beta_binomial_log_survival(params, ks):
    """Log B(a, b + k) / B(a, b) = G(b; a) - G(b + k; a), G(x; a) = log Gamma(x + a) / Gamma(x).

    The difference of two betaln cancels to nothing where pass@k is small (pass@1 = a / (a + b)
    came out 15 times too large at a = 1e-4, b = 1e6); the difference of two G, each ~ a log b,
    keeps pass@k to 3e-8 over the whole search range (tests/test_baselines.py).
    """
    a, b = params["a"], params["b"]
    return log_gamma_ratio(b, a) - log_gamma_ratio(b + np.asarray(ks, dtype=float), a)


# B_2m / (2m (2m - 1)), m = 1..6: the coefficients of Stirling's series for log Gamma.
STIRLING = np.array([1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360])
STIRLING_FROM = 10


def log_gamma_ratio(x, shift):
    r"""Log Gamma(x + shift) - log Gamma(x) for x > 0, shift >= 0, to ~1e-13 of its value.

    From Stirling's series at z = x + j >= 10, where the difference of the two series is taken
    term by term (no cancellation), then down by the recurrence G(x) = G(x + 1) - log(1 +
    shift / x):

    .. math::  G(z) = (z - \tfrac12) \log(1 + s/z) + s \log(z + s) - s
               + \sum_m c_m z^{1 - 2m} \operatorname{expm1}((1 - 2m) \log(1 + s/z)).

    Example:
        >>> round(float(np.exp(log_gamma_ratio(3.0, 2.0))), 12)  # Gamma(5) / Gamma(3) = 4! / 2!
        12.0
    """
    x, shift = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(shift, dtype=float))
    steps = np.maximum(np.ceil(STIRLING_FROM - x), 0.0)
    below = np.zeros_like(x)
    for j in range(STIRLING_FROM):
        below -= np.where(j < steps, np.log1p(shift / (x + j)), 0.0)
    z = x + steps
    log_ratio = np.log1p(shift / z)
    value = (z - 0.5) * log_ratio + shift * np.log(z + shift) - shift
    for m, coefficient in enumerate(STIRLING, start=1):
        value += coefficient * z ** (1 - 2 * m) * np.expm1((1 - 2 * m) * log_ratio)
    return value + below


# --- discretized scaled distributions ---------------------------------------------------------


def discretization_edges(resolution: float) -> np.ndarray:
    """Bin edges: 0, r/2, then 10 log-spaced edges per decade from r to 1.

    Example:
        >>> discretization_edges(1e-2)[:4].round(5).tolist()
        [0.0, 0.005, 0.01, 0.01259]
    """
    decades = -np.log10(resolution)
    upper = np.logspace(np.log10(resolution), 0, int(round(decades * BINS_PER_DECADE)) + 1)
    upper[0] = resolution  # 10^log10(r) can be an ulp above r, and one success below its edge
    return np.concatenate([[0.0, resolution / 2], upper])


def _beta_cdf(x, a, b):
    return special.betainc(a, b, np.clip(x, 0, 1))


def _kumaraswamy_cdf(x, a, b):
    with np.errstate(divide="ignore"):  # x = 1: log1p(-1) = -inf gives the right CDF, 1
        return -np.expm1(b * np.log1p(-(np.clip(x, 0, 1) ** a)))


def _fit_discretized(data: PassData, cdf, fit_scale: bool = False, profile: bool = True):
    rates = data.c / data.n
    edges = discretization_edges(1.0 / data.n.max())
    counts, _ = np.histogram(rates, bins=edges)
    top = rates.max()
    # The largest rate is the scale, where the support ends: a bin that starts at it would
    # hold no mass. Rates on that edge (0.01, 0.1, ... up to rounding) count in the bin below.
    top_bin = min(np.searchsorted(edges, top, side="right") - 1, len(counts) - 1)
    if top_bin > 0 and edges[top_bin] >= top * (1 - 1e-9):
        counts[top_bin - 1] += counts[top_bin]
        counts[top_bin] = 0
    occupied = counts > 0
    low, high, counts = edges[:-1][occupied], edges[1:][occupied], counts[occupied]
    if counts.size < 3:  # one proportion cannot pin two shapes: a ridge, whatever the profile
        warnings.warn(
            f"the rates fall in only {counts.size} bins, whose one proportion the fit matches "
            "along a ridge of shapes (a, b): the data do not identify the shape, and the "
            "forecast follows from where the optimiser stops",
            FitAtBoundWarning,
            stacklevel=4,
        )
        profile = False  # said already

    def unpack(theta):
        a, b = np.exp(theta[:2])
        scale = top + (1 - top) * special.expit(theta[2]) if fit_scale else top
        return a, b, scale

    def negative_log_likelihood(theta):
        a, b, scale = unpack(theta)
        mass = cdf(high / scale, a, b) - cdf(low / scale, a, b)
        return -np.sum(counts * np.log(np.clip(mass, 1e-300, None)))

    starts = [np.log([a, b]) for a in (0.05, 0.3, 1.0) for b in (1.0, 5.0)]
    bounds = [(-12, 8), (-12, 16)]
    if fit_scale:
        starts = [np.append(start, 0.0) for start in starts]
        bounds.append((-20, 20))
    a, b, scale = unpack(_minimize(negative_log_likelihood, starts, bounds, profile=profile))
    return {"a": float(a), "b": float(b), "scale": float(scale)}, a


# --- three-parameter binomial MLE over the scaled prior ---------------------------------------


def _fit_scaled_binomial(data: PassData, family_name: str, profile: bool = True):
    rows = distinct_rows(data.n, data.c)
    n, c, w = jnp.asarray(rows.n), jnp.asarray(rows.c), jnp.asarray(rows.weight)
    value_and_grad = _negative_log_likelihood(family_name)
    top = float((data.c / data.n).max())

    def objective(theta):
        value, grad = value_and_grad(jnp.asarray(theta), n, c, w)
        return float(value), np.asarray(grad, dtype=float)

    # The likelihood can have separate optima in the weakly identified scale: screen a grid of
    # starts by value, then optimise from the best few.
    grid = [
        np.array([np.log(a), np.log(b), special.logit(s)])
        for a in (0.05, 0.2, 0.8)
        for b in (1.0, 10.0)
        for s in (min(0.999, max(2 * top, 0.01)), 0.9)
    ]
    starts = sorted(grid, key=lambda theta: objective(theta)[0])[:SCALED_STARTS]
    bounds = [(-8, 5), (-10, 14), (-12, 12)]
    theta = _minimize(objective, starts, bounds=bounds, jac=True, profile=profile)
    a, b, scale = np.exp(theta[0]), np.exp(theta[1]), special.expit(theta[2])
    return {"a": float(a), "b": float(b), "scale": float(scale)}, a


@cache
def _negative_log_likelihood(family_name: str):
    """Compiled value and gradient of -sum_i w_i log P(c_i | n_i) in (log a, log b, logit s)."""
    family = get_family(family_name)

    def negative_log_likelihood(theta, n, c, w):
        params = ScaledParams(jnp.exp(theta[0]), jnp.exp(theta[1]), jax.nn.sigmoid(theta[2]))
        log_lik = jax.vmap(lambda n_, c_: log_marginal_likelihood(family, params, n_, c_))(n, c)
        return -jnp.sum(w * log_lik)

    return jax.jit(jax.value_and_grad(negative_log_likelihood))


@cache
def _log_survival_curve(family_name: str):
    """Compiled log E[(1 - p)^k] over k for a scaled family with parameters (a, b, s)."""
    family = get_family(family_name)

    def log_survival(a, b, scale, ks):
        params = ScaledParams(a, b, scale)
        curve = jax.vmap(lambda k: log_survival_new(family, params, k))(ks)
        # A degenerate fit at the bounds (say a = 6e-4, b = 4e6) has a density too narrow for
        # the quadrature, which then no longer integrates it to 1: NaN, not a made-up value.
        resolved = jnp.abs(log_moment(family, params, 0.0, 0.0)) < 1e-6
        return jnp.where(resolved, curve, jnp.nan)

    return jax.jit(log_survival)


def _scaled_log_survival(family_name: str):
    def log_survival(params, ks):
        # k padded to a multiple of 8 (with k = 1), as the Bayesian forecast pads it: a fit's
        # check at k = 1, its forecasts and their bootstrap refits share one compiled curve
        # (compiling it takes about 2 s).
        ks = np.asarray(ks, dtype=float)
        curve = _log_survival_curve(family_name)
        values = curve(params["a"], params["b"], params["scale"], padded(ks.ravel(), 1.0))
        return np.asarray(values)[: ks.size].reshape(ks.shape)

    return log_survival


# --- shared -----------------------------------------------------------------------------------


class BaselineFitWarning(UserWarning):
    """A point fit the data do not support: its forecast says more about the method than them."""


class FitAtBoundWarning(BaselineFitWarning):
    """A point fit's shape stopped at the edge of its search range: the data do not pin it."""


class LackOfFitWarning(BaselineFitWarning):
    """A fitted curve misses, by more than `LACK_OF_FIT`, the unbiased pass@k it was fitted to."""


def _minimize(objective, starts, bounds, jac: bool = False, profile: bool = False) -> np.ndarray:
    """Best L-BFGS-B optimum over several starts (the likelihoods can be multimodal).

    The first two coordinates are log a and log b; one of them at a bound means the data do not
    identify the shape, and a `FitAtBoundWarning` says so (a scale at its bound is ordinary).
    With ``profile``, so does a shape whose profile likelihood at a bound is within
    `PROFILE_DROP` nats of the optimum (its 95% likelihood interval reaches the bound): on a
    flat stretch L-BFGS-B stops wherever its tolerance is met, short of the bound.
    """
    best = None
    for start in starts:
        start = np.clip(start, [lo for lo, _ in bounds], [hi for _, hi in bounds])
        result = optimize.minimize(objective, start, jac=jac, method="L-BFGS-B", bounds=bounds)
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
    if best is None:
        raise InputError("the fit failed from every starting point (non-finite likelihood)")
    at_bound = np.any(np.isclose(best.x[:2], np.array(bounds)[:2].T, rtol=0, atol=1e-4))
    flat = profile and not at_bound and _reaches_a_bound(objective, best, bounds, jac, starts)
    if at_bound or flat:
        a, b = np.exp(best.x[:2])
        where = (
            "stopped at the edge of its search range"
            if at_bound
            else "has a likelihood interval reaching the edge of its search range"
        )
        warnings.warn(
            f"the fit {where} (a = {a:.3g}, b = {b:.3g}): the data do not identify the shape, "
            "and the forecast follows from the range",
            FitAtBoundWarning,
            stacklevel=2,
        )
    return best.x


def _reaches_a_bound(objective, best, bounds, jac: bool, starts) -> bool:
    """Whether log a or log b held at a bound, the rest refitted, costs < `PROFILE_DROP` nats.

    The refit starts from the optimum's other coordinates and then from each start's: from
    the optimum alone it can stall where the likelihood underflows to a constant (a Beta with
    a = e^8 and the optimum's b puts no mass where the rates are), missing a ridge that runs
    to the bound.
    """
    low, high = np.array(bounds).T
    for i in (0, 1):
        for edge in bounds[i]:
            fixed = list(bounds)
            fixed[i] = (edge, edge)
            candidates = np.clip(np.array([best.x, *starts], dtype=float), low, high)
            candidates[:, i] = edge
            for start in np.unique(candidates, axis=0):
                result = optimize.minimize(
                    objective, start, jac=jac, method="L-BFGS-B", bounds=fixed
                )
                if np.isfinite(result.fun) and result.fun - best.fun < PROFILE_DROP:
                    return True
    return False


def _interval(values, quantiles) -> dict[str, float]:
    lower, upper = np.nanquantile(values, quantiles)
    return {"lower": float(lower), "upper": float(upper)}


def _bootstrap(fitted: BaselineFit, ks, replicates: int, seed: int):
    """Refit `replicates` resamples of the problems (with replacement): log(1 - pass@k), exponent.

    A resample without a success has pass@k 0 at every k, and one with every attempt a success
    1: the limits of every method's fit, which cannot be fitted there. Leaving them out would
    cut the tail of the spread they belong to (a third of the resamples of 20 problems of which
    one was ever solved). They have no exponent, and the exponent's interval is over the others.
    A resample that still cannot be fitted, or forecasts NaN, is left out with a warning.
    """
    check_seed(seed, numpy=True)
    rng = np.random.default_rng(seed)
    data = fitted.data
    log_survivals = np.full((replicates, ks.size), np.nan)
    exponents = np.full(replicates, np.nan)
    unfitted = 0
    for index in range(replicates):
        pick = rng.integers(0, data.num_problems, data.num_problems)
        sample = PassData(data.problem_id[pick], data.n[pick], data.c[pick], data.group[pick])
        none_solved, all_solved = sample.c.sum() == 0, (sample.c == sample.n).all()
        if none_solved or all_solved:
            log_survivals[index] = 0.0 if none_solved else -np.inf
            continue
        try:
            with warnings.catch_warnings():  # a resample at a bound is part of the spread
                warnings.simplefilter("ignore", BaselineFitWarning)
                refit = _fit(sample, fitted.method, fitted.options, profile=False)
                curve = refit.log_survival(ks)
        except InputError:
            curve = np.nan
        if np.isnan(curve).any():
            unfitted += 1
            continue
        log_survivals[index] = curve
        exponents[index] = refit.exponent
    if unfitted:
        warnings.warn(
            f"{fitted.method}: {unfitted} of {replicates} bootstrap resamples could not be "
            f"fitted or forecast NaN; the intervals are over the other {replicates - unfitted}",
            BaselineFitWarning,
            stacklevel=3,
        )
    return log_survivals, exponents


METHODS: dict[str, _Method] = {
    "regression": _Method(_fit_regression, _regression_log_survival),
    "discretized-beta": _Method(
        partial(_fit_discretized, cdf=_beta_cdf), _scaled_log_survival("scaled-beta"), profiled=True
    ),
    "discretized-kumaraswamy": _Method(
        partial(_fit_discretized, cdf=_kumaraswamy_cdf),
        _scaled_log_survival("kumaraswamy"),
        profiled=True,
    ),
    "beta-binomial": _Method(_fit_beta_binomial, _beta_binomial_log_survival, profiled=True),
    "scaled-beta-binomial": _Method(
        partial(_fit_scaled_binomial, family_name="scaled-beta"),
        _scaled_log_survival("scaled-beta"),
        profiled=True,
    ),
    "kumaraswamy-binomial": _Method(
        partial(_fit_scaled_binomial, family_name="kumaraswamy"),
        _scaled_log_survival("kumaraswamy"),
        profiled=True,
    ),
}
