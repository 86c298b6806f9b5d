"""Fit the hierarchical model by NUTS and keep the result as ArviZ InferenceData.

`fit` samples the hyperparameters with the per-problem rates integrated out (see
`bayes_passk.hierarchy`), several chains at once, in JIT-compiled programs (the chains' start,
a segment of iterations called again and again, the draws) that later fits of the same padded
size reuse (`bayes_passk.nuts`). Identical (n, c) rows are fitted once with a weight, so 128
problems with 100 attempts each cost a few dozen quadratures per gradient. The returned `Fit`
holds the InferenceData:

- ``posterior``: the hyperparameters, and ``p_mean`` = E[p_i | n_i, c_i, hyperparameters] per
  draw and problem;
- ``sample_stats``: NUTS statistics (``diverging``, ``n_steps``, ``acceptance_rate``, ``energy``);
- ``observed_data``: ``n`` and ``c``, with problem ids and groups as coordinates;
- ``log_likelihood``: log P(c_i | n_i, hyperparameters) per problem (for LOO);
- ``posterior_predictive``: the pass@k forecast per draw (see `bayes_passk.forecast`).

Example:
    >>> import bayes_passk as bp
    >>> data = bp.PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
    >>> result = bp.fit(data, chains=2, warmup=200, samples=200, progress=False, check=False)
    >>> sorted(result.idata.groups())[:3]
    ['log_likelihood', 'observed_data', 'posterior']
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from functools import cache, partial
from typing import NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.sharding import Mesh, PartitionSpec

from bayes_passk.data import (
    InputError,
    PassData,
    check_run_length,
    check_seed,
    is_positive_int,
    is_probability,
    require_pass_data,
    validate_counts,
    warn_if_uninformative,
)
from bayes_passk.families import (
    PriorFamily,
    check_sites,
    get_family,
    hyperprior_sites,
    params_type,
)
from bayes_passk.functionals import SAMPLING, log_binomial, log_moment
from bayes_passk.hierarchy import distinct_rows, flat_padded_draws
from bayes_passk.models import DEFAULT_PRIOR
from bayes_passk.nuts import (
    Segmented,
    advance_chains,
    constrained,
    kept,
    run_in_segments,
    segment_plan,
    start_chains,
)

R_HAT_MAX = 1.01
ESS_MIN = 400


class ConvergenceWarning(UserWarning):
    """NUTS diagnostics outside the accepted range (r_hat > 1.01, ESS < 400, divergences)."""


class Diagnostics(NamedTuple):
    """Convergence summary over the hyperparameters."""

    r_hat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int

    @property
    def problems(self) -> list[str]:
        """The failing checks, in words; empty when all pass."""
        found = []
        if np.isnan(self.r_hat_max):
            found.append("r_hat is undefined (it needs 2 or more chains of non-constant draws)")
        elif not self.r_hat_max <= R_HAT_MAX:
            found.append(f"r_hat_max = {self.r_hat_max:.4f} > {R_HAT_MAX}")
        if not self.ess_bulk_min >= ESS_MIN:
            found.append(f"ess_bulk_min = {_below(self.ess_bulk_min)} < {ESS_MIN}")
        if not self.ess_tail_min >= ESS_MIN:
            found.append(f"ess_tail_min = {_below(self.ess_tail_min)} < {ESS_MIN}")
        if self.divergences > 0:
            found.append(f"{self.divergences} divergent transitions")
        return found

    @property
    def ok(self) -> bool:
        """True when r_hat, both ESS and the divergence count pass."""
        return not self.problems


def _below(ess: float) -> str:
    """Return an ESS rounded down, so that 399.9 does not read as 400 < 400."""
    return str(math.floor(ess)) if math.isfinite(ess) else str(ess)


class Fit:
    """A fitted model: the InferenceData, the prior family and the data it was fitted to.

    Example:
        >>> import os, tempfile
        >>> import bayes_passk as bp
        >>> data = bp.PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
        >>> result = bp.fit(data, chains=2, warmup=200, samples=200, progress=False, check=False)
        >>> result.data.c.tolist(), result.diagnostics().divergences >= 0
        ([0, 3, 20], True)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     result.save(os.path.join(folder, "fit.nc"))
        ...     bp.load_fit(os.path.join(folder, "fit.nc"))
        Fit(prior='beta-spline', problems=3, chains=2, draws=200)
    """

    def __init__(self, idata: az.InferenceData, family: PriorFamily | None = None):
        self.idata = idata
        # A family passed as an object need not be registered under its name.
        self.family = get_family(idata.attrs["prior"] if family is None else family)

    @property
    def data(self) -> PassData:
        """The fitted counts, rebuilt from ``observed_data``."""
        observed = self.idata.observed_data
        return PassData(
            observed["problem"].values.astype(str),
            observed["n"].values.astype(np.int64),
            observed["c"].values.astype(np.int64),
            observed["group"].values.astype(str),
        )

    @property
    def params(self):
        """Posterior draws of the family's hyperparameters, arrays of shape (chain, draw)."""
        names = params_type(self.family)._fields
        return params_type(self.family)(*(self.idata.posterior[f].values for f in names))

    def diagnostics(self) -> Diagnostics:
        """r_hat, bulk and tail ESS over the sampled hyperparameters, and divergences."""
        names = list(hyperprior_sites(self.family))  # sampled and derived sites
        posterior = self.idata.posterior[names]
        with np.errstate(invalid="ignore", divide="ignore"):  # constant draws: NaN r_hat
            # Unrounded (az.summary rounds r_hat to 2 decimals, which hides 1.0104 > 1.01).
            # One chain has no between-chain variance: r_hat is undefined (ArviZ would log it).
            r_hat = az.rhat(posterior) if posterior.sizes["chain"] > 1 else posterior * np.nan
            ess_bulk = az.ess(posterior, method="bulk")
            ess_tail = az.ess(posterior, method="tail")

        def extreme(dataset, reduce):
            return float(reduce([reduce(dataset[name].values) for name in names]))

        return Diagnostics(
            r_hat_max=extreme(r_hat, np.max),
            ess_bulk_min=extreme(ess_bulk, np.min),
            ess_tail_min=extreme(ess_tail, np.min),
            divergences=int(self.idata.sample_stats["diverging"].values.sum()),
        )

    def forecast(self, ks=None, ci: float = 0.9, target: str = "benchmark", **kwargs):
        """Posterior pass@k; see `bayes_passk.forecast.forecast`."""
        from bayes_passk.forecast import forecast

        return forecast(self, ks, ci=ci, target=target, **kwargs)

    def save(self, path) -> None:
        """Write the InferenceData to netCDF (atomically: nothing is left on failure)."""
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise InputError(f"cannot save the fit to {path}: no folder {folder}")
        tmp = f"{path}.partial"
        try:
            self.idata.to_netcdf(tmp)
            os.replace(tmp, path)
        except OSError as error:
            reason = error.strerror or str(error).splitlines()[0]
            raise InputError(f"cannot save the fit to {path}: {reason}") from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def __repr__(self) -> str:
        posterior = self.idata.posterior
        return (
            f"Fit(prior={self.family.name!r}, problems={posterior.sizes['problem']}, "
            f"chains={posterior.sizes['chain']}, draws={posterior.sizes['draw']})"
        )


