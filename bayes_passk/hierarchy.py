r"""The hierarchical model shared by every prior family.

.. math::

    \theta \sim \text{hyperprior}, \qquad
    w_i \sim \text{latent}(\theta), \quad \log p_i = \text{log\_rate}(w_i, \theta), \qquad
    c_i \sim \text{Binomial}(n_i, p_i), \quad i = 1, \dots, P.

The hyperparameters live outside one ``numpyro.plate`` over problems; the per-problem latent and
the likelihood inside. With ``c=None`` the same model draws from the prior predictive.

``marginalize=True`` (what `bayes_passk.fit` uses) integrates each p_i out of its binomial
likelihood by quadrature (`IntegratedBinomial`), so NUTS moves in the hyperparameters only.
The posterior is the same; the sampler no longer has to cross the funnel between the
hyperparameters and the rates of problems without successes, which for the scaled Beta on
sparse data costs divergences and r_hat > 1.01 even in the best latent coordinates we found
(benchmarks/RESULTS.md). Per-problem rates are then summarised by their exact conditional
moments given the hyperparameters (Rao-Blackwellisation), not by draws.
"""

from __future__ import annotations

from functools import cache, partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bayes_passk.families import PriorFamily
from bayes_passk.functionals import SAMPLING, log_binomial, log_marginal_likelihood

# Below this the matrix-vector product of `grid_rows` has lost digits to underflow (the
# smallest normal float64 is 2.2e-308).
TINY = 1e-250


class Rows(NamedTuple):
    """Distinct (n, c) pairs, the number of problems each stands for, and each problem's row."""

    n: np.ndarray
    c: np.ndarray
    weight: np.ndarray
    index: np.ndarray


