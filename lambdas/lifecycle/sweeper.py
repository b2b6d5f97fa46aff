"""The safety net: delete this stack's inference capacity that outlived its maximum lifetime.

The workflow deletes capacity on every path it controls; this scheduled sweep covers the paths it cannot (an
execution stopped by hand, a region outage mid-delete, a bug). It touches only resources tagged
``fine-tuning:stack`` = this stack, never anything else in the account, and never a committed throughput (which
cannot be deleted before its term).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from lambdas.clock import utc_now
from lambdas.errors import PipelineError
from lambdas.lifecycle.capacity import CapacityRecord, delete_capacity_by_arn, list_capacity
from lambdas.lifecycle.names import TAG_RUN_ID, TAG_STACK
from lambdas.lifecycle.service_errors import is_not_found, service_call
from lambdas.registry import Serving

BedrockClient = Any
SnsClient = Any


class SweptCapacity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Serving
    arn: str
    name: str
    status: str
    run_id: str | None
    created_at: datetime
    age_hours: float
    error: str | None = None  # set when the delete failed


class SweepResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack_name: str
    max_age_hours: float
    dry_run: bool
    checked: int  # capacity resources of any owner that were looked at
    deleted: list[SweptCapacity]  # deleted now (or, in a dry run, that would be)
    failed: list[SweptCapacity]
    kept_committed: list[SweptCapacity]
    swept_at: datetime
    message_id: str | None = None

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"sweep of stack {self.stack_name}: {verb} {len(self.deleted)}, failed {len(self.failed)}, "
            f"checked {self.checked} (max age {self.max_age_hours:g} h)"
        )


class SweepIncompleteError(PipelineError):
    """At least one expired capacity could not be deleted; it is still billing."""


def _tags(bedrock: BedrockClient, arn: str) -> dict[str, str] | None:
    try:
        with service_call(f"reading tags of {arn}"):
            response = bedrock.list_tags_for_resource(resourceARN=arn)
    except ClientError as error:
        if is_not_found(error):
            return None  # deleted while we looked
        raise
    return {str(tag["key"]): str(tag["value"]) for tag in response.get("tags", [])}


def _describe(record: CapacityRecord, tags: dict[str, str], now: datetime) -> SweptCapacity:
    created_at = record.created_at or now
    return SweptCapacity(
        kind=record.kind,
        arn=record.arn,
        name=record.name,
        status=record.status,
        run_id=tags.get(TAG_RUN_ID),
        created_at=created_at,
        age_hours=round((now - created_at).total_seconds() / 3600, 2),
    )


def find_expired_capacity(
    bedrock: BedrockClient, stack_name: str, max_age_hours: float
) -> tuple[int, list[tuple[CapacityRecord, SweptCapacity]]]:
    """(how many were checked, this stack's capacity older than ``max_age_hours``)."""
    now = utc_now()
    checked = 0
    expired: list[tuple[CapacityRecord, SweptCapacity]] = []
    for kind in (Serving.PROVISIONED_THROUGHPUT, Serving.CUSTOM_MODEL_DEPLOYMENT):
        for record in list_capacity(bedrock, kind):
            checked += 1
            if record.created_at is None or (now - record.created_at).total_seconds() <= max_age_hours * 3600:
                continue  # young (or of unknown age): a run may still be using it
            tags = _tags(bedrock, record.arn)
            if tags is None or tags.get(TAG_STACK) != stack_name:
                continue
            expired.append((record, _describe(record, tags, now)))
    return checked, expired


def _message(result: SweepResult) -> str:
    lines = [result.summary(), ""]
    for item in result.deleted:
        lines.append(f"deleted {item.kind.value} {item.name} (run {item.run_id}, age {item.age_hours:g} h) {item.arn}")
    for item in result.failed:
        lines.append(f"FAILED to delete {item.kind.value} {item.name} {item.arn}: {item.error} - still billing")
    for item in result.kept_committed:
        lines.append(f"kept committed throughput {item.name} {item.arn}: it cannot be deleted before its term")
    return "\n".join(lines)


def sweep_expired_capacity(
    bedrock: BedrockClient,
    *,
    stack_name: str,
    max_age_hours: float,
    sns: SnsClient | None = None,
    topic_arn: str = "",
    dry_run: bool = False,
    raise_on_failure: bool = True,
) -> SweepResult:
    """Delete expired capacity of this stack; publish one SNS message when anything was deleted or failed.

    Failures do not stop the sweep of the other resources, but they are never swallowed: after reporting, the sweep
    raises ``SweepIncompleteError`` (the Lambda's error metric and the async retry see it). The operator's command
    passes ``raise_on_failure=False`` to print the result and exit non-zero instead.
    """
    checked, expired = find_expired_capacity(bedrock, stack_name, max_age_hours)
    deleted: list[SweptCapacity] = []
    failed: list[SweptCapacity] = []
    kept: list[SweptCapacity] = []
    for record, item in expired:
        if record.committed:
            kept.append(item)
            continue
        if dry_run:
            deleted.append(item)
            continue
        try:
            delete_capacity_by_arn(bedrock, record.kind, record.arn)
        except Exception as error:  # reported below, then raised as SweepIncompleteError
            failed.append(item.model_copy(update={"error": f"{type(error).__name__}: {error}"}))
        else:
            deleted.append(item)
    result = SweepResult(
        stack_name=stack_name,
        max_age_hours=max_age_hours,
        dry_run=dry_run,
        checked=checked,
        deleted=deleted,
        failed=failed,
        kept_committed=kept,
        swept_at=utc_now(),
    )
    if sns is not None and topic_arn and not dry_run and (deleted or failed):
        with service_call("publishing the sweep notification"):
            response = sns.publish(
                TopicArn=topic_arn,
                Subject=f"Fine-tuning sweeper ({stack_name}): deleted {len(deleted)}, failed {len(failed)}"[:100],
                Message=_message(result),
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": "capacity-swept"},
                    "deleted": {"DataType": "Number", "StringValue": str(len(deleted))},
                },
            )
        result = result.model_copy(update={"message_id": response.get("MessageId")})
    if failed and raise_on_failure:
        raise SweepIncompleteError(
            f"{len(failed)} expired capacity resource(s) could not be deleted: "
            + json.dumps([item.arn for item in failed])
        )
    return result
