"""The EvaluateModels step: answers from both models for the test split, BERTScore and judge scores, one result.

Order matters for the bill: generation (the only part that needs the Provisioned Throughput) runs first and
concurrently; scoring uses only the saved answers, the local BERTScore model and the judge's own model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lambdas.clock import utc_now
from lambdas.contracts import EvaluateModelsOutput, RunState
from lambdas.dataset.formats import FormatError, evaluation_item, parse_json
from lambdas.errors import ConfigurationError, EvaluationFailedError
from lambdas.evaluation.generation import Question, RetryPolicy, S3AnswerStore, generate_answers
from lambdas.evaluation.judge import CorrectnessJudge
from lambdas.evaluation.results import (
    BertScoreValue,
    EvaluatedItem,
    EvaluationResult,
    GeneratedAnswer,
    InferenceParameters,
    JudgeVerdict,
    ModelRole,
    ScoredAnswer,
    summarize,
)
from lambdas.registry import ModelSpec

BertScoreFn = Callable[[Sequence[str], Sequence[str]], list[BertScoreValue]]

# Below this share of answered questions a model's mean score says nothing: the evaluation fails instead of reporting.
MIN_ANSWERED_SHARE = 0.5


def read_questions(s3: Any, bucket: str, key: str, spec: ModelSpec, limit: int) -> list[Question]:
    """The first ``limit`` readable records of the run's test split (the validator already checked every line)."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    questions: list[Question] = []
    for line in body.splitlines():
        if len(questions) >= limit:
            break
        if not line.strip():
            continue
        try:
            item = evaluation_item(parse_json(line), spec)
        except (ValueError, FormatError):
            continue
        questions.append(Question.from_item(len(questions), item))
    return questions


def evaluate_models(
    state: RunState,
    *,
    bucket: str,
    s3: Any,
    bedrock_runtime: Any,
    bertscore: BertScoreFn,
    judge: CorrectnessJudge | None,
    retry: RetryPolicy | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
) -> EvaluateModelsOutput:
    run = state.run
    settings = run.settings.evaluation
    if state.validate_dataset is None or not state.validate_dataset.test_key:
        raise ConfigurationError("the run has no test split to evaluate (validate_dataset.test_key is missing)")
    if state.create_inference_capacity is None:
        raise ConfigurationError("the run has no inference capacity for the fine-tuned model")

    spec = run.settings.model
    questions = read_questions(s3, bucket, state.validate_dataset.test_key, spec, settings.max_test_records)
    inference = InferenceParameters(
        max_tokens=settings.max_tokens, temperature=settings.temperature, top_p=settings.top_p
    )
    models = {
        ModelRole.BASE: spec.base_inference_model_id,
        ModelRole.FINE_TUNED: state.create_inference_capacity.arn,
    }
    outcome = generate_answers(
        questions,
        models,
        bedrock_runtime=bedrock_runtime,
        store=S3AnswerStore(s3, bucket, run.paths.answers_prefix),
        inference=inference,
        concurrency=settings.concurrency,
        retry=retry,
        out_of_time=out_of_time,
    )

    require_enough_answers(questions, outcome.answers, models, answers_prefix=run.paths.answers_prefix)

    items = score_items(questions, outcome.answers, bertscore=bertscore, judge=judge, concurrency=settings.concurrency)
    result = EvaluationResult(
        run_id=run.run_id,
        base_model_id=models[ModelRole.BASE],
        fine_tuned_model_id=models[ModelRole.FINE_TUNED],
        bertscore_model=settings.bertscore_model,
        bertscore_num_layers=settings.bertscore_num_layers,
        judge_model_id=judge.model_id if judge is not None else None,
        inference=inference,
        items=items,
        base=summarize(items, ModelRole.BASE),
        fine_tuned=summarize(items, ModelRole.FINE_TUNED),
        evaluated_at=utc_now(),
    )
    s3.put_object(
        Bucket=bucket,
        Key=run.paths.evaluation,
        Body=result.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    return EvaluateModelsOutput(
        evaluation_key=run.paths.evaluation,
        items=len(items),
        base=result.base,
        fine_tuned=result.fine_tuned,
        bertscore_model=result.bertscore_model,
        judge_model_id=result.judge_model_id,
    )


def require_enough_answers(
    questions: Sequence[Question],
    answers: dict[tuple[ModelRole, int], GeneratedAnswer],
    models: dict[ModelRole, str],
    *,
    answers_prefix: str,
) -> None:
    """Fails the step (before any scoring time is billed) when either model answered too few questions.

    A fine-tuned model that cannot be invoked (no access, a broken deployment) would otherwise produce a "succeeded"
    run with no scores; stopping here sends the run through the capacity delete to a FAILED report saying why.
    """
    if not questions:
        raise EvaluationFailedError("the test split has no readable question to evaluate")
    for role, model_id in models.items():
        answered = [answers.get((role, q.index)) for q in questions]
        ok = [a for a in answered if a is not None and a.text is not None]
        if len(ok) < MIN_ANSWERED_SHARE * len(questions):
            errors = [a.error for a in answered if a is not None and a.error]
            first_error = errors[0] if errors else "no answer was produced"
            raise EvaluationFailedError(
                f"the {role.value.replace('_', '-')} model ({model_id}) answered {len(ok)} of {len(questions)} test "
                f"questions; first error: {first_error}. Answers produced are kept under {answers_prefix}"
            )


def score_items(
    questions: Sequence[Question],
    answers: dict[tuple[ModelRole, int], GeneratedAnswer],
    *,
    bertscore: BertScoreFn,
    judge: CorrectnessJudge | None,
    concurrency: int,
) -> list[EvaluatedItem]:
    """BERTScore and judge verdicts for every answered (model, question) pair; unanswered pairs stay unscored."""
    answered = [
        (role, question)
        for question in questions
        for role in ModelRole
        if (answer := answers.get((role, question.index))) is not None and answer.text is not None
    ]
    texts = [_text(answers, role, question) for role, question in answered]
    bert = bertscore(texts, [question.reference for _, question in answered]) if answered else []
    verdicts: list[JudgeVerdict | None] = [None] * len(answered)
    if judge is not None:
        cases = [(question.text, question.reference, text) for (_, question), text in zip(answered, texts, strict=True)]
        verdicts = list(judge.grade_many(cases, concurrency=concurrency))
    scores = {
        (role, question.index): (value, verdict)
        for (role, question), value, verdict in zip(answered, bert, verdicts, strict=True)
    }

    def scored(role: ModelRole, question: Question) -> ScoredAnswer:
        answer = answers.get((role, question.index))
        value, verdict = scores.get((role, question.index), (None, None))
        return ScoredAnswer(
            answer=answer.text if answer else None,
            error=answer.error if answer else "no answer",
            bertscore=value,
            judge=verdict,
        )

    return [
        EvaluatedItem(
            index=question.index,
            question=question.text,
            reference=question.reference,
            base=scored(ModelRole.BASE, question),
            fine_tuned=scored(ModelRole.FINE_TUNED, question),
        )
        for question in questions
    ]


def _text(answers: dict[tuple[ModelRole, int], GeneratedAnswer], role: ModelRole, question: Question) -> str:
    text = answers[(role, question.index)].text
    return text if text is not None else ""
