r"""Moments of a prior family by double-exponential quadrature, stable for k up to 1e9 and beyond.

Every quantity the package needs is a ratio of the moments

.. math::  J(c, m) = \int_0^s p^c (1 - p)^m \pi(p)\,dp = \int_0^1 (s q)^c (1 - s q)^m \pi(q)\,dq,

- the marginal likelihood of c successes in n attempts: :math:`\binom{n}{c} J(c, n - c)`;
- for a fresh problem, :math:`E[(1 - p)^k] = J(0, k) / J(0, 0)`;
- for a problem already seen, :math:`E[(1 - p)^k \mid n, c] = J(c, n - c + k) / J(c, n - c)`.

Where pass@k = 1 - E[(1 - p)^k] is small it is a ratio in its own right, with the part of
J(c, m) that k more attempts solve, J(c, m) - J(c, m + k), integrated as such (`log_moment`'s
``solved_by``, `log_survival`): as the difference of two integrals near 1, each on its own
nodes, their quadrature errors would not cancel.

An atom at p = 0 of mass pi_0 (`PriorFamily.log_zero_mass`) adds pi_0 to every J(0, m). For a
discrete family (`PriorFamily.log_masses`) the integral is the sum over its grid; one with a
tail exponent a holds the power law p^(a - 1) below the grid on its lowest point, whose share of
J(c, m) forecasts integrate exactly (`log_power_law_survival`, `QuadratureRule.exact_tail`), so
that pass@k follows the tail for any k rather than stopping at the grid's edge.

The integral is taken over y = logit q on the whole real line, where the integrand is smooth and
unimodal with exponential tails (rate c + a on the left, from the p^(a-1) left tail). A few Newton
steps find the mode y* and curvature, and a sinh-sinh rule ``y = y* + sigma sinh(pi/2 sinh t)``
with fixed nodes in t resolves both the peak (width sigma) and tails that decay as slowly as
exp(-0.01 |y|): the rule samples y log-uniformly far from the peak. Everything is computed in log
space in float64; the nodes sit at the mode so no draw, k or n falls between them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bayes_passk.families import PriorFamily

HALF_WIDTH = 2.75
NEWTON_STEPS = 16


class QuadratureRule(NamedTuple):
    """Nodes of the sinh-sinh rule (offsets from the mode, in widths) and their log weights.

    ``exact_tail``: integrate a discrete family's power-law tail below its grid exactly (see
    `log_moment`); without it the tail stays a point at the grid's lowest p, which changes J(c, m)
    by a factor 1 - O(m p) with p = 1.4e-11, more with successes (p^c weighs the point, not the
    tail's average): for the beta-spline at a = 0.05, b = 3, 8.7e-5 nats at c = 0, m = 1e7, and
    1.5e-4 and 1.7e-3 nats at c = 1, m = 1e6 and 1e7.
    """

    offsets: np.ndarray
    log_weights: np.ndarray
    newton_steps: int = NEWTON_STEPS
    exact_tail: bool = True


def sinh_sinh_rule(
    step: float, half_width: float = HALF_WIDTH, newton_steps: int = NEWTON_STEPS
) -> QuadratureRule:
    """Offsets sinh(pi/2 sinh t) on t = -half_width, ..., half_width and log(dy/dt step)."""
    t = np.arange(-half_width, half_width + step / 2, step)
    u = 0.5 * np.pi * np.sinh(t)
    # log cosh(u) written to stay finite for |u| > 700.
    log_cosh_u = np.abs(u) + np.log1p(np.exp(-2 * np.abs(u))) - np.log(2.0)
    log_weights = np.log(0.5 * np.pi * step) + np.log(np.cosh(t)) + log_cosh_u
    return QuadratureRule(np.sinh(u), log_weights, newton_steps)


# Forecasts: step 1/32 (177 nodes), relative error <= 3.1e-10 of E[(1 - p)^k] and of pass@k
# (where >= 1e-6; `log_survival`) against mpmath on the test grid (a >= 0.05) for k up to 1e9,
# 1.4e-8 for the Beta at a = 0.01 (pass@k near `SOLVED_BELOW`). One rule cannot resolve both a
# broad body and the narrow knee of (1 - p)^m: up to 4e-5 for the two-scale Kumaraswamy
# a = 0.05, b = 3 (tests/test_functionals.py), 1.3e-4 nats for the log-gamma at a = 0.05, shape 3
# without successes (tests/test_log_gamma.py).
FINE = sinh_sinh_rule(1.0 / 32.0)
# The likelihood inside NUTS: step 1/16 (89 nodes) and 12 Newton steps (8 leave 0.03 nats at
# a = 0.03). Its log P(c | n) is within 6e-7 nats of FINE for the scaled Beta and within 1.5e-5
# for the Kumaraswamy with a >= 0.1 (1.5e-3 at a = 0.03) where the mean rate is not absurdly small
# (a = 0.03, b = 1000, s = 0.01, a mean rate of 1.6e-65: 0.32 nats off at n = 100, c = 1); a
# likelihood error that small moves no posterior visibly. It keeps a discrete family's tail a
# point: the likelihood's m = n - c is far below 1 / p = 7e10, and the incomplete gamma function
# would cost NUTS time in every gradient.
SAMPLING = sinh_sinh_rule(1.0 / 16.0, newton_steps=12)._replace(exact_tail=False)
# Pass@k below which it is taken as a ratio of its own (`log_survival`): on the Beta's closed
# forms (a from 0.01 to 0.3, k up to 1e9) the solved part's worst relative error is 6.6e-10
# below 0.05 and 3.9e-6 from 0.1 to 0.2, the difference's 1.4e-8 from 0.05 to 0.1.
SOLVED_BELOW = 0.05


def _log_integrand(family: PriorFamily, params, c, m, solved_by, y):
    """Log of (s q)^c (1 - s q)^m [1 - (1 - s q)^k] pi(q) dq/dy at y = logit q (`log_moment`)."""
    log_q = -jax.nn.softplus(-y)
    log1m_q = -jax.nn.softplus(y)
    log_s = family.log_scale(params)
    # s = 1 (u rounding to 1) would make log(1 - s) = -inf and its gradient 0 * inf = NaN.
    log1m_s = jnp.log(-jnp.expm1(jnp.minimum(log_s, -1e-300)))
    # 1 - s q = (1 - s) q + (1 - q), accurate when q is close to 1.
    log1m_p = jnp.logaddexp(log1m_s + log_q, log1m_q)
    return (
        c * (log_s + log_q)
        + jnp.where(m == 0, 0.0, m * log1m_p)
        + _log_solved_share(solved_by, log1m_p)
        + family.log_density_q(log_q, log1m_q, params)
        + log_q
        + log1m_q
    )


def _log_solved_share(k, log1m_p):
    """Log [1 - (1 - p)^k], 0 where k is None or 0 (see `log_moment`)."""
    if k is None:
        return 0.0
    exponent = k * log1m_p
    # Both branches are differentiated: where the exponent is 0 (k = 0, or p rounding to 0,
    # whose log 0 = -inf has an infinite slope), -1 stands in, and the value is set apart.
    zero = exponent == 0
    share = jnp.where(zero, -jnp.inf, jnp.log(-jnp.expm1(jnp.where(zero, -1.0, exponent))))
    return jnp.where(k == 0, 0.0, share)


def _mode_and_width(family: PriorFamily, params, c, m, solved_by, newton_steps: int):
    """Newton iterations for the mode of the integrand in y, and its curvature width."""
    f = lambda y: _log_integrand(family, params, c, m, solved_by, y)  # noqa: E731
    grad = jax.grad(f)

    def grad_and_hess(y):  # one forward-over-reverse pass gives both
        return jax.jvp(grad, (y,), (jnp.ones_like(y),))

    log_s = family.log_scale(params)
    # Start from the empirical rate, floored so that c = 0 with huge m starts near a/m.
    log_p0 = jnp.log(c + 0.5) - jnp.log(c + m + 1.0)
    log_q0 = jnp.minimum(log_p0 - log_s, jnp.log(0.5))
    y0 = log_q0 - jnp.log(-jnp.expm1(log_q0))

    def newton(y, _):
        g, h = grad_and_hess(y)
        step = jnp.where(h < 0, -g / jnp.where(h < 0, h, -1.0), jnp.sign(g))
        return y + jnp.clip(step, -4.0, 4.0), None

    y, _ = jax.lax.scan(newton, y0, None, length=newton_steps)
    curvature = -grad_and_hess(y)[1]
    width = jnp.where(curvature > 0, jax.lax.rsqrt(jnp.where(curvature > 0, curvature, 1.0)), 1.0)
    return y, jnp.clip(width, 1e-4, 1e4)


def log_moment(family: PriorFamily, params, c, m, rule: QuadratureRule = FINE, solved_by=None):
    r"""Log J(c, m) = log of the integral of p^c (1 - p)^m under the family's prior.

    With ``solved_by`` = k, the log of the part of J(c, m) that k more attempts solve,

    .. math::  J(c, m) - J(c, m + k) = \int p^c (1 - p)^m [1 - (1 - p)^k] \pi(p)\,dp,

    integrated as it stands rather than as a difference, so that pass@k = 1 - S keeps its
    digits where it is small (S = E[(1 - p)^k], `log_survival`). Where k = 0 it is J(c, m), so
    that one batch can hold both kinds.

    Scalar in c, m and k (use `jnp.vectorize` or `jax.vmap` to batch); differentiable in params.

    Args:
        family: the prior family.
        params: its hyperparameters (a NamedTuple of scalars).
        c: success count (float, >= 0).
        m: failure count plus any extra attempts (float, >= 0; up to 1e12 is fine).
        rule: the quadrature rule (`FINE` by default; `SAMPLING` for the likelihood in NUTS).
        solved_by: None, or the number of further attempts k (float, >= 0).

    Returns:
        log J(c, m), or log [J(c, m) - J(c, m + k)], as a float64 scalar.

    Example:
        >>> from bayes_passk.models.scaled_beta import FAMILY, Params
        >>> params = Params(a=1.0, b=2.0, scale=1.0)
        >>> round(float(jnp.exp(log_moment(FAMILY, params, 0.0, 0.0))), 9)  # integrates to 1
        1.0
        >>> round(float(jnp.exp(log_moment(FAMILY, params, 0.0, 10.0))), 9)  # B(1, 12) / B(1, 2)
        0.166666667
        >>> round(float(jnp.exp(log_moment(FAMILY, params, 0.0, 0.0, solved_by=10.0))), 9)
        0.833333333
    """
    c = jnp.asarray(c, dtype=float)
    m = jnp.asarray(m, dtype=float)
    if solved_by is not None:
        solved_by = jnp.asarray(solved_by, dtype=float)
    if family.log_masses is not None:  # a discrete family: a sum over its grid
        y, log_mass = family.log_masses(params)
        log1m_p = jax.nn.log_sigmoid(-y)
        # c log p + m log(1 - p), with 0 log 0 = 0 at either end.
        terms = (
            jnp.where(c == 0, 0.0, c * jax.nn.log_sigmoid(y))
            + jnp.where(m == 0, 0.0, m * log1m_p)
            + _log_solved_share(solved_by, log1m_p)
        )
        if family.tail_exponent is not None and rule.exact_tail:
            # The lowest point: density proportional to p^(a - 1) below p_e, the upper edge of
            # its cell, so E[p^c (1 - p)^m] = p_e^c a / (a + c) E[(1 - p)^m] under p^(a + c - 1).
            a = family.tail_exponent(params)
            edge = (y[0] + y[1]) / 2
            tail = c * jax.nn.log_sigmoid(edge) + jnp.log(a / (a + c))
            log_survival_m = log_power_law_survival(a + c, m, edge)
            if solved_by is not None:  # E[(1 - p)^m] - E[(1 - p)^(m + k)]
                log_after = log_power_law_survival(a + c, m + solved_by, edge)
                share = jnp.log(-jnp.expm1(jnp.minimum(log_after - log_survival_m, -1e-300)))
                # Where E[(1 - p)^m] underflows to 0, so does its part: -inf - -inf is NaN.
                keep = (solved_by == 0) | jnp.isneginf(log_survival_m)
                log_survival_m += jnp.where(keep, 0.0, share)
            terms = terms.at[0].set(tail + log_survival_m)
        return jax.nn.logsumexp(log_mass + terms)
    mode, width = jax.lax.stop_gradient(
        _mode_and_width(family, params, c, m, solved_by, rule.newton_steps)
    )
    y = mode + width * rule.offsets
    values = _log_integrand(family, params, c, m, solved_by, y) + jnp.log(width) + rule.log_weights
    log_density_part = jax.nn.logsumexp(jnp.where(jnp.isnan(values), -jnp.inf, values))
    if family.log_zero_mass is None:
        return log_density_part
    # The atom at p = 0 counts in J(c, m) for c = 0; k more attempts never solve it.
    atom = c == 0 if solved_by is None else (c == 0) & (solved_by == 0)
    log_atom = jnp.where(atom, family.log_zero_mass(params), -jnp.inf)
    return jnp.logaddexp(log_atom, log_density_part)


def log_survival(log_unsolved, log_solved, log_base):
    """Log S from log J(c, m + k), log [J(c, m) - J(c, m + k)] and log J(c, m) (`log_moment`).

    S = 1 - [J(c, m) - J(c, m + k)] / J(c, m) where that pass@k is below `SOLVED_BELOW`, else
    J(c, m + k) / J(c, m). Each is a ratio of two integrals on their own nodes, and the
    difference 1 - J(c, m + k) / J(c, m) of a small pass@k would carry their errors divided by
    pass@k (10% at 1e-4 for the Kumaraswamy at a = 0.02, b = 3). Above `SOLVED_BELOW` the
    difference is the better: the solved part's integrand peaks in the prior's body and holds
    the knee of 1 - (1 - p)^k far out on its nodes (1.6e-5 of a pass@1e9 of 0.3 for the Beta
    at a = 0.02, b = 0.7, against 3.6e-10).

    Example:
        >>> round(float(log_survival(jnp.log(0.999), jnp.log(0.001), 0.0)), 12)
        -0.001000500334
    """
    log_pass = log_solved - log_base
    small = log_pass < np.log(SOLVED_BELOW)
    return jnp.where(
        small, jnp.log1p(-jnp.exp(jnp.minimum(log_pass, 0.0))), log_unsolved - log_base
    )


def log_grid_moments(family: PriorFamily, params, c, m, ks):
    r"""Log J(c_r, m_r + k) of a discrete family for every row r and k, shape (len(ks), rows).

    The same sums as `log_moment`, arranged as one matrix product: with T_rj the log of the
    mass times p_j^c (1 - p_j)^m on grid point j,

    .. math::  J(c_r, m_r + k) = e^{M_r} \sum_j e^{T_{rj} - M_r} (1 - p_j)^k,
               \quad M_r = \max_j T_{rj},

    so the exponentials are rows x grid + grid x k rather than rows x grid x k. The lowest point
    (the power-law tail) is added exactly as in `log_moment`. Terms below 1e-308 of a row's
    largest are lost to underflow, so a row's J(c, m + k) / J(c, m) is exact to rounding down to
    about 1e-280 and can be too small below (`log_moment` keeps every digit there).

    Example:
        >>> from bayes_passk.models.beta_spline import FAMILY, NUM_Z, Params
        >>> params = Params(jnp.array(0.4), jnp.array(3.0), jnp.array(1.0), jnp.zeros(NUM_Z))
        >>> c, m, ks = jnp.array([0.0, 3.0]), jnp.array([10.0, 7.0]), jnp.array([1.0, 1e6])
        >>> fast = jax.jit(log_grid_moments, static_argnums=0)(FAMILY, params, c, m, ks)  # (k, row)
        >>> moments = jax.jit(jax.vmap(log_moment, (None, None, 0, 0)), static_argnums=0)
        >>> exact = moments(FAMILY, params, jnp.tile(c, 2), (m + ks[:, None]).ravel())
        >>> bool(jnp.allclose(fast.ravel(), exact, rtol=1e-12, atol=0))
        True
    """
    y, log_mass = family.log_masses(params)
    log_p, log1m_p = jax.nn.log_sigmoid(y), jax.nn.log_sigmoid(-y)
    c = jnp.asarray(c, dtype=float)[:, None]
    m = jnp.asarray(m, dtype=float)[:, None]
    ks = jnp.asarray(ks, dtype=float)
    terms = log_mass + c * log_p + m * log1m_p  # (rows, grid); grid points are interior
    shift = jnp.max(terms[:, 1:], axis=1, keepdims=True)
    body = jnp.exp(terms[:, 1:] - shift) @ jnp.exp(log1m_p[1:, None] * ks)  # (rows, k)
    log_body = shift + jnp.log(body)
    if family.tail_exponent is not None:  # as in log_moment: p^(a - 1) below the cell edge
        a = family.tail_exponent(params)
        edge = (y[0] + y[1]) / 2
        tail = log_mass[0] + c * jax.nn.log_sigmoid(edge) + jnp.log(a / (a + c))
        log_tail = tail + log_power_law_survival(a + c, m + ks, edge)
    else:
        log_tail = terms[:, :1] + log1m_p[0] * ks
    return jnp.logaddexp(log_body, log_tail).T


def log_power_law_survival(a, m, edge):
    r"""Log E[(1 - p)^m] for p = p_e t, t ~ Beta(a, 1): the power law p^(a - 1) below p_e.

    With p_e = expit(edge) below 1e-10, (1 - p)^m = exp(-m p) to within m p^2, and with
    x = m p_e

    .. math::  E[e^{-x t}] = \Gamma(a + 1)\, x^{-a}\, P(a, x)
               = 1 - \frac{a x}{a + 1} + \frac{a x^2}{2 (a + 2)} - \dots,

    P the regularised lower incomplete gamma function; the series (to x^3) where x < 1e-3,
    where P(a, x) ~ x^a would underflow for large a. Where it still underflows (a of hundreds,
    x << a) the result is -inf: in `log_moment` a is then a + c with c in the hundreds, whose
    integrand peaks at p = c / m above p_e, on the grid, and the tail's share is negligible.

    Example:
        >>> round(float(log_power_law_survival(1.0, 0.0, -25.0)), 12)  # nothing to survive
        0.0
        >>> x = 1e12 * float(jax.nn.sigmoid(-25.0))  # a = 1: (1 - e^-x) / x
        >>> exact = np.log(-np.expm1(-x) / x)
        >>> bool(np.isclose(log_power_law_survival(1.0, 1e12, -25.0), exact, rtol=1e-12, atol=0))
        True
    """
    x = m * jax.nn.sigmoid(edge)
    small = x < 1e-3
    series = jnp.log1p(-a * x / (a + 1) + a * x**2 / (2 * (a + 2)) - a * x**3 / (6 * (a + 3)))
    # The unused branch at P(a, 100 (a + 1)) = 1 to rounding: finite, and a cheap point for the
    # incomplete gamma (at x = a + 1 its iterations take 9x longer).
    x_large = jnp.where(small, 100.0 * (a + 1.0), x)
    exact = (
        jax.scipy.special.gammaln(a + 1)
        - a * jnp.log(x_large)
        + jnp.log(jax.scipy.special.gammainc(a, x_large))
    )
    return jnp.where(small, series, exact)


def log_survival_new(family: PriorFamily, params, k):
    """Log E[(1 - p)^k] for a fresh problem: J(0, k) / J(0, 0) (`log_survival`)."""
    return log_survival_seen(family, params, 0.0, 0.0, k)


def log_survival_seen(family: PriorFamily, params, n, c, k):
    """Log E[(1 - p)^k | n attempts, c successes]: J(c, n - c + k) / J(c, n - c)."""
    m = n - c
    return log_survival(
        log_moment(family, params, c, m + k),
        log_moment(family, params, c, m, solved_by=k),
        log_moment(family, params, c, m),
    )


def log_marginal_likelihood(family: PriorFamily, params, n, c, rule: QuadratureRule = FINE):
    """Log P(c | n) = log C(n, c) + log J(c, n - c): binomial likelihood, p integrated out.

    Example (the Beta prior's beta-binomial, in closed form):
        >>> from scipy.special import betaln, comb
        >>> from bayes_passk.families import get_family, params_type
        >>> beta = get_family("beta")
        >>> params = params_type(beta)(a=jnp.array(0.5), b=jnp.array(2.0))
        >>> exact = np.log(comb(10, 3)) + betaln(3.5, 9.0) - betaln(0.5, 2.0)
        >>> value = log_marginal_likelihood(beta, params, 10.0, 3.0)
        >>> bool(np.isclose(value, exact, rtol=1e-12, atol=0))
        True
    """
    return log_binomial(n, c) + log_moment(family, params, c, n - c, rule)


def log_binomial(n, c):
    """Log C(n, c) for real n >= c >= 0."""
    gammaln = jax.scipy.special.gammaln
    return gammaln(n + 1.0) - gammaln(c + 1.0) - gammaln(n - c + 1.0)
