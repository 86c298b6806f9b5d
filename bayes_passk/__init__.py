"""Bayesian forecasts of pass@k under repeated sampling."""

import os

import jax
import numpyro

# Forecasts at k = 1e6 need log(1 - p) and ratios of tiny moments in double precision.
jax.config.update("jax_enable_x64", True)
# One XLA device per core, so NUTS chains run in parallel on CPU. This only takes effect before
# JAX starts its backend, and leaves an explicit user setting alone.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    numpyro.set_host_device_count(os.cpu_count() or 1)

from bayes_passk import data, datasets, estimators, forecast  # noqa: E402
from bayes_passk.data import InputError, PassData  # noqa: E402
from bayes_passk.inference import ConvergenceWarning, Fit, fit, load_fit  # noqa: E402

__all__ = [
    "ConvergenceWarning",
    "Fit",
    "InputError",
    "PassData",
    "data",
    "datasets",
    "estimators",
    "forecast",
    "fit",
    "load_fit",
]
