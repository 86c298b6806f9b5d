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


def _use_compilation_cache() -> None:
    """Keep compiled programs on disk (JAX's persistent cache, at most 1 GiB).

    A short fit spends most of its time compiling; with the cache, a rerun (this process or
    the next) loads the program instead, as does a fit of other data of the same padded size.
    A fit that shows a progress bar is not cached (its program calls back into Python).
    ``BAYES_PASSK_CACHE_DIR`` moves the cache (empty: off); a cache the user configured for
    JAX itself is left alone.
    """
    if jax.config.jax_compilation_cache_dir:
        return
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bayes_passk", "jax"
    )
    path = os.environ.get("BAYES_PASSK_CACHE_DIR", default)
    try:
        if path:
            os.makedirs(path, exist_ok=True)
    except OSError:
        return
    if path:
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_compilation_cache_max_size", 1 << 30)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


_use_compilation_cache()

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
