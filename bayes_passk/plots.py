"""Plots of pass@k forecasts: the posterior curve with its credible band on a log k axis.

Example:
    >>> import bayes_passk as bp
    >>> data = bp.PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
    >>> result = bp.fit(data, chains=2, warmup=200, samples=200, progress=False, check=False)
    >>> figure = plot_forecast({"demo": result.forecast([1, 10, 100, 1000])})
    >>> len(figure.axes)
    1
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure  # not pyplot: no window, no display, the user's backend kept
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from bayes_passk.forecast import Forecast

LEGEND_INSIDE = 8  # legend entries that fit inside the axes; more go beside them
LEGEND_ROWS = 24  # entries per column of a legend beside the axes
CROWDED = 10  # more forecasts than this: no bands, one legend entry each
DODGE = 0.02  # decades between methods at one budget in `plot_backtest`


def plot_forecast(
    forecasts: Mapping[str, Forecast] | Forecast,
    truth: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    title: str | None = None,
    solved: Mapping[str, np.ndarray] | None = None,
    shared_truth: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Plot forecasts on one log-k figure: posterior means, credible bands, unbiased estimates.

    Each named forecast gets its mean curve, its band, and the unbiased estimates where k <= n;
    ``truth`` optionally adds (k, pass@k) curves by the same names, and ``solved`` dotted
    curves at each forecast's k: the part of the mean from problems solved at least once (the
    mean less `bayes_passk.forecast.unsolved_part`), whose gap to the mean rests on the prior's
    tail; ``shared_truth``, one (k, pass@k) curve for forecasts of the same data (several
    priors), drawn once in black. A single `Forecast` is named by its method. Forecast on many
    k (e.g. the default grid) for a smooth curve; at one k, points and markers are drawn. Beside
    more than `CROWDED` forecasts, bands are left out and each forecast has one legend entry.

    Returns:
        The matplotlib Figure (save it with ``figure.savefig(path, dpi=150)``).
    """
    if isinstance(forecasts, Forecast):
        forecasts = {forecasts.method: forecasts}
    if not isinstance(forecasts, Mapping) or not all(
        isinstance(value, Forecast) for value in forecasts.values()
    ):
        raise TypeError(
            "plot_forecast takes a Forecast or a dict of them by name, "
            f"got {type(forecasts).__name__}"
        )
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    if len(forecasts) > len(colors):  # more curves than the cycle: one colour each
        colors = list(mpl.colormaps["turbo"](np.linspace(0.05, 0.95, len(forecasts))))
    entries = []  # (handle, label): one legend entry per forecast, its band under its line
    # Many forecasts: their bands would cover each other, and a legend entry for each mark of
    # each forecast would fill the figure; one line and one entry per forecast.
    crowded = len(forecasts) > CROWDED
    # Forecasts of the same data (several priors) share their unbiased estimates: shown once.
    shared_estimates = len(forecasts) > 1 and _same_unbiased(list(forecasts.values()))
    for index, (name, forecast) in enumerate(forecasts.items()):
        color = colors[index % len(colors)]
        label = _literal(name or forecast.method, limit=40)
        bayesian = forecast.diagnostics is not None  # point methods: bootstrap intervals
        kind = "credible" if bayesian else "bootstrap"
        center = f"{label}: {'posterior mean' if bayesian else 'estimate'}"
        if forecast.k.size == 1:  # one k: a point with an error bar, not a band
            if np.isfinite(forecast.lower).any():
                center = f"{center}, {forecast.ci:.0%} {kind} interval"
            bar = axes.errorbar(
                forecast.k,
                forecast.mean,
                yerr=[forecast.mean - forecast.lower, forecast.upper - forecast.mean],
                fmt="s",
                color=color,
                capsize=4,
                label=center,
            )
            entries.append((bar, center))
        elif crowded:
            (line,) = axes.plot(forecast.k, forecast.mean, color=color, label=label)
            entries.append((line, label))
        else:
            (line,) = axes.plot(forecast.k, forecast.mean, color=color, label=center)
            if np.isfinite(forecast.lower).any():  # a point method without bootstrap has none
                band = axes.fill_between(
                    forecast.k,
                    forecast.lower,
                    forecast.upper,
                    color=color,
                    alpha=0.2,
                    linewidth=0,
                    label=f"{label}: {forecast.ci:.0%} {kind} interval",
                )
                entries.append(((band, line), f"{center}, {forecast.ci:.0%} {kind} interval"))
            else:
                entries.append((line, center))
        if not shared_estimates:
            marks = _plot_unbiased(axes, forecast, color, f"{label}: ")
            entries += [] if crowded else marks
        if solved and name in solved:
            if np.shape(solved[name]) != forecast.k.shape:
                raise ValueError(
                    f"solved[{name!r}] has shape {np.shape(solved[name])}; the forecast has "
                    f"{forecast.k.size} values of k"
                )
            part = f"{label}: part from problems solved so far"
            curve = _curve(axes, forecast.k, solved[name], ":", "v", color=color, label=part)
            entries.append((curve, part))
        if truth and name in truth:
            k, value = truth[name]
            truth_label = f"{label}: truth"
            # Black beside one forecast; beside several, each truth in its forecast's colour.
            shade = "black" if len(forecasts) == 1 else color
            curve = _curve(axes, k, value, "--", "D", color=shade, linewidth=1, label=truth_label)
            entries += [] if crowded else [(curve, truth_label)]
    if crowded:  # what the marks mean, once, in grey
        gray = {"color": "0.4"}
        entries.append((Line2D([], [], **gray), f"mean (no intervals: over {CROWDED} curves)"))
        seen = any(np.isfinite(forecast.unbiased).any() for forecast in forecasts.values())
        if seen and not shared_estimates:  # shared ones have their own entry
            dots = Line2D([], [], marker="o", markersize=4, linestyle="None", **gray)
            entries.append((dots, "unbiased estimate (k <= n)"))
        if truth:
            entries.append((Line2D([], [], linestyle="--", **gray), "truth"))
    if shared_estimates:
        entries += _plot_unbiased(axes, next(iter(forecasts.values())), "black", "")
    if shared_truth is not None:
        curve = _curve(axes, *shared_truth, "--", "D", color="black", linewidth=1, label="truth")
        entries.append((curve, "truth"))
    axes.set_xscale("log")
    axes.set_ylim(-0.02, 1.02)  # a curve or band at exactly 0 or 1 stays in view
    axes.set_xlabel("attempts per problem k")
    targets = {forecast.target for forecast in forecasts.values()}
    axes.set_ylabel("pass@k" + (" (new problem)" if targets == {"new"} else ""))
    axes.grid(True, which="major", alpha=0.3)
    if len(entries) > LEGEND_INSIDE:
        # Beside the axes, in as many columns as it takes, the figure widened to make room.
        columns = math.ceil(len(entries) / LEGEND_ROWS)
        longest = max(len(label) for _, label in entries)
        figure.set_size_inches(7 + columns * (0.5 + 0.055 * longest), 4.5)  # 7-point text
        figure.legend(
            *zip(*entries, strict=True), fontsize=7, loc="outside right upper", ncols=columns
        )
    elif entries:
        axes.legend(*zip(*entries, strict=True), fontsize=8, loc="best")
    if title:
        axes.set_title(_literal(title, limit=70))
    return figure


