"""The evaluation's result: per-question deltas of every metric, their paired statistics, and the verdict.

Imported by SummarizeEvaluation (the evaluation image: the bootstrap uses numpy) and by ``tuner``; the report
function only reads the result it writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from lambdas.contracts import RunState
from lambdas.evaluation.prompts import PROMPT_VERSION
from lambdas.evaluation.results import (
    ChampionComparison,
    EvaluatedItem,
    EvaluationResult,
    EvaluationSet,
    InferenceParameters,
    LeakedQuestion,
    ModelRole,
    PairwiseSummary,
    Preference,
    summarize,
)
from lambdas.evaluation.statistics import paired_statistics
from lambdas.evaluation.verdict import MetricName, MetricStatistics, decide
from lambdas.registry import ModelSpec, alternative_judge, same_family


def metric_statistics(
    items: Sequence[EvaluatedItem],
    *,
    judged: bool,
    pairwise: bool,
    seed: int = 0,
    against: ModelRole = ModelRole.BASE,
) -> list[MetricStatistics]:
    """Paired statistics of each measured metric over ``items`` (one per question asked): the fine-tuned model minus
    ``against`` (the base model, or the champion; the pairwise judge compares with the base model only)."""
    asked = len(items)
    metrics: list[MetricStatistics] = []
    if judged:
        deltas: list[float | None] = []
        errors: list[str] = []
        for item in items:
            tuned, base = item.fine_tuned.judge, item.for_role(against).judge
            if tuned is not None and base is not None and tuned.score is not None and base.score is not None:
                deltas.append(float(tuned.score - base.score))
            else:
                deltas.append(None)
                errors.extend(v.error for v in (tuned, base) if v is not None and v.error)
        metrics.append(
            _with_error(paired_statistics(MetricName.JUDGE_CORRECTNESS, deltas, asked=asked, seed=seed), errors)
        )
    if pairwise and against is ModelRole.BASE:
        deltas = []
        errors = []
        for item in items:
            verdict = item.pairwise
            if verdict is not None and verdict.preference is not None:
                deltas.append(verdict.preference.delta)
            else:
                deltas.append(None)
                if verdict is not None and verdict.error:
                    errors.append(verdict.error)
        metrics.append(
            _with_error(paired_statistics(MetricName.PAIRWISE_PREFERENCE, deltas, asked=asked, seed=seed), errors)
        )
    bert: list[float | None] = []
    for item in items:
        tuned_b, base_b = item.fine_tuned.bertscore, item.for_role(against).bertscore
        bert.append(tuned_b.f1 - base_b.f1 if tuned_b is not None and base_b is not None else None)
    metrics.append(paired_statistics(MetricName.BERTSCORE_F1, bert, asked=asked, seed=seed))
    return metrics


def _with_error(stats: MetricStatistics, errors: list[str]) -> MetricStatistics:
    if not errors or stats.coverage >= 1:
        return stats
    return stats.model_copy(update={"first_error": errors[0][:500]})


def pairwise_summary(items: Sequence[EvaluatedItem]) -> PairwiseSummary:
    verdicts = [item.pairwise for item in items if item.pairwise is not None and item.pairwise.preference is not None]
    judged = len(verdicts)
    preferred = {choice: sum(1 for v in verdicts if v.preference is choice) for choice in Preference}
    consistent = sum(1 for v in verdicts if v.consistent)
    return PairwiseSummary(
        judged=judged,
        fine_tuned_preferred=preferred[Preference.FINE_TUNED],
        base_preferred=preferred[Preference.BASE],
        ties=preferred[Preference.TIE],
        win_rate=preferred[Preference.FINE_TUNED] / judged if judged else None,
        position_consistency=consistent / judged if judged else None,
    )


def judge_warnings(judge_model_id: str | None, tuned: ModelSpec) -> list[str]:
    if judge_model_id is None or not same_family(judge_model_id, tuned):
        return []
    other = alternative_judge(tuned)
    return [
        f"The judge ({judge_model_id}) is of the tuned model's own family ({tuned.family}): LLM judges tend to prefer "
        f"answers in their own family's style (self-preference). For a second opinion, set "
        f"evaluation.judge_model_id to {other.model_id} ({other.display_name})."
    ]


def build_result(
    state: RunState,
    *,
    items: list[EvaluatedItem],
    leaked: list[LeakedQuestion],
    fine_tuned_model_id: str,
    evaluated_at: datetime,
) -> EvaluationResult:
    run = state.run
    settings = run.settings.evaluation
    plan = state.plan_evaluation
    judged = settings.judge_enabled
    pairwise = judged and settings.pairwise_enabled
    metrics = metric_statistics(items, judged=judged, pairwise=pairwise, seed=run.settings.split.seed)
    verdict = decide(
        metrics,
        primary_metric=settings.primary_metric,
        min_effect=settings.resolved_min_effect,
        min_judge_coverage=settings.min_judge_coverage,
        min_items=settings.min_items,
        excluded_questions=len(leaked),
    )
    judge_model_id = (plan.judge_invocation_id if plan else None) if judged else None
    champion = run.champion
    versus_champion = None
    if champion is not None and any(item.champion is not None for item in items):
        # The same rules against the champion; its primary metric is the run's, or judge correctness when that is
        # the pairwise preference (the pairwise judge compares with the base model only).
        against = metric_statistics(
            items, judged=judged, pairwise=False, seed=run.settings.split.seed, against=ModelRole.CHAMPION
        )
        primary: str = settings.primary_metric
        if primary == MetricName.PAIRWISE_PREFERENCE.value:
            primary = (MetricName.JUDGE_CORRECTNESS if judged else MetricName.BERTSCORE_F1).value
        versus_champion = ChampionComparison(
            custom_model_arn=champion.custom_model_arn,
            run_id=champion.run_id,
            invoked_as=champion.deployment_arn or "",
            summary=summarize(items, ModelRole.CHAMPION),
            verdict=decide(
                against,
                primary_metric=primary,
                min_effect=settings.min_effect_for(primary),
                min_judge_coverage=settings.min_judge_coverage,
                min_items=settings.min_items,
                excluded_questions=len(leaked),
            ),
        )
    return EvaluationResult(
        run_id=run.run_id,
        base_model_id=plan.base_invocation_id if plan else run.settings.model.base_invocation_id(None),
        fine_tuned_model_id=fine_tuned_model_id,
        bertscore_model=settings.bertscore_model,
        bertscore_num_layers=settings.bertscore_num_layers,
        judge_model_id=judge_model_id,
        judge_prompt_version=PROMPT_VERSION if judged else None,
        inference=InferenceParameters(
            max_tokens=settings.max_tokens, temperature=settings.temperature, top_p=settings.top_p
        ),
        items=items,
        base=summarize(items, ModelRole.BASE),
        fine_tuned=summarize(items, ModelRole.FINE_TUNED),
        evaluated_at=evaluated_at,
        evaluation_set=EvaluationSet(
            source=plan.source,
            key=plan.source_key,
            sha256=plan.source_sha256,
            questions=plan.questions,
            considered=plan.considered,
            leaked=plan.leaked,
        )
        if plan
        else None,
        leaked_questions=leaked,
        pairwise=pairwise_summary(items) if pairwise else None,
        verdict=verdict,
        warnings=judge_warnings(judge_model_id, run.settings.model),
        champion=versus_champion,
    )
