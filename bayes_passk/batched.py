r"""Many posterior fits compiled once: `fit_one` vmapped over datasets, sharded, in segments.

`fit_one` runs NUTS (`bayes_passk.nuts.sample_chains`) for one dataset, several chains
(vectorised on an accelerator, one after another on a CPU core), and reduces the draws on
device to forecast summaries: the posterior mean, median and equal-tailed interval of the
benchmark's pass@k at each k (Rao-Blackwellised as in `bayes_passk.forecast`), the exponent a,
the rank-normalized split r_hat and the divergences. Nothing of size draws x problems leaves
the device.
Unlike `bayes_passk.forecast`, whose interval ends rise with k by construction, the within-draw
Beta draws here are independent across k: each k's interval is right on its own (what a
backtest scores), but the ends of neighbouring k may cross by Monte Carlo error.

`fit_batch` sorts the datasets by size and runs them chunk by chunk (to bound memory), each chunk
padded to the same number of distinct (n, c) rows (weight 0 for the padding). It runs
`fit_one`'s chains in segments, as three programs vmapped over the chunk: `start_one`,
`advance_one` (at most `BatchConfig.segments` calls of equal length, `nuts.segment_plan`) and
`summarise`; the same chains as `fit_one`'s one program, up to rounding, which bounds
an execution's memory on a CPU (`bayes_passk.nuts`). Each program splits the batch axis over
every device of ``jax.devices()`` (one per CPU core, see `bayes_passk`; several GPUs; or
several hosts after `jax.distributed.initialize`) with `jax.shard_map`, so that each device
runs its lanes on its own: one compilation of the three per (rows, chunk) shape. On several
hosts every process runs the same call: each places the same host arrays (`chunk_inputs`) and
gathers the whole result (`to_host`).

A vmapped NUTS step lasts as long as the slowest lane's trajectory, so the tree depth is capped
(``max_tree_depth``) and a chunk should hold datasets of similar size.

Example (about a minute on 2 CPU cores, most of it compilation; tests/test_batched.py runs it):
    >>> import numpy as np
    >>> config = BatchConfig(chains=2, warmup=100, samples=100, forecast_draws=50)
    >>> n = np.full((2, 20), 50)
    >>> c = np.array([[0] * 15 + [1, 2, 5, 10, 20], [0] * 10 + [1] * 10])
    >>> summary = fit_batch(0, n, c, ks=(10, 1000), config=config)  # doctest: +SKIP
    >>> summary.mean.shape  # doctest: +SKIP
    (2, 2)
    >>> rows_and_weights(n, c)[2].tolist()  # distinct (n, c) rows, their counts, 0 = padding
    [[15.0, 1.0, 1.0, 1.0, 1.0, 1.0], [10.0, 10.0, 0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from numpyro.infer.hmc import HMCState

from bayes_passk.data import InputError, check_run_length, check_seed, is_positive_int
from bayes_passk.estimators import as_ks
from bayes_passk.families import (
    PriorFamily,
    check_sites,
    get_family,
    params_type,
    stack_draws,
)
from bayes_passk.forecast import survival_moments
from bayes_passk.hierarchy import round_up
from bayes_passk.models import DEFAULT_PRIOR
from bayes_passk.nuts import (
    SEGMENTS,
    Segmented,
    Trace,
    advance_chains,
    constrained,
    kept,
    run_in_segments,
    sample_chains,
    segment_plan,
    start_chains,
)


class BatchConfig(NamedTuple):
    """Static settings of the batched sampler (a change recompiles)."""

    chains: int = 2
    warmup: int = 500
    samples: int = 500
    target_accept: float | None = None  # None: the family's, at least 0.95 for short chains
    max_tree_depth: int = 8
    forecast_draws: int = 200
    ci: float = 0.9
    chunk: int | None = None  # datasets run together; None: 1 per CPU device, 128 per GPU
    segments: int = SEGMENTS  # at most this many calls run a chunk's NUTS iterations


DEFAULT_CONFIG = BatchConfig()


def check_config(config: BatchConfig) -> None:
    """Raise `InputError` naming the first setting of `config` that cannot be run.

    Example:
        >>> check_config(BatchConfig(ci=90))
        Traceback (most recent call last):
        ...
        bayes_passk.data.InputError: BatchConfig ci must lie strictly between 0 and 1, got 90
    """
    if not isinstance(config, BatchConfig):
        raise InputError(f"config must be a BatchConfig, got {type(config).__name__}")
    counts = ["chains", "warmup", "samples", "max_tree_depth", "forecast_draws", "segments"]
    for name in counts + (["chunk"] if config.chunk is not None else []):
        value = getattr(config, name)
        if not is_positive_int(value):
            raise InputError(f"BatchConfig {name} must be a positive integer, got {value!r}")
    if config.samples < 4:
        raise InputError(f"samples must be at least 4 for the split r_hat, got {config.samples}")
    check_run_length(config.chains, config.warmup, config.samples)
    for name in ["ci"] + (["target_accept"] if config.target_accept is not None else []):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, float | int) or not 0 < value < 1:
            raise InputError(f"BatchConfig {name} must lie strictly between 0 and 1, got {value!r}")


class FitSummary(NamedTuple):
    """Per dataset (leading batch axis) and k: benchmark pass@k summaries and diagnostics.

    Arrays on device inside `fit_one` and `summarise`; `fit_batch` returns NumPy arrays.

    ``mean`` and ``sd`` are the posterior mean and standard deviation of the conditional
    pass@k given the hyperparameters; ``median``, ``lower`` and ``upper`` include the spread of
    the problems' rates given the hyperparameters.
    """

    mean: jax.Array
    sd: jax.Array
    median: jax.Array
    lower: jax.Array
    upper: jax.Array
    exponent_mean: jax.Array
    exponent_lower: jax.Array
    exponent_upper: jax.Array
    r_hat_max: jax.Array
    divergences: jax.Array
    hyper_draws: jax.Array  # (forecast_draws, width): the draws the forecast used, in the
    # order of the family's hyperparameter NamedTuple (for the `bayes` allocation policy)


def rows_and_weights(n: np.ndarray, c: np.ndarray, size: int | None = None):
    """Distinct (n, c) pairs per dataset with their counts, padded to a common number of rows.

    Args:
        n: attempts, shape (datasets, problems); a problem with n = 0 is padding, dropped.
        c: successes, same shape.
        size: rows per dataset (default: the largest count of distinct pairs).

    Returns:
        (n_rows, c_rows, weight), each of shape (datasets, size); padding rows have weight 0.
    """
    n, c = np.atleast_2d(n), np.atleast_2d(c)
    tables = []
    for n_one, c_one in zip(n, c, strict=True):
        keep = n_one > 0
        pairs, counts = np.unique(
            np.stack([n_one[keep], c_one[keep]], 1), axis=0, return_counts=True
        )
        tables.append((pairs, counts))
    size = size or max(len(pairs) for pairs, _ in tables)
    out = np.zeros((3, len(tables), size))
    out[0] = 1.0  # padding rows: n = 1, c = 0, weight 0
    for i, (pairs, counts) in enumerate(tables):
        if len(pairs) > size:
            raise ValueError(f"dataset {i} has {len(pairs)} distinct (n, c) rows > size {size}")
        out[0, i, : len(pairs)], out[1, i, : len(pairs)] = pairs[:, 0], pairs[:, 1]
        out[2, i, : len(pairs)] = counts
    return out[0], out[1], out[2]


def batch_target_accept(family: PriorFamily, config: BatchConfig) -> float:
    """Return the batched fits' NUTS target acceptance: the config's, else the family's, >= 0.95.

    Batched fits run short chains (2 x (500 + 500) by default), whose step size adapts less
    surely than a single fit's; 0.95 kept the batched scaled Beta fits free of divergences.
    """
    if config.target_accept is not None:
        return config.target_accept
    return max(0.95, family.target_accept)


def _chain_settings(family: PriorFamily, config: BatchConfig) -> dict:
    """Return the keyword settings of `nuts.start_chains` and `nuts.advance_chains`."""
    return {
        "warmup": config.warmup,
        "target_accept": batch_target_accept(family, config),
        "max_tree_depth": config.max_tree_depth,
    }


def batch_chains(keys, n, c, weight, *, family: PriorFamily, config: BatchConfig) -> Trace:
    """One NUTS chain per key at the batched fits' settings (`nuts.sample_chains`)."""
    settings = _chain_settings(family, config)
    return sample_chains(keys, family, n, c, weight, samples=config.samples, **settings)