def _curve(axes, k, values, line: str, marker: str, **style):
    """Draw values against k as a line, or at a single k as a marker (a line would not show)."""
    (curve,) = axes.plot(k, values, line if np.size(k) > 1 else marker, **style)
    return curve


def _plot_unbiased(axes, forecast: Forecast, color, prefix: str) -> list:
    """Draw the unbiased estimates where k <= n; return their legend entry, if any."""
    seen = np.isfinite(forecast.unbiased)
    if not seen.any():
        return []
    label = f"{prefix}unbiased estimate (k <= n)"
    k, unbiased = forecast.k[seen], forecast.unbiased[seen]
    (points,) = axes.plot(k, unbiased, "o", color=color, markersize=4, label=label)
    return [(points, label)]


def _literal(text: str, limit: int) -> str:
    r"""``text`` shown as written, cut in the middle to ``limit`` characters with an ellipsis.

    A group or file name such as ``run_$a$`` is not math text; a long one would push the
    legend off the axes. Its end is kept: names often differ only there (``..._t0.7``).

    Example:
        >>> print(_literal("run_$a$", limit=40), _literal("model-a-" * 5 + "t0.7", limit=20))
        run_\$a\$ model-a-m…del-a-t0.7
    """
    if len(text) > limit:
        head = (limit - 1) // 2
        text = text[:head] + "…" + text[len(text) - (limit - 1 - head) :]
    return text.replace("$", r"\$")


