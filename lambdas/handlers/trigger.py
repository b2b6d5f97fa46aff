"""EventBridge "Object Created" under incoming/ or reevaluate/ -> one execution per object version.

Every object under incoming/ is a drop (the ValidateDataset step answers for a format it cannot read) except a folder
marker, a key ending in "/": that returns ``started=False`` with the reason, logged as "no run started". An object
under reevaluate/ is a request to evaluate an existing custom model again (lambdas/runs/reevaluate.py). Either run
carries the stack's champion as it is now, to be compared with (lambdas/serving).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import REEVALUATE_PREFIX
from lambdas.observability import logger, tracer
from lambdas.runs.overrides import read_overrides
from lambdas.runs.reevaluate import start_reevaluation
from lambdas.runs.start import DroppedObject, is_incoming_drop, load_stack_settings, resolve_key, start_run
from lambdas.serving.run_promotion import champion_at_start
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = RuntimeEnvironment.from_environ()
    dropped = resolve_key(DroppedObject.from_event(event), aws.client("s3"))
    common: dict[str, Any] = {
        "settings": load_stack_settings(aws.client("ssm"), env.settings_parameter),
        "stack_name": env.stack_name,
        "state_machine_arn": env.state_machine_arn,
        "emulated": env.bedrock_emulated,
        "stepfunctions": aws.client("stepfunctions"),
        "champion": champion_at_start(aws.client("ssm"), env.stack_name),
    }
    if dropped.key.startswith(REEVALUATE_PREFIX):
        result = start_reevaluation(dropped, s3=aws.client("s3"), **common)
    else:
        result = start_run(
            dropped,
            overrides=read_overrides(aws.client("s3"), dropped.bucket, dropped.key, dropped.version_id)
            if is_incoming_drop(dropped.key)
            else None,
            **common,
        )
    logger.info("run started" if result.started else "no run started", extra=result.model_dump())
    return result.model_dump(mode="json")