def fit_one(key, n, c, weight, ks, *, family: PriorFamily, config: BatchConfig) -> FitSummary:
    """NUTS on one dataset's weighted rows, reduced to forecast summaries of pass@k at `ks`.

    The chains are `batch_chains`, one per key split from `key`, in one program; `fit_batch`
    runs the same chains in segments (`start_one`, `advance_one`, then `summarise`).
    """
    keys = jax.random.split(key, config.chains + 1)
    trace = batch_chains(keys[1:], n, c, weight, family=family, config=config)
    return summarise(key, trace, n, c, weight, ks, family=family, config=config)


def start_one(key, n, c, weight, *, family: PriorFamily, config: BatchConfig) -> HMCState:
    """Start `fit_one`'s chains: their NUTS states before the first iteration."""
    keys = jax.random.split(key, config.chains + 1)
    return start_chains(keys[1:], family, n, c, weight, **_chain_settings(family, config))


def advance_one(
    states: HMCState, n, c, weight, *, iterations: int, family: PriorFamily, config: BatchConfig
) -> tuple[HMCState, Trace]:
    """Run ``iterations`` NUTS iterations of `fit_one`'s chains: (states, `Trace`)."""
    settings = _chain_settings(family, config)
    return advance_chains(states, family, n, c, weight, iterations=iterations, **settings)


