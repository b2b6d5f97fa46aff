"""GenerateAnswers (one shard of the Map): both models answer the shard's questions; each answer saved to S3."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import ShardState
from lambdas.evaluation.evaluate import generate_shard
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment

# Stop asking new questions with this much time left: the answers already saved are reused when the state machine
# retries the shard.
RESERVED_MILLISECONDS = 60_000


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = ShardState.model_validate(event)
    output = generate_shard(
        state,
        bucket=RuntimeEnvironment.from_environ().bucket,
        s3=aws.client("s3"),
        bedrock_runtime=aws.client("bedrock-runtime"),
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVED_MILLISECONDS,
    )
    logger.info("shard answered", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
