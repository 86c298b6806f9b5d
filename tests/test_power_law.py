"""The power-law prior (models/power_law.py): masses against mpmath, pass@k against the law."""

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest

from bayes_passk.functionals import log_moment, log_survival_new
from bayes_passk.models import power_law
from bayes_passk.models.power_law import FAMILY, Params

# (a, A) whose density stays positive over the grid: the law holds at every k.
WHOLE = [(0.05, 3.0), (0.1, 0.5), (0.2, 2.0), (0.4, 0.3)]
# (a, A) whose density is cut below the grid's top: the law from about k = 100 on.
CUT = [(0.5, 1.0), (0.35, 4.8), (0.15, 6.0)]
KS = np.array([1.0, 3.0, 10.0, 100.0, 1e3, 1e4, 1e6, 1e8])


def _series(x, a, shift):
    """Sum_r (-1)^(r + 1) x^r / (r! Gamma(a r + shift)) in 60 digits."""
    with mp.workdps(60):
        x, a = mp.mpf(x), mp.mpf(a)
        return mp.nsum(
            lambda r: (-1) ** (r + 1) * x**r / (mp.factorial(r) * mp.gamma(a * r + shift)),
            [1, mp.inf],
        )


def _density(h, a, A):
    """f(h) of the module docstring, in 60 digits."""
    with mp.workdps(60):
        return _series(A * mp.mpf(h) ** a, a, 0) / mp.mpf(h)


@jax.jit
def _log_survival(a, A, ks):
    return jax.vmap(lambda k: log_survival_new(FAMILY, Params(a, A), k))(ks)


def _pass_at_k(a, A, ks):
    """pass@k of fresh problems at each of ``ks``: one compiled program for every (a, A)."""
    return -np.expm1(np.asarray(_log_survival(float(a), float(A), jnp.asarray(ks, float))))


@pytest.mark.parametrize(("a", "A"), WHOLE)
def test_pass_at_k_is_the_power_law_where_the_density_is_whole(a, A):
    family = _pass_at_k(a, A, KS)
    law = np.exp(-A * KS ** (-a))
    # Measured at most 4.6e-5 relative (a = 0.05, k = 1e8): the lowest point integrated as
    # p^(a - 1) below its edge, where x = 0.86 is not small; the grid's sums err by ~1e-7.
    np.testing.assert_allclose(family, law, rtol=1e-4)


@pytest.mark.parametrize(("a", "A"), CUT)
def test_cut_density_is_f_up_to_its_first_non_positive_point(a, A):
    y, log_mass = (np.asarray(v) for v in power_law.log_masses(Params(jnp.array(a), jnp.array(A))))
    h = np.log1p(np.exp(y))
    kept = log_mass > power_law.CUT_LOG_MASS / 2
    last = int(np.flatnonzero(kept)[-1])
    assert last < y.size - 1 and not kept[last + 1 :].any()
    # f is positive where kept; at the first point cut it is not, or so small (the series lost
    # its digits) that the mass cut is below a millionth of the largest point's.
    largest = max(float(_density(h[j], a, A) * h[j]) for j in range(1, last + 1, 40))
    assert float(_density(h[last], a, A)) > 0
    assert float(_density(h[last + 1], a, A) * h[last + 1]) < 1e-6 * largest
    # Each kept point's mass is f(h) dh over its cell (dh = p dy), up to the normalisation; the
    # float64 series keeps a sum down to KEPT_DIGITS of its terms' sizes, so the relative
    # rounding there is up to 2.2e-16 / KEPT_DIGITS.
    log_cell = lambda j: mp.log(_density(h[j], a, A) * (-mp.expm1(-h[j])) * (y[1] - y[0]))  # noqa: E731
    tolerance = 2.2e-16 / power_law.KEPT_DIGITS
    for j in [1, last // 3, 2 * last // 3, last]:
        want = float(log_cell(j) - log_cell(1))
        assert log_mass[j] - log_mass[1] == pytest.approx(want, abs=tolerance)


@pytest.mark.parametrize(
    ("a", "A", "claimed"), [(*CUT[0], 0.006), (*CUT[1], 0.025), (*CUT[2], 0.003)]
)
def test_cut_density_comes_back_to_the_law_at_large_k(a, A, claimed):
    family = _pass_at_k(a, A, KS[3:])
    law = np.exp(-A * KS[3:] ** (-a))
    # The module docstring's figures from k = 100 on (measured 0.56%, 2.45%, 0.26%), and the
    # departure shrinking with k.
    relative = np.abs(family / law - 1)
    assert relative.max() < claimed
    assert np.all(np.diff(relative) <= 0)


@pytest.mark.parametrize(("a", "A"), [WHOLE[0], WHOLE[-1], CUT[1]])
def test_lowest_point_holds_the_integral_of_f_below_its_edge(a, A):
    edge = float(np.log1p(np.exp((power_law.GRID[0] + power_law.GRID[1]) / 2)))
    log_x = jnp.log(A) + a * np.log(edge)
    log_below, exact = power_law._alternating_series(log_x, jnp.array(a), 1.0)
    with mp.workdps(30):  # in log h, where f(h) h ~ h^a is smooth and decays to the left
        log_edge = mp.log(edge)
        cuts = [log_edge - 40 * j / a for j in (4, 2, 1, 0.5, 0.25, 0)]
        want = mp.quad(lambda s: _density(mp.exp(s), a, A) * mp.exp(s), [-mp.inf, *cuts])
    assert bool(exact)
    assert float(log_below) == pytest.approx(float(mp.log(want)), abs=1e-10)


@jax.jit  # one program for every (a, A) below (eagerly, each operation compiles on its own)
def _power_law_log_likelihood(theta):
    """Sum over 4 rows (c successes, m failures) of the log likelihood at (log a, log A)."""
    c, m = jnp.array([0.0, 1.0, 7.0, 100.0]), jnp.array([100.0, 99.0, 93.0, 0.0])
    params = Params(jnp.exp(theta[0]), jnp.exp(theta[1]))
    return jnp.sum(jax.vmap(log_moment, (None, None, 0, 0))(FAMILY, params, c, m))


_power_law_gradient = jax.jit(jax.grad(_power_law_log_likelihood))


@pytest.mark.parametrize(("a", "A"), [*WHOLE, *CUT, (2.0, 1e4), (0.02, 40.0)])
def test_log_likelihood_gradient_matches_finite_differences(a, A):
    theta = jnp.log(jnp.array([a, A]))
    gradient = np.asarray(_power_law_gradient(theta))
    assert np.all(np.isfinite(gradient))
    # The series keeps a sum down to KEPT_DIGITS of its terms' sizes, so the log likelihood
    # carries rounding noise of ~1e-6 nats: a step of 1e-4 keeps it out of the difference.
    # Where f is cut, the cut moves with (a, A): a point of under 1e-6 of the largest mass
    # enters or leaves, a jump in each of the 4 rows' log likelihood of under ~1e-6 that the
    # gradient does not see and a central difference turns into up to 4e-6 / (2 step).
    step = 1e-4
    slack = 0.0 if (a, A) in WHOLE else 4e-6 / (2 * step)
    for i in range(2):
        shift = jnp.zeros(2).at[i].set(step)
        ends = _power_law_log_likelihood(theta + shift), _power_law_log_likelihood(theta - shift)
        finite = (ends[0] - ends[1]) / (2 * step)
        assert gradient[i] == pytest.approx(float(finite), rel=1e-5, abs=1e-6 + slack)
