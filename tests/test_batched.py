"""The batched engine against single fits, on two forced CPU devices, and its building blocks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

import bayes_passk as bp
from bayes_passk.batched import _beta_draws, rank_r_hat, rows_and_weights
from bayes_passk.designs import synthetic

KS = [100, 1000]


def _datasets():
    """Two small synthetic datasets (30 problems, 50 attempts), each twice in the batch."""
    cell = synthetic(5, "scaled-beta", 0.4, 3.5, 0.8, 30, 50, 2, KS)
    return np.concatenate([cell.n, cell.n]), np.concatenate([cell.c, cell.c])


BATCHED = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np
    from bayes_passk.batched import BatchConfig, fit_batch
    n, c, ks, chunks, (warmup, samples), hosts = json.loads(sys.stdin.read())
    if hosts:  # [coordinator address, number of processes, this process's id]
        jax.distributed.initialize(*hosts)
    n, c, ks, chunks = (np.array(x) for x in (n, c, ks, chunks))
    config = BatchConfig(chains=2, warmup=int(warmup), samples=int(samples))
    # chunk 4: two lanes per device, vmapped within each device (the accelerator layout);
    # chunk 2: one lane per device, run without vmap (the CPU layout).
    fits = {int(chunk): fit_batch(0, n, c, ks=ks, prior="scaled-beta",
                                  config=config._replace(chunk=int(chunk)))
            for chunk in chunks}
    print(json.dumps({"devices": jax.device_count(),
                      **{str(chunk): {k: np.asarray(v).tolist() for k, v in fit._asdict().items()}
                         for chunk, fit in fits.items()}}))
    """
)


def _run_on_two_devices(chunks, warmup=300, samples=500):
    """Fit the batch of `_datasets` in a process with 2 forced CPU devices, once per chunk."""
    n, c = _datasets()
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run(
        [sys.executable, "-c", BATCHED],
        input=json.dumps([n.tolist(), c.tolist(), KS, chunks, [warmup, samples], None]),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=True,
    )
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def batched():
    run = _run_on_two_devices([4])
    return {"devices": run["devices"], **run["4"]}


def test_the_batch_ran_on_two_devices(batched):
    assert batched["devices"] == 2
    assert np.asarray(batched["mean"]).shape == (4, len(KS))


@pytest.mark.slow  # two sets of compiled programs: 30-50 s
def test_a_dataset_fit_does_not_depend_on_the_chunking():
    # Dataset i uses the key fold_in(key(seed), i) whether it runs alone on its device or
    # vmapped beside another: the same draws, up to rounding. Short chains: vmapped and lone
    # lanes round differently, and over hundreds of NUTS iterations a flipped accept or U-turn
    # lets chains part by Monte Carlo error (2e-3 in pass@k at 300 + 500).
    run = _run_on_two_devices([2, 4], warmup=20, samples=20)
    assert run["devices"] == 2
    np.testing.assert_allclose(run["4"]["mean"], run["2"]["mean"], rtol=1e-8)
    np.testing.assert_allclose(run["4"]["upper"], run["2"]["upper"], rtol=1e-8)
    assert len({round(m, 6) for m in np.asarray(run["2"]["mean"])[:, 0]}) > 1  # lanes differ


# Slow (62 to 76 s): the default suite nears its 10 minutes on CI (586 s);
# tests/test_backtest.py still runs two processes by default.
@pytest.mark.slow
def test_a_batch_across_two_processes_is_the_batch_on_two_devices_of_one(coordinator, run_together):
    # Several hosts (`jax.distributed`): every process places the same global inputs and gets
    # the whole result back. Two local processes of one CPU device each stand in for two hosts;
    # each device runs the same one-lane programs as in one process with two devices.
    n, c = _datasets()
    task = [n.tolist(), c.tolist(), KS, [2], [20, 20]]
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    inputs = [json.dumps([*task, [coordinator, 2, index]]) for index in range(2)]
    runs = run_together([[sys.executable, "-c", BATCHED]] * 2, env, inputs)
    one = _run_on_two_devices([2], warmup=20, samples=20)
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
        hosts = json.loads(run.stdout.splitlines()[-1])  # after Gloo's lines
        assert hosts["devices"] == 2
        for field in ("mean", "lower", "upper", "exponent_mean", "hyper_draws"):
            np.testing.assert_allclose(hosts["2"][field], one["2"][field], rtol=1e-8)


MISMATCHED = textwrap.dedent(
    """
    import sys
    import jax, numpy as np
    from bayes_passk.batched import fit_batch
    from bayes_passk.data import InputError
    jax.distributed.initialize(sys.argv[1], 2, int(sys.argv[2]))
    n = np.full((2, 5), 10)
    try:  # process 1 has one success more
        fit_batch(0, n, n // 5 + (np.arange(5) == 0) * int(sys.argv[2]), ks=(100,))
    except InputError as error:
        print(error)
    """
)


