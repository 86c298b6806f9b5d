import io
import json
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from bayes_passk.data import (
    _BATCH,
    ALIASES,
    InputError,
    PassData,
    _read_table,
    _Rows,
    _table_from_frame,
    _text_lines,
    load,
    load_attempts,
    load_counts,
    load_humaneval,
    name_number,
    save_counts,
    validate_counts,
    warn_if_uninformative,
)


def jsonl(records):
    return "".join(json.dumps(record) + "\n" for record in records)


COUNTS = pd.DataFrame(
    {
        "problem_id": ["p1", "p2", "p1", "p2", "p3"],
        "n": [10, 250, 10, 4_000_000, 7],
        "c": [3, 0, 10, 1, 7],
        "group": ["m1", "m1", "m2", "m2", "m2"],
    }
)


def assert_counts(data, problem_id, n, c, group=None):
    assert data.problem_id.tolist() == problem_id
    assert data.n.tolist() == n
    assert data.c.tolist() == c
    assert data.group.tolist() == (group or [""] * len(problem_id))
    assert data.n.dtype == np.int64 and data.c.dtype == np.int64


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("counts.csv", COUNTS.to_csv(index=False)),
        ("counts.jsonl", jsonl(COUNTS.to_dict("records"))),
        ("counts.json", json.dumps(COUNTS.to_dict("records"), indent=2)),
        ("counts.parquet", COUNTS),
    ],
)
def test_counts_in_every_format_with_groups_and_ragged_n(write, name, content):
    path = write(name, content)
    expected = (COUNTS.problem_id.tolist(), COUNTS.n.tolist(), COUNTS.c.tolist())
    assert_counts(load_counts(path), *expected, COUNTS.group.tolist())
    assert_counts(load(path), *expected, COUNTS.group.tolist())
    assert load(path).groups == ["m1", "m2"]
    assert_counts(
        load_counts(path, group="m2"),
        ["p1", "p2", "p3"],
        [10, 4_000_000, 7],
        [10, 1, 7],
        ["m2"] * 3,
    )


@pytest.mark.parametrize(
    ("field", "alias"),
    [(field, alias) for field in ("problem_id", "n", "c", "group") for alias in ALIASES[field]],
)
def test_every_documented_column_alias(write, field, alias):
    frame = COUNTS.rename(columns={field: alias})
    path = write("aliased.csv", frame.to_csv(index=False))
    data = load_counts(path)
    assert_counts(
        data,
        COUNTS.problem_id.tolist(),
        COUNTS.n.tolist(),
        COUNTS.c.tolist(),
        COUNTS.group.tolist(),
    )


def test_large_language_monkeys_column_names_with_ragged_n(write):
    text = (
        "Model,Problem Idx,Num. Samples,Num. Samples Correct\n"
        "Pythia 12B,0,10000,12\n"
        "Pythia 12B,1,500,0\n"
        "Pythia 1B,0,10000,3\n"
    )
    data = load(write("monkeys.csv", text), group="Pythia 12B")
    assert_counts(data, ["0", "1"], [10000, 500], [12, 0], ["Pythia 12B"] * 2)


def test_column_names_match_ignoring_case_and_spaces_and_extra_columns_are_ignored(write):
    path = write("loose.csv", " PROBLEM_ID ,N,C,notes\nx,4,1,hello\n")
    assert_counts(load_counts(path), ["x"], [4], [1])


def test_json_and_frame_column_names_match_ignoring_case_and_spaces(write):
    records = [{" Problem_ID ": "x", " N ": 4, "c ": 1}]
    assert_counts(load_counts(write("loose.jsonl", jsonl(records))), ["x"], [4], [1])
    assert_counts(PassData.from_frame(pd.DataFrame(records)), ["x"], [4], [1])


def test_numbers_written_as_whole_floats_are_counts(write):
    path = write("floats.jsonl", jsonl([{"problem_id": 7, "n": 10.0, "c": "3"}]))
    assert_counts(load_counts(path), ["7"], [10], [3])


def test_problem_ids_keep_their_text(write):
    path = write("ids.csv", "problem_id,n,c\n007,3,1\nHumanEval/12,3,0\n")
    assert load_counts(path).problem_id.tolist() == ["007", "HumanEval/12"]


def test_blank_lines_are_skipped_and_counted_in_line_numbers(write):
    path = write("gaps.csv", "problem_id,n,c\n\nA,3,1\n\nB,3,4\n")
    with pytest.raises(InputError, match=r"row 2 \(line 5\), column 'c'"):
        load_counts(path)


def test_csv_records_are_split_by_the_csv_rules_only(write):
    # A quoted newline stays in its field; blank lines before the header are skipped.
    path = write("quoted.csv", '\n\nproblem_id,n,c\n"multi\nline",10,1\nB,5,\u20289\n')
    with pytest.raises(InputError, match=r"row 2 \(line 6\), column 'c'"):
        load_counts(path)  # the U+2028 stays inside its cell, reported on the right line
    path = write("quoted2.csv", '\n\nproblem_id,n,c\n"multi\nline",10,1\nB,5,0\n')
    assert load_counts(path).problem_id.tolist() == ["multi\nline", "B"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # The last field's quote never closed: not the count 5 with a newline.
        ('problem_id,n,c\nA,10,3\nB,10,"5\n', r"line 3: a quoted field .* never closed"),
        ('\n\n"problem_id,n,c\nA,10,3\n', r"line 3: a quoted field .* never closed"),
        ('problem_id,n,c\n\nA,10,3\n"B,10,4\nC,10,5\n', r"line 4: a quoted field"),
        ('problem_id,n,c\nA,10,3\nB,10,"5', r"line 3: a quoted field .* never closed"),
        ('problem_id,n,c\r\nA,10,3\r\n"B,10,4\r\nC,10,5', r"line 3: a quoted field"),
    ],
)
def test_a_quote_left_open_to_the_end_of_the_file_is_refused(write, text, message):
    with pytest.raises(InputError, match=message):
        load_counts(write("quotes.csv", text))


