r"""Where to spend the next attempts: allocation policies, and their comparison by simulation.

Policies split a batch of ``budget`` attempts over the problems, given the attempts ``n`` and
successes ``c`` so far:

- ``uniform``: evenly; the remainder to the problems with the fewest attempts.
- ``dynamic`` (Kazdan et al. 2025): one attempt at a time to the problem with the fewest
  successes, ties to the fewest attempts (counting those already given in this batch), random
  order among equals.
- ``bayes``: the attempts go where they most reduce the posterior variance of pass@K. For
  problem i and m more attempts with y successes, the expected reduction of the posterior
  variance of S_i = (1 - p_i)^K is the variance of its updated posterior mean,

  .. math::  G_i(m) = \operatorname{Var}_{y}\, E[S_i \mid n_i, c_i, y]
             = \sum_{y=0}^{m} P(y)\, (E[S_i \mid y] - E[S_i])^2,

  under the posterior predictive of y. pass@K = 1 - mean_i S_i, and the batch goes greedily,
  in steps, to the largest G_i(m + dm) - G_i(m) per attempt. The posterior of p_i given each
  hyperparameter draw is put on a grid of 800 points in logit p, and a new y reweights the
  draws. With ``across_problems=True`` the target is U = sum_j S_j, so that what problem i's
  outcomes say about the hyperparameters moves every other problem's forecast too: the full
  preposterior variance of pass@K. It is the criterion of the model taken at its word, and on
  Pythia MATH it does worse than the default: it spends on problems with successes, which
  inform the tail only through the prior family's shape (benchmarks/RESULTS.md).

`simulate` runs a fixed total budget in rounds on semi-synthetic data (outcomes drawn at each
problem's full-data rate, so the truth is exact at every K), for many replicates at once:
round 1 is uniform for every policy, later rounds follow the policy (``bayes`` refits every
replicate between rounds with `bayes_passk.batched.fit_batch`, compiled once), and the
final datasets of every policy are forecast in one batch. The policies share their random
outcomes (common random numbers): in replicate r, the j-th attempt at problem i has the same
outcome whichever policy asks for it (`outcome_streams`), so two policies that spend alike see
alike data, and the difference of their errors is not drowned by the noise of the outcomes
(`bayes_passk.backtest.paired_differences` scores it). The result has the columns of
`bayes_passk.backtest.COLUMNS`, so `bayes_passk.backtest.summarize` scores it.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n, c = np.array([10, 10, 10, 20]), np.array([0, 3, 0, 0])
    >>> dynamic(rng, n, c, budget=5).tolist()  # fewest successes, then fewest attempts
    [2, 0, 3, 0]
    >>> int(uniform(rng, n, c, budget=10).sum())
    10
"""

from __future__ import annotations

import heapq
import math
import warnings
from collections.abc import Callable, Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import special

from bayes_passk.backtest import COLUMNS
from bayes_passk.batched import DEFAULT_CONFIG, BatchConfig, check_config, fit_batch
from bayes_passk.data import (
    MAX_ATTEMPTS,
    InputError,
    PassData,
    check_seed,
    is_positive_int,
    require_pass_data,
)
from bayes_passk.designs import MAX_ENTRIES, pass_at_k_of_rates
from bayes_passk.estimators import as_counts, as_ks
from bayes_passk.families import (
    PriorFamily,
    event_shapes,
    get_family,
    params_type,
    thinned_draws,
    unstack_draws,
)
from bayes_passk.forecast import require_fit, unsolved_parts
from bayes_passk.functionals import log_binomial
from bayes_passk.hierarchy import distinct_rows
from bayes_passk.inference import R_HAT_MAX

POLICIES = ("uniform", "dynamic", "bayes")
MAX_ROUNDS = 1000  # rounds of a simulated run
MAX_SIMULATED_BUDGET = 10**9  # attempts of a simulated run, each drawn: seconds per replicate
MAX_STEP = 4096
"""Most attempts `bayes` weighs for one problem in one batch (memory grows with it)."""
GAIN_FLOOR = 1e-15
GAIN_RELATIVE_FLOOR = 1e-9
"""`bayes` treats a gain below max(GAIN_FLOOR, GAIN_RELATIVE_FLOOR x the largest) as none."""
GRID = np.linspace(-100.0, 15.0, 800)  # logit p: p from 4e-44 to 1 - 3e-7, steps of 0.14


