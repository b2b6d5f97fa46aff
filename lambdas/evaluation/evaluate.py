"""Evaluation in three steps, so that capacity bills only while it answers and any size of test set finishes.

    GenerateAnswers (Map over shards)  ->  DeleteInferenceCapacity  ->  ScoreAnswers (Map over shards)
                                                                     ->  SummarizeEvaluation

* ``generate_shard``: both models answer one shard's questions (the only work that needs the capacity). Every answer
  is saved to S3 as it is produced; a retried shard asks only what is missing. A model that cannot answer most of a
  shard fails the step at once, so the run goes to the capacity delete instead of paying for more questions.
* ``score_shard``: BERTScore and the judges on one shard's saved answers, after the capacity is gone. Every judge
  verdict is saved as produced (keyed by a fingerprint of judge, prompt version, question and answers), so a retry
  never pays for a verdict twice. A judge that fails leaves items unscored, with the error: it never fails the run,
  and it never looks like a pass either (the verdict counts coverage).
* ``summarize_evaluation``: all shards into ``evaluation.json``, with paired statistics and the verdict.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdas.clock import utc_now
from lambdas.contracts import (
    GenerateAnswersShardOutput,
    PrimaryComparison,
    RunState,
    ScoreAnswersShardOutput,
    ShardState,
    SummarizeEvaluationOutput,
)
from lambdas.errors import ConfigurationError, EvaluationFailedError, TransientServiceError
from lambdas.evaluation.generation import Question, RetryPolicy, S3AnswerStore, generate_answers
from lambdas.evaluation.plan import load_questions, shard_bounds
from lambdas.evaluation.prompts import PROMPT_VERSION
from lambdas.evaluation.results import (
    BertScoreValue,
    EvaluatedItem,
    EvaluationResult,
    GeneratedAnswer,
    InferenceParameters,
    JudgeVerdict,
    LeakedQuestion,
    ModelRole,
    PairwiseVerdict,
    ScoredAnswer,
    summarize,
)
from lambdas.evaluation.verdict import Verdict

BertScoreFn = Callable[[Sequence[str], Sequence[str]], list[BertScoreValue]]

# Below this share of answered questions a model's scores say nothing: the step fails instead of reporting.
MIN_ANSWERED_SHARE = 0.5


def _inference(state: RunState) -> InferenceParameters:
    settings = state.run.settings.evaluation
    return InferenceParameters(max_tokens=settings.max_tokens, temperature=settings.temperature, top_p=settings.top_p)


def _shard_questions(state: ShardState, s3: Any, bucket: str) -> list[Question]:
    plan = state.plan_evaluation
    if plan is None:
        raise ConfigurationError("the run has no evaluation plan (plan_evaluation is missing)")
    start, end = shard_bounds(state.shard, plan.shard_size)
    return load_questions(s3, bucket, plan.questions_key, start=start, end=end)


# --------------------------------------------------------------------------------------------------- generation
def generate_shard(
    state: ShardState,
    *,
    bucket: str,
    s3: Any,
    bedrock_runtime: Any,
    retry: RetryPolicy | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
) -> GenerateAnswersShardOutput:
    run = state.run
    if state.create_inference_capacity is None or state.plan_evaluation is None:
        raise ConfigurationError("the run has no inference capacity or evaluation plan for the fine-tuned model")
    questions = _shard_questions(state, s3, bucket)
    models: dict[ModelRole, str] = {
        ModelRole.BASE: state.plan_evaluation.base_invocation_id,
        ModelRole.FINE_TUNED: state.create_inference_capacity.arn,
    }
    champion = run.champion
    if champion is not None and champion.deployment_arn and champion.custom_model_arn != state.custom_model_arn:
        models[ModelRole.CHAMPION] = champion.deployment_arn  # the stable deployment: nothing is bought for it
    outcome = generate_answers(
        questions,
        models,
        bedrock_runtime=bedrock_runtime,
        store=S3AnswerStore(s3, bucket, run.paths.answers_prefix, indices=[q.index for q in questions]),
        inference=_inference(state),
        concurrency=run.settings.evaluation.concurrency,
        retry=retry,
        out_of_time=out_of_time,
    )
    # Only the two models the run is about can fail it: a champion that cannot answer makes the comparison with it
    # inconclusive, never the run failed.
    contestants: dict[ModelRole, str] = {
        role: model for role, model in models.items() if role is not ModelRole.CHAMPION
    }
    require_enough_answers(questions, outcome.answers, contestants, answers_prefix=run.paths.answers_prefix)

    def answered(role: ModelRole) -> int:
        return sum(1 for q in questions if (a := outcome.answers.get((role, q.index))) and a.text is not None)

    return GenerateAnswersShardOutput(
        shard=state.shard,
        questions=len(questions),
        answered_base=answered(ModelRole.BASE),
        answered_fine_tuned=answered(ModelRole.FINE_TUNED),
        answered_champion=answered(ModelRole.CHAMPION) if ModelRole.CHAMPION in models else None,
        reused=outcome.reused,
        generated=outcome.generated,
    )


def require_enough_answers(
    questions: Sequence[Question],
    answers: dict[tuple[ModelRole, int], GeneratedAnswer],
    models: dict[ModelRole, str],
    *,
    answers_prefix: str,
) -> None:
    """Fails the step (while capacity still bills, so as early as possible) when a model answered too few questions.

    A fine-tuned model that cannot be invoked (no access, a broken deployment) would otherwise produce a "succeeded"
    run with no scores; stopping here sends the run through the capacity delete to a FAILED report saying why.
    """
    if not questions:
        raise EvaluationFailedError("the evaluation shard has no question to ask")
    for role, model_id in models.items():
        answered = [answers.get((role, q.index)) for q in questions]
        ok = [a for a in answered if a is not None and a.text is not None]
        if len(ok) < MIN_ANSWERED_SHARE * len(questions):
            errors = [a.error for a in answered if a is not None and a.error]
            first_error = errors[0] if errors else "no answer was produced"
            raise EvaluationFailedError(
                f"the {role.label} model ({model_id}) answered {len(ok)} of {len(questions)} test questions "
                f"#{questions[0].index}-#{questions[-1].index}; first error: {first_error}. Answers produced are "
                f"kept under {answers_prefix}"
            )


# ------------------------------------------------------------------------------------------------------ scoring
class JudgementStore:
    """One S3 object per verdict; a saved verdict is reused only for the same judge, prompts, question and answers."""

    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def key(self, kind: str, name: str) -> str:
        return f"{self._prefix}{kind}/{name}.json"

    def load(self, kind: str, name: str, fingerprint: str) -> dict[str, Any] | None:
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=self.key(kind, name))["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            return None
        try:
            document = json.loads(body)
        except ValueError:
            return None
        if not isinstance(document, dict) or document.get("fingerprint") != fingerprint:
            return None
        verdict = document.get("verdict")
        return verdict if isinstance(verdict, dict) else None

    def save(self, kind: str, name: str, fingerprint: str, verdict: dict[str, Any]) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.key(kind, name),
            Body=json.dumps({"fingerprint": fingerprint, "verdict": verdict}).encode(),
            ContentType="application/json",
        )


def judgement_fingerprint(judge_model_id: str, *parts: str) -> str:
    digest = hashlib.sha256()
    for part in (judge_model_id, PROMPT_VERSION, *parts):
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def score_shard(
    state: ShardState,
    *,
    bucket: str,
    s3: Any,
    bertscore: BertScoreFn,
    judge: Any | None,
    pairwise: Any | None,
    out_of_time: Callable[[], bool] = lambda: False,
) -> ScoreAnswersShardOutput:
    """BERTScore and judge verdicts for one shard; raises ``TransientServiceError`` (after saving what is done) when
    time runs out, so the state machine's retry finishes the shard."""
    run = state.run
    paths = run.paths
    questions = _shard_questions(state, s3, bucket)
    store = S3AnswerStore(s3, bucket, paths.answers_prefix, indices=[q.index for q in questions])
    answers = {(answer.role, answer.index): answer for answer in store.load()}

    def text(role: ModelRole, question: Question) -> str | None:
        answer = answers.get((role, question.index))
        return answer.text if answer is not None else None

    answered = [(role, q) for q in questions for role in ModelRole if text(role, q) is not None]
    champion_asked = any(role is ModelRole.CHAMPION for role, _ in answers)
    values = bertscore([text(role, q) or "" for role, q in answered], [q.reference for _, q in answered])
    bert = {(role, q.index): value for (role, q), value in zip(answered, values, strict=True)}

    judgements = JudgementStore(s3, bucket, paths.judgements_prefix)
    concurrency = run.settings.evaluation.concurrency
    correctness: dict[tuple[ModelRole, int], JudgeVerdict] = {}
    preferences: dict[int, PairwiseVerdict] = {}
    tasks: list[Callable[[], None]] = []
    deferred: list[str] = []

    if judge is not None:
        for role, question in answered:
            answer_text = text(role, question) or ""
            fingerprint = judgement_fingerprint(judge.model_id, question.text, question.reference, answer_text)
            name = f"{role.value}/{question.index:05d}"
            saved = judgements.load("correctness", name, fingerprint)
            if saved is not None:
                correctness[(role, question.index)] = JudgeVerdict.model_validate(saved)
                continue

            def grade(
                role: ModelRole = role,
                question: Question = question,
                answer_text: str = answer_text,
                fingerprint: str = fingerprint,
                name: str = name,
            ) -> None:
                verdict = judge.grade(question=question.text, reference=question.reference, answer=answer_text)
                correctness[(role, question.index)] = verdict
                if verdict.score is not None:  # only a real verdict is kept: an outage is asked again on a retry
                    judgements.save("correctness", name, fingerprint, verdict.model_dump(mode="json"))

            tasks.append(grade)
    if pairwise is not None:
        for question in questions:
            tuned, base = text(ModelRole.FINE_TUNED, question), text(ModelRole.BASE, question)
            if tuned is None or base is None:
                continue
            fingerprint = judgement_fingerprint(pairwise.model_id, question.text, question.reference, tuned, base)
            name = f"{question.index:05d}"
            saved = judgements.load("pairwise", name, fingerprint)
            if saved is not None:
                preferences[question.index] = PairwiseVerdict.model_validate(saved)
                continue

            def compare(
                question: Question = question,
                tuned: str = tuned,
                base: str = base,
                fingerprint: str = fingerprint,
                name: str = name,
            ) -> None:
                verdict = pairwise.compare(
                    question=question.text, reference=question.reference, fine_tuned=tuned, base=base
                )
                preferences[question.index] = verdict
                if verdict.preference is not None:
                    judgements.save("pairwise", name, fingerprint, verdict.model_dump(mode="json"))

            tasks.append(compare)

    def run_task(task: Callable[[], None]) -> None:
        if out_of_time():
            deferred.append("time limit")
            return
        task()

    if tasks:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(tasks)))) as pool:
            list(pool.map(run_task, tasks))
    if deferred:
        raise TransientServiceError(
            f"shard {state.shard}: {len(deferred)} judge verdicts left when the time limit neared; the "
            f"{len(tasks) - len(deferred)} finished are saved and a retry reuses them"
        )

    def scored(role: ModelRole, question: Question) -> ScoredAnswer:
        answer = answers.get((role, question.index))
        return ScoredAnswer(
            answer=answer.text if answer else None,
            error=answer.error if answer else "no answer",
            bertscore=bert.get((role, question.index)),
            judge=correctness.get((role, question.index)),
            input_tokens=answer.input_tokens if answer else None,
            output_tokens=answer.output_tokens if answer else None,
        )

    items = [
        EvaluatedItem(
            index=question.index,
            question=question.text,
            reference=question.reference,
            base=scored(ModelRole.BASE, question),
            fine_tuned=scored(ModelRole.FINE_TUNED, question),
            pairwise=preferences.get(question.index),
            champion=scored(ModelRole.CHAMPION, question) if champion_asked else None,
        )
        for question in questions
    ]
    judge_errors = [v.error for v in correctness.values() if v.error] + [
        v.error for v in preferences.values() if v.error
    ]
    key = paths.scored_shard(state.shard)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps([item.model_dump(mode="json") for item in items]).encode(),
        ContentType="application/json",
    )
    return ScoreAnswersShardOutput(
        shard=state.shard,
        scores_key=key,
        items=len(items),
        judge_asked=len(correctness) + len(preferences),
        judge_scored=sum(1 for v in correctness.values() if v.score is not None)
        + sum(1 for v in preferences.values() if v.preference is not None),
        first_judge_error=judge_errors[0][:500] if judge_errors else None,
    )