def test_processes_called_with_different_data_are_refused_before_any_fit(coordinator, run_together):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    commands = [[sys.executable, "-c", MISMATCHED, coordinator, str(index)] for index in (0, 1)]
    for run in run_together(commands, env, timeout=300):
        assert run.returncode == 0, run.stderr[-2000:]
        assert "process 1 of 2 was given other counts" in run.stdout.splitlines()[-1]


def test_batched_fits_agree_with_single_fits(batched):
    n, c = _datasets()
    mean, sd = np.asarray(batched["mean"]), np.asarray(batched["sd"])
    assert np.all(np.asarray(batched["r_hat_max"]) < 1.05)
    # A batched posterior mean carries MC error sd / sqrt(ESS) over the 200 draws (100 per
    # chain, thinned) the forecast uses; the ESS is taken as the smallest of the
    # hyperparameters' in that lane. Tolerance: 4 combined standard errors.
    hyper = np.asarray(batched["hyper_draws"])  # (datasets, draws, width): chain 0, then 1
    chains = hyper.reshape(hyper.shape[0], 2, -1, hyper.shape[-1])
    ess = np.array(
        [min(float(az.ess(lane[..., j])) for j in range(lane.shape[-1])) for lane in chains]
    )
    batch_error = sd / np.sqrt(ess)[:, None]
    # Dataset 1 sits in lanes 1 and 3 (different keys): they must agree.
    tolerance = 4 * np.sqrt(batch_error[1] ** 2 + batch_error[3] ** 2)
    assert np.all(np.abs(mean[1] - mean[3]) < tolerance), (mean[1], mean[3])
    # Dataset 0 (lanes 0 and 2) against a single fit by `bayes_passk.fit`.
    data = bp.PassData.from_counts([f"p{j}" for j in range(30)], n=n[0], c=c[0])
    settings = dict(chains=2, warmup=300, samples=500, progress=False, check=False)  # as batched
    fit = bp.fit(data, prior="scaled-beta", seed=1, **settings)
    assert fit.diagnostics().r_hat_max < 1.05  # as for the batch; MCSE sets the tolerance
    single = fit.forecast(KS)
    for lane in (0, 2):
        tolerance = 4 * np.sqrt(single.mcse**2 + batch_error[lane] ** 2)
        assert np.all(np.abs(mean[lane] - single.mean) < tolerance), (lane, mean[lane], single)
        assert np.all(np.asarray(batched["lower"])[lane] < single.mean)
        assert np.all(single.mean < np.asarray(batched["upper"])[lane])
        exponent = single.exponent.mean
        assert batched["exponent_lower"][lane] < exponent < batched["exponent_upper"][lane]


def _lane_moments(batched, lane):
    """Benchmark pass@k and its within-draw variance from a lane's forecast draws."""
    from bayes_passk.families import get_family, unstack_draws
    from bayes_passk.forecast import survival_moments

    n, c = _datasets()
    family = get_family("scaled-beta")
    params = unstack_draws(family, np.asarray(batched["hyper_draws"])[lane])
    rows = (jnp.asarray(x[lane]) for x in rows_and_weights(n, c))  # one shape for every lane
    log_survival, variance, _ = survival_moments(family, params, *rows, jnp.asarray(KS, float))
    return -np.expm1(np.asarray(log_survival)), np.asarray(variance)


# In the default suite (10 s after the shared fixture): the only fast check of the interval
# level (a 0.8 interval reported as the 0.9 one passed every other fast test).
def test_batched_summaries_follow_from_the_draws_they_report(batched):
    # The posterior mean and sd are the moments over the reported draws (exact); lanes 0 and 2
    # hold the same data under their own keys, so their draws differ.
    hyper = np.asarray(batched["hyper_draws"])
    assert not np.allclose(hyper[0], hyper[2])
    pass_levels = []
    for lane in range(hyper.shape[0]):
        benchmark, variance = _lane_moments(batched, lane)
        np.testing.assert_allclose(batched["mean"][lane], benchmark.mean(axis=0), rtol=1e-10)
        np.testing.assert_allclose(batched["sd"][lane], benchmark.std(axis=0), rtol=1e-8)
        # The interval ends are the 5% and 95% quantiles of one Beta draw per posterior draw
        # (mean and variance as above): the mixture's CDF there, from scipy, is 0.05 and 0.95
        # up to the sampling error of an empirical quantile of 200 draws.
        # Exactly: the ends are the 5% and 95% quantiles of those Beta draws, which the engine
        # makes from the lane's key (dataset i's key is fold_in(key(seed), i), the first of
        # its splits for the forecast): 10 of 200 draws lie below the lower end and 190 below
        # the upper (NumPy's positions 9.95 and 189.05), one either way for a draw that
        # rounding may change; the median likewise (position 99.5: 100 below).
        lane_key = jax.random.split(jax.random.fold_in(jax.random.key(0), lane), 3)[0]
        draws = jax.jit(_beta_draws)(lane_key, jnp.asarray(benchmark), jnp.asarray(variance))
        sampled = np.asarray(draws)
        for end, below in (("lower", 10), ("median", 100), ("upper", 190)):
            ranks = (sampled < np.asarray(batched[end])[lane]).sum(axis=0)
            assert np.all(np.abs(ranks - below) <= 1), (lane, end, ranks)
        concentration = benchmark * (1 - benchmark) / variance - 1
        for end in ("lower", "upper"):
            x = np.asarray(batched[end])[lane]
            cdf = special.betainc(benchmark * concentration, (1 - benchmark) * concentration, x)
            pass_levels.append((end, cdf.mean(axis=0)))
    for end, level in (("lower", 0.05), ("upper", 0.95)):
        levels = np.concatenate([value for name, value in pass_levels if name == end])
        # Each level's standard error is sqrt(0.05 * 0.95 / 200) = 0.015; 8 of them averaged.
        standard_error = np.sqrt(level * (1 - level) / 200 / levels.size)
        assert abs(levels.mean() - level) < 5 * standard_error, (end, levels)


