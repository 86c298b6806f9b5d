"""Single fit: ESS per second of `bp.fit` against plain NumPyro NUTS on the centred latent model.

    python benchmarks/single_fit_ess.py            # Pythia 12B, 100 attempts, 4 chains x 1000+1000
    python benchmarks/single_fit_ess.py --small    # 2 chains x 300 + 300, a quick check
    python benchmarks/single_fit_ess.py --prior scaled-beta   # the figures before the default

Both run on the same data with the same chains, warm-up and draws, one after the other in this
process. The plain model is what one writes first: a ~ LogNormal(log 0.3, 1), b ~ LogNormal(log 3,
1.5), s ~ Uniform(0, 1), p_i = s q_i with q_i ~ Beta(a, b) sampled directly (centred), and
c_i ~ Binomial(n_i, p_i); NumPyro's `MCMC(NUTS)` with its defaults (target acceptance 0.8).
`bp.fit` uses the package's default prior (`--prior` names another). ESS is the smallest bulk ESS
over the hyperparameters: for `bp.fit` over every one its diagnostics check, sampled and derived
(with `--prior scaled-beta`: a, mean, u, b, scale; the default beta-spline: a, base_mean, b,
deviation_scale and each of its innovations z), for the plain model over a, b and s. Records
before 2026-12-03 used a and s alone, and the scaled Beta. Times are wall seconds of the whole
call, compilation included, and of a second call of each (compiled program reused, key 1);
each row's ESS, divergences and r_hat come from the run it times.
"""

import argparse
import os
import platform
import time
import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

# Both arms compile from cold: the package's on-disk cache of compiled programs would also
# serve the plain model's rerun (NumPyro recompiles its sequential chains on every run).
os.environ["BAYES_PASSK_CACHE_DIR"] = ""
import bayes_passk as bp  # noqa: E402
from bayes_passk.models import DEFAULT_PRIOR  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
parser.add_argument("--target-accept", type=float, default=None, help="bp.fit's (default: its own)")
parser.add_argument("--prior", default=None, help="bp.fit's prior (default: the package's)")
args = parser.parse_args()
chains, warmup, samples = (2, 300, 300) if args.small else (4, 1000, 1000)
prior = args.prior or DEFAULT_PRIOR

data = bp.datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)


def centred(n, c=None):
    a = numpyro.sample("a", dist.LogNormal(jnp.log(0.3), 1.0))
    b = numpyro.sample("b", dist.LogNormal(jnp.log(3.0), 1.5))
    s = numpyro.sample("s", dist.Uniform(0.0, 1.0))
    with numpyro.plate("problems", n.shape[0]):
        q = numpyro.sample("q", dist.Beta(a, b))
        numpyro.sample("c", dist.Binomial(n, probs=s * q), obs=c)


def min_ess(draws: dict, names) -> float:
    return min(float(az.ess(np.asarray(draws[name]), method="bulk")) for name in names)


print(
    f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, "
    f"Pythia 12B 100 attempts, {chains} chains x ({warmup} + {samples}), bp.fit prior {prior}"
)


def package_run(seed: int) -> tuple[float, float, int, float]:
    """Wall seconds of one `bp.fit`, then that fit's smallest ESS, divergences and r_hat."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bp.ConvergenceWarning)
        tuning = {} if args.target_accept is None else {"target_accept": args.target_accept}
        fit = bp.fit(
            data,
            prior=prior,
            seed=seed,
            chains=chains,
            warmup=warmup,
            samples=samples,
            progress=False,
            **tuning,
        )
    seconds = time.perf_counter() - start
    diagnostics = fit.diagnostics()
    return seconds, diagnostics.ess_bulk_min, diagnostics.divergences, diagnostics.r_hat_max


package = package_run(0)
package_again = package_run(1)

mcmc = MCMC(
    NUTS(centred), num_warmup=warmup, num_samples=samples, num_chains=chains, progress_bar=False
)
n, c = jnp.asarray(data.n), jnp.asarray(data.c)


def plain_run(seed: int) -> tuple[float, float, int, float]:
    """Wall seconds of one `MCMC.run`, then that run's ESS, divergences and max r_hat."""
    start = time.perf_counter()
    mcmc.run(jax.random.key(seed), n, c, extra_fields=("diverging",))
    seconds = time.perf_counter() - start
    draws = mcmc.get_samples(group_by_chain=True)
    divergences = int(mcmc.get_extra_fields()["diverging"].sum())
    r_hat = max(float(az.rhat(np.asarray(draws[name]))) for name in ("a", "b", "s"))
    return seconds, min_ess(draws, ("a", "b", "s")), divergences, r_hat


plain_seconds, plain_ess, plain_div, plain_r_hat = plain_run(0)
plain_again, again_ess, again_div, again_r_hat = plain_run(1)

print("\n| sampler | wall s | min bulk ESS | ESS/s | divergences | max r_hat |")
print("|---|---|---|---|---|---|")
for label, (seconds, ess, divergences, r_hat) in (
    (f"bp.fit ({prior}, marginalised)", package),
    (f"bp.fit ({prior}), second run (compiled)", package_again),
):
    rate = ess / seconds
    print(f"| {label} | {seconds:.1f} | {ess:.0f} | {rate:.1f} | {divergences} | {r_hat:.3f} |")
print(
    f"| plain NumPyro, centred latent | {plain_seconds:.1f} | {plain_ess:.0f} | "
    f"{plain_ess / plain_seconds:.1f} | {plain_div} | {plain_r_hat:.3f} |"
)
print(
    f"| plain NumPyro, second run (compiled) | {plain_again:.1f} | {again_ess:.0f} | "
    f"{again_ess / plain_again:.1f} | {again_div} | {again_r_hat:.3f} |"
)
package_rate, again_rate = package[1] / package[0], package_again[1] / package_again[0]
print(
    f"\nESS/s ratio, package / plain: {package_rate / (plain_ess / plain_seconds):.1f}"
    f" (second runs, both compiled: {again_rate / (again_ess / plain_again):.1f})"
)
