"""Deterministic names, idempotency tokens and tags for everything a run creates in Bedrock.

Every name is a pure function of the run id, so any step (a retry, the delete after a failed create, the execution
cleanup after an abort) can find what the run created without having been told its ARN. Names carry the sanitized
run id for people and a short hash of the raw run id so that two distinct runs never share a name, even when
sanitizing or truncating makes their readable parts equal.
"""

from __future__ import annotations

import hashlib
import re

from lambdas.contracts import RunConfig

MAX_NAME_LENGTH = 63  # jobs, custom models, provisioned throughputs and deployments alike
HASH_LENGTH = 8

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$")
MODEL_NAME_PATTERN = re.compile(r"^([0-9a-zA-Z][_-]?)+$")  # custom models, throughputs, deployments
TOKEN_PATTERN = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?$")
TAG_VALUE_PATTERN = re.compile(r"^[a-zA-Z0-9\s._:/=+@-]*$")
MAX_TAG_VALUE_LENGTH = 256

TAG_STACK = "fine-tuning:stack"
TAG_RUN_ID = "fine-tuning:run-id"
TAG_SOURCE = "fine-tuning:source"

_NOT_NAME_SAFE = re.compile(r"[^A-Za-z0-9]+")
_NOT_TAG_SAFE = re.compile(r"[^a-zA-Z0-9\s._:/=+@-]")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def bedrock_name(prefix: str, run_id: str) -> str:
    """``<prefix>-<sanitized run id, truncated>-<hash>``: valid for both the job and the model name patterns.

    Only letters, digits and single dashes are used, which satisfies the stricter custom-model pattern (no dots, no
    doubled separators) as well as the job pattern.
    """
    suffix = _digest(prefix, run_id)[:HASH_LENGTH]
    readable = _NOT_NAME_SAFE.sub("-", f"{prefix}-{run_id}").strip("-")
    room = MAX_NAME_LENGTH - len(suffix) - 1
    readable = readable[:room].rstrip("-")
    return f"{readable}-{suffix}" if readable else suffix


def job_name(run: RunConfig) -> str:
    return bedrock_name("ft-job", run.run_id)


def custom_model_name(run: RunConfig) -> str:
    return bedrock_name("ft-model", run.run_id)


def capacity_name(run: RunConfig) -> str:
    """One name for the run's capacity, whichever kind it is (a run buys at most one)."""
    return bedrock_name("ft-serve", run.run_id)


def client_token(run: RunConfig, purpose: str) -> str:
    """An idempotency token: the same run and purpose always give the same token, so a retried create is a no-op."""
    return f"{purpose}-{_digest(run.stack_name, run.run_id, purpose)[:40]}"


def tag_value(value: str) -> str:
    """Bedrock tag values allow letters, digits, spaces and ``._:/=+@-``; anything else becomes ``_``."""
    return _NOT_TAG_SAFE.sub("_", value)[:MAX_TAG_VALUE_LENGTH]


def resource_tags(run: RunConfig) -> list[dict[str, str]]:
    """Tags on every billable resource: the sweeper deletes only what carries this stack's tag."""
    return [
        {"key": TAG_STACK, "value": tag_value(run.stack_name)},
        {"key": TAG_RUN_ID, "value": tag_value(run.run_id)},
        {"key": TAG_SOURCE, "value": tag_value(run.source_key)},
    ]