def test_within_draw_betas_have_the_asked_mean_and_variance():
    import jax

    from bayes_passk.batched import _beta_draws

    mean = jnp.array([0.3, 0.02, 0.9])
    variance = jnp.array([0.02, 1e-4, 0.05])
    draws = np.asarray(
        jax.jit(jax.vmap(lambda key: _beta_draws(key, mean, variance)))(  # one program
            jax.random.split(jax.random.key(0), 100_000)
        )
    )
    # Sample mean within 4 standard errors; sample variance within 4 of its standard errors,
    # sqrt((m4 - var^2) / N), from the draws' own fourth central moment.
    centred = draws - np.asarray(mean)
    assert np.all(np.abs(centred.mean(axis=0)) < 4 * np.sqrt(np.asarray(variance) / 100_000))
    m4 = (centred**4).mean(axis=0)
    error = np.sqrt((m4 - np.asarray(variance) ** 2) / 100_000)
    assert np.all(np.abs(draws.var(axis=0) - np.asarray(variance)) < 4 * error)


@pytest.mark.parametrize("shape", [0.05, 0.3, 1.0, 2.5, 40.0, 1e6])
def test_loop_free_gamma_draws_follow_the_gamma(shape):
    import jax
    from scipy import stats

    from bayes_passk.batched import _log_gamma_draws

    # 200,000 draws: enough to see a sampler that skipped the accept/reject step (at shape 0.3
    # its D is about 0.0095 against the bound's 0.0044).
    draws = 200_000
    log_g = jax.jit(_log_gamma_draws)(jax.random.key(1), jnp.full(draws, shape))  # one program
    levels = stats.gamma.cdf(np.exp(np.asarray(log_g)), shape)
    # Kolmogorov-Smirnov at 0.1%: sup |F_n - F| < 1.949 / sqrt(n).
    assert stats.kstest(levels, "uniform").statistic < 1.949 / np.sqrt(draws)


@pytest.mark.parametrize("alpha, beta", [(0.3, 5.0), (0.02, 50.0), (2.0, 2.0), (1e4, 3e4)])
def test_within_draw_betas_follow_the_beta(alpha, beta):
    import jax
    from scipy import stats

    from bayes_passk.batched import _beta_draws

    draws = 200_000
    total = alpha + beta
    mean = jnp.full(draws, alpha / total)
    variance = mean * (1 - mean) / (total + 1)
    sampled = np.asarray(jax.jit(_beta_draws)(jax.random.key(2), mean, variance))  # one program
    levels = stats.beta.cdf(sampled, alpha, beta)
    assert stats.kstest(levels, "uniform").statistic < 1.949 / np.sqrt(draws)


