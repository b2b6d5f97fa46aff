"""Scheduled sweeper (EventBridge schedule): delete this stack's capacity that outlived its maximum lifetime."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.lifecycle.sweeper import sweep_expired_capacity
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(_event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    environment = RuntimeEnvironment.from_environ()
    result = sweep_expired_capacity(
        aws.client("bedrock"),
        stack_name=environment.stack_name,
        max_age_hours=environment.capacity_max_lifetime_hours,
        sns=aws.client("sns") if environment.topic_arn else None,
        topic_arn=environment.topic_arn,
    )
    logger.info(result.summary(), extra={"deleted": [item.arn for item in result.deleted]})
    return result.model_dump(mode="json")
