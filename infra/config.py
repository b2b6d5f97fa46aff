"""Reads and validates the pipeline settings from the CDK context, so a bad setting fails ``cdk synth`` clearly.

Settings live in ``cdk.json`` under the context key ``fine_tuning``. A single field can be overridden on the command
line with a dotted key, e.g. ``npx cdk deploy -c fine_tuning.base_model_id=anthropic.claude-3-haiku-20240307-v1:0:200k``
or ``-c fine_tuning.hyperparameters='{"epochCount": 10}'`` (values are parsed as JSON where they parse).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from lambdas.dataset.formats import parse_json
from lambdas.settings import PipelineSettings

CONTEXT_KEY = "fine_tuning"


class SettingsError(ValueError):
    """The configured settings are invalid; the message lists every problem with its setting name."""


def _parse(key: str, value: Any) -> Any:
    """A context value as JSON where it is JSON (``-c`` values arrive as strings); other text stays text."""
    if isinstance(value, str):
        try:
            return parse_json(value)
        except json.JSONDecodeError:
            return value  # e.g. a model id
        except ValueError as error:  # JSON, but nested thousands deep or with a number too long to read
            raise SettingsError(f"invalid fine-tuning settings:\n  - {key}: {error}") from None
    return value


def apply_dotted_context(fine_tuning: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """``fine_tuning`` with every ``fine_tuning.<key>`` of ``context`` replacing its key, as ``-c`` does at synth."""
    merged = dict(fine_tuning)
    for key, value in context.items():
        if key.startswith(f"{CONTEXT_KEY}."):
            merged[key.removeprefix(f"{CONTEXT_KEY}.")] = _parse(key, value)
    return merged


def settings_from_context(context: Mapping[str, Any]) -> PipelineSettings:
    raw = _parse(CONTEXT_KEY, context.get(CONTEXT_KEY, {}))
    if not isinstance(raw, dict):
        raise SettingsError(f"context '{CONTEXT_KEY}' must be a JSON object, got {type(raw).__name__}")
    merged = apply_dotted_context(raw, context)
    try:
        return PipelineSettings.model_validate(merged)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or CONTEXT_KEY
            message = item["msg"].removeprefix("Value error, ")
            problems.append(f"  - {CONTEXT_KEY}.{where}: {message}" if item["loc"] else f"  - {message}")
        raise SettingsError("invalid fine-tuning settings:\n" + "\n".join(problems)) from None
