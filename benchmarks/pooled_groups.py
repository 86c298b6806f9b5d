"""Forecast quality when several models' attempts on the same problems are fitted together.

    python benchmarks/pooled_groups.py --table \
        benchmarks/runs/forecast_quality_beta_spline_ta099_2026-12-03.csv.gz
    python benchmarks/pooled_groups.py --small --table ...   # 2 replicates
    python benchmarks/pooled_groups.py --pool difficulty --table ...

Each replicate of `forecast_quality.py`'s cells (same seeds, checked against the kept table)
holds 100 attempts per problem of every model of a dataset (7 Pythia MATH models; 6 Best-of-N
models). The default prior is fitted to all of a dataset's models at once, each model with its
own hyperparameters but the tail exponents drawn from one population:

.. math::  \\log a_g = \\mu + \\tau \\varepsilon_g, \\quad \\mu \\sim N(\\log 0.3, 1), \\quad
           \\tau \\sim \\text{HalfNormal}(0.5), \\quad \\varepsilon_g \\sim N(0, 1),

the rest of each model's hyperparameters as in the default's own prior. The marginal prior of
each a_g is then LogNormal(log 0.3, (1 + tau^2)^(1/2)), no narrower than the default's; what
changes is that the exponents of the other models inform each one's. Each model's pass@10000 is
then its posterior mean as `bp.forecast` computes it, from its own counts and its own draws.

``--pool difficulty`` links the problems instead: problem i has one difficulty y_i on the
default's logit grid, drawn from the default prior (the reference model's logit rates: the
model with the most successes in the replicate), and model g's rate is
logit p_gi = alpha_g + beta_g y_i, alpha_g ~ N(0, 3), log beta_g ~ N(0, 0.5) (model g's tail
exponent is then a / beta_g). Every model's counts on a problem inform its difficulty; the
link has no noise, so the models are assumed to order the problems alike.
"""

import argparse
import time

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from _cells import check_same_replicates, print_against_regression, quality_cells
from numpyro.infer import MCMC, NUTS

import bayes_passk as bp
from bayes_passk.batched import rows_and_weights
from bayes_passk.forecast import posterior_pass_at_k
from bayes_passk.functionals import SAMPLING, log_marginal_likelihood
from bayes_passk.inference import Fit
from bayes_passk.models import beta_spline

K = 10_000
FAMILY = beta_spline.FAMILY

parser = argparse.ArgumentParser()
parser.add_argument("--table", required=True, help="a kept forecast_quality.py table")
parser.add_argument("--small", action="store_true", help="2 replicates")
parser.add_argument("--dataset", choices=["pythia-math", "bon-jailbreak", "both"], default="both")
parser.add_argument("--pool", choices=["exponents", "difficulty"], default="exponents")
parser.add_argument("--tau-scale", type=float, default=0.5)
parser.add_argument("--warmup", type=int, default=500)
parser.add_argument("--samples", type=int, default=500)
args = parser.parse_args()


def pooled_model(n, c, weight, tau_scale):
    """Default prior per group, log tail exponents drawn from one normal; n, c, weight (G, R)."""
    groups = n.shape[0]
    mean = numpyro.sample("log_a_mean", dist.Normal(jnp.log(0.3), 1.0))
    spread = numpyro.sample("log_a_sd", dist.HalfNormal(tau_scale))
    with numpyro.plate("groups", groups):
        a = numpyro.deterministic(
            "a", jnp.exp(mean + spread * numpyro.sample("a_z", dist.Normal(0.0, 1.0)))
        )
        base_mean = numpyro.sample("base_mean", dist.Uniform(0.0, 1.0))
        b = numpyro.deterministic("b", a * (1.0 / base_mean - 1.0))
        scale = numpyro.sample("deviation_scale", dist.HalfNormal(1.0))
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([beta_spline.NUM_Z]).to_event(1))
    params = beta_spline.Params(a, b, scale, z)

    def group_log_likelihood(params, n, c, weight):
        rows = jnp.vectorize(
            lambda n, c: log_marginal_likelihood(FAMILY, params, n, c, rule=SAMPLING)
        )(n, c)
        return jnp.sum(jnp.where(weight > 0, weight * rows, 0.0))

    numpyro.factor("c", jax.vmap(group_log_likelihood)(params, n, c, weight).sum())


def linked_model(n, c, reference):
    """Problems' difficulties shared by the models, an affine link in logit; n, c (G, P)."""
    params = beta_spline.hyperprior()
    y, log_mass = beta_spline.log_masses(params)
    with numpyro.plate("groups", n.shape[0]):
        shift = numpyro.sample("shift", dist.Normal(0.0, 3.0))
        log_slope = numpyro.sample("log_slope", dist.Normal(0.0, 0.5))
    is_reference = jnp.arange(n.shape[0]) == reference
    shift = numpyro.deterministic("link_shift", jnp.where(is_reference, 0.0, shift))
    slope = numpyro.deterministic("link_slope", jnp.where(is_reference, 1.0, jnp.exp(log_slope)))
    numpyro.factor("c", jnp.sum(_log_posterior_grid(log_mass, y, shift, slope, n, c)[1]))


