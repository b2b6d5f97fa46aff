"""Promote: after the report, serve the run's model when it is eligible and ``promotion`` is auto (lambdas/serving)."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.observability import logger, tracer
from lambdas.serving.run_promotion import apply_promotion


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    output = apply_promotion(
        state,
        bedrock=aws.client("bedrock"),
        ssm=aws.client("ssm"),
        s3=aws.client("s3"),
        sns=aws.client("sns"),
        topic_arn=os.environ.get("NOTIFICATION_TOPIC_ARN"),
    )
    logger.info("promotion", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
