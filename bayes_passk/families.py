"""The interface every prior family in `bayes_passk.models` implements, and the registry.

A prior family is a distribution for the single-attempt success probability p on (0, s),
written through q = p / s on (0, 1): a density, plus optionally an atom at p = 0 (problems that
are never solved), or else masses on a fixed grid of p (a discrete family). A module in
`models/` defines one `PriorFamily` named `FAMILY`; nothing else needs to change for `fit`,
`forecast`, the backtests and the CLI to offer it. The modules here also define
``model(n, c=None, weight=None, marginalize=False)`` (`hierarchy.hierarchical_model` with the
family bound), the NumPyro model for prior predictive checks and the latent-rate form.

Two views of the same prior serve two jobs:

- sampling: per-problem rates are drawn as ``log p = log_rate(w, params)`` from a latent
  ``w ~ latent(params)`` in whatever coordinate NUTS moves freely in (a non-centred form);
- integrating: ``log_density_q`` gives the density of q, which `bayes_passk.functionals`
  integrates to get E[(1 - p)^k] and friends without Monte Carlo noise; a discrete family gives
  ``log_masses`` instead (`grid_family` builds one), and the integrals are sums over its grid.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import betaln, gammaln

from bayes_passk.data import InputError, is_positive_int


class PriorFamily(NamedTuple):
    """A prior for per-problem success probabilities, given hyperparameters.

    Attributes:
        name: registry name, e.g. ``"scaled-beta"``.
        hyperprior: numpyro function that samples the hyperparameters and returns them as a
            NamedTuple; every field must be a site of the same name (``numpyro.sample``, or
            ``numpyro.deterministic`` for a derived value): fits read the draws by field.
        latent: ``params -> Distribution`` of the per-problem latent w.
        log_rate: ``(w, params) -> log p``, mapping the latent to the success probability.
        log_density_q: ``(log_q, log1m_q, params) -> log pi(q)``, the log density of q = p / s
            on (0, 1) w.r.t. dq, given log q and log(1 - q) for numerical stability. With an
            atom at 0 it integrates to 1 - P(p = 0). None for a discrete family.
        log_scale: ``params -> log s``, the upper end of p (0 for unscaled families).
        tail_exponent: ``params -> a`` with pi(p) ~ A p^(a - 1) as p -> 0: the power-law exponent
            of -log pass@k; None for a family without a power-law tail. A discrete family
            with one holds the tail below its grid on its lowest point, up to that point's
            upper cell edge, and moments integrate it as p^(a - 1) (`functionals`).
        description: one line for listings.
        log_zero_mass: ``params -> log P(p = 0)``, the atom at 0; None (the default) for none.
        log_masses: for a discrete family, ``params -> (logit p points, log masses)`` (the masses
            summing to 1, the points fixed); ``latent`` then draws a point's index. None (the
            default) for a family with a density.
        target_accept: the NUTS target acceptance its fits use unless told otherwise (0.9; higher
            for a posterior with narrow regions, where larger steps diverge).
    """

    name: str
    hyperprior: Callable[[], Any]
    latent: Callable[[Any], dist.Distribution]
    log_rate: Callable[[jax.Array, Any], jax.Array]
    log_density_q: Callable[[jax.Array, jax.Array, Any], jax.Array] | None
    log_scale: Callable[[Any], jax.Array]
    tail_exponent: Callable[[Any], jax.Array] | None
    description: str
    log_zero_mass: Callable[[Any], jax.Array] | None = None
    log_masses: Callable[[Any], tuple[jax.Array, jax.Array]] | None = None
    target_accept: float = 0.9


def grid_family(
    name: str,
    hyperprior: Callable[[], Any],
    log_masses: Callable[[Any], tuple[jax.Array, jax.Array]],
    grid: np.ndarray,
    tail_exponent: Callable[[Any], jax.Array] | None,
    description: str,
    target_accept: float = 0.9,
) -> PriorFamily:
    """Return a discrete family on a fixed grid of logit p (unscaled), latent a point's index.

    ``log_masses(params)`` returns ``grid`` itself and the log masses (see `PriorFamily`): the
    latent form's rates come from ``grid``, every moment from what ``log_masses`` returns.

    Example:
        >>> from bayes_passk.models import beta_spline
        >>> family = grid_family("copy", beta_spline.hyperprior, beta_spline.log_masses,
        ...                      beta_spline.GRID, None, "the beta-spline's masses")
        >>> family.log_density_q is None and family.log_masses is beta_spline.log_masses
        True
    """
    return PriorFamily(
        name=name,
        hyperprior=hyperprior,
        latent=lambda params: dist.Categorical(logits=log_masses(params)[1]),
        log_rate=lambda index, params: jax.nn.log_sigmoid(jnp.asarray(grid)[index]),
        log_density_q=None,
        log_scale=lambda params: jnp.zeros_like(params[0]),
        tail_exponent=tail_exponent,
        description=description,
        log_masses=log_masses,
        target_accept=target_accept,
    )


class ScaledParams(NamedTuple):
    """Hyperparameters of a two-shape scaled family: shapes a, b and scale s."""

    a: jax.Array
    b: jax.Array
    scale: jax.Array


def log_beta(a, b):
    """Log B(a, b) = log Gamma(a) + log Gamma(b) - log Gamma(a + b), to about 1e-12.

    `jax.scipy.special.betaln` loses up to 1.2e-6 in float64 for moderate shapes (a ~ 2.8,
    b ~ 8.4), enough to unnormalise a prior density by that much; the log-gamma difference keeps
    its digits while a + b < 1e3, and `betaln` is accurate beyond (both measured against mpmath
    on a, b in [1e-4, 1e13], tests/test_models.py).

    Example:
        >>> round(float(jnp.exp(log_beta(2.0, 3.0))), 15)  # 1! 2! / 4!
        0.083333333333333
    """
    return jnp.where(a + b < 1e3, gammaln(a) + gammaln(b) - gammaln(a + b), betaln(a, b))


def tail_mean_scale_prior() -> tuple[jax.Array, jax.Array, jax.Array]:
    """Sample the left-tail exponent a, the mean rate and the scale s in (mean, 1).

    The weakly informative priors shared by the scaled families in `bayes_passk.models`:

    - a ~ LogNormal(log 0.3, 1): a = 1 is a flat density near p = 0; published fits of
      repeated sampling report a between 0.05 and 0.5; 95% of the mass lies in (0.04, 2.1);
    - mean = E[p] ~ Uniform(0, 1): the location the data pin down best (it is pass@1);
    - u ~ Uniform(0, 1) and s = mean + (1 - mean) u: the scale uniform between mean and 1.

    Returns:
        (a, mean, scale); ``scale`` is registered as a deterministic site.
    """
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    mean = numpyro.sample("mean", dist.Uniform(0.0, 1.0))
    u = numpyro.sample("u", dist.Uniform(0.0, 1.0))
    return a, mean, numpyro.deterministic("scale", mean + (1.0 - mean) * u)


def params_type(family: PriorFamily) -> type:
    """Return the NamedTuple type that `family.hyperprior` returns."""
    return type(_prior_draw(family))


@cache
def event_shapes(family: PriorFamily) -> tuple[tuple[int, ...], ...]:
    """Return the shape of each hyperparameter of one draw: () for a scalar, (K,) for a vector."""
    return tuple(tuple(x.shape) for x in _prior_draw(family))


def check_sites(family: PriorFamily) -> None:
    """Raise `InputError` unless every field of the family's parameters is a hyperprior site.

    A fit keeps the sites' draws only: a field computed outside a site would be missing after
    the sampling.
    """
    sites = hyperprior_sites(family)
    missing = [field for field in params_type(family)._fields if field not in sites]
    if missing:
        raise InputError(
            f"prior {family.name!r}: its hyperprior returns {', '.join(missing)} without a "
            "site; sample each with numpyro.sample or record it with numpyro.deterministic"
        )


def check_max_draws(max_draws) -> None:
    """Raise `InputError` unless `max_draws` is a positive integer."""
    if not is_positive_int(max_draws):
        raise InputError(f"max_draws must be a positive integer, got {max_draws!r}")


def thinned_draws(params, max_draws: int, least: int = 1):
    """Reshape draws (chain, draw, *event) to (draws, *event), thinned to about `max_draws`.

    Every step-th draw of each chain is kept, chains one after the other; the step is made
    smaller where whole steps would keep fewer than ``least`` draws (2 x 128 draws to 40 keep
    38), as far as the chains allow.

    Example:
        >>> params = (np.zeros((2, 500)), np.zeros((2, 500, 7)))  # a scalar and a vector
        >>> [x.shape for x in thinned_draws(params, 400)]
        [(334,), (334, 7)]
        >>> thinned_draws((np.arange(10.0).reshape(2, 5),), 4)[0].tolist()  # every third
        [0.0, 3.0, 5.0, 8.0]
        >>> thinned_draws((np.arange(10.0).reshape(2, 5),), 4, least=6)[0].tolist()  # every other
        [0.0, 2.0, 4.0, 5.0, 7.0, 9.0]
    """
    check_max_draws(max_draws)
    chains, draws = np.shape(params[0])[:2]
    step = max(1, -(-chains * draws // max_draws))
    while step > 1 and chains * -(-draws // step) < least:
        step -= 1
    return jax.tree.map(lambda x: jnp.asarray(x[:, ::step].reshape(-1, *x.shape[2:])), params)


def stack_draws(params) -> jax.Array:
    """Hyperparameter draws with a leading draw axis as one (draws, width) array."""
    return jnp.concatenate([jnp.reshape(x, (jnp.shape(x)[0], -1)) for x in params], axis=1)


def unstack_draws(family: PriorFamily, stacked):
    """Inverse of `stack_draws`: the family's NamedTuple of draws from (draws, width).

    Example:
        >>> family = get_family("scaled-beta")
        >>> params = unstack_draws(family, jnp.array([[0.3, 3.0, 0.8]]))
        >>> params.b.shape, bool(stack_draws(params)[0, 1] == 3.0)
        ((1,), True)
    """
    shapes = event_shapes(family)
    ends = np.cumsum([int(np.prod(shape)) for shape in shapes])
    parts = jnp.split(jnp.asarray(stacked), ends[:-1], axis=1)
    return params_type(family)(
        *(jnp.reshape(part, (-1, *shape)) for part, shape in zip(parts, shapes, strict=True))
    )


@cache
def _prior_draw(family: PriorFamily):
    """One draw of the hyperparameters, abstract (shapes and dtypes): nothing runs or compiles."""

    def draw():
        with numpyro.handlers.seed(rng_seed=0):
            return family.hyperprior()

    return jax.eval_shape(draw)


@cache
def hyperprior_sites(family: PriorFamily) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every site of the hyperprior, traced once: name -> (site type, shape of its value).

    Example:
        >>> hyperprior_sites(get_family("scaled-beta"))["a"]
        ('sample', ())
    """
    kinds = {}

    def values():
        trace = numpyro.handlers.trace(numpyro.handlers.seed(family.hyperprior, 0)).get_trace()
        kinds.update((name, site["type"]) for name, site in trace.items())
        return {name: site["value"] for name, site in trace.items()}

    shapes = jax.eval_shape(values)  # traced only: a concrete run compiles ~20 tiny programs
    return {name: (kind, tuple(shapes[name].shape)) for name, kind in kinds.items()}


