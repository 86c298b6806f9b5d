"""NUTS diagnostics of the latent (per-problem p_i) and marginalised forms of the same model.

python benchmarks/latent_vs_marginal.py                    # 2 models x 2 priors x 2 forms
python benchmarks/latent_vs_marginal.py --models "Pythia 70M" --priors scaled-beta
python benchmarks/latent_vs_marginal.py --small    # Pythia 70M, scaled Beta, 2 chains x 300+300

r_hat_max and ess_bulk_min are over the hyperparameter sites (those of the marginalised form)
in both forms; "latent ess_bulk_min" is the smallest bulk ESS of the per-problem latent sites.
"""

import argparse
import time
from functools import partial

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
from numpyro import handlers
from numpyro.infer import MCMC, NUTS

import bayes_passk as bp
from bayes_passk.families import get_family
from bayes_passk.hierarchy import hierarchical_model

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="*", default=None, help="default: Pythia 70M and 12B")
parser.add_argument("--priors", nargs="*", default=None, help="default: scaled-beta kumaraswamy")
parser.add_argument(
    "--small",
    action="store_true",
    help="Pythia 70M and scaled-beta unless given, 2 chains x (300 + 300)",
)
args = parser.parse_args()
if args.models is None:
    args.models = ["Pythia 70M"] if args.small else ["Pythia 70M", "Pythia 12B"]
if args.priors is None:
    args.priors = ["scaled-beta"] if args.small else ["scaled-beta", "kumaraswamy"]
chains, warmup, samples = (2, 300, 300) if args.small else (4, 1000, 1000)


def hyperparameter_sites(family, n, c) -> list[str]:
    """Names of the sampled and derived sites of the marginalised form: no per-problem ones."""
    model = handlers.seed(partial(hierarchical_model, family), jax.random.key(0))
    trace = handlers.trace(model).get_trace(n, c, marginalize=True)
    return [
        name
        for name, site in trace.items()
        if site["type"] in ("sample", "deterministic") and not site.get("is_observed", False)
    ]


def diagnostics(draws: dict, names):
    """ArviZ's r_hat and ESS of the named sites, one row per scalar."""
    keep = {name: np.asarray(draws[name]) for name in names}
    return az.summary(az.from_dict(posterior=keep), kind="diagnostics")


print(
    f"# {time.strftime('%Y-%m-%d')}, 100 attempts per problem, seed 0, "
    f"{chains} chains x {warmup}+{samples}"
)
print(
    "| model | prior | form | r_hat_max | ess_bulk_min | latent ess_bulk_min | divergences "
    "| seconds |"
)
print("|---|---|---|---|---|---|---|---|")
for model in args.models:
    data = bp.datasets.load("pythia-math", group=model, attempts_per_problem=100, seed=0)
    for prior in args.priors:
        family = get_family(prior)
        hyper = hyperparameter_sites(family, jnp.asarray(data.n), jnp.asarray(data.c))
        for marginalize in (False, True):
            start = time.perf_counter()
            mcmc = MCMC(
                NUTS(partial(hierarchical_model, family), target_accept_prob=0.95),
                num_warmup=warmup,
                num_samples=samples,
                num_chains=chains,
                chain_method="vectorized",
                progress_bar=False,
            )
            mcmc.run(
                jax.random.key(0),
                jnp.asarray(data.n),
                jnp.asarray(data.c),
                marginalize=marginalize,
                extra_fields=("diverging",),
            )
            draws = mcmc.get_samples(group_by_chain=True)
            summary = diagnostics(draws, hyper)
            # Per-problem latent sites (not the deterministic p, a function of them).
            latent = [k for k in draws if k not in hyper and k != "p"]
            latent_ess = f"{diagnostics(draws, latent)['ess_bulk'].min():.0f}" if latent else ""
            divergences = int(mcmc.get_extra_fields()["diverging"].sum())
            form = "marginalised" if marginalize else "latent"
            print(
                f"| {model} | {prior} | {form} | {summary['r_hat'].max():.3f} | "
                f"{summary['ess_bulk'].min():.0f} | {latent_ess} | {divergences} | "
                f"{time.perf_counter() - start:.0f} |",
                flush=True,
            )
