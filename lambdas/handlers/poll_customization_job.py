"""PollCustomizationJob: one status check; the state machine waits ``wait_seconds`` (growing) between checks."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.capacity import MissingStateError
from lambdas.lifecycle.customization import poll_customization_job
from lambdas.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    if state.start_customization_job is None:
        raise MissingStateError("PollCustomizationJob needs the StartCustomizationJob output")
    previous = state.poll_customization_job.polls if state.poll_customization_job else 0
    # The job name, not its ARN: Bedrock accepts either, and name lookups work on every Bedrock endpoint.
    output = poll_customization_job(aws.client("bedrock"), state.run, state.start_customization_job.job_name, previous)
    logger.info("customization job polled", extra={"status": output.status, "polls": output.polls})
    return output.model_dump(mode="json")
