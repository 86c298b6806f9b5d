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
                 ["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1", "10"]):
        codes.append(main(argv))
print(json.dumps({"codes": codes, "jax": "jax" in sys.modules, "said": out.getvalue()}))
"""
    report = run_python(code)
    assert report["codes"] == [0, 0, 0, 0]
    assert "Pythia 12B" in report["said"] and "forecast" in report["said"]
    assert not report["jax"]


def test_lazy_attributes_resolve_and_unknown_ones_fail():
    import bayes_passk as bp
    from bayes_passk.inference import Fit, fit

    assert bp.fit is fit and bp.Fit is Fit
    assert {"fit", "forecast", "PassData"} <= set(dir(bp))
    with pytest.raises(AttributeError, match="no_such_thing"):
        bp.no_such_thing  # noqa: B018
