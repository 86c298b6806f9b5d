"""The batched engine across processes (`jax.distributed`) against one process, side by side.

    python benchmarks/multihost.py               # 8 Pythia 12B subsamples, 2 x (500 + 500)
    python benchmarks/multihost.py --small       # 4 subsamples, 2 x (100 + 100)
    python benchmarks/multihost.py --processes 2 --devices 2 --replicates 16
    python benchmarks/multihost.py --no-pin      # the processes share every core

Two local processes stand in for two hosts: each is started with ``--devices`` forced CPU
devices, pinned to cores of its own unless ``--no-pin``, and joins the others through
`jax.distributed.initialize` (coordinator on localhost);
the other arm is one process with ``processes x devices`` devices. Both arms call
`bayes_passk.batched.fit_batch` twice on the same subsamples (Pythia 12B, 100 attempts per
problem, the default prior, compile caches off): the first call compiles, the second runs the
compiled programs. Printed per arm: each call's wall time (process 0's), and at the end the
ratio of the compiled calls and the largest difference between the two arms' forecasts.
On one machine this measures the cost of running as several processes (coordination, the
final gather), not the network of a real cluster.
"""

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true")
parser.add_argument("--replicates", type=int, default=8)
parser.add_argument("--warmup", type=int, default=500)
parser.add_argument("--samples", type=int, default=500)
parser.add_argument("--processes", type=int, default=2)
parser.add_argument("--devices", type=int, default=1, help="CPU devices per process (1)")
parser.add_argument(
    "--no-pin", action="store_true", help="let the processes share every core (not pinned)"
)
parser.add_argument(
    "--worker", nargs=3, metavar=("ADDRESS", "PROCESSES", "ID"), help=argparse.SUPPRESS
)
args = parser.parse_args()
if args.small:
    args.replicates, args.warmup, args.samples = 4, 100, 100
for name in ("replicates", "warmup", "samples", "processes", "devices"):
    if getattr(args, name) < 1:
        parser.error(f"--{name} must be at least 1")


def work() -> dict:
    """This process's part: fit the subsamples twice, time each call."""
    import jax

    if args.worker:
        address, processes, index = args.worker
        cores = sorted(os.sched_getaffinity(0))
        share = 0 if args.no_pin else len(cores) // int(processes)
        if share:  # each stand-in host on cores of its own, as on separate machines
            os.sched_setaffinity(0, cores[int(index) * share : (int(index) + 1) * share])
        jax.distributed.initialize(address, int(processes), int(index))
    import numpy as np

    import bayes_passk as bp
    from bayes_passk import designs
    from bayes_passk.batched import BatchConfig, fit_batch

    full = bp.datasets.load("pythia-math").select("Pythia 12B")
    cell = designs.subsample(0, full, 100, args.replicates, [10000])
    config = BatchConfig(warmup=args.warmup, samples=args.samples)
    seconds, fits = [], None
    for _ in range(2):
        start = time.perf_counter()
        fits = fit_batch(0, cell.n, cell.c, ks=[10000], config=config)
        seconds.append(time.perf_counter() - start)
    return {
        "devices": jax.device_count(),
        "processes": jax.process_count(),
        "seconds": seconds,
        "mean": np.asarray(fits.mean).ravel().tolist(),
        "r_hat_max": float(np.max(fits.r_hat_max)),
    }


def launch(processes: int, devices: int) -> dict:
    """Run `work` in ``processes`` new processes of ``devices`` CPU devices; process 0's result."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "BAYES_PASSK_CACHE_DIR": "",
        "JAX_PLATFORMS": "cpu",
    }
    options = ["--replicates", str(args.replicates), "--warmup", str(args.warmup)]
    options += ["--samples", str(args.samples)] + (["--no-pin"] if args.no_pin else [])
    command = [sys.executable, __file__, *options]
    if processes == 1:
        children = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)]
    else:
        with socket.socket() as probe:
            probe.bind(("localhost", 0))
            address = f"localhost:{probe.getsockname()[1]}"
        children = [
            subprocess.Popen(
                [*command, "--worker", address, str(processes), str(index)],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for index in range(processes)
        ]
    results = []
    for child in children:
        stdout, _ = child.communicate()
        if child.returncode != 0:
            sys.exit(f"a process exited with {child.returncode}")
        results.append(json.loads(stdout.splitlines()[-1]))  # after Gloo's connection lines
    return results[0]


if args.worker or os.environ.get("BAYES_PASSK_BENCHMARK_CHILD"):
    print(json.dumps(work()), flush=True)
    sys.exit(0)

os.environ["BAYES_PASSK_BENCHMARK_CHILD"] = "1"
total = args.processes * args.devices
print(
    f"# {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
    f"{time.strftime('%Y-%m-%d')}: {args.replicates} Pythia 12B subsamples (100 attempts), "
    f"2 chains x ({args.warmup} + {args.samples}), default prior"
)
pinning = "not pinned" if args.no_pin else "each pinned to its own cores"
arms = {
    f"{args.processes} processes x {args.devices} device(s), {pinning}": launch(
        args.processes, args.devices
    ),
    f"1 process x {total} devices": launch(1, total),
}
print("\n| arm | devices | first call s | compiled call s | max r_hat |")
print("|---|---|---|---|---|")
for name, arm in arms.items():
    first, second = arm["seconds"]
    print(f"| {name} | {arm['devices']} | {first:.1f} | {second:.1f} | {arm['r_hat_max']:.3f} |")
several, one = arms.values()
difference = max(abs(a - b) for a, b in zip(several["mean"], one["mean"], strict=True))
print(
    f"\ncompiled call, several processes / one: {several['seconds'][1] / one['seconds'][1]:.2f}; "
    f"largest difference of mean pass@10000 between the arms: {difference:.2e}"
)
