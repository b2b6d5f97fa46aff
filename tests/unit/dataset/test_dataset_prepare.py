"""Preparation: raw Q/A detection and conversion, the split plan within model limits, seeded exact-count splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lambdas.dataset.prepare import (
    DatasetKind,
    PreparationOptions,
    assign_splits,
    detect_kind,
    plan_split,
    prepare_dataset,
)
from lambdas.dataset.report import SplitCounts
from lambdas.registry import get_model
from lambdas.settings import QaKeys, SplitSettings

CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
NOVA = get_model("amazon.nova-lite-v1:0:300k")
LLAMA31 = get_model("meta.llama3-1-8b-instruct-v1:0:128k")


def prepare(data: bytes, spec, tmp_path: Path, chunk: int = 4096, **options: Any):
    chunks = [data[start : start + chunk] for start in range(0, len(data), chunk)]
    return prepare_dataset(lambda: iter(chunks), spec, tmp_path / "out", PreparationOptions(**options))


def qa_lines(count: int, **extra: Any) -> bytes:
    return b"".join(
        json.dumps({"question": f"Q{i}?", "answer": f"A{i}.", **extra}).encode() + b"\n" for i in range(count)
    )


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b'[{"question": "q", "answer": "a"}]', DatasetKind.JSON_ARRAY),
        (b'\xef\xbb\xbf  [\n {"x": 1}', DatasetKind.JSON_ARRAY),
        (b'{"question": "q", "answer": "a"}\n{"question"', DatasetKind.RAW_QA_JSONL),
        (b'{"messages": [], "question": "q", "answer": "a"}\n', DatasetKind.MODEL_JSONL),
        (b'{"system": "s", "messages": []}\n', DatasetKind.MODEL_JSONL),
        (b"not json at all\n", DatasetKind.MODEL_JSONL),
    ],
)
def test_detect_kind(head, kind):
    assert detect_kind(head, QaKeys()) is kind


def test_detect_kind_uses_configured_keys():
    head = b'{"sentence1": "q", "sentence2": "a"}\n'
    assert detect_kind(head, QaKeys()) is DatasetKind.MODEL_JSONL
    assert detect_kind(head, QaKeys(question="sentence1", answer="sentence2")) is DatasetKind.RAW_QA_JSONL


@pytest.mark.parametrize(
    ("records", "spec", "expected"),
    [
        (85, CLAUDE, SplitCounts(train=77, validation=0, test=8)),  # 8 < Claude's validation minimum of 32
        (400, CLAUDE, SplitCounts(train=320, validation=40, test=40)),
        (35, CLAUDE, SplitCounts(train=32, validation=0, test=3)),  # test shrinks to keep the training minimum
        (100, NOVA, SplitCounts(train=80, validation=10, test=10)),  # Nova documents no validation minimum
        (20_000, CLAUDE, SplitCounts(train=17_000, validation=1_000, test=2_000)),  # validation capped at 1,000
    ],
)
def test_plan_split_respects_model_limits(records, spec, expected):
    counts, problems = plan_split(records, spec, SplitSettings())
    assert counts == expected
    if records <= 10_000:
        assert problems == []


def test_plan_split_rejects_too_few_for_training():
    counts, problems = plan_split(20, CLAUDE, SplitSettings())
    assert counts.test == 0
    assert [code for code, _ in problems] == ["too_few_records"]


def test_plan_split_rejects_too_many_in_all():
    _, problems = plan_split(20_000, CLAUDE, SplitSettings())
    assert "too_many_records" in [code for code, _ in problems]


def test_assign_splits_is_exact_seeded_and_deterministic():
    counts = SplitCounts(train=700, validation=150, test=150)
    first = list(assign_splits(counts, seed=1))
    assert Counter(first) == {"train": 700, "validation": 150, "test": 150}
    assert list(assign_splits(counts, seed=1)) == first
    assert list(assign_splits(counts, seed=2)) != first


def test_raw_qa_problems_carry_their_line(tmp_path):
    # Given raw JSONL where line 3 lacks an answer and line 5 is not an object
    lines = qa_lines(40).splitlines()
    lines[2] = b'{"question": "Q?"}'
    lines[4] = b'"just a string"'
    report = prepare(b"\n".join(lines) + b"\n", CLAUDE, tmp_path).report
    assert not report.valid
    assert [(p.line, p.code) for p in report.errors] == [(3, "missing_field"), (5, "not_an_object")]
    assert "'answer'" in report.errors[0].message


def test_raw_qa_items_are_checked_in_the_model_format(tmp_path):
    # Given raw pairs where pair 7's answer contains Claude's reserved "\nHuman:"
    items = [{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(40)]
    items[6]["answer"] = "Sure.\nHuman: more"
    report = prepare(json.dumps(items).encode(), CLAUDE, tmp_path).report
    assert [(p.line, p.code) for p in report.errors] == [(7, "reserved_string")]
    assert report.stats.prepared_from_raw_qa


def test_model_format_jsonl_passes_through_unchanged(tmp_path):
    records = [
        {"system": "S", "messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(50)
    ]
    data = "".join(json.dumps(record) + "\r\n" for record in records).encode()
    prepared = prepare(data, CLAUDE, tmp_path, system_prompt="ignored for data already in the model's format")
    assert prepared.report.valid, prepared.report.errors
    assert prepared.kind is DatasetKind.MODEL_JSONL
    assert not prepared.report.stats.prepared_from_raw_qa
    written = [json.loads(line) for name in ("train", "test") for line in prepared.files[name].read_text().splitlines()]
    assert sorted(written, key=str) == sorted(records, key=str)


def test_nova_output_is_converse_format(tmp_path):
    prepared = prepare(qa_lines(100), NOVA, tmp_path, system_prompt="Be brief.")
    assert prepared.report.valid
    record = json.loads(prepared.files["train"].read_text().splitlines()[0])
    assert record["schemaVersion"] == "bedrock-conversation-2024"
    assert record["system"] == [{"text": "Be brief."}]


def test_a_json_array_in_the_model_format_is_rejected_with_a_hint(tmp_path):
    records = [{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}] * 40
    report = prepare(json.dumps(records).encode(), CLAUDE, tmp_path).report
    assert [(p.line, p.code) for p in report.errors] == [(None, "json_array_not_jsonl")]
    assert "first item has keys: messages" in report.errors[0].message


def test_no_partial_files_are_left_behind(tmp_path):
    prepared = prepare(qa_lines(400), CLAUDE, tmp_path)
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "test.jsonl",
        "train.jsonl",
        "validation.jsonl",
    ]
    assert prepared.report.stats.split == SplitCounts(train=320, validation=40, test=40)


def test_billed_tokens_count_the_training_split_only(tmp_path):
    prepared = prepare(qa_lines(400), CLAUDE, tmp_path, epochs=3)
    stats = prepared.report.stats
    assert stats.estimated_billed_tokens is not None
    assert stats.estimated_billed_tokens < stats.total_tokens * 3
    assert stats.estimated_billed_tokens % 3 == 0


def test_a_raw_json_array_is_parsed_only_up_to_a_size_bound(tmp_path, monkeypatch):
    # Given a raw array bigger than the bound (lowered here to 1 kB)
    monkeypatch.setattr("lambdas.dataset.prepare.RAW_ARRAY_MAX_BYTES", 1_000)
    items = [{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(100)]
    report = prepare(json.dumps(items).encode(), CLAUDE, tmp_path, chunk=256).report
    # Then it is rejected as a file-level problem pointing to JSONL, not parsed
    assert [(p.line, p.code) for p in report.errors] == [(None, "raw_array_too_large")]
    assert "JSON Lines" in report.errors[0].message


def test_a_json_array_nested_too_deeply_is_rejected_not_a_crash(tmp_path):
    prepared = prepare(b"[" * 50_000 + b"]" * 50_000, CLAUDE, tmp_path)
    assert [(p.line, p.code) for p in prepared.report.errors] == [(None, "invalid_json")]
    assert "nested too deeply" in prepared.report.errors[0].message
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("as_array", [True, False], ids=["json-array", "jsonl"])
def test_half_a_surrogate_pair_in_raw_pairs_is_rejected_and_nothing_is_written(tmp_path, as_array):
    # Given raw pairs where item 4's answer holds "\\ud800" (it could not be written as UTF-8)
    items = [{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(400)]
    items[3]["answer"] = "A \ud800."
    data = json.dumps(items) if as_array else "".join(json.dumps(item) + "\n" for item in items)
    prepared = prepare(data.encode(), CLAUDE, tmp_path)
    # Then it is the one problem, on its item, and no file (not even a partial one) is left
    assert [(p.line, p.code) for p in prepared.report.errors] == [(4, "lone_surrogate")]
    assert prepared.files == {}
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_system_prompt_that_is_not_text_is_refused_before_reading():
    with pytest.raises(ValueError, match="the system prompt is not valid text"):
        PreparationOptions(system_prompt="Be brief \udc80")


def test_raw_qa_detection_reads_a_long_first_record_whole(tmp_path):
    long_answer = "word " * 18_000  # 90 kB, past the first 64 kB read, within 32,000 tokens
    data = json.dumps({"question": "Q?", "answer": long_answer}).encode() + b"\n" + qa_lines(60)
    prepared = prepare(data, CLAUDE, tmp_path, chunk=65_536)
    assert prepared.kind is DatasetKind.RAW_QA_JSONL
    assert prepared.report.valid, prepared.report.errors
