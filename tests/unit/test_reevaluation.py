"""Re-evaluating an existing custom model: the request, the run it becomes, its dataset step, preflight and budget."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.contracts import CheckStatus, RunPaths, RunState
from lambdas.lifecycle.retention import retention_decision
from lambdas.preflight.budget import RunSize, check_budget
from lambdas.preflight.custom_model import check_custom_model
from lambdas.registry import get_model
from lambdas.runs.reevaluate import (
    INVALID_REQUEST,
    NO_SOURCE_SPLIT,
    ReevaluationRequest,
    parse_request,
    reevaluation_dataset,
    start_reevaluation,
)
from lambdas.runs.start import DroppedObject
from lambdas.settings import PipelineSettings

ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abc123"
BUCKET = "data-bucket"
SOURCE = "my-data-0123456789ab"


def _request(**fields: Any) -> bytes:
    return json.dumps({"custom_model_arn": ARN, "run_id": SOURCE, **fields}).encode()


def test_a_request_names_the_model_and_the_questions() -> None:
    request = parse_request(_request(test_set="eval/set.jsonl", settings={"evaluation": {"max_test_records": 7}}))
    assert (request.custom_model_arn, request.run_id) == (ARN, SOURCE)
    # the fixed set joins the request's own settings: one mechanism for per-run settings
    assert json.loads(request.overrides() or "{}") == {
        "evaluation": {"max_test_records": 7, "test_set": "eval/set.jsonl"}
    }
    assert parse_request(request.document()) == request


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not JSON"),
        (b"[1]", "must be a JSON object"),
        (json.dumps({"run_id": SOURCE}).encode(), "custom_model_arn: Field required"),
        (json.dumps({"custom_model_arn": "my-model", "run_id": SOURCE}).encode(), "must be a custom model ARN"),
        (json.dumps({"custom_model_arn": ARN}).encode(), "name the questions: run_id"),
        (_request(epochs=3), "epochs: Extra inputs are not permitted"),
        (b" " * (64 * 1024 + 1), "a re-evaluation request is a small JSON object"),
    ],
    ids=["not-json", "array", "no-arn", "not-an-arn", "no-questions", "unknown-field", "too-big"],
)
def test_an_unusable_request_is_refused_in_one_sentence(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_request(body)


def _run_state(**reevaluation: Any) -> RunState:
    from lambdas.registry import resolve_serving

    settings = PipelineSettings()
    return RunState.model_validate(
        {
            "run": {
                "run_id": "again-0123456789ab",
                "bucket": BUCKET,
                "source_key": "reevaluate/again.json",
                "received_at": datetime(2026, 12, 3, tzinfo=UTC),
                "stack_name": "FineTuningStack",
                "settings": settings.model_dump(mode="json"),
                "serving": resolve_serving(settings.model, settings.inference_mode),
                "reevaluation": {"request_key": "reevaluate/again.json", **reevaluation},
            }
        }
    )


@mock_aws
def test_the_dataset_step_reuses_the_source_runs_splits_and_writes_nothing() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    source = RunPaths(run_id=SOURCE)
    for key in (source.train, source.test):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    state = _run_state(custom_model_arn=ARN, source_run_id=SOURCE)
    output = reevaluation_dataset(s3, state.run)
    assert output.valid
    assert (output.train_key, output.validation_key, output.test_key) == (source.train, None, source.test)
    assert output.estimated_training_tokens == 0
    assert output.report_key == source.validation_report
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]] == sorted(
        [source.train, source.test]
    )


@mock_aws
def test_a_source_run_without_a_test_split_is_rejected_with_what_to_do() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    output = reevaluation_dataset(s3, _run_state(custom_model_arn=ARN, source_run_id=SOURCE).run)
    assert not output.valid
    assert output.first_errors[0].code == NO_SOURCE_SPLIT
    assert "--test-set eval/FILE.jsonl" in output.first_errors[0].message


def test_an_unreadable_request_still_gets_a_rejected_run() -> None:
    state = _run_state(request_error="the request is not JSON")
    output = reevaluation_dataset(None, state.run)  # nothing is read: the reason is already known
    assert not output.valid
    assert output.first_errors[0].code == INVALID_REQUEST
    assert output.first_errors[0].message == "reevaluate/again.json: the request is not JSON"


@mock_aws
def test_the_trigger_starts_a_run_that_carries_the_request() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    key = "reevaluate/again.json"
    put = s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=ReevaluationRequest(custom_model_arn=ARN, run_id=SOURCE, test_set="eval/set.jsonl").document(),
    )
    started: list[dict[str, Any]] = []

    class _StepFunctions:
        class exceptions:
            class ExecutionAlreadyExists(Exception):
                pass

        def start_execution(self, **kwargs: Any) -> dict[str, str]:
            started.append(kwargs)
            return {"executionArn": f"arn:execution:{kwargs['name']}"}

    result = start_reevaluation(
        DroppedObject(bucket=BUCKET, key=key, etag=put["ETag"]),
        s3=s3,
        settings=PipelineSettings(),
        stack_name="FineTuningStack",
        state_machine_arn="arn:state-machine",
        emulated=False,
        stepfunctions=_StepFunctions(),
    )
    assert result.started
    run = json.loads(started[0]["input"])["run"]
    assert run["reevaluation"] == {
        "custom_model_arn": ARN,
        "source_run_id": SOURCE,
        "request_key": key,
        "request_error": None,
    }
    assert run["settings"]["evaluation"]["test_set"] == "eval/set.jsonl"
    assert result.run_id.startswith("again-")


def _bedrock_answering(response: dict[str, Any] | None, error: str | None = None) -> Any:
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    stubber = Stubber(bedrock)
    if error is not None:
        stubber.add_client_error("get_custom_model", service_error_code=error, http_status_code=404)
    else:
        stubber.add_response("get_custom_model", response, {"modelIdentifier": ARN})
    stubber.activate()
    return bedrock


def _custom_model(base: str, status: str = "Active") -> dict[str, Any]:
    return {
        "modelArn": ARN,
        "modelName": "my-data-model",
        "creationTime": datetime(2026, 12, 1, tzinfo=UTC),
        "baseModelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{base}",
        "modelStatus": status,
    }


def test_preflight_checks_the_model_exists_is_active_and_comes_from_the_base_model() -> None:
    spec = get_model(PipelineSettings().base_model_id)
    passed = check_custom_model(_bedrock_answering(_custom_model(spec.model_id)), ARN, spec)
    assert passed.status is CheckStatus.PASSED
    other = check_custom_model(_bedrock_answering(_custom_model("meta.llama3-1-8b-instruct-v1:0:128k")), ARN, spec)
    assert other.status is CheckStatus.FAILED
    assert "trained from meta.llama3-1-8b-instruct-v1:0:128k" in other.message
    creating = check_custom_model(_bedrock_answering(_custom_model(spec.model_id, "Creating")), ARN, spec)
    assert (creating.status, "Creating, not Active" in creating.message) == (CheckStatus.FAILED, True)
    gone = check_custom_model(_bedrock_answering(None, "ResourceNotFoundException"), ARN, spec)
    assert gone.status is CheckStatus.FAILED
    assert "no such custom model" in gone.message


def test_the_budget_of_a_reevaluation_has_no_training_and_no_storage() -> None:
    settings = PipelineSettings(max_run_cost_usd=1_000)
    trains = check_budget(settings, region=None, size=RunSize(training_tokens=10_000_000, questions=50))
    again = check_budget(settings, region=None, size=RunSize(training_tokens=0, questions=50, trains=False))
    assert "training none (re-evaluation of an existing model)" in again.message
    assert "storage per month none (re-evaluation" in again.message
    assert "re-evaluation" not in trains.message


def test_retention_never_deletes_the_model_a_reevaluation_evaluates() -> None:
    state = _run_state(custom_model_arn=ARN, source_run_id=SOURCE)
    state.run.settings.__dict__["custom_model_retention"] = "delete"
    decision = retention_decision(state)
    assert (decision.custom_model_arn, decision.delete) == (None, False)
    assert state.custom_model_arn == ARN
