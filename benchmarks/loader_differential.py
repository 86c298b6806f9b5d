"""Load random small files with this checkout and another: the same data or the same message?

    python benchmarks/loader_differential.py --against OTHER_TREE           # 600 files a kind
    python benchmarks/loader_differential.py --against OTHER_TREE --seed 1 --files 200
    python benchmarks/loader_differential.py --against OTHER_TREE --small   # 60 files a kind

A check for changes to `bayes_passk.data` that should read every file as before (faster, or
in less memory): random CSV/TSV files (delimiters, line endings, blank and ragged rows, quoted
fields over lines, odd labels, outcomes and counts), JSON lines and JSON arrays (numbers,
booleans, nulls, nested values, keys first seen late, lines that are not objects or not JSON),
and Parquet files and DataFrames (string, nullable, float, boolean and categorical columns),
each loaded by `bayes_passk.data.load` in a fresh interpreter of each checkout. Prints, per
kind, how many loaded and how many were refused, and every file whose result (problem ids,
their dtype, n, c, groups) or message differs; exits 1 if any does.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import json, sys
import pandas as pd
from bayes_passk.data import InputError, load
out = []
for path in sys.argv[1:]:
    try:
        data = load(pd.read_pickle(path) if path.endswith(".pkl") else path)
        out.append(["ok", data.problem_id.tolist(), str(data.problem_id.dtype), data.n.tolist(),
                    data.c.tolist(), data.group.tolist()])
    except InputError as error:
        out.append(["refused", str(error)])
    except Exception as error:
        out.append(["crashed", f"{type(error).__name__}: {error}"])
print(json.dumps(out, default=str))
"""
LABELS = ["p1", "p2", " p1", "7", "7.0", "1", "é", '"a,b"', '"x\ny"', "p3", "1.0"]
ODD = ["", "  ", "0", "true", "False", "\u2028", "yes", '"']


def csv_text(rng: random.Random, clean: bool) -> tuple[str, str]:
    headers = rng.choice(
        [
            ["problem_id", "success"],
            ["model", "problem_id", "success"],
            ["problem_id", "attempt", "success"],
            ["model", "problem", "sample_idx", "correct"],
            ["problem_id", "n", "c"],
            ["problem_id", "success", ""],
            ["task", "model", "n", "c", "extra"],
        ]
    )
    sep, end = rng.choice([",", ",", ";", "\t"]), rng.choice(["\n", "\r\n", "\r"])
    lines = [""] * (rng.random() < 0.2) + [sep.join(headers)]
    for _ in range(rng.choice([rng.randint(0, 12), rng.randint(100, 300)])):
        width = len(headers) + rng.choice([0] * (200 if clean else 12) + [-1, 1])
        row = []
        for j in range(max(width, 0)):
            name = headers[j] if j < len(headers) else ""
            if name in ("success", "correct"):
                bad = rng.random() < (0.002 if clean else 0.1)
                row.append(rng.choice(["1", "0", "true", "0.0", "", "x"] if bad else ["1", "0"]))
            elif name == "n":
                bad = rng.random() < (0.002 if clean else 0.1)
                row.append(rng.choice(["10", "5", "3", "-1", "2.5"] if bad else ["10", "5"]))
            elif name == "c":
                row.append(rng.choice(["1", "0", "3", "12"]))
            elif name in ("attempt", "sample_idx"):
                row.append(str(rng.randint(0, 30)) if rng.random() > 0.1 else "")
            else:
                row.append(rng.choice(LABELS if clean else LABELS + ODD))
        if rng.random() < 0.05:
            row = [" "] * len(headers)
        lines.append(sep.join(row))
    text = end.join(lines) + end * (rng.random() < 0.7)
    return text, "tsv" if sep == "\t" and rng.random() < 0.5 else "csv"


def json_text(rng: random.Random) -> tuple[str, str]:
    keys = rng.choice(
        [
            ["task_id", "passed"],
            ["problem_id", "success"],
            ["model", "problem_id", "attempt", "correct"],
            ["task_id", "completion_id", "passed", "model"],
        ]
    )
    labels = ["p1", "p2", " p1", 7, 7.0, "7", 1, True, None, "", 2.5, "é", [1], {"a": 1}]
    records = []
    for _ in range(rng.choice([rng.randint(1, 12), rng.randint(120, 300)])):
        record = {}
        for key in keys:
            if key in ("passed", "success", "correct"):
                good = rng.random() > 0.02
                record[key] = rng.choice([True, False, 1, 0] if good else ["yes", None, 2])
            elif key in ("attempt", "completion_id"):
                good = rng.random() > 0.1
                record[key] = rng.randint(0, 20) if good else rng.choice(["", None, "3", 3.0])
            else:
                record[key] = rng.choice(labels[:8] if rng.random() > 0.03 else labels)
        if rng.random() < 0.03:
            record.pop(rng.choice(keys))
        if rng.random() < 0.005:
            record["late"] = rng.choice(["x", 1, [1, 2], {"b": None}, "\u2028"])
        records.append(record)
    if rng.random() < 0.5:
        return json.dumps(records), "json"
    lines = [json.dumps(record, ensure_ascii=rng.random() < 0.9) for record in records]
    for _ in range(rng.choice([0, 0, 0, 1])):
        odd = rng.choice(["", "  ", "[1]", "3", "nul", '"s"'])
        lines.insert(rng.randrange(len(lines) + 1), odd)
    return "\n".join(lines) + "\n", "jsonl"


