"""Clean up after an execution that ended without reaching its own delete step (aborted, timed out, failed).

Aborting an execution stops its Lambdas but not what they started in Bedrock. An EventBridge rule on the state
machine's "Execution Status Change" events calls this: it reads the run from the execution's input, stops the
customization job if it is still running, and deletes the run's capacity by its deterministic name.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from lambdas.contracts import DeleteInferenceCapacityOutput, RunConfig
from lambdas.lifecycle.capacity import delete_inference_capacity
from lambdas.lifecycle.customization import stop_job_if_running
from lambdas.lifecycle.names import job_name
from lambdas.lifecycle.service_errors import service_call

BedrockClient = Any
StepFunctionsClient = Any

CLEANUP_STATUSES = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})


class ExecutionEnded(BaseModel):
    """The fields of ``detail`` in a "Step Functions Execution Status Change" event that cleanup needs."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    execution_arn: str = ""
    state_machine_arn: str = ""
    status: str = ""

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ExecutionEnded:
        detail = event.get("detail") or {}
        return cls(
            execution_arn=str(detail.get("executionArn", "")),
            state_machine_arn=str(detail.get("stateMachineArn", "")),
            status=str(detail.get("status", "")),
        )


class ExecutionCleanupResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    execution_arn: str
    status: str
    ignored_reason: str | None = None
    run_id: str | None = None
    job_name: str | None = None
    job_status_found: str | None = None  # None: no job was ever created
    job_stop_requested: bool = False
    capacity: DeleteInferenceCapacityOutput | None = None


def read_run(stepfunctions: StepFunctionsClient, execution_arn: str) -> RunConfig | None:
    with service_call(f"describing execution {execution_arn}"):
        execution = stepfunctions.describe_execution(executionArn=execution_arn)
    try:
        document = json.loads(execution.get("input") or "{}")
        return RunConfig.model_validate(document["run"])
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


def cleanup_after_execution(
    bedrock: BedrockClient,
    stepfunctions: StepFunctionsClient,
    ended: ExecutionEnded,
    *,
    state_machine_arn: str = "",
) -> ExecutionCleanupResult:
    result = ExecutionCleanupResult(execution_arn=ended.execution_arn, status=ended.status)
    if ended.status not in CLEANUP_STATUSES:
        return result.model_copy(update={"ignored_reason": f"status {ended.status or '(none)'} needs no cleanup"})
    if state_machine_arn and ended.state_machine_arn != state_machine_arn:
        return result.model_copy(update={"ignored_reason": "another state machine's execution"})
    if not ended.execution_arn:
        return result.model_copy(update={"ignored_reason": "the event names no execution"})
    run = read_run(stepfunctions, ended.execution_arn)
    if run is None:
        return result.model_copy(update={"ignored_reason": "the execution input holds no run configuration"})
    name = job_name(run)
    job_status, stop_requested = stop_job_if_running(bedrock, name)
    capacity = delete_inference_capacity(bedrock, run, None)  # raises when the delete fails: the event is retried
    return result.model_copy(
        update={
            "run_id": run.run_id,
            "job_name": name,
            "job_status_found": job_status,
            "job_stop_requested": stop_requested,
            "capacity": capacity,
        }
    )