def uniform(rng: np.random.Generator, n, c, budget: int) -> np.ndarray:
    """Split `budget` evenly; the remainder to the fewest attempts so far (random among ties)."""
    n, c = _checked(n, c, budget)
    next_attempts = np.full(n.shape, budget // n.size)
    first = np.lexsort((rng.random(n.size), n))[: budget % n.size]
    next_attempts[first] += 1
    return next_attempts


def dynamic(rng: np.random.Generator, n, c, budget: int) -> np.ndarray:
    """One attempt at a time to the fewest successes, then fewest attempts, then at random.

    Successes do not change within a batch, so every attempt goes to the problems with the
    fewest successes, filling their attempts up from the lowest to a common level L (the
    largest with sum_i max(0, L - n_i) <= budget); the few attempts left over go one each to
    the problems at level L, in the random order. Same result as the rule attempt by
    attempt, in O(P log budget).
    """
    n, c = _checked(n, c, budget)
    tiebreak = rng.random(n.size)
    fewest = np.flatnonzero(c == c.min())
    attempts = n[fewest]

    def cost(level: int) -> int:
        gaps = np.maximum(level - attempts, 0)
        if int(gaps.max()) * gaps.size >= 2**62:  # exact, where the int64 sum could wrap
            gaps = gaps.astype(object)
        return int(gaps.sum())

    low, high = int(attempts.min()), int(attempts.min()) + budget  # cost(low) = 0 <= budget
    while low < high:  # the largest level whose filling fits in the budget
        middle = (low + high + 1) // 2
        low, high = (middle, high) if cost(middle) <= budget else (low, middle - 1)
    given = np.maximum(low - attempts, 0)
    at_level = np.flatnonzero(attempts <= low)
    left = budget - int(given.sum())
    given[at_level[np.argsort(tiebreak[fewest[at_level]], kind="stable")[:left]]] += 1
    next_attempts = np.zeros(n.size, dtype=np.int64)
    next_attempts[fewest] = given
    return next_attempts


def bayes(
    rng: np.random.Generator,
    n,
    c,
    budget: int,
    family: PriorFamily,
    params,
    k: int,
    *,
    across_problems: bool = False,
) -> np.ndarray:
    """Greedy steps to the largest expected reduction of the posterior variance of pass@k.

    Problem i's steps reach min(budget, max(64, 8 budget / P), `MAX_STEP`) attempts, and a
    gain below max(`GAIN_FLOOR`, `GAIN_RELATIVE_FLOOR` x the largest) counts as none. What the
    steps cannot place (no gain left, or the informative problems at their last step) goes as
    `dynamic` would give it: to the problems with the fewest successes. Problems with the same
    n and c share what they get evenly.

    Args:
        rng: random generator (breaks ties; places what the gains leave, as `dynamic`).
        n: attempts so far, shape (P,).
        c: successes so far, shape (P,).
        budget: attempts to allocate.
        family: the prior family of the fit.
        params: posterior draws of its hyperparameters (NamedTuple of arrays of shape (D,)).
        k: the target K of pass@K.
        across_problems: also count what problem i's outcomes say, through the
            hyperparameters, about every other problem (the full preposterior variance of
            pass@K); by default only problem i's own S_i counts (see the module docstring).

    Draws with a non-finite hyperparameter are left out, with a warning (one would zero every
    gain and hand the whole budget to `dynamic` unseen); with none left, it is `dynamic`.
    """
    n, c = _checked(n, c, budget)
    params = _finite_draws(params)
    if params is None:
        return dynamic(rng, n, c, budget)
    cap = min(budget, max(64, 8 * -(-budget // n.size)), MAX_STEP)
    steps = np.unique(np.round(np.geomspace(1, cap, 16)).astype(np.int64))
    rows = distinct_rows(n, c)
    n_rows, c_rows, weights = jnp.asarray(rows.n), jnp.asarray(rows.c), jnp.asarray(rows.weight)
    gains = np.asarray(
        expected_variance_reduction(
            family,
            params,
            n_rows,
            c_rows,
            float(k),
            tuple(int(m) for m in steps),
            (n_rows, c_rows, weights) if across_problems else None,
        )
    )[rows.index]
    levels = np.concatenate([[0], steps])
    gains = np.concatenate([np.zeros((n.size, 1)), gains], axis=1)
    # Gains below this are rounding noise, and no reason to prefer one problem to another.
    negligible = max(GAIN_FLOOR, GAIN_RELATIVE_FLOOR * float(np.max(gains)))
    next_attempts = np.zeros(n.size, dtype=np.int64)
    level = np.zeros(n.size, dtype=np.int64)

    def entry(i):
        step = levels[level[i] + 1] - levels[level[i]]
        gain = gains[i, level[i] + 1] - gains[i, level[i]]
        return (-gain / step if gain > negligible else 0.0, rng.random(), i)

    heap = [entry(i) for i in range(n.size)]
    heapq.heapify(heap)
    left = budget
    while left > 0 and heap:
        rate, _, i = heapq.heappop(heap)
        if rate >= 0:  # no gain left anywhere: the rest goes as `dynamic` would give it
            break
        give = min(levels[level[i] + 1] - levels[level[i]], left)
        next_attempts[i] += give
        left -= give
        level[i] += 1
        if level[i] + 1 < len(levels):
            heapq.heappush(heap, entry(i))
    if left > 0:
        next_attempts += dynamic(rng, n + next_attempts, c, left)
    return _spread_over_alike(rng, next_attempts, rows.index)


def _finite_draws(params):
    """Keep the draws whose every hyperparameter is finite (None if none); warn if any is not."""
    arrays = [np.asarray(x) for x in params]
    draws = arrays[0].shape[0]
    finite = np.all([np.isfinite(x.reshape(draws, -1)).all(axis=1) for x in arrays], axis=0)
    if finite.all():
        return params
    left = "left out" if finite.any() else "allocating as dynamic"
    warnings.warn(
        f"bayes policy: {draws - finite.sum()} of {draws} posterior draws have a non-finite "
        f"hyperparameter; {left}",
        RuntimeWarning,
        stacklevel=3,
    )
    return type(params)(*(x[finite] for x in arrays)) if finite.any() else None


def _spread_over_alike(rng: np.random.Generator, given: np.ndarray, row_of: np.ndarray):
    """Spread what the problems of one (n, c) row got together evenly over them.

    Alike problems are exchangeable, and the greedy steps would give one of them 41 attempts
    and the next 30 only because the step grid is coarse.
    """
    spread = np.zeros_like(given)
    for row in np.unique(row_of):
        members = np.flatnonzero(row_of == row)
        share, extra = divmod(int(given[members].sum()), members.size)
        spread[members] = share
        spread[rng.permutation(members)[:extra]] += 1
    return spread


_EDGES = (GRID[1:] + GRID[:-1]) / 2  # between neighbouring cells of GRID


def _rebinned(family: PriorFamily, theta) -> jax.Array:
    """Log mass of a discrete family in each cell of GRID, its mass kept whole.

    Each of the family's points spreads its mass evenly over its own cell of logit p; the
    lowest point of a family with a tail exponent a holds instead the power law below its
    cell's upper edge e, with CDF m_0 e^(a (y - e)) (as `functionals.log_moment` integrates
    it), and the top point what lies above the grid (as the power law's family puts there).
    A cell's mass is a difference of the CDF where it is below 1/2, of the survival function
    above, so that masses far below their neighbours keep their digits at either end.
    """
    y, log_mass = family.log_masses(theta)
    half = (y[1] - y[0]) / 2
    mass = jnp.exp(log_mass)
    cdf = jnp.interp(_EDGES, jnp.append(y[0] - half, y + half), jnp.append(0.0, jnp.cumsum(mass)))
    if family.tail_exponent is not None:
        a, edge = family.tail_exponent(theta), y[0] + half
        cdf = jnp.where(_EDGES < edge, mass[0] * jnp.exp(a * (_EDGES - edge)), cdf)
    survival = jnp.interp(
        _EDGES, jnp.append(y - half, y[-1] + half), jnp.append(jnp.cumsum(mass[::-1])[::-1], 0.0)
    )
    cdf = jnp.append(jnp.append(0.0, cdf), 1.0)
    survival = jnp.append(jnp.append(1.0, survival), 0.0)
    cells = jnp.where(cdf[1:] < 0.5, jnp.diff(cdf), -jnp.diff(survival))
    return jnp.log(jnp.maximum(cells, 0.0))


def _grid_log_prior(family: PriorFamily, params) -> jax.Array:
    """Log prior mass per draw of the atom at p = 0 and each grid cell of logit p: (D, 1 + grid)."""
    log_p = jax.nn.log_sigmoid(GRID)
    log1m_p = jax.nn.log_sigmoid(-GRID)
    log_spacing = jnp.log(GRID[1] - GRID[0])

    def log_prior(theta):
        if family.log_masses is not None:
            return jnp.concatenate([jnp.array([-jnp.inf]), _rebinned(family, theta)])
        log_s = family.log_scale(theta)
        log_q = log_p - log_s
        inside = log_q < 0
        safe = jnp.where(inside, log_q, -1.0)
        log1m_q = jnp.log(-jnp.expm1(safe))
        density = family.log_density_q(safe, log1m_q, theta) - log_s + log_p + log1m_p
        cells = jnp.where(inside, density + log_spacing, -jnp.inf)
        if family.tail_exponent is not None:
            # Below the grid (p < 4e-44) the density in logit p is the power law
            # f(y_0) e^(a (y - y_0)): its mass below the lowest cell's edge joins that cell.
            a = family.tail_exponent(theta)
            below = density[0] - a * (GRID[1] - GRID[0]) / 2 - jnp.log(a)
            cells = cells.at[0].set(jnp.where(inside[0], jnp.logaddexp(cells[0], below), cells[0]))
        atom = -jnp.inf if family.log_zero_mass is None else family.log_zero_mass(theta)
        masses = jnp.concatenate([jnp.atleast_1d(atom), cells])
        # The midpoint rule misses a density that is infinite at p = s (b < 1: most of the
        # mass can sit within a cell of it): what it leaves of the mass of 1 goes to p = s,
        # shared between the grid's points on either side of logit s in proportion to their
        # nearness (linear interpolation: right to second order in the cell's width).
        rest = -jnp.expm1(jax.nn.logsumexp(masses))
        log_rest = jnp.where(rest > 0, jnp.log(jnp.where(rest > 0, rest, 1.0)), -jnp.inf)
        below_s = jnp.maximum(jnp.sum(inside), 1) - 1  # the highest point inside
        logit_s = log_s - jnp.log(-jnp.expm1(jnp.minimum(log_s, -1e-300)))
        beyond = jnp.clip((logit_s - jnp.asarray(GRID)[below_s]) / (GRID[1] - GRID[0]), 0.0, 1.0)
        beyond = jnp.where(below_s + 1 < GRID.size, beyond, 0.0)  # s beyond the grid's top
        above_s = jnp.minimum(below_s + 1, GRID.size - 1)
        masses = masses.at[1 + below_s].set(
            jnp.logaddexp(masses[1 + below_s], log_rest + jnp.log1p(-beyond))
        )
        return masses.at[1 + above_s].set(
            jnp.logaddexp(masses[1 + above_s], log_rest + jnp.log(beyond))
        )

    return jax.vmap(log_prior)(params)


# NumPy, not JAX, at import: a JAX array here would start the backend before a user's
# jax.distributed.initialize().
POINTS_LOG_P = np.concatenate([[-np.inf], special.log_expit(GRID)])
POINTS_LOG1M_P = np.concatenate([[0.0], special.log_expit(-GRID)])


def _xlogy(x, log_y):
    """Return x log y, with 0 log 0 = 0."""
    return jnp.where(x == 0, 0.0, x * log_y)


def _grid_posterior(log_prior, n_i, c_i):
    """pi(p | theta_d, n_i, c_i) on the grid, each draw's row summing to 1: (D, 1 + grid)."""
    joint = log_prior + _xlogy(c_i, POINTS_LOG_P) + _xlogy(n_i - c_i, POINTS_LOG1M_P)
    return jax.nn.softmax(joint, axis=1)


@partial(jax.jit, static_argnums=(0, 5))
def expected_variance_reduction(family: PriorFamily, params, n, c, k, steps, data=None):
    r"""G_i(m) for each row (n_i, c_i) and each m in `steps` (a tuple): shape (rows, len(steps)).

    The target is U = sum_j counts_j S_j over the rows of ``data = (n, c, counts)``, the
    expected number of problems still unsolved after k attempts (without ``data``: the row's
    own S_i). With D equally weighted hyperparameter draws theta_d, pi_d the posterior of p_i
    given theta_d and row i, e_d = E_d[S_i], U_d = E[U | theta_d] and L_d(y) = P(y | theta_d)
    for m new attempts with y successes,

    .. math::  E[U \mid y] - E[U] = \frac{\operatorname{mean}_d [L_d(y) (U_d - \bar U)
               + E_d[(S_i - e_d) \operatorname{Binom}(y \mid m, p_i)]]}{\operatorname{mean}_d
               L_d(y)},

    and G_i(m) = sum_y P(y) (E[U | y] - E[U])^2, all centred so that nothing cancels.
    """
    log_prior = _grid_log_prior(family, params)
    survival = jnp.exp(k * POINTS_LOG1M_P)

    # The binomial probabilities of every (m, y) in one matrix (points, sum of m + 1).
    m = jnp.concatenate([jnp.full(s + 1, float(s)) for s in steps])
    y = jnp.concatenate([jnp.arange(s + 1.0) for s in steps])
    step_of = np.repeat(np.arange(len(steps)), [s + 1 for s in steps])
    binomial = jnp.exp(
        log_binomial(m, y)[None, :]
        + _xlogy(y[None, :], POINTS_LOG_P[:, None])
        + _xlogy(m - y[None, :], POINTS_LOG1M_P[:, None])
    )

    if data is not None:
        data_n, data_c, counts = data
        per_row = jax.lax.map(
            lambda row: _grid_posterior(log_prior, *row) @ survival, (data_n, data_c)
        )
        unsolved = counts @ per_row  # U_d
        unsolved = unsolved - jnp.mean(unsolved)

    def gain(n_i, c_i):
        pi = _grid_posterior(log_prior, n_i, c_i)
        e = pi @ survival
        likelihood = pi @ binomial  # L_d(y), (draws, columns)
        own = (pi * (survival[None, :] - e[:, None])) @ binomial
        moved = e - jnp.mean(e) if data is None else unsolved
        p_y = jnp.mean(likelihood, axis=0)
        shift = jnp.mean(likelihood * moved[:, None] + own, axis=0)
        terms = jnp.where(p_y > 1e-300, shift**2 / jnp.maximum(p_y, 1e-300), 0.0)
        return jax.ops.segment_sum(terms, step_of, num_segments=len(steps))

    return jax.lax.map(lambda row: gain(*row), (n, c))


def allocate(
    rng: np.random.Generator,
    policy: str,
    n,
    c,
    budget: int,
    *,
    k: int | None = None,
    fit=None,
    family: PriorFamily | None = None,
    params=None,
) -> np.ndarray:
    """Next attempts per problem under `policy`, given the attempts and successes so far.

    Args:
        rng: random generator (ties; `uniform`'s remainder).
        policy: one of `POLICIES`.
        n: attempts so far per problem, shape (P,) (0 for a problem not yet tried).
        c: successes so far, shape (P,).
        budget: the number of attempts to place.
        k: ``bayes``: the K of the pass@K to learn.
        fit: ``bayes``: a `bayes_passk.Fit` of these very counts, those of the problems not
            yet tried left out (its family, 400 of its draws).
        family: ``bayes`` without a fit: the prior family (a `PriorFamily` or its name).
        params: ``bayes`` without a fit: draws of its hyperparameters (its NamedTuple of
            arrays of shape (D, ...)).

    Returns:
        Attempts per problem, integers summing to `budget`.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> allocate(rng, "dynamic", n=[10, 10, 10, 10], c=[0, 3, 0, 1], budget=5).tolist()
        [2, 0, 3, 0]
    """
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy Generator (np.random.default_rng), got {rng!r}")
    n, c = _checked(n, c, budget)
    if policy == "uniform":
        return uniform(rng, n, c, budget)
    if policy == "dynamic":
        return dynamic(rng, n, c, budget)
    if policy == "bayes":
        if fit is not None:
            require_fit(fit)
            fitted, tried = fit.data, n > 0  # a fit cannot hold problems never tried
            if not (np.array_equal(fitted.n, n[tried]) and np.array_equal(fitted.c, c[tried])):
                raise InputError(
                    f"the fit is of other counts ({_told(fitted.n, fitted.c)}) than n and c "
                    f"({_told(n[tried], c[tried])}, the problems tried so far); or give "
                    "family and params"
                )
            family, params = fit.family, thinned_draws(fit.params, 400)
        if k is None or family is None or params is None:
            raise InputError("the bayes policy needs k and a fit (or family and params)")
        family = get_family(family)
        _check_draws(family, params)
        return bayes(rng, n, c, budget, family, params, _one_k(k, "learn"))
    raise InputError(f"unknown policy {policy!r}; choose one of {', '.join(POLICIES)}")


def _check_draws(family: PriorFamily, params) -> None:
    """Raise `InputError` unless `params` holds draws of the family's hyperparameters.

    That is its NamedTuple (or one with the same fields) of arrays of shape (D, *event shape),
    one D for all, D >= 1.
    """
    fields = params_type(family)._fields
    if getattr(params, "_fields", None) != fields:
        raise InputError(
            f"params must be draws of {family.name}'s hyperparameters, a NamedTuple with "
            f"fields {', '.join(fields)}, each of shape (draws, ...); got {type(params).__name__}"
        )
    shapes = [np.shape(x) for x in params]
    draws = {shape[:1] for shape in shapes}
    if len(draws) != 1 or draws == {(0,)} or tuple(s[1:] for s in shapes) != event_shapes(family):
        wanted = ", ".join(
            f"{name} {str(('D', *shape)).replace(repr('D'), 'D')}"
            for name, shape in zip(fields, event_shapes(family), strict=True)
        )
        got = ", ".join(f"{name} {shape}" for name, shape in zip(fields, shapes, strict=True))
        raise InputError(
            f"params must hold D >= 1 draws of {family.name}'s hyperparameters, of shapes "
            f"{wanted}; got {got}"
        )


def _one_k(k, purpose: str) -> int:
    """Return k as an int, or raise `InputError` unless it is one whole number (100.0 is 100)."""
    if np.ndim(k) != 0:
        raise InputError(f"k is the one K of the pass@K to {purpose}, got {k!r}")
    return int(as_ks(k))


def _told(n: np.ndarray, c: np.ndarray) -> str:
    return f"{n.size} problems, {n.sum()} attempts, {c.sum()} successes"


def _checked(n, c, budget) -> tuple[np.ndarray, np.ndarray]:
    """N and c as int64 arrays of one shape (P,), P >= 1, with 0 <= c <= n, or InputError.

    Raises `InputError` too unless `budget` is a whole number of attempts from 1 to 2^53
    that leaves every problem at most 2^53 attempts in all.
    """
    _check_budget("the budget", budget)
    if isinstance(n, PassData):
        raise InputError("pass the counts as n=data.n, c=data.c")
    if np.ndim(n) != 1 or np.shape(n) != np.shape(c):
        raise InputError(
            f"n and c must be arrays of one shape (P,), got {np.shape(n)} and {np.shape(c)}"
        )
    if not np.size(n):
        raise InputError("no problems to allocate attempts to")
    n, c = as_counts(n, c)
    if budget > MAX_ATTEMPTS - n.max():  # all of it may go to one problem
        raise InputError(
            f"the budget of {budget} attempts could take a problem past 2^53 attempts in all, "
            f"where counts lose their units; give at most 2^53 - {n.max()} = "
            f"{MAX_ATTEMPTS - n.max()}"
        )
    return n, c


def _counter(say: Callable[[str], None], label: str, total: int) -> Callable[[int, int], None]:
    """Say '<label>: 0/total fits' now; return a `fit_batch` callback saying 'done/total'."""
    say(f"{label}: 0/{total} fits")
    return lambda done, total: say(f"{label}: {done}/{total} fits")


def outcome_streams(seed: Sequence[int], replicates: int, problems: int):
    """One random stream per replicate and problem: (replicates, problems) generators.

    Streams made from the same seed give the same outcomes in the same order, so policies
    that each get fresh streams share their random outcomes (common random numbers). They are
    spawned children of ``SeedSequence(seed)``, independent of ``default_rng(seed)`` and of any
    ``default_rng(seed + [j])``: a plain list seed is not (``default_rng([a, b])`` and
    ``default_rng([a, b, 0])`` are the same stream).
    """
    base = np.random.SeedSequence(list(seed))
    return [
        [np.random.default_rng(child) for child in replicate.spawn(problems)]
        for replicate in base.spawn(replicates)
    ]


def draw_outcomes(streams, rates, given) -> np.ndarray:
    """Successes in the next ``given[r, i]`` attempts at each problem, shape (R, P).

    Attempt j at problem i succeeds when the j-th uniform of its stream is below ``rates[i]``,
    however the attempts are split into batches.

    Example:
        >>> rates = np.array([0.0, 1.0, 0.3])
        >>> a, b = outcome_streams([0], 1, 3), outcome_streams([0], 1, 3)
        >>> once = draw_outcomes(a, rates, np.array([[50, 50, 50]]))
        >>> twice = sum(draw_outcomes(b, rates, np.array([[m, m, m]])) for m in (20, 30))
        >>> once.tolist() == twice.tolist(), once[0, :2].tolist()
        (True, [0, 50])
    """
    return np.array(
        [
            [
                _successes(stream, rate, m)
                for stream, rate, m in zip(row, rates, counts, strict=True)
            ]
            for row, counts in zip(streams, np.asarray(given), strict=True)
        ],
        dtype=np.int64,
    )


def _successes(stream: np.random.Generator, rate: float, attempts: int) -> int:
    """Uniforms below `rate` among the next `attempts` of `stream`, drawn 2^22 at a time."""
    # Drawn in pieces, the uniforms are the same as in one call; memory stays bounded.
    successes, chunk = 0, 2**22
    for start in range(0, int(attempts), chunk):
        successes += np.count_nonzero(stream.random(min(chunk, attempts - start)) < rate)
    return successes


def _check_budget(name: str, budget) -> None:
    """Raise `InputError` unless `budget` is a whole number of attempts from 1 to 2^53."""
    # Beyond 2^53 the plan's counts lose their units and their int64 sum can wrap.
    if not is_positive_int(budget) or budget > MAX_ATTEMPTS:
        raise InputError(
            f"{name} must be a positive whole number of attempts up to 2^53, got {budget!r}"
        )


def _fit_seed(*key: int) -> int:
    """Return an integer seed in [0, 2^63) for `fit_batch`, drawn from ``SeedSequence(key)``.

    Example:
        >>> _fit_seed(2**63 - 1, 10, 1, 3) < 2**63, _fit_seed(0, 1) == _fit_seed(0, 1)
        (True, True)
    """
    return int(np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0] >> 1)


def simulate(
    seed: int,
    full: PassData,
    budgets: Sequence[int],
    k: int,
    policies: Sequence[str] = POLICIES,
    replicates: int = 10,
    rounds: int = 4,
    prior: str = "scaled-beta",
    config: BatchConfig = DEFAULT_CONFIG,
    progress: Callable[[str], None] | None = None,
    *,
    across_problems: bool = False,
) -> pd.DataFrame:
    """Run each policy on semi-synthetic replicates of `full`; one row per policy, budget, rep.

    Args:
        seed: seed of the outcomes, the policies' tie-breaking and the fits (keyed by each
            policy's name: a policy's rows do not depend on the other `policies`).
        full: one group's counts; each problem's rate c / n drives the simulated attempts.
        budgets: total attempts over all problems, each split into `rounds` equal batches.
        k: the target K.
        policies: names from `POLICIES`.
        replicates: independent runs per policy and budget.
        rounds: batches per run; the first is uniform for every policy.
        prior: prior family of the fits.
        config: settings of the batched sampler.
        progress: called with a line of text after each batch of fits.
        across_problems: the ``bayes`` policy's criterion (see `bayes`).

    Returns:
        A DataFrame with `bayes_passk.backtest.COLUMNS` (``method`` is the policy).
    """
    check_seed(seed, numpy=True)
    check_config(config)
    full = require_pass_data(full).single_group()
    for name, values in (("policies", policies), ("budgets", budgets)):
        if isinstance(values, str | int) or not hasattr(values, "__len__") or not len(values):
            raise InputError(f"{name} must be a non-empty list, got {values!r}")
    if not all(isinstance(policy, str) for policy in policies):
        raise InputError(f"policies must be names from {', '.join(POLICIES)}, got {policies!r}")
    for budget in budgets:
        _check_budget("each budget", budget)
        if budget > MAX_SIMULATED_BUDGET:
            raise InputError(
                f"each budget must be at most 10^9 attempts: a simulation draws every attempt "
                f"of every replicate, got {budget}"
            )
    for name, value in (("replicates", replicates), ("rounds", rounds)):
        if not is_positive_int(value):
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    k = _one_k(k, "forecast")
    if rounds > MAX_ROUNDS:
        raise InputError(
            f"rounds must be at most {MAX_ROUNDS} (each is a batch of attempts, and for the "
            f"bayes policy a refit of every replicate), got {rounds}"
        )
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        raise InputError(f"unknown policies {unknown}; choose from {', '.join(POLICIES)}")
    for name, values in (("policies", policies), ("budgets", budgets)):
        if len(set(values)) < len(values):
            raise InputError(f"{name} repeat: {list(values)}")
    if rounds < 2 and set(policies) - {"uniform"}:
        raise InputError(
            "with one round every policy is uniform (the first round always is); "
            "use at least 2 rounds to compare policies"
        )
    problems = full.num_problems
    if replicates * problems > MAX_ENTRIES:  # the counts of a policy's runs, held at once
        raise InputError(
            f"{replicates} replicates x {problems} problems is more than 10^8 "
            "entries per budget and policy; use fewer"
        )
    if min(budgets) < rounds * problems:
        raise InputError(
            f"a budget of {min(budgets)} attempts cannot give each of the {problems} problems "
            f"one attempt in each of the {rounds} rounds; use at least {rounds * problems}"
        )
    family = get_family(prior)
    say = progress or (lambda line: None)
    rates = full.c / full.n
    truth = float(pass_at_k_of_rates(rates, np.array([k]))[0])
    frames = []
    for budget in budgets:
        batches = [budget // rounds] * (rounds - 1) + [budget - (rounds - 1) * (budget // rounds)]
        for policy in policies:
            # Keyed by the policy's name, not its place in `policies`: a policy's runs are the
            # same whichever others run beside it. Never [seed, budget, 0]: that is the same
            # stream as [seed, budget].
            policy_key = [seed, budget, 1 + POLICIES.index(policy)]
            rng = np.random.default_rng(policy_key)
            # The same first round for every policy: the same generator for its tie-breaking.
            first = np.random.default_rng([seed, budget])
            n = np.zeros((replicates, problems), dtype=np.int64)
            c = np.zeros_like(n)
            streams = outcome_streams([seed, budget], replicates, problems)
            for r, batch in enumerate(batches):
                if r == 0 or policy != "bayes":
                    given = np.stack(
                        [
                            allocate(
                                first if r == 0 else rng,
                                "uniform" if r == 0 else policy,
                                n[i],
                                c[i],
                                batch,
                            )
                            for i in range(replicates)
                        ]
                    )
                else:
                    label = f"{policy}, budget {budget}, round {r + 1}: refit"
                    fitted = fit_batch(
                        _fit_seed(*policy_key, r),
                        n,
                        c,
                        (k,),
                        family,
                        config,
                        progress=_counter(say, label, len(n)),
                    )
                    unconverged = int(np.sum(~(fitted.r_hat_max <= R_HAT_MAX)))  # NaN too
                    if unconverged:
                        say(f"{label}: {unconverged} of {replicates} with r_hat > {R_HAT_MAX}")
                    draws = fitted.hyper_draws
                    given = np.stack(
                        [
                            bayes(
                                rng,
                                n[i],
                                c[i],
                                batch,
                                family,
                                unstack_draws(family, draws[i]),
                                k,
                                across_problems=across_problems,
                            )
                            for i in range(replicates)
                        ]
                    )
                n += given
                c += draw_outcomes(streams, rates, given)
            # Each policy's final fits on their own key (same shape as the refits: no new
            # program), so that they too do not depend on the other policies run.
            label = f"{policy}, budget {budget}: final fits of {replicates} replicates"
            summary = fit_batch(
                _fit_seed(*policy_key, len(batches)),
                n,
                c,
                (k,),
                family,
                config,
                progress=_counter(say, label, replicates),
            )
            unsolved = unsolved_parts(family, summary.hyper_draws, n, c, (k,))[:, 0]
            frames.append(
                pd.DataFrame(
                    {
                        "method": policy,
                        "design": "allocation",
                        "group": full.groups[0],
                        "budget": budget,
                        "replicate": np.arange(replicates),
                        "k": k,
                        "estimate": summary.mean[:, 0],
                        "lower": summary.lower[:, 0],
                        "upper": summary.upper[:, 0],
                        "unsolved_part": unsolved,
                        "truth": truth,
                        "exponent": summary.exponent_mean,
                        "exponent_truth": math.nan,
                        "r_hat_max": summary.r_hat_max,
                        "divergences": summary.divergences,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)[COLUMNS]
