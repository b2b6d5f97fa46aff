"""EventBridge, as far as the stack uses it: rules from the template, their patterns, and the events AWS sends.

The stack starts runs from S3 "Object Created" events, cleans up after "Step Functions Execution Status Change"
events and sweeps on a schedule. The harness builds those events in the shape AWS delivers them and hands each to the
targets of every rule whose pattern matches, so the trigger and cleanup handlers see exactly what they see on AWS.
"""

from __future__ import annotations

import fnmatch
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from tuner.local.simclock import iso
from tuner.local.template import TemplateResolver


@dataclass(frozen=True)
class Rule:
    logical_id: str
    pattern: dict[str, Any] | None  # None for a scheduled rule
    schedule: str | None
    target_arns: tuple[str, ...]


def rules_of(resolver: TemplateResolver) -> list[Rule]:
    rules = []
    for logical_id, props in resolver.of_type("AWS::Events::Rule"):
        if props.get("State", "ENABLED") != "ENABLED":
            continue
        targets = tuple(str(resolver.resolve(target["Arn"])) for target in props.get("Targets", []))
        pattern = resolver.resolve(props["EventPattern"]) if "EventPattern" in props else None
        rules.append(Rule(logical_id, pattern, props.get("ScheduleExpression"), targets))
    return rules


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge pattern matching for the filters this stack can use (values, prefix, suffix, wildcard, exists,
    anything-but, equals-ignore-case); an unknown filter raises rather than silently not matching."""
    for key, expected in pattern.items():
        present = key in event
        actual = event.get(key)
        if isinstance(expected, Mapping):
            if not isinstance(actual, Mapping) or not matches(expected, actual):
                return False
            continue
        if not isinstance(expected, list):
            raise ValueError(f"event pattern field {key!r} must be a list or an object")
        values = actual if isinstance(actual, list) else [actual]
        if not any(_matches_one(filter_, value, present) for filter_ in expected for value in values):
            return False
    return True


def _matches_one(filter_: Any, value: Any, present: bool) -> bool:
    if not isinstance(filter_, Mapping):
        return present and filter_ == value
    (operator, argument), *_ = filter_.items()
    if operator == "exists":
        return present is bool(argument)
    if not present:
        return False
    text = value if isinstance(value, str) else None
    if operator == "prefix":
        return text is not None and text.startswith(str(argument))
    if operator == "suffix":
        return text is not None and text.endswith(str(argument))
    if operator == "wildcard":
        return text is not None and fnmatch.fnmatchcase(text, str(argument))
    if operator == "equals-ignore-case":
        return text is not None and text.lower() == str(argument).lower()
    if operator == "anything-but":
        excluded = argument if isinstance(argument, list) else [argument]
        return value not in excluded
    raise ValueError(f"the local EventBridge does not support the {operator!r} filter")


def _envelope(
    detail_type: str,
    source: str,
    resources: list[str],
    detail: dict[str, Any],
    *,
    region: str,
    account: str,
    at: datetime,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": iso(at),
        "region": region,
        "resources": resources,
        "detail": detail,
    }


def object_created(
    bucket: str, key: str, *, size: int, etag: str, version_id: str | None, region: str, account: str, at: datetime
) -> dict[str, Any]:
    # S3 URL-encodes the key in its events, as form data ("my data.jsonl" -> "my+data.jsonl"), slashes kept.
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "etag": etag.strip('"'),
        "sequencer": uuid.uuid4().hex[:18],
    }
    if version_id:
        obj["version-id"] = version_id
    detail = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account,
        "source-ip-address": "127.0.0.1",
        "reason": "PutObject",
    }
    return _envelope(
        "Object Created", "aws.s3", [f"arn:aws:s3:::{bucket}"], detail, region=region, account=account, at=at
    )


def execution_status_change(execution: Mapping[str, Any], *, region: str, account: str, at: datetime) -> dict[str, Any]:
    detail = {
        "executionArn": execution["executionArn"],
        "stateMachineArn": execution["stateMachineArn"],
        "name": execution["name"],
        "status": execution["status"],
        "startDate": int(execution["startDate"].timestamp() * 1000),
        "stopDate": int(execution["stopDate"].timestamp() * 1000) if execution.get("stopDate") else None,
        "input": execution.get("input"),
        "output": execution.get("output"),
    }
    return _envelope(
        "Step Functions Execution Status Change",
        "aws.states",
        [execution["executionArn"]],
        detail,
        region=region,
        account=account,
        at=at,
    )


def scheduled(rule_arn: str, *, region: str, account: str, at: datetime) -> dict[str, Any]:
    return _envelope("Scheduled Event", "aws.events", [rule_arn], {}, region=region, account=account, at=at)