def test_a_space_after_a_closing_quote_is_read_past_as_before(write):
    # Files written by hand or by scripts; pandas reads them alike.
    path = write("spaces.csv", 'problem_id,n,c\na,10,3 \n"b",10,"2" \n"c" ,10,1\n')
    assert_counts(load(path), ["a", "b", "c"], [10, 10, 10], [3, 2, 1])


def test_a_json_true_is_not_a_count_even_beside_ones(write):
    path = write(
        "mixed.jsonl",
        '{"problem_id": "a", "n": 3, "c": 1}\n{"problem_id": "b", "n": 3, "c": true}\n',
    )
    with pytest.raises(InputError, match=r"row 2 \(line 2\), column 'c': expected a whole number"):
        load_counts(path)


@pytest.mark.parametrize("count", ["1_0", "\u0661\u0660", "\uff11\uff10"])
def test_a_count_is_written_in_plain_digits(write, count):
    # Python's int() reads an underscore and other scripts' digits: a typo loaded as 10.
    path = write("odd.csv", f"problem_id,n,c\na,{count},1\nb,10,2\n")
    with pytest.raises(InputError, match=f"row 1 .*column 'n': .*ASCII digits, got '{count}'"):
        load_counts(path)


def test_one_json_object_is_one_record_or_a_clear_error(write):
    pretty = write("one.json", '{\n  "problem_id": "a",\n  "n": 10,\n  "c": 1\n}\n')
    assert load_counts(pretty).c.tolist() == [1]
    columns = write("columns.json", '{"problem_id": ["a", "b"], "n": [3, 3], "c": [1, 0]}')
    with pytest.raises(InputError, match="one JSON object of columns; expected JSON lines"):
        load_counts(columns)
    wrapped = write("wrapped.json", '{"results": [{"task_id": "t", "passed": true}], "n": 1}')
    with pytest.raises(InputError, match="an array under the key 'results'; expected JSON lines"):
        load(wrapped)
    nested = write("nested.jsonl", '{"problem_id": "a", "n": {"x": 1}, "c": 1}\n')
    with pytest.raises(InputError, match=r"row 1 \(line 1\), column 'n': expected a whole"):
        load_counts(nested)


ATTEMPTS = pd.DataFrame(
    {
        "problem_id": ["b", "a", "b", "a", "b", "a"],
        "success": [True, False, True, False, False, False],
        "model": ["m1", "m1", "m1", "m1", "m1", "m2"],
    }
)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("attempts.csv", ATTEMPTS.to_csv(index=False)),
        ("attempts.csv", ATTEMPTS.assign(success=ATTEMPTS.success.astype(int)).to_csv(index=False)),
        (
            "attempts.csv",
            ATTEMPTS.assign(success=ATTEMPTS.success.map({True: "true", False: "FALSE"})).to_csv(
                index=False
            ),
        ),
        ("attempts.jsonl", jsonl(ATTEMPTS.to_dict("records"))),
        ("attempts.parquet", ATTEMPTS),
        ("attempts.parquet", ATTEMPTS.assign(success=ATTEMPTS.success.astype(int))),
    ],
)
def test_attempts_are_counted_per_group_and_problem_in_order_of_first_attempt(write, name, content):
    path = write(name, content)
    expected = (["b", "a", "a"], [3, 2, 1], [2, 0, 0], ["m1", "m1", "m2"])
    assert_counts(load_attempts(path), *expected)
    assert_counts(load(path), *expected)
    assert_counts(load_attempts(path, group="m2"), ["a"], [1], [0], ["m2"])


def test_attempts_without_group(write):
    path = write("attempts.csv", "task_id,success\nt1,1\nt2,0\nt1,1\nt1,0\n")
    assert_counts(load_attempts(path), ["t1", "t2"], [3, 1], [2, 0])


def test_a_field_longer_than_the_csv_module_s_limit_is_read(write):
    # A log that keeps each completion's text (the csv module stops at 131,072 characters).
    import csv

    limit = csv.field_size_limit()
    text = "problem_id,success,completion\na,1,x\na,0," + "x" * 200_000 + "\nb,1,y\n"
    assert_counts(load_attempts(write("completions.csv", text)), ["a", "b"], [2, 1], [1, 1])
    assert csv.field_size_limit() == limit  # the user's own csv reading is left as it was


def test_an_attempt_given_twice_is_refused_naming_both_rows(write):
    # An attempt column (here sample_idx) numbers each problem's attempts: a row given twice (a
    # file concatenated onto itself, say) would count its attempt twice. Within each group.
    rows = "model,task_id,sample_idx,passed\nA,t1,0,1\nA,t1,1,0\nB,t1,0,1\nA,t2,0,0\n"
    path = write("attempts.csv", rows)
    assert_counts(load_attempts(path), ["t1", "t1", "t2"], [2, 1, 1], [1, 1, 0], ["A", "B", "A"])
    with pytest.raises(
        InputError,
        match=r"attempts.csv, row 5 \(line 6\), column 'sample_idx': attempt '1' of problem 't1' "
        r"in group 'A' is given again \(first at row 2 \(line 3\)\); each attempt counts once",
    ):
        load(write("attempts.csv", rows + "A,t1,1,1\n"))
    records = [{"problem_id": "p", "attempt": j % 3, "success": True} for j in range(4)]
    with pytest.raises(InputError, match=r"row 4 \(line 4\), column 'attempt': attempt '0' of "):
        load_attempts(write("attempts.jsonl", jsonl(records)))
    # The first row is the one of the same group; the same attempt in another group came first.
    rows = "model,problem_id,attempt,success\nB,t1,1,1\nA,t1,1,0\nA,t1,1,1\n"
    with pytest.raises(InputError, match=r"row 3 \(line 4\).*\(first at row 2 \(line 3\)\)"):
        load(write("attempts.csv", rows))