def load_fit(path, family: str | PriorFamily | None = None) -> Fit:
    """Read a `Fit` saved with `Fit.save`; `family` for one fitted as an unregistered object.

    ``family`` is a prior's name or a `PriorFamily`. The file's prior must be ``family``'s name,
    and its posterior must hold every site of the prior: draws read under another family's
    density would forecast silently wrong.

    Returns:
        The `Fit` (example: `Fit`).
    """
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    try:
        idata = az.from_netcdf(path)
    except (OSError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path} is not a fit saved by Fit.save (netCDF): {reason}") from None
    needed = {"posterior", "observed_data", "sample_stats"} - set(idata.groups())
    if needed or ("prior" not in idata.attrs and family is None):
        missing = ", ".join(sorted(needed)) if needed else "the prior's name"
        raise InputError(f"{path} is not a fit saved by Fit.save: it lacks {missing}")
    name = idata.attrs.get("prior")
    family = None if family is None else get_family(family)
    if family is not None and name is not None and family.name != name:
        raise InputError(f"{path} was fitted under the prior {name!r}, not {family.name!r}")
    try:
        fitted = Fit(idata, family)
    except ValueError as error:  # a name no registered family has
        raise InputError(
            f"{path}: {error}; a fit under an unregistered family loads with "
            "load_fit(path, family=that_family)"
        ) from None
    missing = [site for site in hyperprior_sites(fitted.family) if site not in idata.posterior]
    if missing:
        raise InputError(
            f"{path} lacks posterior draws of {', '.join(missing)}, which the prior "
            f"{fitted.family.name!r} has"
        )
    validate_counts(fitted.data, source=str(path))
    return fitted


