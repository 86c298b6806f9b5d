"""Fit the hierarchical model by NUTS and keep the result as ArviZ InferenceData.

`fit` samples the hyperparameters with the per-problem rates integrated out (see
`bayes_passk.hierarchy`), several chains at once, JIT-compiled. Identical (n, c) rows are
fitted once with a weight, so 128 problems with 100 attempts each cost a few dozen quadratures
per gradient. The returned `Fit` holds the InferenceData:

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

import os
import sys
import warnings
from functools import partial
from numbers import Integral
from typing import NamedTuple

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from numpyro.infer import MCMC, NUTS

from bayes_passk.data import InputError, PassData, validate_counts
from bayes_passk.families import PriorFamily, get_family, hyperprior_sites, params_type
from bayes_passk.functionals import SAMPLING, log_binomial, log_moment
from bayes_passk.hierarchy import distinct_rows, flat_padded_draws, hierarchical_model

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
            found.append(f"r_hat_max = {self.r_hat_max:.3f} > {R_HAT_MAX}")
        if not self.ess_bulk_min >= ESS_MIN:
            found.append(f"ess_bulk_min = {self.ess_bulk_min:.0f} < {ESS_MIN}")
        if not self.ess_tail_min >= ESS_MIN:
            found.append(f"ess_tail_min = {self.ess_tail_min:.0f} < {ESS_MIN}")
        if self.divergences > 0:
            found.append(f"{self.divergences} divergent transitions")
        return found

    @property
    def ok(self) -> bool:
        """True when r_hat, both ESS and the divergence count pass."""
        return not self.problems


class Fit:
    """A fitted model: the InferenceData, the prior family and the data it was fitted to."""

    def __init__(self, idata: az.InferenceData):
        self.idata = idata
        self.family = get_family(idata.attrs["prior"])

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
        tmp = f"{path}.partial"
        try:
            self.idata.to_netcdf(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def __repr__(self) -> str:
        posterior = self.idata.posterior
        return (
            f"Fit(prior={self.family.name!r}, problems={posterior.sizes['problem']}, "
            f"chains={posterior.sizes['chain']}, draws={posterior.sizes['draw']})"
        )


def load_fit(path) -> Fit:
    """Read a `Fit` saved with `Fit.save`."""
    return Fit(az.from_netcdf(path))


def fit(
    data: PassData,
    prior: str | PriorFamily = "scaled-beta",
    seed: int = 0,
    chains: int = 4,
    warmup: int = 1000,
    samples: int = 1000,
    *,
    group: str | None = None,
    target_accept: float = 0.9,
    progress: bool | None = None,
    check: bool = True,
) -> Fit:
    """Sample the posterior of the hierarchical model for one group of `data` by NUTS.

    Args:
        data: counts per problem (`PassData`); with several groups, pick one with ``group``.
        prior: a family name from `bayes_passk.families.registry` or a `PriorFamily`.
        seed: seed of the PRNG key.
        chains: number of chains; on CPU they run in parallel over the host's devices when
            there are enough (see `bayes_passk.__init__`), else vectorised on one.
        warmup: warm-up (adaptation) iterations per chain.
        samples: kept draws per chain.
        group: the group to fit, when `data` holds several.
        target_accept: NUTS target acceptance probability; raise it (e.g. 0.95) when the fit
            reports divergent transitions or a small ESS, at the cost of smaller steps.
        progress: show a progress bar (default: when stderr is a terminal).
        check: warn with `ConvergenceWarning` naming each failing diagnostic.

    Returns:
        A `Fit`.
    """
    if not isinstance(data, PassData):
        raise InputError(f"data must be a PassData (see bayes_passk.data.load), got {type(data)}")
    for name, value in (("chains", chains), ("warmup", warmup), ("samples", samples)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise InputError(f"seed must be an integer, got {seed!r}")
    if not 0 < target_accept < 1:
        raise InputError(f"target_accept must lie strictly between 0 and 1, got {target_accept}")
    data = validate_counts(data.single_group(group))
    if data.num_problems == 0:
        raise InputError("no problems to fit")
    family = get_family(prior)
    rows = distinct_rows(data.n, data.c)
    n_rows, c_rows = jnp.asarray(rows.n), jnp.asarray(rows.c)
    progress = sys.stderr.isatty() if progress is None else progress
    # With `jit_model_args` the rows are arguments of the vectorised sampler's program, not
    # constants, so data of the same padded row count share it (JAX's persistent cache, see
    # `bayes_passk.__init__`, loads it).
    mcmc = MCMC(
        NUTS(
            partial(hierarchical_model, family, marginalize=True),
            target_accept_prob=target_accept,
        ),
        num_warmup=warmup,
        num_samples=samples,
        num_chains=chains,
        chain_method="parallel" if jax.local_device_count() >= chains else "vectorized",
        progress_bar=progress,
        jit_model_args=True,
    )
    mcmc.run(
        jax.random.key(seed),
        n_rows,
        c_rows,
        weight=jnp.asarray(rows.weight),
        extra_fields=("diverging", "num_steps", "accept_prob", "energy"),
    )
    draws = mcmc.get_samples(group_by_chain=True)
    params = params_type(family)(*(draws[f] for f in params_type(family)._fields))
    flat, count = flat_padded_draws(params)
    log_lik_rows, p_mean_rows = (
        np.asarray(x)[:count, rows.index].reshape(chains, samples, -1)
        for x in _row_summaries(family, flat, n_rows, c_rows)
    )

    problem = {"problem": data.problem_id}
    idata = az.from_dict(
        posterior={
            **{name: np.asarray(value) for name, value in draws.items()},
            "p_mean": p_mean_rows,
        },
        sample_stats=_sample_stats(mcmc, chains),
        log_likelihood={"c": log_lik_rows},
        observed_data={"n": data.n, "c": data.c},
        coords=problem,
        dims={"p_mean": ["problem"], "c": ["problem"], "n": ["problem"]},
        attrs={"prior": family.name, "group": str(data.group[0]) if data.num_problems else ""},
    )
    group_coord = xr.DataArray(data.group.astype(str), dims="problem")
    idata.map(
        lambda dataset: dataset.assign_coords(group=group_coord),
        groups=["posterior", "log_likelihood", "observed_data"],
        inplace=True,
    )
    result = Fit(idata)
    if check:
        diagnostics = result.diagnostics()
        if not diagnostics.ok:
            warnings.warn(
                f"NUTS diagnostics failed for prior {family.name!r}: "
                + "; ".join(diagnostics.problems)
                + ". Run longer (warmup/samples), raise target_accept (e.g. 0.95), or treat the"
                " forecast with caution.",
                ConvergenceWarning,
                stacklevel=2,
            )
    return result


def _sample_stats(mcmc: MCMC, chains: int) -> dict[str, np.ndarray]:
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {
        "diverging": extra["diverging"],
        "n_steps": extra["num_steps"],
        "acceptance_rate": extra["accept_prob"],
        "energy": extra["energy"],
    }
    return {name: np.asarray(value).reshape(chains, -1) for name, value in stats.items()}


@partial(jax.jit, static_argnums=0)
def _row_summaries(family: PriorFamily, params, n, c):
    """Log P(c | n, theta) and E[p | n, c, theta] per draw and row, shapes (draws, rows)."""

    def per_draw(theta):
        def per_row(n_row, c_row):
            # Counts up to ~1e4: the sampling rule is within 2e-5 nats of the fine one for
            # a >= 0.1 (1.5e-3 at a = 0.03), and it is the likelihood NUTS sampled with.
            log_base = log_moment(family, theta, c_row, n_row - c_row, SAMPLING)
            log_lik = log_binomial(n_row, c_row) + log_base
            log_p = log_moment(family, theta, c_row + 1.0, n_row - c_row, SAMPLING) - log_base
            return log_lik, jnp.exp(log_p)

        return jax.vmap(per_row)(n, c)

    return jax.lax.map(per_draw, params, batch_size=64)
