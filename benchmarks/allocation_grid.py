"""How exactly the `bayes` policy's grid gives E[(1 - p)^k | n, c, theta], family by family.

    python benchmarks/allocation_grid.py [--small]

The policy scores problems on a fixed grid of logit p (`allocation.GRID`). For chosen
hyperparameters (a scaled Beta whose density is infinite at p = s, b < 1; the power-law family,
which holds the mass above its grid on its top point) and the first hyperprior draws of the
discrete families, it prints the relative error of the grid's survival against the quadrature
of `functionals.log_survival_seen` (FINE rule), for problems with and without successes.
``--small``: fewer cases.
"""

import argparse
import platform

import jax
import jax.numpy as jnp
import numpyro

import bayes_passk  # noqa: F401  (float64, as the package runs)
from bayes_passk import allocation
from bayes_passk.families import get_family, params_type
from bayes_passk.functionals import log_survival_seen

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true")
args = parser.parse_args()

CASES = [
    ("scaled-beta", dict(a=0.3, b=1.0, scale=0.5)),
    ("scaled-beta", dict(a=0.3, b=0.6, scale=0.5)),
    ("scaled-beta", dict(a=0.3, b=0.3, scale=0.5)),
    ("scaled-beta", dict(a=0.3, b=0.1, scale=0.5)),
    ("kumaraswamy", dict(a=0.3, b=0.6, scale=0.5)),
    ("power-law", dict(a=0.074, A=0.56)),
    ("power-law", dict(a=0.35, A=4.8)),
    *((name, seed) for name in ("beta-spline", "log-spline") for seed in range(3)),
]
ROWS = [(0, 0, 10), (8, 0, 10_000), (8, 4, 100), (8, 8, 10), (100, 3, 1000)]
if args.small:
    CASES, ROWS = CASES[1:2] + CASES[5:6], ROWS[:3]

print(f"# {platform.node()}, jax {jax.__version__}")
header = " | ".join(f"n={n}, c={c}, k={k}" for n, c, k in ROWS)
print(f"| family | hyperparameters | {header} |")
print("|---|---|" + "---|" * len(ROWS))
for name, params in CASES:
    family = get_family(name)
    if isinstance(params, int):
        with numpyro.handlers.seed(rng_seed=params):
            theta = family.hyperprior()
        shown = f"prior draw {params}"
    else:
        theta = params_type(family)(**{key: jnp.array(value) for key, value in params.items()})
        shown = ", ".join(f"{key} = {value}" for key, value in params.items())
    log_prior = allocation._grid_log_prior(family, jax.tree.map(lambda x: x[None], theta))
    errors = []
    for n, c, k in ROWS:
        posterior = allocation._grid_posterior(log_prior, jnp.array(n, float), jnp.array(c, float))
        on_grid = float((posterior @ jnp.exp(k * allocation.POINTS_LOG1M_P))[0])
        exact = float(jnp.exp(log_survival_seen(family, theta, float(n), float(c), float(k))))
        errors.append(f"{on_grid / exact - 1:+.1e}")
    print(f"| {name} | {shown} | " + " | ".join(errors) + " |")
