"""The design cells that several benchmarks share, built with the same seeds."""

import bayes_passk as bp
from bayes_passk import designs

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