@pytest.mark.parametrize(
    "chains, samples, draws", [(2, 500, 200), (4, 100, 30), (3, 7, 100), (1, 50, 10)]
)
def test_forecast_draws_come_evenly_from_every_chain(chains, samples, draws):
    from bayes_passk.batched import thinned

    picked = thinned(chains, samples, draws)
    assert len(np.unique(picked)) == len(picked) == min(draws, chains * samples)
    assert picked.min() >= 0 and picked.max() < chains * samples
    per_chain = np.bincount(picked // samples, minlength=chains)
    assert per_chain.max() - per_chain.min() <= 1, per_chain


def test_batched_target_accept_is_the_config_s_else_the_family_s_at_least_0_95():
    from bayes_passk.batched import BatchConfig, batch_target_accept
    from bayes_passk.families import get_family

    config = BatchConfig()
    assert batch_target_accept(get_family("scaled-beta"), config) == 0.95
    assert batch_target_accept(get_family("beta-spline"), config) == 0.99
    assert batch_target_accept(get_family("log-spline"), config) == 0.99
    assert batch_target_accept(get_family("beta-spline"), config._replace(target_accept=0.8)) == 0.8


def test_rows_and_weights_pads_and_counts():
    n = np.array([[10, 10, 10, 0], [5, 5, 7, 7]])
    c = np.array([[0, 0, 3, 0], [1, 1, 1, 2]])
    n_rows, c_rows, weight = rows_and_weights(n, c)
    assert n_rows.shape == (2, 3)
    np.testing.assert_array_equal(weight[0], [2, 1, 0])  # (10, 0) twice, (10, 3), padding
    np.testing.assert_array_equal(n_rows[0], [10, 10, 1])
    np.testing.assert_array_equal(c_rows[1], [1, 1, 2])
    np.testing.assert_array_equal(weight[1], [2, 1, 1])
    with pytest.raises(ValueError, match="distinct"):
        rows_and_weights(n, c, size=2)


def test_r_hat_is_arviz_s_rank_normalized_r_hat():
    # What bp.fit reports and the 1.01 threshold is set for (Vehtari et al. 2021), not the
    # classic split R-hat, blind to chains that agree in mean but not in spread.
    r_hat = jax.jit(rank_r_hat)  # compiled, as in the engine (eagerly, each op compiles alone)
    rng = np.random.default_rng(0)
    # An odd number of samples too: the middle one is left out, not the last.
    for samples in (400, 21):
        draws = rng.normal(size=(3, samples)) + np.array([[0.0], [0.1], [0.3]])
        draws[:, -1] += 5.0  # a last draw far off, which only the odd case would miss
        expected = float(az.rhat(draws))
        assert float(r_hat(jnp.asarray(draws))) == pytest.approx(expected, rel=1e-10)
    ties = np.round(rng.normal(size=(2, 50)), 1)  # ranks averaged over ties
    assert float(r_hat(jnp.asarray(ties))) == pytest.approx(float(az.rhat(ties)), rel=1e-10)
    spread = rng.normal(size=(2, 1000)) * np.array([[1.0], [3.0]])
    assert float(az.rhat(spread, method="split")) < 1.01 < float(r_hat(jnp.asarray(spread)))
    # Chains stuck at one value each (no within-chain variance) are unconverged, not NaN.
    stuck = jnp.asarray(np.repeat([[0.0], [1.0]], 10, axis=1))
    assert float(r_hat(stuck)) == np.inf
    assert float(r_hat(jnp.zeros((2, 10)))) == np.inf
    # A NaN draw (its rank is arbitrary: 190 of 200 such (4, 100) draws read <= 1.01).
    for shape in ((4, 100), (3, 21)):
        draws = rng.normal(size=shape)
        draws[1, 7] = np.nan
        assert float(r_hat(jnp.asarray(draws))) == np.inf


@pytest.mark.parametrize(
    "n, c, message",
    [
        ([[10, 10]], [[3, 11]], "dataset 0, problem 1: c = 11.0 exceeds n = 10.0"),
        ([[10, 10.5]], [[3, 1]], "dataset 0, problem 1: n = 10.5 is no count"),
        ([[10, -1]], [[3, 0]], "dataset 0, problem 1: n = -1.0 is no count"),
        ([[10, 10]], [[3]], "share one"),
        ([[10, 10], [0, 0]], [[3, 1], [0, 0]], r"dataset 1 has no attempts \(every n is 0\)"),
    ],
)
def test_fit_batch_refuses_bad_counts_before_any_work(n, c, message):
    from bayes_passk.batched import fit_batch

    with pytest.raises(bp.InputError, match=message):
        fit_batch(0, np.array(n, float), np.array(c, float), ks=[10])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ks": (10.0, -5.0)}, "k must be a positive integer"),  # was pass@-5 = -6.5e29
        ({"n": np.zeros((0, 5)), "c": np.zeros((0, 5))}, r"at least one dataset .*: \(0, 5\)"),
        ({"rows": 2}, r"at least each .* \(dataset 0 has 5\), got 2"),
        ({"rows": -1}, "got -1"),
        ({"n": np.full((1, 6), "50"), "c": np.full((1, 6), "1")}, "n must hold numbers"),
        ({"c": np.ones((1, 6), bool)}, "c must hold numbers, got an array of bool"),
    ],
)
def test_fit_batch_refuses_bad_arguments_before_any_work(change, message):
    from bayes_passk.batched import fit_batch

    given = {"n": np.full((1, 6), 50), "c": np.array([[0, 0, 1, 3, 10, 50]]), "ks": [10]} | change
    with pytest.raises(bp.InputError, match=message):
        fit_batch(0, **given)


