"""Small pass@k of the quadrature families: its accuracy, and what taking it as such costs.

    python benchmarks/survival_routes.py            # 1,000 draws
    python benchmarks/survival_routes.py --small    # 100 draws
    python benchmarks/survival_routes.py --grid     # and the test grid's errors (~3 minutes)
    python benchmarks/survival_routes.py --seen     # and rows with successes (~3 minutes)

Accuracy: pass@k = 1 - S, S = E[(1 - p)^k | c, m], by two routes against exact sums at 400
digits (s = 1: E[q^j] = b B(1 + j/a, b) for the Kumaraswamy, (a / (a + j))^shape for the
log-gamma): the difference, 1 - J(c, m + k) / J(c, m), and the package's, where the part of
J(c, m) that k attempts solve is integrated as such below `functionals.SOLVED_BELOW`
(`functionals.log_survival`). And both routes on the Beta's closed form, by band of pass@k
(a in 0.01 to 0.3, b in 0.7 to 200, rows fresh, 0/100, 3/100, k 1 to 1e9): where each is the
better, which sets the threshold.

Cost: `forecast.survival_moments` of the scaled Beta on Pythia 12B's distinct rows at 100
attempts and the forecast's k grid, as a forecast calls it (solved parts for the rows never
solved, `forecast.unsolved_row_count`) and with every row's, against the same quadrature over
the difference route's moments alone (per row J(c, m), J(c + 1, m), J(c + 2, m); per k and
row J(c, m + k), J(c, m + 2k); per k J(0, k); and J(0, 0)), each compiled first, then the
median of 3 calls. And the compile time of `survival_moments` at 16 rows, 4 k and 4 draws, 8
rows solved and 16 (the package's compilation cache off).

Seen: for rows with successes the forecast takes S = J(c, m + k) / J(c, m) alone (their
posteriors have one scale); the largest difference of its pass@k from the solved part's, where
that is below `SOLVED_BELOW`, over the scaled Beta, Kumaraswamy and log-gamma at a in 0.02 to
1.5, b (shape) in 0.7 to 200, s in 0.035 to 1 with prior mean E[p] >= 1e-6, rows 1/100,
3/100, 1/1000, 1/1e4, 1/1e6, 5/1e6, 9000/1e4, 100/100 and k 1 to 1e9.

Grid: on every point of `tests/test_functionals.py`'s 27-point grid of (a, b, s) for both
families, the larger of the relative errors of S and of pass@k (where >= 1e-6) over its rows and
k, against its mpmath oracles (`_check_survival`, imported from the tests).
"""

import argparse
import itertools
import os

os.environ["BAYES_PASSK_CACHE_DIR"] = ""  # before the package sets JAX up: every compile real

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from functools import partial  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import mpmath as mp  # noqa: E402
import numpy as np  # noqa: E402

import bayes_passk  # noqa: E402, F401  (float64)
from bayes_passk import datasets  # noqa: E402
from bayes_passk.families import get_family, params_type  # noqa: E402
from bayes_passk.forecast import (  # noqa: E402
    DEFAULT_KS,
    MOMENTS_PER_BATCH,
    survival_moments,
    unsolved_row_count,
)
from bayes_passk.functionals import SOLVED_BELOW, log_moment, log_survival_seen  # noqa: E402
from bayes_passk.hierarchy import distinct_rows  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--small", action="store_true", help="100 draws, not 1,000")
parser.add_argument("--grid", action="store_true", help="the test grid's errors too")
parser.add_argument("--seen", action="store_true", help="rows with successes too")
args = parser.parse_args()
print(f"{platform.node()}, {platform.processor() or platform.machine()}, jax {jax.__version__}")

# --- accuracy -------------------------------------------------------------------------------


def exact_log_moment(name, a, b, c, m):
    with mp.workdps(400):
        a, b = mp.mpf(a), mp.mpf(b)
        if name == "kumaraswamy":
            power = lambda j: b * mp.beta(1 + j / a, b)  # noqa: E731
        else:
            power = lambda j: (a / (a + j)) ** b  # noqa: E731
        return mp.log(mp.fsum(mp.binomial(m, j) * (-1) ** j * power(c + j) for j in range(m + 1)))


