"""Seconds and peak memory of a forecast when problems have varied n (many distinct (n, c) rows).

    python benchmarks/many_rows_forecast.py            # 2,000 problems, n from 50 to 499
    python benchmarks/many_rows_forecast.py --small    # 300 problems
    python benchmarks/many_rows_forecast.py --prior beta-spline  # a discrete family's sums
    python benchmarks/many_rows_forecast.py --fit fit.nc  # keep the fit there, or reuse it

A forecast computes moments for every posterior draw, distinct (n, c) row and k, so data with
a different n per problem cost far more than the embedded sets (n = 100 throughout: at most 101
rows). The data: rates from a Beta(0.3, 3), n uniform on [50, 500), seed 0. One fit (2 chains x
(300 + 300)) is saved; then each way forecasts it at `DEFAULT_KS` in a fresh interpreter (so its
peak resident memory is its own): the package's default, and the same with the row-dependent
thinning and batching off (`ROW_DRAWS` and `MOMENTS_PER_BATCH` set huge: 1,000 draws, 16 at once,
as before 2026-12-02). Both ways run their programs once to compile, then are timed on a second
forecast.
"""

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import bayes_passk as bp

CHILD = """
import json, resource, sys, time
from pathlib import Path
import bayes_passk as bp
import bayes_passk.forecast as forecast_module
path, uncapped = sys.argv[1], sys.argv[2] == "1"

def peak_gb():
    # VmHWM starts afresh at exec; ru_maxrss keeps the parent's peak (Linux), which holds the fit
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20

if uncapped:
    forecast_module.ROW_DRAWS = forecast_module.MOMENTS_PER_BATCH = 10**12
fit = bp.load_fit(path)
start = time.perf_counter()
fit.forecast()
first = time.perf_counter() - start
start = time.perf_counter()
f = fit.forecast()
second = time.perf_counter() - start
draws = fit.idata.posterior_predictive.sizes["chain"] * fit.idata.posterior_predictive.sizes["draw"]
print(json.dumps({"first": first, "second": second, "draws": draws,
                  "peak_gb": peak_gb(),
                  "mcse_max": float(f.mcse.max()), "mean_10000": float(f.mean[f.k == 10000][0]),
                  "upper_10000": float(f.upper[f.k == 10000][0])}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="300 problems")
    parser.add_argument("--prior", default="scaled-beta", help="prior family (scaled-beta)")
    parser.add_argument("--fit", type=Path, help="save the fit here, or load it if it exists")
    args = parser.parse_args()
    problems = 300 if args.small else 2000
    rng = np.random.default_rng(0)
    n = rng.integers(50, 500, problems)
    c = rng.binomial(n, rng.beta(0.3, 3.0, problems))
    data = bp.PassData.from_counts([f"p{i}" for i in range(problems)], n=n, c=c)
    rows = len(set(zip(n.tolist(), c.tolist(), strict=True)))
    print(f"{platform.node()}; {problems} problems, {rows} distinct (n, c) rows; {args.prior}")
    with tempfile.TemporaryDirectory() as folder:
        path = args.fit or Path(folder) / "fit.nc"
        if path.exists():
            saved = bp.load_fit(path).family.name
            if saved != args.prior:
                parser.error(f"{path} holds a {saved} fit, not {args.prior}: pass --prior {saved}")
        else:
            fit = bp.fit(
                data,
                prior=args.prior,
                chains=2,
                warmup=300,
                samples=300,
                progress=False,
                check=False,
            )
            fit.save(path)
        print("| way | draws | first forecast s | second forecast s | peak RSS GB | max mcse |")
        print("|---|---|---|---|---|---|")
        for name, flag in (("default", "0"), ("uncapped (before)", "1")):
            run = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), flag],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(run.stdout.strip().splitlines()[-1])
            print(
                f"| {name} | {r['draws']} | {r['first']:.1f} | {r['second']:.1f} | "
                f"{r['peak_gb']:.2f} | {r['mcse_max']:.4f} |"
            )
            print(f"  pass@10000 mean {r['mean_10000']:.4f}, upper {r['upper_10000']:.4f}")


if __name__ == "__main__":
    main()
