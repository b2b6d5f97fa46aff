"""Run reports for the serving tests: a succeeded run's report with a chosen model, custom model and verdict."""

from __future__ import annotations

from lambdas.evaluation.results import EvaluationSet
from lambdas.evaluation.verdict import MetricStatistics, Verdict
from lambdas.evaluation.verdict import decide as verdict_of
from lambdas.reporting.build import build_report
from lambdas.reporting.model import Report
from tests.unit.reporting.reporting_states import T0, evaluation_result, succeeded_state

NOVA = "amazon.nova-lite-v1:0:300k"


def verdict(mean_delta: float = 1.3, ci_low: float = 0.6, ci_high: float = 2.0, n: int = 40) -> Verdict:
    stats = MetricStatistics(
        name="judge_correctness",
        n=n,
        asked=n,
        coverage=1.0,
        mean_delta=mean_delta,
        ci_low=ci_low,
        ci_high=ci_high,
        wins=n // 2,
        ties=n // 4,
        losses=n - n // 2 - n // 4,
        p_value=0.001,
    )
    return verdict_of([stats], primary_metric="judge_correctness", min_effect=0.5)


def report(
    run_id: str,
    custom_model_arn: str | None,
    *,
    base_model_id: str = NOVA,
    outcome_verdict: Verdict | None = None,
    sha256: str | None = "ab" * 32,
) -> Report:
    built = build_report(succeeded_state(), now=T0, evaluation=evaluation_result())
    assert built.job is not None
    assert built.evaluation is not None
    evaluation_set = EvaluationSet(
        source="test_set", key="eval/set.jsonl", sha256=sha256, questions=40, considered=40, leaked=0
    )
    return built.model_copy(
        update={
            "run": built.run.model_copy(update={"run_id": run_id, "base_model_id": base_model_id}),
            "job": built.job.model_copy(update={"custom_model_arn": custom_model_arn}),
            "custom_model": built.custom_model.model_copy(update={"arn": custom_model_arn})
            if custom_model_arn is not None and built.custom_model is not None
            else None,
            "verdict": outcome_verdict or verdict(),
            "evaluation": built.evaluation.model_copy(update={"evaluation_set": evaluation_set}),
        }
    )
