"""Bayesian forecasts of pass@k under repeated sampling."""

import jax

# Forecasts at k = 1e6 need log(1 - p) and ratios of tiny moments in double precision.
jax.config.update("jax_enable_x64", True)

from bayes_passk import data, datasets, estimators  # noqa: E402
from bayes_passk.data import InputError, PassData  # noqa: E402

__all__ = ["InputError", "PassData", "data", "datasets", "estimators"]
