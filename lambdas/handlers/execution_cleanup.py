"""Execution cleanup (EventBridge "Step Functions Execution Status Change"): stop the job, delete the capacity."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.lifecycle.cleanup import ExecutionEnded, cleanup_after_execution
from lambdas.observability import logger, tracer
from lambdas.reporting.aborted import report_ended_execution
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    environment = RuntimeEnvironment.from_environ()
    result = cleanup_after_execution(
        aws.client("bedrock"),
        aws.client("stepfunctions"),
        ExecutionEnded.from_event(event),
        state_machine_arn=environment.state_machine_arn,
    )
    report_key = report_ended_execution(
        result,
        stepfunctions=aws.client("stepfunctions"),
        s3=aws.client("s3"),
        sns=aws.client("sns"),
        bucket=environment.bucket,
        topic_arn=environment.topic_arn,
    )
    logger.info("execution cleanup done", extra={**result.model_dump(mode="json"), "report_key": report_key})
    return {**result.model_dump(mode="json"), "report_key": report_key}
