"""DeleteInferenceCapacity: delete the run's capacity on every path; idempotent; a failed delete always raises."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.capacity import delete_inference_capacity
from lambdas.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    output = delete_inference_capacity(aws.client("bedrock"), state.run, state.create_inference_capacity)
    logger.info("inference capacity deleted", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
