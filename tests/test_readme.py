"""The README's Python examples run as written, in order, in one namespace (slow: they fit)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_examples_run(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.S | re.M)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)  # the examples write files
    namespace: dict = {}
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"README.md, Python block {number}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "mean" in printed and "lower" in printed  # the forecast table
    assert (tmp_path / "pythia-1b.nc").exists()
    assert namespace["FAMILY"].name == "beta"  # the new-family template builds
