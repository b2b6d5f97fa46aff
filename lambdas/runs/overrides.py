"""Per-run settings without a redeploy: a drop may carry overrides of the run-level settings.

Carried as S3 object metadata, which arrives atomically with the object (a sidecar file could land after the drop
and be missed): ``aws s3 cp data.jsonl s3://BUCKET/incoming/ --metadata fine-tuning-settings='{"hyperparameters":
{"epochCount": 10}}'``. S3 limits user metadata to 2 KB, plenty for hyperparameters, split and evaluation; a long
system prompt belongs in cdk.json. The overrides are applied exactly as ``cdk synth -c fine_tuning.<key>`` applies
a setting (each key replaces the stack's value) and validated like cdk.json; invalid overrides end the run REJECTED
with the reason, before anything is read or bought. Only run-level settings may change: the base model, serving
mode and stack-wide limits shape the deployed IAM and infrastructure and need a deploy.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from lambdas.dataset.formats import parse_json
from lambdas.lifecycle.service_errors import service_call
from lambdas.settings import PipelineSettings

METADATA_KEY = "fine-tuning-settings"  # x-amz-meta-fine-tuning-settings
RUN_LEVEL_SETTINGS = frozenset(
    {
        "hyperparameters",
        "split",
        "evaluation",
        "system_prompt",
        "qa_keys",
        "prices",
        "max_run_cost_usd",
        "custom_model_retention",
        "promotion",
    }
)
INVALID_OVERRIDE = "invalid_settings_override"
# Gone, or a version id S3 does not know (400): ValidateDataset reads the same version and says why for the run.
_GONE = frozenset({"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "NotFound", "400", "InvalidArgument"})


def read_overrides(s3: Any, bucket: str, key: str, version_id: str | None) -> str | None:
    """The drop's overrides as written (a JSON text), or None when it carries none."""
    request: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        with service_call(f"reading the metadata of s3://{bucket}/{key}"):
            metadata = s3.head_object(**request).get("Metadata") or {}
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in _GONE:
            return None
        raise
    value = metadata.get(METADATA_KEY)
    return str(value) if value is not None else None


def apply_overrides(
    settings: PipelineSettings, raw: str | None
) -> tuple[PipelineSettings, dict[str, Any] | None, str | None]:
    """(the run's settings, the overrides applied, why they were refused); refused overrides leave ``settings``."""
    if raw is None:
        return settings, None, None
    try:
        overrides = parse_json(raw)
    except ValueError as error:
        return settings, None, f"{METADATA_KEY} metadata is not JSON: {error}"
    if not isinstance(overrides, dict):
        return settings, None, f"{METADATA_KEY} metadata must be a JSON object of settings"
    stack_level = sorted(set(overrides) - RUN_LEVEL_SETTINGS)
    if stack_level:
        return (
            settings,
            None,
            f"{METADATA_KEY}: {', '.join(stack_level)} cannot change per run (redeploy with cdk.json); a drop may "
            f"override {', '.join(sorted(RUN_LEVEL_SETTINGS))}",
        )
    try:
        merged = PipelineSettings.model_validate({**settings.model_dump(mode="json"), **overrides})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        return settings, None, f"{METADATA_KEY}: fine_tuning.{where}: {message}" if where else f"{METADATA_KEY}: {message}"
    return merged, overrides, None