def round_up(size: int, multiple: int = 8) -> int:
    """Round `size` up to a positive multiple of `multiple`.

    Padding arrays to it lets data of alike size share one compiled program, at a cost of at
    most ``multiple - 1`` idle entries.

    Example:
        >>> round_up(18), round_up(24), round_up(0)
        (24, 24, 8)
    """
    return max(multiple, -(-int(size) // multiple) * multiple)


def padded(values: np.ndarray, fill: float) -> np.ndarray:
    """1-d `values` followed by `fill` up to `round_up` of their size.

    Example:
        >>> padded(np.array([1.0, 10.0]), 1.0).tolist()
        [1.0, 10.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    return np.concatenate([values, np.full(round_up(values.size) - values.size, fill)])


def distinct_rows(n, c) -> Rows:
    """Collect the distinct (n, c) pairs with their counts, padded by weight-0 rows (1, 0).

    The rows are padded to a multiple of 8: NUTS time grows with the rows, so a coarser
    padding would buy fewer compilations with slower sampling.

    Problem i is row ``index[i]``; the padding rows come last and count for nothing.

    Example:
        >>> rows = distinct_rows([10, 10, 5], [0, 0, 2])
        >>> rows.n[:3].tolist(), rows.c[:3].tolist(), rows.weight[:3].tolist(), len(rows.n)
        ([5.0, 10.0, 1.0], [2.0, 0.0, 0.0], [1.0, 2.0, 0.0], 8)
        >>> rows.index.tolist()
        [1, 1, 0]
    """
    pairs, index, weight = np.unique(
        np.stack([np.asarray(n), np.asarray(c)], axis=1),
        axis=0,
        return_inverse=True,
        return_counts=True,
    )
    size = round_up(len(pairs))
    out = np.zeros((3, size))
    out[0] = 1.0
    out[:, : len(pairs)] = pairs[:, 0], pairs[:, 1], weight
    return Rows(out[0], out[1], out[2], index.ravel())


def flat_padded_draws(params):
    """Merge each hyperparameter's leading (chain, draw) axes; pad the draws to a power of two.

    Padding repeats the first draw; a vector hyperparameter keeps its trailing axis. Returns the
    padded NamedTuple and the number of real draws, which come first.
    """
    flat = [np.asarray(x) for x in params]
    flat = [x.reshape(-1, *x.shape[2:]) for x in flat]
    count = flat[0].shape[0]
    pad = max(256, 1 << (count - 1).bit_length()) - count
    return type(params)(*(np.concatenate([x, np.repeat(x[:1], pad, axis=0)]) for x in flat)), count


class GridRows(NamedTuple):
    """A discrete family's likelihood terms of each row, fixed by the data (`grid_rows`)."""

    log_top: jax.Array  # log C(n, c) + max_j [c log p_j + (n - c) log(1 - p_j)]
    scaled: jax.Array  # exp of the terms less that max: shape (rows, grid points), in [0, 1]


@cache
def grid_points(family: PriorFamily) -> np.ndarray | None:
    """Return a discrete family's fixed points (logit p), or None for a family with a density."""
    if family.log_masses is None:
        return None
    with jax.ensure_compile_time_eval():  # concrete even when called inside a jitted program
        params = numpyro.handlers.seed(family.hyperprior, 0)()
        return np.asarray(family.log_masses(params)[0])


def grid_rows(family: PriorFamily, n, c) -> GridRows | None:
    r"""Each row's binomial terms on a discrete family's grid, computed once per fit.

    .. math::  P(c \mid n) = \binom{n}{c} \sum_j \pi_j\, p_j^c (1 - p_j)^{n - c}
               = e^{T} \sum_j E_j\, \pi_j, \qquad E_j = e^{\ell_j - \max_j \ell_j},

    with l_j = c log p_j + (n - c) log(1 - p_j) and T = log C(n, c) + max_j l_j (``log_top``):
    the data fix E and T, so that inside NUTS the likelihood of every row is one matrix-vector
    product with the masses pi (`IntegratedBinomial`) instead of an exponential per row and
    point. None for a family with a density.
    """
    points = grid_points(family)
    if points is None:
        return None
    n, c = jnp.asarray(n, dtype=float)[:, None], jnp.asarray(c, dtype=float)[:, None]
    log_p, log1m_p = jax.nn.log_sigmoid(points), jax.nn.log_sigmoid(-points)
    terms = c * log_p + (n - c) * log1m_p  # the points are finite: no 0 log 0
    top = terms.max(axis=1)
    return GridRows(log_binomial(n[:, 0], c[:, 0]) + top, jnp.exp(terms - top[:, None]))


class IntegratedBinomial(dist.Distribution):
    r"""c ~ Binomial(n, p) with p drawn from the family's prior: P(c | n) = C(n, c) J(c, n - c).

    For the unscaled Beta this is the beta-binomial; in general J is a quadrature over the
    family's density, or a sum over its grid for a discrete family
    (`bayes_passk.functionals.log_moment`).

    Example:
        >>> from bayes_passk.models.scaled_beta import FAMILY, Params
        >>> d = IntegratedBinomial(FAMILY, Params(2.0, 3.0, 1.0), jnp.array([4]))
        >>> round(float(jnp.exp(d.log_prob(jnp.array([1])))[0]), 6)  # beta-binomial pmf
        0.285714
    """

    pytree_data_fields = ("params", "total_count", "rows")
    pytree_aux_fields = ("family",)

    def __init__(self, family: PriorFamily, params, total_count, rows=None, *, validate_args=None):
        self.family = family
        self.params = params
        self.total_count = jnp.asarray(total_count)
        self.rows = rows  # `grid_rows` of total_count and the value log_prob will be given
        super().__init__(jnp.shape(self.total_count), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        """0, 1, ..., n."""
        return constraints.integer_interval(0, self.total_count)

    def sample(self, key, sample_shape=()):
        """Draw p from the prior, then c ~ Binomial(n, p)."""
        shape = sample_shape + self.batch_shape
        key_w, key_c = jax.random.split(key)
        w = self.family.latent(self.params).expand(shape).sample(key_w)
        p = jnp.exp(self.family.log_rate(w, self.params))
        return dist.Binomial(self.total_count, probs=p).sample(key_c)

    def log_prob(self, value):
        """Log C(n, c) + log J(c, n - c), elementwise (quadrature rule `SAMPLING`)."""
        one = partial(log_marginal_likelihood, self.family, self.params, rule=SAMPLING)

        def each_row():
            return jnp.vectorize(one)(self.total_count.astype(float), jnp.asarray(value, float))

        if self.rows is None:
            return each_row()
        # The same sum as a matrix-vector product with the masses (`grid_rows`; they sum to 1,
        # so the largest is at least 1 / points); where the masses sit so far from a row's
        # likelihood that the product underflows, row by row.
        total = self.rows.scaled @ jnp.exp(self.family.log_masses(self.params)[1])
        products = jnp.all(total > TINY)
        # log of 1 where the rows are summed one by one: the branch not taken still carries a
        # zero derivative through its log, and 0 x (1 / 0) would make every gradient NaN.
        by_product = self.rows.log_top + jnp.log(jnp.where(products, total, 1.0))
        return jax.lax.cond(products, lambda: by_product, each_row)


def hierarchical_model(
    family: PriorFamily, n, c=None, weight=None, marginalize=False, rows: GridRows | None = None
):
    """Hierarchical binomial model over rows of (n, c): rates from the family's prior.

    Args:
        family: the prior family (see `bayes_passk.families`).
        n: attempts per problem, shape (P,).
        c: successes per problem, shape (P,), or None for the prior predictive.
        weight: optional number of problems each row stands for (default 1): 0 drops a padded
            row, w > 1 counts w identical problems once. Only with ``marginalize``: in the
            latent form a row's problems would share one rate.
        marginalize: integrate p_i out of the likelihood (sample hyperparameters only).
        rows: with ``marginalize`` and a discrete family, `grid_rows` of these n and c, so that
            the likelihood is a matrix-vector product (what NUTS evaluates over and over).

    Example:
        >>> import jax
        >>> from numpyro.infer import Predictive
        >>> from bayes_passk.families import get_family
        >>> family = get_family("scaled-beta")
        >>> draws = Predictive(hierarchical_model, num_samples=3)(
        ...     jax.random.key(0), family, jnp.array([100, 100]))
        >>> draws["c"].shape
        (3, 2)
    """
    n = jnp.asarray(n)
    if family.log_masses is not None and c is not None and not marginalize:
        raise ValueError(
            f"the {family.name} prior is discrete: NUTS cannot sample its per-problem rates; "
            "fit it with marginalize=True"
        )
    if weight is not None and c is not None and not marginalize:
        raise ValueError("weighted rows need marginalize=True: latent rates are per row")
    params = family.hyperprior()
    weight = 1.0 if weight is None else jnp.asarray(weight)
    with numpyro.plate("problems", n.shape[0]):
        if marginalize:
            likelihood = IntegratedBinomial(family, params, n, rows)
        else:
            w = numpyro.sample("w", family.latent(params))
            log_p = family.log_rate(w, params)
            numpyro.deterministic("p", jnp.exp(log_p))
            # logit p = log p - log(1 - p), exact for p near 0 where probs would round.
            likelihood = dist.Binomial(n, logits=log_p - jnp.log(-jnp.expm1(log_p)))
        # Zero-weight (padding) rows are masked: `scale` accepts only positive weights.
        kept = weight > 0
        with numpyro.handlers.mask(mask=kept):
            with numpyro.handlers.scale(scale=jnp.where(kept, weight, 1.0)):
                numpyro.sample("c", likelihood, obs=c)
    return params
