import os
import shutil
import socket
import subprocess
import sys
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


@pytest.fixture
def run_together(tmp_path):
    """Run commands as processes at once; return their `subprocess.CompletedProcess`es.

    ``run(commands, env, inputs=None, timeout=600)``: ``inputs[i]``, if given, is command i's
    standard input. Processes still running when the test ends (one failed or timed out while
    the others wait for it) are killed.
    """
    started = []

    def run(commands, env, inputs=None, timeout=600):
        for index, command in enumerate(commands):
            stdin = tmp_path / f"stdin{index}"
            stdin.write_text("" if inputs is None else inputs[index])
            with stdin.open() as source:
                started.append(
                    subprocess.Popen(
                        command,
                        stdin=source,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                        env=env,
                    )
                )
        results = []
        for process in started[-len(commands) :]:
            stdout, stderr = process.communicate(timeout=timeout)
            results.append(
                subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
            )
        return results

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def run_with_a_bug_in_process_1(coordinator, run_together, tmp_path):
    """Run a batched command as processes 0 and 1 of two, process 1 failing mid-run on a bug.

    ``run(arguments, module)``: the command line ``arguments`` (without ``--distributed``) runs
    on one CPU device per process; in process 1, `bayes_passk.<module>`'s ``fit_batch`` raises
    ``RuntimeError('an injected bug')`` from its progress callback, after its first chunk.
    Process 0 is given ``--out tmp_path/never``. Returns both `subprocess.CompletedProcess`es.
    """
    with_a_bug = (
        "import sys, bayes_passk.{module} as module\n"
        "real = module.fit_batch\n"
        "def report(done, total):\n"
        "    raise RuntimeError('an injected bug')\n"
        "def fit_batch(*args, progress, **kwargs):\n"
        "    return real(*args, progress=report, **kwargs)\n"
        "module.fit_batch = fit_batch\n"
        "from bayes_passk.cli import main\n"
        "sys.exit(main())\n"
    )

    def run(arguments, module):
        arguments = [*arguments, "--distributed", coordinator, "2"]
        out = tmp_path / "never"
        hosts = [
            [sys.executable, "-m", "bayes_passk.cli", *arguments, "0", "--out", str(out)],
            [sys.executable, "-c", with_a_bug.format(module=module), *arguments, "1"],
        ]
        env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
        return run_together(hosts, env, timeout=120)

    return run
