"""ValidateDataset: reject bad data before anything is billed; prepare and split good data for the job.

A zip function: only boto3, pydantic and Powertools are available here, and only they are imported.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.aws import client
from lambdas.contracts import RunState
from lambdas.dataset.run_dataset import validate_run_dataset
from lambdas.observability import logger, tracer
from lambdas.runs.reevaluate import reevaluation_dataset


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)  # the run carries the bucket, key, version and settings: no env needed
    if state.run.is_reevaluation:  # the splits of the run that trained the model: nothing to validate or write
        output = reevaluation_dataset(client("s3"), state.run)
    else:
        output = validate_run_dataset(client("s3"), state.run)
    logger.info(
        "dataset validated",
        extra={"valid": output.valid, "records": output.records, "errors": output.error_count},
    )
    return output.model_dump(mode="json")
