"""A report for an execution that ended before its own report step: stopped by hand, or timed out.

The execution cleanup calls this after it has stopped the job and deleted the capacity, so every run leaves a
report, and its owner is told. The run's document is taken from the execution history: the input of the last
state the execution entered (a Map's iterations are skipped: their input is one shard's, not the run's).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from lambdas.contracts import RunState
from lambdas.lifecycle.cleanup import ExecutionCleanupResult
from lambdas.lifecycle.service_errors import service_call
from lambdas.reporting.model import ExecutionEnd
from lambdas.reporting.publish import _read_json, notify, write_report

REPORTED_STATUSES = frozenset({"ABORTED", "TIMED_OUT"})
SHARD_SUFFIX = "Shard"


def last_state(stepfunctions: Any, execution_arn: str) -> tuple[str | None, RunState | None]:
    """(the state the execution was in, the run document it entered that state with).

    The history is asked newest first; the newest entered state is also found by its event id, so a history served
    oldest first (as moto's is) gives the same answer.
    """
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 200}
    newest: dict[str, Any] | None = None
    while True:
        with service_call(f"reading the history of {execution_arn}"):
            page = stepfunctions.get_execution_history(**kwargs)
        events = page.get("events", [])
        for event in events:
            entered = event.get("stateEnteredEventDetails")
            in_run = entered and not str(entered.get("name", "")).endswith(SHARD_SUFFIX)
            if in_run and (newest is None or event.get("id", 0) > newest.get("id", 0)):
                newest = event
        newest_first = len(events) < 2 or events[0].get("id", 0) > events[-1].get("id", 0)
        if (newest is not None and newest_first) or not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    if newest is None:
        return None, None
    entered = newest["stateEnteredEventDetails"]
    try:
        return entered.get("name"), RunState.model_validate(json.loads(entered.get("input") or "{}"))
    except (ValueError, ValidationError):
        return entered.get("name"), None


def cleanup_lines(result: ExecutionCleanupResult) -> list[str]:
    lines = []
    if result.job_status_found is None:
        lines.append("No customization job was started: nothing was billed for training.")
    elif result.job_stop_requested:
        lines.append(f"Customization job {result.job_name} was {result.job_status_found}: the cleanup stopped it.")
    else:
        lines.append(f"Customization job {result.job_name} had ended ({result.job_status_found}).")
    capacity = result.capacity
    if capacity is None or capacity.arn is None:
        lines.append("No inference capacity existed.")
    elif capacity.already_gone:
        lines.append(f"{capacity.kind.value if capacity.kind else 'capacity'} {capacity.arn} was already gone.")
    else:
        lines.append(f"The cleanup deleted {capacity.kind.value if capacity.kind else 'capacity'} {capacity.arn}.")
    return lines


def report_ended_execution(
    result: ExecutionCleanupResult,
    *,
    stepfunctions: Any,
    s3: Any,
    sns: Any,
    bucket: str,
    topic_arn: str,
) -> str | None:
    """Write the ABORTED report and notify; returns the report's key, or None when there is nothing to report."""
    if result.status not in REPORTED_STATUSES or result.run_id is None:
        return None
    step, state = last_state(stepfunctions, result.execution_arn)
    if state is None:
        return None
    if _read_json(s3, bucket, state.run.paths.report_json) is not None:
        return None  # the run wrote its own report before it ended: keep it
    with service_call(f"describing {result.execution_arn}"):
        execution = stepfunctions.describe_execution(executionArn=result.execution_arn)
    ended = ExecutionEnd(
        status=result.status,
        step=step,
        error=execution.get("error"),
        cause=execution.get("cause"),
        cleanup=cleanup_lines(result),
    )
    if result.capacity is not None and result.capacity.arn is not None:
        state = state.model_copy(update={"delete_inference_capacity": result.capacity})
    output = write_report(state, s3=s3, bucket=bucket, ended=ended)
    notify(state.model_copy(update={"write_report": output}), sns=sns, topic_arn=topic_arn, bucket=bucket, ended=ended)
    return output.report_key