def summarise(
    key, trace: Trace, n, c, weight, ks, *, family: PriorFamily, config: BatchConfig
) -> FitSummary:
    """`fit_one`'s `FitSummary` from its chains' kept draws (``trace``, (chains, samples))."""
    forecast_key = jax.random.split(key, config.chains + 1)[0]  # the others are the chains'
    draws = constrained(family, trace.z, n, c, weight)  # (chains, samples) per site
    r_hat = jnp.max(
        jnp.concatenate([jax.vmap(rank_r_hat, 2)(_per_scalar(draws[name])) for name in trace.z])
    )

    total = config.chains * config.samples
    pick = thinned(config.chains, config.samples, config.forecast_draws)
    fields = params_type(family)._fields
    params = params_type(family)(
        *(draws[name].reshape(total, *draws[name].shape[2:])[pick] for name in fields)
    )
    log_survival, variance, _ = survival_moments(
        family, params, n, c, weight, jnp.asarray(ks, float)
    )
    benchmark = -jnp.expm1(log_survival)
    sampled = _beta_draws(forecast_key, benchmark, variance)
    alpha = (1.0 - config.ci) / 2.0
    probs = jnp.array([alpha, 0.5, 1.0 - alpha])
    lower, median, upper = jnp.quantile(sampled, probs, axis=0)
    if family.tail_exponent is None:  # no power-law tail: NaN, like a point method's interval
        exponent = jnp.full(pick.shape, jnp.nan)
    else:
        exponent = jax.vmap(family.tail_exponent)(params)
    a_lower, _, a_upper = jnp.quantile(exponent, probs)
    return FitSummary(
        mean=benchmark.mean(axis=0),
        sd=benchmark.std(axis=0),
        median=median,
        lower=lower,
        upper=upper,
        exponent_mean=exponent.mean(),
        exponent_lower=a_lower,
        exponent_upper=a_upper,
        r_hat_max=r_hat,
        divergences=jnp.sum(trace.diverging),
        hyper_draws=stack_draws(params),
    )