@cache
def registry() -> dict[str, PriorFamily]:
    """Every family of `bayes_passk.models` by name: the `FAMILY` of the module named after it."""
    import bayes_passk.models as models

    return {name: _load(name) for name in models.family_names()}


@cache
def _load(name: str) -> PriorFamily:
    """Import ``models/<name with underscores>.py`` and return its `FAMILY`, checked.

    One family at a time: a broken file stops the lookups of its own family (and listings) only;
    `InputError` says what is wrong with it.
    """
    import bayes_passk.models as models

    module_name = name.replace("-", "_")
    try:
        module = importlib.import_module(f"{models.__name__}.{module_name}")
    except ModuleNotFoundError as error:
        if error.name != f"{models.__name__}.{module_name}":
            raise
        raise InputError(
            f"prior {name!r}: no models/{module_name}.py; a family's file is its name with "
            "underscores for hyphens (a file name with a hyphen cannot be imported)"
        ) from None
    family = getattr(module, "FAMILY", None)
    if not isinstance(family, PriorFamily) or family.name != name:
        found = (
            f"a PriorFamily named {family.name!r}"
            if isinstance(family, PriorFamily)
            else ("no FAMILY" if family is None else f"FAMILY = a {type(family).__name__}")
        )
        raise InputError(
            f"models/{module_name}.py must define FAMILY, a PriorFamily named {name!r} after "
            f"its file, and defines {found} (a helper module's name starts with an underscore)"
        )
    return family


def get_family(name: str | PriorFamily) -> PriorFamily:
    """Look a family up by name; a `ValueError` lists the known names.

    Example:
        >>> get_family("scaled-beta").name
        'scaled-beta'
    """
    import bayes_passk.models as models

    if isinstance(name, PriorFamily):
        return name
    names = models.family_names()
    if name not in names:
        raise InputError(f"unknown prior {name!r}; known priors: {', '.join(names)}")
    return _load(name)
