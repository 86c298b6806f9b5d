"""Plots of pass@k forecasts: the posterior curve with its credible band on a log k axis.

Example (a point method's forecast, with bootstrap intervals; a fit's `forecast` plots alike):
    >>> from bayes_passk import datasets
    >>> from bayes_passk.baselines import fit_baseline
    >>> data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100)
    >>> fit = fit_baseline(data, "beta-binomial")
    >>> figure = plot_forecast({"beta-binomial": fit.forecast([1, 10, 100, 1000], bootstrap=20)})
    >>> len(figure.axes)
    1
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure  # not pyplot: no window, no display, the user's backend kept
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from bayes_passk.data import InputError, is_positive_int, percent
from bayes_passk.forecast import Forecast

LEGEND_INSIDE = 8  # legend entries that fit inside the axes; more go beside them
LEGEND_ROWS = 24  # entries per column of a legend beside the axes
FILLED = 3  # more forecasts than this: each band drawn as its two edges, not filled
CROWDED = 10  # more forecasts than this: no bands, one legend entry each
DODGE = 0.02  # decades between methods at one budget, or forecasts at one k
TITLE_LENGTH = 70  # characters of a title; longer ones are cut in the middle
NO_BAR = " (none under 5 scored replicates)"  # the key's note where a point has no interval
# Characters per line: a backtest panel's notes at 9 points in its 4.5 inches (less the y
# axis), and a legend label at 7 points in the 2.2 inches left for the legend.
PANEL_NOTE_CHARACTERS = 60
LEGEND_CHARACTERS = 42


def plot_forecast(
    forecasts: Mapping[str, Forecast] | Forecast,
    truth: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
    title: str | None = None,
    solved: Mapping[str, np.ndarray] | None = None,
    shared_truth: tuple[np.ndarray, np.ndarray] | None = None,
    attempts: int | None = None,
):
    """Plot forecasts on one log-k figure: posterior means, credible bands, unbiased estimates.

    Each named forecast gets its mean curve, its band, and the unbiased estimates where k <= n;
    ``truth`` optionally adds (k, pass@k) curves by the same names, and ``solved`` dotted
    curves at each forecast's k: the part of the mean from problems solved at least once (the
    mean less `bayes_passk.forecast.unsolved_part`), whose gap to the mean rests on the prior's
    tail; ``shared_truth``, one (k, pass@k) curve for forecasts of the same data (several
    priors), drawn once in black; ``attempts``, the most attempts per problem the fits saw, a
    dotted vertical line: beyond it the curve is a forecast. A single `Forecast` is named by
    its method; beside a ``title``, one forecast's legend leaves its name to the title.
    Forecast on many k (e.g. the default grid) for a smooth curve; at one k, points with error
    bars are drawn side by side. Beside more than `FILLED` forecasts, each band is drawn as its
    two edges (filled bands would cover each other); beside more than `CROWDED`, bands are left
    out and each forecast has one legend entry.

    Returns:
        The matplotlib Figure (save it with ``figure.savefig(path, dpi=150)``).

    Example:
        >>> from bayes_passk import datasets
        >>> from bayes_passk.baselines import fit_baseline
        >>> data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100)
        >>> forecast = fit_baseline(data, "regression").forecast([1, 100, 10_000])
        >>> figure = plot_forecast({"Pythia 12B": forecast}, attempts=100)
        >>> figure.axes[0].get_xlabel()
        'attempts per problem k'
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
    if not forecasts:
        raise InputError("plot_forecast takes at least one forecast, got an empty dict")
    if truth:
        truth = {name: _k_and_values(f"truth[{name!r}]", pair) for name, pair in truth.items()}
    if shared_truth is not None:
        shared_truth = _k_and_values("shared_truth", shared_truth)
    if attempts is not None and not is_positive_int(attempts):
        raise InputError(f"attempts must be a positive integer, got {attempts!r}")
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    colors = _colors(len(forecasts))
    entries = []  # (handle, label): one legend entry per forecast, its band under its line
    # Many forecasts: their bands would cover each other, and a legend entry for each mark of
    # each forecast would fill the figure; one line and one entry per forecast.
    crowded = len(forecasts) > CROWDED
    filled = len(forecasts) <= FILLED
    bayesian_only = all(forecast.diagnostics is not None for forecast in forecasts.values())
    # Forecasts of the same data (several priors) share their unbiased estimates: shown once.
    shared_estimates = len(forecasts) > 1 and _same_unbiased(list(forecasts.values()))
    names = [name or forecast.method for name, forecast in forecasts.items()]
    labels = [_escaped(label) for label in _short_names(names, limit=40)]
    for index, (name, forecast) in enumerate(forecasts.items()):
        order = np.argsort(forecast.k, kind="stable")  # drawn along k, whatever order it has
        forecast = forecast.at(forecast.k[order])
        color = colors[index]
        label = labels[index]
        # One forecast under a title (which names it): entries without the name.
        prefix = "" if len(forecasts) == 1 and title else f"{label}: "
        bayesian = forecast.diagnostics is not None  # point methods: bootstrap intervals
        kind = "credible" if bayesian else "bootstrap"
        center = f"{prefix}{'posterior mean' if bayesian else 'estimate'}"
        # At one k, forecasts side by side around it, so that their bars do not hide.
        shift = _dodge(index, len(forecasts)) if forecast.k.size == 1 else 1
        if forecast.k.size == 1:  # one k: a point with an error bar, not a band
            if np.isfinite(forecast.lower).any():
                center = f"{center}, {percent(forecast.ci)} {kind} interval"
            # A mean outside its interval (possible for a bootstrap) would be a negative bar.
            below = np.maximum(forecast.mean - forecast.lower, 0)
            above = np.maximum(forecast.upper - forecast.mean, 0)
            bar = axes.errorbar(
                forecast.k * shift,
                forecast.mean,
                yerr=[below, above],
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
            interval = f"{percent(forecast.ci)} {kind} interval"
            if np.isfinite(forecast.lower).any() and filled:  # a point method may have none
                band = axes.fill_between(
                    forecast.k,
                    forecast.lower,
                    forecast.upper,
                    color=color,
                    alpha=0.2,
                    linewidth=0,
                    label=f"{prefix}{interval}",
                )
                entries.append(((band, line), f"{center}, {interval}"))
            elif np.isfinite(forecast.lower).any():
                style = {"color": color, "linewidth": 0.8, "alpha": 0.7}
                axes.plot(forecast.k, forecast.lower, **style, label=f"{prefix}{interval}")
                axes.plot(forecast.k, forecast.upper, **style)
                entries.append((line, f"{center}, {interval} (thin lines)"))
            else:
                entries.append((line, center))
        if not shared_estimates:
            marks = _plot_unbiased(axes, forecast, color, prefix, shift)
            entries += [] if crowded else marks
        if solved and name in solved:
            if np.shape(solved[name]) != forecast.k.shape:
                raise InputError(
                    f"solved[{name!r}] has shape {np.shape(solved[name])}; the forecast has "
                    f"{forecast.k.size} values of k"
                )
            part = f"{prefix}part from problems solved so far"
            curve = _curve(
                axes,
                forecast.k * shift,
                np.asarray(solved[name])[order],
                ":",
                "v",
                color=color,
                label=part,
            )
            entries.append((curve, part))
        if truth and name in truth:
            k, value = truth[name]
            along = np.argsort(k, kind="stable")
            k, value = k[along], value[along]
            truth_label = f"{prefix}truth"
            # Black beside one forecast; beside several, each truth in its forecast's colour.
            shade = "black" if len(forecasts) == 1 else color
            k = k * shift if np.size(k) == 1 else k
            curve = _curve(axes, k, value, "--", "D", color=shade, linewidth=1, label=truth_label)
            entries += [] if crowded else [(curve, truth_label)]
    if crowded:  # what the marks mean, once, in grey
        gray = {"color": "0.4"}
        center = "posterior mean" if bayesian_only else "estimate"
        single = all(forecast.k.size == 1 for forecast in forecasts.values())
        key = center if single else f"{center} (no intervals: over {CROWDED} curves)"
        entries.append((Line2D([], [], **gray), key))
        seen = any(np.isfinite(forecast.unbiased).any() for forecast in forecasts.values())
        if seen and not shared_estimates:  # shared ones have their own entry
            dots = Line2D([], [], marker="o", markersize=4, linestyle="None", **gray)
            entries.append((dots, "unbiased estimate (k <= n)"))
        if truth:
            entries.append((Line2D([], [], linestyle="--", **gray), "truth"))
    if shared_estimates:
        entries += _plot_unbiased(axes, next(iter(forecasts.values())), "black", "")
    if attempts is not None:
        line = axes.axvline(attempts, color="0.5", linestyle=":", linewidth=1)
        entries.append((line, f"attempts per problem fitted ({attempts:,})"))
    if shared_truth is not None:
        curve = _curve(axes, *shared_truth, "--", "D", color="black", linewidth=1, label="truth")
        entries.append((curve, "truth"))
    axes.set_xscale("log")
    drawn_ks = [forecast.k for forecast in forecasts.values()]
    drawn_ks += [[attempts]] if attempts is not None else []  # its line spans the axis too
    _plain_ticks_within_a_decade(axes, drawn_ks)
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
        axes.set_title(_literal(title, limit=TITLE_LENGTH))
    return figure


def _method_colors(methods) -> dict:
    """Return a colour per method or policy: the same in every figure and panel of a run.

    The methods are put in the package's order (bayes-<family>, the point methods, the
    allocation policies; other names after them, in the order given) and take the colours in
    turn: the figures of one backtest, given the same methods (a paired figure its
    references too), colour each alike whatever each panel holds.
    """
    from bayes_passk.baselines import METHODS
    from bayes_passk.models import family_names

    known = [f"bayes-{name}" for name in family_names()] + list(METHODS)
    known += ["uniform", "dynamic", "bayes"]
    present = list(dict.fromkeys(methods))
    names = [name for name in known if name in present]
    names += [name for name in present if name not in known]
    return dict(zip(names, _colors(len(names)), strict=True))


def _colors(count: int) -> list:
    """One colour per curve: the style's cycle, then tab20's dark hues before its light ones.

    Beyond 20, turbo: distinct, if neighbours are alike.
    """
    colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
    if count > len(colors):
        tab20 = mpl.colormaps["tab20"].colors
        colors = [*tab20[0::2], *tab20[1::2]]
    if count > len(colors):
        colors = list(mpl.colormaps["turbo"](np.linspace(0.05, 0.95, count)))
    return [colors[i % len(colors)] for i in range(count)]


def _plain_ticks_within_a_decade(axes, ks) -> None:
    """Label k plainly (150, 300) where the curves span less than a decade: no 10^n tick."""
    k = np.concatenate([np.ravel(values) for values in ks])
    if k.size and k.max() < 10 * k.min():
        ticks = np.unique(k) if np.unique(k).size <= 6 else np.geomspace(k.min(), k.max(), 5)
        axes.set_xticks(ticks, [f"{tick:.0f}" if tick < 1e6 else f"{tick:.3g}" for tick in ticks])
        axes.xaxis.set_minor_formatter(NullFormatter())


def _k_and_values(name: str, pair) -> tuple[np.ndarray, np.ndarray]:
    """``pair`` as (k, pass@k), two 1-D arrays of one length; `InputError` naming it otherwise."""
    try:
        k, values = (np.atleast_1d(np.asarray(part, dtype=float)) for part in pair)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair (k, pass@k) of numbers, got {pair!r}") from None
    if k.ndim != 1 or k.shape != values.shape:
        raise InputError(
            f"{name} must be (k, pass@k) of one length, got {k.size} k and {values.size} values"
        )
    return k, values


def _curve(axes, k, values, line: str, marker: str, **style):
    """Draw values against k as a line, or at a single k as a marker (a line would not show)."""
    (curve,) = axes.plot(k, values, line if np.size(k) > 1 else marker, **style)
    return curve


def _plot_unbiased(axes, forecast: Forecast, color, prefix: str, shift: float = 1.0) -> list:
    """Draw the unbiased estimates where k <= n; return their legend entry, if any.

    ``shift`` sets them beside their forecast's mark where forecasts stand side by side (at
    one k), and they are drawn over the marks: another forecast's could hide them.
    """
    seen = np.isfinite(forecast.unbiased)
    if not seen.any():
        return []
    label = f"{prefix}unbiased estimate (k <= n)"
    k, unbiased = forecast.k[seen], forecast.unbiased[seen]
    (points,) = axes.plot(
        k * shift, unbiased, "o", color=color, markersize=4, label=label, zorder=3
    )
    return [(points, label)]


def _short_names(names: list[str], limit: int) -> list[str]:
    """Each name `shorten`ed to ``limit``, or longer where that would make two names alike.

    Example:
        >>> _short_names(["a" * 50, "b" * 50], 12)
        ['aaaaa…aaaaaa', 'bbbbb…bbbbbb']
        >>> _short_names(["org/model-a-temperature-0.7", "org/model-b-temperature-0.7"], 12)
        ['org/model-a-temperature-0.7', 'org/model-b-temperature-0.7']
    """
    while limit < max(map(len, names), default=0):
        short = [shorten(name, limit) for name in names]
        if len(set(short)) == len(set(names)):
            return short
        limit += 10
    return list(names)


def _escaped(text: str) -> str:
    """``text`` shown as written: a ``$`` is not the start of math text."""
    return text.replace("$", r"\$")


def _literal(text: str, limit: int) -> str:
    r"""``text`` shown as written (`shorten`ed to ``limit`` characters): no math text.

    A group or file name such as ``run_$a$`` is not math text.

    Example:
        >>> print(_literal("run_$a$", limit=40), _literal("model-a-" * 5 + "t0.7", limit=20))
        run_\$a\$ model-a-m…del-a-t0.7
    """
    return _escaped(shorten(text, limit))


def shorten(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters with an ellipsis.

    A long name would push the legend off the axes. Its end is kept: names often differ only
    there (``..._t0.7``).

    Example:
        >>> shorten("model-a-" * 5 + "t0.7", limit=20)
        'model-a-m…del-a-t0.7'
    """
    if len(text) > limit:
        head = (limit - 1) // 2
        text = text[:head] + "…" + text[len(text) - (limit - 1 - head) :]
    return text


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


METRIC_LABELS = {
    "mse": "MSE of pass@k",
    "abs_error": "absolute error of pass@k",
    "coverage": "coverage of the intervals",
    "width": "mean interval width",
    "log_log_se": "squared error of log(-log pass@k)",
    "exponent_rel_error": "relative error of the exponent",
}
LOG_METRICS = ("mse", "abs_error", "log_log_se", "exponent_rel_error")


def plot_backtest(summary, metric: str = "mse", reference: float | None = None, title=None):
    """One panel per k: `metric` of each method against the attempt budget, averaged over groups.

    Every method is averaged over the same groups: those where each method that reports the
    metric has a value (a method whose fits failed in a group would otherwise be averaged over
    easier groups than the others); the panel's title says when groups were left out, and how
    many fits failed (not scored: that method's figure is over fewer replicates). With one group
    the MSE carries its bootstrap interval (``mse_lower``, ``mse_upper``) as error bars; with
    several, the average carries the groups' half-widths combined as for a mean of independent
    estimates, sqrt(sum h_g^2) / G (no bar where a group has none: under 5 replicates).
    Coverage carries the 90% Wilson interval of the share of the scored replicates' intervals
    that covered. Methods are drawn side by side around each budget; the legend, beside the
    panels, says what the bars are.

    Args:
        summary: the table of `bayes_passk.backtest.summarize`.
        metric: a column of it, e.g. ``mse``, ``abs_error``, ``coverage``.
        reference: draw a horizontal line there (e.g. the nominal coverage 0.9).
        title: the figure's title, before what the summary says of itself (design, groups,
            replicates per cell).

    Returns:
        A matplotlib Figure.

    Example:
        >>> import pandas as pd
        >>> summary = pd.DataFrame({"method": ["a", "b"], "design": "d", "group": "g",
        ...                         "budget": 10, "k": 100, "mse": [0.01, 0.02]})
        >>> plot_backtest(summary, "mse").axes[0].get_ylabel()
        'MSE of pass@k'
    """
    ks = sorted(summary["k"].unique())
    figure = Figure(figsize=(4.5 * len(ks) + 2.2, 3.9), layout="constrained")
    axes = figure.subplots(1, len(ks), squeeze=False)
    entries: dict[str, object] = {}  # label -> handle, across the panels
    bars = None
    unbarred = False  # an MSE without an interval (under 5 replicates)
    color = _method_colors(summary["method"])
    for ax, k in zip(axes[0], ks, strict=True):
        part = summary[summary["k"] == k]
        zeros = 0  # points at 0 or below, which a log scale does not draw
        wide = part.set_index(["design", "group", "budget", "method"])[metric].unstack("method")
        wide = wide[part["method"].unique()]  # the table's order of methods
        shared = wide.loc[:, wide.notna().any()].dropna()
        for place, (method, values) in enumerate(shared.items()):
            mean = values.groupby(level="budget").mean()
            zeros += int((mean <= 0).sum())
            # Methods side by side around each budget, so that equal values do not hide.
            x = mean.index * _dodge(place, len(shared.columns))
            rows = part[part["method"] == method].set_index(list(shared.index.names))
            rows = rows.loc[values.index]
            yerr = _error_bars(metric, rows, mean)
            if yerr is not None:
                bars = "bootstrap" if metric == "mse" else "Wilson"
                unbarred |= bool(np.isnan(yerr[0]).any())
                drawn = ax.errorbar(
                    x, mean, yerr=yerr, marker="o", capsize=3, label=method, color=color[method]
                )
            else:
                (drawn,) = ax.plot(
                    x, mean.to_numpy(), marker="o", label=method, color=color[method]
                )
            entries.setdefault(method, drawn)
        if not ax.lines:  # an error-bar plot adds its line too
            ax.text(0.5, 0.5, f"no method reports {metric}", ha="center", transform=ax.transAxes)
        if reference is not None:
            shown = f"nominal {percent(reference)}" if metric == "coverage" else f"{reference:g}"
            line = ax.axhline(reference, color="0.5", linestyle="--", linewidth=1)
            entries.setdefault(shown, line)
        _budget_axis(ax, part["budget"])
        if metric in LOG_METRICS:
            ax.set_yscale("log")
        elif metric == "coverage":  # a share: every panel on the same scale
            ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("attempts per problem")
        ax.set_ylabel(METRIC_LABELS.get(metric, metric))
        left_out = len(wide) - len(shared) if len(shared.columns) else 0
        notes = [f"{left_out} group/budget cells left out"] if left_out else []
        if zeros and metric in LOG_METRICS:
            notes.append(f"{zeros} value{'s' * (zeros > 1)} of 0 not drawn (log scale)")
        # A failed fit is not scored: that method's figure is over fewer replicates.
        if "failed" in part:
            failed = part[part["method"].isin(shared.columns)].groupby("method", sort=False)
            counts = {name: int(count) for name, count in failed["failed"].sum().items() if count}
            if counts:
                total = sum(counts.values())
                which = ", ".join(f"{name} {count}" for name, count in counts.items())
                notes.append(f"{total} failed fit{'s' * (total > 1)} not scored ({which})")
        if {"failed", "replicates"} <= set(part):
            # A method whose every fit failed has no value to draw: say so, not nothing.
            lost = part.groupby("method", sort=False)[["failed", "replicates"]].sum()
            lost = [name for name, row in lost.iterrows() if row["failed"] == row["replicates"]]
            if lost:
                notes.append(f"every fit failed: {', '.join(lost)}")
        _panel_title(ax, k, notes)
    if bars:
        level = "90% studentized bootstrap" if bars == "bootstrap" else "90% Wilson"
        entries[f"bars: {level} interval" + (NO_BAR if unbarred else "")] = _bars_key()
    _legend_and_title(figure, entries, _backtest_title(summary, title))
    return figure


def plot_paired(paired, title=None, level: float | None = None):
    """One panel per k: each method's MSE minus the reference's, against the attempt budget.

    The rows of `bayes_passk.backtest.paired_differences`, averaged over groups as in
    `plot_backtest` (every method over the same groups: those where each has a difference;
    the panel's title says when groups were left out), with the studentized bootstrap
    intervals as error bars, none where a group has fewer than 5 replicates (their level:
    ``level``, else the table's ``level`` column, else unsaid); a method below the dashed line
    at 0 forecast better than the reference on the same replicates.

    Returns:
        A matplotlib Figure.

    Example:
        >>> import pandas as pd
        >>> paired = pd.DataFrame({"method": "b", "reference": "a", "design": "d", "group": "g",
        ...                        "budget": [10, 30], "k": 100, "difference": [-0.01, -0.02],
        ...                        "lower": [-0.03, -0.04], "upper": [0.01, 0.0]})
        >>> plot_paired(paired).axes[0].get_ylabel()
        "MSE of pass@k minus a's"
    """
    ks = sorted(paired["k"].unique())
    figure = Figure(figsize=(4.5 * max(len(ks), 1) + 2.2, 3.9), layout="constrained")
    axes = figure.subplots(1, max(len(ks), 1), squeeze=False)
    references = ", ".join(paired["reference"].unique())
    entries: dict[str, object] = {}
    unbarred = False  # a point without an interval (under 5 replicates)
    color = _method_colors([*paired["method"], *paired["reference"]])
    for ax, k in zip(axes[0][: len(ks)], ks, strict=True):  # an empty table: one panel, none
        part = paired[paired["k"] == k]
        methods = part["method"].unique()
        cells = ["design", "group", "budget"]
        wide = part.set_index([*cells, "method"])["difference"].unstack("method")
        shared = wide.dropna().index  # cells where every method has a difference
        for place, method in enumerate(methods):
            rows = part[part["method"] == method].set_index(cells).loc[shared]
            mean = rows["difference"].groupby(level="budget").mean()
            below = (rows["difference"] - rows["lower"]).clip(lower=0)
            above = (rows["upper"] - rows["difference"]).clip(lower=0)
            yerr = [_half_width_of_mean(below), _half_width_of_mean(above)]
            unbarred |= bool(np.isnan(yerr[0]).any())
            x = mean.index * _dodge(place, len(methods))
            drawn = ax.errorbar(
                x, mean, yerr=yerr, marker="o", capsize=3, label=method, color=color[method]
            )
            entries.setdefault(method, drawn)
        if shared.empty:
            text = "no group/budget cell where every method has a difference"
            ax.text(0.5, 0.5, text, ha="center", transform=ax.transAxes)
        line = ax.axhline(0, color="0.5", linestyle="--", linewidth=1)
        entries.setdefault(f"no difference from {references}", line)
        _budget_axis(ax, part["budget"])
        ax.set_xlabel("attempts per problem")
        ax.set_ylabel(f"MSE of pass@k minus {references}'s")
        left_out = len(wide) - len(shared)
        _panel_title(ax, k, [f"{left_out} group/budget cells left out"] if left_out else [])
    if not ks:
        axes[0][0].text(0.5, 0.5, "no paired differences", ha="center")
    else:
        if level is None and "level" in paired and paired["level"].nunique() == 1:
            level = paired["level"].iloc[0]
        said = "" if level is None else f"{percent(level)} "
        key = f"bars: {said}studentized bootstrap interval"
        entries[key + (NO_BAR if unbarred else "")] = _bars_key()
        _legend_and_title(figure, entries, _backtest_title(paired, title))
    return figure


def plot_differences(comparison, title=None):
    """pass@k(A) - pass@k(B) against k for each compared pair, with its credible interval.

    ``comparison`` holds the rows of `bayes_passk.compare.difference_table` (or
    `bayes_passk.compare.compare_groups`), with columns ``a`` and ``b`` naming each pair
    (without them, one pair named A - B), and optionally ``true_difference`` (drawn as a
    diamond) and ``ci`` (without it, the bars' level goes unsaid). Pairs stand side by side
    around each k; with up to 3 pairs each point carries P(A > B). Above the dashed line at 0,
    A has the higher pass@k.

    Returns:
        A matplotlib Figure.

    Example:
        >>> from bayes_passk.compare import difference_table
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.beta(8, 2, (400, 2)), rng.beta(6, 4, (400, 2))
        >>> axes = plot_differences(difference_table(a, b, [10, 100])).axes[0]
        >>> axes.get_legend().get_texts()[0].get_text()
        'A - B'
    """
    for side in ("a", "b"):  # one pair, unnamed: A - B
        if side not in comparison:
            comparison = comparison.assign(**{side: side.upper()})
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axes = figure.subplots()
    pairs = list(comparison.groupby(["a", "b"], sort=False))
    groups = list(dict.fromkeys([*comparison["a"], *comparison["b"]]))
    short = dict(zip(groups, _short_names(groups, limit=30), strict=True))
    colors = _colors(len(pairs))
    top = comparison.groupby("k")["upper"].max()  # the notes at a k stand above every bar
    entries = []
    for index, ((a, b), rows) in enumerate(pairs):
        name = f"{_escaped(short[a])} - {_escaped(short[b])}"
        # Wider apart than a backtest's methods: here k spans decades, not a few budgets.
        k = rows["k"].to_numpy(float) * _dodge(index, len(pairs), spread=3 * DODGE)
        difference = rows["difference"].to_numpy()
        yerr = [
            np.maximum(difference - rows["lower"].to_numpy(), 0),
            np.maximum(rows["upper"].to_numpy() - difference, 0),
        ]
        bar = axes.errorbar(k, difference, yerr=yerr, fmt="s", capsize=4, color=colors[index])
        entries.append((bar, name))
        if "true_difference" in rows and rows["true_difference"].notna().any():
            (mark,) = axes.plot(k, rows["true_difference"], "D", color=colors[index], alpha=0.6)
            entries.append((mark, f"{name}: truth"))
        if len(pairs) <= 3:
            for x, y, p in zip(k, top[rows["k"]], rows["prob_a_greater"], strict=True):
                axes.annotate(
                    f"P(A > B) = {p:.2f}",
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 4 + 9 * index),  # each pair a line higher
                    ha="center",
                    fontsize=7,
                    color=colors[index],
                )
    axes.axhline(0, color="0.5", linestyle="--", linewidth=1)
    axes.margins(x=0.08, y=0.12)  # room for the P(A > B) above the bars and at the ends
    if len(pairs) <= 3:  # and a line more of it for each pair
        low, high = axes.get_ylim()
        axes.set_ylim(low, high + 0.05 * len(pairs) * (high - low))
    axes.set_xscale("log")
    _plain_ticks_within_a_decade(axes, [comparison["k"].to_numpy(float)])
    axes.set_xlabel("attempts per problem k")
    axes.set_ylabel("pass@k(A) - pass@k(B)")
    axes.grid(True, which="major", alpha=0.3)
    level = f"{percent(comparison['ci'].iloc[0])} " if "ci" in comparison else ""
    entries.append((_bars_key(), f"bars: {level}credible interval"))
    entries.append((Line2D([], [], color="0.5", linestyle="--"), "no difference"))
    location = "outside right upper" if len(entries) > LEGEND_INSIDE else "best"
    holder = figure if len(entries) > LEGEND_INSIDE else axes
    holder.legend(*zip(*entries, strict=True), fontsize=7, loc=location)
    if title:
        axes.set_title(_literal(title, limit=TITLE_LENGTH))
    return figure


def _dodge(place: int, count: int, spread: float = DODGE) -> float:
    """Factor on k that sets the place-th of count series side by side, ``spread`` decades apart."""
    return 10 ** (spread * (place - (count - 1) / 2))


def _budget_axis(ax, budgets) -> None:
    """Make ``ax``'s x axis the log budgets, labelled as they are (not 3 x 10^1), with room."""
    budgets = sorted(budgets.unique())
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(budget) for budget in budgets])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlim(min(budgets) / 10**0.15, max(budgets) * 10**0.15)


def _bars_key() -> Line2D:
    """Return a legend key for error bars."""
    return Line2D([], [], color="0.4", marker="|", markersize=10)


def _panel_title(ax, k, notes: list[str]) -> None:
    """Title a backtest panel "k = ..." with its notes below, each wrapped to the panel's width."""
    lines = [line for note in notes for line in textwrap.wrap(note, PANEL_NOTE_CHARACTERS)]
    ax.set_title("\n".join([f"k = {k}", *lines]), fontsize=9 if notes else None)


def _legend_and_title(figure, entries: dict, title: str) -> None:
    """Put the legend (label -> handle) beside the panels and the title above them.

    The title starts at the left and wraps short of the legend's column (2.2 inches, which
    the figures' widths leave for it, its labels wrapped to fit), so that neither covers the
    other.
    """
    if entries:
        labels = [textwrap.fill(label, LEGEND_CHARACTERS) for label in entries]
        figure.legend(list(entries.values()), labels, fontsize=7, loc="outside right upper")
    characters = max(int((figure.get_figwidth() - 2.4) * 12), 30)  # at 10 points
    lines = textwrap.wrap(shorten(title, 2 * TITLE_LENGTH), characters)
    text = "\n".join(_escaped(line) for line in lines)  # after the cut: "\" and "$" together
    figure.suptitle(text, fontsize=10, x=0.02, ha="left")


def _error_bars(metric: str, rows, mean):
    """Error bars of a method's plotted means per budget, or None where there are none."""
    if metric == "mse" and {"mse_lower", "mse_upper"} <= set(rows):
        below = (rows["mse"] - rows["mse_lower"]).clip(lower=0)
        above = (rows["mse_upper"] - rows["mse"]).clip(lower=0)
        return [_half_width_of_mean(below), _half_width_of_mean(above)]
    if metric == "coverage" and {"replicates", "failed"} <= set(rows):
        scored = (rows["replicates"] - rows["failed"]).groupby(level="budget").sum()
        low, high = _wilson(mean.to_numpy(), scored.to_numpy())
        return [np.maximum(mean - low, 0), np.maximum(high - mean, 0)]
    return None


def _wilson(share, count, z: float = 1.6448536269514722):
    """Return the Wilson score interval of a share of ``count`` trials (90% at the default z).

    Its ends are the x with (share - x)^2 = z^2 x (1 - x) / count.

    Example:
        >>> [round(float(end), 4) for end in _wilson(np.array(0.9), np.array(20))]
        [0.7383, 0.9663]
    """
    center = (share + z**2 / (2 * count)) / (1 + z**2 / count)
    half = z / (1 + z**2 / count) * np.sqrt(share * (1 - share) / count + z**2 / (4 * count**2))
    return center - half, center + half


def _backtest_title(summary, title) -> str:
    """``title``, then the designs, the group (or how many are averaged) and replicates."""
    cells = summary[["design", "group"]].drop_duplicates()
    groups = cells["group"].unique()
    where = f"{groups[0]}" if len(groups) == 1 else f"mean over {len(groups)} groups"
    parts = [title] if title else []
    parts += [", ".join(f"{design} design" for design in cells["design"].unique()), where]
    if "replicates" in summary:
        low, high = int(summary["replicates"].min()), int(summary["replicates"].max())
        parts.append(f"{low if low == high else f'{low}-{high}'} replicates per cell")
    return "; ".join(part for part in parts if part)


def _half_width_of_mean(half_widths):
    """sqrt(sum h_g^2) / G per budget: the half-width of a mean of G independent estimates.

    NaN, no bar, where a group has no interval (under 5 replicates: `backtest.mean_interval`).
    """
    squares = (half_widths**2).groupby(level="budget")
    combined = np.sqrt(squares.sum()) / squares.size()
    return combined.where(squares.count() == squares.size())