def frame_column(rng: random.Random, kind: str, size: int) -> pd.Series:
    pick = lambda values: [rng.choice(values) for _ in range(size)]  # noqa: E731
    return {
        "str": lambda: pd.Series(pick(["p1", "p2", " p1", "7", "7.0", "é"]), dtype="str"),
        "str-na": lambda: pd.Series(pick(["p1", None, "p2"]), dtype="str"),
        "object": lambda: pd.Series(pick(["p1", 7, 7.0, "x"]), dtype=object),
        "int": lambda: pd.Series(pick([0, 1, 7, 300, -1]), dtype="int64"),
        "Int64": lambda: pd.Series(pick([0, 1, 7, None]), dtype="Int64"),
        "float": lambda: pd.Series(pick([0.0, 1.0, 7.0, 2.5, np.nan, -0.0]), dtype="float64"),
        "bool": lambda: pd.Series(pick([True, False]), dtype=bool),
        "boolean": lambda: pd.Series(pick([True, False, None]), dtype="boolean"),
        "category": lambda: pd.Series(pick(["a", "b", "7"]), dtype="category"),
        "list": lambda: pd.Series([[rng.randint(0, 2)] for _ in range(size)], dtype=object),
    }[kind]()


def frame(rng: random.Random) -> pd.DataFrame:
    layout = rng.choice(
        [
            {
                "problem_id": ["str", "int", "float", "category", "object", "str-na", "Int64"],
                "success": ["bool", "int", "float", "boolean", "str", "Int64"],
            },
            {
                "problem_id": ["str", "int", "category"],
                "n": ["int", "float", "Int64", "bool", "str"],
                "c": ["int", "float", "Int64"],
            },
            {
                "model": ["str", "int", "category", "float"],
                "problem_id": ["str", "int"],
                "attempt": ["int", "float", "str", "Int64", "list"],
                "success": ["bool", "int"],
            },
        ]
    )
    size = rng.choice([1, 5, 50, 300])
    table = pd.DataFrame(
        {name: frame_column(rng, rng.choice(kinds), size) for name, kinds in layout.items()}
    )
    if "c" in table and rng.random() < 0.7:
        table["n"] = 10
    return table


def write_files(folder: Path, kind: str, count: int, rng: random.Random) -> list[str]:
    paths = []
    for i in range(count):
        if kind == "frame":
            table = frame(rng)
            path = folder / f"{kind}{i}.parquet"
            try:
                table.to_parquet(path, index=False)  # mixed object columns cannot be
                paths.append(str(path))
            except Exception:  # noqa: BLE001
                pass
            table.to_pickle(path.with_suffix(".pkl"))  # loaded as a DataFrame
            paths.append(str(path.with_suffix(".pkl")))
            continue
        text, suffix = json_text(rng) if kind == "json" else csv_text(rng, kind == "csv-clean")
        path = folder / f"{kind}{i}.{suffix}"
        path.write_text(text, encoding="utf-8", newline="")
        paths.append(str(path))
    return paths


def results(tree: Path, paths: list[str]) -> list:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    run = [sys.executable, "-c", CHILD, *paths]
    # In the tree: python -c puts the working directory first on the path.
    done = subprocess.run(run, env=env, cwd=tree, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


parser = argparse.ArgumentParser()
parser.add_argument("--against", type=Path, required=True, help="the checkout to compare with")
parser.add_argument("--files", type=int, default=600, help="files of each kind")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--small", action="store_true", help="60 files of each kind")
args = parser.parse_args()
if args.small:
    args.files = 60
this = Path(__file__).resolve().parents[1]
rng = random.Random(args.seed)
folder = Path(tempfile.mkdtemp())
differ = 0
for kind in ("csv", "csv-clean", "json", "frame"):
    paths = write_files(folder, kind, args.files, rng)
    mine, theirs = results(this, paths), results(args.against.resolve(), paths)
    outcomes = [result[0] for result in mine]
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("ok", "refused", "crashed"))
    different = [path for path, a, b in zip(paths, mine, theirs, strict=True) if a != b]
    differ += len(different)
    print(f"{kind}: {len(paths)} inputs ({counts}); {len(different)} differ", flush=True)
    for path in different[:5]:
        a, b = mine[paths.index(path)], theirs[paths.index(path)]
        print(f"  {path}\n    this:    {a}\n    against: {b}")
sys.exit(1 if differ else 0)
