"""ValidateDataset end to end on moto S3: the handler reads the dropped object, writes the report and the splits."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.contracts import RunPaths
from lambdas.handlers.validate_dataset import handler
from lambdas.registry import REFERENCE_STUDY_MODEL_ID, Serving
from tuner.cli import main

BUCKET = "fine-tuning-data"
RUN_ID = "run-0001"
PATHS = RunPaths(run_id=RUN_ID)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def event(key: str, version: str | None = None, **settings: Any) -> dict[str, Any]:
    return {
        "run": {
            "run_id": RUN_ID,
            "bucket": BUCKET,
            "source_key": key,
            "source_version": version,
            "received_at": datetime(2026, 1, 1, tzinfo=UTC).isoformat(),
            "stack_name": "FineTuningStack",
            "settings": {"base_model_id": REFERENCE_STUDY_MODEL_ID, **settings},
            "serving": Serving.PROVISIONED_THROUGHPUT.value,
        },
        "errors": {},
    }


def qa_jsonl(count: int) -> bytes:
    return "".join(json.dumps({"question": f"Q{i}?", "answer": f"Answer {i}."}) + "\n" for i in range(count)).encode()


def read_lines(s3: Any, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def keys(s3: Any) -> set[str]:
    return {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_raw_qa_is_prepared_split_and_written(s3, lambda_context):
    # Given 400 raw question/answer pairs dropped into incoming/, with a system prompt configured
    version = s3.put_object(Bucket=BUCKET, Key="incoming/faq.jsonl", Body=qa_jsonl(400))["VersionId"]
    settings = {"system_prompt": "Answer briefly.", "prices": {"training_usd_per_1k_tokens": 0.008}}
    # When the handler runs
    output = handler(event("incoming/faq.jsonl", version, **settings), lambda_context)
    # Then the data is valid, split 320/40/40, and every file is in Claude 3 Haiku's format
    assert output["valid"] is True
    assert output["prepared_from_raw_qa"] is True
    assert (output["train_records"], output["validation_records"], output["test_records"]) == (320, 40, 40)
    assert output["train_key"] == PATHS.train
    assert output["validation_key"] == PATHS.validation
    assert output["test_key"] == PATHS.test
    assert keys(s3) >= {PATHS.train, PATHS.validation, PATHS.test, PATHS.validation_report}
    train = read_lines(s3, PATHS.train)
    test = read_lines(s3, PATHS.test)
    assert len(train) == 320
    assert len(read_lines(s3, PATHS.validation)) == 40
    assert train[0]["system"] == "Answer briefly."
    assert train[0]["messages"][0]["role"] == "user"
    # And no test question is in the training data
    train_questions = {record["messages"][0]["content"] for record in train}
    assert not train_questions & {record["messages"][0]["content"] for record in test}
    # And the report is the full document, with billed tokens for the training split only
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=PATHS.validation_report)["Body"].read())
    assert report["valid"] is True
    assert report["stats"]["split"] == {"train": 320, "validation": 40, "test": 40}
    assert report["stats"]["estimated_training_cost_usd"] is not None
    assert output["estimated_training_tokens"] == report["stats"]["estimated_billed_tokens"]


def test_same_seed_gives_the_same_split(s3, lambda_context):
    s3.put_object(Bucket=BUCKET, Key="incoming/faq.jsonl", Body=qa_jsonl(100))
    handler(event("incoming/faq.jsonl"), lambda_context)
    first = read_lines(s3, PATHS.test)
    handler(event("incoming/faq.jsonl"), lambda_context)
    assert read_lines(s3, PATHS.test) == first
    handler(event("incoming/faq.jsonl", split={"seed": 7}), lambda_context)
    assert read_lines(s3, PATHS.test) != first


def test_invalid_data_writes_only_the_report(s3, lambda_context):
    # Given a model-format file with a bad role on line 2 and too few records
    lines = [
        {"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]},
        {"messages": [{"role": "user", "content": "Q2"}, {"role": "bot", "content": "A2"}]},
    ]
    s3.put_object(Bucket=BUCKET, Key="incoming/bad.jsonl", Body="".join(json.dumps(x) + "\n" for x in lines))
    # When the handler runs
    output = handler(event("incoming/bad.jsonl"), lambda_context)
    # Then it says invalid, lists the problems, and writes no split a job could pick up
    assert output["valid"] is False
    assert (output["first_errors"][0]["line"], output["first_errors"][0]["code"]) == (None, "too_few_records")
    assert {(e["line"], e["code"]) for e in output["first_errors"]} >= {(2, "bad_role")}
    assert output["train_key"] is None
    assert output["train_records"] == 0
    assert keys(s3) == {"incoming/bad.jsonl", PATHS.validation_report}
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=PATHS.validation_report)["Body"].read())
    assert report["valid"] is False
    assert report["stats"]["error_counts"]["bad_role"] == 1


def test_source_version_is_read_not_the_latest(s3, lambda_context):
    first = s3.put_object(Bucket=BUCKET, Key="incoming/faq.jsonl", Body=qa_jsonl(100))["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="incoming/faq.jsonl", Body=b"garbage\n")
    assert handler(event("incoming/faq.jsonl", first), lambda_context)["valid"] is True
    assert handler(event("incoming/faq.jsonl"), lambda_context)["valid"] is False


def test_more_than_ten_errors_are_summarised_in_the_output(s3, lambda_context):
    s3.put_object(Bucket=BUCKET, Key="incoming/bad.jsonl", Body=b"1\n" * 50)
    output = handler(event("incoming/bad.jsonl"), lambda_context)
    assert len(output["first_errors"]) == 10
    assert output["error_count"] == 50


def test_reference_raw_faq_prepares_into_a_valid_dataset(s3, lambda_context, reference_run: Path):
    # Given the reference study's raw FAQ (keys sentence1/sentence2, a JSON array)
    s3.put_object(Bucket=BUCKET, Key="incoming/faq.json", Body=(reference_run / "bedrock_faq_raw.json").read_bytes())
    # When the run is configured with those key names
    output = handler(
        event("incoming/faq.json", qa_keys={"question": "sentence1", "answer": "sentence2"}), lambda_context
    )
    # Then 85 records become 77 for training and 8 for testing (8 validation records < Claude's minimum of 32)
    assert output["valid"] is True
    assert (output["records"], output["train_records"], output["validation_records"], output["test_records"]) == (
        85,
        77,
        0,
        8,
    )
    assert output["validation_key"] is None
    assert PATHS.validation not in keys(s3)


# -- every kind of drop gets an answer ------------------------------------------------------------------------------

PAIRS = [{"question": f"Q{i}?", "answer": f"Answer {i}."} for i in range(100)]


def report_of(s3: Any) -> dict[str, Any]:
    return json.loads(s3.get_object(Bucket=BUCKET, Key=PATHS.validation_report)["Body"].read())


@pytest.mark.parametrize(
    ("key", "body", "read_as", "gzipped"),
    [
        ("incoming/faq.json", json.dumps(PAIRS, indent=2).encode(), "json-array", False),
        ("incoming/FAQ.JSONL", qa_jsonl(100), "jsonl", False),
        ("incoming/faq", qa_jsonl(100), "jsonl", False),
        ("incoming/faq.jsonl.gz", gzip.compress(qa_jsonl(100)), "jsonl", True),
        ("incoming/faq.json.gz", gzip.compress(json.dumps(PAIRS).encode()), "json-array", True),
    ],
)
def test_each_readable_kind_of_drop_is_prepared_like_the_jsonl(s3, lambda_context, key, body, read_as, gzipped):
    # Given the same 100 raw pairs dropped under another name (and as plain JSONL, for comparison)
    s3.put_object(Bucket=BUCKET, Key="incoming/faq.jsonl", Body=qa_jsonl(100))
    handler(event("incoming/faq.jsonl"), lambda_context)
    expected = {split: read_lines(s3, key_) for split, key_ in (("train", PATHS.train), ("test", PATHS.test))}
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    # When the step runs on it
    output = handler(event(key), lambda_context)
    # Then it is valid, prepared from raw pairs into the same splits, and the report says how it was read
    assert output["valid"] is True
    assert output["prepared_from_raw_qa"] is True
    assert {"train": read_lines(s3, PATHS.train), "test": read_lines(s3, PATHS.test)} == expected
    stats = report_of(s3)["stats"]
    assert (stats["read_as"], stats["gzip"]) == (read_as, gzipped)


@pytest.mark.parametrize(
    ("key", "body", "code", "message"),
    [
        ("incoming/data.csv", b"question,answer\nQ?,A.\n", "unsupported_format", "the pipeline does not read CSV"),
        ("incoming/data.parquet", b"PAR1", "unsupported_format", "the pipeline does not read PARQUET"),
        ("incoming/faq.jsonl.gz", b"not gzip at all", "corrupt_gzip", "cannot be decompressed: it is not gzip data"),
        ("incoming/faq.json", json.dumps({"pairs": PAIRS}, indent=2).encode(), "json_not_records", "spread over"),
    ],
    ids=["csv", "parquet", "corrupt-gzip", "json-object"],
)
def test_an_unreadable_drop_is_rejected_with_the_reason_and_only_the_report(
    s3, lambda_context, key, body, code, message
):
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    output = handler(event(key), lambda_context)
    # Then the run is invalid (it ends REJECTED, notified), with one file-level problem saying what to upload
    assert output["valid"] is False
    assert output["error_count"] == 1
    [problem] = output["first_errors"]
    assert (problem["line"], problem["code"]) == (None, code)
    assert message in problem["message"]
    assert output["train_key"] is None
    assert keys(s3) == {key, PATHS.validation_report}
    assert report_of(s3)["errors"] == output["first_errors"]


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("faq.json", json.dumps(PAIRS).encode()),
        ("faq.jsonl.gz", gzip.compress(qa_jsonl(100))),
        ("broken.gz", gzip.compress(qa_jsonl(100))[:-40]),
        ("faq.json", b'{"not": "records"'),
        ("data.csv", b"question,answer\n"),
    ],
    ids=["json-array", "gzip", "corrupt-gzip", "bad-json", "csv"],
)
def test_tuner_validate_decides_each_kind_as_the_step_does(s3, lambda_context, tmp_path, capsys, name, body):
    # Given the same bytes under the same name, in the bucket and on disk
    key = f"incoming/{name}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    local = tmp_path / name
    local.write_bytes(body)
    # When the step decides and the command is asked
    output = handler(event(key), lambda_context)
    assert main(["validate", str(local), "--model", REFERENCE_STUDY_MODEL_ID, "--json"]) == (
        0 if output["valid"] else 1
    )
    command = json.loads(capsys.readouterr().out)
    # Then they agree: the same verdict, the same problems, read the same way
    step = report_of(s3)
    assert (command["valid"], command["errors"]) == (step["valid"], step["errors"])
    assert (command["stats"]["read_as"], command["stats"]["gzip"]) == (step["stats"]["read_as"], step["stats"]["gzip"])
