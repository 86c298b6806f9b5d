"""NUTS diagnostics of the latent (per-problem p_i) and marginalised forms of the same model.

python benchmarks/latent_vs_marginal.py                    # 2 models x 2 priors x 2 forms
python benchmarks/latent_vs_marginal.py --models "Pythia 70M" --priors scaled-beta
"""

import argparse
import time
from functools import partial

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC, NUTS

import bayes_passk as bp
from bayes_passk.families import get_family
from bayes_passk.hierarchy import hierarchical_model

parser = argparse.ArgumentParser()
parser.add_argument("--models", nargs="*", default=["Pythia 70M", "Pythia 12B"])
parser.add_argument("--priors", nargs="*", default=["scaled-beta", "kumaraswamy"])
args = parser.parse_args()

print(f"# {time.strftime('%Y-%m-%d')}, 100 attempts per problem, seed 0, 4 chains x 1000+1000")
print("| model | prior | form | r_hat_max | ess_bulk_min | divergences | seconds |")
print("|---|---|---|---|---|---|---|")
for model in args.models:
    data = bp.datasets.load("pythia-math", group=model, attempts_per_problem=100, seed=0)
    for prior in args.priors:
        family = get_family(prior)
        for marginalize in (False, True):
            start = time.perf_counter()
            mcmc = MCMC(
                NUTS(partial(hierarchical_model, family), target_accept_prob=0.95),
                num_warmup=1000,
                num_samples=1000,
                num_chains=4,
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
            keep = {k: np.asarray(v) for k, v in draws.items() if k != "p"}
            summary = az.summary(az.from_dict(posterior=keep), kind="diagnostics")
            divergences = int(mcmc.get_extra_fields()["diverging"].sum())
            form = "marginalised" if marginalize else "latent"
            print(
                f"| {model} | {prior} | {form} | {summary['r_hat'].max():.3f} | "
                f"{summary['ess_bulk'].min():.0f} | {divergences} | "
                f"{time.perf_counter() - start:.0f} |",
                flush=True,
            )
