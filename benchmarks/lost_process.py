"""Stop one of two `--distributed` processes mid-run, many times: how do both end, how soon?

    python benchmarks/lost_process.py                    # 20 trials of Ctrl-C (SIGINT)
    python benchmarks/lost_process.py --signal KILL --trials 5
    python benchmarks/lost_process.py --small            # 3 trials

Each trial starts two local processes of one CPU device each running the same synthetic
backtest (16 problems, one replicate per cell, `bayes-scaled-beta`, 2 x (200 + 200), two
datasets per chunk), waits for process 0's first progress line (both are then fitting), and
sends the signal to process 1 (with Ctrl-C restored in it, as from a terminal). Printed per
trial: both exit codes and the seconds from the signal to each exit; a process still running
``--wait`` seconds after the signal is killed and counted as hung. A run of the package as it
should be: process 1 exits 130 (Ctrl-C) or -9 (killed) at once, process 0 with exit 1 at its
next exchange of results.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--trials", type=int, default=20)
parser.add_argument("--small", action="store_true", help="3 trials")
parser.add_argument("--signal", default="INT", choices=["INT", "KILL", "TERM"])
parser.add_argument("--wait", type=float, default=120.0, help="seconds before a trial hangs")
args = parser.parse_args()
trials = 3 if args.small else args.trials
stop = getattr(signal, f"SIG{args.signal}")

CLI_WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from bayes_passk.cli import main; sys.exit(main())"
)


def free_address() -> str:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return f"localhost:{probe.getsockname()[1]}"


def wait(process: subprocess.Popen, start: float) -> tuple[object, float]:
    """(exit code or 'hung', seconds since start)."""
    try:
        code = process.wait(timeout=max(0.0, start + args.wait - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = "hung"
    return code, time.monotonic() - start


command = [sys.executable, "-c", CLI_WITH_CTRL_C, "backtest", "--design", "synthetic"]
command += ["--problems", "16", "--budgets", "20", "--replicates", "1", "--k", "100"]
command += ["--methods", "bayes-scaled-beta", "--warmup", "200", "--samples", "200"]
command += ["--chunk", "1", "--distributed"]
env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
print(f"SIG{args.signal} to process 1, {trials} trials")
print("trial  process 1: exit, s  process 0: exit, s")
tally: dict = {}
for trial in range(trials):
    address = free_address()
    lead = subprocess.Popen(
        [*command, address, "2", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    other = subprocess.Popen(
        [*command, address, "2", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    for line in lead.stderr:
        if "fits" in line and "/" in line:  # the first chunk is done
            break
    start = time.monotonic()
    other.send_signal(stop)
    (other_code, other_s), (lead_code, lead_s) = wait(other, start), wait(lead, start)
    lead.stderr.close()
    tally[(other_code, lead_code)] = tally.get((other_code, lead_code), 0) + 1
    print(
        f"{trial:5d}  {other_code!s:>8}, {other_s:5.1f}  {lead_code!s:>8}, {lead_s:5.1f}",
        flush=True,
    )
print("outcomes (process 1, process 0): count")
for (other_code, lead_code), count in sorted(tally.items(), key=str):
    print(f"  ({other_code}, {lead_code}): {count}")
