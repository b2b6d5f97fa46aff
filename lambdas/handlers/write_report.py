"""WriteReport: report.json, report.md and report.html for the run, whatever its outcome (a zip function)."""

from __future__ import annotations

from typing import Any

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.observability import logger, tracer
from lambdas.reporting.publish import write_report
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = RunState.model_validate(event)
    environment = RuntimeEnvironment.from_environ()
    output = write_report(state, s3=aws.client("s3"), bucket=environment.bucket)
    logger.info("report written", extra={"status": output.status.value, "summary": output.summary})
    return output.model_dump(mode="json")
