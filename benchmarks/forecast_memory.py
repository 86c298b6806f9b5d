"""Peak memory of the README's forecast with one CPU device per core, against one device.

    python benchmarks/forecast_memory.py                  # bayes-passk forecast --json
    python benchmarks/forecast_memory.py --samples 250    # shorter chains (growth with draws)
    python benchmarks/forecast_memory.py --small          # 200 warm-up and 200 kept draws

Runs the quickstart's ``bayes-passk forecast`` in a fresh process per setting (compile cache
off, so every run compiles) and prints its wall time and peak resident memory (``ru_maxrss``
of the child, in kB as Linux gives it). With several XLA CPU devices, the chains of different
devices run as concurrent executions, and XLA's CPU runtime then holds memory that grows with
the number of loop iterations run (the NUTS trajectories) until the execution ends; with one
device the chains run one after another, slower, without that growth. Last, one device in a
process pinned to one core (Linux; `os.sched_setaffinity`): XLA's CPU threads then stay on
that core, which a single device's tiny sequential steps run faster on.
"""

import argparse
import os
import platform
import subprocess
import sys
import time
from functools import partial

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--warmup", type=int, help="warm-up draws per chain (the command's default)")
parser.add_argument("--samples", type=int, help="kept draws per chain (the command's default)")
parser.add_argument("--small", action="store_true", help="200 warm-up and 200 kept draws")
args = parser.parse_args()
if args.small:
    args.warmup, args.samples = 200, 200
CHILD = (
    "import resource, sys; from bayes_passk.cli import main; code = main(sys.argv[1:]); "
    "print('peak kB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); "
    "sys.exit(code)"
)
command = [sys.executable, "-c", CHILD, "forecast", "--json"]
for name in ("warmup", "samples"):
    if getattr(args, name) is not None:
        command += [f"--{name}", str(getattr(args, name))]

print(
    f"# {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
    f"{time.strftime('%Y-%m-%d')}: bayes-passk {' '.join(command[3:])}"
)
print("\n| CPU devices | wall s | peak resident memory MiB |\n|---|---|---|")
settings = [(os.cpu_count() or 1, False), (1, False)]
settings += [(1, True)] if hasattr(os, "sched_setaffinity") else []
for devices, pinned in settings:
    env = {
        **os.environ,
        "BAYES_PASSK_CACHE_DIR": "",
        # The user's other flags kept; a device count of theirs is replaced.
        "XLA_FLAGS": " ".join(
            [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
            + [f"--xla_force_host_platform_device_count={devices}"]
        ),
    }
    start = time.perf_counter()
    pin = partial(os.sched_setaffinity, 0, {min(os.sched_getaffinity(0))}) if pinned else None
    done = subprocess.run(command, env=env, capture_output=True, text=True, preexec_fn=pin)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"exit code {done.returncode}: {done.stderr[-2000:]}")
    peak = int(done.stderr.rsplit("peak kB", 1)[1].split()[0])
    label = f"{devices}, pinned to one core" if pinned else f"{devices}"
    print(f"| {label} | {seconds:.1f} | {peak / 1024:.0f} |", flush=True)
