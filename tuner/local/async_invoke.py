"""Lambda's asynchronous invocation, as far as the stack relies on it: retries, then the on-failure destination.

EventBridge invokes its targets asynchronously. When the function fails, Lambda retries it ``MaximumRetryAttempts``
times (0-2, default 2; about one and then two minutes apart) and then, if the function has an on-failure destination
(``AWS::Lambda::EventInvokeConfig``), sends an invocation record there, with the original event as
``requestPayload``; without one the event is discarded
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html). The harness reads that
configuration from the template, so a rehearsal shows where a failed drop ends up on AWS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tuner.local.simclock import iso
from tuner.local.template import TemplateResolver

DEFAULT_RETRY_ATTEMPTS = 2
RETRY_DELAYS_SECONDS = (60, 120)  # "Lambda waits one minute before the second attempt, then two minutes"


@dataclass(frozen=True)
class AsyncInvokeConfig:
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    on_failure: str | None = None  # destination ARN


def async_configs_of(resolver: TemplateResolver) -> dict[str, AsyncInvokeConfig]:
    """Each function's asynchronous invocation settings, by function name (the template's EventInvokeConfigs)."""
    configs = {}
    for _logical_id, props in resolver.of_type("AWS::Lambda::EventInvokeConfig"):
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        configs[str(resolver.resolve(props["FunctionName"]))] = AsyncInvokeConfig(
            retry_attempts=int(props.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)),
            on_failure=str(resolver.resolve(on_failure)) if on_failure else None,
        )
    return configs


def failure_record(
    event: Any, *, function_arn: str, attempts: int, error_type: str, error_message: str, at: datetime
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination after the last attempt failed."""
    return {
        "version": "1.0",
        "timestamp": iso(at),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": error_type, "errorMessage": error_message},
    }
