from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.errors import ConfigurationError, QuotaExceededError, TransientServiceError
from lambdas.lifecycle.customization import (
    JobOwnershipError,
    build_job_request,
    job_wait_seconds,
    poll_customization_job,
    start_customization_job,
    stop_job_if_running,
)
from lambdas.lifecycle.names import client_token, custom_model_name, job_name
from lambdas.registry import REFERENCE_STUDY_MODEL_ID
from lambdas.settings import PipelineSettings, PollingSettings, VpcSettings
from tests.unit.lifecycle.factories import BUCKET, CUSTOM_MODEL_ARN, HAIKU, ROLE_ARN, make_run, valid_dataset

JOB_ARN = f"arn:aws:bedrock:us-west-2:123456789012:model-customization-job/{HAIKU}/abcdef123456"


def _job(run: Any, status: str = "InProgress", **extra: Any) -> dict[str, Any]:
    """A GetModelCustomizationJob response as Bedrock shapes it."""
    return {
        "jobArn": JOB_ARN,
        "jobName": job_name(run),
        "outputModelName": custom_model_name(run),
        "roleArn": ROLE_ARN,
        "clientRequestToken": client_token(run, "job"),
        "status": status,
        "creationTime": datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/runs/r/data/train.jsonl"},
        "validationDataConfig": {"validators": []},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/runs/r/job-output/"},
        **extra,
    }


def _not_found(stubber: Stubber, method: str) -> None:
    stubber.add_client_error(method, "ResourceNotFoundException", "not found", 404)


def test_request_carries_data_hyperparameters_tags_and_options() -> None:
    # Given a run with validation data, a KMS key and a VPC
    settings = PipelineSettings(
        base_model_id=REFERENCE_STUDY_MODEL_ID,
        hyperparameters={"epochCount": 10},
        customization_kms_key_arn="arn:aws:kms:us-west-2:123456789012:key/11111111-2222-3333-4444-555555555555",
        vpc=VpcSettings(subnet_ids=("subnet-1",), security_group_ids=("sg-1",)),
    )
    run = make_run(settings=settings)
    # When the request is built
    request = build_job_request(run, valid_dataset(run), ROLE_ARN)
    # Then every part of it comes from the run
    assert request["trainingDataConfig"] == {"s3Uri": f"s3://{BUCKET}/runs/{run.run_id}/data/train.jsonl"}
    assert request["validationDataConfig"] == {
        "validators": [{"s3Uri": f"s3://{BUCKET}/runs/{run.run_id}/data/validation.jsonl"}]
    }
    assert request["outputDataConfig"] == {"s3Uri": f"s3://{BUCKET}/runs/{run.run_id}/job-output/"}
    assert request["hyperParameters"] == {
        "epochCount": "10",
        "batchSize": "32",
        "learningRateMultiplier": "1.0",
        "earlyStoppingThreshold": "0.001",
        "earlyStoppingPatience": "2",
    }
    assert request["customModelKmsKeyId"] == settings.customization_kms_key_arn
    assert request["vpcConfig"] == {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    assert request["customizationType"] == "FINE_TUNING"
    assert request["baseModelIdentifier"] == REFERENCE_STUDY_MODEL_ID
    assert request["roleArn"] == ROLE_ARN
    assert {"key": "fine-tuning:run-id", "value": run.run_id} in request["jobTags"]
    assert request["jobTags"] == request["customModelTags"]


def test_request_without_validation_split_has_no_validation_config() -> None:
    run = make_run()
    request = build_job_request(run, valid_dataset(run, with_validation=False), ROLE_ARN)
    assert "validationDataConfig" not in request
    assert "vpcConfig" not in request
    assert "customModelKmsKeyId" not in request


def test_out_of_range_hyperparameter_is_rejected_before_any_call(bedrock_stub: Any) -> None:
    # Given settings that slipped past validation (e.g. an older registry) with 50 epochs for Claude 3 Haiku
    client, _stubber = bedrock_stub  # no responses queued: any call would fail the test with UnStubbedResponseError
    settings = PipelineSettings.model_construct(
        **{**PipelineSettings(base_model_id=REFERENCE_STUDY_MODEL_ID).__dict__, "hyperparameters": {"epochCount": 50}}
    )
    run = make_run(settings=settings)
    # When the job is started / Then it is refused with the range, and no Bedrock call was made
    with pytest.raises(ConfigurationError, match=r"epochCount=50 is outside .*1\.\.10"):
        start_customization_job(client, run, valid_dataset(run), ROLE_ARN)


def test_unknown_and_fractional_hyperparameters_are_rejected(bedrock_stub: Any) -> None:
    client, _stubber = bedrock_stub
    base = PipelineSettings(base_model_id=REFERENCE_STUDY_MODEL_ID).__dict__
    settings = PipelineSettings.model_construct(**{**base, "hyperparameters": {"batchSize": 8.5, "learningRate": 1}})
    run = make_run(settings=settings)
    with pytest.raises(ConfigurationError) as raised:
        start_customization_job(client, run, valid_dataset(run), ROLE_ARN)
    assert "batchSize=8.5 must be a whole number" in str(raised.value)  # checked before formatting rounds it
    assert "has no hyperparameter 'learningRate'" in str(raised.value)


def test_starting_twice_creates_one_job() -> None:
    # Given moto's Bedrock
    with mock_aws():
        bedrock = boto3.client("bedrock", region_name="us-west-2")
        run = make_run()
        # When the step runs twice (a retry after a timeout)
        first = start_customization_job(bedrock, run, valid_dataset(run), ROLE_ARN)
        second = start_customization_job(bedrock, run, valid_dataset(run), ROLE_ARN)
        # Then there is one job, and both answers name it
        jobs = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
        assert [job["jobName"] for job in jobs] == [job_name(run)]
        assert first.job_arn == second.job_arn
        assert first.job_name == job_name(run)
        created = bedrock.get_model_customization_job(jobIdentifier=job_name(run))
        assert created["clientRequestToken"] == client_token(run, "job")
        assert created["hyperParameters"]["epochCount"] == "2"


def test_job_created_between_lookup_and_create_is_adopted(bedrock_stub: Any) -> None:
    # Given: no job at lookup time, but the create conflicts because an earlier attempt just created it
    client, stubber = bedrock_stub
    run = make_run()
    request = build_job_request(run, valid_dataset(run), ROLE_ARN)
    _not_found(stubber, "get_model_customization_job")
    stubber.add_client_error(
        "create_model_customization_job", "ConflictException", "Job name already exists", 409, expected_params=request
    )
    stubber.add_response("get_model_customization_job", _job(run), {"jobIdentifier": job_name(run)})
    # When the job is started / Then the existing job is returned
    output = start_customization_job(client, run, valid_dataset(run), ROLE_ARN)
    assert output.job_arn == JOB_ARN


def test_same_named_job_from_another_request_is_not_adopted(bedrock_stub: Any) -> None:
    client, stubber = bedrock_stub
    run = make_run()
    stubber.add_response("get_model_customization_job", _job(run, clientRequestToken="someone-else"))
    with pytest.raises(JobOwnershipError, match="already exists"):
        start_customization_job(client, run, valid_dataset(run), ROLE_ARN)


def test_create_request_passes_the_service_model(bedrock_stub: Any) -> None:
    # Given no existing job
    client, stubber = bedrock_stub
    run = make_run()
    request = build_job_request(run, valid_dataset(run), ROLE_ARN)
    _not_found(stubber, "get_model_customization_job")
    stubber.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, request)
    # When started / Then the exact request was sent and the output names the job
    output = start_customization_job(client, run, valid_dataset(run), ROLE_ARN)
    assert output.job_arn == JOB_ARN
    assert output.output_s3_uri == f"s3://{BUCKET}/runs/{run.run_id}/job-output/"


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ServiceQuotaExceededException", 400, QuotaExceededError),
        ("ThrottlingException", 429, TransientServiceError),
        ("InternalServerException", 500, TransientServiceError),
        ("ValidationException", 400, ConfigurationError),
    ],
)
def test_create_errors_are_translated(bedrock_stub: Any, code: str, status: int, expected: type[Exception]) -> None:
    client, stubber = bedrock_stub
    run = make_run()
    _not_found(stubber, "get_model_customization_job")
    stubber.add_client_error("create_model_customization_job", code, "nope", status)
    with pytest.raises(expected):
        start_customization_job(client, run, valid_dataset(run), ROLE_ARN)


