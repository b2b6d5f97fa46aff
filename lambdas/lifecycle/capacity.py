"""Inference capacity for the customized model: a no-commitment Provisioned Throughput or an on-demand deployment.

Capacity is bought as late as possible (only after the job completed) and deleted on every path. Each run has one
deterministic capacity name, so creation first looks for an existing one (a retried step never buys twice) and
deletion can find the capacity even when the create step failed before reporting its ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.clock import utc_now
from lambdas.contracts import (
    CapacityStatus,
    CreateInferenceCapacityOutput,
    DeleteInferenceCapacityOutput,
    PollInferenceCapacityOutput,
    RunConfig,
)
from lambdas.errors import PipelineError
from lambdas.lifecycle.names import capacity_name, client_token, resource_tags
from lambdas.lifecycle.service_errors import is_not_found, service_call
from lambdas.pricing import list_prices, run_region, started_hours
from lambdas.registry import Serving

BedrockClient = Any

READY_STATUSES = frozenset({"InService", "Active"})
FAILED_STATUSES = frozenset({"Failed"})

QUOTA_HINTS = {
    Serving.PROVISIONED_THROUGHPUT: (
        "an account has only 2 no-commitment Provisioned Throughputs by default; delete one "
        "(python -m tuner sweep --dry-run lists this stack's) or request a quota increase in Service Quotas"
    ),
    Serving.CUSTOM_MODEL_DEPLOYMENT: (
        "the custom model deployment quota is used up; delete an unused deployment or request a quota increase"
    ),
}
# Deleting capacity that is still Creating/Updating may be refused with a conflict: the workflow retries it.
_DELETE_RETRYABLE = frozenset({"ConflictException"})


class MissingStateError(PipelineError):
    """A step ran without the output of the step it depends on (a wiring mistake in the state machine)."""


@dataclass(frozen=True)
class CapacityRecord:
    """One provisioned throughput or deployment, as listed by Bedrock."""

    kind: Serving
    arn: str
    name: str
    status: str
    created_at: datetime | None
    model_units: int | None = None
    committed: bool = False


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def list_capacity(bedrock: BedrockClient, kind: Serving, name_contains: str | None = None) -> list[CapacityRecord]:
    """Every capacity of one kind (optionally filtered by name), across all pages."""
    filters = {"nameContains": name_contains} if name_contains else {}
    records: list[CapacityRecord] = []
    if kind is Serving.PROVISIONED_THROUGHPUT:
        with service_call("listing provisioned throughputs"):
            for page in bedrock.get_paginator("list_provisioned_model_throughputs").paginate(**filters):
                records.extend(
                    CapacityRecord(
                        kind=kind,
                        arn=str(item["provisionedModelArn"]),
                        name=str(item["provisionedModelName"]),
                        status=str(item["status"]),
                        created_at=_aware(item.get("creationTime")),
                        model_units=item.get("modelUnits"),
                        committed=bool(item.get("commitmentDuration")),
                    )
                    for item in page.get("provisionedModelSummaries", [])
                )
    else:
        with service_call("listing custom model deployments"):
            for page in bedrock.get_paginator("list_custom_model_deployments").paginate(**filters):
                records.extend(
                    CapacityRecord(
                        kind=kind,
                        arn=str(item["customModelDeploymentArn"]),
                        name=str(item["customModelDeploymentName"]),
                        status=str(item["status"]),
                        created_at=_aware(item.get("createdAt")),
                    )
                    for item in page.get("modelDeploymentSummaries", [])
                )
    return records


def find_capacity(bedrock: BedrockClient, kind: Serving, name: str) -> CapacityRecord | None:
    """The capacity with exactly this name (``nameContains`` also matches longer names)."""
    for record in list_capacity(bedrock, kind, name_contains=name):
        if record.name == name:
            return record
    return None


def create_inference_capacity(
    bedrock: BedrockClient, run: RunConfig, custom_model_arn: str | None
) -> CreateInferenceCapacityOutput:
    if not custom_model_arn:
        raise MissingStateError("no custom model ARN: the customization job did not report a completed model")
    kind = run.serving
    name = capacity_name(run)
    existing = find_capacity(bedrock, kind, name)
    if existing is not None:
        return CreateInferenceCapacityOutput(
            kind=kind,
            arn=existing.arn,
            name=name,
            model_units=existing.model_units if kind is Serving.PROVISIONED_THROUGHPUT else None,
            created_at=existing.created_at or utc_now(),
        )
    created_at = utc_now()  # taken before the call: billing may start the moment Bedrock accepts it
    with service_call(f"creating {kind.value} {name}", quota_hint=QUOTA_HINTS[kind]):
        if kind is Serving.PROVISIONED_THROUGHPUT:
            # No commitmentDuration: hourly, deletable at any time. A committed throughput could not be deleted.
            response = bedrock.create_provisioned_model_throughput(
                clientRequestToken=client_token(run, "throughput"),
                modelUnits=run.settings.provisioned_model_units,
                provisionedModelName=name,
                modelId=custom_model_arn,
                tags=resource_tags(run),
            )
            arn = str(response["provisionedModelArn"])
        else:
            response = bedrock.create_custom_model_deployment(
                modelDeploymentName=name,
                modelArn=custom_model_arn,
                description=f"fine-tuning run {run.run_id}",
                tags=resource_tags(run),
                clientRequestToken=client_token(run, "deployment"),
            )
            arn = str(response["customModelDeploymentArn"])
    return CreateInferenceCapacityOutput(
        kind=kind,
        arn=arn,
        name=name,
        model_units=run.settings.provisioned_model_units if kind is Serving.PROVISIONED_THROUGHPUT else None,
        created_at=created_at,
    )


def poll_inference_capacity(
    bedrock: BedrockClient, run: RunConfig, capacity: CreateInferenceCapacityOutput, previous_polls: int
) -> PollInferenceCapacityOutput:
    """Steady polling: capacity bills from creation, so a shorter wait means paying for less idle time."""
    with service_call(f"checking {capacity.kind.value} {capacity.name}"):
        if capacity.kind is Serving.PROVISIONED_THROUGHPUT:
            response = bedrock.get_provisioned_model_throughput(provisionedModelId=capacity.arn)
        else:
            response = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=capacity.arn)
    status: CapacityStatus = response["status"]
    failed = status in FAILED_STATUSES
    return PollInferenceCapacityOutput(
        status=status,
        ready=status in READY_STATUSES,
        failed=failed,
        polls=previous_polls + 1,
        wait_seconds=run.settings.polling.capacity_wait_seconds,
        failure_message=(response.get("failureMessage") or f"the {capacity.kind.value} failed") if failed else None,
        checked_at=utc_now(),
    )


def billed_hours(lifetime_seconds: float) -> int:
    """No-commitment Provisioned Throughput is estimated per *started* hour: 1 s -> 1 h, 3601 s -> 2 h."""
    return started_hours(lifetime_seconds)


def throughput_price_per_hour(run: RunConfig, arn: str | None) -> float | None:
    """The price per model unit hour of the run's model in the capacity's Region: the ``prices`` setting, else the
    registry's list price (``lambdas.pricing``); None when neither has one."""
    settings = run.settings
    price = list_prices(
        settings.base_model_id, run_region(settings.model, arn), settings.prices
    ).provisioned_throughput_per_model_unit_hour
    return price.usd if price is not None else None


