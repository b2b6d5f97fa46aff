"""The safety net: delete this stack's inference capacity that outlived its maximum lifetime.

The workflow deletes capacity on every path it controls; this scheduled sweep covers the paths it cannot (an
execution stopped by hand, a region outage mid-delete, a bug). It touches only resources tagged
``fine-tuning:stack`` = this stack, never anything else in the account, and never a committed throughput (which
cannot be deleted before its term).

Each kind (provisioned throughputs, custom model deployments) is listed on its own, and each resource is checked and
deleted on its own: a listing that fails (an SDK that predates the deployment APIs, a missing permission, an outage)
or a delete that fails never keeps the sweep from the others. Every failure is in the result and the notification,
and the sweep then raises, so the Lambda's error metric sees it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, NamedTuple

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


class SweepLookupFailure(BaseModel):
    """A listing of one kind, or the tags of one resource, that could not be read: what it hides may still bill."""

    model_config = ConfigDict(extra="forbid")

    kind: Serving
    arn: str | None = None  # None: the whole listing of the kind failed
    error: str

    def describe(self) -> str:
        what = f"read the tags of {self.kind.value} {self.arn}" if self.arn else f"list {self.kind.value}s"
        return f"could not {what}: {self.error}"


class SweepResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack_name: str
    max_age_hours: float
    dry_run: bool
    checked: int  # capacity resources of any owner that were looked at
    deleted: list[SweptCapacity]  # deleted now (or, in a dry run, that would be)
    failed: list[SweptCapacity]
    kept_committed: list[SweptCapacity]
    lookup_failures: list[SweepLookupFailure] = []
    swept_at: datetime
    message_id: str | None = None

    @property
    def complete(self) -> bool:
        """Every kind was listed, every candidate checked, and every expired one deleted."""
        return not self.failed and not self.lookup_failures

    def summary(self) -> str:
        verb = "would delete" if self.dry_run else "deleted"
        unchecked = f", {len(self.lookup_failures)} lookup(s) failed" if self.lookup_failures else ""
        return (
            f"sweep of stack {self.stack_name}: {verb} {len(self.deleted)}, failed {len(self.failed)}, "
            f"checked {self.checked} (max age {self.max_age_hours:g} h){unchecked}"
        )


class SweepIncompleteError(PipelineError):
    """At least one expired capacity could not be deleted, or one kind or resource could not be checked."""


def read_tags(bedrock: BedrockClient, arn: str) -> dict[str, str] | None:
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


CAPACITY_KINDS = (Serving.PROVISIONED_THROUGHPUT, Serving.CUSTOM_MODEL_DEPLOYMENT)


class ExpiredCapacity(NamedTuple):
    checked: int  # capacity resources of any owner that were looked at
    expired: list[tuple[CapacityRecord, SweptCapacity]]  # this stack's, older than the maximum lifetime
    failures: list[SweepLookupFailure]
    listing_errors: list[Exception]  # the exceptions of the listings that failed, in the order of CAPACITY_KINDS


def _failure_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def find_expired_capacity(bedrock: BedrockClient, stack_name: str, max_age_hours: float) -> ExpiredCapacity:
    """This stack's capacity older than ``max_age_hours``, each kind and each resource looked up independently."""
    now = utc_now()
    expired: list[tuple[CapacityRecord, SweptCapacity]] = []
    failures: list[SweepLookupFailure] = []
    listing_errors: list[Exception] = []
    checked = 0
    for kind in CAPACITY_KINDS:
        try:
            records = list_capacity(bedrock, kind)
        except Exception as error:  # reported and raised by the sweep; the other kind is still swept
            failures.append(SweepLookupFailure(kind=kind, error=_failure_text(error)))
            listing_errors.append(error)
            continue
        for record in records:
            checked += 1
            if record.created_at is None or (now - record.created_at).total_seconds() <= max_age_hours * 3600:
                continue  # young (or of unknown age): a run may still be using it
            try:
                tags = read_tags(bedrock, record.arn)
            except Exception as error:  # this one may be ours and billing: reported; the others are still checked
                failures.append(SweepLookupFailure(kind=kind, arn=record.arn, error=_failure_text(error)))
                continue
            if tags is None or tags.get(TAG_STACK) != stack_name:
                continue
            expired.append((record, _describe(record, tags, now)))
    return ExpiredCapacity(checked=checked, expired=expired, failures=failures, listing_errors=listing_errors)


