"""Start, watch and stop the Bedrock model customization job.

Starting is idempotent twice over: the job name and ``clientRequestToken`` derive from the run, and before creating
we look the job up by name, so a retried step (or a Lambda that timed out after Bedrock accepted the request) returns
the job that already exists instead of paying for a second one.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.clock import utc_now
from lambdas.contracts import (
    JobStatus,
    PollCustomizationJobOutput,
    RunConfig,
    StartCustomizationJobOutput,
    ValidateDatasetOutput,
)
from lambdas.errors import ConfigurationError, PipelineError
from lambdas.lifecycle.names import client_token, custom_model_name, job_name, resource_tags
from lambdas.lifecycle.service_errors import error_code, error_message, is_not_found, service_call
from lambdas.registry import HyperparameterKind, ModelSpec, UnknownHyperparameterError
from lambdas.settings import PipelineSettings, PollingSettings

BedrockClient = Any  # a boto3 "bedrock" client (typed stubs are not part of the Lambda runtime)

TERMINAL_JOB_STATUSES: frozenset[str] = frozenset({"Completed", "Failed", "Stopped"})
_ALREADY_EXISTS_CODES = frozenset({"ConflictException", "ResourceInUseException", "ValidationException"})
JOB_QUOTA_HINT = "wait for a running customization job to finish or request a quota increase in Service Quotas"


class JobOwnershipError(PipelineError):
    """A job with this run's name exists but was not created by this run (its idempotency token differs)."""


def hyperparameter_problem(spec: ModelSpec, name: str, value: float, text: str) -> str | None:
    try:
        hp = spec.hyperparameter(name)
    except UnknownHyperparameterError as error:
        return str(error)
    if not math.isfinite(value) or not hp.minimum <= value <= hp.maximum:
        return f"{name}={text} is outside {spec.display_name}'s range {hp.minimum:g}..{hp.maximum:g}"
    if hp.kind is HyperparameterKind.INTEGER and not value.is_integer():
        return f"{name}={text} must be a whole number for {spec.display_name}"
    return None


def checked_hyperparameters(settings: PipelineSettings) -> dict[str, str]:
    """Re-check hyperparameters against the registry immediately before paying for a job.

    Settings were validated at synth time, but the registry may have changed since, and a run's settings travel
    through JSON: the configured values are checked before formatting (which would round 8.5 to "8") and the
    strings sent to Bedrock after it.
    """
    spec = settings.model
    problems = [
        problem
        for name, value in settings.hyperparameters.items()
        if (problem := hyperparameter_problem(spec, name, float(value), f"{value:g}")) is not None
    ]
    if not problems:
        resolved = settings.resolved_hyperparameters()
        for name, text in resolved.items():
            try:
                value = float(text)
            except ValueError:
                problems.append(f"{name}={text!r} is not a number")
                continue
            if (problem := hyperparameter_problem(spec, name, value, text)) is not None:
                problems.append(problem)
    if problems:
        raise ConfigurationError("hyperparameters rejected before starting the job: " + "; ".join(problems))
    return resolved


def job_output_uri(run: RunConfig) -> str:
    return f"s3://{run.bucket}/{run.paths.job_output}"


def build_job_request(run: RunConfig, dataset: ValidateDatasetOutput, role_arn: str) -> dict[str, Any]:
    """The ``CreateModelCustomizationJob`` request for a run (pure: tests assert on it)."""
    if not dataset.valid or not dataset.train_key:
        raise ConfigurationError("the dataset was not validated or has no training split; no job was started")
    if not role_arn:
        raise ConfigurationError("no Bedrock service role is configured (BEDROCK_ROLE_ARN is empty)")
    settings = run.settings
    hyperparameters = checked_hyperparameters(settings)
    tags = resource_tags(run)
    request: dict[str, Any] = {
        "jobName": job_name(run),
        "customModelName": custom_model_name(run),
        "roleArn": role_arn,
        "clientRequestToken": client_token(run, "job"),
        "baseModelIdentifier": settings.base_model_id,
        "customizationType": "FINE_TUNING",
        "jobTags": tags,
        "customModelTags": tags,
        "trainingDataConfig": {"s3Uri": f"s3://{run.bucket}/{dataset.train_key}"},
        "outputDataConfig": {"s3Uri": job_output_uri(run)},
        "hyperParameters": hyperparameters,
    }
    if dataset.validation_key:
        request["validationDataConfig"] = {"validators": [{"s3Uri": f"s3://{run.bucket}/{dataset.validation_key}"}]}
    if settings.customization_kms_key_arn:
        request["customModelKmsKeyId"] = settings.customization_kms_key_arn
    if settings.vpc:
        request["vpcConfig"] = {
            "subnetIds": list(settings.vpc.subnet_ids),
            "securityGroupIds": list(settings.vpc.security_group_ids),
        }
    return request


