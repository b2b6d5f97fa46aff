"""EventBridge "Object Created" under incoming/ -> one execution per object version."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import INCOMING_PREFIX
from lambdas.observability import logger, tracer
from lambdas.runs.overrides import read_overrides
from lambdas.runs.start import DroppedObject, load_stack_settings, resolve_key, start_run
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = RuntimeEnvironment.from_environ()
    dropped = resolve_key(DroppedObject.from_event(event), aws.client("s3"))
    is_drop = dropped.key.startswith(INCOMING_PREFIX) and dropped.key.endswith(".jsonl")
    result = start_run(
        dropped,
        overrides=read_overrides(aws.client("s3"), dropped.bucket, dropped.key, dropped.version_id)
        if is_drop
        else None,
        settings=load_stack_settings(aws.client("ssm"), env.settings_parameter),
        stack_name=env.stack_name,
        state_machine_arn=env.state_machine_arn,
        emulated=env.bedrock_emulated,
        stepfunctions=aws.client("stepfunctions"),
    )
    logger.info("start run", extra=result.model_dump())
    return result.model_dump(mode="json")