def test_attempts_unchecked_where_blank_or_where_several_columns_could_be_the_attempt(write):
    # A blank attempt cell is no repeat (the rows count, as without the column); a file with two
    # attempt-like columns is read as before, unchecked (which one numbers the attempts?).
    blank = "problem_id,attempt,success\nA,,1\nA,,0\nA,0,1\nA, ,0\n"
    assert_counts(load(write("attempts.csv", blank)), ["A"], [4], [2])
    records = [
        {"problem_id": "A", "attempt": None, "success": True},
        {"problem_id": "A", "success": 0},
    ]
    records.append({"problem_id": "A", "attempt": 1.0, "success": 1})
    assert_counts(load(write("attempts.jsonl", jsonl(records))), ["A"], [3], [2])
    records.append({"problem_id": "A", "attempt": "1", "success": 1})  # 1.0 and "1": one label
    with pytest.raises(InputError, match=r"row 4 \(line 4\), column 'attempt': attempt '1' of "):
        load(write("attempts.jsonl", jsonl(records)))
    both = "problem_id,sample_idx,completion_id,success\nA,0,x,1\nA,0,y,0\n"
    assert_counts(load(write("attempts.csv", both)), ["A"], [2], [1])


def test_lines_come_as_one_stringio_gives_them_whatever_the_chunk():
    # The CSV reader takes the text a chunk at a time; a chunk must end where no line ending
    # (\r\n) or quoted field is cut. Random texts of the characters that end lines, chunks
    # down to one character, against io.StringIO(newline="") of the whole text.
    rng = np.random.default_rng(0)
    alphabet = np.array(["a", ",", '"', "\n", "\r", "\r\n", "\u2028", "\x1c", " "])
    for size in rng.integers(0, 40, size=300):
        text = "".join(rng.choice(alphabet, size=size))
        whole = list(io.StringIO(text, newline=""))
        for chunk in (1, 2, 3, 7, 1 << 24):
            assert list(_text_lines(text, chunk)) == whole, (text, chunk)


def test_many_rows_across_the_reader_s_batches(write):
    # Rows are moved into columns in batches (_BATCH rows): counts of a file of many batches,
    # a quoted field spanning two lines and blank lines and rows among them, against pandas;
    # and a bad row after the first batch is named by its row and line.
    rng = np.random.default_rng(1)
    rows = 5 * _BATCH + 3
    frame = pd.DataFrame(
        {
            "model": rng.choice(["m1", "m 2"], size=rows),
            "problem_id": rng.choice(["p1", "p2", "p3", 'a "quoted"\nlabel'], size=rows),
            "success": rng.integers(0, 2, size=rows),
        }
    )
    text = frame.to_csv(index=False).replace("\nm1,p2,", "\n\nm1,p2,", 7)
    text = text.replace("\nm1,p3,", "\n  , \t,\nm1,p3,", 5)  # rows of blanks are no rows
    path = write("attempts.csv", text)
    assert len({id(v) for v in _read_table(path).columns["model"]}) == 2  # each value once
    data = load_attempts(path)
    expected = frame.groupby(["model", "problem_id"], sort=False)["success"].agg(["size", "sum"])
    assert data.group.tolist() == expected.index.get_level_values(0).tolist()
    assert data.problem_id.tolist() == expected.index.get_level_values(1).tolist()
    assert data.n.tolist() == expected["size"].tolist()
    assert data.c.tolist() == expected["sum"].tolist()
    rows = "problem_id,success\n" + "a,1\n" * (2 * _BATCH) + "\n"
    with pytest.raises(InputError, match=rf"row {2 * _BATCH + 1} \(line {2 * _BATCH + 3}\): "):
        load_attempts(write("attempts.csv", rows + "a,1,extra\n"))
    # A record over two lines is labelled with its last, as the csv module counts lines.
    with pytest.raises(InputError, match=rf"row {2 * _BATCH + 1} \(line {2 * _BATCH + 4}\), "):
        load_attempts(write("attempts.csv", rows + '"a\nb",maybe\n'))


def test_json_lines_across_the_reader_s_batches(write):
    # JSON records are moved into columns in batches too: a key first seen in a later batch is
    # None before it, nested values become JSON text, counts match a direct count, and errors
    # after the first batch name their line.
    rows = 3 * _BATCH + 5
    records = [{"problem_id": f"p{i % 7}", "success": i % 3 == 0} for i in range(rows)]
    records[2 * _BATCH + 1]["late"] = [1, {"a": 2}]
    records[3 * _BATCH + 2]["late"] = "x"
    path = write("attempts.jsonl", jsonl(records))
    late = [None] * rows
    late[2 * _BATCH + 1], late[3 * _BATCH + 2] = '[1, {"a": 2}]', "x"
    columns = _read_table(path).columns
    assert columns["late"].tolist() == late
    assert len({id(v) for v in columns["problem_id"]}) == 7  # each text once
    data = load_attempts(path)
    assert data.problem_id.tolist() == [f"p{j}" for j in range(7)]
    assert data.n.tolist() == [len(range(j, rows, 7)) for j in range(7)]
    assert data.c.tolist() == [sum(i % 3 == 0 for i in range(j, rows, 7)) for j in range(7)]
    # Text is stored once per distinct value, numbers never: true is no count, even where 1
    # came first.
    counts = [{"problem_id": f"p{i}", "n": 1, "c": 0} for i in range(2 * _BATCH)]
    counts[-1]["n"] = True
    with pytest.raises(
        InputError, match=rf"row {2 * _BATCH} \(line {2 * _BATCH}\), column .n.: expected a"
    ):
        load_counts(write("counts.jsonl", jsonl(counts)))
    text = jsonl(counts[:-1]) + "\n[1]\n"
    with pytest.raises(InputError, match=rf"line {2 * _BATCH + 1}: expected a JSON object, got"):
        load_counts(write("counts.jsonl", text + jsonl(counts[:2])))
    with pytest.raises(InputError, match=rf"line {2 * _BATCH + 2}: invalid JSON"):  # the first
        load_counts(write("counts.jsonl", text + "nul\n"))  # problem found reading every line


