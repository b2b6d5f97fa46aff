"""ApplyRetention: keep or delete the run's custom model, by custom_model_retention, after the report."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.retention import apply_retention
from lambdas.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    output = apply_retention(aws.client("bedrock"), RunState.model_validate(event), aws.client("ssm"))
    logger.info("custom model retention applied", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