def fit(
    data: PassData,
    prior: str | PriorFamily = DEFAULT_PRIOR,
    seed: int = 0,
    chains: int = 4,
    warmup: int = 1000,
    samples: int = 1000,
    *,
    group: str | None = None,
    target_accept: float | None = None,
    progress: bool | None = None,
    check: bool = True,
) -> Fit:
    """Sample the posterior of the hierarchical model for one group of `data` by NUTS.

    Args:
        data: counts per problem (`PassData`); with several groups, pick one with ``group``.
        prior: a family name from `bayes_passk.families.registry` or a `PriorFamily`.
        seed: seed of the PRNG key.
        chains: number of chains; they are split over as many of the host's devices as
            divide their number (on CPU one device per core, see `bayes_passk.__init__`).
        warmup: warm-up (adaptation) iterations per chain.
        samples: kept draws per chain (at least 4).
        group: the group to fit, when `data` holds several.
        target_accept: NUTS target acceptance probability (default: the prior family's, 0.9 for
            most, 0.99 for ``beta-spline`` and ``log-spline``); raise it when the fit reports
            divergent transitions, at the cost of smaller steps (for a small ESS or a large
            r_hat, run longer).
        progress: show progress: a bar on a terminal or in Jupyter, else a line on stderr at each
            tenth of the run (default: on a terminal or in Jupyter only).
        check: warn with `ConvergenceWarning` naming each failing diagnostic.

    Returns:
        A `Fit`.
    """
    require_pass_data(data)
    for name, value in (("chains", chains), ("warmup", warmup), ("samples", samples)):
        if not is_positive_int(value):
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if samples < 4:
        raise InputError(f"samples must be at least 4 for the split r_hat, got {samples}")
    check_run_length(chains, warmup, samples)
    check_seed(seed)
    if not (progress is None or isinstance(progress, bool | np.bool_)):
        raise InputError(f"progress must be True, False or None, got {progress!r}")
    if not isinstance(check, bool | np.bool_):
        raise InputError(f"check must be True or False, got {check!r}")
    data = validate_counts(data.single_group(group))
    if data.num_problems == 0:
        raise InputError("no problems to fit")
    family = get_family(prior)
    check_sites(family)
    target_accept = family.target_accept if target_accept is None else target_accept
    if not is_probability(target_accept):
        raise InputError(f"target_accept must lie strictly between 0 and 1, got {target_accept!r}")
    warn_if_uninformative(data, f"the prior ({family.name})")
    if data.num_problems == 1:
        warnings.warn(
            "one problem: how rates vary between problems, and with it a forecast for a new "
            f"problem, comes from the prior ({family.name})",
            stacklevel=2,
        )
    rows = distinct_rows(data.n, data.c)
    n_rows, c_rows, weight = (jnp.asarray(x) for x in (rows.n, rows.c, rows.weight))
    progress = _interactive() if progress is None else progress
    program = _sampler(family, chains, warmup, samples, target_accept, progress)
    keys = jax.random.split(jax.random.key(seed), chains)
    with _ProgressBar(chains * (warmup + samples), enabled=progress):
        draws, trace = jax.block_until_ready(program(keys, n_rows, c_rows, weight))
    draws = {name: np.asarray(value) for name, value in draws.items()}
    params = params_type(family)(*(draws[f] for f in params_type(family)._fields))
    flat, count = flat_padded_draws(params)
    log_lik_rows, p_mean_rows = (
        np.asarray(x)[:count, rows.index].reshape(chains, samples, -1)
        for x in _row_summaries(family, flat, n_rows, c_rows)
    )

    idata = _inference_data(data, family, draws, trace, log_lik_rows, p_mean_rows)
    result = Fit(idata, family)
    if check:
        _warn_if_unconverged(result.diagnostics(), family.name, chains * samples, target_accept)
    return result