def test_labels_that_read_alike_are_one_and_blank_attempts_no_repeat(write):
    # A label is its text: 7, 7.0 and " 7" are one problem, and so are "a" and "a" with a
    # trailing NUL (NumPy text drops it). Blank attempts sit between others without a repeat.
    records = [{"problem_id": p, "success": 1} for p in (7, 7.0, " 7", "7", "a", "a\u0000")]
    assert_counts(
        load_attempts(write("attempts.jsonl", jsonl(records))), ["7", "a"], [4, 2], [4, 2]
    )
    rows = "model,problem_id,attempt,success\nm\x00,a,0,1\nm,a,1,0\nm,a,,1\nm,a,2,1\nm,b,0,0\n"
    assert_counts(
        load_attempts(write("attempts.csv", rows)), ["a", "b"], [4, 1], [3, 0], ["m", "m"]
    )


def test_a_frame_with_arrow_list_columns_loads(write):
    # Columns that pandas cannot factorize (Arrow lists and structs) stay one object a row.
    pa = pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"problem_id": ["a", "a", "b"], "success": [1, 0, 1]})
    frame["meta"] = pd.Series([[1], [2], None], dtype=pd.ArrowDtype(pa.list_(pa.int64())))
    frame["info"] = pd.Series(
        [{"x": 1}, {"x": 2}, None], dtype=pd.ArrowDtype(pa.struct([("x", pa.int64())]))
    )
    assert_counts(load(frame), ["a", "b"], [2, 1], [1, 1])


def test_json_lines_end_at_line_breaks_only(write):
    # json.dumps(..., ensure_ascii=False) leaves U+2028, U+2029 and U+0085 unescaped in strings
    # (a model's completion may hold them); str.splitlines would cut such a record in two.
    records = [
        {"task_id": f"t{i}", "completion": f"a{odd}b", "passed": i == 1}
        for i, odd in enumerate(["\u2028", "\u2029", "\x85"])
    ]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    assert_counts(
        load_humaneval(write("samples.jsonl", text)), ["t0", "t1", "t2"], [1, 1, 1], [0, 1, 0]
    )
    with pytest.raises(InputError, match=r"line 4: invalid JSON"):
        load_humaneval(write("samples.jsonl", text + "{\n"))


