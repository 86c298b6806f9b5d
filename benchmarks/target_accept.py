"""NUTS target acceptance of `bp.fit`: divergences, convergence and leapfrog steps per draw.

    python benchmarks/target_accept.py 0.9     # 7 Pythia MATH models x 2 priors, 100 attempts

Each Pythia MATH model subsampled to 100 attempts per problem (seed 0), fitted with the scaled
Beta and the scaled Kumaraswamy at the given target acceptance, 4 chains x (1000 + 1000).
"""

import sys
import time
import warnings

import bayes_passk as bp

target_accept = float(sys.argv[1])
warnings.simplefilter("ignore", bp.ConvergenceWarning)
print(f"# {time.strftime('%Y-%m-%d')}, target_accept {target_accept}")
for prior in ("scaled-beta", "kumaraswamy"):
    for group in bp.datasets.load("pythia-math").groups:
        data = bp.datasets.load("pythia-math", group=group, attempts_per_problem=100, seed=0)
        start = time.perf_counter()
        fit = bp.fit(data, prior=prior, target_accept=target_accept, progress=False)
        found = fit.diagnostics()
        steps = float(fit.idata.sample_stats["n_steps"].mean())
        print(
            f"{prior:12s} {group:12s} divergences {found.divergences} r_hat "
            f"{found.r_hat_max:.4f} bulk ESS {found.ess_bulk_min:.0f} steps {steps:.1f} "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
