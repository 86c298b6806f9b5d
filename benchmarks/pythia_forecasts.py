"""Acceptance run: fit both priors to each Pythia MATH model subsampled to 100 attempts per
problem, and compare the pass@10000 forecast with the truth from all 10,000 attempts.

    python benchmarks/pythia_forecasts.py                 # 7 models x 2 priors, ~10 min on 2 cores
    python benchmarks/pythia_forecasts.py --models "Pythia 12B" --priors kumaraswamy  # one fit
    python benchmarks/pythia_forecasts.py --small   # Pythia 70M and 12B, 2 chains x (300 + 300)
"""

import argparse
import platform
import time
import warnings

import bayes_passk as bp
from bayes_passk.estimators import mean_pass_at_k

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--models", nargs="*", default=None, help="default: all 7 (2 with --small)")
parser.add_argument("--priors", nargs="*", default=["scaled-beta", "kumaraswamy"])
parser.add_argument("--attempts", type=int, default=100)
parser.add_argument("--k", type=int, default=10_000)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument(
    "--small",
    action="store_true",
    help="Pythia 70M and 12B unless --models, 2 chains x (300 + 300) instead of 4 x (1000 + 1000)",
)
args = parser.parse_args()
if args.models is None:
    small_models = ["Pythia 70M", "Pythia 12B"]
    args.models = small_models if args.small else bp.datasets.load("pythia-math").groups
chains, warmup, samples = (2, 300, 300) if args.small else (4, 1000, 1000)

print(
    f"# {platform.node()} {platform.processor() or platform.machine()}, "
    f"{time.strftime('%Y-%m-%d')}, attempts={args.attempts}, k={args.k}, seed={args.seed}, "
    f"{chains} chains x ({warmup} + {samples})"
)
header = (
    "model",
    "prior",
    "r_hat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "div",
    "forecast",
    "90% CI",
    "truth",
    "in CI",
    "a (90% CI)",
    "fit s",
)
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
covered = total = 0
for model in args.models:
    data = bp.datasets.load(
        "pythia-math", group=model, attempts_per_problem=args.attempts, seed=args.seed
    )
    truth = float(mean_pass_at_k(bp.datasets.load("pythia-math", group=model), [args.k])[0])
    for prior in args.priors:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bp.ConvergenceWarning)
            result = bp.fit(
                data,
                prior=prior,
                seed=args.seed,
                chains=chains,
                warmup=warmup,
                samples=samples,
                progress=False,
            )
        seconds = time.perf_counter() - start
        f = result.forecast([args.k], ci=0.9)
        d = result.diagnostics()
        inside = f.lower[0] <= truth <= f.upper[0]
        covered += inside
        total += 1
        print(
            f"| {model} | {prior} | {d.r_hat_max:.3f} | {d.ess_bulk_min:.0f} | "
            f"{d.ess_tail_min:.0f} | {d.divergences} | {f.mean[0]:.3f} | "
            f"[{f.lower[0]:.3f}, {f.upper[0]:.3f}] | {truth:.3f} | {'yes' if inside else 'no'} | "
            f"{f.exponent.mean:.2f} [{f.exponent.lower:.2f}, {f.exponent.upper:.2f}] | "
            f"{seconds:.0f} |",
            flush=True,
        )
print(f"\n{covered} of {total} 90% intervals contain the truth.")
