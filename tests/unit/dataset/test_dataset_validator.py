"""The streaming validator: one test per code, each asserting the code and the line it names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.dataset.report import ValidationReport
from lambdas.dataset.validator import iter_lines, validate_file, validate_s3_object, validate_stream
from lambdas.registry import get_model

CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
NOVA_LITE = get_model("amazon.nova-lite-v1:0:300k")
NOVA_MICRO = get_model("amazon.nova-micro-v1:0:128k")
LLAMA31 = get_model("meta.llama3-1-8b-instruct-v1:0:128k")


def claude(question: str = "Q?", answer: str = "A.", system: str | None = "Be brief.") -> dict[str, Any]:
    record: dict[str, Any] = {} if system is None else {"system": system}
    record["messages"] = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return record


def nova(*user_blocks: dict[str, Any], answer_blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": list(user_blocks) or [{"text": "Q?"}]},
            {"role": "assistant", "content": answer_blocks or [{"text": "A."}]},
        ],
    }


def distinct_claude(count: int) -> list[dict[str, Any]]:
    return [claude(f"Question {index}?", f"Answer {index}.") for index in range(count)]


def lines_of(records: list[Any]) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in records)


def check(data: bytes, spec=CLAUDE, role="training", **options: Any) -> ValidationReport:
    return validate_stream([data], spec, role=role, **options)


def problems(report: ValidationReport, code: str, kind: str = "errors") -> list[int | None]:
    return [problem.line for problem in getattr(report, kind) if problem.code == code]


def with_bad_line(bad: Any, at: int = 3, total: int = 40) -> bytes:
    records: list[Any] = distinct_claude(total)
    records[at - 1] = bad
    return lines_of(records)


# -- a clean file --------------------------------------------------------------------------------------------------


def test_clean_file_is_valid_with_stats():
    # Given 40 distinct Claude records
    report = check(lines_of(distinct_claude(40)), epochs=3, price_per_1k_tokens=0.01)
    # Then nothing is wrong and the figures add up
    assert report.valid
    assert report.errors == []
    assert report.warnings == []
    assert report.records == 40
    assert report.stats.tokens_per_record is not None
    assert report.stats.total_tokens > 0
    assert report.stats.estimated_billed_tokens == report.stats.total_tokens * 3
    assert report.stats.estimated_training_cost_usd == round(report.stats.total_tokens * 3 / 1000 * 0.01, 4)


def test_report_json_has_exactly_the_documented_shape():
    report = check(with_bad_line("nope", at=2))
    document = json.loads(report.model_dump_json())
    assert set(document) == {"valid", "records", "errors", "warnings", "stats"}
    assert document["errors"][0] == {
        "line": 2,
        "code": "not_an_object",
        "message": "each line must be a JSON object, not a string",
    }


def test_crlf_line_endings_are_valid():
    data = lines_of(distinct_claude(40)).replace(b"\n", b"\r\n")
    report = check(data)
    assert report.valid, report.errors
    assert report.records == 40


def test_final_line_without_newline_counts():
    data = lines_of(distinct_claude(40)).rstrip(b"\n")
    assert check(data).records == 40


def test_median_is_exact_for_known_lengths():
    # Given records of 30, 60 and 90 characters of content (10, 20, 30 tokens)
    records = [claude("q" * (n - 1), "a", system=None) for n in (30, 60, 90)]
    stats = check(lines_of(records), role="validation").stats
    assert stats.tokens_per_record is not None
    assert (stats.tokens_per_record.min, stats.tokens_per_record.median, stats.tokens_per_record.max) == (10, 20, 30)


# -- one test per error code ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ({"system": "S"}, "missing_messages"),
        ({"messages": [{"role": "user", "content": "Q"}, {"role": "bot", "content": "A"}]}, "bad_role"),
        (
            {
                "messages": [
                    {"role": "user", "content": "Q"},
                    {"role": "user", "content": "Q again"},
                    {"role": "assistant", "content": "A"},
                ]
            },
            "not_alternating",
        ),
        (
            {"messages": [{"role": "assistant", "content": "A"}, {"role": "assistant", "content": "B"}]},
            "first_not_user",
        ),
        ({"messages": [{"role": "user", "content": "Q"}, {"role": "user", "content": "Q2"}]}, "last_not_assistant"),
        ({"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "A"}]}, "empty_content"),
        ({**claude(), "id": 7}, "unknown_key"),
        (
            {"messages": [{"role": "user", "content": "Q", "name": "x"}, {"role": "assistant", "content": "A"}]},
            "unknown_key",
        ),
        (claude(question="Say\nHuman: hi"), "reserved_string"),
        (claude(system="Then\nAssistant: yes"), "reserved_string"),
        ({"messages": "Q and A"}, "wrong_type"),
        ({"system": ["S"], "messages": claude()["messages"]}, "wrong_type"),
        ({"messages": [{"role": "user", "content": ["Q"]}, {"role": "assistant", "content": "A"}]}, "wrong_type"),
        ({"messages": [{"role": "user", "content": "Q"}]}, "too_few_messages"),
        ([1, 2, 3], "not_an_object"),
        (42, "not_an_object"),
    ],
)
def test_record_problem_is_reported_with_code_and_line(bad, code):
    # Given a 40-record file whose third line is wrong
    report = check(with_bad_line(bad, at=3))
    # Then exactly that line carries the code and the file is invalid
    assert not report.valid
    assert problems(report, code) == [3]
    assert {problem.line for problem in report.errors} == {3}


def test_invalid_json_names_line_and_column():
    report = check(with_bad_line(b'{"messages": [', at=5))
    assert problems(report, "invalid_json") == [5]
    assert "column" in report.errors[0].message


def test_json_nested_too_deeply_is_invalid_json_not_a_crash():
    # Given lines nested far past Python's recursion limit (an object, then an array)
    deep_object = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    deep_array = b"[" * 50_000 + b"]" * 50_000
    report = check(lines_of(distinct_claude(38)) + deep_object + b"\n" + deep_array + b"\n")
    # Then each is one invalid_json problem on its line, and the file is read to the end
    assert problems(report, "invalid_json") == [39, 40]
    assert "nested too deeply" in report.errors[0].message
    assert report.records == 40


def test_a_number_too_long_to_read_is_invalid_json_in_words_for_the_file_author():
    report = check(with_bad_line(b'{"messages": ' + b"9" * 5_000 + b"}", at=4))
    assert problems(report, "invalid_json") == [4]
    assert report.errors[0].message == "not valid JSON: a number has more than 4,300 digits"


def test_half_a_surrogate_pair_is_an_error_on_its_line():
    # Given "\ud800" escapes: JSON spells them, json reads them, but no UTF-8 step after training can save them
    records: list[Any] = distinct_claude(40)
    records[2] = json.dumps(claude(answer="A \ud800."), ensure_ascii=True).encode()
    records[5] = json.dumps(claude(question="Q \udfff?"), ensure_ascii=True).encode()
    # (a whole pair is one character, and an escaped backslash before "ud800" is just text)
    records[7] = json.dumps(claude(answer="A \U0001f600."), ensure_ascii=True).encode()
    records[8] = json.dumps(claude(answer="A \\ud800."), ensure_ascii=True).encode()
    # (in a record with other problems too, and in a key, it is the one problem reported)
    records[10] = json.dumps({**claude(answer="A \ud800."), "extra": 1}, ensure_ascii=True).encode()
    records[11] = json.dumps({**claude(), "k\udc00": 1}, ensure_ascii=True).encode()
    report = check(lines_of(records))
    assert [(problem.line, problem.code) for problem in report.errors] == [
        (3, "lone_surrogate"),
        (6, "lone_surrogate"),
        (11, "lone_surrogate"),
        (12, "lone_surrogate"),
    ]
    assert "half of a UTF-16 surrogate pair" in report.errors[0].message


def test_half_a_surrogate_pair_in_a_nova_system_prompt():
    record = nova()
    record["system"] = [{"text": "Be brief \udbff"}]
    assert problems(nova_file(record, at=4), "lone_surrogate") == [4]


def test_messages_quote_huge_values_cut_short():
    # Given a role of a megabyte, and a record of 10,000 unknown keys (the first problems travel in the
    # Step Functions payload, which holds 256 KB)
    huge_role = claude()
    huge_role["messages"][0]["role"] = "x" * 1_000_000
    many_keys = {f"key{index}": 1 for index in range(10_000)}
    report = check(with_bad_line(huge_role, at=2) + lines_of([many_keys]))
    assert problems(report, "bad_role") == [2]
    assert all(len(problem.message) < 1_000 for problem in report.errors)
    assert "'xxxx" in report.errors[0].message
    unknown = next(problem for problem in report.errors if problem.code == "unknown_key")
    assert unknown.message.startswith("the record has 'key0', 'key1',")
    assert "and 9,990 more" in unknown.message


def test_carriage_return_only_line_endings_are_named():
    data = lines_of(distinct_claude(40)).replace(b"\n", b"\r")
    report = check(data)
    (problem,) = [problem for problem in report.errors if problem.code == "invalid_json"]
    assert problem.line == 1
    assert "carriage returns only" in problem.message


def test_whitespace_around_a_record_is_fine_but_trailing_text_is_not():
    records: list[Any] = distinct_claude(40)
    records[1] = b"  " + json.dumps(records[1]).encode() + b" \t"
    records[2] = json.dumps(records[2]).encode() + b" x"
    report = check(lines_of(records))
    assert [(problem.line, problem.code) for problem in report.errors] == [(3, "invalid_json")]
    assert "Extra data" in report.errors[0].message


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        (CLAUDE, "Say\nHuman: hi"),
        (CLAUDE, "ok\nAssistant: done"),
        (NOVA_LITE, "Bot: hi"),
        (NOVA_LITE, "see <video> here"),
        (NOVA_LITE, "stop [EOS] now"),
    ],
)
def test_reserved_strings_are_found_in_otherwise_flawless_records(spec, text):
    # Given a record that is well formed except for one reserved string in the answer (the validator's fast path)
    if spec is CLAUDE:
        report = check(with_bad_line(claude(answer=text), at=6))
    else:
        report = nova_file(nova(answer_blocks=[{"text": text}]), at=6)
    # Then it is the one problem, on its line
    assert [(problem.line, problem.code) for problem in report.errors] == [(6, "reserved_string")]


def test_too_many_tokens():
    report = check(with_bad_line(claude(answer="x" * (32_000 * 3 + 3)), at=4))
    assert problems(report, "too_many_tokens") == [4]


def test_too_few_records_is_a_file_level_problem():
    report = check(lines_of(distinct_claude(31)))
    assert problems(report, "too_few_records") == [None]


def test_validation_role_uses_validation_limits():
    # Given 1,001 records: fine for Claude training (max 10,000) but over the validation maximum (1,000)
    data = lines_of(distinct_claude(1_001))
    assert check(data, role="training").valid
    report = check(data, role="validation")
    assert problems(report, "too_many_records") == [None]
    assert "1,000" in report.errors[0].message


def test_too_many_records():
    report = check(lines_of(distinct_claude(10_001)))
    assert problems(report, "too_many_records") == [None]


def test_file_too_large_uses_the_known_object_size():
    report = check(lines_of(distinct_claude(40)), role="validation", size_bytes=2 * 1024**3)
    assert problems(report, "file_too_large") == [None]


def test_not_utf8_names_the_line():
    data = with_bad_line(b'{"messages": [{"role": "user", "content": "caf\xe9"}]}', at=6)
    report = check(data)
    assert problems(report, "not_utf8") == [6]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_file_is_one_problem_naming_its_encoding(encoding):
    # Given a file saved as UTF-16 (with its byte order mark): it was one not_utf8 and an invalid_json per line
    bom = b"\xff\xfe" if encoding == "utf-16" else b"\xfe\xff"
    data = lines_of(distinct_claude(40)).decode().encode(encoding)
    report = check(data if data.startswith(bom) else bom + data)
    assert [(problem.line, problem.code) for problem in report.errors] == [(1, "not_utf8")]
    assert report.errors[0].message.startswith("the file is UTF-16")
    assert report.records == 0


def test_bom_is_reported_on_line_1_and_the_rest_still_validated():
    data = b"\xef\xbb\xbf" + lines_of(distinct_claude(40))
    report = check(data)
    assert problems(report, "bom") == [1]
    assert report.records == 40
    assert report.stats.error_counts == {"bom": 1}


def test_blank_line():
    data = lines_of(distinct_claude(40)).replace(b"\n", b"\n\n", 1)
    report = check(data)
    assert problems(report, "blank_line") == [2]
    assert report.records == 40


def test_json_array_instead_of_jsonl_is_one_file_level_error():
    data = json.dumps(distinct_claude(40), indent=2).encode()
    report = check(data)
    assert [(problem.line, problem.code) for problem in report.errors] == [(None, "json_array_not_jsonl")]
    assert report.records == 0


def test_one_line_json_array_of_records_is_also_not_jsonl():
    report = check(json.dumps(distinct_claude(40)).encode())
    assert problems(report, "json_array_not_jsonl") == [None]


def test_empty_file():
    assert problems(check(b""), "empty_file") == [None]


def test_huge_single_line_is_reported_without_being_buffered():
    # Given a 40-record file whose second line is 3 MB, with a 1 MB line cap
    huge = json.dumps(claude(answer="x" * 3_000_000)).encode()
    data = with_bad_line(huge, at=2)
    chunks = [data[start : start + 65_536] for start in range(0, len(data), 65_536)]
    report = validate_stream(chunks, CLAUDE, max_line_bytes=1_000_000)
    # Then that line is line_too_long, and the lines after it keep their numbers
    assert problems(report, "line_too_long") == [2]
    assert report.records == 40
    assert report.errors[0].line == 2


def test_iter_lines_never_holds_more_than_the_cap():
    # Given a line that spans many chunks
    chunks = [b'{"a": 1}\n' + b"x" * 100, *([b"y" * 100] * 50), b"\nlast"]
    # Then the long line comes out as None and the others intact, numbered
    assert list(iter_lines(chunks, max_line_bytes=1_000)) == [(1, b'{"a": 1}'), (2, None), (3, b"last")]


def test_iter_lines_joins_a_line_split_across_chunks():
    assert list(iter_lines([b'{"a"', b": 1}\n{", b"}\n"])) == [(1, b'{"a": 1}'), (2, b"{}")]


def test_problems_are_capped_per_code_but_all_counted():
    # Given 1,000 lines that are not objects
    report = check(b"7\n" * 1_000)
    assert report.stats.error_counts["not_an_object"] == 1_000
    assert len([p for p in report.errors if p.code == "not_an_object"]) == 100


# -- Converse format (Nova) ----------------------------------------------------------------------------------------


# (Issue 13: the image blocks below named the bucket "b", which no S3 bucket can be called (3 to 63 characters, as
# the Converse S3Location's uri pattern says); media were checked for presence only then. They now name "bucket".)


def nova_file(bad: dict[str, Any] | None, spec=NOVA_LITE, at: int = 2, total: int = 10) -> ValidationReport:
    records: list[Any] = [
        {**nova(), "messages": [{"role": "user", "content": [{"text": f"Q{i}?"}]}, nova()["messages"][1]]}
        for i in range(total)
    ]
    if bad is not None:
        records[at - 1] = bad
    return check(lines_of(records), spec=spec)


def test_nova_clean_file_is_valid():
    report = nova_file(None)
    assert report.valid, report.errors


def test_nova_micro_takes_no_media():
    image = {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/i.png"}}}}
    assert problems(nova_file(nova(image, {"text": "What is it?"}), spec=NOVA_MICRO), "media_not_supported") == [2]
    assert nova_file(nova(image, {"text": "What is it?"}), spec=NOVA_LITE).valid


def test_nova_assistant_carries_no_media():
    image = {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/i.png"}}}}
    report = nova_file(nova({"text": "Draw"}, answer_blocks=[image]), at=4)
    assert problems(report, "media_not_supported") == [4]


def test_nova_too_many_images():
    image = {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/i.png"}}}}
    report = nova_file(nova(*([image] * 11), {"text": "Which?"}), at=5)
    assert problems(report, "too_many_media") == [5]


def test_nova_reserved_string():
    assert problems(nova_file(nova({"text": "User: hello"}), at=3), "reserved_string") == [3]


def test_nova_schema_version_is_any_string_but_a_string():
    # Updated for issue 13: this test required exactly "bedrock-conversation-2024" and rejected "v1", but the Nova
    # documentation says "schemaVersion can be any string value" (fine-tune-prepare-data-understanding.html).
    assert nova_file({**nova(), "schemaVersion": "v1"}, at=2).valid
    assert problems(nova_file({**nova(), "schemaVersion": 2024}, at=2), "bad_schema_version") == [2]


def test_nova_content_must_be_blocks():
    bad = {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": [{"text": "A"}]}]}
    assert problems(nova_file(bad, at=2), "wrong_type") == [2]


def test_nova_bad_file_name(tmp_path: Path):
    path = tmp_path / "my data (1).jsonl"
    path.write_bytes(lines_of([nova({"text": f"Q{i}"}) for i in range(10)]))
    report = validate_file(path, NOVA_LITE)
    assert problems(report, "bad_file_name") == [None]
    good = tmp_path / "my_data-1.jsonl"
    good.write_bytes(path.read_bytes())
    assert "bad_file_name" not in validate_file(good, NOVA_LITE).error_codes()


def test_file_names_are_not_checked_for_models_without_a_rule(tmp_path: Path):
    path = tmp_path / "my data.jsonl"
    path.write_bytes(lines_of(distinct_claude(40)))
    assert validate_file(path, CLAUDE).valid


# -- prompt/completion (Llama 3.1, Titan) --------------------------------------------------------------------------


def test_prompt_completion_missing_field_and_unknown_key():
    records: list[Any] = [{"prompt": f"P{i}", "completion": "C"} for i in range(120)]
    records[1] = {"prompt": "P"}
    records[2] = {"prompt": "P2", "completion": "C", "system": "S"}
    report = check(lines_of(records), spec=LLAMA31)
    assert problems(report, "missing_field") == [2]
    assert problems(report, "unknown_key") == [3]


# -- warnings ------------------------------------------------------------------------------------------------------


def test_duplicate_record_warning_names_both_lines():
    records = distinct_claude(40)
    records[9] = records[2]
    report = check(lines_of(records))
    assert report.valid
    assert problems(report, "duplicate_record", "warnings") == [10]
    assert "line 3" in report.warnings[0].message


def test_duplicate_prompt_warning():
    records = distinct_claude(40)
    records[6] = claude("Question 1?", "A different answer.")
    report = check(lines_of(records))
    assert problems(report, "duplicate_prompt", "warnings") == [7]


def test_unbalanced_lengths_warning_points_at_the_longest_record():
    records = distinct_claude(40)
    records[19] = claude("Question long?", "word " * 2_000)
    report = check(lines_of(records))
    assert report.valid
    assert problems(report, "unbalanced_lengths", "warnings") == [20]


def test_missing_system_prompt_warning_once_with_first_line():
    records = distinct_claude(40)
    records[4] = claude("Q5 bis?", system=None)
    records[8] = claude("Q9 bis?", system=None)
    report = check(lines_of(records))
    assert report.valid
    assert problems(report, "missing_system_prompt", "warnings") == [5]
    assert report.warnings[0].message.startswith("2 record(s)")


def test_missing_system_prompt_is_not_a_warning_where_not_recommended():
    report = nova_file({**nova({"text": "Q?!"}), "system": []})
    assert "missing_system_prompt" not in {problem.code for problem in report.warnings}


# -- reference data and S3 -----------------------------------------------------------------------------------------


def test_reference_files_validate_clean(reference_run: Path):
    training = validate_file(reference_run / "claude3_ft_training.jsonl", CLAUDE, role="training", epochs=2)
    validation = validate_file(reference_run / "claude3_ft_validation.jsonl", CLAUDE, role="validation")
    assert (training.valid, training.records, training.errors, training.warnings) == (True, 85, [], [])
    assert (validation.valid, validation.records, validation.errors, validation.warnings) == (True, 32, [], [])


@mock_aws
def test_s3_object_is_streamed_in_chunks():
    # Given a 40-record file with one bad line in S3
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="incoming/train.jsonl", Body=with_bad_line({"messages": 1}, at=7))
    # When validated from S3 (read through the streaming body)
    report = validate_s3_object(s3, "data", "incoming/train.jsonl", CLAUDE)
    # Then the line number is right and the size comes from S3
    assert problems(report, "wrong_type") == [7]
    assert report.stats.bytes == s3.head_object(Bucket="data", Key="incoming/train.jsonl")["ContentLength"]


@mock_aws
def test_s3_object_version_is_honoured():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    s3.put_bucket_versioning(Bucket="data", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="data", Key="k.jsonl", Body=lines_of(distinct_claude(40)))["VersionId"]
    s3.put_object(Bucket="data", Key="k.jsonl", Body=b"not json\n")
    assert validate_s3_object(s3, "data", "k.jsonl", CLAUDE, version_id=first).valid
    assert not validate_s3_object(s3, "data", "k.jsonl", CLAUDE).valid


@pytest.mark.parametrize("spec", [CLAUDE, NOVA_LITE], ids=["anthropic", "converse"])
def test_fast_path_and_detailed_checks_agree_on_clean_data(spec, monkeypatch):
    # Given a clean file (with a duplicate, a record without system prompt and one long record)
    if spec is CLAUDE:
        records = distinct_claude(40)
        records[5] = claude("Question 1?", "Answer 1.")
        records[7] = claude("No system?", system=None)
    else:
        records = [nova({"text": f"Q{i}?"}) for i in range(40)]
        records[5] = nova({"text": "Q1?"})
        records[7] = {key: value for key, value in nova({"text": "No system?"}).items() if key != "system"}
    records[9]["messages"][1] = (
        {"role": "assistant", "content": "word " * 2_000}
        if spec is CLAUDE
        else {"role": "assistant", "content": [{"text": "word " * 2_000}]}
    )
    data = lines_of(records)
    fast = check(data, spec=spec, epochs=2)
    # When the fast path is switched off, every record goes through the detailed checks
    monkeypatch.setattr("lambdas.dataset.validator.DatasetValidator._well_formed_conversation", lambda *_: False)
    detailed = check(data, spec=spec, epochs=2)
    # Then both produce the same report
    assert fast.model_dump() == detailed.model_dump()
    assert fast.valid
    assert {problem.code for problem in fast.warnings} >= {"duplicate_record", "unbalanced_lengths"}


def test_a_50_mb_line_is_skipped_in_bounded_memory():
    # Given a stream whose second line is 50 MB, produced lazily in 1 MB chunks
    import tracemalloc

    def chunks():
        yield json.dumps(claude()).encode() + b'\n{"messages": "'
        for _ in range(50):
            yield b"x" * 1_000_000
        yield b'"}\n' + json.dumps(claude("Other?")).encode() + b"\n"

    tracemalloc.start()
    try:
        report = validate_stream(chunks(), CLAUDE, role="validation", max_line_bytes=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Then the line is reported, the next line keeps its number, and memory stayed a few MB
    assert problems(report, "line_too_long") == [2]
    assert report.records == 3
    assert peak < 8_000_000


def test_the_zip_handler_imports_nothing_beyond_boto3_pydantic_and_powertools():
    import subprocess
    import sys

    probe = (
        "import sys, lambdas.handlers.validate_dataset; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'transformers', 'bert_score', 'langchain_aws', 'langchain_core', 'rich', 'moto', 'aws_cdk'}))"
    )
    repo_root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=repo_root)
    assert result.stdout.strip() == "[]"