@pytest.mark.parametrize(
    ("status", "model_arn", "failure"),
    [
        ("InProgress", None, None),
        ("Stopping", None, None),
        ("Completed", CUSTOM_MODEL_ARN, None),
        ("Failed", None, "Training data has 12 invalid records"),
        ("Stopped", None, "the customization job is Stopped"),
    ],
)
def test_poll_reports_every_status(
    bedrock_stub: Any, fixed_clock: Any, status: str, model_arn: str | None, failure: str | None
) -> None:
    client, stubber = bedrock_stub
    run = make_run()
    extra: dict[str, Any] = {}
    if status == "Completed":
        extra["outputModelArn"] = CUSTOM_MODEL_ARN
    if status == "Failed":
        extra["failureMessage"] = "Training data has 12 invalid records"
    ended = datetime(2026, 3, 1, 10, 40, tzinfo=UTC)
    if status in ("Completed", "Failed", "Stopped"):
        extra["endTime"] = ended
    stubber.add_response("get_model_customization_job", _job(run, status, **extra), {"jobIdentifier": job_name(run)})
    output = poll_customization_job(client, run, job_name(run), previous_polls=3)
    assert output.status == status
    # the job's end time is recorded once it has ended (the report shows it, and how long the job took)
    assert output.ended_at == (ended if "endTime" in extra else None)
    assert output.polls == 4
    assert output.wait_seconds == job_wait_seconds(4, run.settings.polling)
    assert output.custom_model_arn == model_arn
    assert output.failure_message == failure
    assert output.checked_at == fixed_clock.now


def test_poll_throttled_beyond_client_retries_is_transient(bedrock_stub: Any) -> None:
    client, stubber = bedrock_stub
    stubber.add_client_error("get_model_customization_job", "ThrottlingException", "slow down", 429)
    with pytest.raises(TransientServiceError, match="ThrottlingException"):
        poll_customization_job(client, make_run(), "ft-job-x", previous_polls=0)


def test_job_waits_grow_geometrically_to_the_cap() -> None:
    polling = PollingSettings(job_first_wait_seconds=60, job_wait_growth=1.5, job_max_wait_seconds=900)
    waits = [job_wait_seconds(polls, polling) for polls in range(1, 11)]
    assert waits == [60, 90, 135, 202, 303, 455, 683, 900, 900, 900]
    assert job_wait_seconds(1000, polling) == 900  # no overflow for absurd counts


def test_stop_only_a_running_job() -> None:
    with mock_aws():
        bedrock = boto3.client("bedrock", region_name="us-west-2")
        run = make_run()
        assert stop_job_if_running(bedrock, job_name(run)) == (None, False)
        start_customization_job(bedrock, run, valid_dataset(run), ROLE_ARN)
        assert stop_job_if_running(bedrock, job_name(run)) == ("InProgress", True)
        assert bedrock.get_model_customization_job(jobIdentifier=job_name(run))["status"] == "Stopped"
        assert stop_job_if_running(bedrock, job_name(run)) == ("Stopped", False)
