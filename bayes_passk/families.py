"""The interface every prior family in `bayes_passk.models` implements, and the registry.

A prior family is a distribution for the single-attempt success probability p on (0, s),
written through q = p / s on (0, 1). A module in `models/` defines one `PriorFamily` named
`FAMILY` and a `model(n, c=None)`; nothing else needs to change for `fit`, `forecast` and the
CLI to offer it.

Two views of the same prior serve two jobs:

- sampling: per-problem rates are drawn as ``p = rate(w)`` from a latent ``w ~ latent(params)``
  on (0, 1); the family chooses the coordinate w in which NUTS moves freely (a non-centred form);
- integrating: ``log_density_q`` gives the density of q, which `bayes_passk.functionals`
  integrates to get E[(1 - p)^k] and friends without Monte Carlo noise.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

import jax
import numpyro.distributions as dist


class PriorFamily(NamedTuple):
    """A prior for per-problem success probabilities, given hyperparameters.

    Attributes:
        name: registry name, e.g. ``"scaled-beta"``.
        hyperprior: numpyro function that samples the hyperparameters and returns them as a
            NamedTuple; it registers ``numpyro.deterministic`` sites for derived values a user
            should see.
        latent: ``params -> Distribution`` on (0, 1) of the per-problem latent w.
        log_rate: ``(w, params) -> log p``, mapping the latent to the success probability.
        log_density_q: ``(log_q, log1m_q, params) -> log pi(q)``, the log density of q = p / s
            on (0, 1) w.r.t. dq, given log q and log(1 - q) for numerical stability.
        log_scale: ``params -> log s``, the upper end of p (0 for unscaled families).
        tail_exponent: ``params -> a`` with pi(p) ~ A p^(a - 1) as p -> 0: the power-law exponent
            of -log pass@k.
        description: one line for listings.
    """

    name: str
    hyperprior: Callable[[], Any]
    latent: Callable[[Any], dist.Distribution]
    log_rate: Callable[[jax.Array, Any], jax.Array]
    log_density_q: Callable[[jax.Array, jax.Array, Any], jax.Array]
    log_scale: Callable[[Any], jax.Array]
    tail_exponent: Callable[[Any], jax.Array]
    description: str


@cache
def registry() -> dict[str, PriorFamily]:
    """Every `FAMILY` defined in a module of `bayes_passk.models`, by name."""
    import bayes_passk.models as models

    found = {}
    for info in pkgutil.iter_modules(models.__path__):
        module = importlib.import_module(f"{models.__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if isinstance(family, PriorFamily):
            found[family.name] = family
    return dict(sorted(found.items()))


def get_family(name: str | PriorFamily) -> PriorFamily:
    """Look a family up by name; a `ValueError` lists the known names.

    Example:
        >>> get_family("scaled-beta").name
        'scaled-beta'
    """
    if isinstance(name, PriorFamily):
        return name
    families = registry()
    if name not in families:
        raise ValueError(f"unknown prior {name!r}; known priors: {', '.join(families)}")
    return families[name]