def fit_batch(
    seed: int,
    n: np.ndarray,
    c: np.ndarray,
    ks,
    prior: str | PriorFamily = DEFAULT_PRIOR,
    config: BatchConfig = DEFAULT_CONFIG,
    progress: Callable[[int, int], None] | None = None,
    rows: int | None = None,
    key_ids=None,
) -> FitSummary:
    """Fit every dataset of a batch: `fit_one`'s chains vmapped, in segments, over the devices.

    Datasets are sorted by their number of distinct (n, c) rows and cut into evenly filled
    chunks of at most ``config.chunk``: a chunk pads its rows only to its own largest dataset,
    and its lanes, being alike, take alike trajectories (a vmapped NUTS step waits for the
    slowest lane). Dataset i always uses the key ``fold_in(key(seed), i)`` (or its ``key_ids``),
    so its fit does not depend on how the batch is chunked (up to rounding;
    benchmarks/mixed_batch.py compares).

    Args:
        seed: integer seed.
        n: attempts, shape (datasets, problems); n = 0 marks a missing problem.
        c: successes, same shape.
        ks: the k values of the forecast.
        prior: a registered family name or a `PriorFamily`.
        config: sampler settings (`BatchConfig`).
        progress: called as ``progress(done, total)`` after each chunk.
        rows: distinct (n, c) rows per dataset after padding, for every chunk (default: each
            chunk's largest count rounded up to a multiple of 8, as a single fit pads, so that
            chunks of similar datasets share one compilation).
        key_ids: an integer in [0, 2^32), or a row of them, per dataset: dataset i's key is
            ``key(seed)`` folded with each of ``key_ids[i]`` in turn (default: i), so that a
            dataset named by its ids is fitted alike whatever else the batch holds.

    Returns:
        A `FitSummary` of numpy arrays with a leading axis over datasets.
    """
    family = get_family(prior)
    check_sites(family)
    check_config(config)
    check_seed(seed)
    n, c = _checked_counts(n, c)
    ks = as_ks(ks).ravel()
    key_ids = _checked_key_ids(key_ids, n.shape[0])
    _check_same_on_every_process(seed, n, c, ks, (family.name, config, rows, key_ids.tolist()))
    datasets = n.shape[0]
    distinct = (rows_and_weights(n, c)[2] > 0).sum(axis=1)
    if rows is not None and not (is_positive_int(rows) and rows >= distinct.max()):
        most = int(np.argmax(distinct))
        raise InputError(
            f"rows must be a whole number of at least each dataset's distinct (n, c) rows "
            f"(dataset {most} has {distinct[most]}), got {rows!r}"
        )
    order = np.argsort(distinct, kind="stable")
    devices = jax.devices()
    chunk = chunk_size(datasets, config.chunk, devices)
    mesh = Mesh(np.array(devices), ("batch",))
    shard = NamedSharding(mesh, PartitionSpec("batch"))
    program = _compiled(family, tuple(float(k) for k in np.ravel(ks)), config, chunk, mesh)
    root = jax.random.key(seed)
    results: list[FitSummary | None] = [None] * datasets
    for start in range(0, datasets, chunk):
        members = order[start : start + chunk]
        # Padding lanes repeat the chunk's first dataset and are dropped.
        lanes = np.concatenate([members, np.repeat(members[:1], chunk - len(members))])
        size = rows or round_up(int(distinct[members].max()))
        inputs = chunk_inputs(root, n, c, lanes, size, shard, key_ids)
        out = jax.tree.map(to_host, run_in_segments(program, *inputs))
        for lane, dataset in enumerate(members):
            results[dataset] = FitSummary(*(field[lane] for field in out))
        if progress is not None:
            progress(min(start + chunk, datasets), datasets)
    return FitSummary(*(np.stack(field) for field in zip(*results, strict=True)))


def chunk_inputs(
    root, n: np.ndarray, c: np.ndarray, lanes: np.ndarray, rows: int, shard, key_ids=None
):
    """Build the program's arguments for one chunk: dataset ``lanes[j]`` in lane j, on its device.

    Dataset i's key is ``root`` folded with each of ``key_ids[i]`` in turn (default: i),
    whatever its lane; its (n, c) rows are padded to ``rows``. Returns [keys, n_rows, c_rows,
    weight], each placed by ``shard``.
    """
    n_rows, c_rows, weight = rows_and_weights(n[lanes], c[lanes], size=rows)
    ids = _checked_key_ids(key_ids, n.shape[0])[lanes]

    def key_of(row):
        key = root
        for column in range(ids.shape[1]):
            key = jax.random.fold_in(key, row[column])
        return key

    keys = jax.vmap(key_of)(jnp.asarray(ids))
    # Host arrays, so that every process of a multi-host run places the same global arrays.
    key_data = np.asarray(jax.random.key_data(keys))
    placed = [jax.device_put(x, shard) for x in (key_data, n_rows, c_rows, weight)]
    return [jax.random.wrap_key_data(placed[0], impl=jax.random.key_impl(root)), *placed[1:]]


