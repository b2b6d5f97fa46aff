"""ReadTrainingMetrics: turn the job's loss CSVs into ``runs/<run-id>/training_metrics.json``."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.capacity import MissingStateError
from lambdas.lifecycle.metrics import read_training_metrics
from lambdas.observability import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    if state.start_customization_job is None:
        raise MissingStateError("ReadTrainingMetrics needs the StartCustomizationJob output")
    output = read_training_metrics(aws.client("s3"), state.run, state.start_customization_job.job_arn)
    logger.info("training metrics read", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
