"""The design cells that several benchmarks share, built with the same seeds."""

import numpy as np
import pandas as pd

import bayes_passk as bp
from bayes_passk import backtest, designs

SYNTHETIC_BUDGET = 100


def quality_cells(seed: int, budget: int, replicates: int, ks) -> list[designs.Design]:
    """forecast_quality.py's cells: 7 Pythia MATH models subsampled, 6 Best-of-N resampled.

    Llama 3 8B IT is left out of Best-of-N: it has no power law.
    """
    cells = []
    pythia = bp.datasets.load("pythia-math")
    for index, group in enumerate(pythia.groups):
        full = pythia.select(group)
        cells.append(designs.subsample(seed + 1000 * index, full, budget, replicates, ks))
    bon = bp.datasets.load("bon-jailbreak")
    for index, group in enumerate(g for g in bon.groups if g != "Llama 3 8B IT"):
        full = bon.select(group)
        cells.append(designs.resample(seed + 1000 * (index + 100), full, budget, replicates, ks))
    return cells


def synthetic_cells(seed: int, family: str, replicates: int, ks) -> list[designs.Design]:
    """`bayes-passk backtest --design synthetic --budgets 100`'s cells (128 problems)."""
    return [
        designs.synthetic(
            [seed, index, SYNTHETIC_BUDGET], family, a, b, s, 128, SYNTHETIC_BUDGET, replicates, ks
        )
        for index, (a, b, s) in enumerate(designs.SYNTHETIC_GRID)
    ]


def first_replicates(cells: list[designs.Design], count: int) -> list[designs.Design]:
    """The first `count` replicates of each cell, the counts those of the full-size design.

    (A synthetic cell built with fewer replicates has the same rates but other counts: its
    rates are all drawn before any outcome.)
    """
    return [
        cell._replace(n=cell.n[:count], c=cell.c[:count], truth=cell.truth[:count])
        for cell in cells
    ]


def check_same_replicates(cells: list[designs.Design], kept: pd.DataFrame) -> None:
    """Stop unless the least-squares power law on these cells gives the kept table's estimates.

    Truths alone cannot tell: a subsample or resample design's truth is the same in every
    replicate, whatever the seed. The regression's estimate depends on each replicate's counts.
    """
    ours = backtest.run(cells, ["regression"])
    theirs = kept[kept.method == "regression"]
    paired = ours.merge(theirs, on=["group", "replicate", "k"], suffixes=("", "_kept"))
    if len(paired) != len(ours) or not np.allclose(
        paired.estimate, paired.estimate_kept, rtol=1e-9, equal_nan=True
    ):
        raise SystemExit("these replicates are not the kept table's (another seed or size?)")


def print_against_regression(ours: pd.DataFrame, kept: pd.DataFrame, columns: list[str]) -> None:
    """Print bias, sd and MSE of ``ours`` and the kept methods on the same replicates.

    ``ours`` has columns method, group, replicate, estimate, truth; ``kept`` is a kept table at
    one k. ``columns``, the methods to show, ends with ``regression``: each other method's count
    of models where its MSE is the lower follows the table.
    """
    scored = pd.concat([ours, kept[ours.columns]])
    scored = scored.merge(ours[["group", "replicate"]].drop_duplicates(), on=["group", "replicate"])
    scored["error"] = scored.estimate - scored.truth
    summary = scored.groupby(["group", "method"]).error.agg(
        bias="mean", sd="std", mse=lambda e: np.mean(e**2)
    )
    print("\n| model | " + " | ".join(f"{m}: bias, sd, MSE x 1e3" for m in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for group in ours.group.unique():
        text = []
        for method in columns:
            bias, sd, mse = summary.loc[(group, method)]
            text.append(f"{bias:+.3f}, {sd:.3f}, {1e3 * mse:.2f}")
        print(f"| {group} | " + " | ".join(text) + " |")
    mse = summary.mse.unstack("method")
    for method in columns[:-1]:
        wins = int((mse[method] < mse["regression"]).sum())
        print(f"{method}: lower MSE than the regression in {wins} of {len(mse)} models")
