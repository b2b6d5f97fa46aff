"""A run's report as a candidate champion: its model, base model, primary scores and evaluation-set hash."""

from __future__ import annotations

import pytest

from lambdas.serving.candidate import NotPromotableError, champion_from_report, primary_scores
from tests.unit.reporting.reporting_states import T0
from tests.unit.serving.reports import NOVA, report, verdict

MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"


def test_a_succeeded_run_becomes_a_champion_with_its_primary_figures() -> None:
    champion = champion_from_report(report("run-1", MODEL), promoted_at=T0)
    assert (champion.custom_model_arn, champion.base_model_id, champion.run_id) == (MODEL, NOVA, "run-1")
    assert champion.promoted_at == T0
    assert champion.evaluation_set_sha256 == "ab" * 32
    assert champion.scores == {
        "metric": "judge_correctness",
        "outcome": "improved",
        "mean_delta": 1.3,
        "ci_low": 0.6,
        "ci_high": 2.0,
        "n": 40,
        "mean": 8.0,  # the fine-tuned model's own judge mean in the evaluation summary
    }


def test_a_run_without_a_custom_model_is_not_promotable() -> None:
    with pytest.raises(NotPromotableError, match=r"run run-2 \(SUCCEEDED\) produced no custom model"):
        champion_from_report(report("run-2", None), promoted_at=T0)


def test_scores_without_a_verdict_are_empty_and_a_delta_only_metric_has_no_mean() -> None:
    assert primary_scores(None) == {}
    pairwise = verdict().model_copy(update={"primary_metric": "pairwise_preference"})
    scores = primary_scores(pairwise)
    assert scores["metric"] == "pairwise_preference"
    assert "mean" not in scores
    assert "mean_delta" not in scores  # the verdict has no statistics for that metric
