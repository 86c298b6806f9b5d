"""Do the forecast's interval ends rise with k? Shared-uniform draws against independent ones.

    python benchmarks/band_monotonicity.py            # Pythia 12B and 70M, 361 distinct k
    python benchmarks/band_monotonicity.py --small    # Pythia 12B, 96 distinct k

Each model's Pythia MATH subsample (100 attempts per problem, seed 0) is fitted once (2 chains
x (500 + 500)); its forecast draws on a log grid of k from 1 to 1e9 are then made both ways from
the same conditional means and variances: the package's (one uniform per posterior draw, shared
across k, through `bayes_passk.forecast.beta_quantile`) and independent Beta draws per k (the
package before 2026-12-02). Printed per model and way: how many of the grid's steps lower the
5%, 50% and 95% quantiles over draws, the largest such drop, and the seconds the draws took.
"""

import argparse
import platform
import time

import numpy as np

import bayes_passk as bp
import bayes_passk.forecast as forecast_module


def independent_draws(rng, mean, variance, ks):
    """One Beta draw per entry, independently across k."""
    spread = mean * (1 - mean)
    usable = (variance > 0) & (variance < spread)
    concentration = np.where(usable, spread / np.where(usable, variance, 1.0) - 1, 1.0)
    alpha = np.clip(mean * concentration, 1e-300, None)
    beta = np.clip((1 - mean) * concentration, 1e-300, None)
    return np.where(usable, rng.beta(alpha, beta), mean)


def conditional_moments(fit, ks):
    """Per draw and k, the conditional mean and variance the forecast draws from."""
    captured = {}
    package_draws = forecast_module._beta_draws

    def capture(rng, mean, variance, ks):
        captured.update(mean=mean, variance=variance)
        return mean

    forecast_module._beta_draws = capture
    try:
        fit.forecast(ks)
    finally:
        forecast_module._beta_draws = package_draws
    return captured["mean"], captured["variance"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--small", action="store_true", help="one model, 96 distinct k (100 log-spaced, rounded)"
    )
    args = parser.parse_args()
    groups = ["Pythia 12B"] if args.small else ["Pythia 12B", "Pythia 70M"]
    ks = np.unique(np.round(np.logspace(0, 9, 100 if args.small else 400))).astype(np.int64)
    print(f"{platform.node()}, {platform.processor() or platform.machine()}; {ks.size} k values")
    print("| model | draws | steps lowering 5% / 50% / 95% | largest drop | seconds |")
    print("|---|---|---|---|---|")
    ways = {"shared uniform": forecast_module._beta_draws, "independent": independent_draws}
    for group in groups:
        data = bp.datasets.load("pythia-math", group=group, attempts_per_problem=100, seed=0)
        fit = bp.fit(
            data,
            prior="scaled-beta",
            chains=2,
            warmup=500,
            samples=500,
            progress=False,
            check=False,
        )
        mean, variance = conditional_moments(fit, ks)
        for name, draw in ways.items():
            rng = np.random.default_rng(0)
            start = time.perf_counter()
            draws = draw(rng, mean, variance, ks)
            seconds = time.perf_counter() - start
            flat = draws.reshape(-1, ks.size)
            quantiles = np.quantile(flat, [0.05, 0.5, 0.95], axis=0)
            steps = np.diff(quantiles, axis=1)
            lowering = " / ".join(str(int(np.sum(row < 0))) for row in steps)
            drop = max(0.0, float(-steps.min()))
            print(f"| {group} | {name} | {lowering} | {drop:.4f} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
