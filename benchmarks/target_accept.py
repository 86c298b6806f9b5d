"""NUTS target acceptance of `bp.fit`: divergences, convergence and leapfrog steps per draw.

    python benchmarks/target_accept.py 0.9     # 7 Pythia MATH models x 2 priors, 100 attempts
    python benchmarks/target_accept.py 0.9 --small  # Pythia 70M and 12B, 2 chains x (300 + 300)

Each Pythia MATH model subsampled to 100 attempts per problem (seed 0), fitted with the scaled
Beta and the scaled Kumaraswamy at the given target acceptance, 4 chains x (1000 + 1000).
"""

import argparse
import time
import warnings

import bayes_passk as bp

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("target_accept", type=float, help="NUTS target acceptance, e.g. 0.9")
parser.add_argument(
    "--small", action="store_true", help="Pythia 70M and 12B only, 2 chains x (300 + 300)"
)
args = parser.parse_args()
target_accept = args.target_accept
groups = ["Pythia 70M", "Pythia 12B"] if args.small else bp.datasets.load("pythia-math").groups
chains, warmup, samples = (2, 300, 300) if args.small else (4, 1000, 1000)
warnings.simplefilter("ignore", bp.ConvergenceWarning)
print(
    f"# {time.strftime('%Y-%m-%d')}, target_accept {target_accept}, "
    f"{chains} chains x ({warmup} + {samples})"
)
for prior in ("scaled-beta", "kumaraswamy"):
    for group in groups:
        data = bp.datasets.load("pythia-math", group=group, attempts_per_problem=100, seed=0)
        start = time.perf_counter()
        fit = bp.fit(
            data,
            prior=prior,
            chains=chains,
            warmup=warmup,
            samples=samples,
            target_accept=target_accept,
            progress=False,
        )
        found = fit.diagnostics()
        steps = float(fit.idata.sample_stats["n_steps"].mean())
        print(
            f"{prior:12s} {group:12s} divergences {found.divergences} r_hat "
            f"{found.r_hat_max:.4f} bulk ESS {found.ess_bulk_min:.0f} steps {steps:.1f} "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