def test_frame_columns_hold_each_distinct_value_once_as_to_numpy_gives_it():
    # Parquet files and DataFrames: a column's cells are the objects to_numpy(dtype=object)
    # gives, missing values included, but one object per distinct value (text that is mostly
    # distinct is left as to_numpy gives it).
    rows = 3000
    frame = pd.DataFrame(
        {
            "text": pd.Series(["text a", None, "text b"] * (rows // 3), dtype="str"),
            "count": pd.Series([1, None, 300] * (rows // 3), dtype="Int64"),
            "rate": [0.5, np.nan, 7.0] * (rows // 3),
            "outcome": [True, False, True] * (rows // 3),
            "category": pd.Series(["x", "y", "x"] * (rows // 3), dtype="category"),
            "attempt": np.arange(rows) % 7,
            "unique": pd.Series([f"t{i}" for i in range(rows)], dtype="str"),  # one a row
        }
    )
    columns = _table_from_frame(frame, _Rows("frame")).columns
    for name in frame.columns:
        expected = frame[name].to_numpy(dtype=object)
        assert [repr(v) for v in columns[name]] == [repr(v) for v in expected], name
        assert len({id(v) for v in columns[name]}) == len({repr(v) for v in expected}), name


def test_every_spelling_of_an_outcome_reads_as_written(write):
    # Spreadsheet exports write 1.0 / 0.0, others TRUE / False; each row is one attempt.
    rows = ["a,1.0", "a,0.0", "a,TRUE", "a, false ", "b,0", "b,0.0", "b,False", "b,1"]
    path = write("attempts.csv", "problem_id,success\n" + "\n".join(rows) + "\n")
    assert_counts(load_attempts(path), ["a", "b"], [4, 4], [2, 1])


def test_humaneval_results(write):
    samples = [
        {"task_id": "HumanEval/0", "completion": "pass", "result": "passed", "passed": True},
        {"task_id": "HumanEval/1", "completion": "x", "result": "failed: ", "passed": False},
        {"task_id": "HumanEval/0", "completion": "y", "result": "timed out", "passed": False},
    ]
    path = write("samples.jsonl_results.jsonl", jsonl(samples))
    expected = (["HumanEval/0", "HumanEval/1"], [2, 1], [1, 0])
    assert_counts(load_humaneval(path), *expected)
    assert_counts(load(path), *expected)
    assert_counts(load(path, format="humaneval"), *expected)


def test_humaneval_asks_for_its_own_column_names(write):
    path = write("samples.jsonl", '{"problem_id": "a", "success": true}\n')
    with pytest.raises(InputError, match=r"missing required column 'task_id'; columns found: 'pr"):
        load_humaneval(path)
    path = write("samples.jsonl", '{"task_id": "a", "success": true}\n')
    with pytest.raises(InputError, match=r"missing required column 'passed'; columns found: 'ta"):
        load_humaneval(path)


def test_humaneval_must_be_json(write):
    path = write("samples.csv", "task_id,passed\nt,true\n")
    with pytest.raises(InputError, match="must be JSON lines"):
        load_humaneval(path)
    assert_counts(load(path), ["t"], [1], [1])  # a CSV with `passed` reads as attempts


def test_explicit_format_overrides_detection(write):
    path = write("counts.csv", "problem_id,success,n,c\nA,1,5,2\n")
    assert_counts(load(path, format="counts"), ["A"], [5], [2])
    assert_counts(load(path, format="attempts"), ["A"], [1], [1])
    with pytest.raises(InputError, match="unknown format 'excel'"):
        load(path, format="excel")


def test_save_counts_round_trip(write, tmp_path):
    path = write("counts.csv", COUNTS.to_csv(index=False))
    data = load_counts(path)
    out = tmp_path / "copy.csv"
    save_counts(data, out)
    for left, right in zip(load_counts(out), data, strict=True):
        np.testing.assert_array_equal(left, right)
    single = PassData.from_counts(["a", "b"], n=[3, 4], c=[0, 4])
    save_counts(single, out)
    assert out.read_text().splitlines()[0] == "problem_id,n,c"
    assert_counts(load_counts(out), ["a", "b"], [3, 4], [0, 4])
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_save_counts_into_missing_folder_raises(tmp_path):
    with pytest.raises(InputError, match="cannot write"):
        save_counts(PassData.from_counts(["a"], [1], [1]), tmp_path / "missing" / "x.csv")


def test_to_frame():
    frame = PassData.from_counts(["a", "b"], n=[3, 4], c=[1, 2], group=["g", "g"]).to_frame()
    assert frame.columns.tolist() == ["problem_id", "n", "c", "group"]
    assert frame.to_dict("list") == {
        "problem_id": ["a", "b"],
        "n": [3, 4],
        "c": [1, 2],
        "group": ["g", "g"],
    }


@pytest.mark.parametrize(
    ("n", "c", "group", "message"),
    [
        ([3, 4], [1, 5], None, r"row 2, column 'c': 5 successes exceed the 4 attempts"),
        ([3, -4], [1, 0], None, r"row 2, column 'n': negative count -4"),
        ([3, 0], [1, 0], None, r"row 2, column 'n': n is 0"),
        ([3, 2**53 + 1], [1, 0], None, r"row 2, column 'n': 9007199254740993 attempts exceed"),
        ([3, 4], [-1, 0], None, r"row 1, column 'c': negative count -1"),
        ([3, 2.5], [1, 0], None, r"row 2, column 'n': expected a whole number, got 2.5"),
        ([3, np.nan], [1, 0], None, r"row 2, column 'n': empty or missing value"),
        # Unsigned counts past int64 would wrap to negative numbers if cast blindly.
        (
            np.array([3, 2**64 - 1], np.uint64),
            [1, 0],
            None,
            r"row 2, column 'n': count 18446744073709551615 is too large",
        ),
        (np.array([3, 4], np.uint8), [1, 5], None, r"row 2, column 'c': 5 successes exceed"),
        (
            [3, 4],
            [1, 0],
            ["g", "g"],
            r"row 2, column 'problem_id': problem 'a' in group 'g' appears twice, in row 1 and",
        ),
    ],
)
def test_from_counts_validates(n, c, group, message):
    with pytest.raises(InputError, match=message):
        PassData.from_counts(["a", "b"] if group is None else ["a", "a"], n, c, group)


def test_a_problem_given_twice_is_named_with_its_first_row_however_far_back(write):
    path = write("twice.csv", "problem_id,n,c\na,10,1\nb,10,2\nc,10,3\na,10,4\n")
    with pytest.raises(
        InputError, match=r"appears twice, in row 1 \(line 2\) and row 4 \(line 5\)"
    ):
        load_counts(path)


def test_from_counts_refuses_columns_of_different_lengths():
    with pytest.raises(InputError, match="differ in length: 3, 1, 3, 3$"):
        PassData.from_counts(["a", "b", "c"], n=[10], c=[1, 2, 3])
    with pytest.raises(InputError, match="differ in length: 2, 2, 2, 3$"):
        PassData.from_counts(["a", "b"], n=[10, 10], c=[1, 2], group=["g", "g", "h"])


def test_counts_at_the_edges_of_their_range():
    # 2^53 attempts are exact in double precision, and allowed; above, refused. Counts of
    # 2^62 and beyond are "too large" however they come: text, or unsigned integers that a
    # blind cast would wrap to negative numbers.
    assert PassData.from_counts(["a"], [2**53], [1]).n.tolist() == [2**53]
    with pytest.raises(InputError, match="9007199254740993 attempts exceed the supported 2"):
        PassData.from_counts(["a"], [2**53 + 1], [1])
    with pytest.raises(InputError, match="count 9223372036854775808 is too large"):
        PassData.from_counts(["a"], np.array([2**63], np.uint64), [1])


@pytest.mark.parametrize("count", [str(2**62), "100000000000000000000000"])
def test_a_count_too_large_for_an_integer_in_a_file_is_named(count, write):
    path = write("huge.csv", f"problem_id,n,c\na,{count},1\n")
    with pytest.raises(InputError, match=f"row 1.*column 'n': count '{count}' is too large"):
        load_counts(path)
    path = write("large.csv", f"problem_id,n,c\na,{2**62 - 1},1\n")
    with pytest.raises(InputError, match=f"{2**62 - 1} attempts exceed the supported 2"):
        load_counts(path)


def test_one_attempt_per_problem_warns_only_where_every_problem_has_one():
    with pytest.warns(UserWarning, match="identifies pass@1 only"):
        warn_if_uninformative(PassData.from_counts(["a", "b"], [1, 1], [0, 1]), "the prior")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_uninformative(PassData.from_counts(["a", "b"], [1, 10], [0, 3]), "the prior")


def test_from_counts_allows_the_same_problem_in_different_groups():
    data = PassData.from_counts(["a", "a"], [3, 4], [1, 0], ["g1", "g2"])
    assert data.groups == ["g1", "g2"]
    with pytest.raises(InputError, match=r"unknown group 'g3'; known groups: g1, g2$"):
        data.select("g3")
    with pytest.raises(InputError, match=r"unknown group 'g1': these data have no groups"):
        PassData.from_counts(["a"], [3], [1]).select("g1")


def test_validate_counts_names_the_source():
    bad = PassData(np.array(["a"]), np.array([0]), np.array([0]), np.array([""]))
    with pytest.raises(InputError, match=r"^results.csv, row 1, column 'n': n is 0"):
        validate_counts(bad, source="results.csv")
    good = PassData.from_counts(["a"], [2], [1])
    for field, value in zip(good, validate_counts(good), strict=True):
        np.testing.assert_array_equal(value, field)


def test_data_built_from_lists_come_back_as_arrays_of_the_loaders_types():
    # Built directly, not by from_counts: what fit and fit_baseline go on with.
    data = validate_counts(PassData(["a", "b"], [10, 10], np.array(["10", "4"]), ["", ""]))
    assert all(isinstance(field, np.ndarray) for field in data)
    assert data.n.dtype == data.c.dtype == np.int64 and data.c.tolist() == [10, 4]
    assert data.problem_id.tolist() == ["a", "b"] and data.groups == [""]


def test_a_group_named_by_a_number_reads_as_its_label(write):
    frame = pd.DataFrame({"problem_id": ["a", "b", "c"], "n": 10, "c": [1, 2, 3]})
    frame["model"] = [1000, 1000, 2000]  # checkpoints named by their training step
    data = PassData.from_frame(frame)
    assert data.groups == ["1000", "2000"]
    for name in (2000, 2000.0, np.int64(2000), " 2000", "2000"):
        assert data.select(name).problem_id.tolist() == ["c"]
    assert PassData.from_frame(frame, group=1000).problem_id.tolist() == ["a", "b"]
    assert load(write("steps.csv", frame.to_csv(index=False)), group=2000).c.tolist() == [3]
    for bad in (True, None, ["2000"]):
        with pytest.raises(InputError, match="a group is named by text or a number"):
            data.select(bad)
    with pytest.raises(InputError, match="unknown group '3000'; known groups: 1000, 2000"):
        data.select(3000)


def test_parquet_rows_are_numbered_without_lines(write):
    frame = pd.DataFrame({"problem_id": ["a", "b"], "n": [5, 5], "c": [1, 6]})
    path = write("bad.parquet", frame)
    with pytest.raises(InputError, match=r"bad.parquet, row 2, column 'c': 6 successes exceed"):
        load_counts(path)


def test_parquet_nulls_are_missing_values(write):
    frame = pd.DataFrame({"problem_id": ["a", "b"], "n": [5, None], "c": [1, 2]})
    with pytest.raises(InputError, match=r"row 2, column 'n': empty or missing value"):
        load_counts(write("nulls.parquet", frame))


def test_counts_and_attempts_columns_together_need_a_format(write):
    path = write("mixed.csv", "problem_id,n,c,success\na,10,1,1\n")
    with pytest.raises(InputError, match=r"mixed.csv: has both counts columns .* \(--format\)"):
        load(path)
    assert load(path, format="counts").n.tolist() == [10]
    assert load(path, format="attempts").n.tolist() == [1]


def test_parquet_with_a_repeated_column_names_it(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "repeated.parquet"
    columns = [pa.array(["a"]), pa.array([3]), pa.array([1]), pa.array([3])]
    pq.write_table(pa.Table.from_arrays(columns, names=["problem_id", "n", "c", "n"]), path)
    with pytest.raises(InputError, match=r"^\S*repeated.parquet: column 'n' appears twice$"):
        load_counts(path)


def test_parquet_lists_and_structs_are_bad_cells(write):
    frame = pd.DataFrame({"problem_id": ["a", "b"], "n": [[1, 2], [3]], "c": [1, 1]})
    with pytest.raises(
        InputError, match=r"row 1, column 'n': expected a whole number, got '\[1, 2\]'"
    ):
        load_counts(write("lists.parquet", frame))
    frame = pd.DataFrame({"problem_id": ["a", "b"], "n": [3, 3], "c": [{"x": 1}, {"x": 2}]})
    with pytest.raises(InputError, match=r"row 1, column 'c': expected a whole number"):
        load_counts(write("structs.parquet", frame))
    # Nor is a list a label (it was read as its text, "[1, 2]").
    frame = pd.DataFrame({"problem_id": [[1, 2], [3]], "n": [3, 3], "c": [1, 1]})
    with pytest.raises(
        InputError, match=r"row 1, column 'problem_id': expected text or a number, got a list"
    ):
        load_counts(write("listed.parquet", frame))


def test_parquet_without_pyarrow_says_how_to_install_it(write, monkeypatch):
    path = write("counts.parquet", COUNTS)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(InputError, match="needs pyarrow: pip install pyarrow"):
        load(path)


def test_json_array_rows_and_nested_values(write):
    path = write("counts.json", json.dumps([{"problem_id": "a", "n": [1, 2], "c": 0}]))
    with pytest.raises(
        InputError, match=r"counts.json, row 1, column 'n': expected a whole number, got '\[1, 2\]'"
    ):
        load(path)
    # Labels are text or numbers: a list or an object is refused where it stands, as a count.
    records = [{"problem_id": "a", "success": 1}, {"problem_id": ["b"], "success": 0}]
    with pytest.raises(
        InputError,
        match=r"row 2, column 'problem_id': expected text or a number, got a list \(\[.b.\]\)$",
    ):
        load(write("attempts.json", json.dumps(records)))
    records = [{"problem_id": "a", "n": 2, "c": 1, "group": {"model": "m"}}]
    with pytest.raises(
        InputError,
        match=r"row 1, column 'group': expected text or a number, got an object \(\{.model",
    ):
        load(write("grouped.json", json.dumps(records)))


def test_json_lines_must_be_objects(write):
    path = write("counts.jsonl", '{"problem_id": "a", "n": 1, "c": 0}\n[1, 2, 3]\n')
    with pytest.raises(InputError, match=r"line 2: expected a JSON object"):
        load(path)


def test_a_key_given_twice_in_a_json_record_is_refused(write):
    # Python's json keeps the last value without a word; which one the writer meant is unclear.
    good = '{"problem_id": "a", "n": 10, "c": 3}'
    twice = '{"problem_id": "b", "n": 10, "c": 1, "c": 3}'
    for name, text, location in [
        ("counts.jsonl", f"{good}\n{twice}\n", "line 2"),
        ("counts.json", f"[{good}, {twice}]", "row 2"),
        ("one.json", twice, "line 1"),
    ]:
        with pytest.raises(InputError, match=rf"{name}, {location}: the key 'c' is given twice"):
            load(write(name, text))
    # A repeat inside a nested value, which no column of the data reads, is no matter.
    nested = '{"problem_id": "a", "n": 10, "c": 3, "meta": {"x": 1, "x": 2}}'
    assert load(write("nested.jsonl", nested)).c.tolist() == [3]


def test_a_json_cell_missing_from_one_line_is_a_missing_value(write):
    path = write(
        "counts.jsonl", jsonl([{"problem_id": "a", "n": 1, "c": 0}, {"problem_id": "b", "n": 2}])
    )
    with pytest.raises(
        InputError, match=r"row 2 \(line 2\), column 'c': empty or missing value \(None\)"
    ):
        load(path)


def test_two_aliases_for_one_field_are_ambiguous(write):
    path = write("two.csv", "task_id,problem,n,c\na,b,1,0\n")
    with pytest.raises(InputError, match="columns 'task_id', 'problem' all name 'problem_id'"):
        load(path)


def test_the_canonical_name_wins_over_an_alias(write):
    # problem_id is the key; problem (here the problem's text) and model are other columns.
    path = write(
        "two.csv",
        "problem_id,problem,model,group,n,c\n"
        "p1,Add 2 and 2,gpt,A,10,3\np2,Add 2 and 2,gpt,A,10,0\np1,Sum,gpt,B,5,5\n",
    )
    data = load(path)
    assert list(data.problem_id) == ["p1", "p2", "p1"] and list(data.group) == ["A", "A", "B"]
    assert list(data.n) == [10, 10, 5] and list(data.c) == [3, 0, 5]


def test_attempts_reject_values_that_are_not_booleans(write):
    path = write(
        "attempts.jsonl",
        jsonl([{"problem_id": "a", "success": True}, {"problem_id": "a", "success": 2}]),
    )
    with pytest.raises(
        InputError, match=r"row 2 \(line 2\), column 'success': expected true/false or 1/0, got 2"
    ):
        load(path)
    blank = write("attempts.csv", "problem_id,success\na,1\na, \n")
    with pytest.raises(InputError, match=r"row 2 \(line 3\), column 'success': empty or missing"):
        load(blank)


def test_from_counts_reads_labels_like_a_file():
    data = PassData.from_counts([1.0, " x ", "007"], [3, 3, 3], [1, 0, 2], ["m", "m", "m"])
    assert data.problem_id.tolist() == ["1", "x", "007"] and data.groups == ["m"]
    for ids, group, fragment in [
        ([np.nan, "b"], None, "row 1, column 'problem_id': empty or missing value"),
        (["a", "b"], ["", "m"], "row 1, column 'group': empty or missing value"),
        (["a", "b"], [None, "m"], "row 1, column 'group': empty or missing value"),
    ]:
        with pytest.raises(InputError, match=fragment):
            PassData.from_counts(ids, [3, 3], [1, 1], group)


@pytest.mark.parametrize(
    "content",
    [
        "problem_id;n;c\na;10;3\nb;10;0\n",  # spreadsheets with a decimal comma
        "problem_id\tn\tc\na\t10\t3\nb\t10\t0\n",
        "problem_id,n,c,,\na,10,3,,\nb,10,0,,\n",  # empty trailing columns, as spreadsheets save
        "\ufeffproblem_id,n,c\r\na,10,3\r\nb,10,0\r\n",  # Excel's "CSV UTF-8": a BOM, CRLF
        "\ufeffproblem_id,n,c\na,10,3\nb,10,0\n",
        "problem_id,n,c,note;x\na,10,3,y\nb,10,0,z\n",  # a comma beats a ';' in a name
    ],
    ids=["semicolons", "tabs", "empty-trailing-columns", "bom-crlf", "bom", "comma-and-semicolon"],
)
def test_spreadsheet_csv_variants(write, content):
    assert_counts(load(write("counts.csv", content)), ["a", "b"], [10, 10], [3, 0])


def test_a_byte_order_mark_before_json_is_read_past(write):
    lines = '\ufeff{"problem_id": "a", "n": 10, "c": 3}\r\n{"problem_id": "b", "n": 10, "c": 0}\n'
    assert_counts(load(write("counts.jsonl", lines)), ["a", "b"], [10, 10], [3, 0])


def test_tsv_files_are_tab_separated_even_with_commas_in_a_name(write):
    path = write("counts.tsv", "problem_id\tn\tc\na,1\t10\t3\nb\t10\t0\n")
    assert_counts(load(path), ["a,1", "b"], [10, 10], [3, 0])


def test_one_outcome_per_row_under_a_counts_name_is_told_to_use_success(write):
    path = write("attempts.csv", "problem_id,correct\na,1\na,0\n")
    with pytest.raises(InputError, match="missing required column 'n'.*a 'success' column"):
        load(path)


def test_a_group_asked_for_with_spaces_is_trimmed_as_the_file_labels_are(write):
    path = write("counts.csv", COUNTS.to_csv(index=False))
    assert load(path, group=" m1 ").group.tolist() == ["m1", "m1"]


def test_a_thousands_separator_gets_a_hint(write):
    path = write("counts.csv", 'problem_id,n,c\na,"1,000",3\n')
    with pytest.raises(
        InputError,
        match=r"row 1 \(line 2\), column 'n': expected a whole number, got '1,000' "
        r"\(write counts without thousands separators\)",
    ):
        load(path)


def test_a_dataframe_reads_like_a_file():
    frame = pd.DataFrame(
        {
            "Model": ["A", "A", "B"],
            "task_id": ["p1", "p2", "p1"],
            "attempts": [10, 10, 5],
            "num_correct": [3, 0, 5],
        },
        index=[7, 8, 9],
    )
    data = PassData.from_frame(frame)
    assert data.group.tolist() == ["A", "A", "B"] and data.n.tolist() == [10, 10, 5]
    assert load(frame, group="B").c.tolist() == [5]
    # A slice keeps its own index; messages name the row by position and by index label.
    frame.loc[9, "num_correct"] = 6
    with pytest.raises(
        InputError, match=r"DataFrame, row 2 \(index 9\), column 'num_correct': 6 successes"
    ):
        PassData.from_frame(frame[frame.index > 7])
    attempts = pd.DataFrame({"problem_id": ["a", "a", "b"], "success": [True, False, False]})
    assert PassData.from_frame(attempts).n.tolist() == [2, 1]


def test_a_dataframe_without_the_columns_says_which_it_needs():
    with pytest.raises(InputError, match=r"DataFrame: missing required column 'problem_id'"):
        PassData.from_frame(pd.DataFrame({"id": ["a"], "n": [1], "c": [0]}))
    with pytest.raises(InputError, match="DataFrame has no rows"):
        PassData.from_frame(pd.DataFrame({"problem_id": [], "n": [], "c": []}))
    with pytest.raises(InputError, match="expected a pandas DataFrame, got dict"):
        PassData.from_frame({"problem_id": ["a"], "n": [1], "c": [0]})


def test_from_counts_takes_a_single_problem_and_refuses_a_table():
    assert PassData.from_counts("a", 10, 1).n.tolist() == [10]
    with pytest.raises(InputError, match=r"n must be one-dimensional, got shape \(1, 2\)"):
        PassData.from_counts(["a", "b"], [[10, 10]], [1, 2])


def test_from_counts_refuses_what_no_file_could_hold_and_reads_bytes_as_text():
    with pytest.raises(InputError, match="^problem_id must be a list or array, got dict$"):
        PassData.from_counts({"a": 1}, [10], [0])  # was pandas' "unhashable type: 'dict'"
    with pytest.raises(InputError, match="^n must be a list or array, got set$"):
        PassData.from_counts(["a"], {10}, [0])
    masked = np.ma.masked_array([10, 20], mask=[0, 1])  # was read as n = [10, 20]
    with pytest.raises(InputError, match="^n has a masked \\(missing\\) value at index 1$"):
        PassData.from_counts(["a", "b"], masked, [0, 0])
    unmasked = PassData.from_counts(["a", "b"], np.ma.masked_array([10, 20]), [0, 0])
    assert unmasked.n.tolist() == [10, 20]
    read = PassData.from_counts([b"a", np.bytes_(b"b")], [10, 10], [0, 0])  # was "b'a'"
    assert read.problem_id.tolist() == ["a", "b"]


def test_repr_is_a_summary_not_the_arrays():
    one = PassData.from_counts(["a"], [3], [1])
    assert repr(one) == "PassData(1 problem, n 3..3, c 1 in all)"
    many = PassData.from_counts(list("abcd"), [5, 9, 9, 9], [0, 1, 2, 3], group=list("wxyz"))
    assert repr(many) == "PassData(4 problems in 4 groups ('w', 'x', 'y', ...), n 5..9, c 6 in all)"


def test_uninformative_counts_are_named_without_a_fit():
    # The checks fits and point methods run first (their slow test runs them through fits).
    from bayes_passk.data import warn_if_uninformative

    for n, c, said in [
        ([1, 1], [0, 1], r"^one attempt per problem identifies pass@1 only; .* from the prior"),
        ([5, 3], [0, 0], r"^no attempt succeeded in 8: .* beyond k = 5 comes from the prior$"),
        ([1, 10], [1, 10], r"^every attempt succeeded \(11\): .* comes from the prior$"),
    ]:
        with pytest.warns(UserWarning, match=said) as caught:
            warn_if_uninformative(PassData.from_counts(["a", "b"], n, c), "the prior")
        assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_uninformative(PassData.from_counts(["a", "b"], [10, 10], [0, 10]), "the prior")


def test_name_number_keeps_the_parts_apart():
    import zlib

    # The crc32 of the parts joined by a unit separator: moving a character across a boundary
    # gives another name (without the separator, ("ab", "c") and ("a", "bc") seeded alike).
    assert name_number("a", "b", 3) == zlib.crc32(b"a\x1fb\x1f3.0")
    assert name_number("ab", "c") != name_number("a", "bc")


def test_a_single_named_group_survives_saving(tmp_path):
    data = PassData.from_counts(["a", "b"], n=[3, 4], c=[0, 4], group=["m", "m"])
    save_counts(data, tmp_path / "counts.csv")
    back = load_counts(tmp_path / "counts.csv")
    assert back.group.tolist() == ["m", "m"] and back.groups == ["m"]


def test_one_solved_attempt_each_warns_once():
    with pytest.warns(UserWarning) as caught:
        warn_if_uninformative(PassData.from_counts(["a", "b"], [1, 1], [1, 1]), "the prior")
    [message] = [str(w.message) for w in caught]
    assert message.startswith("one attempt per problem identifies pass@1 only")


def test_an_attempts_table_may_carry_one_count_like_column(tmp_path):
    # "correct" (a count alias) holds the reference answer here: with no n beside it, the
    # table is per attempt, not ambiguous.
    path = tmp_path / "attempts.csv"
    path.write_text("problem_id,success,correct\nA,1,42\nA,0,42\nB,1,7\n")
    data = load(path)
    assert (data.problem_id.tolist(), data.n.tolist(), data.c.tolist()) == (
        ["A", "B"],
        [2, 1],
        [1, 1],
    )


def test_number_labels_read_as_they_are_written(tmp_path):
    # 2 and 2.0 are one problem; 2.5 another; a JSON true is the label "True", not 1 (a
    # factorization that takes True for 1 had merged the two problems, or two attempt ids).
    path = tmp_path / "attempts.jsonl"
    records = [(2.5, 1, 0), (2, 0, 0), (2.0, 1, 1), (1, 1, 0), (True, 0, 0), (1, 0, True)]
    path.write_text(jsonl({"problem_id": p, "success": s, "attempt": a} for p, s, a in records))
    data = load(path)
    assert data.problem_id.tolist() == ["2.5", "2", "1", "True"]
    assert data.n.tolist() == [1, 2, 2, 1] and data.c.tolist() == [1, 1, 1, 0]
    labels = PassData.from_counts([1, True, 2.0, "x"], [2, 2, 2, 2], [1, 1, 1, 1])
    assert labels.problem_id.tolist() == ["1", "True", "2", "x"]


def test_counts_of_the_wrong_kind_are_refused(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("problem_id,n,c\na,5,-99999999999999999999\n")
    with pytest.raises(InputError, match=r"row 1 \(line 2\), column 'c': count .* is too large"):
        load(path)
    durations = np.array([3], dtype="timedelta64[s]")  # numpy calls it a signed integer
    with pytest.raises(InputError, match=r"row 1, column 'n': expected a whole number"):
        PassData.from_counts(["a"], durations, [1])
