"""StartCustomizationJob: start (or adopt, on a retry) the run's Bedrock model customization job."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.lifecycle.capacity import MissingStateError
from lambdas.lifecycle.customization import start_customization_job
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    environment = RuntimeEnvironment.from_environ()
    if state.validate_dataset is None:
        raise MissingStateError("StartCustomizationJob needs the ValidateDataset output")
    output = start_customization_job(
        aws.client("bedrock"), state.run, state.validate_dataset, environment.bedrock_role_arn
    )
    logger.info("customization job started", extra={"job_arn": output.job_arn, "job_name": output.job_name})
    return output.model_dump(mode="json")
