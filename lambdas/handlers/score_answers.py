"""ScoreAnswers (one shard of the Map): BERTScore and the judges on the shard's saved answers, after the capacity
is deleted. Runs in the evaluation image (torch, bert-score, langchain-aws); the BERTScore model is baked in."""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas import aws
from lambdas.contracts import ShardState
from lambdas.evaluation.bertscore import score_pairs
from lambdas.evaluation.evaluate import score_shard
from lambdas.evaluation.judge import bedrock_judge, bedrock_pairwise_judge
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment

# Stop asking the judge with this much time left; saved verdicts are reused when the state machine retries the shard.
RESERVED_MILLISECONDS = 120_000


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = ShardState.model_validate(event)
    settings = state.run.settings.evaluation
    judge_id = state.plan_evaluation.judge_invocation_id if state.plan_evaluation else None
    runtime, bedrock = aws.client("bedrock-runtime"), aws.client("bedrock")
    judged = settings.judge_enabled and judge_id is not None
    output = score_shard(
        state,
        bucket=RuntimeEnvironment.from_environ().bucket,
        s3=aws.client("s3"),
        bertscore=partial(score_pairs, model=settings.bertscore_model, num_layers=settings.bertscore_num_layers),
        judge=bedrock_judge(judge_id, bedrock_runtime=runtime, bedrock=bedrock) if judged and judge_id else None,
        pairwise=bedrock_pairwise_judge(judge_id, bedrock_runtime=runtime, bedrock=bedrock)
        if judged and judge_id and settings.pairwise_enabled
        else None,
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVED_MILLISECONDS,
    )
    logger.info("shard scored", extra=output.model_dump(mode="json"))
    return output.model_dump(mode="json")
