"""Start-up time of the commands that fit nothing: wall seconds per run, median of repeats.

    python benchmarks/cli_startup.py                       # this checkout
    python benchmarks/cli_startup.py --small               # 2 repeats
    python benchmarks/cli_startup.py --against OTHER_TREE  # and another checkout, alternating

Each command runs in a fresh interpreter (``python -c "from bayes_passk.cli import main; ..."``)
in the checkout (its working directory and ``PYTHONPATH``), so two checkouts run side by side
with one install of the dependencies; runs of the two alternate to share the machine's noise.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = {
    "--help": ["--help"],
    "forecast --help": ["forecast", "--help"],
    "datasets": ["datasets"],
    "estimate": ["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1", "10", "100"],
}
RUN = "import sys; from bayes_passk.cli import main; sys.exit(main(sys.argv[1:]))"

parser = argparse.ArgumentParser()
parser.add_argument("--against", type=Path, help="another checkout to time side by side")
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--small", action="store_true", help="2 repeats")
args = parser.parse_args()
if args.small:
    args.repeats = 2
trees = {"this": Path(__file__).resolve().parents[1]}
if args.against:
    trees["against"] = args.against.resolve()


def seconds(tree: Path, argv: list[str]) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    run = [sys.executable, "-c", RUN, *argv]
    subprocess.run(run, env=env, cwd=tree, check=True, capture_output=True)
    return time.perf_counter() - start


print(f"{platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}")
for name, argv in COMMANDS.items():
    times = {label: [] for label in trees}
    for _ in range(args.repeats):
        for label, tree in trees.items():
            times[label].append(seconds(tree, argv))
    medians = {label: statistics.median(values) for label, values in times.items()}
    line = ", ".join(f"{label} {value:.2f} s" for label, value in medians.items())
    if args.against:
        line += f", ratio against/this {medians['against'] / medians['this']:.1f}"
    print(f"bayes-passk {name}: median of {args.repeats}: {line}")
