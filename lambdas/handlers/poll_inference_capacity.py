"""PollInferenceCapacity: one status check of the capacity; the state machine waits a steady interval between."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.capacity import MissingStateError, poll_inference_capacity
from lambdas.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    if state.create_inference_capacity is None:
        raise MissingStateError("PollInferenceCapacity needs the CreateInferenceCapacity output")
    previous = state.poll_inference_capacity.polls if state.poll_inference_capacity else 0
    output = poll_inference_capacity(aws.client("bedrock"), state.run, state.create_inference_capacity, previous)
    logger.info("inference capacity polled", extra={"status": output.status, "polls": output.polls})
    return output.model_dump(mode="json")
