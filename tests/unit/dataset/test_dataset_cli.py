"""``python -m tuner validate`` and ``prepare``: exit codes, the JSON shape, readable summaries."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lambdas.dataset.report import ErrorCode, WarningCode
from tuner.cli import main

CLAUDE_ID = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def write_claude(path: Path, count: int, bad_line: int | None = None) -> Path:
    lines = []
    for index in range(count):
        record = {
            "system": "Be brief.",
            "messages": [{"role": "user", "content": f"Q{index}?"}, {"role": "assistant", "content": f"A{index}."}],
        }
        lines.append(json.dumps(record) if index + 1 != bad_line else '{"messages": 5}')
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validate_json_is_one_object_of_the_documented_shape(tmp_path, capsys):
    path = write_claude(tmp_path / "train.jsonl", 40, bad_line=4)
    code = main(["validate", str(path), "--model", CLAUDE_ID, "--json"])
    out = capsys.readouterr().out
    document = json.loads(out)  # exactly one JSON document on stdout
    assert code == 1
    assert set(document) == {"valid", "records", "errors", "warnings", "stats"}
    assert document["valid"] is False
    assert document["errors"] == [
        {"line": 4, "code": "wrong_type", "message": '"messages" must be an array, not a number'}
    ]


def test_validate_valid_file_exits_0_with_a_summary(tmp_path, capsys):
    path = write_claude(tmp_path / "train.jsonl", 40)
    assert (
        main(["validate", str(path), "--model", CLAUDE_ID, "--role", "training", "--price-per-1k-tokens", "0.008"]) == 0
    )
    out = capsys.readouterr().out
    assert "VALID for Anthropic Claude 3 Haiku" in out
    assert "median" in out
    assert "$" in out


def test_validate_summary_groups_errors_by_code(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text("1\n2\n3\n4\n5\n6\n7\n")
    assert main(["validate", str(path), "--model", CLAUDE_ID]) == 1
    out = capsys.readouterr().out
    assert "not_an_object x7 lines 1, 2, 3, 4, 5, ..." in out
    assert "too_few_records x1" in out


def test_validation_role_uses_validation_limits(tmp_path, capsys):
    path = write_claude(tmp_path / "validation.jsonl", 1_001)
    assert main(["validate", str(path), "--model", CLAUDE_ID]) == 0
    assert main(["validate", str(path), "--model", CLAUDE_ID, "--role", "validation", "--json"]) == 1
    document = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert [error["code"] for error in document["errors"]] == ["too_many_records"]


def test_validate_defaults_to_the_registry_default_model(tmp_path, capsys):
    path = write_claude(tmp_path / "train.jsonl", 40)
    main(["validate", str(path), "--json"])
    assert json.loads(capsys.readouterr().out)["stats"]["model_id"] == "amazon.nova-lite-v1:0:300k"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "missing.jsonl"], "missing.jsonl: no such file"),
        (["validate", "{file}", "--model", "no.such-model"], "unknown base model id 'no.such-model'"),
        (["prepare", "missing.json", "--model", CLAUDE_ID, "--out", "out"], "no such file"),
        (
            ["prepare", "{file}", "--model", CLAUDE_ID, "--out", "out", "--test-fraction", "0.85"],
            "must leave at least 10%",
        ),
        (
            ["prepare", "{file}", "--model", CLAUDE_ID, "--out", "out", "--question-key", "answer"],
            "the question and answer keys must differ (both are 'answer')",
        ),
        (
            ["prepare", "{file}", "--model", CLAUDE_ID, "--out", "out", "--system-prompt", "Be brief \udc80"],
            "the system prompt is not valid text",
        ),
        (
            ["prepare", "{file}", "--model", CLAUDE_ID, "--out", "{dir}"],
            "train.jsonl there is {file} itself, which preparing would overwrite",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    path = write_claude(tmp_path / "train.jsonl", 40)
    assert main([arg.replace("{file}", str(path)).replace("{dir}", str(tmp_path)) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert message.replace("{file}", str(path)) in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_prepare_writes_splits_and_exits_0(tmp_path, capsys):
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps([{"q": f"Question {i}?", "a": f"Answer {i}."} for i in range(400)]))
    out_dir = tmp_path / "out"
    argv = [
        "prepare",
        str(raw),
        "--model",
        CLAUDE_ID,
        "--out",
        str(out_dir),
        "--question-key",
        "q",
        "--answer-key",
        "a",
    ]
    assert main([*argv, "--system-prompt", "Be brief.", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "train" in printed
    assert "320 records" in printed
    assert sorted(path.name for path in out_dir.iterdir()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    assert len((out_dir / "train.jsonl").read_text().splitlines()) == 320
    first = json.loads((out_dir / "train.jsonl").read_text().splitlines()[0])
    assert first["system"] == "Be brief."
    # And the files it wrote pass validate
    assert main(["validate", str(out_dir / "train.jsonl"), "--model", CLAUDE_ID]) == 0
    assert main(["validate", str(out_dir / "validation.jsonl"), "--model", CLAUDE_ID, "--role", "validation"]) == 0


@pytest.mark.parametrize("price", ["nan", "inf", "-1", "free"])
@pytest.mark.parametrize("command", ["validate", "prepare"])
def test_a_price_must_be_dollars_0_or_more(tmp_path, capsys, command, price):
    path = write_claude(tmp_path / "train.jsonl", 40)
    argv = [command, str(path), "--model", CLAUDE_ID, "--price-per-1k-tokens", price]
    with pytest.raises(SystemExit) as exit_info:  # argparse's usage error
        main([*argv, "--out", str(tmp_path / "out")] if command == "prepare" else argv)
    assert exit_info.value.code == 2
    assert f"argument --price-per-1k-tokens: {price!r} is not a price" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_prepare_never_overwrites_its_input(tmp_path, capsys):
    # Given a model-format train.jsonl prepared into its own folder: the split would replace the file read
    path = write_claude(tmp_path / "train.jsonl", 40)
    before = path.read_bytes()
    assert main(["prepare", str(path), "--model", CLAUDE_ID, "--out", str(tmp_path)]) == 2
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.jsonl"]


def test_prepare_rejects_too_little_data_and_writes_nothing(tmp_path, capsys):
    raw = tmp_path / "raw.jsonl"
    raw.write_text("".join(json.dumps({"question": f"Q{i}?", "answer": "A."}) + "\n" for i in range(20)))
    out_dir = tmp_path / "out"
    assert main(["prepare", str(raw), "--model", CLAUDE_ID, "--out", str(out_dir)]) == 1
    assert "too_few_records" in capsys.readouterr().out
    assert not out_dir.exists() or not list(out_dir.iterdir())


def test_reference_raw_faq_prepares_into_a_valid_dataset(tmp_path, capsys, reference_run: Path):
    out_dir = tmp_path / "out"
    argv = ["prepare", str(reference_run / "bedrock_faq_raw.json"), "--model", CLAUDE_ID, "--out", str(out_dir)]
    assert main([*argv, "--question-key", "sentence1", "--answer-key", "sentence2"]) == 0
    assert len((out_dir / "train.jsonl").read_text().splitlines()) == 77
    assert len((out_dir / "test.jsonl").read_text().splitlines()) == 8
    assert not (out_dir / "validation.jsonl").exists()


def test_validate_help_lists_every_error_and_warning_code(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", "--help"])
    assert exit_info.value.code == 0
    words = {word.rstrip(",") for word in capsys.readouterr().out.split()}
    assert {code.value for code in [*ErrorCode, *WarningCode]} <= words


def test_validate_by_default_answers_for_the_drop_with_its_split(tmp_path, capsys):
    path = write_claude(tmp_path / "train.jsonl", 40)
    assert main(["validate", str(path), "--model", CLAUDE_ID]) == 0
    out = capsys.readouterr().out
    assert "dropped into the bucket as is, the run would be ACCEPTED for Anthropic Claude 3 Haiku" in out
    assert "split: train 36, validation 0, test 4" in out
    # 10% of 40 is below the model's validation minimum of 32: said, not silently dropped
    assert "validation_split_dropped" in out


def test_validate_answers_for_a_json_array_of_pairs_as_the_drop(tmp_path, capsys):
    raw = tmp_path / "faq.json"
    raw.write_text(json.dumps([{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(40)], indent=2))
    assert main(["validate", str(raw), "--model", CLAUDE_ID]) == 0
    out = capsys.readouterr().out
    assert "the run would be ACCEPTED" in out
    assert "40 records (converted from a JSON array of raw question/answer pairs)" in out


def test_validate_and_prepare_read_gzip_and_say_the_decompressed_size(tmp_path, capsys):
    data = "".join(json.dumps({"question": f"Q{i}?", "answer": f"A{i}."}) + "\n" for i in range(40)).encode()
    raw = tmp_path / "DATA.JSONL.GZ"
    raw.write_bytes(gzip.compress(data))
    assert main(["validate", str(raw), "--model", CLAUDE_ID]) == 0
    assert f"gzip, {len(data):,} bytes decompressed" in capsys.readouterr().out
    assert main(["prepare", str(raw), "--model", CLAUDE_ID, "--out", str(tmp_path / "out")]) == 0
    assert len((tmp_path / "out" / "train.jsonl").read_text().splitlines()) == 36


@pytest.mark.parametrize("command", ["validate", "prepare"])
def test_an_unsupported_format_is_rejected_by_both_commands_as_by_the_step(tmp_path, capsys, command):
    path = tmp_path / "data.csv"
    path.write_text("question,answer\nQ?,A.\n")
    argv = [command, str(path), "--model", CLAUDE_ID]
    assert main([*argv, "--out", str(tmp_path / "out")] if command == "prepare" else argv) == 1
    out = capsys.readouterr().out
    assert "unsupported_format x1: 'data.csv' is a .csv file: the pipeline does not read CSV; upload JSON Lines" in out
    assert not (tmp_path / "out").exists()
