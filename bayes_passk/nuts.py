"""NUTS chains on one dataset's weighted (n, c) rows, as one pure, traceable function.

`sample_chains` runs NumPyro's functional `hmc` kernel (NUTS; warm-up with step-size and
diagonal mass-matrix adaptation, then sampling) inside `jax.lax.scan`, so the whole run is one
program whose data are arguments: fits of other data with the same padded row count reuse it.
`bayes_passk.fit` (one dataset, chains split over the host's devices) and `bayes_passk.batched`
(many datasets, vmapped) run the same chains in pieces (`start_chains`, then `advance_chains`
once per segment, see `run_in_segments`): an XLA execution on a CPU holds memory that grows with
its loop's iterations while other devices run (benchmarks/RESULTS.md, twenty-fifth session).

Example (about 30 s on 2 CPU cores, most of it compilation; every fit in tests/ runs it):
    >>> from functools import partial
    >>> import jax, jax.numpy as jnp
    >>> from bayes_passk.families import get_family
    >>> keys = jax.random.split(jax.random.key(0), 2)
    >>> n, c, weight = jnp.array([50.0, 50.0]), jnp.array([0.0, 5.0]), jnp.array([3.0, 1.0])
    >>> run = jax.jit(partial(sample_chains, family=get_family("beta"), warmup=50, samples=20,
    ...                       target_accept=0.8))
    >>> trace = run(keys, n=n, c=c, weight=weight)  # doctest: +SKIP
    >>> trace.z["a"].shape, trace.diverging.shape  # doctest: +SKIP
    ((2, 20), (2, 20))
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
from numpyro.infer.hmc import hmc
from numpyro.infer.util import constrain_fn, potential_energy

from bayes_passk.families import PriorFamily, hyperprior_sites
from bayes_passk.hierarchy import grid_rows, hierarchical_model

SEGMENTS = 20  # calls of `advance_chains` per run (see `segment_plan`)


class Trace(NamedTuple):
    """Kept draws per chain, leading axes (chains, samples).

    ``z`` holds the hyperparameters in NumPyro's unconstrained space (see `constrained`).
    """

    z: dict[str, jax.Array]
    diverging: jax.Array
    num_steps: jax.Array
    accept_prob: jax.Array
    energy: jax.Array


def sample_chains(
    keys,
    family: PriorFamily,
    n,
    c,
    weight,
    *,
    warmup: int,
    samples: int,
    target_accept: float,
    max_tree_depth: int = 10,
    vectorize: bool | None = None,
) -> Trace:
    """Run one NUTS chain per key on the marginalised hierarchical model.

    Each chain starts uniformly in [-2, 2] in the unconstrained space of every hyperparameter
    (NumPyro's ``init_to_uniform``). The chains are vectorised on an accelerator and run one after
    another on a CPU (there as fast, and compiled in half the time); ``vectorize`` overrides.
    The same run in pieces: `start_chains`, then `advance_chains`.
    """
    settings = dict(warmup=warmup, target_accept=target_accept, max_tree_depth=max_tree_depth)
    states = start_chains(keys, family, n, c, weight, **settings)
    _, trace = advance_chains(
        states,
        family,
        n,
        c,
        weight,
        iterations=warmup + samples,
        vectorize=vectorize,
        **settings,
    )
    return jax.tree.map(lambda x: x[:, warmup:], trace)


def start_chains(
    keys,
    family: PriorFamily,
    n,
    c,
    weight,
    *,
    warmup: int,
    target_accept: float,
    max_tree_depth: int = 10,
):
    """NUTS's initial state of one chain per key (leading axis: chains), as in `sample_chains`."""
    init_kernel, _ = _kernels(family, n, c, weight)
    sites = _sample_sites(family)

    def one_chain(chain_key):
        init_key, run_key = jax.random.split(chain_key)
        start = {
            name: jax.random.uniform(site_key, shape, minval=-2.0, maxval=2.0)
            for (name, shape), site_key in zip(
                sites.items(), jax.random.split(init_key, len(sites)), strict=True
            )
        }
        return init_kernel(
            start,
            warmup,
            target_accept_prob=target_accept,
            max_tree_depth=max_tree_depth,
            rng_key=run_key,
        )

    return jax.vmap(one_chain)(keys)


def advance_chains(
    states,
    family: PriorFamily,
    n,
    c,
    weight,
    *,
    iterations: int,
    warmup: int,
    target_accept: float,
    max_tree_depth: int = 10,
    vectorize: bool | None = None,
):
    """Run ``iterations`` NUTS iterations from `start_chains`'s states: (states, `Trace`).

    ``warmup``, ``target_accept`` and ``max_tree_depth`` must be those the states started with
    (NumPyro's kernel takes them from its initialisation, which is traced again here and
    discarded). Iterations before ``warmup`` (counted from the start) adapt; the trace holds
    every iteration of this call. ``vectorize`` as in `sample_chains`.
    """
    init_kernel, sample_kernel = _kernels(family, n, c, weight)
    start = jax.tree.map(lambda x: x[0], states.z)
    init_kernel(  # sets up the kernel's closures; the state it returns is not used
        start,
        warmup,
        target_accept_prob=target_accept,
        max_tree_depth=max_tree_depth,
        rng_key=jax.random.key(0),
    )
    chains = jax.tree.leaves(states.z)[0].shape[0]
    if vectorize is None:
        vectorize = jax.default_backend() != "cpu"
    vectorize = vectorize and chains > 1

    def step(state, _):
        state = sample_kernel(state)
        return state, Trace(
            state.z, state.diverging, state.num_steps, state.accept_prob, state.energy
        )

    def one_chain(state):
        return jax.lax.scan(step, state, length=iterations)

    if vectorize:
        return jax.vmap(one_chain)(states)
    if chains == 1:  # vmap's batching rules would triple the time to trace the kernel
        return jax.tree.map(lambda x: x[None], one_chain(jax.tree.map(lambda x: x[0], states)))
    return jax.lax.map(one_chain, states)


def segment_plan(iterations: int, segments: int = SEGMENTS) -> tuple[int, int]:
    """(length, count): at most ``segments`` equal segments that cover ``iterations``.

    The last segment may run past them (fewer than ``length`` iterations, dropped), so that one
    compiled segment serves every call.

    Example:
        >>> segment_plan(1000), segment_plan(1009), segment_plan(7)
        ((50, 20), (51, 20), (1, 7))
    """
    length = -(-iterations // max(1, min(segments, iterations)))
    return length, -(-iterations // length)


class Segmented(NamedTuple):
    """A NUTS run as compiled programs called in turn by `run_in_segments`.

    ``start(keys, n, c, weight)`` gives the chains' states; ``advance(states, n, c, weight)``
    gives (states, `Trace` of the segment's iterations), called ``count`` times;
    ``finish(keys, pieces, n, c, weight)`` turns the tuple of the segments' traces into the
    result (see `kept`; the keys serve a finish that draws, as the batched one does).
    """

    start: Callable
    advance: Callable
    finish: Callable
    count: int


def run_in_segments(run: Segmented, keys, n, c, weight, on_segment=None):
    """Run `Segmented` programs: start, ``count`` segments, finish.

    ``on_segment(j)``, when given, is called from the host after segment j (from 0) has run;
    otherwise the segments are queued without waiting.
    """
    states = run.start(keys, n, c, weight)
    pieces = []
    for segment in range(run.count):
        states, piece = run.advance(states, n, c, weight)
        pieces.append(piece)
        if on_segment is not None:
            jax.block_until_ready(states)
            on_segment(segment)
    return run.finish(keys, tuple(pieces), n, c, weight)


def kept(pieces, warmup: int, samples: int) -> Trace:
    """Join segments' traces and keep ``samples`` iterations after the first ``warmup``."""
    return jax.tree.map(
        lambda *x: jnp.concatenate(x, axis=1)[:, warmup : warmup + samples], *pieces
    )


def _kernels(family: PriorFamily, n, c, weight):
    """NumPyro's NUTS (init_kernel, sample_kernel) on the marginalised model of these rows."""
    rows = grid_rows(family, n, c)  # once, not at every gradient
    model_kwargs = {"c": c, "weight": weight, "marginalize": True, "rows": rows}
    potential = partial(potential_energy, partial(hierarchical_model, family), (n,), model_kwargs)
    return hmc(potential_fn=potential, algo="NUTS")


def _sample_sites(family: PriorFamily) -> dict:
    """Shapes of the family's sampled hyperparameter sites."""
    sites = hyperprior_sites(family)
    return {name: shape for name, (kind, shape) in sites.items() if kind == "sample"}


def constrained(family: PriorFamily, z: dict[str, jax.Array], n, c, weight) -> dict:
    """Every hyperprior site (sampled and derived) from unconstrained draws (chains, samples)."""
    model_kwargs = {"c": c, "weight": weight, "marginalize": True}
    constrain = partial(
        constrain_fn,
        partial(hierarchical_model, family),
        (n,),
        model_kwargs,
        return_deterministic=True,
    )
    return jax.vmap(jax.vmap(constrain))(z)
