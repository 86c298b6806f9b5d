r"""The hierarchical model shared by every prior family.

.. math::

    \theta \sim \text{hyperprior}, \qquad
    w_i \sim \text{latent}(\theta), \quad p_i = \text{rate}(w_i, \theta), \qquad
    c_i \sim \text{Binomial}(n_i, p_i), \quad i = 1, \dots, P.

The hyperparameters live outside one ``numpyro.plate`` over problems; the per-problem latent and
the likelihood inside. With ``c=None`` the same model draws from the prior predictive.

``marginalize=True`` (what `bayes_passk.fit` uses) integrates each p_i out of its binomial
likelihood by quadrature (`IntegratedBinomial`), so NUTS moves in the three hyperparameters only.
The posterior is the same; the sampler no longer has to cross the funnel between the
hyperparameters and the rates of problems without successes, which for the scaled Beta on
sparse data costs divergences and r_hat > 1.01 even in the best latent coordinates we found
(benchmarks/RESULTS.md). Per-problem rates are then summarised by their exact conditional
moments given the hyperparameters (Rao-Blackwellisation), not by draws.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bayes_passk.families import PriorFamily
from bayes_passk.functionals import SAMPLING, log_marginal_likelihood


class IntegratedBinomial(dist.Distribution):
    r"""c ~ Binomial(n, p) with p drawn from the family's prior: P(c | n) = C(n, c) J(c, n - c).

    For the unscaled Beta this is the beta-binomial; in general J is computed by quadrature
    (`bayes_passk.functionals.log_moment`).

    Example:
        >>> from bayes_passk.models.scaled_beta import FAMILY, Params
        >>> d = IntegratedBinomial(FAMILY, Params(2.0, 3.0, 1.0), jnp.array([4]))
        >>> round(float(jnp.exp(d.log_prob(jnp.array([1])))[0]), 6)  # beta-binomial pmf
        0.285714
    """

    pytree_data_fields = ("params", "total_count")
    pytree_aux_fields = ("family",)

    def __init__(self, family: PriorFamily, params, total_count, *, validate_args=None):
        self.family = family
        self.params = params
        self.total_count = jnp.asarray(total_count)
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
        return jnp.vectorize(one)(self.total_count.astype(float), jnp.asarray(value, dtype=float))


def hierarchical_model(family: PriorFamily, n, c=None, weight=None, marginalize=False):
    """Scaled-prior binomial model over rows of (n, c), each optionally weighted.

    Args:
        family: the prior family (see `bayes_passk.families`).
        n: attempts per problem, shape (P,).
        c: successes per problem, shape (P,), or None for the prior predictive.
        weight: optional number of problems each row stands for (default 1): 0 drops a padded
            row, w > 1 counts w identical problems once (only with ``marginalize``).
        marginalize: integrate p_i out of the likelihood (sample hyperparameters only).

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
    params = family.hyperprior()
    weight = 1.0 if weight is None else jnp.asarray(weight)
    with numpyro.plate("problems", n.shape[0]):
        if marginalize:
            likelihood = IntegratedBinomial(family, params, n)
        else:
            w = numpyro.sample("w", family.latent(params))
            log_p = family.log_rate(w, params)
            numpyro.deterministic("p", jnp.exp(log_p))
            # logit p = log p - log(1 - p), exact for p near 0 where probs would round.
            likelihood = dist.Binomial(n, logits=log_p - jnp.log(-jnp.expm1(log_p)))
        with numpyro.handlers.scale(scale=weight):
            numpyro.sample("c", likelihood, obs=c)
    return params