CASES = [("kumaraswamy", 0.02, 3.0), ("kumaraswamy", 0.05, 3.0), ("log-gamma", 0.05, 3.0)]
CASES += [("log-gamma", 0.02, 5.0)]
ROWS, KS = [(0, 0), (100, 0), (100, 3)], [1.0, 10.0, 100.0]
print("family        a     b | worst relative error of pass@k: difference  package")
for name, a, b in CASES:
    family = get_family(name)
    params = params_type(family)(a, b, 1.0)
    moment = jax.jit(lambda c, m, family=family, params=params: log_moment(family, params, c, m))
    seen = jax.jit(partial(log_survival_seen, family, params))
    worst = {"difference": 0.0, "package": 0.0}
    for n, c in ROWS:
        base = exact_log_moment(name, a, b, c, n - c)
        for k in KS:
            want = float(-mp.expm1(exact_log_moment(name, a, b, c, n - c + int(k)) - base))
            difference = moment(float(c), n - c + k) - moment(float(c), float(n - c))
            for route, log_s in (("difference", difference), ("package", seen(n, c, k))):
                error = abs(-float(jnp.expm1(log_s)) / want - 1)
                worst[route] = max(worst[route], error)
    print(f"{name:12s} {a:5.2f} {b:5.1f} | {worst['difference']:38.2e} {worst['package']:8.2e}")

beta = get_family("beta")


@jax.jit
def beta_routes(a, b, c, m, k):
    params = params_type(beta)(a, b)
    base = log_moment(beta, params, c, m)
    difference = log_moment(beta, params, c, m + k) - base
    return -jnp.expm1(difference), jnp.exp(log_moment(beta, params, c, m, solved_by=k) - base)


errors = []  # (pass@k, error of the difference, error of the solved part)
with mp.workdps(40):
    for a, b, (n, c), k in itertools.product(
        (0.01, 0.02, 0.05, 0.3), (0.7, 3.0, 200.0), ROWS, 10.0 ** np.arange(10)
    ):
        shape_a, shape_b = mp.mpf(a) + c, mp.mpf(b) + n - c
        log_s = mp.log(mp.beta(shape_a, shape_b + int(k))) - mp.log(mp.beta(shape_a, shape_b))
        want = float(-mp.expm1(log_s))
        got = beta_routes(a, b, float(c), float(n - c), k)
        errors.append((want, *(abs(float(x) / want - 1) for x in got)))
errors = np.array(errors)
print("Beta, pass@k band | worst relative error: difference  solved part")
edges = [0, 1e-4, 0.01, 0.05, 0.1, 0.2, 0.5, 1]
for low, high in itertools.pairwise(edges):
    band = errors[(errors[:, 0] >= low) & (errors[:, 0] < high)]
    print(f"[{low:g}, {high:g}) | {band[:, 1].max():.1e}  {band[:, 2].max():.1e}")

# --- cost -----------------------------------------------------------------------------------

