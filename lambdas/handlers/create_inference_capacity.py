"""CreateInferenceCapacity: buy the Provisioned Throughput (or on-demand deployment), once, only after training."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.capacity import create_inference_capacity
from lambdas.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    model_arn = state.custom_model_arn
    output = create_inference_capacity(aws.client("bedrock"), state.run, model_arn)
    logger.info("inference capacity created", extra={"kind": output.kind.value, "arn": output.arn})
    return output.model_dump(mode="json")
