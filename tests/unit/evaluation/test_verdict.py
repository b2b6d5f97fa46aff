"""The verdict rules, one table row per outcome: what the statistics say, what the verdict and its reason must say."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lambdas.evaluation.verdict import MetricName, MetricStatistics, Outcome, decide, describe, format_delta

JUDGE = MetricName.JUDGE_CORRECTNESS.value
BERT = MetricName.BERTSCORE_F1.value
PAIRWISE = MetricName.PAIRWISE_PREFERENCE.value


def stats(
    name: str,
    *,
    n: int,
    mean: float | None,
    ci: tuple[float, float] | None,
    counts: tuple[int, int, int] = (0, 0, 0),
    asked: int | None = None,
    p: float | None = 0.5,
    sd: float | None = 1.0,
    first_error: str | None = None,
) -> MetricStatistics:
    asked = n if asked is None else asked
    return MetricStatistics(
        name=name,
        n=n,
        asked=asked,
        coverage=n / asked if asked else 0.0,
        mean_delta=mean,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
        wins=counts[0],
        ties=counts[1],
        losses=counts[2],
        p_value=p if n else None,
        sd_delta=sd if n >= 2 else None,
        first_error=first_error,
    )


JUDGE_GAIN = stats(JUDGE, n=48, mean=1.3, ci=(0.6, 2.0), counts=(31, 12, 5), p=0.0001, sd=2.0)
BERT_GAIN = stats(BERT, n=48, mean=0.012, ci=(0.004, 0.020), counts=(30, 0, 18), p=0.11, sd=0.03)

# (id, metrics, decide() options, outcome, fragments the reason must hold, questions_needed)
RULES: list[tuple[str, list[MetricStatistics], dict[str, Any], Outcome, list[str], int | None]] = [
    (
        "judge-outage",
        [stats(JUDGE, n=0, mean=None, ci=None, asked=14, first_error="ThrottlingException: Rate exceeded"), BERT_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        ["judge scored 0 of 14 questions (coverage 0%, below 90%)", "first error: ThrottlingException: Rate exceeded"],
        None,
    ),
    (
        # half the items judged, and those show a clear gain: still no verdict, the missing half could say otherwise
        "judge-half-outage-with-a-gain",
        [stats(JUDGE, n=24, mean=2.0, ci=(1.0, 3.0), counts=(20, 2, 2), asked=48, p=0.0001)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        ["judge scored 24 of 48 questions (coverage 50%, below 90%)"],
        None,
    ),
    (
        "pairwise-judge-outage",
        [stats(PAIRWISE, n=1, mean=1.0, ci=(1.0, 1.0), counts=(1, 0, 0), asked=20)],
        {"primary_metric": PAIRWISE, "min_effect": 0.1},
        Outcome.INCONCLUSIVE,
        ["pairwise judge scored 1 of 20 questions (coverage 5%, below 90%)"],
        None,
    ),
    (
        "too-few-items",
        [stats(BERT, n=4, mean=0.09, ci=(0.04, 0.15), counts=(4, 0, 0), p=0.125)],
        {"primary_metric": BERT, "min_effect": 0.0},
        Outcome.INCONCLUSIVE,
        ["only 4 questions were scored on both models; at least 10 are needed", "4 wins, 0 ties, 0 losses"],
        None,
    ),
    (
        "improved",
        [JUDGE_GAIN, BERT_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.IMPROVED,
        ["judge correctness +1.3 [95% CI +0.6, +2.0] on 48 questions: 31 wins, 12 ties, 5 losses (sign test p=0.0001)"],
        None,
    ),
    (
        # any clear loss is reported, however far below min_effect it is
        "regressed",
        [stats(BERT, n=200, mean=-0.004, ci=(-0.007, -0.001), counts=(70, 10, 120), p=0.0004, sd=0.02)],
        {"primary_metric": BERT, "min_effect": 0.02},
        Outcome.REGRESSED,
        ["BERTScore F1 -0.004 [95% CI -0.007, -0.001] on 200 questions: 70 wins, 10 ties, 120 losses"],
        None,
    ),
    (
        # half-width 0.7 > min_effect 0.5: ceil((2.8 * 1.5 / 0.5) ** 2) = ceil(70.56) = 71
        "no-clear-difference-set-too-small",
        [stats(JUDGE, n=20, mean=0.3, ci=(-0.4, 1.0), counts=(8, 6, 6), p=0.79, sd=1.5)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.NO_CLEAR_DIFFERENCE,
        ["on 20 questions", "the confidence interval includes 0", "about 71 questions would be needed", "of +0.5"],
        71,
    ),
    (
        # min_effect 0 and the interval straddles 0: sized for the observed mean, ceil((2.8 * 1.0 / 0.3) ** 2) = 88
        "no-clear-difference-sized-for-the-observed-mean",
        [stats(JUDGE, n=20, mean=0.3, ci=(-0.15, 0.75), counts=(9, 4, 7), p=0.8, sd=1.0)],
        {"primary_metric": JUDGE, "min_effect": 0.0},
        Outcome.NO_CLEAR_DIFFERENCE,
        ["about 88 questions would be needed to show an effect of +0.3"],
        88,
    ),
    (
        # clearly above 0 but smaller than what matters; the interval is narrow, so more questions would not help
        "real-gain-below-min-effect",
        [stats(BERT, n=100, mean=0.004, ci=(0.002, 0.006), counts=(60, 0, 40), p=0.057, sd=0.01)],
        {"primary_metric": BERT, "min_effect": 0.01},
        Outcome.NO_CLEAR_DIFFERENCE,
        ["on 100 questions", "the gain is real but below the minimum effect of +0.010"],
        None,
    ),
    (
        "primary-not-measured",
        [BERT_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        ["judge correctness was not measured"],
        None,
    ),
    (
        # the judge failing on a secondary metric does not change the outcome, but the reason does not hide it
        "secondary-judge-coverage-warning",
        [BERT_GAIN, stats(JUDGE, n=12, mean=1.0, ci=(0.2, 1.8), asked=48)],
        {"primary_metric": BERT, "min_effect": 0.0},
        Outcome.IMPROVED,
        ["BERTScore F1 +0.012 [95% CI +0.004, +0.020] on 48 questions", "; warning: judge correctness coverage 25%"],
        None,
    ),
    (
        "leaked-questions-counted",
        [JUDGE_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5, "excluded_questions": 3},
        Outcome.IMPROVED,
        ["on 48 questions", "; 3 leaked questions excluded"],
        None,
    ),
]


@pytest.mark.parametrize(
    ("metrics", "options", "outcome", "fragments", "needed"),
    [row[1:] for row in RULES],
    ids=[row[0] for row in RULES],
)
def test_verdict_rules(metrics, options, outcome, fragments, needed):
    # Given the paired statistics of each metric, When the verdict is drawn on the primary one
    verdict = decide(metrics, **options)
    # Then the outcome, the reason and the sample-size estimate follow the documented rules
    assert verdict.outcome is outcome
    for fragment in fragments:
        assert fragment in verdict.reason
    assert verdict.questions_needed == needed
    # And the verdict carries every metric, the options it was drawn with, and a one-line reason
    assert verdict.metrics == metrics
    assert verdict.primary_metric == options["primary_metric"]
    assert verdict.min_effect == options["min_effect"]
    assert verdict.excluded_questions == options.get("excluded_questions", 0)
    assert "\n" not in verdict.reason


def test_every_reason_names_the_number_of_questions():
    for _, metrics, options, *_ in RULES:
        primary = next((m for m in metrics if m.name == options["primary_metric"]), None)
        if primary is not None:
            assert f"{primary.n} " in decide(metrics, **options).reason


def test_the_verdict_survives_a_round_trip_through_json():
    verdict = decide([JUDGE_GAIN, BERT_GAIN], primary_metric=JUDGE, min_effect=0.5)
    assert type(verdict).model_validate_json(verdict.model_dump_json()) == verdict


def test_a_long_multiline_first_error_stays_on_one_line():
    outage = stats(JUDGE, n=0, mean=None, ci=None, asked=5, first_error="line one\nline two " + "x" * 1_000)
    reason = decide([outage], primary_metric=JUDGE, min_effect=0.0).reason
    assert "first error: line one line two x" in reason
    assert "\n" not in reason
    assert len(reason) < 500


def test_coverage_just_below_the_threshold_is_not_rounded_up_to_it():
    judged = stats(JUDGE, n=179, mean=1.0, ci=(0.5, 1.5), asked=200)  # 89.5%
    assert "coverage 89.5%, below 90%" in decide([judged], primary_metric=JUDGE, min_effect=0.0).reason


@pytest.mark.parametrize(
    "options",
    [{"min_effect": -0.1}, {"min_effect": math.nan}, {"min_effect": 0.0, "min_items": 0}],
    ids=["negative-effect", "nan-effect", "no-items"],
)
def test_decide_refuses_meaningless_options(options):
    with pytest.raises(ValueError, match="must be"):
        decide([JUDGE_GAIN], primary_metric=JUDGE, **options)


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [(JUDGE, 1.26, "+1.3"), (BERT, -0.0123, "-0.012"), (PAIRWISE, 0.25, "+25 pp"), ("rouge_l", 0.1, "+0.100")],
)
def test_deltas_are_shown_in_each_metric_unit(name, value, shown):
    assert format_delta(name, value) == shown


def test_a_metric_nobody_could_score_is_described_without_figures():
    assert describe(stats(JUDGE, n=0, mean=None, ci=None, asked=14)) == (
        "judge correctness not scored on both models for any of 14 questions"
    )
