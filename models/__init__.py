"""Hierarchical prior families: one module per family, named after it.

The module of the family ``"log-gamma"`` is ``log_gamma.py``; a helper module's name starts with
an underscore. The names can then be listed without importing the families (nor JAX).
"""

import pkgutil

# The family of `fit`, batched fits and the command line when none is named: of the families
# backtested, the one whose 90% intervals cover in or near 85-95% of the time on the real and
# the synthetic designs alike (benchmarks/RESULTS.md, "Sixteenth session (2026-12-03): the
# beta-spline as the default").
DEFAULT_PRIOR = "beta-spline"


def family_names() -> list[str]:
    """Return the families' names, read from their module names without importing them.

    Example:
        >>> "scaled-beta" in family_names()
        True
    """
    modules = pkgutil.iter_modules(__path__)
    return sorted(info.name.replace("_", "-") for info in modules if not info.name.startswith("_"))
