"""Cost of learning a family's hyperparameter types and shapes, which every `fit` needs.

    python benchmarks/family_introspection.py [--repeats 5]
    python benchmarks/family_introspection.py --small     # 2 repeats

`families.params_type`, `event_shapes` and `hyperprior_sites` trace the hyperprior abstractly
(`jax.eval_shape`); running it for real, as they did before, compiles a score of tiny programs
per family on every start of the process (too small for the on-disk cache). Both ways, side by
side in one process, for all registered families, caches cleared before each repeat.
"""

import argparse
import platform
import statistics
import time

import jax
import numpyro

import bayes_passk  # noqa: F401  (float64, as the package runs)
from bayes_passk import families

parser = argparse.ArgumentParser()
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--small", action="store_true", help="2 repeats")
args = parser.parse_args()
if args.small:
    args.repeats = 2


def concrete(family):
    """The former way: run the hyperprior with a seed and read the values' shapes."""
    with numpyro.handlers.seed(rng_seed=0):
        draw = family.hyperprior()
    trace = numpyro.handlers.trace(numpyro.handlers.seed(family.hyperprior, 0)).get_trace()
    sites = {name: (site["type"], tuple(site["value"].shape)) for name, site in trace.items()}
    return type(draw), tuple(tuple(x.shape) for x in draw), sites


def abstract(family):
    """The package's way."""
    return (
        families.params_type(family),
        families.event_shapes(family),
        families.hyperprior_sites(family),
    )


def clear():
    jax.clear_caches()
    for function in (families._prior_draw, families.event_shapes, families.hyperprior_sites):
        function.cache_clear()


registry = list(families.registry().values())
assert all(concrete(f) == abstract(f) for f in registry)  # same answers
seconds = {"concrete": [], "abstract": []}
for _ in range(args.repeats):
    for name, way in (("concrete", concrete), ("abstract", abstract)):
        clear()
        start = time.perf_counter()
        for family in registry:
            way(family)
        seconds[name].append(time.perf_counter() - start)
print(
    f"{platform.machine()}, jax {jax.__version__}, {len(registry)} families, median of "
    f"{args.repeats} (caches cleared each time)"
)
for name, values in seconds.items():
    print(f"{name}: {statistics.median(values):.3f} s")
ratio = statistics.median(seconds["concrete"]) / statistics.median(seconds["abstract"])
print(f"ratio concrete / abstract: {ratio:.1f}")
