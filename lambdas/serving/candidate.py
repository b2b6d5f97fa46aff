"""A run's report as a candidate champion: its custom model, base model, and the primary metric's figures."""

from __future__ import annotations

from datetime import datetime

from lambdas.contracts import ScoreSummary
from lambdas.errors import PipelineError
from lambdas.evaluation.verdict import MetricName, Verdict
from lambdas.reporting.model import Report
from lambdas.serving.record import Champion, Score

# The model's own mean on a metric, where the evaluation summary has one (pairwise preference is only a delta).
_OWN_MEAN = {
    MetricName.JUDGE_CORRECTNESS.value: "judge_mean",
    MetricName.BERTSCORE_F1.value: "bertscore_f1",
}


class NotPromotableError(PipelineError):
    """The run cannot become the champion (no custom model, or the model is gone)."""


def primary_scores(verdict: Verdict | None, fine_tuned: ScoreSummary | None = None) -> dict[str, Score]:
    """The primary metric's figures against the base model, small enough for the serving record."""
    if verdict is None:
        return {}
    primary = next((stats for stats in verdict.metrics if stats.name == verdict.primary_metric), None)
    scores: dict[str, Score] = {"metric": verdict.primary_metric, "outcome": verdict.outcome.value}
    if primary is not None:
        scores |= {"mean_delta": primary.mean_delta, "ci_low": primary.ci_low, "ci_high": primary.ci_high}
        scores["n"] = primary.n
    own = _OWN_MEAN.get(verdict.primary_metric)
    if own is not None and fine_tuned is not None and getattr(fine_tuned, own) is not None:
        scores["mean"] = getattr(fine_tuned, own)
    return scores


def champion_from_report(report: Report, *, promoted_at: datetime) -> Champion:
    """The champion the run would be; ``NotPromotableError`` when it produced no custom model."""
    job = report.job
    # A re-evaluation's report has no job: its custom_model section names the model it evaluated.
    arn = job.custom_model_arn if job is not None else None
    if not arn and report.custom_model is not None:
        arn = report.custom_model.arn
    if not arn:
        status = report.status.value
        raise NotPromotableError(
            f"run {report.run.run_id} ({status}) produced no custom model: there is nothing to serve"
        )
    evaluation = report.evaluation
    evaluation_set = evaluation.evaluation_set if evaluation is not None else None
    return Champion(
        custom_model_arn=arn,
        base_model_id=report.run.base_model_id,
        run_id=report.run.run_id,
        promoted_at=promoted_at,
        scores=primary_scores(report.verdict, evaluation.fine_tuned if evaluation is not None else None),
        evaluation_set_sha256=evaluation_set.sha256 if evaluation_set is not None else None,
    )
