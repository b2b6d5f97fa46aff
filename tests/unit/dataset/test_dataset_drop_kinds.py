"""Every kind of file dropped under incoming/ gets an answer: what preparation does for each name and content."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.dataset.prepare import DatasetKind, PreparationOptions, PreparedDataset, prepare_dataset
from lambdas.registry import get_model
from lambdas.settings import QaKeys

CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
PAIRS = [{"question": f"What is part {i}?", "answer": f"Part {i} is a part."} for i in range(120)]
UPLOAD_INSTEAD = (
    'upload JSON Lines (.jsonl: one record per line, in the model\'s format or as {"question": ..., "answer": ...} '
    'objects) or a .json file holding one JSON array of {"question": ..., "answer": ...} objects; either may be '
    "gzip-compressed (.jsonl.gz, .json.gz)"
)


def jsonl(items: list[Any]) -> bytes:
    return "".join(json.dumps(item) + "\n" for item in items).encode()


def prepare(
    name: str, data: bytes, tmp_path: Path, *, chunk: int = 4096, spec: Any = CLAUDE, **options: Any
) -> PreparedDataset:
    chunks = [data[start : start + chunk] for start in range(0, len(data), chunk)]
    out = tmp_path / name.replace("/", "_")
    return prepare_dataset(
        lambda: iter(chunks), spec, out, PreparationOptions(**options), name=f"incoming/{name}", size_bytes=len(data)
    )


def written(prepared: PreparedDataset) -> dict[str, str]:
    return {split: path.read_text() for split, path in prepared.files.items()}


def only_problem(prepared: PreparedDataset) -> tuple[int | None, str, str]:
    assert prepared.files == {}
    assert not prepared.report.valid
    [problem] = prepared.report.errors
    return problem.line, problem.code, problem.message


def test_a_json_array_of_pairs_is_converted_exactly_as_the_same_pairs_one_per_line(tmp_path):
    # Given the same 120 raw pairs as a pretty-printed .json array and as JSONL
    as_array = prepare("faq.json", json.dumps(PAIRS, indent=2).encode(), tmp_path, chunk=1000)
    as_lines = prepare("faq.jsonl", jsonl(PAIRS), tmp_path)
    # Then both are accepted and give the very same split files
    assert as_array.report.valid, as_array.report.errors
    assert as_array.kind is DatasetKind.JSON_ARRAY
    assert written(as_array) == written(as_lines)
    assert as_array.report.stats.split == as_lines.report.stats.split
    # And the report says the records were converted from a JSON array
    stats = as_array.report.stats
    assert (stats.read_as, stats.prepared_from_raw_qa) == ("json-array", True)
    assert as_lines.report.stats.read_as == "jsonl"


def test_a_json_array_item_that_is_not_a_pair_is_reported_by_its_number(tmp_path):
    items: list[Any] = [*PAIRS[:40], "not a pair", {"question": "Q?"}, *PAIRS[40:]]
    report = prepare("faq.json", json.dumps(items).encode(), tmp_path).report
    assert [(p.line, p.code) for p in report.errors] == [(41, "not_an_object"), (42, "missing_field")]


def test_a_json_file_holding_one_object_per_line_is_json_lines(tmp_path):
    prepared = prepare("faq.json", jsonl(PAIRS), tmp_path)
    assert prepared.report.valid, prepared.report.errors
    assert prepared.kind is DatasetKind.RAW_QA_JSONL
    assert written(prepared) == written(prepare("faq.jsonl", jsonl(PAIRS), tmp_path))


@pytest.mark.parametrize("name", ["DATA.JSONL", "data.JsonL", "data"])
def test_json_lines_under_any_case_of_extension_or_none_is_read_as_jsonl(tmp_path, name):
    prepared = prepare(name, jsonl(PAIRS), tmp_path)
    reference = prepare("data.jsonl", jsonl(PAIRS), tmp_path)
    assert prepared.report == reference.report
    assert written(prepared) == written(reference)


@pytest.mark.parametrize(
    ("name", "data"),
    [("data.jsonl.gz", jsonl(PAIRS)), ("faq.json.gz", json.dumps(PAIRS).encode()), ("data.GZ", jsonl(PAIRS))],
)
def test_gzip_is_decompressed_as_read_and_then_read_as_the_inner_name_says(tmp_path, name, data):
    # Given the pairs gzip-compressed, read in 1 kB chunks
    prepared = prepare(name, gzip.compress(data), tmp_path, chunk=1024)
    # Then they give the same split files as the plain JSONL
    assert prepared.report.valid, prepared.report.errors
    assert written(prepared) == written(prepare("data.jsonl", jsonl(PAIRS), tmp_path))
    # And the report measures the decompressed content
    stats = prepared.report.stats
    assert stats.gzip is True
    assert stats.bytes == len(data)
    assert stats.read_as == ("json-array" if ".json." in name else "jsonl")


def test_the_size_limit_applies_to_the_decompressed_content(tmp_path):
    # Given a model that takes at most 5,000 bytes, and a gzip file far smaller that decompresses to more
    small = CLAUDE.model_copy(update={"limits": CLAUDE.limits.model_copy(update={"training_file_max_bytes": 5_000})})
    data = gzip.compress(jsonl(PAIRS))
    assert len(data) < 5_000 < len(jsonl(PAIRS))
    # Then it is too large, said once, and decompression stopped there
    prepared = prepare("data.jsonl.gz", data, tmp_path, spec=small)
    assert only_problem(prepared)[:2] == (None, "file_too_large")
    assert "decompressed, the file is more than 5,000 bytes" in prepared.report.errors[0].message


def test_an_uncompressed_file_over_the_limit_is_measured_as_stored(tmp_path):
    small = CLAUDE.model_copy(update={"limits": CLAUDE.limits.model_copy(update={"training_file_max_bytes": 5_000})})
    prepared = prepare("data.jsonl", jsonl(PAIRS), tmp_path, spec=small)
    assert [p.code for p in prepared.report.errors] == ["file_too_large"]
    assert "decompressed" not in prepared.report.errors[0].message


@pytest.mark.parametrize(
    "data", [b"plain text, not gzip\n", gzip.compress(jsonl(PAIRS))[:-50]], ids=["not-gzip", "truncated"]
)
def test_a_corrupt_gzip_is_rejected_with_a_clear_problem(tmp_path, data):
    line, code, message = only_problem(prepare("data.jsonl.gz", data, tmp_path))
    assert (line, code) == (None, "corrupt_gzip")
    assert message.startswith("the file is named .gz but cannot be decompressed: ")
    assert message.endswith("compress it again with gzip, or upload it uncompressed without the .gz extension")


@pytest.mark.parametrize(
    ("data", "found"),
    [
        (json.dumps({"items": PAIRS[:3]}, indent=2).encode(), "one JSON object spread over several lines"),
        (b'"just a string"\n', "a string on its first line"),
        (b"question,answer\nQ?,A.\n", "text that is not JSON (Expecting value: line 1 column 1 (char 0))"),
    ],
    ids=["object", "string", "not-json"],
)
def test_a_json_file_that_is_not_records_is_rejected_saying_what_to_upload(tmp_path, data, found):
    line, code, message = only_problem(prepare("data.json", data, tmp_path))
    assert (line, code) == (None, "json_not_records")
    assert message == f"the .json file holds {found}, not records; {UPLOAD_INSTEAD}"


def test_what_to_upload_names_the_configured_keys(tmp_path):
    data = json.dumps({"items": []}, indent=2).encode()
    message = only_problem(prepare("data.json", data, tmp_path, qa_keys=QaKeys(question="q", answer="a")))[2]
    assert 'one JSON array of {"q": ..., "a": ...} objects' in message


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (
            b"[1, 2, 3]",
            "json_array_not_jsonl",
            f"the file is a JSON array, but not of raw question/answer objects (its first item is a number); "
            f"{UPLOAD_INSTEAD}. If your pairs use other key names, set qa_keys (or --question-key / --answer-key) "
            "to them",
        ),
        (
            b'[{"question": "Q?", "answer": "A."}, {"question": "Q2?" "answer": "A2."}]',
            "invalid_json",
            f"item 2 of the JSON array is not valid JSON: Expecting ',' delimiter (line 1); {UPLOAD_INSTEAD}",
        ),
    ],
    ids=["array-of-numbers", "invalid-item"],
)
def test_a_json_array_that_is_not_pairs_is_rejected_saying_what_to_upload(tmp_path, data, code, message):
    assert only_problem(prepare("data.json", data, tmp_path)) == (None, code, message)


@pytest.mark.parametrize(
    ("name", "kind", "inside"),
    [
        ("data.csv", "CSV", ""),
        ("data.parquet", "PARQUET", ""),
        ("notes.TXT", "TXT", ""),
        ("data.zip", "ZIP", ""),
        ("data.csv.gz", "CSV", " inside gzip"),
    ],
)
def test_any_other_format_is_rejected_unread_naming_it(tmp_path, name, kind, inside):
    # Given a source that must not be read
    def unread() -> Iterator[bytes]:
        raise AssertionError("an unsupported format is rejected without reading it")

    prepared = prepare_dataset(unread, CLAUDE, tmp_path / "out", PreparationOptions(), name=f"incoming/{name}")
    extension = "." + name.removesuffix(".gz").rsplit(".", 1)[-1]
    assert only_problem(prepared) == (
        None,
        "unsupported_format",
        f"{name!r} is a {extension} file{inside}: the pipeline does not read {kind}; {UPLOAD_INSTEAD}",
    )
    assert prepared.kind is None
    assert not (tmp_path / "out").exists()
