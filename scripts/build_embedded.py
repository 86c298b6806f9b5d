"""Build the compact datasets embedded in `bayes_passk/embedded/` from the source parquet tables.

Usage (from the repository root; needs pandas and pyarrow):

    python scripts/build_embedded.py [SOURCE_DIR]

SOURCE_DIR defaults to ../shared/data relative to the repository root. The outputs are plain
`np.savez_compressed` archives (loading needs numpy only). Zip timestamps are normalised so a
rerun on the same inputs writes byte-identical files. The script checks the published facts
(zero-success problems and total successes per Pythia model) and stops if they do not hold.
"""

from __future__ import annotations

import argparse
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "data"
OUTPUT_DIR = REPO_ROOT / "bayes_passk" / "embedded"

PYTHIA_MODELS = [
    "Pythia 70M",
    "Pythia 160M",
    "Pythia 410M",
    "Pythia 1B",
    "Pythia 2.8B",
    "Pythia 6.9B",
    "Pythia 12B",
]
PYTHIA_ATTEMPTS = 10_000
EXPECTED_ZERO_SUCCESS = [94, 55, 44, 33, 24, 21, 16]
EXPECTED_TOTAL_SUCCESSES = [828, 3422, 7960, 10667, 25999, 23757, 29685]

BON_MODELS = [
    "Claude 3.5 Opus",
    "Claude 3.5 Sonnet",
    "GPT4o",
    "GPT4o Mini",
    "Gemini 1.5 Flash",
    "Gemini 1.5 Pro",
    "Llama 3 8B IT",
]
BON_BATCH = 60
BON_CAP = 10_020

MAX_TOTAL_BYTES = 3_000_000


def write_npz(path: Path, **arrays: np.ndarray) -> int:
    """Write `arrays` with `np.savez_compressed`, fixing zip timestamps; return the file size."""
    for name, array in arrays.items():
        if array.dtype == object:
            raise TypeError(f"{name}: object arrays would need pickle to load")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    buffer.seek(0)
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(entry.filename))
    return path.stat().st_size


def pythia_math_arrays(source_dir: Path) -> dict[str, np.ndarray]:
    """Per-attempt Pythia MATH outcomes, bit-packed along attempts 1..10000 (models by size)."""
    table = pd.read_parquet(source_dir / "pythia_math_attempts.parquet")
    if sorted(table["Model"].unique()) != sorted(PYTHIA_MODELS):
        raise ValueError(f"unexpected Pythia models: {sorted(table['Model'].unique())}")
    if not table["Score"].isin([0, 1]).all():
        raise ValueError("Pythia scores must be 0 or 1")
    problem_ids = np.sort(table["Problem Idx"].unique())
    outcomes = np.zeros((len(PYTHIA_MODELS), len(problem_ids), PYTHIA_ATTEMPTS), dtype=bool)
    filled = np.zeros_like(outcomes)
    model_row = table["Model"].map({m: i for i, m in enumerate(PYTHIA_MODELS)}).to_numpy()
    problem_row = np.searchsorted(problem_ids, table["Problem Idx"].to_numpy())
    attempt_column = table["Attempt Idx"].to_numpy() - 1
    if attempt_column.min() < 0 or attempt_column.max() >= PYTHIA_ATTEMPTS:
        raise ValueError("Pythia attempt indices must lie in 1..10000")
    outcomes[model_row, problem_row, attempt_column] = table["Score"].to_numpy() == 1
    filled[model_row, problem_row, attempt_column] = True
    if not filled.all() or len(table) != filled.size:
        raise ValueError("Pythia table is not a complete model x problem x attempt grid")

    zero_success = (outcomes.sum(axis=2) == 0).sum(axis=1).tolist()
    total_successes = outcomes.sum(axis=(1, 2)).tolist()
    if zero_success != EXPECTED_ZERO_SUCCESS:
        raise ValueError(f"zero-success problems {zero_success} != {EXPECTED_ZERO_SUCCESS}")
    if total_successes != EXPECTED_TOTAL_SUCCESSES:
        raise ValueError(f"total successes {total_successes} != {EXPECTED_TOTAL_SUCCESSES}")
    print(f"pythia-math: zero-success problems per model {zero_success}")
    print(f"pythia-math: total successes per model {total_successes}")
    return {
        "models": np.array(PYTHIA_MODELS),
        "problem_idx": problem_ids.astype(np.int64),
        "num_attempts": np.array(PYTHIA_ATTEMPTS, dtype=np.int64),
        "outcomes_packed": np.packbits(outcomes, axis=2),
    }


