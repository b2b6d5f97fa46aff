"""PlanEvaluation: the questions the evaluation will ask, leaked ones left out, in shards; before any spend."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.evaluation.plan import plan_evaluation
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    environment = RuntimeEnvironment.from_environ()
    output = plan_evaluation(state, bucket=environment.bucket, s3=aws.client("s3"), region=os.environ.get("AWS_REGION"))
    logger.info("evaluation planned", extra=output.model_dump(mode="json", exclude={"shards"}))
    return output.model_dump(mode="json")