def _check_same_on_every_process(seed, n, c, ks, settings) -> None:
    """Raise unless every process of a multi-host run was called with the same arguments.

    Each process places its own copy of the inputs on its devices; copies that differ would
    give a result silently mixed from several batches.
    """
    if jax.process_count() == 1:
        return
    digest = hashlib.sha256(repr((seed, n.shape, settings)).encode())
    for part in (n, c, np.ravel(ks)):
        digest.update(np.ascontiguousarray(part, dtype=float).tobytes())
    mine = np.frombuffer(digest.digest(), dtype=np.uint32)
    every = np.asarray(multihost_utils.process_allgather(mine)).reshape(jax.process_count(), -1)
    differ = [index for index, row in enumerate(every) if not np.array_equal(row, every[0])]
    if differ:
        raise InputError(
            f"process {differ[0]} of {jax.process_count()} was given other counts, k, seed, "
            "key ids, prior or settings to fit than process 0; every process must be given the same"
        )


def to_host(x) -> np.ndarray:
    """Return the whole of a (possibly multi-host) array as numpy, on every process."""
    if getattr(x, "is_fully_addressable", True):
        return np.asarray(x)
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def thinned(chains: int, samples: int, draws: int) -> np.ndarray:
    """Pick ``min(draws, chains * samples)`` evenly spaced draws of the chains laid end to end.

    Every chain gives the same share (to one draw), so a chain stuck apart from the others
    shows in the forecast as it does in r_hat.

    Example:
        >>> thinned(chains=2, samples=5, draws=4).tolist()  # chain 0: 0-4, chain 1: 5-9
        [0, 3, 6, 9]
    """
    total = chains * samples
    return np.round(np.linspace(0, total - 1, min(draws, total))).astype(int)


def _checked_key_ids(key_ids, datasets: int) -> np.ndarray:
    """Return key ids as a (datasets, m) uint32 array (default: each dataset's index)."""
    if key_ids is None:
        return np.arange(datasets, dtype=np.uint32)[:, None]
    try:
        ids = np.asarray(key_ids)
    except ValueError:  # NumPy's "inhomogeneous shape"
        raise InputError("key_ids' rows must all be of one length") from None
    ids = ids[:, None] if ids.ndim == 1 else ids
    if ids.ndim != 2 or ids.shape[0] != datasets or ids.shape[1] == 0:
        raise InputError(
            f"key_ids must give one id or one row of ids per dataset ({datasets}), got shape "
            f"{np.shape(key_ids)}"
        )
    if not np.issubdtype(ids.dtype, np.integer) or (
        ids.size and not 0 <= ids.min() <= ids.max() < 2**32
    ):
        raise InputError("key_ids must be integers in [0, 2^32)")
    return ids.astype(np.uint32)


def _checked_counts(n, c) -> tuple[np.ndarray, np.ndarray]:
    """Return n, c as (datasets, problems); raise unless whole, 0 <= c <= n, each some n > 0."""
    n, c = np.atleast_2d(n), np.atleast_2d(c)
    if n.ndim != 2 or n.shape != c.shape:
        raise InputError(f"n and c must share one (datasets, problems) shape: {n.shape}, {c.shape}")
    if 0 in n.shape:
        raise InputError(f"n and c must hold at least one dataset of one problem: {n.shape}")
    for name, values in (("n", n), ("c", c)):
        if values.dtype == bool or not np.issubdtype(values.dtype, np.number):
            raise InputError(f"{name} must hold numbers, got an array of {values.dtype}")
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InputError(f"dataset {i}, problem {j}: {name} = {values[i, j]} is no count")
    bad = np.argwhere(c > n)
    if bad.size:
        i, j = bad[0]
        raise InputError(f"dataset {i}, problem {j}: c = {c[i, j]} exceeds n = {n[i, j]}")
    empty = ~(n > 0).any(axis=1)  # n = 0 marks padding: nothing left to fit (was NaN)
    if empty.any():
        raise InputError(f"dataset {np.argmax(empty)} has no attempts (every n is 0)")
    return n, c


