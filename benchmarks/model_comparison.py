"""PSIS-LOO across every prior family on each embedded dataset: which family do the data prefer?

    python benchmarks/model_comparison.py                   # full data, every group, ~1 hour
    python benchmarks/model_comparison.py --small           # one group, short chains
    python benchmarks/model_comparison.py --attempts 100    # Pythia subsampled to 100 attempts
    python benchmarks/model_comparison.py --out bench-out/loo.csv

For each group: the share of problems never solved, the prior LOO ranks first, its elpd lead
over the runner-up with the standard error of that difference, whether that is a clear
preference (lead >= 4 and >= 2 standard errors, `bayes_passk.compare.verdict`), and each
prior's elpd below the best.
"""

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd

import bayes_passk as bp
from bayes_passk.compare import compare_priors, ranking
from bayes_passk.families import registry

parser = argparse.ArgumentParser()
parser.add_argument(
    "--small", action="store_true", help="1 group (pythia-math's first), 2 x (300 + 300) draws"
)
parser.add_argument("--attempts", type=int, help="subsample pythia-math to this many attempts")
parser.add_argument("--priors", nargs="+", default=list(registry()))
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--groups", nargs="+", help="only these groups (default: all)")
parser.add_argument("--out", help="CSV of the per-group table")
args = parser.parse_args()
draws = {"chains": 2, "warmup": 300 if args.small else 500, "samples": 300 if args.small else 500}


def groups():
    """(dataset, group, data) for every group of the embedded datasets with one count per row."""
    for name in ("pythia-math", "bon-jailbreak"):
        full = bp.datasets.load(name)
        chosen = full.groups[:1] if args.small else full.groups
        chosen = [g for g in chosen if not args.groups or g in args.groups]
        for group in chosen:
            if args.attempts and name == "pythia-math":
                data = bp.datasets.load(
                    name, group=group, attempts_per_problem=args.attempts, seed=args.seed
                )
            else:
                data = full.select(group)
            yield name, group, data
        if args.small:
            return


print(
    f"# {platform.node()} {platform.machine()}, {time.strftime('%Y-%m-%d')}, priors "
    f"{args.priors}, draws {draws}, attempts {args.attempts or 'all'}"
)
rows = []
start = time.perf_counter()
for name, group, data in groups():
    fits, failed = {}, []
    for prior in args.priors:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", bp.ConvergenceWarning)
            fits[prior] = bp.fit(data, prior=prior, seed=args.seed, progress=False, **draws)
        if any(issubclass(w.category, bp.ConvergenceWarning) for w in caught):
            failed.append(prior)
    table = compare_priors(fits).table
    first = ranking(table)
    rows.append(
        {
            "dataset": name,
            "group": group,
            "problems": data.num_problems,
            "attempts": int(np.median(data.n)),
            "never_solved": float(np.mean(data.c == 0)),
            **first._asdict(),
            **{f"diff:{prior}": table.loc[prior, "elpd_diff"] for prior in args.priors},
            "bad_pareto_k": int(table["bad_pareto_k"].sum()),
            "unconverged": " ".join(failed),
        }
    )
    row = rows[-1]
    print(
        f"{time.perf_counter() - start:7.0f} s  {name} / {group}: {first.best} by "
        f"{first.lead:.1f} +- {first.lead_se:.1f} over {first.runner_up}; never solved "
        f"{row['never_solved']:.2f}",
        flush=True,
    )

frame = pd.DataFrame(rows)
if args.out:
    frame.to_csv(args.out, index=False)
shown = frame.drop(columns=["problems"]).copy()
shown["never_solved"] = shown["never_solved"].map("{:.2f}".format)
for column in [c for c in shown if c.startswith("diff:") or c.startswith("lead")]:
    shown[column] = shown[column].map("{:.1f}".format)
print("| " + " | ".join(shown.columns) + " |")
print("|" + "---|" * len(shown.columns))
for values in shown.astype(str).itertuples(index=False):
    print("| " + " | ".join(values) + " |")