def _message(result: SweepResult, still_alive: list[str]) -> str:
    lines = [result.summary(), ""]
    for item in result.deleted:
        lines.append(f"deleted {item.kind.value} {item.name} (run {item.run_id}, age {item.age_hours:g} h) {item.arn}")
    for item in result.failed:
        lines.append(f"FAILED to delete {item.kind.value} {item.name} {item.arn}: {item.error} - still billing")
    for item in result.kept_committed:
        lines.append(f"kept committed throughput {item.name} {item.arn}: it cannot be deleted before its term")
    for failure in result.lookup_failures:
        lines.append(f"FAILED to check: {failure.describe()} - anything it hides may still be billing")
    lines += [
        "",
        "Still alive after this sweep:" if still_alive else "Nothing of this stack is alive after this sweep.",
    ]
    lines += [f"  {line}" for line in still_alive]
    return "\n".join(lines)


def _still_alive(bedrock: BedrockClient, stack_name: str, max_age_hours: float) -> list[str]:
    """This stack's capacity that exists after the sweep, in words (young ones a run is using, committed ones...)."""
    from lambdas.lifecycle.inventory import capacity_inventory  # it builds on this module

    try:
        inventory = capacity_inventory(bedrock, stack_name=stack_name, max_age_hours=max_age_hours)
    except Exception as error:  # the sweep's own result still goes out
        return [f"(could not list what is alive: {type(error).__name__}: {error})"]
    lines = [
        f"{item.kind.value} {item.name} (run {item.run_id}, {item.status}, age {item.age_hours} h): "
        f"{item.why} {item.arn}"
        for item in inventory.alive
    ]
    lines += [f"could not check: {failure.describe()}" for failure in inventory.lookup_failures]
    return lines


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
    raises ``SweepIncompleteError`` (the Lambda's error metric and the async retry see it). When no kind could be
    listed at all, nothing was swept and the first listing error itself is raised (expired credentials, no region).
    The operator's command passes ``raise_on_failure=False`` to print the result and exit non-zero instead.
    """
    checked, expired, lookup_failures, listing_errors = find_expired_capacity(bedrock, stack_name, max_age_hours)
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
        lookup_failures=lookup_failures,
        swept_at=utc_now(),
    )
    if sns is not None and topic_arn and not dry_run and (deleted or not result.complete):
        with service_call("publishing the sweep notification"):
            response = sns.publish(
                TopicArn=topic_arn,
                Subject=(
                    f"Fine-tuning sweeper ({stack_name}): deleted {len(deleted)}, "
                    f"failed {len(failed) + len(lookup_failures)}"
                )[:100],
                Message=_message(result, _still_alive(bedrock, stack_name, max_age_hours)),
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": "capacity-swept"},
                    "deleted": {"DataType": "Number", "StringValue": str(len(deleted))},
                },
            )
        result = result.model_copy(update={"message_id": response.get("MessageId")})
    if len(listing_errors) == len(CAPACITY_KINDS):
        raise listing_errors[0]  # nothing could be listed: the cause (credentials, region) as the caller knows it
    if raise_on_failure and not result.complete:
        problems = [f"could not delete {item.arn}: {item.error}" for item in failed]
        problems.extend(failure.describe() for failure in lookup_failures)
        raise SweepIncompleteError(
            f"{len(failed)} expired capacity resource(s) could not be deleted and {len(lookup_failures)} lookup(s) "
            f"failed: {json.dumps(problems)}"
        )
    return result