def _same_unbiased(forecasts: list[Forecast]) -> bool:
    """Whether every forecast carries the same unbiased estimates at the same k."""
    first = forecasts[0]
    return all(
        np.array_equal(f.k, first.k) and np.array_equal(f.unbiased, first.unbiased, equal_nan=True)
        for f in forecasts[1:]
    )


def save_figure(figure, path) -> None:
    """Save as PNG at 150 dpi."""
    figure.savefig(path, dpi=150, format="png")


def plot_backtest(summary, metric: str = "mse", reference: float | None = None):
    """One panel per k: `metric` of each method against the attempt budget, averaged over groups.

    Every method is averaged over the same groups: those where each method that reports the
    metric has a value (a method whose fits failed in a group would otherwise be averaged over
    easier groups than the others); the title says when groups were left out, and how many
    fits failed (not scored: that method's figure is over fewer replicates). With one group
    the MSE carries its bootstrap interval (``mse_lower``, ``mse_upper``) as error bars; with
    several, the average carries the groups' half-widths combined as for a mean of independent
    estimates, sqrt(sum h_g^2) / G. Methods are drawn side by side around each budget.

    Args:
        summary: the table of `bayes_passk.backtest.summarize`.
        metric: a column of it, e.g. ``mse``, ``abs_error``, ``coverage``.
        reference: draw a horizontal line there (e.g. the nominal coverage 0.9).

    Returns:
        A matplotlib Figure.
    """
    ks = sorted(summary["k"].unique())
    figure = Figure(figsize=(4.5 * len(ks), 3.6))
    axes = figure.subplots(1, len(ks), squeeze=False)
    for ax, k in zip(axes[0], ks, strict=True):
        part = summary[summary["k"] == k]
        wide = part.set_index(["design", "group", "budget", "method"])[metric].unstack("method")
        wide = wide[part["method"].unique()]  # the table's order of methods
        shared = wide.loc[:, wide.notna().any()].dropna()
        for place, (method, values) in enumerate(shared.items()):
            mean = values.groupby(level="budget").mean()
            # Methods side by side around each budget, so that equal values do not hide.
            mean.index = mean.index * 10 ** (DODGE * (place - (len(shared.columns) - 1) / 2))
            if metric == "mse" and {"mse_lower", "mse_upper"} <= set(part):
                rows = part[part["method"] == method].set_index(list(shared.index.names))
                rows = rows.loc[values.index]
                # A group without an interval (one replicate) counts with half-width 0.
                below = (rows["mse"] - rows["mse_lower"]).clip(lower=0).fillna(0)
                above = (rows["mse_upper"] - rows["mse"]).clip(lower=0).fillna(0)
                yerr = [_half_width_of_mean(below), _half_width_of_mean(above)]
                ax.errorbar(mean.index, mean, yerr=yerr, marker="o", capsize=3, label=method)
            else:
                ax.plot(mean.index, mean.to_numpy(), marker="o", label=method)
        if not ax.lines:  # an error-bar plot adds its line too
            ax.text(0.5, 0.5, f"no method reports {metric}", ha="center", transform=ax.transAxes)
        if reference is not None:
            ax.axhline(reference, color="0.5", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        budgets = sorted(part["budget"].unique())  # labelled as they are, not as 3 x 10^1
        ax.set_xticks(budgets, [str(budget) for budget in budgets])
        ax.xaxis.set_minor_formatter(NullFormatter())
        if metric in ("mse", "abs_error", "log_log_se", "exponent_rel_error"):
            ax.set_yscale("log")
        elif metric == "coverage":  # a share: every panel on the same scale
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("attempts per problem")
        ax.set_ylabel(metric)
        left_out = len(wide) - len(shared) if len(shared.columns) else 0
        notes = [f"{left_out} group/budget cells left out"] if left_out else []
        # A failed fit is not scored: that method's figure is over fewer replicates.
        if "failed" in part:
            failed = int(part.loc[part["method"].isin(shared.columns), "failed"].sum())
            notes += [f"{failed} failed fits not scored"] if failed else []
        ax.set_title("; ".join([f"k = {k}", *notes]), fontsize=9 if notes else None)
    if axes[0][-1].get_legend_handles_labels()[0]:
        axes[0][-1].legend(fontsize=7)
    figure.tight_layout()
    return figure


def _half_width_of_mean(half_widths):
    """sqrt(sum h_g^2) / G per budget: the half-width of a mean of G independent estimates."""
    by_budget = half_widths.groupby(level="budget")
    return np.sqrt((half_widths**2).groupby(level="budget").sum()) / by_budget.size()