def estimate_cost_usd(
    kind: Serving, lifetime_seconds: float | None, model_units: int | None, usd_per_model_unit_hour: float | None
) -> float | None:
    """Estimated throughput cost: started hours x model units x the hourly price per model unit.

    None when no price is known or the lifetime is unknown, and for on-demand deployments, which bill per token
    rather than per hour (their cost is not a function of how long they existed).
    """
    if kind is not Serving.PROVISIONED_THROUGHPUT or usd_per_model_unit_hour is None or lifetime_seconds is None:
        return None
    return round(billed_hours(lifetime_seconds) * (model_units or 1) * usd_per_model_unit_hour, 2)


def delete_capacity_by_arn(bedrock: BedrockClient, kind: Serving, arn: str) -> bool:
    """Delete; True when we deleted it, False when it was already gone. Any other error propagates."""
    try:
        with service_call(f"deleting {kind.value} {arn}", extra_transient=_DELETE_RETRYABLE):
            if kind is Serving.PROVISIONED_THROUGHPUT:
                bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
            else:
                bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    except ClientError as error:
        if is_not_found(error):
            return False
        raise
    return True


def delete_inference_capacity(
    bedrock: BedrockClient, run: RunConfig, created: CreateInferenceCapacityOutput | None
) -> DeleteInferenceCapacityOutput:
    """Delete the run's capacity, idempotently, whether or not the create step reported it.

    Without the create step's output (it failed, timed out or was never reached) the capacity is looked up by the
    run's deterministic name; finding nothing means nothing was bought. A failed delete always raises.
    """
    kind = created.kind if created else run.serving
    arn = created.arn if created else None
    created_at = created.created_at if created else None
    model_units = created.model_units if created else None
    if created is None:
        found = find_capacity(bedrock, kind, capacity_name(run))
        if found is not None:
            arn, created_at, model_units = found.arn, found.created_at, found.model_units
    deleted_by_us = delete_capacity_by_arn(bedrock, kind, arn) if arn else False
    deleted_at = utc_now()
    lifetime = (deleted_at - created_at).total_seconds() if created_at else None
    if lifetime is not None:
        lifetime = max(lifetime, 0.0)
    return DeleteInferenceCapacityOutput(
        kind=kind,
        arn=arn,
        deleted=True,
        already_gone=not deleted_by_us,
        deleted_at=deleted_at,
        lifetime_seconds=lifetime,
        estimated_cost_usd=estimate_cost_usd(
            kind,
            lifetime,
            model_units or run.settings.provisioned_model_units,
            throughput_price_per_hour(run, arn),
        ),
    )
