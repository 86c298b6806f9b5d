import importlib
import json
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import bayes_passk as bp
from bayes_passk import allocation, backtest, baselines, cli
from bayes_passk.cli import main
from bayes_passk.data import PassData
from bayes_passk.estimators import pass_at_k

GOOD = "problem_id,n,c\nA,10,3\nB,250,0\nC,4,4\n"

# (file name, content, fragments the message must contain): one case per kind of bad input.
BAD_INPUTS = {
    "c above n": (
        "bad.csv",
        "problem_id,n,c\nA,10,3\nB,5,7\n",
        ["bad.csv", "row 2 (line 3)", "column 'c'", "7 successes exceed the 5 attempts"],
    ),
    "negative n": (
        "bad.csv",
        "problem_id,n,c\nA,-10,0\n",
        ["row 1 (line 2)", "column 'n'", "negative count -10"],
    ),
    "negative c": (
        "bad.csv",
        "problem_id,n,c\nA,10,2\nB,10,-1\n",
        ["row 2 (line 3)", "column 'c'", "negative count -1"],
    ),
    "non-integer count": (
        "bad.csv",
        "problem_id,n,c\nA,10,2.5\n",
        ["row 1 (line 2)", "column 'c'", "whole number", "'2.5'"],
    ),
    "empty cell": (
        "bad.csv",
        "problem_id,n,c\nA,10,2\nB,,1\n",
        ["row 2 (line 3)", "column 'n'", "empty or missing value"],
    ),
    "NaN cell": ("bad.csv", "problem_id,n,c\nA,NaN,2\n", ["row 1 (line 2)", "column 'n'", "'NaN'"]),
    "empty problem id": (
        "bad.csv",
        "problem_id,n,c\n ,10,2\n",
        ["row 1 (line 2)", "column 'problem_id'", "empty or missing value"],
    ),
    "JSON null": (
        "bad.jsonl",
        '{"problem_id": "A", "n": 3, "c": 1}\n{"problem_id": "B", "n": null, "c": 1}\n',
        ["bad.jsonl", "row 2 (line 2)", "column 'n'", "None"],
    ),
    "missing column": (
        "bad.csv",
        "problem_id,num_samples\nA,10\n",
        [
            "missing required column 'c'",
            "num_correct",
            "columns found: 'problem_id', 'num_samples'",
        ],
    ),
    "misspelled success column": (
        "bad.csv",
        "problem_id,sucess\nA,1\nA,0\n",
        ["missing required column 'n'", "for one row per attempt, a 'success' column"],
    ),
    "duplicate problem": (
        "bad.csv",
        "model,task_id,n,c\nm,A,10,2\nm,B,10,2\nm,A,5,1\n",
        [
            "row 3 (line 4)",
            "column 'task_id'",
            "problem 'A' in group 'm' appears twice",
            "row 1 (line 2) and row 3 (line 4)",
        ],
    ),
    "empty file": ("bad.csv", "", ["bad.csv is empty"]),
    "header only": (
        "bad.csv",
        "problem_id,n,c\n",
        ["bad.csv has no data rows", "'problem_id', 'n', 'c'"],
    ),
    "n is zero": (
        "bad.csv",
        "problem_id,n,c\nA,10,2\nB,0,0\n",
        ["row 2 (line 3)", "column 'n'", "n is 0"],
    ),
    "not UTF-8": (
        "bad.csv",
        b"problem_id,n,c\nA,\xff\xfe,1\n",
        ["cannot read", "bad.csv", "not UTF-8"],
    ),
    "unsupported type": (
        "bad.xlsx",
        "whatever",
        ["unsupported file type '.xlsx'", ".csv, .tsv, .parquet, .jsonl or .json"],
    ),
    "corrupt Parquet": (
        "bad.parquet",
        b"not parquet at all",
        ["cannot read", "bad.parquet as Parquet"],
    ),
    "invalid JSON line": (
        "bad.jsonl",
        '{"problem_id": "A", "n": 3, "c": 1}\n{"problem_id": \n',
        ["bad.jsonl, line 2: invalid JSON"],
    ),
    "ragged CSV row": (
        "bad.csv",
        "problem_id,n,c\nA,10,2,9\n",
        ["row 1 (line 2)", "expected 3 fields", "found 4"],
    ),
    "quote closed a line late": (
        "bad.csv",
        'problem_id,n,c\nA,10,2\n"B,10,2\nC,10",3\n',
        ["row 2 (line 4)", "found 2", "a quoted field spans lines 3-4", "quote left open"],
    ),
    "unclosed quote": (
        "bad.csv",
        'problem_id,n,c\nA,10,2\n"B,10,2\nC,10,3\n',
        ["line 3: a quoted field", "never closed", "quote left open"],
    ),
    "bad success value": (
        "bad.csv",
        "problem_id,success\nA,true\nA,yes\n",
        ["row 2 (line 3)", "column 'success'", "'yes'"],
    ),
    "attempt given twice": (
        "bad.csv",
        "problem_id,attempt,success\nA,0,true\nA,1,false\nA,1,false\n",
        ["row 3 (line 4)", "column 'attempt'", "attempt '1' of problem 'A' is given again"],
    ),
}


@pytest.fixture(params=sorted(BAD_INPUTS))
def bad_input(request, write):
    name, content, fragments = BAD_INPUTS[request.param]
    return write(name, content), fragments


def assert_clean_error(rc, stdout, stderr, fragments):
    assert rc == 2
    assert stderr.startswith("bayes-passk: error: ")
    assert stderr.count("\n") == 1
    assert "Traceback" not in stderr
    assert stdout == ""
    for fragment in fragments:
        assert fragment in stderr