def test_each_chunk_pads_its_rows_to_a_multiple_of_8_of_its_own_largest(monkeypatch):
    import jax

    import bayes_passk.batched as batched

    devices = jax.device_count()
    # Three chunks of `devices` datasets each, of 2 to 20 distinct (n, c) rows, out of order.
    distinct = [2 + (7 * i) % 19 for i in range(3 * devices)]
    c = np.zeros((len(distinct), 20), dtype=int)
    for i, count in enumerate(distinct):
        c[i, :count] = np.arange(count)
    n = np.full_like(c, 50)
    sizes = []

    def fake_compiled(family, ks, config, chunk, mesh):
        def start(keys, n_rows, c_rows, weight):
            sizes.append((n_rows.shape[1], sorted((np.asarray(weight) > 0).sum(axis=1))))

        def finish(keys, pieces, n_rows, c_rows, weight):
            return batched.FitSummary(*(np.zeros(chunk) for _ in batched.FitSummary._fields))

        return batched.Segmented(start, lambda *args: (None, None), finish, count=1)

    monkeypatch.setattr(batched, "_compiled", fake_compiled)
    batched.fit_batch(0, n, c, ks=(10,), config=batched.BatchConfig(chunk=devices))
    # Sorted by size, `devices` datasets a chunk; each chunk padded to round_up(its largest, 8).
    ordered = sorted(distinct)
    groups = [ordered[i : i + devices] for i in range(0, len(ordered), devices)]
    assert sizes == [(-(-max(group) // 8) * 8, group) for group in groups]
    assert sizes[0][0] < sizes[-1][0]  # the chunks differ: one size for all would fail


def test_each_dataset_gets_its_own_lane_s_results_when_chunks_are_padded(monkeypatch):
    import bayes_passk.batched as batched

    # 10 datasets per device, of distinct row counts out of order, in chunks of at most 4 per
    # device: 3 chunks, the last with dummy lanes beside at least 2 real ones. A program that
    # reports each lane's own successes and key shows which dataset's results landed where.
    devices = jax.device_count()
    datasets = 10 * devices
    config = batched.BatchConfig(chunk=4 * devices)
    chunk = batched.chunk_size(datasets, config.chunk, jax.devices())
    assert datasets % chunk >= 2  # the last chunk: at least 2 datasets, and dummy lanes
    distinct = np.random.default_rng(3).permutation(datasets) + 2
    c = (np.arange(1, distinct.max() + 1) < distinct[:, None]).cumsum(axis=1)
    n = np.full_like(c, 50)

    def fake_compiled(family, ks, config, chunk, mesh):
        def finish(keys, pieces, n_rows, c_rows, weight):
            fields = {name: np.zeros(chunk) for name in batched.FitSummary._fields}
            fields["mean"] = np.asarray(c_rows * weight).sum(axis=1)
            fields["divergences"] = np.asarray(jax.random.key_data(keys))[:, -1]
            return batched.FitSummary(**fields)

        return batched.Segmented(lambda *args: None, lambda *args: (None, None), finish, count=1)

    monkeypatch.setattr(batched, "_compiled", fake_compiled)
    progress = []
    fitted = batched.fit_batch(
        7, n, c, ks=(10,), config=config, progress=lambda *done: progress.append(done)
    )
    np.testing.assert_array_equal(fitted.mean, c.sum(axis=1))
    # Progress counts datasets, not the last chunk's dummy lanes.
    ends = [min(start + chunk, datasets) for start in range(0, datasets, chunk)]
    assert progress == [(end, datasets) for end in ends]
    own_keys = [jax.random.fold_in(jax.random.key(7), i) for i in range(datasets)]
    expected = [np.asarray(jax.random.key_data(key))[-1] for key in own_keys]
    np.testing.assert_array_equal(fitted.divergences, expected)
    # Keys named by ids: a dataset's key follows its ids, not its place in the batch.
    ids = np.column_stack([np.full(datasets, 2**32 - 1), np.arange(datasets)[::-1]])
    named = batched.fit_batch(7, n[::-1], c[::-1], ks=(10,), config=config, key_ids=ids)
    np.testing.assert_array_equal(named.mean, c.sum(axis=1)[::-1])
    for place, (first, second) in enumerate(ids):
        key = jax.random.fold_in(jax.random.fold_in(jax.random.key(7), first), second)
        assert named.divergences[place] == np.asarray(jax.random.key_data(key))[-1]
    one_column = batched.fit_batch(7, n, c, ks=(10,), config=config, key_ids=np.arange(datasets))
    np.testing.assert_array_equal(one_column.divergences, expected)


@pytest.mark.parametrize(
    ("key_ids", "message"),
    [
        (np.arange(3), r"one id or one row of ids per dataset \(2\), got shape \(3,\)"),
        (np.zeros((2, 0), int), r"got shape \(2, 0\)"),
        (np.zeros((2, 1, 1), int), r"got shape \(2, 1, 1\)"),
        ([0.5, 1.0], r"integers in \[0, 2\^32\)"),
        ([0, -1], r"integers in \[0, 2\^32\)"),
        ([0, 2**32], r"integers in \[0, 2\^32\)"),
        ([(1, 2), (3,)], "rows must all be of one length"),
    ],
)
def test_key_ids_other_than_integers_per_dataset_are_refused(key_ids, message):
    from bayes_passk.batched import fit_batch

    with pytest.raises(bp.InputError, match=message):
        fit_batch(0, np.full((2, 3), 5), np.ones((2, 3)), ks=(10,), key_ids=key_ids)


def test_processes_given_other_arguments_are_refused(monkeypatch):
    # Each process hashes its arguments; the digests gathered from two processes must agree.
    # Here "process 0" is the first call's digest; a digest equal to it stops the fit where it
    # would go on, one that differs must be refused.
    import bayes_passk.batched as batched

    digests = []

    class SameEverywhere(Exception):
        pass

    def gather(mine):
        digests.append(np.asarray(mine))
        if np.array_equal(mine, digests[0]):
            raise SameEverywhere
        return np.stack([digests[0], mine])

    monkeypatch.setattr(batched.jax, "process_count", lambda: 2)
    monkeypatch.setattr(batched.multihost_utils, "process_allgather", gather)
    n, c = np.full((2, 3), 5), np.ones((2, 3))
    arguments = dict(seed=0, n=n, c=c, ks=(10,), key_ids=[7, 8])
    for _ in range(2):
        with pytest.raises(SameEverywhere):
            batched.fit_batch(**arguments)
    other_c = c.copy()
    other_c[1, 2] = 2
    changes = [
        {"key_ids": [7, 9]},
        {"ks": (100,)},
        {"seed": 1},
        {"n": n + 1},
        {"c": other_c},
        {"prior": "beta"},
        {"config": batched.BatchConfig(chains=3)},
        {"rows": 16},
    ]
    for change in changes:
        with pytest.raises(bp.InputError, match="process 1 of 2 was given other counts, k"):
            batched.fit_batch(**{**arguments, **change})


def test_a_fit_s_r_hat_and_divergences_are_those_of_its_draws():
    # The finish of `fit_batch`'s program on given draws: r_hat_max is ArviZ's R-hat, the
    # largest over every scalar of every sampled site (here the last site's chains stand
    # apart, and 21 samples are split around the middle one); divergences count every
    # chain's (here the first's and the last's). It keeps the 21 iterations after the 5 of
    # warmup, of 4 segments of 7 (the last 2 overrun): those left out diverge and stand far
    # apart, so a window moved by one iteration would change every figure checked.
    from functools import partial

    from jax.sharding import Mesh

    from bayes_passk.batched import BatchConfig, _compiled, start_one, thinned
    from bayes_passk.families import get_family, params_type, stack_draws, unstack_draws
    from bayes_passk.nuts import Trace, constrained

    family = get_family("scaled-beta")
    config = BatchConfig(chains=3, warmup=5, samples=21, forecast_draws=30, segments=4)
    n, c = np.full((1, 6), 100), np.array([[0, 1, 3, 10, 50, 90]])
    rows = [jnp.asarray(x[0]) for x in rows_and_weights(n, c)]
    key = jax.random.key(0)
    sites = jax.eval_shape(partial(start_one, family=family, config=config), key, *rows).z
    rng = np.random.default_rng(0)
    z = {name: rng.normal(size=(3, 21, *site.shape[1:])) for name, site in sites.items()}
    z[list(z)[-1]] += np.array([0.0, 0.5, 2.0]).reshape(3, 1, *[1] * (z[list(z)[-1]].ndim - 2))
    diverging = np.zeros((3, 21), bool)
    diverging[2, [3, 7]] = diverging[0, 20] = True

    def run(kept, left_out):  # warmup, kept draws, overrun along the iterations
        return np.concatenate(
            [
                np.broadcast_to(left_out, (3, 5, *kept.shape[2:])),
                kept,
                np.broadcast_to(left_out, (3, 2, *kept.shape[2:])),
            ],
            axis=1,
        )

    full = Trace(
        {k: run(v, 3.0) for k, v in z.items()}, run(diverging, True), *[np.zeros((3, 28))] * 3
    )
    mesh = Mesh(np.array(jax.devices()), ("batch",))
    program = _compiled(family, tuple(map(float, KS)), config, mesh.size, mesh)
    lanes = partial(jax.tree.map, lambda x: np.broadcast_to(x, (mesh.size, *np.shape(x))))
    pieces = tuple(jax.tree.map(lambda x, j=j: x[:, 7 * j : 7 * j + 7], full) for j in range(4))
    keys = jax.random.split(key, mesh.size)
    out = program.finish(keys, lanes(pieces), *lanes(rows))
    summary = jax.tree.map(lambda x: np.asarray(x)[0], out)
    draws = constrained(family, {k: jnp.asarray(v) for k, v in z.items()}, *rows)
    r_hats = [
        float(az.rhat(column))
        for name in z
        for column in np.moveaxis(np.asarray(draws[name]).reshape(3, 21, -1), 2, 0)
    ]
    assert float(summary.r_hat_max) == pytest.approx(max(r_hats), rel=1e-8)
    assert max(r_hats) > 1.3 and max(r_hats[:-1]) < 1.1  # the last site's
    assert int(summary.divergences) == 3
    # The forecast's draws are `thinned` from the chains laid end to end (chain 0, then 1, 2),
    # and the exponent's mean and 90% interval are those of the tail exponent over them.
    fields = params_type(family)._fields
    params = params_type(family)(*(np.asarray(draws[name]).reshape(63, -1) for name in fields))
    stacked = np.asarray(stack_draws(params))[thinned(3, 21, 30)]
    np.testing.assert_allclose(summary.hyper_draws, stacked, rtol=1e-12)
    exponent = np.asarray(jax.vmap(family.tail_exponent)(unstack_draws(family, stacked)))
    assert np.ptp(exponent) > 0.1
    np.testing.assert_allclose(summary.exponent_mean, exponent.mean(), rtol=1e-10)
    np.testing.assert_allclose(
        [summary.exponent_lower, summary.exponent_upper],
        np.quantile(exponent, [0.05, 0.95]),
        rtol=1e-10,
    )


# Slow (15 s, compiling): tests/test_inference.py checks a fit's chains start apart by default.
@pytest.mark.slow
def test_a_fit_s_chains_start_apart():
    # Chains from one key would run alike, and their r_hat could not see a stuck chain; nor
    # may a chain start from the key of the forecast's Beta draws (the first split of the
    # fit's key).
    from functools import partial

    from bayes_passk.batched import BatchConfig, start_one
    from bayes_passk.families import get_family
    from bayes_passk.nuts import start_chains

    family = get_family("scaled-beta")
    config = BatchConfig(chains=3, warmup=5, samples=5, forecast_draws=5)
    n, c = np.full((1, 6), 100), np.array([[0, 1, 3, 10, 50, 90]])
    rows = [jnp.asarray(x[0]) for x in rows_and_weights(n, c)]
    states = jax.jit(partial(start_one, family=family, config=config))(jax.random.key(0), *rows)
    forecast_key = jax.random.split(jax.random.key(0), 4)[:1]
    from_forecast_key = jax.jit(
        lambda keys, *rows: start_chains(keys, family, *rows, warmup=5, target_accept=0.9)
    )(forecast_key, *rows)
    for name, site in states.z.items():
        per_chain = np.asarray(site).reshape(3, -1)
        assert len(np.unique(per_chain, axis=0)) == 3
        assert not (per_chain == np.asarray(from_forecast_key.z[name]).reshape(1, -1)).all(1).any()
    # Uniform in [-2, 2] in the unconstrained space: here 9 draws, the largest beyond 1.
    starts = np.concatenate([np.ravel(site) for site in states.z.values()])
    assert np.abs(starts).max() <= 2 and np.abs(starts).max() > 1
    keys = np.asarray(jax.random.key_data(states.rng_key)).reshape(3, -1)
    assert len(np.unique(keys, axis=0)) == 3


# Slow (30 to 40 s, compiling two beta-spline programs): the default suite reached its 10
# minutes on CI (606 s). tests/test_inference.py checks bp.fit's run in segments by default,
# and `test_a_fit_s_r_hat_and_divergences_are_those_of_its_draws` the window the batched
# engine keeps from given segments; only this test runs the chains through the segments.
@pytest.mark.slow
@pytest.mark.parametrize("lanes", [1, 2])
def test_a_batch_run_in_segments_is_fit_one_in_one_program(lanes):
    # fit_batch runs each chunk as start, segments, finish (bounding an execution's memory);
    # the chains carried between calls are fit_one's, the dropped overrun included: 37
    # iterations in 4 segments of 10; one lane per device (the CPU layout) or two vmapped
    # (the accelerator's). Measured: 3e-13 apart; a kept window shifted by one iteration
    # gives differences of order 1.
    from functools import partial

    import jax

    from bayes_passk.batched import BatchConfig, fit_batch, fit_one
    from bayes_passk.families import get_family
    from bayes_passk.hierarchy import round_up

    n, c = _datasets()
    n, c = n[:2], c[:2]
    config = BatchConfig(chains=2, warmup=20, samples=17, forecast_draws=30, segments=4)
    size = round_up(rows_and_weights(n, c)[0].shape[1])
    config = config._replace(chunk=lanes * jax.device_count())
    batch = fit_batch(7, n, c, ks=KS, prior="beta-spline", config=config, rows=size)
    one = jax.jit(partial(fit_one, family=get_family("beta-spline"), config=config))
    rows = rows_and_weights(n, c, size=size)
    for i in range(2):
        key = jax.random.fold_in(jax.random.key(7), i)
        alone = one(key, *(jnp.asarray(x[i]) for x in rows), jnp.asarray(KS, float))
        for name in ("mean", "lower", "upper", "hyper_draws", "r_hat_max"):
            np.testing.assert_allclose(getattr(batch, name)[i], getattr(alone, name), rtol=1e-8)
    assert len(np.unique(batch.hyper_draws[0][:, 0])) > 5  # the chains moved


@pytest.mark.slow  # two compiled programs: 30 s
def test_padding_leaves_a_fit_as_it_is():
    # Rows padded to a larger size and problems never attempted (n = 0) are out of the
    # likelihood, the forecast and the problem count: the same data and key give the same
    # fit. (With padding in the likelihood, 256 rows moved pass@1e5 from 0.862 to 0.827.)
    from bayes_passk.batched import BatchConfig, fit_batch
    from bayes_passk.hierarchy import round_up

    n, c = _datasets()
    n, c = n[:1], c[:1]
    config = BatchConfig(chains=2, warmup=30, samples=30, forecast_draws=40)
    size = round_up(rows_and_weights(n, c)[0].shape[1])
    tight = fit_batch(5, n, c, ks=KS, prior="scaled-beta", config=config, rows=size)
    wide_n, wide_c = np.pad(n, ((0, 0), (0, 30))), np.pad(c, ((0, 0), (0, 30)))
    wide = fit_batch(5, wide_n, wide_c, ks=KS, prior="scaled-beta", config=config, rows=size + 48)
    for name in ("mean", "lower", "upper", "exponent_mean", "r_hat_max"):
        np.testing.assert_allclose(getattr(wide, name), getattr(tight, name), rtol=1e-10)
    assert np.ptp(tight.hyper_draws[0][:, 0]) > 0  # the chains moved


@pytest.mark.parametrize("iterations", [1, 4, 7, 20, 37, 1000, 1009, 2000])
@pytest.mark.parametrize("segments", [1, 3, 20, 50])
def test_segments_cover_the_iterations_with_less_than_one_segment_to_spare(iterations, segments):
    from bayes_passk.nuts import segment_plan

    length, count = segment_plan(iterations, segments)
    assert 1 <= count <= segments
    assert (count - 1) * length < iterations <= count * length
    if iterations % segments == 0:
        assert (length, count) == (iterations // segments, segments)


@pytest.mark.parametrize("segments", [0, -1, 2.5, True])
def test_fit_batch_refuses_a_bad_segment_count(segments):
    from bayes_passk.batched import BatchConfig, fit_batch

    with pytest.raises(bp.InputError, match="segments must be a positive integer"):
        fit_batch(
            0, np.full((1, 3), 10), np.zeros((1, 3)), [10], config=BatchConfig(segments=segments)
        )


def _recording_compiled(sizes):
    """A stand-in for `batched._compiled` that records each chunk's padded row count."""
    import bayes_passk.batched as batched

    def fake_compiled(family, ks, config, chunk, mesh):
        def finish(keys, pieces, n_rows, c_rows, weight):
            sizes.append(n_rows.shape[1])
            return batched.FitSummary(*(np.zeros(chunk) for _ in batched.FitSummary._fields))

        return batched.Segmented(lambda *args: None, lambda *args: (None, None), finish, count=1)

    return fake_compiled


def test_given_rows_set_every_chunk_s_padded_size(monkeypatch):
    # `rows` pads every dataset to one size, so that calls with other data share a program.
    import bayes_passk.batched as batched

    sizes = []
    monkeypatch.setattr(batched, "_compiled", _recording_compiled(sizes))
    n, c = np.full((2, 3), 10), np.array([[0, 1, 2], [0, 0, 0]])
    batched.fit_batch(0, n, c, ks=(10,), config=batched.BatchConfig(chunk=1), rows=24)
    assert sizes and set(sizes) == {24}


def test_the_config_s_segments_set_the_program_s_plan():
    # 37 iterations in 4 segments: calls of 10 (`nuts.segment_plan`); nothing is compiled.
    from jax.sharding import Mesh

    import bayes_passk.batched as batched
    from bayes_passk.families import get_family

    mesh = Mesh(np.array(jax.devices()), ("batch",))
    config = batched.BatchConfig(warmup=20, samples=17, segments=4)
    program = batched._compiled(get_family("scaled-beta"), (10.0,), config, mesh.size, mesh)
    assert program.count == 4


def test_a_dataset_s_chains_start_from_the_keys_after_its_forecast_s(monkeypatch):
    # The first split of a dataset's key draws its forecast's Beta draws; the chains start
    # from the others (one shared with the forecast would correlate the two).
    import bayes_passk.batched as batched
    from bayes_passk.families import get_family

    seen = {}

    def recording_start(keys, family, n, c, weight, **settings):
        seen["keys"] = np.asarray(jax.random.key_data(keys))

    monkeypatch.setattr(batched, "start_chains", recording_start)
    key, config = jax.random.key(3), batched.BatchConfig(chains=3)
    batched.start_one(key, None, None, None, family=get_family("scaled-beta"), config=config)
    expected = np.asarray(jax.random.key_data(jax.random.split(key, 4)[1:]))
    np.testing.assert_array_equal(seen["keys"], expected)
