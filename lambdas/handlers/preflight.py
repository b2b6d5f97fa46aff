"""Preflight: model access, lifecycle, quotas, budget and concurrent runs, before any Bedrock create call."""

import os
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import PreflightInput
from lambdas.observability import logger, tracer
from lambdas.preflight.run import preflight_run


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    request = PreflightInput.model_validate(event)
    output = preflight_run(
        request.state,
        region=os.environ.get("AWS_REGION"),
        bedrock=aws.client("bedrock"),
        service_quotas=aws.client("service-quotas"),
        stepfunctions=aws.client("stepfunctions"),
        execution=request.execution,
    )
    logger.info(
        "preflight",
        extra={
            "passed": output.passed,
            "failures": [check.model_dump(mode="json") for check in output.failures],
            "warnings": [check.model_dump(mode="json") for check in output.warnings],
        },
    )
    return output.model_dump(mode="json")
