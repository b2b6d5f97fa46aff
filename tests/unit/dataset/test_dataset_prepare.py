"""Preparation: raw Q/A detection and conversion, the split plan within model limits, seeded exact-count splits
that keep every record of a repeated question in one split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lambdas.dataset.prepare import (
    DatasetKind,
    PreparationOptions,
    QuestionGroups,
    SplitAssignment,
    assign_splits,
    detect_kind,
    plan_split,
    prepare_dataset,
    question_key,
)
from lambdas.dataset.report import SplitCounts
from lambdas.evaluation.leakage import question_of_record
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


def test_a_raw_json_array_item_longer_than_a_record_may_be_is_refused_not_buffered(tmp_path):
    # Given a raw array whose item 3 is longer than the bound on one record (lowered here to 1 kB)
    items = [{"question": f"Q{i}?", "answer": f"A{i}."} for i in range(100)]
    items[2]["answer"] = "x" * 5_000
    report = prepare(json.dumps(items).encode(), CLAUDE, tmp_path, chunk=256, max_line_bytes=1_000).report
    # Then reading stops there with one file-level problem naming the item, as for an over-long JSONL line
    assert [(p.line, p.code) for p in report.errors] == [(None, "line_too_long")]
    assert "item 3 of the JSON array" in report.errors[0].message


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


# -- repeated questions stay in one split ---------------------------------------------------------------------------

BEDROCK_VARIANTS = ["What is Amazon Bedrock?", "what is amazon bedrock", "  WHAT is Amazon   Bedrock ?!"]


def qa_with_repeats(count: int, repeats: dict[int, str]) -> bytes:
    """``count`` raw pairs with distinct questions, except at the positions in ``repeats``."""
    items = [{"question": repeats.get(i, f"Q{i}?"), "answer": f"A{i}."} for i in range(count)]
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def splits_by_question(prepared, spec) -> dict[str, list[str]]:
    """Each written question (as written) with the split of every record that asks it."""
    where: dict[str, list[str]] = {}
    for split, path in prepared.files.items():
        for line in path.read_text().splitlines():
            where.setdefault(question_of_record(json.loads(line), spec), []).append(split)
    return where


@pytest.mark.parametrize("seed", range(6))
def test_records_asking_the_same_question_land_in_one_split(tmp_path, seed):
    # Given 400 raw pairs where one question is asked three times, written three ways, far apart
    data = qa_with_repeats(400, dict(zip((5, 150, 390), BEDROCK_VARIANTS, strict=True)))
    # When it is prepared with this seed
    prepared = prepare(data, CLAUDE, tmp_path, split=SplitSettings(seed=seed))
    assert prepared.report.valid, prepared.report.errors
    # Then all three are in one split
    where = splits_by_question(prepared, CLAUDE)
    assert len({split for variant in BEDROCK_VARIANTS for split in where[variant]}) == 1
    # and the counts are those planned, reported as written
    expected = SplitCounts(train=320, validation=40, test=40)
    assert prepared.report.stats.split == expected
    written = {split: len(path.read_text().splitlines()) for split, path in prepared.files.items()}
    assert written == expected.model_dump()


def test_a_repeated_question_goes_to_a_split_drawn_by_the_seed():
    # Given one question asked 3 times among 400 records
    counts = SplitCounts(train=320, validation=40, test=40)
    key = b"repeated"
    records = [(i, key if i in (5, 150, 390) else None) for i in range(400)]
    chosen = set()
    for seed in range(30):
        # When the records are assigned with each seed
        splits = [split for _, split in SplitAssignment(counts, {key: 3}, seed).assign(records)]
        # Then the three go together, the counts are exact, and the seed decides which split they share
        assert len({splits[5], splits[150], splits[390]}) == 1
        assert Counter(splits) == {"train": 320, "validation": 40, "test": 40}
        chosen.add(splits[5])
    assert chosen == {"train", "validation", "test"}


def test_many_repeated_questions_keep_exact_counts_and_the_validation_minimum(tmp_path):
    # Given 80 questions each asked 5 ways (400 records): Claude's plan is 320 / 40 / 40, validation minimum 32
    variants = ["{}", "{}?", "{}!", " {} ", "{}."]
    repeats = {i: variants[i // 80].format(f"Question number {i % 80}") for i in range(400)}
    # When it is prepared
    prepared = prepare(qa_with_repeats(400, repeats), CLAUDE, tmp_path)
    # Then every question's five records share a split, and the counts are exactly the plan
    assert prepared.report.valid, prepared.report.errors
    assert prepared.report.stats.split == SplitCounts(train=320, validation=40, test=40)
    by_question: dict[str, set[str]] = {}
    for question, splits in splits_by_question(prepared, CLAUDE).items():
        by_question.setdefault(question.strip(" ?!."), set()).update(splits)
    assert len(by_question) == 80
    assert all(len(splits) == 1 for splits in by_question.values())


def test_repeats_in_the_model_format_are_grouped_too(tmp_path):
    # Given Nova records where one question appears 4 times, differing in case and spacing
    def record(question: str) -> dict[str, Any]:
        return {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": [{"text": question}]},
                {"role": "assistant", "content": [{"text": "An answer."}]},
            ],
        }

    questions = [f"Question {i}?" for i in range(100)]
    for position in (3, 30, 60, 97):
        questions[position] = "How do I tune Nova?" if position % 2 else "how do i tune   NOVA"
    data = "".join(json.dumps(record(question)) + "\n" for question in questions).encode()
    for seed in range(4):
        # When it is prepared
        prepared = prepare(data, NOVA, tmp_path / str(seed), split=SplitSettings(seed=seed))
        # Then the four records share a split and the counts are the plan
        assert prepared.kind is DatasetKind.MODEL_JSONL
        where = splits_by_question(prepared, NOVA)
        assert len(set(where["How do I tune Nova?"] + where["how do i tune   NOVA"])) == 1
        assert prepared.report.stats.split == SplitCounts(train=80, validation=10, test=10)


def test_the_split_is_deterministic_for_a_seed(tmp_path):
    data = qa_with_repeats(400, {i: f"Repeated question {i % 50}" for i in range(0, 400, 3)})

    def contents(seed: int, name: str) -> dict[str, str]:
        prepared = prepare(data, CLAUDE, tmp_path / name, split=SplitSettings(seed=seed))
        return {split: path.read_text() for split, path in prepared.files.items()}

    assert contents(3, "first") == contents(3, "again")
    assert contents(3, "first") != contents(4, "other")


def test_without_repeated_questions_the_split_is_algorithm_s_as_before():
    counts = SplitCounts(train=700, validation=150, test=150)
    assignment = SplitAssignment(counts, {}, seed=9)
    assert not assignment.needs_keys
    assert assignment.counts == counts
    splits = [split for _, split in assignment.assign((i, None) for i in range(1_000))]
    assert splits == list(assign_splits(counts, seed=9))


def test_a_question_too_large_for_any_split_moves_the_counts_and_says_so():
    # Given 400 records planned 320 / 40 / 40, 350 of which ask the same question
    counts = SplitCounts(train=320, validation=40, test=40)
    assignment = SplitAssignment(counts, {b"q": 350}, seed=1)
    # Then the question trains (the most room), and the test set gives up the 30 records it took beyond the plan
    assert assignment.counts == SplitCounts(train=350, validation=40, test=10)
    records = [(i, b"q" if i < 350 else None) for i in range(400)]
    splits = [split for _, split in assignment.assign(records)]
    assert set(splits[:350]) == {"train"}
    assert Counter(splits) == assignment.counts.model_dump()


def test_a_question_asked_by_most_records_trains_whole_and_the_report_follows(tmp_path):
    # Given 40 records for Claude (training minimum 32) where 37 ask the same question: planned 36 train / 4 test
    data = qa_with_repeats(40, dict.fromkeys(range(37), "The same question?"))
    prepared = prepare(data, CLAUDE, tmp_path)
    # Then the 37 train together, 3 are held out, and the report gives the counts as written
    assert prepared.report.valid, prepared.report.errors
    assert prepared.report.stats.split == SplitCounts(train=37, validation=0, test=3)
    assert len(prepared.files["test"].read_text().splitlines()) == 3


def test_counts_moved_by_a_repeated_question_are_checked_against_the_model_limits(tmp_path):
    # Given 11,100 records for Llama 3.1 (at most 10,000 for training and validation): planned 8,880 / 1,110 / 1,110
    data = qa_with_repeats(11_100, dict.fromkeys(range(9_000), "The same question?"))
    # When one question asked 9,000 times takes 120 records of the test set's share into training
    report = prepare(data, LLAMA31, tmp_path).report
    # Then the moved counts are over the limit, and the run is stopped before anything is billed
    assert [(p.line, p.code) for p in report.errors] == [(None, "too_many_records")]
    assert "10,110 training and validation records" in report.errors[0].message


def test_question_groups_remember_a_bounded_number_of_questions():
    groups = QuestionGroups(limit=2)
    for key in [b"a", b"b", b"a", b"c", b"c", b"b", b"a"]:
        groups.add(key)
    groups.add(None)
    assert groups.repeated() == {b"a": 3, b"b": 2}  # "c" came after the limit: its records split independently


def test_question_key_ignores_case_punctuation_and_spacing():
    def record(question: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": "A."}]}

    assert question_key(record("What is  Bedrock?"), CLAUDE) == question_key(record("what is bedrock"), CLAUDE)
    assert question_key(record("What is Bedrock?"), CLAUDE) != question_key(record("What is SageMaker?"), CLAUDE)
    assert question_key(record("???"), CLAUDE) is None
    assert question_key({"messages": "not a list"}, CLAUDE) is None


def test_questions_that_change_between_reads_are_an_error(tmp_path):
    # Given a source whose repeated question is gone when it is read the second time
    first = qa_with_repeats(400, dict.fromkeys((1, 2, 3), "Asked three times?"))
    second = qa_with_repeats(400, {})
    reads = iter([[first], [second]])
    # Then preparation stops rather than write a split it did not plan
    with pytest.raises(ValueError, match="the source changed between reads"):
        prepare_dataset(lambda: next(reads), CLAUDE, tmp_path / "out", PreparationOptions())


def test_a_dropped_validation_split_is_a_warning_that_says_why(tmp_path):
    # Given 100 raw pairs for Claude 3 Haiku (validation minimum 32): 10% is 10 validation records
    prepared = prepare(qa_lines(100), get_model("anthropic.claude-3-haiku-20240307-v1:0:200k"), tmp_path)
    # Then the file is accepted, without a validation split, and the report says why
    assert prepared.report.valid
    assert prepared.report.stats.split.validation == 0
    (warning,) = [w for w in prepared.report.warnings if w.code == "validation_split_dropped"]
    assert "10 records (10%) is below Anthropic Claude 3 Haiku's minimum of 32" in warning.message
    assert "no validation loss" in warning.message
