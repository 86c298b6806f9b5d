"""The power-law family's sampling efficiency in three coordinates of the same prior.

    python benchmarks/power_law_coordinates.py            # 2 models x 2 budgets x 3 seeds, ~5 min
    python benchmarks/power_law_coordinates.py --small    # Pythia 1B at 100 attempts, 1 seed

The family's prior is a ~ LogNormal(log 0.3, 1) and the law's pass@100 ~ Uniform(0, 1). NUTS
moves in the unconstrained coordinates of the sampled sites, and the same prior can be written
with other sites, which changes the geometry and not the posterior:

- ``logit pass@100`` (the family's): pass@100 ~ Uniform(0, 1);
- ``logit pass@10``: pass@10 = pass@100^(10^a), so pass@10 | a ~ Beta(10^-a, 1);
- ``log(-log pass@10)``: -log pass@100 ~ Exponential(1), so -log pass@10 = 10^a (-log pass@100)
  ~ Exponential(10^-a) given a (the regression's coordinate, log A - a log k, at k = 10).

Each is fitted to Pythia MATH subsampled to 100 and to 8 attempts per problem (seed 0), with
chains 2 x (300 + 300) and seeds 0, 1, 2; printed: r_hat and the bulk and tail ESS, worst over
a and A, and a's posterior mean.
"""

import argparse
import platform
import time
import warnings

import arviz as az
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

import bayes_passk as bp
from bayes_passk.models import power_law

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="Pythia 1B at 100 attempts, seed 0")
args = parser.parse_args()


def logit_pass_at_10():
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    pass_at_10 = numpyro.sample("pass_at_10", dist.Beta(10.0**-a, 1.0))
    return power_law.Params(a, numpyro.deterministic("A", -jnp.log(pass_at_10) * 10.0**a))


def log_minus_log_pass_at_10():
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    minus_log = numpyro.sample("minus_log_pass_at_10", dist.Exponential(10.0**-a))
    return power_law.Params(a, numpyro.deterministic("A", minus_log * 10.0**a))


FAMILIES = {
    "logit pass@100": power_law.FAMILY,
    **{
        name: power_law.FAMILY._replace(name=name, hyperprior=hyperprior)  # masses unchanged
        for name, hyperprior in (
            ("logit pass@10", logit_pass_at_10),
            ("log(-log pass@10)", log_minus_log_pass_at_10),
        )
    },
}
cases = (
    [("Pythia 1B", 100)]
    if args.small
    else [(group, attempts) for group in ("Pythia 1B", "Pythia 12B") for attempts in (100, 8)]
)
seeds = [0] if args.small else [0, 1, 2]
print(f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, 2 x (300 + 300)")
print("| model | attempts | seed | coordinate | r_hat | bulk ESS | tail ESS | a (mean) |")
print("|---|---|---|---|---|---|---|---|")
for group, attempts in cases:
    data = bp.datasets.load("pythia-math", group=group, attempts_per_problem=attempts, seed=0)
    for seed in seeds:
        for name, family in FAMILIES.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = bp.fit(
                    data,
                    prior=family,
                    seed=seed,
                    chains=2,
                    warmup=300,
                    samples=300,
                    progress=False,
                    check=False,
                )
            post = fit.idata.posterior[["a", "A"]]
            r_hat = max(float(az.rhat(post)[v]) for v in ("a", "A"))
            bulk = min(float(az.ess(post)[v]) for v in ("a", "A"))
            tail = min(float(az.ess(post, method="tail")[v]) for v in ("a", "A"))
            print(
                f"| {group} | {attempts} | {seed} | {name} | {r_hat:.4f} | {bulk:.0f} | "
                f"{tail:.0f} | {float(post['a'].mean()):.3f} |",
                flush=True,
            )
