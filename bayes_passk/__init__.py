"""Bayesian forecasts of pass@k under repeated sampling.

Importing the package sets JAX up (below) without importing JAX: the command line's listings
and help answer at once, and JAX, NumPyro and ArviZ load with the first module that needs them
(``bp.fit``, ``bp.Fit``, the module ``bp.forecast``, ...).
"""

import importlib
import os
import sys
from importlib import metadata

from bayes_passk import data, datasets, estimators
from bayes_passk.data import InputError, PassData

try:
    __version__ = metadata.version("bayes_passk")
except metadata.PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "unknown"


def _jax_settings() -> dict[str, object]:
    """Return the JAX options this package needs.

    - ``jax_enable_x64``: forecasts at k = 1e6 need log(1 - p) and ratios of tiny moments in
      double precision.
    - The persistent compilation cache (at most 1 GiB): a short fit spends most of its time
      compiling; with the cache, a rerun (this process or the next) loads the program instead,
      as does a fit of other data of the same padded size. ``BAYES_PASSK_CACHE_DIR`` moves the
      cache (empty: off); a cache the user configured for JAX itself is left alone.
    """
    settings: dict[str, object] = {"jax_enable_x64": True}
    configured = (
        sys.modules["jax"].config.jax_compilation_cache_dir
        if "jax" in sys.modules
        else os.environ.get("JAX_COMPILATION_CACHE_DIR")
    )
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bayes_passk", "jax"
    )
    path = os.environ.get("BAYES_PASSK_CACHE_DIR", default)
    if configured or not path:
        return settings
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return settings
    return settings | {
        "jax_compilation_cache_dir": path,
        "jax_compilation_cache_max_size": 1 << 30,
        "jax_persistent_cache_min_compile_time_secs": 0.2,
    }


def _configure_jax() -> None:
    """Apply `_jax_settings`, and ask for one XLA CPU device per core.

    Before JAX is imported this goes through the environment variables JAX reads when it loads
    (``JAX_ENABLE_X64``, ...; ``XLA_FLAGS``), so it also holds for JAX code the user runs
    before any of this package's; child processes inherit them. One device per core lets NUTS
    chains run in parallel on CPU; it takes effect only before JAX starts its backend, and an
    explicit ``--xla_force_host_platform_device_count`` is left alone.
    """
    settings = _jax_settings()
    if "jax" in sys.modules:
        for name, value in settings.items():
            sys.modules["jax"].config.update(name, value)
    else:
        os.environ.update({name.upper(): str(value) for name, value in settings.items()})
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"
        os.environ["XLA_FLAGS"] = f"{count} {flags}".strip()


_configure_jax()

_LAZY = {
    "ConvergenceWarning": "bayes_passk.inference",
    "Fit": "bayes_passk.inference",
    "fit": "bayes_passk.inference",
    "load_fit": "bayes_passk.inference",
    "forecast": None,
}


def __getattr__(name: str):
    """Import the JAX-backed parts of the public interface on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _LAZY[name]
    if module is None:
        return importlib.import_module(f"{__name__}.{name}")
    value = globals()[name] = getattr(importlib.import_module(module), name)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
