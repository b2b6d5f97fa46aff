"""SummarizeEvaluation: every scored shard into runs/<run-id>/evaluation.json, with paired statistics and the
verdict. Runs in the evaluation image (the bootstrap uses numpy)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.evaluation.evaluate import summarize_evaluation
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    state = RunState.model_validate(event)
    output = summarize_evaluation(state, bucket=RuntimeEnvironment.from_environ().bucket, s3=aws.client("s3"))
    logger.info("evaluation summarized", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