def bon_jailbreak_arrays(source_dir: Path) -> dict[str, np.ndarray]:
    """Best-of-N jailbreaking per-prompt counts (n, c): models x prompts."""
    table = pd.read_parquet(source_dir / "bon_jailbreaking_counts.parquet")
    table = table[table["Scaling Parameter"] == 1]
    if sorted(table["Model"].unique()) != sorted(BON_MODELS):
        raise ValueError(f"unexpected BoN models: {sorted(table['Model'].unique())}")
    if table.duplicated(["Model", "Problem Idx"]).any():
        raise ValueError("duplicate (model, prompt) rows in the BoN counts")
    prompt_ids = np.sort(table["Problem Idx"].unique())
    wide_n = table.pivot(index="Model", columns="Problem Idx", values="Num. Samples")
    wide_c = table.pivot(index="Model", columns="Problem Idx", values="Num. Samples Correct")
    wide_n = wide_n.loc[BON_MODELS, prompt_ids]
    wide_c = wide_c.loc[BON_MODELS, prompt_ids]
    if wide_n.isna().any().any():
        raise ValueError("BoN counts miss some (model, prompt) pairs")
    n = wide_n.to_numpy(dtype=np.int64)
    c = wide_c.to_numpy(dtype=np.int64)
    if (n < 1).any() or (c < 0).any() or (c > n).any() or (n > BON_CAP).any():
        raise ValueError("BoN counts out of range")
    if (n % BON_BATCH).any():
        raise ValueError(f"BoN attempt counts are not multiples of the batch size {BON_BATCH}")
    if (n[c == 0] != BON_CAP).any():
        raise ValueError("a BoN prompt without success stopped before the cap")
    print(f"bon-jailbreak: {n.shape[0]} models x {n.shape[1]} prompts")
    return {
        "models": np.array(BON_MODELS),
        "problem_idx": prompt_ids.astype(np.int64),
        "n": n,
        "c": c,
    }


def pythia_checkpoints_math_arrays(source_dir: Path) -> dict[str, np.ndarray]:
    """Ragged-n counts per Pythia checkpoint and MATH prompt, with checkpoint metadata."""
    table = pd.read_parquet(source_dir / "pythia_checkpoints_math_counts.parquet")
    table = table[table["k"] == 1]
    if table.duplicated(["Model Nickname", "prompt_idx"]).any():
        raise ValueError("duplicate (checkpoint, prompt) rows in the checkpoint table")
    correct = table["Num. Samples Correct"].to_numpy()
    if not np.all(np.isfinite(correct)) or not np.all(correct == np.round(correct)):
        raise ValueError("checkpoint success counts are not integers")

    metadata = pd.read_csv(source_dir / "pythia_checkpoints_models.csv")
    metadata = metadata.drop_duplicates("Model Nickname").set_index("Model Nickname")
    checkpoints = table["Model Nickname"].unique()
    missing = sorted(set(checkpoints) - set(metadata.index))
    if missing:
        raise ValueError(f"checkpoints without metadata: {missing}")
    metadata = metadata.loc[checkpoints, ["Parameters", "Tokens"]]
    metadata = metadata.sort_values(["Parameters", "Tokens"], kind="stable")
    ordered_checkpoints = metadata.index.to_numpy()

    checkpoint_rank = {name: i for i, name in enumerate(ordered_checkpoints)}
    table = table.assign(rank=table["Model Nickname"].map(checkpoint_rank))
    table = table.sort_values(["rank", "prompt_idx"], kind="stable")
    n = table["Num. Samples"].to_numpy(dtype=np.int64)
    c = table["Num. Samples Correct"].to_numpy().astype(np.int64)
    if (n < 1).any() or (c < 0).any() or (c > n).any():
        raise ValueError("checkpoint counts out of range")
    print(
        f"pythia-checkpoints-math: {len(ordered_checkpoints)} checkpoints, {len(n)} rows, "
        f"n from {n.min()} to {n.max()}"
    )
    return {
        "checkpoints": ordered_checkpoints.astype(str),
        "parameters": metadata["Parameters"].to_numpy(dtype=np.int64),
        "tokens": metadata["Tokens"].to_numpy(dtype=np.int64),
        "checkpoint_index": table["rank"].to_numpy(dtype=np.int16),
        "problem_idx": table["prompt_idx"].to_numpy(dtype=np.int64),
        "n": n,
        "c": c,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", nargs="?", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args(argv)
    source_dir = args.source_dir.resolve()

    outputs = {
        "pythia_math.npz": pythia_math_arrays(source_dir),
        "bon_jailbreak.npz": bon_jailbreak_arrays(source_dir),
        "pythia_checkpoints_math.npz": pythia_checkpoints_math_arrays(source_dir),
    }
    sizes = {}
    for file_name, arrays in outputs.items():
        sizes[file_name] = write_npz(OUTPUT_DIR / file_name, **arrays)
        print(f"wrote {file_name}: {sizes[file_name]:,} bytes")
    total = sum(sizes.values())
    print(f"total embedded size: {total:,} bytes")
    if total > MAX_TOTAL_BYTES:
        raise ValueError(f"embedded data exceed {MAX_TOTAL_BYTES:,} bytes")


if __name__ == "__main__":
    main()