def _log_posterior_grid(log_mass, y, shift, slope, n, c):
    """Each problem's log posterior over the grid, and its log marginal likelihood (P,)."""
    x = shift[:, None] + slope[:, None] * y  # (G, J): logit p of each model at each point
    log_p, log_q = jax.nn.log_sigmoid(x), jax.nn.log_sigmoid(-x)
    joint = log_mass + c.T @ log_p + (n - c).T @ log_q  # (P, J), binomial coefficients aside
    marginal = jax.nn.logsumexp(joint, axis=1)
    return joint - marginal[:, None], marginal


@jax.jit
def linked_pass_at_k(params, shift, slope, n, c):
    """Posterior mean of each model's pass@K over the draws (leading axis of every argument)."""

    def one(draw):
        params, shift, slope = draw
        y, log_mass = beta_spline.log_masses(params)
        log_post, _ = _log_posterior_grid(log_mass, y, shift, slope, n, c)
        log_q = jax.nn.log_sigmoid(-(shift[:, None] + slope[:, None] * y))  # (G, J)
        survival = jax.nn.logsumexp(log_post[None] + K * log_q[:, None, :], axis=2)  # (G, P)
        return 1.0 - jnp.exp(survival).mean(axis=1)

    return jax.lax.map(one, (params, shift, slope), batch_size=16).mean(axis=0)


class WithData(Fit):
    """A fit whose forecasts read the given counts."""

    def __init__(self, idata, data: bp.PassData):
        super().__init__(idata, FAMILY)
        self._data = data

    @property
    def data(self) -> bp.PassData:
        return self._data


kept_table = pd.read_csv(args.table)
table = kept_table[kept_table.k == K]
replicates = int(table.replicate.max()) + 1
cells = quality_cells(0, 100, replicates, [1000, K])
check_same_replicates(cells, kept_table)
datasets = {"pythia-math": cells[:7], "bon-jailbreak": cells[7:]}
if args.dataset != "both":
    datasets = {args.dataset: datasets[args.dataset]}
count = 2 if args.small else replicates
chains = 2
model = pooled_model if args.pool == "exponents" else linked_model
kernel = NUTS(model, target_accept_prob=FAMILY.target_accept)
mcmc = MCMC(
    kernel,
    num_warmup=args.warmup,
    num_samples=args.samples,
    num_chains=chains,
    chain_method="parallel" if jax.device_count() >= chains else "sequential",
    progress_bar=False,
)
start = time.perf_counter()
rows = []
for name, group_cells in datasets.items():
    for replicate in range(count):
        n = np.stack([cell.n[replicate] for cell in group_cells]).astype(float)
        c = np.stack([cell.c[replicate] for cell in group_cells]).astype(float)
        key = jax.random.key(replicate)
        if args.pool == "exponents":
            mcmc.run(key, *rows_and_weights(n, c), args.tau_scale)
            shown = ["a", "log_a_sd", "base_mean"]
        else:
            mcmc.run(key, n, c, int(np.argmax(c.sum(axis=1))))
            shown = ["a", "base_mean", "shift", "log_slope"]
        draws = mcmc.get_samples(group_by_chain=True)
        idata = az.from_dict(posterior={k: np.asarray(v) for k, v in draws.items()})
        summary = az.summary(idata, var_names=shown, kind="diagnostics")
        divergent = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
        if args.pool == "exponents":
            estimates = []
            for g, cell in enumerate(group_cells):
                one = az.from_dict(
                    posterior={f: np.asarray(draws[f])[:, :, g] for f in beta_spline.Params._fields}
                )
                data = bp.PassData.from_counts(
                    np.arange(cell.n.shape[1]).astype(str), cell.n[replicate], cell.c[replicate]
                )
                forecast = posterior_pass_at_k(WithData(one, data), np.array([K]))
                estimates.append(float(forecast.benchmark_given_hyper.mean()))
            exponents = np.asarray(draws["a"]).mean(axis=(0, 1))
        else:
            flat = mcmc.get_samples()
            params = beta_spline.Params(*(flat[f] for f in beta_spline.Params._fields))
            estimates = np.asarray(
                linked_pass_at_k(params, flat["link_shift"], flat["link_slope"], n, c)
            )
            exponents = np.asarray((flat["a"][:, None] / flat["link_slope"]).mean(axis=0))
        for cell, estimate in zip(group_cells, estimates, strict=True):
            rows.append((cell.group, replicate, float(estimate), cell.truth[replicate, 1]))
        print(
            f"{name} replicate {replicate}: r_hat max {summary.r_hat.max():.3f}, "
            f"ESS bulk min {summary.ess_bulk.min():.0f}, {divergent} divergent, "
            f"tail exponents {np.round(exponents, 3).tolist()}, "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )

pooled = pd.DataFrame(rows, columns=["group", "replicate", "estimate", "truth"])
pooled["method"] = f"bayes-pooled-{args.pool}"
print_against_regression(pooled, table, [pooled.method[0], "bayes-beta-spline", "regression"])
print(f"\n{time.perf_counter() - start:.0f} s")
