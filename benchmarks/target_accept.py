"""NUTS target acceptance of `bp.fit`: divergences, convergence and leapfrog steps per draw.

    python benchmarks/target_accept.py 0.9     # 7 Pythia MATH models x 2 priors, 100 attempts
    python benchmarks/target_accept.py 0.9 --small  # Pythia 70M and 12B, 2 chains x (300 + 300)
    python benchmarks/target_accept.py 0.99 --priors beta-spline --bon  # and 6 Best-of-N models

Each Pythia MATH model subsampled to 100 attempts per problem (seed 0), fitted with each prior
(default: the scaled Beta and the scaled Kumaraswamy) at the given target acceptance, 4 chains x
(1000 + 1000). With --bon also the Best-of-N models with a power law (all but Llama 3 8B IT),
100 Bernoulli attempts per prompt at its full-data rate (seed 0), as in forecast_quality.py.
"""

import argparse
import time
import warnings

import numpy as np

import bayes_passk as bp
from bayes_passk.models import family_names

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("target_accept", type=float, help="NUTS target acceptance, e.g. 0.9")
parser.add_argument(
    "--small", action="store_true", help="Pythia 70M and 12B only, 2 chains x (300 + 300)"
)
parser.add_argument(
    "--priors",
    nargs="+",
    choices=family_names(),
    default=["scaled-beta", "kumaraswamy"],
    help="prior families to fit (scaled-beta kumaraswamy)",
)
parser.add_argument("--bon", action="store_true", help="also the Best-of-N models")
args = parser.parse_args()
target_accept = args.target_accept
groups = ["Pythia 70M", "Pythia 12B"] if args.small else bp.datasets.load("pythia-math").groups
chains, warmup, samples = (2, 300, 300) if args.small else (4, 1000, 1000)
warnings.simplefilter("ignore", bp.ConvergenceWarning)
print(
    f"# {time.strftime('%Y-%m-%d')}, target_accept {target_accept}, "
    f"{chains} chains x ({warmup} + {samples})"
)
cells = [("pythia-math", group) for group in groups]
if args.bon:
    bon = bp.datasets.load("bon-jailbreak").groups
    cells += [("bon-jailbreak", group) for group in bon if group != "Llama 3 8B IT"]


def load(name: str, group: str) -> bp.PassData:
    """The cell's 100 attempts per problem: a subsample (Pythia) or fresh Bernoulli draws (BoN)."""
    if name == "pythia-math":
        return bp.datasets.load(name, group=group, attempts_per_problem=100, seed=0)
    full = bp.datasets.load(name, group=group)
    successes = np.random.default_rng(0).binomial(100, full.c / full.n)
    return bp.PassData.from_counts(full.problem_id, np.full_like(successes, 100), successes)


runs = []  # (prior, wall seconds, divergent transitions) per fit
for prior in args.priors:
    for name, group in cells:
        data = load(name, group)
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
        seconds = time.perf_counter() - start
        print(
            f"{prior:12s} {group:17s} divergences {found.divergences} r_hat "
            f"{found.r_hat_max:.4f} bulk ESS {found.ess_bulk_min:.0f} steps {steps:.1f} "
            f"{seconds:.0f} s",
            flush=True,
        )
        runs.append((prior, seconds, found.divergences))
for prior in args.priors:
    divergences = [count for name, _, count in runs if name == prior]
    seconds = sum(wall for name, wall, _ in runs if name == prior)
    print(
        f"{prior}: {sum(count > 0 for count in divergences)} of {len(divergences)} fits with "
        f"divergent transitions, {sum(divergences)} in all, {seconds:.0f} s"
    )