# ---------------------------------------------------------------------------------------------------- summary
def summarize_evaluation(state: RunState, *, bucket: str, s3: Any) -> SummarizeEvaluationOutput:
    """Every shard's items into ``evaluation.json``, with the paired statistics and the verdict."""
    from lambdas.evaluation.summary import build_result  # numpy (the bootstrap) is in the evaluation image only

    run = state.run
    plan = state.plan_evaluation
    if plan is None:
        raise ConfigurationError("the run has no evaluation plan (plan_evaluation is missing)")
    items: list[EvaluatedItem] = []
    for shard in plan.shards:
        body = s3.get_object(Bucket=bucket, Key=run.paths.scored_shard(shard))["Body"].read()
        items.extend(EvaluatedItem.model_validate(item) for item in json.loads(body))
    items.sort(key=lambda item: item.index)
    try:
        leaked_body = s3.get_object(Bucket=bucket, Key=run.paths.leaked_questions)["Body"].read()
        leaked = [LeakedQuestion.model_validate(item) for item in json.loads(leaked_body)]
    except s3.exceptions.NoSuchKey:
        leaked = []
    fine_tuned_model_id = state.create_inference_capacity.arn if state.create_inference_capacity else ""
    result: EvaluationResult = build_result(
        state, items=items, leaked=leaked, fine_tuned_model_id=fine_tuned_model_id, evaluated_at=utc_now()
    )
    s3.put_object(
        Bucket=bucket,
        Key=run.paths.evaluation,
        Body=result.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    return SummarizeEvaluationOutput(
        evaluation_key=run.paths.evaluation,
        items=len(items),
        base=summarize(items, ModelRole.BASE),
        fine_tuned=summarize(items, ModelRole.FINE_TUNED),
        bertscore_model=result.bertscore_model,
        judge_model_id=result.judge_model_id,
        outcome=result.verdict.outcome.value if result.verdict else "inconclusive",
        reason=result.verdict.reason if result.verdict else "no verdict was computed",
        champion=result.champion.summary if result.champion else None,
        champion_outcome=result.champion.verdict.outcome.value if result.champion else None,
        versus_base=primary_comparison(result.verdict) if result.verdict else None,
        versus_champion=primary_comparison(result.champion.verdict) if result.champion else None,
    )


def primary_comparison(verdict: Verdict) -> PrimaryComparison:
    primary = next((stats for stats in verdict.metrics if stats.name == verdict.primary_metric), None)
    return PrimaryComparison(
        outcome=verdict.outcome.value,
        primary_metric=verdict.primary_metric,
        n=primary.n if primary else None,
        mean_delta=primary.mean_delta if primary else None,
        ci_low=primary.ci_low if primary else None,
        ci_high=primary.ci_high if primary else None,
    )
