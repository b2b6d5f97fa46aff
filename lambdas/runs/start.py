"""Turning a dropped object into a run: its id, its configuration, and the execution that carries it."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from lambdas.clock import utc_now
from lambdas.contracts import INCOMING_PREFIX, ChampionAtStart, RunConfig
from lambdas.dataset.sources import dataset_stem
from lambdas.lifecycle.service_errors import service_call
from lambdas.registry import resolve_serving
from lambdas.runs.overrides import apply_overrides
from lambdas.settings import PipelineSettings

_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9]+")
_STEM_MAX = 40  # leaves room for "-" + 12 hash characters, and for prefixes Bedrock names add (<= 63)


class DroppedObject(BaseModel):
    """The parts of an EventBridge S3 "Object Created" event a run needs."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> DroppedObject:
        detail = event.get("detail") or {}
        obj = detail.get("object") or {}
        return cls(
            bucket=(detail.get("bucket") or {}).get("name", ""),
            key=obj.get("key", ""),
            version_id=obj.get("version-id"),
            etag=obj.get("etag"),
            size=obj.get("size"),
        )


# What HeadObject answers for a key that does not exist: 404, or 403 when the caller may not list the bucket.
_ABSENT = frozenset({"404", "403", "NoSuchKey", "NotFound", "AccessDenied", "Forbidden"})


def resolve_key(obj: DroppedObject, s3: Any) -> DroppedObject:
    """The object's real key: S3 URL-encodes keys in event notifications ("my data.jsonl" arrives as "my+data.jsonl").

    Decoding is right for every encoded key, but would corrupt a key that really contains "+" or "%" if an event ever
    carried it unencoded; when decoding changes the key, S3 is asked which of the two exists.
    """
    decoded = unquote_plus(obj.key)
    if decoded == obj.key:
        return obj
    for candidate in (decoded, obj.key):
        try:
            s3.head_object(Bucket=obj.bucket, Key=candidate)
        except ClientError as error:
            if str(error.response.get("Error", {}).get("Code")) in _ABSENT:
                continue
            raise
        return obj.model_copy(update={"key": candidate})
    return obj.model_copy(update={"key": decoded})  # gone already: the validate step reports it by its real name


class StartRunResult(BaseModel):
    run_id: str
    started: bool
    execution_arn: str | None = None
    reason: str = Field(default="")


def why_not_an_incoming_drop(key: str) -> str | None:
    """Why the object at ``key`` starts no run, in words; None when it is a drop.

    Every object created under ``incoming/`` is a drop, whatever its name: one the pipeline cannot read still gets a
    run, which ValidateDataset ends REJECTED with the reason and the notification. The exception is a key ending in
    "/": a zero-byte folder marker (the S3 console's "Create folder" makes one), which holds no data.
    """
    if not key.startswith(INCOMING_PREFIX):
        return f"{key!r} is not under {INCOMING_PREFIX}"
    if key.endswith("/"):
        return f"{key!r} is a folder marker (a key ending in '/', as the S3 console's Create folder makes), not data"
    return None


def is_incoming_drop(key: str) -> bool:
    return why_not_an_incoming_drop(key) is None


def run_id_for(obj: DroppedObject) -> str:
    """A readable, deterministic id: the file's stem plus a hash of bucket, key and version (or etag).

    The same object version always maps to the same id, so a duplicate event delivery is refused by Step Functions
    (execution names are unique) instead of starting a second, paid run. A new upload of the same key is a new
    version and so a new run. The stem leaves out the extensions of the formats the pipeline reads, in any case
    (``DATA.JSONL.GZ`` -> ``DATA``); any other extension stays in it (``data.csv`` -> ``data-csv``).
    """
    stem = dataset_stem(obj.key.rsplit("/", 1)[-1])
    readable = _NOT_NAME_CHARS.sub("-", stem).strip("-")[:_STEM_MAX].strip("-") or "dataset"
    identity = f"{obj.bucket}/{obj.key}@{obj.version_id or obj.etag or ''}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    return f"{readable}-{digest}"


def load_stack_settings(ssm: Any, parameter_name: str) -> PipelineSettings:
    """The settings the stack was deployed with, from the SSM parameter the stack writes them to.

    Read at every drop, not cached: a deploy that changes only the settings changes only the parameter, and the next
    run must use them. Validated again here, so a run never starts on settings this code cannot read.
    """
    with service_call(f"reading the pipeline settings from SSM parameter {parameter_name}"):
        value = ssm.get_parameter(Name=parameter_name)["Parameter"]["Value"]
    return PipelineSettings.model_validate_json(value)


def build_run_config(
    obj: DroppedObject,
    *,
    settings: PipelineSettings,
    stack_name: str,
    emulated: bool,
    overrides: str | None = None,
    champion: ChampionAtStart | None = None,
) -> RunConfig:
    settings, applied, refused = apply_overrides(settings, overrides)
    return RunConfig(
        champion=champion,
        overrides=applied,
        overrides_error=refused,
        run_id=run_id_for(obj),
        bucket=obj.bucket,
        source_key=obj.key,
        source_version=obj.version_id,
        source_etag=obj.etag,
        received_at=utc_now(),
        stack_name=stack_name,
        settings=settings,
        serving=resolve_serving(settings.model, settings.inference_mode),
        emulated=emulated,
    )


def start_run(
    obj: DroppedObject,
    *,
    settings: PipelineSettings,
    stack_name: str,
    state_machine_arn: str,
    emulated: bool,
    stepfunctions: Any,
    overrides: str | None = None,
    champion: ChampionAtStart | None = None,
) -> StartRunResult:
    refusal = why_not_an_incoming_drop(obj.key)
    if refusal is not None:
        return StartRunResult(run_id="", started=False, reason=refusal)
    run = build_run_config(
        obj, settings=settings, stack_name=stack_name, emulated=emulated, overrides=overrides, champion=champion
    )
    return execute(run, state_machine_arn=state_machine_arn, stepfunctions=stepfunctions)


def execute(run: RunConfig, *, state_machine_arn: str, stepfunctions: Any) -> StartRunResult:
    """Start the run's execution, named by its run id: a duplicate event for the same object version is refused by
    Step Functions instead of starting a second, paid run."""
    document = {"run": json.loads(run.model_dump_json()), "errors": {}}
    try:
        response = stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=run.run_id, input=json.dumps(document)
        )
    except stepfunctions.exceptions.ExecutionAlreadyExists:
        return StartRunResult(
            run_id=run.run_id, started=False, reason="a run for this object version already exists (duplicate event)"
        )
    return StartRunResult(run_id=run.run_id, started=True, execution_arn=response["executionArn"])