data = datasets.load("pythia-math", group="Pythia 12B", attempts_per_problem=100, seed=0)
rows = distinct_rows(data.n, data.c)
family = get_family("scaled-beta")
draws = 100 if args.small else 1000
rng = np.random.default_rng(0)
params = params_type(family)(
    jnp.asarray(0.3 * np.exp(0.1 * rng.normal(size=draws))),
    jnp.asarray(3.0 * np.exp(0.1 * rng.normal(size=draws))),
    jnp.asarray(0.5 * np.exp(0.05 * rng.normal(size=draws))),
)
ks = jnp.asarray(DEFAULT_KS, dtype=float)
n, c, weight = (jnp.asarray(x, dtype=float) for x in (rows.n, rows.c, rows.weight))
m, num_ks, num_rows = n - c, ks.size, n.size
zeros = jnp.zeros(num_ks)
successes = jnp.concatenate([c, c + 1, c + 2, jnp.tile(c, 2 * num_ks), zeros, zeros[:1]])
failures = jnp.concatenate(
    [m, m, m, (m + ks[:, None]).ravel(), (m + 2 * ks[:, None]).ravel(), ks, zeros[:1]]
)
moments = jax.vmap(log_moment, in_axes=(None, None, 0, 0))
batch = max(2, min(16, MOMENTS_PER_BATCH // successes.size))


@jax.jit
def difference_moments(params):
    return jax.lax.map(
        lambda theta: moments(family, theta, successes, failures), params, batch_size=batch
    )


def timed(function):
    jax.block_until_ready(function())  # compiles
    times = []
    for _ in range(3):
        start = time.perf_counter()
        jax.block_until_ready(function())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


unsolved = unsolved_row_count(rows.c, rows.weight)  # as the forecast counts them
package = timed(lambda: survival_moments(family, params, n, c, weight, ks, False, unsolved))
every_row = timed(lambda: survival_moments(family, params, n, c, weight, ks))
difference = timed(lambda: difference_moments(params))
print(
    f"{draws} draws, {num_rows} rows ({unsolved} with solved parts), {num_ks} k: "
    f"survival_moments {package:.2f} s, with every row's solved parts {every_row:.2f} s, "
    f"the difference route's moments {difference:.2f} s; ratios to the difference route's "
    f"{package / difference:.2f}, {every_row / difference:.2f}"
)
small = (jnp.full(16, 100.0), jnp.arange(16.0), jnp.ones(16), jnp.array([1.0, 10.0, 1e3, 1e4]))
for solved in (8, None):
    lowered = survival_moments.lower(
        family, jax.tree.map(lambda x: x[:4], params), *small, False, solved
    )
    start = time.perf_counter()
    lowered.compile()
    seconds = time.perf_counter() - start
    print(f"survival_moments at 16 rows ({solved or 16} solved), 4 k, 4 draws: {seconds:.2f} s")

if args.grid:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import test_functionals as oracles

    print("family        a      b      s | worst error, where, k, log S")
    for name in ("scaled-beta", "kumaraswamy"):
        grid = itertools.product(oracles.A_GRID, oracles.B_GRID, oracles.S_GRID)
        for a, b, s in grid:
            ks = oracles.K_MODERATE + oracles.K_HUGE
            error, where, k, log_s = oracles._check_survival(name, a, b, s, ks)
            print(f"{name:12s} {a:5.2f} {b:6.1f} {s:6.3f} | {error:.2e}, {where}, {k}, {log_s:.3e}")

if args.seen:
    print(
        "family       | largest |difference - solved part| of pass@k, where (a, b, s, n, c, pass@k)"
    )
    seen_rows = [(100, 1), (100, 3), (1000, 1), (10**4, 1), (10**6, 1), (10**6, 5), (10**4, 9000)]
    seen_rows.append((100, 100))
    seen_ks = jnp.array([1.0, 10.0, 1e3, 1e6, 1e9])
    for name in ("scaled-beta", "kumaraswamy", "log-gamma"):
        family = get_family(name)
        worst, where = 0.0, None
        for a, b, s in itertools.product(
            (0.02, 0.05, 0.3, 1.5), (0.7, 3.0, 200.0), (0.035, 0.5, 1.0)
        ):
            theta = params_type(family)(a, b, s)
            mean = log_moment(family, theta, 1.0, 0.0) - log_moment(family, theta, 0.0, 0.0)
            if np.exp(float(mean)) < 1e-6:  # out of any posterior's reach
                continue

            @jax.jit
            def both_routes(c, m, theta=theta, family=family):
                base = log_moment(family, theta, c, m)
                after = jax.vmap(lambda k: log_moment(family, theta, c, m + k))(seen_ks)
                solved = jax.vmap(lambda k: log_moment(family, theta, c, m, solved_by=k))(seen_ks)
                return -jnp.expm1(after - base), jnp.exp(solved - base)

            for n, c in seen_rows:
                difference, solved = map(np.asarray, both_routes(float(c), float(n - c)))
                small = solved < SOLVED_BELOW
                gaps = np.abs(difference - solved)[small]
                if gaps.size and gaps.max() > worst:
                    worst, where = gaps.max(), (a, b, s, n, c, solved[small][gaps.argmax()])
        print(f"{name:12s} | {worst:.1e}, {where}")
