"""Change what the stack serves: promote a champion, roll back to the previous one, or delete the stable deployment.

For a model Bedrock can serve on demand, the stack keeps ONE custom model deployment, ``<stack>-serving``: created
at the first promotion, then switched with ``UpdateCustomModelDeployment``, so its ARN — what applications put in
``modelId`` — never changes. It is billed per token, so it costs nothing while idle. It is tagged
``fine-tuning:serving-stack`` (not ``fine-tuning:stack``, which marks a run's capacity): the sweeper, which deletes
only this stack's run capacity, never matches it, and ``tuner capacity`` does not count it as left over.

For a model that needs Provisioned Throughput, promotion records the champion and buys nothing (a throughput bills
every hour whether called or not); ``tuner serving`` says what it would cost and how to buy it. A stable deployment
that already exists is left as it is (it keeps serving its model, which stays protected as a rollback target).

Each change is made in Bedrock first, then written to the record, then appended to ``serving/history.jsonl``, then
(optionally) published to the notification topic: a retried change finds the deployment by its name and converges.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from lambdas.clock import utc_now
from lambdas.errors import PipelineError
from lambdas.lifecycle.capacity import QUOTA_HINTS, delete_capacity_by_arn
from lambdas.lifecycle.names import MAX_NAME_LENGTH, tag_value
from lambdas.lifecycle.service_errors import is_not_found, service_call
from lambdas.registry import Serving
from lambdas.serving.record import (
    MAX_PREVIOUS,
    Action,
    Actor,
    Champion,
    HistoryEntry,
    ServingKind,
    ServingRecord,
    serving_kind_for,
)
from lambdas.serving.store import append_history, read_record, write_record

BedrockClient = Any
SsmClient = Any
S3Client = Any
SnsClient = Any

TAG_SERVING_STACK = "fine-tuning:serving-stack"
TAG_ROLE = "fine-tuning:role"
SERVING_SUFFIX = "-serving"
_NOT_NAME_SAFE = re.compile(r"[^A-Za-z0-9]+")
_BUSY_UPDATE = "Updating"


class ServingActionError(PipelineError):
    """A serving change that cannot be made now; the message says why and what to do."""


class NothingToRollBackError(ServingActionError):
    """There is no previous champion to return to."""


class NoServingDeploymentError(ServingActionError):
    """There is no stable deployment to delete."""


class DeploymentBusyError(ServingActionError):
    """The stable deployment is being created or updated: try again when it is Active."""


class DeploymentFailedError(ServingActionError):
    """The stable deployment is Failed: it must be deleted before it can serve again."""


class ModelGoneError(ServingActionError):
    """The custom model to serve no longer exists."""


class ServingChange(BaseModel):
    """What a promote, rollback or delete did."""

    model_config = ConfigDict(extra="forbid")

    action: Action
    changed: bool  # False: it was already so (a retried promotion), nothing was written
    record: ServingRecord | None
    previous_champion: Champion | None
    deployment_arn: str | None
    deployment_created: bool = False
    deployment_updated: bool = False
    message: str  # one or two sentences for a person
    history: HistoryEntry | None = None
    notified: bool = False
    notification_error: str | None = None


def serving_deployment_name(stack_name: str) -> str:
    """``<stack>-serving``, made to fit the deployment name pattern ``^([0-9a-zA-Z][_-]?)+$`` and 63 characters."""
    readable = _NOT_NAME_SAFE.sub("-", stack_name).strip("-")[: MAX_NAME_LENGTH - len(SERVING_SUFFIX)].rstrip("-")
    return f"{readable or 'stack'}{SERVING_SUFFIX}"


def serving_tags(stack_name: str) -> list[dict[str, str]]:
    return [{"key": TAG_SERVING_STACK, "value": tag_value(stack_name)}, {"key": TAG_ROLE, "value": "serving"}]


def _client_token(stack_name: str, model_arn: str, record: ServingRecord | None) -> str:
    """Deterministic for a retried request, new after any recorded change (so a deployment re-created after
    ``tuner serving --delete`` is not answered with the deleted one)."""
    seed = record.updated_at.isoformat() if record is not None else "first"
    digest = hashlib.sha256("\x1f".join((stack_name, "serving-deployment", model_arn, seed)).encode()).hexdigest()
    return f"serving-{digest[:40]}"


def require_model(bedrock: BedrockClient, custom_model_arn: str) -> None:
    """``ModelGoneError`` when the custom model no longer exists (deleted by retention or by hand)."""
    try:
        with service_call(f"reading custom model {custom_model_arn}"):
            bedrock.get_custom_model(modelIdentifier=custom_model_arn)
    except ClientError as error:
        if is_not_found(error):
            raise ModelGoneError(f"the custom model {custom_model_arn} no longer exists") from None
        raise


def _get_deployment(bedrock: BedrockClient, identifier: str) -> dict[str, Any] | None:
    try:
        with service_call(f"reading custom model deployment {identifier}"):
            response: dict[str, Any] = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=identifier)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    return response


def find_serving_deployment(
    bedrock: BedrockClient, stack_name: str, record: ServingRecord | None
) -> dict[str, Any] | None:
    """The stable deployment as ``GetCustomModelDeployment`` describes it: by the recorded ARN, else by its name
    (a change that created it but failed before recording it); None when neither exists."""
    if record is not None and record.deployment_arn:
        found = _get_deployment(bedrock, record.deployment_arn)
        if found is not None:
            return found
    return _get_deployment(bedrock, serving_deployment_name(stack_name))


def _serve_on_demand(
    bedrock: BedrockClient, stack_name: str, record: ServingRecord | None, model_arn: str
) -> tuple[str, bool, bool]:
    """Make the stable deployment serve ``model_arn``: (its ARN, created, updated)."""
    deployment = find_serving_deployment(bedrock, stack_name, record)
    name = serving_deployment_name(stack_name)
    if deployment is None:
        with service_call(
            f"creating custom model deployment {name}", quota_hint=QUOTA_HINTS[Serving.CUSTOM_MODEL_DEPLOYMENT]
        ):
            response = bedrock.create_custom_model_deployment(
                modelDeploymentName=name,
                modelArn=model_arn,
                description=f"The model stack {stack_name} serves (python -m tuner serving); not a run's capacity",
                tags=serving_tags(stack_name),
                clientRequestToken=_client_token(stack_name, model_arn, record),
            )
        return str(response["customModelDeploymentArn"]), True, False
    arn = str(deployment["customModelDeploymentArn"])
    status = str(deployment.get("status"))
    update = deployment.get("updateDetails") or {}
    if status == "Failed":
        raise DeploymentFailedError(
            f"the serving deployment {arn} is Failed ({deployment.get('failureMessage') or 'no reason given'}); "
            "delete it (python -m tuner serving --delete) and promote again"
        )
    if status == "Creating" or update.get("updateStatus") == _BUSY_UPDATE:
        what = "being created" if status == "Creating" else f"switching to {update.get('modelArn')}"
        raise DeploymentBusyError(f"the serving deployment {arn} is {what}; try again when it is Active")
    if deployment.get("modelArn") == model_arn:
        return arn, False, False
    with service_call(f"switching custom model deployment {arn} to {model_arn}"):
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=model_arn)
    return arn, False, True


def _serve(
    bedrock: BedrockClient, stack_name: str, record: ServingRecord | None, champion: Champion, kind: ServingKind
) -> tuple[str | None, bool, bool, str]:
    """Serve ``champion``: (deployment ARN, created, updated, what happened in words)."""
    if kind is ServingKind.PROVISIONED_THROUGHPUT_NEEDED:
        kept = record.deployment_arn if record is not None else None
        words = f"{champion.base_model_id} models need Provisioned Throughput: nothing was bought"
        if kept:
            words += f"; the serving deployment {kept} still serves the model it served"
        return kept, False, False, words
    arn, created, updated = _serve_on_demand(bedrock, stack_name, record, champion.custom_model_arn)
    if created:
        words = f"created the serving deployment {arn} (it is Active in a few minutes)"
    elif updated:
        words = f"switched the serving deployment {arn} to it (the update takes a few minutes; the ARN is unchanged)"
    else:
        words = f"the serving deployment {arn} already serves it"
    return arn, created, updated, words


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def _notify(sns: SnsClient | None, topic_arn: str | None, change: ServingChange, stack_name: str) -> ServingChange:
    if sns is None or not topic_arn:
        return change
    subject = f"[{stack_name}] serving: {change.action}"
    if change.history is not None and change.history.run_id:
        subject += f" {change.history.run_id}"
    try:
        sns.publish(TopicArn=topic_arn, Subject=subject[:100], Message=change.message)
    except (ClientError, BotoCoreError) as error:  # the change is made: a lost notification must not undo it
        return change.model_copy(update={"notification_error": str(error)})
    return change.model_copy(update={"notified": True})


def _commit(
    ssm: SsmClient,
    s3: S3Client,
    *,
    bucket: str,
    record: ServingRecord,
    entry: HistoryEntry,
) -> None:
    write_record(ssm, record)
    append_history(s3, bucket, entry)


def _record_change(
    ssm: SsmClient,
    s3: S3Client,
    *,
    bucket: str,
    record: ServingRecord,
    action: Action,
    served: Champion,
    replaced: Champion | None,
    served_through: tuple[str | None, bool, bool],  # (deployment ARN, created, updated)
    by: Actor,
    reason: str,
    at: datetime,
    message: str,
    sns: SnsClient | None,
    topic_arn: str | None,
) -> ServingChange:
    """Write a promotion or a rollback: the record, one history line, and the notification."""
    deployment_arn, created, updated = served_through
    entry = HistoryEntry(
        at=at,
        action=action,
        run_id=served.run_id,
        custom_model_arn=served.custom_model_arn,
        previous=replaced.custom_model_arn if replaced is not None else None,
        deployment_arn=deployment_arn,
        by=by,
        reason=reason,
    )
    _commit(ssm, s3, bucket=bucket, record=record, entry=entry)
    change = ServingChange(
        action=action,
        changed=True,
        record=record,
        previous_champion=replaced,
        deployment_arn=deployment_arn,
        deployment_created=created,
        deployment_updated=updated,
        message=message,
        history=entry,
    )
    return _notify(sns, topic_arn, change, record.stack_name)


def promote(
    bedrock: BedrockClient,
    ssm: SsmClient,
    s3: S3Client,
    *,
    stack_name: str,
    bucket: str,
    champion: Champion,
    by: Actor,
    reason: str,
    serving: ServingKind | None = None,
    now: datetime | None = None,
    sns: SnsClient | None = None,
    topic_arn: str | None = None,
) -> ServingChange:
    """Make ``champion`` what the stack serves; the current champion becomes the latest rollback target.

    ``serving`` defaults to what the registry says of the champion's base model (``serving_kind_for``). Raises
    ``ModelGoneError``, ``DeploymentBusyError`` or ``DeploymentFailedError`` before changing anything.
    """
    at = now or utc_now()
    kind = serving or serving_kind_for(champion.base_model_id)
    record = read_record(ssm, stack_name)
    current = record.champion if record is not None else None
    require_model(bedrock, champion.custom_model_arn)
    deployment_arn, created, updated, words = _serve(bedrock, stack_name, record, champion, kind)
    if current is not None and current.custom_model_arn == champion.custom_model_arn and record is not None:
        return ServingChange(
            action="promote",
            changed=False,
            record=record,
            previous_champion=None,
            deployment_arn=deployment_arn,
            deployment_created=created,
            deployment_updated=updated,
            message=f"run {champion.run_id} already is the champion of {stack_name}; {words}",
        )
    previous = [*(record.previous if record is not None else []), *([current] if current is not None else [])]
    new_record = ServingRecord(
        stack_name=stack_name,
        champion=champion,
        previous=previous[-MAX_PREVIOUS:],
        deployment_arn=deployment_arn,
        serving_kind=kind,
        updated_at=at,
    )
    replaced = f" (replacing run {current.run_id})" if current is not None else ""
    return _record_change(
        ssm,
        s3,
        bucket=bucket,
        record=new_record,
        action="promote",
        served=champion,
        replaced=current,
        served_through=(deployment_arn, created, updated),
        by=by,
        reason=reason,
        at=at,
        message=f"Promoted run {champion.run_id} ({champion.custom_model_arn}) to champion of {stack_name}"
        f"{replaced}: {_sentence(reason)}. {_sentence(words)}.",
        sns=sns,
        topic_arn=topic_arn,
    )


def rollback(
    bedrock: BedrockClient,
    ssm: SsmClient,
    s3: S3Client,
    *,
    stack_name: str,
    bucket: str,
    by: Actor,
    reason: str,
    now: datetime | None = None,
    sns: SnsClient | None = None,
    topic_arn: str | None = None,
) -> ServingChange:
    """Serve the previous champion again; the current one is dropped from the record (it stays in the history, and
    can be promoted again while its model exists). ``NothingToRollBackError`` when there is no previous champion."""
    at = now or utc_now()
    record = read_record(ssm, stack_name)
    if record is None or not record.previous:
        raise NothingToRollBackError(
            f"stack {stack_name} has no previous champion to roll back to"
            + ("" if record is not None else " (nothing was ever promoted)")
        )
    target = record.previous[-1]
    current = record.champion
    kind = serving_kind_for(target.base_model_id)
    require_model(bedrock, target.custom_model_arn)
    deployment_arn, created, updated, words = _serve(bedrock, stack_name, record, target, kind)
    new_record = record.model_copy(
        update={
            "champion": target,
            "previous": record.previous[:-1],
            "deployment_arn": deployment_arn,
            "serving_kind": kind,
            "updated_at": at,
        }
    )
    dropped = f" (run {current.run_id} no longer serves)" if current is not None else ""
    return _record_change(
        ssm,
        s3,
        bucket=bucket,
        record=new_record,
        action="rollback",
        served=target,
        replaced=current,
        served_through=(deployment_arn, created, updated),
        by=by,
        reason=reason,
        at=at,
        message=f"Rolled {stack_name} back to run {target.run_id} ({target.custom_model_arn}){dropped}: "
        f"{_sentence(reason)}. {_sentence(words)}.",
        sns=sns,
        topic_arn=topic_arn,
    )


def delete_serving(
    bedrock: BedrockClient,
    ssm: SsmClient,
    s3: S3Client,
    *,
    stack_name: str,
    bucket: str,
    by: Actor,
    reason: str,
    now: datetime | None = None,
    sns: SnsClient | None = None,
    topic_arn: str | None = None,
) -> ServingChange:
    """Delete the stable deployment (``cdk destroy`` does not own it). The champions stay recorded, with no
    deployment: a later promotion creates a new one, with a new ARN. ``NoServingDeploymentError`` when none exists."""
    at = now or utc_now()
    record = read_record(ssm, stack_name)
    deployment = find_serving_deployment(bedrock, stack_name, record)
    if deployment is None:
        raise NoServingDeploymentError(f"stack {stack_name} has no serving deployment to delete")
    arn = str(deployment["customModelDeploymentArn"])
    delete_capacity_by_arn(bedrock, Serving.CUSTOM_MODEL_DEPLOYMENT, arn)
    new_record = record.model_copy(update={"deployment_arn": None, "updated_at": at}) if record is not None else None
    champion = record.champion if record is not None else None
    entry = HistoryEntry(
        at=at,
        action="delete",
        run_id=champion.run_id if champion is not None else None,
        custom_model_arn=champion.custom_model_arn if champion is not None else None,
        previous=champion.custom_model_arn if champion is not None else None,
        deployment_arn=arn,
        by=by,
        reason=reason,
    )
    if new_record is not None:
        write_record(ssm, new_record)
    append_history(s3, bucket, entry)
    change = ServingChange(
        action="delete",
        changed=True,
        record=new_record,
        previous_champion=champion,
        deployment_arn=None,
        message=f"Deleted the serving deployment {arn} of {stack_name}: {_sentence(reason)}. Applications calling it "
        "now fail; the champion stays recorded, and the next promotion creates a new deployment with a new ARN.",
        history=entry,
    )
    return _notify(sns, topic_arn, change, stack_name)