def chunk_size(datasets: int, chunk: int | None, devices) -> int:
    """Datasets per chunk: as few chunks of at most ``chunk`` as possible, evenly filled.

    Padding lanes cost a full fit each; the size is a multiple of the device count.

    Example:
        >>> chunk_size(32, 10, ["cpu:0", "cpu:1"])  # 4 chunks of 8, not 3 of 10 and one of 2
        8
    """
    calls = -(-datasets // max(chunk or default_chunk(devices), 1))
    size = -(-datasets // calls)
    return -(-size // len(devices)) * len(devices)


def default_chunk(devices) -> int:
    """Datasets per chunk when `BatchConfig.chunk` is None.

    A vmapped NUTS step lasts as long as the slowest lane, so lanes beyond what the hardware
    runs in parallel only add waiting: one dataset per CPU device (on 2 cores, 8 replicates
    took 1.3-1.4 times as long in chunks of 4 per device; benchmarks/RESULTS.md), many on a
    GPU.
    """
    per_device = 1 if devices[0].platform == "cpu" else 128
    return per_device * len(devices)


@cache
def _compiled(family: PriorFamily, ks: tuple[float, ...], config: BatchConfig, chunk: int, mesh):
    """`fit_one` over a chunk as `nuts.Segmented` programs, each device running its own lanes.

    ``jit(vmap(...))`` of `start_one`, of `advance_one` for one segment and of `summarise`, with
    each device's lanes apart from the others' (`shard_map`: a vmapped NUTS step waits for its
    slowest lane, and would wait for every device's under a plain sharded `jit`). A device with
    a single lane runs it without `vmap`, whose batching rules would triple the time to trace.
    The segments bound an execution's memory (see `bayes_passk.nuts`).
    """
    settings = {"family": family, "config": config}
    length, count = segment_plan(config.warmup + config.samples, config.segments)

    def finish(key, pieces, n, c, weight):
        trace = kept(pieces, config.warmup, config.samples)
        return summarise(key, trace, n, c, weight, jnp.asarray(ks), **settings)

    batch = PartitionSpec("batch")

    def sharded_lanes(one):
        if chunk == mesh.size:

            def lanes(*args):
                return jax.tree.map(lambda x: x[None], one(*jax.tree.map(lambda x: x[0], args)))
        else:
            lanes = jax.vmap(one)
        return jax.jit(
            jax.shard_map(
                lanes, mesh=mesh, in_specs=batch, out_specs=batch, check_vma=False
            )  # NumPyro's kernel mixes per-lane and shared values in branches
        )

    return Segmented(
        start=sharded_lanes(partial(start_one, **settings)),
        advance=sharded_lanes(partial(advance_one, iterations=length, **settings)),
        finish=sharded_lanes(finish),
        count=count,
    )


def rank_r_hat(draws):
    """Rank-normalized split R-hat (Vehtari et al. 2021) of draws shaped (chains, samples).

    ArviZ's default, as `bayes_passk.Fit.diagnostics` reports, for which the 1.01 threshold
    is set: the larger of the split R-hats of the draws' normal scores (bulk) and of the
    scores of their distances from the median (tail); on device. An odd number of samples
    leaves out the middle one, as ArviZ does. A NaN draw makes it inf: unconverged.
    """
    half = draws.shape[1] // 2
    split = jnp.concatenate([draws[:, :half], draws[:, -half:]])
    folded = jnp.abs(split - jnp.median(split))
    r_hat = jnp.maximum(_split_r_hat(_normal_scores(split)), _split_r_hat(_normal_scores(folded)))
    return jnp.where(jnp.isnan(draws).any(), jnp.inf, r_hat)  # NaN ranks are arbitrary


def _normal_scores(draws):
    """Phi^-1((r - 3/8) / (S + 1/4)) of each draw's rank r among all S, ties averaged."""
    pooled = jnp.sort(draws.ravel())
    below, up_to = (
        jnp.searchsorted(pooled, draws, side).astype(draws.dtype) for side in ("left", "right")
    )
    rank = (below + up_to + 1) / 2  # (searchsorted's indices are int32: in float32, 1e-5 off)
    return jax.scipy.special.ndtri((rank - 0.375) / (draws.size + 0.25))


def _split_r_hat(split):
    """R-hat (Gelman et al. 2013) of chains already split in halves, shaped (chains, samples)."""
    length = split.shape[1]
    within = jnp.mean(jnp.var(split, axis=1, ddof=1))
    between = length * jnp.var(jnp.mean(split, axis=1), ddof=1)
    pooled = (length - 1) / length * within + between / length
    return jnp.where(within > 0, jnp.sqrt(pooled / within), jnp.inf)  # stuck chains: inf


def _beta_draws(key, mean, variance):
    """One draw per entry of the Beta with this mean and variance (the mean where var = 0).

    Beta(alpha, beta) = sigmoid(log G1 - log G2), G1 ~ Gamma(alpha), G2 ~ Gamma(beta) drawn by
    `_log_gamma_draws`: no rejection loop, so the program stays smaller (jax.random.beta's
    loops were 15 of the engine's 49 while loops; benchmarks/RESULTS.md).
    """
    spread = mean * (1 - mean)
    usable = (variance > 0) & (variance < spread)
    concentration = jnp.where(usable, spread / jnp.where(usable, variance, 1.0) - 1, 1.0)
    shapes = jnp.clip(jnp.stack([mean, 1 - mean]) * concentration, 1e-300)
    log_g1, log_g2 = _log_gamma_draws(key, shapes)
    return jnp.where(usable, jax.nn.sigmoid(log_g1 - log_g2), mean)


def _log_gamma_draws(key, shape, candidates: int = 8):
    r"""Log of one Gamma(shape, 1) draw per entry, for any shape > 0, without a loop.

    Marsaglia and Tsang (2000) for Gamma(shape + 1): with d = shape + 2/3, c = 1 / sqrt(9 d),
    x ~ N(0, 1), v = (1 + c x)^3 and u ~ U(0, 1), the candidate d v is accepted when v > 0 and
    log u < x^2 / 2 + d - d v + d log v (probability >= 0.95 for shape + 1 >= 1). The first
    accepted of ``candidates`` independent candidates is an exact draw unless all are
    rejected (probability <= 0.05^8 < 1e-10; then the first candidate is kept). The boost
    Gamma(shape) = Gamma(shape + 1) U^(1 / shape) makes it valid below 1, in log space so that
    tiny shapes underflow to a log, not to 0.

    Example:
        >>> import jax
        >>> draws = jnp.exp(_log_gamma_draws(jax.random.key(0), jnp.full(20_000, 2.5)))
        >>> bool(abs(draws.mean() - 2.5) < 4 * (2.5 / 20_000) ** 0.5)  # mean = shape
        True
    """
    normal_key, accept_key, boost_key = jax.random.split(key, 3)
    d = shape + 2.0 / 3.0
    c = 1.0 / jnp.sqrt(9.0 * d)
    x = jax.random.normal(normal_key, (candidates, *shape.shape))
    cx = c * x
    w = cx * (3.0 + cx * (3.0 + cx))  # v - 1, without cancelling
    valid = w > -1.0  # v > 0
    log_v = jnp.log1p(jnp.where(valid, w, 0.0))
    log_u = jnp.log1p(-jax.random.uniform(accept_key, x.shape))  # 1 - u in (0, 1]: finite
    # d - d v + d log v = d (log v - w), exact to rounding even for huge d.
    accepted = valid & (log_u < 0.5 * x**2 + d * (log_v - jnp.where(valid, w, 0.0)))
    first = jnp.argmax(accepted, axis=0)  # 0 where none is accepted
    log_boosted = jnp.log(d) + jnp.take_along_axis(log_v, first[None], axis=0)[0]
    log_boost = jnp.log1p(-jax.random.uniform(boost_key, shape.shape)) / shape
    return log_boosted + log_boost


def _per_scalar(draws):
    """Draws (chains, samples, *event) as (chains, samples, scalars)."""
    return draws.reshape(*draws.shape[:2], -1)
