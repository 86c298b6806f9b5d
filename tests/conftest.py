import os
import shutil
import socket
import tempfile

import pandas as pd
import pytest

# Compiled programs go to a cache of the session's own (subprocesses inherit it): the tests
# leave the user's cache alone, and every run starts cold.
if "BAYES_PASSK_CACHE_DIR" not in os.environ:
    os.environ["BAYES_PASSK_CACHE_DIR"] = _CACHE = tempfile.mkdtemp(prefix="bayes_passk_tests_")
else:
    _CACHE = None


def pytest_unconfigure(config):
    if _CACHE:
        shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture
def write(tmp_path):
    """Write text, bytes or a DataFrame (as Parquet) to tmp_path/name and return the path."""

    def write(name: str, content) -> str:
        path = tmp_path / name
        if isinstance(content, pd.DataFrame):
            content.to_parquet(path, index=False)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return str(path)

    return write


@pytest.fixture
def coordinator() -> str:
    """A free localhost:port for the coordinator of a `jax.distributed` run."""
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return f"localhost:{probe.getsockname()[1]}"