def test_every_bad_input_is_one_clear_error_and_writes_nothing(bad_input, tmp_path, capsys):
    path, fragments = bad_input
    out = tmp_path / "out.csv"
    rc = main(["estimate", path, "--k", "1", "--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, fragments)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_largest_k_on_the_command_line_is_2_to_the_53(write, capsys):
    assert main(["estimate", write("counts.csv", GOOD), "--k", str(2**53), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["k"] == [2**53]


def test_a_large_file_says_it_is_being_read(write, capsys, monkeypatch):
    # Millions of attempt rows take seconds to read: a file of LARGE_FILE_BYTES or more says so
    # on stderr before any other line; smaller files read silently.
    path = write("counts.csv", GOOD)
    assert main(["estimate", path, "--k", "1", "--json"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr("bayes_passk.cli.LARGE_FILE_BYTES", len(GOOD))
    assert main(["estimate", path, "--k", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == f"bayes-passk: reading {path} (0 MB)\n"
    assert json.loads(captured.out)["k"] == [1]


def test_nonexistent_file(tmp_path, capsys):
    out = tmp_path / "out.csv"
    rc = main(["estimate", str(tmp_path / "nope.csv"), "--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["file not found", "nope.csv"])
    assert not out.exists()


def test_unknown_group_lists_known_groups(write, tmp_path, capsys):
    path = write("groups.csv", "model,problem_id,n,c\nm1,A,3,1\nm2,A,4,2\n")
    out = tmp_path / "out.csv"
    rc = main(["estimate", path, "--group", "m3", "--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(
        rc, captured.out, captured.err, ["unknown group 'm3'", "groups.csv", "known groups: m1, m2"]
    )
    assert not out.exists()


def test_group_without_group_column(write, capsys):
    rc = main(["estimate", write("one.csv", GOOD), "--group", "m1"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["unknown group 'm1'", "no group column"])


def test_several_groups_need_a_choice(write, capsys):
    path = write("groups.csv", "model,problem_id,n,c\nm1,A,3,1\nm2,A,4,2\n")
    rc = main(["estimate", path])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["2 groups", "--group", "m1, m2"])
    assert main(["estimate", path, "--group", "m2", "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "k": [1],
        "pass_at_k": [0.5],
        "problems_with_n_at_least_k": [1],
    }


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["estimate", "x.csv", "--k", "0"], "argument --k: expected a positive integer, got '0'"),
        (
            ["estimate", "x.csv", "--k", "ten"],
            "argument --k: expected a positive integer, got 'ten'",
        ),
        (
            ["estimate", "x.csv", "--k", "1e30"],
            "argument --k: expected an integer up to 2^53 = 9007199254740992, got '1e30'",
        ),
        (
            ["estimate", "x.csv", "--k", str(2**53 + 1)],
            f"argument --k: expected an integer up to 2^53 = 9007199254740992, got '{2**53 + 1}'",
        ),
        (["estimate", "x.csv", "--k", "1.5"], "argument --k: expected a positive integer"),
        (["forecast", "--seed", "-1"], "argument --seed: expected an integer from 0 to 2^63 - 1"),
        (
            ["backtest", "--seed", str(2**63)],
            f"argument --seed: expected an integer from 0 to 2^63 - 1, got '{2**63}'",
        ),
        (["allocate", "x.csv", "--budget", "inf"], "argument --budget: expected a positive"),
        (["estimate", "x.csv", "--k", "10", "1", "10"], "--k names 10 twice"),
        (["estimate", ""], "PATH_OR_DATASET is empty"),
        (["estimate", "pythia-math", "--group", "Pythia 1B", "--out", ""], "--out is empty"),
        (["backtest", "--design", "synthetic", "--out", " "], "--out is empty"),
        (["forecast", "--samples", "3"], "argument --samples: expected at least 4 draws"),
        (["compare", "x.csv", "--priors", "beta", "all", "--k", "5", "5"], "--k names 5 twice"),
        (["compare", "x.csv", "--groups", "a", "b", "a"], "--groups names a twice"),
        (["estimate", "x.csv", "--format", "excel"], "argument --format: invalid choice: 'excel'"),
        (["estimate"], "the following arguments are required: PATH_OR_DATASET"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["forecast", "--target-accept", "1"], "argument --target-accept:"),
        (["backtest", "--chunk", "0"], "argument --chunk:"),
        (
            ["forecast", "--chunk", "2"],
            "unrecognized arguments: --chunk (see 'bayes-passk forecast --help')",
        ),
        (
            ["simulate-allocation", "--group", "Pythia 1B", "--distributed", "h:1", "3", "3"],
            "--distributed: ID must be from 0 to PROCESSES - 1, got ID 3 of 3",
        ),
        (["forecast", "--distributed"], "unrecognized arguments: --distributed"),
        (
            ["--quiet", "estimate", "x.csv"],
            "unrecognized arguments: --quiet (see 'bayes-passk --help')",
        ),
        (["forecast", "--ci", "95"], "got '95' (for 95%, write 0.95)"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_usage_errors_use_the_same_format(argv, fragment, capsys):
    rc = main(argv)
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, [fragment])


@pytest.mark.parametrize("given", [None, 0.97])
def test_target_accept_reaches_the_sampler(given, write, capsys, monkeypatch):
    import bayes_passk as bp

    seen = {}

    class Stop(Exception):
        pass

    def fit(*args, **kwargs):
        seen.update(kwargs)
        raise Stop  # stop before sampling: only the arguments are checked

    monkeypatch.setattr(bp, "fit", fit)
    path = write("counts.csv", "problem_id,n,c\nA,50,0\nB,50,3\n")
    option = [] if given is None else ["--target-accept", str(given)]
    sampler = ["--chains", "3", "--warmup", "7", "--samples", "11", "--seed", "5"]
    with pytest.raises(Stop):
        main(["forecast", path, *option, *sampler])
    assert seen.get("target_accept") == given  # unset: bp.fit's own default applies
    settings = {name: seen[name] for name in ("chains", "warmup", "samples", "seed")}
    assert settings == {"chains": 3, "warmup": 7, "samples": 11, "seed": 5}


@pytest.mark.parametrize(
    ("argv", "module", "function"),
    [
        (["backtest", "--design", "synthetic", "--replicates", "2"], "backtest", "run"),
        (
            ["simulate-allocation", "--group", "Pythia 12B", "--replicates", "2"],
            "allocation",
            "simulate",
        ),
    ],
)
@pytest.mark.parametrize("given", [None, 3])
def test_chunk_reaches_the_batched_config(argv, module, function, given, monkeypatch):
    from bayes_passk.batched import BatchConfig

    seen = {}

    class Stop(Exception):
        pass

    def run(*args, **kwargs):
        seen["config"] = next(x for x in [*args, *kwargs.values()] if isinstance(x, BatchConfig))
        raise Stop  # stop before sampling: only the configuration is checked

    monkeypatch.setattr(importlib.import_module(f"bayes_passk.{module}"), function, run)
    option = [] if given is None else ["--chunk", str(given)]
    with pytest.raises(Stop):
        main([*argv, *option])
    assert seen["config"].chunk == given  # unset: one dataset per CPU device, 128 per GPU


def test_help_exits_zero(capsys):
    assert main(["estimate", "--help"]) == 0
    assert "PATH_OR_DATASET" in capsys.readouterr().out


def test_estimate_table(write, capsys):
    assert main(["estimate", write("counts.csv", GOOD), "--k", "1", "4", "10", "100"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("counts.csv: 3 problems, 4 to 250 attempts each")
    assert lines[1].split() == ["k", "pass@k", "problems", "with", "n", ">=", "k"]
    expected = pass_at_k([10, 250, 4], [3, 0, 4], [1, 4]).mean(axis=1)
    assert lines[2].split() == ["1", f"{expected[0]:.6g}", "3"]
    assert lines[3].split() == ["4", f"{expected[1]:.6g}", "3"]
    assert lines[4].split() == ["10", "nan", "2"]
    assert lines[5].split() == ["100", "nan", "1"]
    assert lines[6].startswith("nan: where a problem has fewer than k attempts")
    assert len({len(line) for line in lines[1:6]}) == 1  # aligned
    # One of each, in the singular.
    assert main(["estimate", write("one.csv", "problem_id,n,c\na,1,1\n"), "--k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("one.csv: 1 problem, 1 attempt each")


def test_estimate_json_and_out(write, tmp_path, capsys):
    out = tmp_path / "estimate.csv"
    argv = [
        "estimate",
        write("counts.csv", GOOD),
        "--k",
        "2",
        "1",
        "5",
        "--json",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    expected = pass_at_k([10, 250, 4], [3, 0, 4], [2, 1]).mean(axis=1)  # in the order asked
    assert result["k"] == [2, 1, 5]
    assert result["pass_at_k"][:2] == pytest.approx(expected.tolist(), rel=1e-15)
    assert result["pass_at_k"][2] is None
    table = pd.read_csv(out)
    assert table.columns.tolist() == ["k", "pass_at_k", "problems_with_n_at_least_k"]
    assert table["problems_with_n_at_least_k"].tolist() == [3, 3, 2]
    assert table["pass_at_k"][:2].tolist() == pytest.approx(expected.tolist(), rel=1e-15)


def test_data_stopped_at_the_first_success_are_not_taken_for_fixed_attempts(capsys):
    # Best-of-N attempts stop at a problem's first success: the unbiased estimator assumes n
    # fixed in advance, so it is said on stderr (the JSON stays clean).
    argv = ["estimate", "bon-jailbreak", "--group", "GPT4o", "--k", "1", "60", "--json"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["k"] == [1, 60]
    assert "bon-jailbreak's attempts stopped at each problem's first success" in captured.err
    assert main(["estimate", "pythia-math", "--group", "Pythia 1B", "--k", "1"]) == 0
    assert capsys.readouterr().err == ""


def test_estimate_reads_attempts_and_humaneval(write, capsys):
    attempts = write("attempts.csv", "problem_id,success\nA,1\nA,0\nB,0\nB,0\n")
    assert main(["estimate", attempts, "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["pass_at_k"] == [0.25]
    samples = write(
        "samples.jsonl", '{"task_id": "t", "passed": true}\n{"task_id": "t", "passed": false}\n'
    )
    assert main(["estimate", samples, "--k", "2", "--json", "--format", "humaneval"]) == 0
    assert json.loads(capsys.readouterr().out)["pass_at_k"] == [1.0]


def test_out_into_a_missing_folder_is_an_error(write, tmp_path, capsys):
    out = tmp_path / "missing" / "out.csv"
    rc = main(["estimate", write("counts.csv", GOOD), "--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["--out", "missing", "does not exist"])
    assert not out.parent.exists()


@pytest.mark.parametrize("command", [["estimate"], ["allocate", "--budget", "10"]])
def test_a_rerun_on_an_embedded_dataset_replaces_its_output_file(command, tmp_path, capsys):
    # The input is no file here: nothing to compare the output with.
    out = tmp_path / "table.csv"
    argv = [command[0], "pythia-math", "--group", "Pythia 1B", *command[1:], "--out", str(out)]
    assert main(argv) == main(argv) == 0
    assert "(replaced the existing table.csv)" in capsys.readouterr().err
    rc = main([command[0], str(tmp_path / "missing.csv"), *command[1:], "--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["missing.csv"])


@pytest.mark.parametrize("command", [["estimate"], ["allocate", "--budget", "10"]])
def test_a_table_named_as_another_format_is_refused(command, write, tmp_path, capsys):
    data = write("counts.csv", GOOD)
    for name in ["table.json", "table.parquet", "table.PNG"]:
        rc = main([command[0], data, *command[1:], "--out", str(tmp_path / name)])
        captured = capsys.readouterr()
        assert_clean_error(rc, captured.out, captured.err, [f"--out {tmp_path / name}", ".csv"])
    for name in ["table/", "table.csv/"]:  # a folder, by its slash
        rc = main([command[0], data, *command[1:], "--out", f"{tmp_path}/{name}"])
        captured = capsys.readouterr()
        assert_clean_error(rc, captured.out, captured.err, [f"{name}: names a folder"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv"]
    for name in ["table.CSV", "table"]:  # CSV, or no format named
        assert main([command[0], data, *command[1:], "--out", str(tmp_path / name)]) == 0
        assert len(pd.read_csv(tmp_path / name)) > 0


def test_a_folder_in_the_way_of_an_output_leaves_the_others_untouched(write, tmp_path, capsys):
    out = tmp_path / "results"
    (out / "forecast.png").mkdir(parents=True)
    (out / "forecast.csv").write_text("an earlier run")
    argv = ["forecast", write("counts.csv", GOOD), "--method", "regression", "--out", str(out)]
    rc = main([*argv, "--k", "5"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["forecast.png", "a folder"])
    assert (out / "forecast.csv").read_text() == "an earlier run"
    assert sorted(p.name for p in out.iterdir()) == ["forecast.csv", "forecast.png"]


def test_a_point_forecast_removes_an_earlier_posterior(write, tmp_path, capsys):
    # A folder never mixes two runs: a Bayesian run's posterior.nc goes with its forecast.
    out = tmp_path / "results"
    out.mkdir()
    (out / "posterior.nc").write_text("an earlier Bayesian run")
    argv = ["forecast", write("counts.csv", GOOD), "--method", "regression", "--out", str(out)]
    assert main([*argv, "--k", "5"]) == 0
    files = ["forecast.csv", "forecast.json", "forecast.png"]
    assert sorted(p.name for p in out.iterdir()) == files
    said = capsys.readouterr().err
    written = f"wrote {', '.join(files)} in {out}"
    assert f"{written} (removed posterior.nc of an earlier run)" in said
    # A second run into the same folder says which files it replaced.
    assert main([*argv, "--k", "5"]) == 0
    said = capsys.readouterr().err
    assert f"(replaced the existing {', '.join(files)})" in said
    # Only the files this run does not write are listed as removed (here: none).
    assert "removed" not in said
    # An earlier output that is now a folder stops the run before anything is written (the
    # outputs were renamed into place, then its removal failed: exit 2 with every file new).
    for name in files:
        (out / name).unlink()
    (out / "posterior-1-old.nc").mkdir()
    assert main([*argv, "--k", "5"]) == 2
    assert "cannot remove the earlier output" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["posterior-1-old.nc"]
    # Stale posteriors of any place, two digits too, are removed.
    (out / "posterior-1-old.nc").rmdir()
    for name in ("posterior-01-a.nc", "posterior-10-b.nc", "posterior-x.nc"):
        (out / name).write_text("an earlier run")
    assert main([*argv, "--k", "5"]) == 0
    assert (
        "removed posterior-01-a.nc, posterior-10-b.nc of an earlier run" in capsys.readouterr().err
    )
    assert sorted(p.name for p in out.iterdir()) == [*files, "posterior-x.nc"]  # not an output
    # A folder where this run's posterior.nc would be removed is refused by the outputs' check.
    (out / "posterior.nc").mkdir()
    assert main([*argv, "--k", "5"]) == 2
    assert "posterior.nc in it is a folder" in capsys.readouterr().err
    # A forecast of an embedded dataset (no input file to compare with) reruns into its folder.
    again = ["--method", "regression", "--k", "5", "--out", str(tmp_path / "again")]
    embedded = ["forecast", "pythia-math", "--group", "Pythia 1B", *again]
    assert main(embedded) == main(embedded) == 0


def test_a_file_written_again_is_replaced_not_removed(tmp_path, capsys):
    # As a Bayesian rerun's posterior.nc: among the stale names, and written again.
    for name in ("posterior.nc", "posterior-1-a.nc"):
        (tmp_path / name).write_text("an earlier run")
    stale = [tmp_path / "posterior.nc", tmp_path / "posterior-1-a.nc"]
    cli._write_all({tmp_path / "posterior.nc": lambda path: path.write_text("new")}, stale)
    said = capsys.readouterr().err
    assert (
        "(replaced the existing posterior.nc; removed posterior-1-a.nc of an earlier run)" in said
    )
    assert [p.name for p in tmp_path.iterdir()] == ["posterior.nc"]
    assert (tmp_path / "posterior.nc").read_text() == "new"


def test_a_forecast_without_a_source_takes_group_and_attempts_from_its_options(capsys):
    # Without a source: pythia-math's Pythia 12B at 100 attempts, unless an option says other.
    point = ["--method", "beta-binomial", "--k", "10", "1000", "--json"]
    for options, group, attempts in (
        ([], "Pythia 12B", "100"),
        (["--attempts", "50"], "Pythia 12B", "50"),
        (["--group", "Pythia 1B"], "Pythia 1B", "100"),
    ):
        assert main(["forecast", *options, *point]) == 0
        implicit = json.loads(capsys.readouterr().out)
        named = ["forecast", "pythia-math", "--group", group, "--attempts", attempts, *point]
        assert main(named) == 0 and json.loads(capsys.readouterr().out) == implicit, options
    # Every group, each subsampled to 100 attempts as a run naming it is.
    assert main(["forecast", "--all-groups", *point]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["groups"]) == 7
    for entry in report["groups"]:
        alone = ["forecast", "pythia-math", "--group", entry["group"], "--attempts", "100"]
        assert main([*alone, *point]) == 0 and json.loads(capsys.readouterr().out) == {
            key: value for key, value in entry.items() if key != "group"
        }


def test_forecast_of_every_group_reports_each_in_order(write, tmp_path, capsys):
    rows = ["model,problem_id,n,c"]
    rows += [f"{m},p{i},20,{(3 * i + j) % 21}" for j, m in enumerate("zxy") for i in range(8)]
    path = write("three.csv", "\n".join(rows) + "\n")
    argv = ["forecast", path, "--all-groups", "--method", "beta-binomial", "--k", "10", "1000"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    headers = [line for line in printed.splitlines() if line.startswith(path)]
    assert [line.split("(")[1].split(")")[0] for line in headers] == ["z", "x", "y"]
    assert main([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [entry["group"] for entry in report["groups"]] == ["z", "x", "y"]
    for entry in report["groups"]:
        alone = main(["forecast", path, "--group", entry["group"], *argv[3:], "--json"])
        assert alone == 0 and json.loads(capsys.readouterr().out) == {
            key: value for key, value in entry.items() if key != "group"
        }
    # An earlier run's posteriors do not stay beside a point method's forecasts.
    out = tmp_path / "results"
    out.mkdir()
    (out / "posterior-1-z.nc").write_text("an earlier run")
    (out / "posterior-2024.nc").write_text("the user's own file")
    assert main([*argv, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "forecast.csv",
        "forecast.json",
        "forecast.png",
        "posterior-2024.nc",
    ]
    assert "removed posterior-1-z.nc" in capsys.readouterr().err
    table = pd.read_csv(out / "forecast.csv")  # the group first, then each forecast's columns
    assert table.columns[0] == "group" and table["group"].tolist() == ["z", "z", "x", "x", "y", "y"]
    assert table["mean"].tolist() == [m for entry in report["groups"] for m in entry["mean"]]
    rc = main([*argv, "--group", "x"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["--all-groups", "leave out --group"])
    # A warning names the group and the method it is about.
    halves = write(
        "halves.csv", "\n".join([*rows, *(f"w,q{i},20,{20 * (i % 2)}" for i in range(8))])
    )
    assert main(["forecast", halves, *argv[2:]]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(said) == 1 and said[0].startswith(
        "bayes-passk: warning: w: beta-binomial: the fit stopped at the edge of its search range"
    )
    # A group the method cannot fit is named, and nothing is written.
    unsolved = write("unsolved.csv", "\n".join([*rows, *(f"w,q{i},20,0" for i in range(8))]))
    argv = ["forecast", unsolved, "--all-groups", "--method", "beta-binomial", "--out", str(out)]
    rc = main([*argv, "--k", "10"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["group w: beta-binomial: no problem has"])
    assert json.loads((out / "forecast.json").read_text())["groups"][0]["k"] == [10, 1000]


# Every subcommand that writes, with its --out below the folder or file {file}.
OUT_COMMANDS = [
    ["estimate", "{data}", "--out", "{file}/out.csv"],
    ["allocate", "{data}", "--budget", "10", "--out", "{file}/plan.csv"],
    ["allocate", "{data}", "--budget", "10", "--policy", "bayes", "--out", "{file}/plan.csv"],
    ["forecast", "{data}", "--method", "beta-binomial", "--out", "{file}/results"],
    ["compare", "{data}", "--priors", "all", "--out", "{file}/deeper/results"],
    ["backtest", "--dataset", "{data}", "--k", "2", "--out", "{file}/bt"],
    ["simulate-allocation", "--dataset", "{data}", "--out", "{file}/sim"],
]


@pytest.mark.parametrize("argv", OUT_COMMANDS)
def test_out_where_nothing_can_be_written_is_refused_before_any_work(
    argv, write, tmp_path, capsys, monkeypatch
):
    _refuse_work(monkeypatch)
    data, folder = write("counts.csv", GOOD), tmp_path / "locked"
    folder.mkdir()

    def refuse(*args, **kwargs):  # what a read-only folder does (root may write anywhere here)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", refuse)
    rc = main([part.format(data=data, file=folder) for part in argv])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["cannot write in", "Permission denied"])
    assert list(folder.iterdir()) == []


def test_a_failed_write_leaves_no_folder_behind(write, tmp_path, capsys, monkeypatch):
    def broken_plot(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bayes_passk.plots.save_figure", broken_plot)
    out = tmp_path / "new" / "results"
    argv = ["forecast", write("counts.csv", GOOD), "--method", "regression", "--k", "5"]
    rc = main([*argv, "--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["cannot write", "No space left"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv"]


@pytest.mark.parametrize("command", [["estimate"], ["allocate", "--budget", "10"]])
def test_a_rerun_replaces_its_output_file(command, write, tmp_path, capsys):
    out = tmp_path / "table.csv"
    argv = [command[0], write("counts.csv", GOOD), *command[1:], "--out", str(out)]
    assert main(argv) == 0
    first = out.read_text()
    assert f"wrote table.csv in {tmp_path}\n" in capsys.readouterr().err
    assert main(argv) == 0
    assert out.read_text() == first
    assert "(replaced the existing table.csv)" in capsys.readouterr().err


@pytest.mark.parametrize("argv", OUT_COMMANDS)
def test_out_below_a_file_is_refused_before_any_work(argv, write, tmp_path, capsys, monkeypatch):
    _refuse_work(monkeypatch)
    data, file = write("counts.csv", GOOD), tmp_path / "a_file"
    file.write_text("keep me")
    argv = [part.format(data=data, file=file) for part in argv]
    rc = main(argv)
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["--out", "a_file is a file"])
    assert file.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "counts.csv"]


@pytest.mark.parametrize("argv", OUT_COMMANDS)
def test_a_path_that_cannot_be_checked_is_an_input_error(
    argv, write, tmp_path, capsys, monkeypatch
):
    _refuse_work(monkeypatch)
    # Python 3.11's Path.exists raises on a name longer than the system allows.
    data, long_name = write("counts.csv", GOOD), tmp_path / ("x" * 300)
    rc = main([part.format(data=data, file=long_name) for part in argv])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["cannot access", "name too long"])
    rc = main(
        [part.replace("{data}", str(long_name) + ".csv").format(file=tmp_path) for part in argv]
    )
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["cannot access", "name too long"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv"]


@pytest.mark.parametrize("command", [["estimate"], ["allocate", "--budget", "10"]])
def test_out_that_is_not_a_regular_file_or_is_the_input_is_refused(
    command, write, tmp_path, capsys
):
    data, fifo = write("counts.csv", GOOD), tmp_path / "fifo"
    os.mkfifo(fifo)
    for out, expected in [(fifo, "not a regular file"), (data, "is the input file")]:
        rc = main([command[0], data, *command[1:], "--out", str(out)])
        captured = capsys.readouterr()
        assert_clean_error(rc, captured.out, captured.err, ["--out", expected])
    assert (tmp_path / "counts.csv").read_text() == GOOD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv", "fifo"]


# A folder command, and one of the files it writes in its --out folder.
FOLDER_OUTPUTS = [
    (["forecast", "{data}", "--method", "beta-binomial"], "forecast.csv"),
    (["compare", "{data}", "--priors", "beta", "scaled-beta"], "loo.csv"),
    (["backtest", "--dataset", "{data}", "--k", "2"], "summary.csv"),
    (["simulate-allocation", "--dataset", "{data}"], "allocation.csv"),
]


def _refuse_work(monkeypatch):
    """Make every command's fitting fail: what runs before it is the outputs' check."""

    def no_work(*args, **kwargs):
        raise AssertionError("work started before the outputs were checked")

    for module, function in [
        (bp, "fit"),
        (baselines, "fit_baseline"),
        (backtest, "run"),
        (allocation, "simulate"),
    ]:
        monkeypatch.setattr(module, function, no_work)


@pytest.mark.parametrize(("argv", "name"), FOLDER_OUTPUTS)
def test_an_output_with_a_folder_or_the_input_in_its_place_is_refused_before_any_work(
    argv, name, write, tmp_path, capsys, monkeypatch
):
    _refuse_work(monkeypatch)
    out = tmp_path / "out"
    (out / name).mkdir(parents=True)
    data = write("counts.csv", GOOD)
    rc = main([part.format(data=data) for part in argv] + ["--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, [f"{name} in it is a folder"])
    (out / name).rmdir()
    data = write(f"out/{name}", GOOD)  # the input, where the command would write
    rc = main([part.format(data=data) for part in argv] + ["--out", str(out)])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, [f"{name} in it is an input file"])
    assert (out / name).read_text() == GOOD
    assert sorted(p.name for p in out.iterdir()) == [name]


# A file that one command alone writes, and that command.
OWN_FILES = [
    ("forecast.json", "forecast"),
    ("posterior-1-m1.nc", "forecast"),
    ("loo.csv", "compare"),
    ("difference.png", "compare"),
    ("backtest.csv", "backtest"),
    ("paired.png", "backtest"),
    ("allocation.csv", "simulate-allocation"),
    ("against_dynamic.csv", "simulate-allocation"),
]


@pytest.mark.parametrize(("argv", "_"), FOLDER_OUTPUTS)
def test_a_folder_holding_another_command_s_files_is_refused_before_any_work(
    argv, _, write, tmp_path, capsys, monkeypatch
):
    # A rerun replaces its own command's files and removes those it no longer writes; into a
    # folder of another command's it would mix the two runs, or remove the other's files.
    _refuse_work(monkeypatch)
    data = write("counts.csv", GOOD)
    for name, other in OWN_FILES:
        if other == argv[0]:
            continue
        out = tmp_path / f"out-{name}"
        out.mkdir()
        (out / name).write_text("another command's")
        rc = main([part.format(data=data) for part in argv] + ["--out", str(out)])
        captured = capsys.readouterr()
        expected = [f"holds {name}, which `bayes-passk {other}` writes", "another folder"]
        assert_clean_error(rc, captured.out, captured.err, expected)
        assert [p.name for p in out.iterdir()] == [name]
        assert (out / name).read_text() == "another command's"
    # Names two commands share, or a user's own files may have, mark no command's folder.
    shared = tmp_path / "shared"
    shared.mkdir()
    for name in ("summary.csv", "forecast.csv", "forecast.png", "error.png", "notes.txt"):
        (shared / name).write_text("mine")
    cli._refuse_other_commands_files(shared, argv[0])  # raises InputError if it is refused


@pytest.mark.parametrize(("argv", "name"), FOLDER_OUTPUTS)
def test_a_new_output_folder_named_as_a_file_is_refused_before_any_work(
    argv, name, write, tmp_path, capsys, monkeypatch
):
    _refuse_work(monkeypatch)
    data = write("counts.csv", GOOD)
    for out in ["results.csv", "deeper/forecast.JSON", "plot.png"]:
        rc = main([part.format(data=data) for part in argv] + ["--out", str(tmp_path / out)])
        captured = capsys.readouterr()
        assert_clean_error(rc, captured.out, captured.err, ["a folder of files", "a file name"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.csv"]


def test_an_existing_folder_or_one_with_a_trailing_slash_may_be_named_as_a_file(tmp_path):
    (tmp_path / "results.csv").mkdir()
    assert cli._output_dir(str(tmp_path / "results.csv")) == tmp_path / "results.csv"
    assert cli._output_dir(f"{tmp_path / 'new.csv'}/") == tmp_path / "new.csv"
    assert cli._output_dir(str(tmp_path / "results.v2")) == tmp_path / "results.v2"


def test_a_full_disk_while_the_posterior_is_written_is_an_input_error(tmp_path):
    class FullDisk:
        def to_netcdf(self, path):
            raise RuntimeError("NetCDF: HDF error (errno = 28, 'No space left on device')")

    with pytest.raises(OSError, match="No space left"):
        cli._save_posterior(FullDisk(), tmp_path / "posterior.nc")


def test_compare_refuses_prior_with_priors(write, capsys):
    argv = ["compare", write("counts.csv", GOOD), "--priors", "beta", "scaled-beta"]
    rc = main([*argv, "--prior", "kumaraswamy"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["--prior", "--groups", "--priors"])


def test_simulate_allocation_names_the_file_of_an_unknown_group(write, capsys):
    data = write("groups.csv", "problem_id,n,c,group\nA,10,3,m1\nB,10,0,m2\n")
    rc = main(["simulate-allocation", "--dataset", data, "--group", "m3"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["groups.csv", "'m3'", "m1, m2"])
    data = write("counts.csv", GOOD)  # no groups: its rows are named "counts", no group
    for argv in (["simulate-allocation", "--group"], ["backtest", "--k", "2", "--groups"]):
        rc = main([argv[0], "--dataset", data, *argv[1:], "counts"])
        captured = capsys.readouterr()
        assert_clean_error(rc, captured.out, captured.err, ["no group column", "leave out"])


def test_every_subcommand_is_registered_with_a_runner():
    parser = cli.build_parser()
    required = {
        "estimate": ["x.csv"],
        "compare": ["x.csv", "--priors", "all"],
        "allocate": ["x.csv", "--budget", "5"],
    }
    for name, subcommand in cli.SUBCOMMANDS.items():
        assert callable(subcommand.run) and subcommand.help
        assert parser.parse_args([name, *required.get(name, [])]).run is subcommand.run


def test_embedded_dataset_by_name(capsys):
    from bayes_passk import datasets

    assert main(["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1", "--json"]) == 0
    data = datasets.load("pythia-math", group="Pythia 12B")
    assert json.loads(capsys.readouterr().out)["pass_at_k"] == pytest.approx(
        [data.c.sum() / data.n.sum()]
    )
    rc = main(["estimate", "pythia-math", "--group", "Pythia 13B"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["Pythia 13B", "Pythia 12B"])
    rc = main(["estimate", "pythia-math", "--group", "Pythia 12B", "--format", "counts"])
    assert_clean_error(rc, *capsys.readouterr(), ["--format applies to files"])
    rc = main(["forecast", "--method", "regression", "--format", "attempts"])  # default data
    assert_clean_error(rc, *capsys.readouterr(), ["--format applies to files"])
    rc = main(["simulate-allocation", "--dataset", "pythia-math", "--format", "counts"])
    assert_clean_error(rc, *capsys.readouterr(), ["--format applies to files"])
    rc = main(["simulate-allocation", "--dataset", "pythia-math"])  # which of the 7 models?
    assert_clean_error(rc, *capsys.readouterr(), ["holds 7 groups", "--group", "Pythia 12B"])


def test_datasets_lists_the_embedded_datasets(capsys):
    from bayes_passk import datasets

    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "groups"]
    listed = {line.split()[0]: line.split()[1:3] for line in lines[1:]}
    for info in datasets.list_datasets():
        assert listed[info.name] == [info.kind, str(len(info.groups))]


def test_datasets_name_lists_its_groups(capsys):
    from bayes_passk import datasets

    assert main(["datasets", "pythia-math"]) == 0
    lines = capsys.readouterr().out.splitlines()
    [info] = [d for d in datasets.list_datasets() if d.name == "pythia-math"]
    assert lines[:2] == [f"pythia-math (attempts): {info.description}", f"source: {info.source}"]
    groups = lines[lines.index("groups:") + 1 :]
    assert [g.strip() for g in groups] == datasets.load("pythia-math").groups
    assert not any(line.startswith("caveat:") for line in lines)  # none to keep in mind
    [info] = [d for d in datasets.list_datasets() if d.name == "bon-jailbreak"]
    assert info.caveat and main(["datasets", "bon-jailbreak"]) == 0
    assert f"caveat: {info.caveat}" in capsys.readouterr().out.splitlines()
    rc = main(["datasets", "pythia"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["no embedded dataset 'pythia'"])


def test_datasets_json_describes_every_dataset_or_the_one_named(capsys):
    from bayes_passk import datasets

    assert main(["datasets", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in listed] == [info.name for info in datasets.list_datasets()]
    assert main(["datasets", "pythia-math", "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert one == next(d for d in listed if d["name"] == "pythia-math")
    assert one["groups"] == datasets.load("pythia-math").groups and one["kind"] == "attempts"
    rc = main(["datasets", "pythia", "--json"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["no embedded dataset 'pythia'"])


def test_a_local_file_wins_over_a_dataset_name(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pythia-math").write_text("x")  # no extension: read as a file, not the dataset
    rc = main(["estimate", "pythia-math"])
    assert_clean_error(rc, *capsys.readouterr(), ["unsupported file type '(no extension)'"])


def run_module(*args, cwd):
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    command = [sys.executable, "-m", "bayes_passk.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


@pytest.mark.parametrize("case", ["c above n", "duplicate problem", "not UTF-8"])
def test_bad_input_through_a_subprocess(case, write, tmp_path):
    name, content, fragments = BAD_INPUTS[case]
    out = tmp_path / "out.csv"
    result = run_module("estimate", write(name, content), "--out", str(out), cwd=tmp_path)
    assert_clean_error(result.returncode, result.stdout, result.stderr, fragments)
    assert not out.exists()


def test_usage_error_and_success_through_a_subprocess(write, tmp_path):
    result = run_module("estimate", "--k", "-3", "x.csv", cwd=tmp_path)
    assert_clean_error(result.returncode, result.stdout, result.stderr, ["argument --k"])
    result = run_module("estimate", write("counts.csv", GOOD), "--k", "1", "--json", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == ""
    assert json.loads(result.stdout)["k"] == [1]


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(tmp_path):
    ks = [str(k) for k in range(1, 5001)]
    command = [sys.executable, "-m", "bayes_passk.cli", "estimate", "pythia-math"]
    command += ["--group", "Pythia 1B", "--k", *ks]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, text=True
    ) as process:
        first_line = process.stdout.readline()
        process.stdout.close()  # like `| head -1`
        stderr = process.stderr.read()
        process.wait(timeout=60)
    assert first_line.startswith("pythia-math (Pythia 1B)")
    assert stderr == "" and process.returncode == 1


def test_arviz_refactor_notice_is_hidden_and_other_warnings_are_not(monkeypatch, capsys):
    # Other libraries' warnings (matplotlib's about glyphs its font lacks, say) print like the
    # package's own, without a source line.
    notice = "\nArviZ is undergoing a major refactor to improve flexibility and extensibility"

    def run(args):
        warnings.warn(notice, FutureWarning, stacklevel=1)
        warnings.warn("something the user should see", FutureWarning, stacklevel=1)
        return 0

    monkeypatch.setitem(cli.SUBCOMMANDS, "datasets", cli.SUBCOMMANDS["datasets"]._replace(run=run))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["datasets"]) == 0
        assert warnings.showwarning is not cli._show_warning  # restored after the run
    assert capsys.readouterr().err == "bayes-passk: warning: something the user should see\n"


def test_forecast_json_carries_the_unbiased_estimates_and_the_truth(capsys):
    argv = ["forecast", "--method", "beta-binomial", "--k", "10", "10000", "--json"]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["unbiased"][0] > 0 and report["unbiased"][1] is None  # 100 attempts each
    import bayes_passk as bp
    from bayes_passk.estimators import mean_pass_at_k

    every_attempt = bp.datasets.load("pythia-math", group="Pythia 12B")
    assert report["truth"] == pytest.approx(mean_pass_at_k(every_attempt, [10, 10_000]), rel=1e-12)


@pytest.mark.parametrize("target", ["benchmark", "new"])
def test_the_truth_of_a_new_problem_is_said_to_be_an_estimate(target, capsys):
    assert main(["forecast", "--method", "beta-binomial", "--target", target]) == 0
    printed = capsys.readouterr().out
    assert "truth" in printed.splitlines()[1]  # the table's header
    assert ("an estimate (not the value) of a new problem's" in printed) == (target == "new")


def test_comparing_priors_on_one_problem_is_refused_before_fitting(write, capsys):
    # LOO's standard errors are over problems: one problem gave "se 0.0" and a verdict.
    single = write("single.csv", "problem_id,n,c\nonly,50,7\n")
    rc = main(["compare", single, "--priors", "beta", "scaled-beta"])
    captured = capsys.readouterr()
    assert_clean_error(rc, captured.out, captured.err, ["needs at least 2 problems"])


def test_a_folder_named_as_a_dataset_does_not_hide_it(tmp_path, monkeypatch, capsys):
    # A run's --out folder named after its dataset made the dataset unreadable from there:
    # "pythia-math is a directory, not a data file".
    monkeypatch.chdir(tmp_path)
    runs = [
        ["estimate", "pythia-math", "--group", "Pythia 1B", "--k", "1", "10"],
        ["forecast", "pythia-math", "--group", "Pythia 1B", "--attempts", "50"]
        + ["--method", "beta-binomial", "--k", "100"],
    ]
    printed = []
    for folder in (False, True):
        if folder:
            (tmp_path / "pythia-math").mkdir()
        for argv in runs:
            assert main(argv) == 0
            printed.append(capsys.readouterr().out)
    assert printed[:2] == printed[2:] and "0.0664639" in printed[0]
    # backtest's --dataset, and what it says of data stopped at a first success.
    backtest = ["backtest", "--groups", "Pythia 1B", "--methods", "beta-binomial"]
    backtest += ["--budgets", "10", "--replicates", "1", "--k", "10", "--json"]
    assert main([*backtest, "--dataset", "pythia-math"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"][0]["group"] == "Pythia 1B"
    (tmp_path / "bon-jailbreak").mkdir()
    rc = main(["backtest", "--dataset", "bon-jailbreak", "--design", "subsample", "--k", "10"])
    assert rc == 2 and "attempts stopped at the first success" in capsys.readouterr().err
    # A file of the dataset's name is read (a user's own file comes first), and the error of
    # one that cannot be read says what hides the dataset.
    (tmp_path / "bon-jailbreak").rmdir()
    (tmp_path / "bon-jailbreak").write_text("not data")
    rc = main(["estimate", "bon-jailbreak", "--k", "1"])
    error = capsys.readouterr().err
    assert rc == 2 and "unsupported file type '(no extension)'" in error
    assert "the file bon-jailbreak here is read, not the embedded dataset of that name" in error
    (tmp_path / "data.csv").mkdir()  # a folder of another name is refused as before
    rc = main(["estimate", "data.csv", "--k", "1"])
    assert rc == 2 and "data.csv is a directory" in capsys.readouterr().err


def test_ctrl_c_stops_with_one_line_and_code_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    estimate = cli.SUBCOMMANDS["estimate"]
    monkeypatch.setitem(cli.SUBCOMMANDS, "estimate", estimate._replace(run=interrupted))
    assert main(["estimate", "pythia-math", "--group", "Pythia 12B", "--k", "1"]) == 130
    assert capsys.readouterr().err == "bayes-passk: interrupted\n"


CTRL_C_IN_A_FINALIZER = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
from bayes_passk import cli

class Finalized:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))  # the handler runs here, inside the finalizer

def write(path):
    if WHERE == "write":
        Finalized()
    path.write_text("written")

if WHERE == "rename":  # Ctrl-C after the first of two renames
    import pathlib
    replace = pathlib.Path.replace
    def replace_then_ctrl_c(self, target):
        pathlib.Path.replace = replace
        moved = replace(self, target)
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))
        return moved
    pathlib.Path.replace = replace_then_ctrl_c

def run(args):
    if WHERE == "run":
        Finalized()
    if WHERE == "plain":  # not in a finalizer: Python raises it here
        os.kill(os.getpid(), signal.SIGINT)
        sum(range(1000))
    cli._write_all({OUT / "table.csv": write, OUT / "more.csv": write})
    return 0

estimate = cli.SUBCOMMANDS["estimate"]
cli.SUBCOMMANDS["estimate"] = estimate._replace(run=run)
argv = ["estimate", "pythia-math", "--k", "1"]
if CALL == "command":
    sys.argv = ["bayes-passk", *argv]
    sys.exit(cli.main())
print("main returned", cli.main(argv))
print("the session goes on")
"""


@pytest.mark.parametrize("where", ["run", "write"])
def test_ctrl_c_in_a_callback_python_runs_itself_still_stops_the_command(tmp_path, where):
    # Left to Python, a Ctrl-C landing in a finalizer (or in JAX's garbage-collection hook, as
    # it did at start-up and while the outputs were written) was printed as "Exception
    # ignored", and the run went on to write its outputs and exit 0.
    out = tmp_path / "out"
    script = f"WHERE, CALL, OUT = {where!r}, 'command', __import__('pathlib').Path({str(out)!r})"
    command = [sys.executable, "-c", script + CTRL_C_IN_A_FINALIZER]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout, run.stderr) == (130, "", "bayes-passk: interrupted\n")
    assert not out.exists()  # neither the file nor the folder made for it


def test_ctrl_c_once_the_outputs_are_written_lets_the_command_finish(tmp_path):
    # Between two renames it left an earlier run's table beside the new one's, and said
    # "interrupted": once every output is written in full, the command finishes.
    out = tmp_path / "out"
    out.mkdir()
    for name in ("table.csv", "more.csv"):
        (out / name).write_text("earlier")
    script = f"WHERE, CALL, OUT = 'rename', 'command', __import__('pathlib').Path({str(out)!r})"
    command = [sys.executable, "-c", script + CTRL_C_IN_A_FINALIZER]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "wrote table.csv, more.csv" in run.stderr, run.stderr
    assert [(out / name).read_text() for name in ("table.csv", "more.csv")] == ["written"] * 2


def test_ctrl_c_in_a_call_from_python_leaves_the_session(tmp_path):
    # A REPL or a Jupyter kernel calling main(argv) keeps its own Ctrl-C: the call returns 130
    # (the handler that stops a command at once would end the session with it).
    out = tmp_path / "out"
    script = f"WHERE, CALL, OUT = 'plain', 'python', __import__('pathlib').Path({str(out)!r})"
    command = [sys.executable, "-c", script + CTRL_C_IN_A_FINALIZER]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "main returned 130\nthe session goes on\n"
    assert run.stderr == "bayes-passk: interrupted\n" and not out.exists()


def test_the_ctrl_c_handler_lasts_as_long_as_the_command(monkeypatch, capsys):
    seen = []

    def run(args):
        seen.append(signal.getsignal(signal.SIGINT))
        return 0

    estimate = cli.SUBCOMMANDS["estimate"]
    monkeypatch.setitem(cli.SUBCOMMANDS, "estimate", estimate._replace(run=run))
    argv = ["estimate", "pythia-math", "--k", "1"]
    monkeypatch.setattr(sys, "argv", ["bayes-passk", *argv])
    for before in (signal.default_int_handler, signal.SIG_IGN):  # an ignored Ctrl-C stays so
        previous = signal.signal(signal.SIGINT, before)
        try:
            assert main() == 0  # the command line
            assert signal.getsignal(signal.SIGINT) is before
            assert main(argv) == 0  # a call from Python
        finally:
            signal.signal(signal.SIGINT, previous)
    assert seen == [cli._interrupted, signal.default_int_handler, signal.SIG_IGN, signal.SIG_IGN]
    # What a run sets on its way (--distributed joins with the handler) is undone at its end.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with cli._ctrl_c_stops_at_once(enabled=False):
            signal.signal(signal.SIGINT, cli._interrupted)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)


def test_intervals_missing_under_five_replicates_are_explained():
    # simulate-allocation's quick look (--replicates 2) printed mse_lower, mse_upper and the
    # paired lower, upper as nan with no word why.
    summary = pd.DataFrame(
        {"mse": [0.01, 0.02], "mse_lower": [np.nan, 0.01], "failed": 0, "unconverged_fits": 0}
    )
    table = pd.DataFrame(columns=["estimate", "unsolved_part", "truth"], dtype=float)
    [note] = cli._scoring_notes(summary, table)
    assert note.startswith("mse_lower, mse_upper: none for a cell of fewer than 5 scored")
    assert cli._scoring_notes(summary.iloc[1:], table) == []
    # A cell whose every fit failed has no MSE to give an interval to: no such note.
    assert cli._scoring_notes(summary.assign(mse=[np.nan, 0.02]), table) == []
    paired = pd.DataFrame({"difference": [0.1, np.nan], "lower": [np.nan, np.nan]})
    assert cli._none_under(paired) == "; none under 5 replicates"
    assert cli._none_under(paired.iloc[1:]) == ""


def test_version_is_the_installed_distribution_s(capsys):
    from importlib import metadata

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bayes-passk {metadata.version('bayes_passk')}"


def test_forecast_says_why_the_unbiased_column_is_nan(write, capsys):
    path = write(
        "counts.csv",
        "problem_id,n,c\n" + "".join(f"p{i},{50 + 50 * (i % 2)},{i}\n" for i in range(8)),
    )
    note = "unbiased: nan where a problem has fewer than k attempts (here k > 50)"
    assert main(["forecast", path, "--method", "beta-binomial", "--k", "10", "100"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[3].split()[-1] == "nan" and note in out
    assert main(["forecast", path, "--method", "beta-binomial", "--k", "10", "50"]) == 0
    assert note not in capsys.readouterr().out.splitlines()


def test_forecast_notes_that_a_long_extrapolation_rests_on_the_assumed_tail(write, capsys):
    path = write(
        "counts.csv",
        "problem_id,n,c\n" + "".join(f"p{i},{50 + 50 * (i % 2)},{i}\n" for i in range(8)),
    )
    assert main(["forecast", path, "--method", "beta-binomial", "--k", "10", "1001"]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: k = 1001 is more than 10 times the most attempts of a problem; that far the "
        "forecast rests on the tail the method assumes below 1/n, which the counts cannot check"
    ]
    assert main(["forecast", path, "--method", "beta-binomial", "--k", "10", "1000"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_forecast_table_shows_the_unsolved_part_and_says_what_it_is(capsys):
    from bayes_passk.baselines import fit_baseline
    from bayes_passk.cli import _print_forecast

    data = PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
    forecast = fit_baseline(data, "beta-binomial").forecast([10, 1000])
    _print_forecast("x.csv", data, forecast, None, np.array([0.01, 0.2]))
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[-2:] == ["from", "unsolved"] and out[3].split()[-1] == "0.2"
    assert out[5].startswith("from unsolved: the part of the mean from the 1 problem never solved")
    solved = data._replace(c=np.array([1, 3, 20]))
    _print_forecast("x.csv", solved, forecast, None, np.zeros(2))
    assert "unsolved" not in capsys.readouterr().out


def test_a_zero_inflated_exponent_is_printed_as_the_solvable_problems(capsys):
    # The zero-inflated prior's a is the exponent of its solvable problems only (their pass@k
    # nears 1 - z as k^-a); the table's exponent line says so, and for other priors not.
    from bayes_passk.baselines import fit_baseline
    from bayes_passk.cli import _print_forecast
    from bayes_passk.forecast import Summary

    data = PassData.from_counts(["a", "b", "c"], n=[50, 50, 50], c=[0, 3, 20])
    forecast = fit_baseline(data, "beta-binomial").forecast([10, 1000])
    exponent = Summary(0.3, 0.3, 0.2, 0.4, 0.01)
    lines = {}
    for method in ("bayes-zero-inflated-beta", "bayes-scaled-beta", "beta-binomial"):
        _print_forecast(
            "x.csv", data, forecast._replace(method=method, exponent=exponent), None, None
        )
        lines[method] = [
            x for x in capsys.readouterr().out.splitlines() if x.startswith("exponent")
        ]
    assert lines["bayes-zero-inflated-beta"] == [
        "exponent of the solvable problems: 0.300 [0.200, 0.400]"
    ]
    assert (
        lines["bayes-scaled-beta"] == lines["beta-binomial"] == ["exponent: 0.300 [0.200, 0.400]"]
    )


@pytest.mark.parametrize(
    "argv",
    [["forecast", "pythia-math"], ["compare", "pythia-math", "--priors", "beta", "scaled-beta"]],
)
def test_attempts_without_a_group_of_several_is_refused_before_any_fit(argv, tmp_path, capsys):
    """A subsample of every group is no model's: refused as a plain load of several groups is."""
    out = tmp_path / "out"
    assert main([*argv, "--attempts", "100", "--k", "100", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("bayes-passk: error: pythia-math holds 7 groups; choose one with --group")
    assert "fitting" not in err and not out.exists()


def test_every_option_s_help_states_its_default():
    # What --help promises is what a command does when the option is left out.
    import argparse

    from bayes_passk.allocation import POLICIES
    from bayes_passk.cli import build_parser

    worded = {  # defaults stated in words
        "auto": ("(default: detect from the columns)", "(auto: detected from the columns)"),
        "dynamic": ("dynamic (default: ",),
        " ".join(POLICIES): ("(all)",),
    }
    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    checked = 0
    for command, parser in commands.choices.items():
        for action in parser._actions:
            if action.default in (None, False, argparse.SUPPRESS) or action.dest == "help":
                continue
            default = action.default
            shown = " ".join(map(str, default)) if isinstance(default, list) else str(default)
            said = [f"({shown})", f"({shown};", f"({shown} ", f"(default: {shown})"]
            said += worded.get(shown, ())
            assert any(words in action.help for words in said), (command, action.dest)
            checked += 1
    assert checked >= 40


def _recording_plot(monkeypatch):
    """Record the keywords of every `plot_forecast` call, and draw it as before."""
    from bayes_passk import plots

    seen, draw = [], plots.plot_forecast
    monkeypatch.setattr(plots, "plot_forecast", lambda *a, **kw: seen.append(kw) or draw(*a, **kw))
    return seen


def test_forecast_defaults_to_the_whole_log_grid_of_k(capsys):
    from bayes_passk.forecast import DEFAULT_KS

    assert main(["forecast", "--method", "beta-binomial", "--json"]) == 0
    ks = json.loads(capsys.readouterr().out)["k"]
    assert ks == list(DEFAULT_KS) and (ks[0], ks[-1]) == (1, 10**6)


def test_the_forecast_plot_marks_the_most_attempts_of_ragged_data(tmp_path, monkeypatch, capsys):
    seen = _recording_plot(monkeypatch)
    counts = pd.DataFrame({"problem_id": list("abcd"), "n": [100, 40, 100, 40], "c": [3, 0, 10, 1]})
    counts.to_csv(tmp_path / "counts.csv", index=False)
    argv = ["forecast", str(tmp_path / "counts.csv"), "--method", "beta-binomial", "--k", "10"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 0
    assert seen[0]["attempts"] == 100


def test_the_solved_curve_and_the_unsolved_part_follow_the_counts(tmp_path, monkeypatch, capsys):
    # A beta-binomial forecast stands in for the Bayesian fit, and its unsolved part is half
    # its mean: the dotted "solved so far" curve is drawn only where some problem was solved
    # and some not, and each k's unsolved part stays with its k when k come out of order.
    from types import SimpleNamespace

    from bayes_passk import forecast as forecast_module
    from bayes_passk.baselines import fit_baseline

    stand_in = PassData.from_counts(list("abcdef"), [100] * 6, [0, 3, 10, 50, 1, 0])
    fitted = fit_baseline(stand_in, "beta-binomial")

    def fit(data, prior, args, label, seed=None):
        return SimpleNamespace(forecast=lambda ks, **kwargs: fitted.forecast(ks), idata=None)

    monkeypatch.setattr(cli, "_fit_with_warnings", fit)
    monkeypatch.setattr(forecast_module, "unsolved_part", lambda fit, ks: fit.forecast(ks).mean / 2)
    seen = _recording_plot(monkeypatch)
    for c, drawn in (([0, 0, 0], False), ([0, 2, 0], True)):
        path = tmp_path / f"counts{sum(c)}.csv"
        pd.DataFrame({"problem_id": list("abc"), "n": 100, "c": c}).to_csv(path, index=False)
        assert main(["forecast", str(path), "--k", "10", "--out", str(tmp_path / path.stem)]) == 0
        assert (seen[-1]["solved"] is not None) == drawn
    capsys.readouterr()
    assert main(["forecast", str(path), "--k", "1000", "10", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["k"]) == [10, 1000]
    np.testing.assert_allclose(report["unsolved_part"], np.array(report["mean"]) / 2, rtol=1e-12)