def find_job(bedrock: BedrockClient, name: str) -> dict[str, Any] | None:
    """The job with this name, or None. Bedrock accepts the name as ``jobIdentifier``."""
    try:
        with service_call(f"looking up customization job {name}"):
            response: dict[str, Any] = bedrock.get_model_customization_job(jobIdentifier=name)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    return response


def _adopt(job: dict[str, Any], request: dict[str, Any]) -> StartCustomizationJobOutput:
    token = job.get("clientRequestToken")
    if token and token != request["clientRequestToken"]:
        raise JobOwnershipError(
            f"a customization job named {request['jobName']} already exists but was started by another request; "
            "not adopting it"
        )
    return _output(str(job["jobArn"]), request)


def _output(job_arn: str, request: dict[str, Any]) -> StartCustomizationJobOutput:
    return StartCustomizationJobOutput(
        job_arn=job_arn,
        job_name=request["jobName"],
        custom_model_name=request["customModelName"],
        output_s3_uri=request["outputDataConfig"]["s3Uri"],
        hyperparameters=request["hyperParameters"],
        started_at=utc_now(),
    )


def start_customization_job(
    bedrock: BedrockClient, run: RunConfig, dataset: ValidateDatasetOutput, role_arn: str
) -> StartCustomizationJobOutput:
    request = build_job_request(run, dataset, role_arn)  # raises before any call when the settings are unusable
    existing = find_job(bedrock, request["jobName"])
    if existing is not None:
        return _adopt(existing, request)
    try:
        with service_call("starting the customization job", quota_hint=JOB_QUOTA_HINT):
            response = bedrock.create_model_customization_job(**request)
    except ClientError as error:
        # A concurrent or timed-out earlier attempt may have created it between our lookup and our create.
        if error_code(error) in _ALREADY_EXISTS_CODES and "exist" in error_message(error).lower():
            existing = find_job(bedrock, request["jobName"])
            if existing is not None:
                return _adopt(existing, request)
        if error_code(error) in ("ValidationException", "AccessDeniedException"):
            raise ConfigurationError(f"Bedrock refused the customization job: {error_message(error)}") from error
        raise
    return _output(str(response["jobArn"]), request)


def job_wait_seconds(polls: int, polling: PollingSettings) -> int:
    """Seconds to wait after poll number ``polls`` (1-based): first wait, growing geometrically, capped.

    A pure function of the poll count, never of the wall clock, so simulated time and real time agree.
    """
    exponent = max(polls - 1, 0)
    wait = polling.job_first_wait_seconds * polling.job_wait_growth**exponent
    return int(min(wait, polling.job_max_wait_seconds))


def poll_customization_job(
    bedrock: BedrockClient, run: RunConfig, job_identifier: str, previous_polls: int
) -> PollCustomizationJobOutput:
    with service_call(f"checking customization job {job_identifier}"):
        job = bedrock.get_model_customization_job(jobIdentifier=job_identifier)
    status: JobStatus = job["status"]
    polls = previous_polls + 1
    custom_model_arn: str | None = None
    failure_message: str | None = None
    if status == "Completed":
        custom_model_arn = job.get("outputModelArn")
        if not custom_model_arn:
            failure_message = "the job completed but Bedrock reported no output model ARN"
    elif status in ("Failed", "Stopped"):
        failure_message = job.get("failureMessage") or f"the customization job is {status}"
    return PollCustomizationJobOutput(
        status=status,
        polls=polls,
        wait_seconds=job_wait_seconds(polls, run.settings.polling),
        custom_model_arn=custom_model_arn,
        failure_message=failure_message,
        checked_at=utc_now(),
        ended_at=_ended_at(job) if status in TERMINAL_JOB_STATUSES else None,
    )


def _ended_at(job: dict[str, Any]) -> datetime | None:
    """The job's ``endTime`` (botocore parses it; the emulator's JSON may give a string), in UTC."""
    value = job.get("endTime")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stop_job_if_running(bedrock: BedrockClient, name: str) -> tuple[str | None, bool]:
    """Stop the job when it is still InProgress.

    Returns (the status found, or None when no such job exists; whether this call asked Bedrock to stop it).
    """
    job = find_job(bedrock, name)
    if job is None:
        return None, False
    status = str(job.get("status", ""))
    if status != "InProgress":
        return status, False
    try:
        with service_call(f"stopping customization job {name}"):
            bedrock.stop_model_customization_job(jobIdentifier=name)
    except ClientError as error:
        # Conflict: it finished or began stopping between our read and our stop; nothing is left to stop.
        if error_code(error) != "ConflictException":
            raise
        return status, False
    return status, True
