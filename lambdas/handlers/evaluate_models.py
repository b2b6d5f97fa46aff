"""EvaluateModels: ask both models the test questions, score the answers, write runs/<run-id>/evaluation.json.

Runs as a container image (torch, bert-score and langchain are in it); the BERTScore model is baked into the image
and loaded once per container.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.evaluation.bertscore import score_pairs
from lambdas.evaluation.evaluate import evaluate_models
from lambdas.evaluation.judge import bedrock_judge
from lambdas.observability import logger, tracer
from lambdas.settings import RuntimeEnvironment

# Stop asking new questions with this much time left: scoring and writing the result still have to fit, and the
# answers already saved are reused when the state machine retries the step.
RESERVED_MILLISECONDS = 240_000


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = RunState.model_validate(event)
    environment = RuntimeEnvironment.from_environ()
    settings = state.run.settings.evaluation
    bedrock_runtime = aws.client("bedrock-runtime")
    judge = (
        bedrock_judge(settings.judge_model_id, bedrock_runtime=bedrock_runtime, bedrock=aws.client("bedrock"))
        if settings.judge_enabled
        else None
    )
    output = evaluate_models(
        state,
        bucket=environment.bucket,
        s3=aws.client("s3"),
        bedrock_runtime=bedrock_runtime,
        bertscore=partial(score_pairs, model=settings.bertscore_model, num_layers=settings.bertscore_num_layers),
        judge=judge,
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVED_MILLISECONDS,
    )
    logger.info(
        "evaluated",
        extra={"items": output.items, "base": output.base.model_dump(), "fine_tuned": output.fine_tuned.model_dump()},
    )
    return output.model_dump(mode="json")
