"""Importing the package: JAX is set up, and loaded only when needed."""

import json
import os
import subprocess
import sys

import pytest


def run_python(code: str) -> dict:
    """Run `code` in a fresh interpreter (no XLA_FLAGS) and return the JSON it prints."""
    env = {name: value for name, value in os.environ.items() if name != "XLA_FLAGS"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


REPORT = """
import json, os, sys
import jax, jax.numpy as jnp
print(json.dumps({"jax_before": jax_before, "dtype": str(jnp.ones(1).dtype),
                  "devices": jax.device_count(), "cores": os.cpu_count()}))
"""


@pytest.mark.parametrize("jax_first", [False, True])
def test_import_sets_double_precision_and_one_device_per_core(jax_first):
    prelude = "import jax\n" if jax_first else ""
    code = prelude + "import sys\nimport bayes_passk\njax_before = 'jax' in sys.modules\n" + REPORT
    report = run_python(code)
    assert report["jax_before"] == jax_first
    assert report["dtype"] == "float64"
    if not jax_first:  # the device count is fixed when JAX starts its backend
        assert report["devices"] == report["cores"]


def test_listings_and_help_do_not_load_jax():
    code = """
import contextlib, io, json, sys
from bayes_passk.cli import main
codes = []
with contextlib.redirect_stdout(io.StringIO()) as out:
    for argv in (["datasets"], ["datasets", "pythia-math"], ["--help"],
                 ["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1", "10"],
                 *([name, "--help"] for name in ("forecast", "compare", "backtest", "allocate",
                                                 "simulate-allocation"))):
        codes.append(main(argv))
print(json.dumps({"codes": codes, "jax": "jax" in sys.modules, "said": out.getvalue()}))
"""
    report = run_python(code)
    assert report["codes"] == [0] * 9
    assert "Pythia 12B" in report["said"] and "forecast" in report["said"]
    assert "bayes-zero-inflated-beta" in report["said"]  # --method's choices, from file names
    assert not report["jax"]


def test_the_parsers_names_match_the_modules_they_stand_for():
    from bayes_passk import allocation, baselines, cli
    from bayes_passk.families import registry
    from bayes_passk.models import family_names

    assert cli.POLICIES == allocation.POLICIES
    assert cli.POINT_METHODS == tuple(baselines.METHODS)
    assert family_names() == list(registry())


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "helper.py",
            "SCALE = 2.0\n",
            "models/helper.py must define FAMILY, a PriorFamily named "
            "'helper' after its file, and defines no FAMILY",
        ),
        (
            "clash.py",
            "from bayes_passk.models.beta import FAMILY\n",
            "models/clash.py must "
            "define FAMILY, a PriorFamily named 'clash' after its file, and defines a PriorFamily "
            "named 'beta'",
        ),
        (
            "my-family.py",
            "",
            "prior 'my-family': no models/my_family.py; a family's file is its "
            "name with underscores",
        ),
    ],
)
def test_a_broken_family_file_is_named_and_stops_only_its_own_family(
    file, content, message, tmp_path, monkeypatch, capsys
):
    import re

    import bayes_passk.models as models
    from bayes_passk import cli, families
    from bayes_passk.data import InputError

    (tmp_path / file).write_text(content)
    monkeypatch.setattr(models, "__path__", [*models.__path__, str(tmp_path)])
    name = file.removesuffix(".py").replace("_", "-")
    families.registry.cache_clear()
    try:
        for lookup in (families.registry, lambda: families.get_family(name)):
            with pytest.raises(InputError, match=re.escape(message)):
                lookup()
        assert families.get_family("scaled-beta").name == "scaled-beta"  # the others still load
        assert cli.main(["forecast", "--prior", name, "--chains", "1"]) == 2
        err = capsys.readouterr().err
        assert err.splitlines()[-1].startswith(f"bayes-passk: error: {message[:30]}")
        assert "Traceback" not in err
    finally:
        monkeypatch.undo()
        families.registry.cache_clear()
        families._load.cache_clear()
        sys.modules.pop(f"bayes_passk.models.{file.removesuffix('.py')}", None)


def test_lazy_attributes_resolve_and_unknown_ones_fail():
    import bayes_passk as bp
    from bayes_passk.inference import Fit, fit

    assert bp.fit is fit and bp.Fit is Fit
    assert {"fit", "forecast", "PassData"} <= set(dir(bp))
    with pytest.raises(AttributeError, match="no_such_thing"):
        bp.no_such_thing  # noqa: B018


def test_plotting_keeps_the_users_matplotlib_backend():
    # A notebook's inline backend must survive the import; figures are made without pyplot.
    code = """
import json, matplotlib
matplotlib.use("svg")
from bayes_passk import plots
from bayes_passk.forecast import Forecast
import numpy as np
k = np.array([1, 10, 100])
mean = np.array([0.2, 0.5, 0.7])
nan = np.full(3, np.nan)
forecast = Forecast("regression", "benchmark", 0.9, k, mean, mean, nan, nan, nan, nan, nan,
                    mean, None, None, None)
figure = plots.plot_forecast({"demo": forecast})
import matplotlib.pyplot as plt
print(json.dumps({"backend": matplotlib.get_backend(), "open": plt.get_fignums(),
                  "lines": len(figure.axes[0].lines)}))
"""
    report = run_python(code)
    assert report == {"backend": "svg", "open": [], "lines": 2}  # the mean, the unbiased estimates