def _inference_data(data, family, draws, trace, log_lik_rows, p_mean_rows) -> az.InferenceData:
    """Gather the fit as ArviZ InferenceData: draws, sampler statistics, likelihoods."""
    idata = az.from_dict(
        posterior={**draws, "p_mean": p_mean_rows},
        sample_stats={
            "diverging": np.asarray(trace.diverging),
            "n_steps": np.asarray(trace.num_steps),
            "acceptance_rate": np.asarray(trace.accept_prob),
            "energy": np.asarray(trace.energy),
        },
        log_likelihood={"c": log_lik_rows},
        observed_data={"n": data.n, "c": data.c},
        coords={"problem": data.problem_id},
        dims={"p_mean": ["problem"], "c": ["problem"], "n": ["problem"]},
        attrs={"prior": family.name, "group": str(data.group[0]) if data.num_problems else ""},
    )
    group_coord = xr.DataArray(data.group.astype(str), dims="problem")
    idata.map(
        lambda dataset: dataset.assign_coords(group=group_coord),
        groups=["posterior", "log_likelihood", "observed_data"],
        inplace=True,
    )
    return idata


def _warn_if_unconverged(
    diagnostics: Diagnostics, prior: str, transitions: int, target_accept: float
) -> None:
    """Warn (`ConvergenceWarning`) naming each failing diagnostic, with advice.

    Divergences call for smaller steps: the advice names a target acceptance halfway from the
    one used to 1 (0.9 -> 0.95 -> 0.975).
    """
    if diagnostics.ok:
        return
    if diagnostics.divergences == transitions:
        # NUTS diverges at every step when the log density or its gradient is NaN.
        advice = (
            "Every transition diverged: the log density or its gradient is not finite"
            " where the chains are; check the prior family's functions."
        )
    elif diagnostics.divergences:
        advice = (
            f"Raise target_accept (to {1 - (1 - target_accept) / 2:.6g}; it was"
            f" {target_accept:.6g}), run longer (warmup/samples), or treat the results with"
            " caution."
        )
    elif diagnostics.r_hat_max > R_HAT_MAX:
        advice = (
            "Run longer (warmup/samples); if r_hat stays high, these counts may not pin down the"
            " prior's shape (near-identical problems can leave two ways to fit them): another"
            " prior may fit them better (`bayes-passk compare --priors all` ranks the priors by"
            " PSIS-LOO), or treat the results with caution."
        )
    else:
        advice = "Run longer (warmup/samples), or treat the results with caution."
    warnings.warn(
        f"NUTS diagnostics failed for prior {prior!r}: "
        + "; ".join(diagnostics.problems)
        + ". "
        + advice,
        ConvergenceWarning,
        stacklevel=3,  # the caller of fit
    )


