"""``tuner validate FILE`` answers what the pipeline will decide for FILE dropped as is: the same code path as the
ValidateDataset step, checked here on the same files (the step on moto S3, the command on the local file)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers.validate_dataset import handler
from lambdas.registry import Serving
from tuner.cli import main
from tuner.commands.validate import drop_settings

REPO = Path(__file__).resolve().parents[2]
BUCKET = "fine-tuning-data"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
NOVA = "amazon.nova-lite-v1:0:300k"


def llama_lines(count: int) -> str:
    lines = (REPO / "dataset" / "sample_qa_llama3_1.jsonl").read_text().splitlines()
    return "\n".join(lines[:count]) + "\n"


def raw_qa(count: int) -> str:
    return "".join(json.dumps({"question": f"What is part {i}?", "answer": f"Part {i}."}) + "\n" for i in range(count))


CASES = {
    # the case: 50 Llama 3.1 records pass as a training file, but the drop holds out a test split first
    "llama-50": (LLAMA, llama_lines(50)),
    "llama-120": (LLAMA, llama_lines(120)),
    "nova-sample": (NOVA, (REPO / "dataset" / "sample_qa.jsonl").read_text()),
    "nova-raw-qa": (NOVA, raw_qa(40)),
    "nova-broken": (NOVA, (REPO / "dataset" / "invalid_sample.jsonl").read_text()),
}


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.mark.parametrize("case", list(CASES))
def test_validate_and_the_pipeline_decide_the_same(
    case: str, s3: Any, tmp_path: Path, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    model, body = CASES[case]
    settings = drop_settings(model)
    # Given the same file, dropped into the bucket and on disk
    key = f"incoming/{case}.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    local = tmp_path / f"{case}.jsonl"
    local.write_text(body)
    run = {
        "run_id": "run-1",
        "bucket": BUCKET,
        "source_key": key,
        "received_at": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
        "stack_name": "FineTuningStack",
        "settings": settings.model_dump(mode="json"),
        "serving": Serving.PROVISIONED_THROUGHPUT.value,
    }
    # When the step decides, and the command is asked
    step = handler({"run": run, "errors": {}}, lambda_context)
    code = main(["validate", str(local), "--model", model, "--json"])
    command = json.loads(capsys.readouterr().out)
    # Then they agree: valid or not, the same problems, the same split
    assert command["valid"] == step["valid"]
    assert code == (0 if step["valid"] else 1)
    assert sum(command["stats"]["error_counts"].values()) == step["error_count"]
    assert [p["code"] for p in command["errors"][:10]] == [p["code"] for p in step["first_errors"]]
    if step["valid"]:
        split = command["stats"]["split"]
        assert (split["train"], split["validation"], split["test"]) == (
            step["train_records"],
            step["validation_records"],
            step["test_records"],
        )


def test_the_fifty_llama_records_are_rejected_with_the_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "llama50.jsonl"
    path.write_text(llama_lines(50))
    assert main(["validate", str(path), "--model", LLAMA]) == 1
    out = capsys.readouterr().out
    assert "the run would be REJECTED" in out
    assert "after holding out 5 for testing" in out
    # and the per-file view still says what Bedrock reads of a training file alone
    assert main(["validate", str(path), "--model", LLAMA, "--role", "training"]) == 0