def test_a_figure_is_saved_as_png_at_150_dpi(tmp_path):
    import numpy as np
    from matplotlib.image import imread

    from bayes_passk import plots
    from bayes_passk.forecast import Forecast

    k, mean, nan = np.array([1, 10, 100]), np.array([0.2, 0.5, 0.7]), np.full(3, np.nan)
    forecast = Forecast(
        "regression", "benchmark", 0.9, k, mean, mean, *[nan] * 5, mean, *[None] * 3
    )
    figure = plots.plot_forecast({"demo": forecast})
    path = tmp_path / "forecast.partial"  # as the command line names it before the rename
    plots.save_figure(figure, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inches = figure.get_size_inches()
    assert imread(path, format="png").shape[:2] == tuple(np.round(150 * inches[::-1]).astype(int))


def test_importing_every_module_leaves_jax_unstarted():
    # jax.distributed.initialize() must come before JAX starts its backend: no module may
    # compute with JAX at import.
    code = """
import importlib, json, pkgutil
import bayes_passk, bayes_passk.models
for package in (bayes_passk, bayes_passk.models):
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
from jax._src import xla_bridge
print(json.dumps({"started": xla_bridge.backends_are_initialized()}))
"""
    assert run_python(code) == {"started": False}


def _bad_calls() -> dict:
    """Calls with an argument of the wrong kind, by name, and the message each should raise."""
    import numpy as np
    import pandas as pd

    import bayes_passk as bp
    from bayes_passk import allocation, backtest, designs
    from bayes_passk.baselines import fit_baseline
    from bayes_passk.compare import compare_priors
    from bayes_passk.data import PassData, validate_counts
    from bayes_passk.forecast import check_target_and_ci
    from bayes_passk.plots import plot_forecast

    data = PassData.from_counts(["a", "b", "c"], [20, 20, 20], [1, 4, 0])
    uneven = PassData(*map(np.array, (["a", "b"], [9, 9, 9], [1, 2, 3], ["", ""])))
    one_column = pd.DataFrame({"method": ["m"]})
    not_data = "data must be a PassData"
    return {
        "subsample": (lambda: designs.subsample(0, (1, 2), 50, 2, [10]), not_data),
        "resample": (lambda: designs.resample(0, (1, 2), 50, 2, [10]), not_data),
        "simulate": (lambda: allocation.simulate(0, ([1], [0]), [9], 9), not_data),
        "compare_priors": (lambda: compare_priors([1, 2]), "fits must be a dict of fits by name"),
        "summarize": (lambda: backtest.summarize({"k": [1]}), "must be a DataFrame as run returns"),
        "summarize columns": (lambda: backtest.summarize(one_column), "lacks the columns"),
        "paired": (lambda: backtest.paired_differences(one_column, "m"), "lacks the columns"),
        "plot_forecast": (lambda: plot_forecast({}), "at least one forecast, got an empty dict"),
        "fit": (lambda: bp.fit(data, target_accept="0.9"), "target_accept must lie .* '0.9'"),
        "ci": (lambda: check_target_and_ci("benchmark", "0.9"), "ci must lie .* got '0.9'"),
        "seed": (lambda: fit_baseline(data, "regression").forecast(9, seed="x"), "seed must be"),
        "lengths": (lambda: validate_counts(uneven), "differ in length: 2, 3, 3, 2"),
    }


@pytest.mark.parametrize("name", list(_bad_calls()))
def test_public_functions_name_a_wrong_argument(name):
    # An argument of the wrong kind gets a message naming it, not an AttributeError or
    # KeyError from deep inside (or, for arrays of different lengths, a silent result).
    from bayes_passk.data import InputError

    call, message = _bad_calls()[name]
    with pytest.raises(InputError, match=message):
        call()


@pytest.mark.slow
def test_the_examples_skipped_in_the_doctests_still_run():
    # Examples too slow for the default run are marked +SKIP; here they run, so that their
    # calls and printed output keep up with the code.
    import doctest
    import importlib
    import pkgutil

    import bayes_passk
    import bayes_passk.models

    report, ran = [], []
    runner = doctest.DocTestRunner()
    for package in (bayes_passk, bayes_passk.models):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for test in doctest.DocTestFinder().find(module):
                skipped = [
                    example for example in test.examples if example.options.get(doctest.SKIP)
                ]
                if skipped:
                    for example in skipped:
                        del example.options[doctest.SKIP]
                    runner.run(test, out=report.append)
                    ran.append(test.name)
    assert len(ran) >= 3, ran  # the examples of batched, compare and nuts at least
    assert runner.failures == 0, "".join(report)