@cache
def _sampler(family: PriorFamily, chains: int, warmup: int, samples: int, accept: float, progress):
    """Build the fit: a function (chain keys, n, c, weight) -> (constrained draws, `Trace`).

    Three compiled programs with the data as arguments, so fits of the same padded row count
    share them (in this process, and through JAX's persistent cache across processes): the
    chains' start (`nuts.start_chains`), a segment of about 1 / `nuts.SEGMENTS` of the
    iterations (`nuts.advance_chains`), called once per segment, and the kept draws' constrained
    values (`nuts.run_in_segments`). The chains are split over as many of the host's devices as
    divide their number (one per CPU core, see `bayes_passk.__init__`); each device runs its
    chains independently, one after another on a CPU core, vectorised on an accelerator.
    Segments bound the memory of an execution (see `bayes_passk.nuts`), and the progress moves
    between them.
    """
    devices = jax.local_devices()
    total = warmup + samples
    length, count = segment_plan(total)
    settings = {"warmup": warmup, "target_accept": accept}

    def start(keys, n, c, weight):
        return start_chains(keys, family, n, c, weight, **settings)

    def advance(states, n, c, weight):
        return advance_chains(states, family, n, c, weight, iterations=length, **settings)

    def finish(keys, pieces, n, c, weight):
        trace = kept(pieces, warmup, samples)
        return constrained(family, trace.z, n, c, weight), trace

    used = max(d for d in range(1, min(chains, len(devices)) + 1) if chains % d == 0)
    if used > 1:
        mesh = Mesh(np.array(devices[:used]), ("chain",))
        chain, shared = PartitionSpec("chain"), PartitionSpec()

        def sharded(f, *per_chain):
            return jax.shard_map(
                f,
                mesh=mesh,
                in_specs=(*per_chain, shared, shared, shared),
                out_specs=chain,
                check_vma=False,  # NumPyro's kernel mixes per-chain and shared values in branches
            )

        start, advance, finish = (
            sharded(start, chain),
            sharded(advance, chain),
            sharded(finish, chain, chain),
        )
    run = Segmented(jax.jit(start), jax.jit(advance), jax.jit(finish), count)

    def report(segment):
        _ProgressBar.report(chains * (min(total, (segment + 1) * length) - segment * length))

    return partial(run_in_segments, run, on_segment=report if progress else None)


def _interactive() -> bool:
    """Whether someone watches: a terminal on stderr, or a Jupyter kernel."""
    return sys.stderr.isatty() or "ipykernel" in sys.modules


class _ProgressBar:
    """Progress over the iterations of all chains, fed between the sampler's segments.

    A tqdm bar where someone watches (`_interactive`); elsewhere, a log or a pipe, a plain line
    at every tenth of the run, which a log file keeps readable.
    """

    active = None

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled

    def __enter__(self):
        if self.enabled:
            if _interactive():
                from tqdm import tqdm

                _ProgressBar.active = tqdm(total=self.total, desc="NUTS", unit="it", leave=False)
            else:
                _ProgressBar.active = _ProgressLines(self.total)
        return self

    def __exit__(self, kind, *exc):
        bar, _ProgressBar.active = _ProgressBar.active, None
        if isinstance(bar, _ProgressLines) and kind is None:
            # The segments' reports add up to the total; this only makes sure a log says
            # that the run ended.
            bar.update(bar.total - bar.done)
        if bar is not None:
            bar.close()

    @staticmethod
    def report(iterations) -> None:
        bar = _ProgressBar.active
        if bar is not None:
            bar.update(int(iterations))


class _ProgressLines:
    """``NUTS: 30% (1200/4000 iterations, 14 s)`` on stderr at each tenth of the total."""

    def __init__(self, total: int):
        self.total, self.done, self.said = total, 0, 0
        self.start = time.perf_counter()

    def update(self, iterations: int) -> None:
        self.done += iterations
        tenths = min(10 * self.done // self.total, 10)
        if tenths > self.said:
            self.said = tenths
            seconds = time.perf_counter() - self.start
            print(
                f"NUTS: {10 * tenths}% ({self.done}/{self.total} iterations, {seconds:.0f} s)",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        pass


@partial(jax.jit, static_argnums=0)
def _row_summaries(family: PriorFamily, params, n, c):
    """Log P(c | n, theta) and E[p | n, c, theta] per draw and row, shapes (draws, rows)."""
    # Counts up to ~1e4: the sampling rule is within 2e-5 nats of the fine one for a >= 0.1
    # (1.5e-3 at a = 0.03), and it is the likelihood NUTS sampled with. Both moments of a draw
    # in one batch, which compiles faster than two.
    moments = jax.vmap(partial(log_moment, rule=SAMPLING), in_axes=(None, None, 0, 0))
    successes, failures = jnp.concatenate([c, c + 1.0]), jnp.concatenate([n - c, n - c])

    def per_draw(theta):
        log_base, log_next = moments(family, theta, successes, failures).reshape(2, -1)
        return log_binomial(n, c) + log_base, jnp.exp(log_next - log_base)

    return jax.lax.map(per_draw, params, batch_size=64)
