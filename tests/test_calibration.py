"""Calibration of the batched posterior over the prior (slow: a few hundred fits).

Simulation-based calibration in its interval form: draw hyperparameters from the prior, problem
rates from them and counts from the rates; fit every dataset with the batched engine. If the
model and the sampler are right, the 90% interval of the benchmark pass@k contains the true
pass@k of the drawn rates in 90% of datasets. The number covered is Binomial(D, 0.9); the test
accepts the central 99.9% of that distribution. The same intervals shrunk to a quarter of their
width around the median (an overconfident forecast) must fail the same check, so the test can
tell a miscalibrated forecast.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive
from scipy import stats

import bayes_passk  # noqa: F401  (float64)
from bayes_passk.batched import BatchConfig, fit_batch
from bayes_passk.families import get_family
from bayes_passk.hierarchy import hierarchical_model

DATASETS = 240
PROBLEMS = 40
ATTEMPTS = 50
KS = [10, 1000]


def _prior_datasets(family_name: str, seed: int):
    family = get_family(family_name)
    n = jnp.full(PROBLEMS, ATTEMPTS)
    draws = Predictive(hierarchical_model, num_samples=DATASETS)(
        jax.random.key(seed), family, n, marginalize=False
    )
    rates = np.asarray(draws["p"])
    truth = 1 - np.stack([np.mean((1 - rates) ** k, axis=1) for k in KS], axis=1)
    return np.broadcast_to(np.asarray(n), rates.shape), np.asarray(draws["c"]), truth


def _accepted(covered: int) -> bool:
    lower, upper = stats.binom(DATASETS, 0.9).ppf([0.0005, 0.9995])
    return lower <= covered <= upper


@pytest.mark.slow
@pytest.mark.parametrize("family_name", ["scaled-beta", "kumaraswamy"])
def test_intervals_are_calibrated_over_the_prior(family_name):
    n, c, truth = _prior_datasets(family_name, seed=11)
    config = BatchConfig(chains=2, warmup=300, samples=300, ci=0.9)
    summary = fit_batch(0, n, c, KS, prior=family_name, config=config)
    median = summary.median
    shrunk_lower = median - (median - summary.lower) / 4
    shrunk_upper = median + (summary.upper - median) / 4
    for j in range(len(KS)):
        inside = (summary.lower[:, j] <= truth[:, j]) & (truth[:, j] <= summary.upper[:, j])
        assert _accepted(int(inside.sum())), (KS[j], inside.mean())
        inside = (shrunk_lower[:, j] <= truth[:, j]) & (truth[:, j] <= shrunk_upper[:, j])
        assert not _accepted(int(inside.sum())), (KS[j], inside.mean())
