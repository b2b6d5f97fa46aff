"""Notify: publish the run's outcome (status, headline scores, cost, report keys) to the stack's SNS topic."""

from __future__ import annotations

from typing import Any

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.observability import logger, tracer
from lambdas.reporting.publish import notify
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = RunState.model_validate(event)
    environment = RuntimeEnvironment.from_environ()
    output = notify(state, sns=aws.client("sns"), topic_arn=environment.topic_arn, bucket=environment.bucket)
    return output.model_dump(mode="json")
