"""The verdict rules, one table row per outcome: what the statistics say, what the verdict and its reason must say."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from lambdas.evaluation.verdict import (
    MetricName,
    MetricStatistics,
    Outcome,
    decide,
    describe,
    format_delta,
    format_p_value,
)

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

# (id, metrics, decide() options, outcome, the whole reason, questions_needed). The reason is what the report and the
# notification show a person deciding whether to keep the model: it is pinned in full, not by fragments.
RULES: list[tuple[str, list[MetricStatistics], dict[str, Any], Outcome, str, int | None]] = [
    (
        "judge-outage",
        [stats(JUDGE, n=0, mean=None, ci=None, asked=14, first_error="ThrottlingException: Rate exceeded"), BERT_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        "judge scored 0 of 14 questions (coverage 0%, below 90%); first error: ThrottlingException: Rate exceeded",
        None,
    ),
    (
        # half the items judged, and those show a clear gain: still no verdict, the missing half could say otherwise
        "judge-half-outage-with-a-gain",
        [stats(JUDGE, n=24, mean=2.0, ci=(1.0, 3.0), counts=(20, 2, 2), asked=48, p=0.0001)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        "judge scored 24 of 48 questions (coverage 50%, below 90%); on those alone judge correctness +2.0 "
        "[95% CI +1.0, +3.0] on 24 questions: 20 wins, 2 ties, 2 losses (sign test p=0.0001)",
        None,
    ),
    (
        "pairwise-judge-outage",
        [stats(PAIRWISE, n=1, mean=1.0, ci=(1.0, 1.0), counts=(1, 0, 0), asked=20)],
        {"primary_metric": PAIRWISE, "min_effect": 0.1},
        Outcome.INCONCLUSIVE,
        "pairwise judge scored 1 of 20 questions (coverage 5%, below 90%); on those alone pairwise preference "
        "+100 pp [95% CI +100 pp, +100 pp] on 1 question: 1 win, 0 ties, 0 losses (sign test p=0.5)",
        None,
    ),
    (
        "judge-asked-one-question",
        [stats(JUDGE, n=0, mean=None, ci=None, asked=1)],
        {"primary_metric": JUDGE, "min_effect": 0.0},
        Outcome.INCONCLUSIVE,
        "judge scored 0 of 1 question (coverage 0%, below 90%)",
        None,
    ),
    (
        # exactly at the threshold is enough: 90% is "at least 90%"
        "judge-coverage-exactly-at-the-threshold",
        [stats(JUDGE, n=45, mean=1.0, ci=(0.5, 1.5), asked=50, counts=(30, 10, 5), p=0.0001)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.IMPROVED,
        "judge correctness +1.0 [95% CI +0.5, +1.5] on 45 questions: 30 wins, 10 ties, 5 losses (sign test p=0.0001)",
        None,
    ),
    (
        # a metric the display table does not know is not judged: low coverage is no outage, and it reads as its name
        "unknown-metric",
        [stats("rouge_l", n=10, mean=0.1, ci=(0.05, 0.15), asked=20, counts=(8, 1, 1), p=0.039)],
        {"primary_metric": "rouge_l", "min_effect": 0.0},
        Outcome.IMPROVED,
        "rouge_l +0.100 [95% CI +0.050, +0.150] on 10 questions: 8 wins, 1 tie, 1 loss (sign test p=0.039)",
        None,
    ),
    (
        "too-few-items",
        [stats(BERT, n=4, mean=0.09, ci=(0.04, 0.15), counts=(4, 0, 0), p=0.125)],
        {"primary_metric": BERT, "min_effect": 0.0},
        Outcome.INCONCLUSIVE,
        "only 4 questions were scored on both models; at least 10 are needed; so far BERTScore F1 +0.090 "
        "[95% CI +0.040, +0.150] on 4 questions: 4 wins, 0 ties, 0 losses (sign test p=0.12)",
        None,
    ),
    (
        "one-item",
        [stats(BERT, n=1, mean=0.03, ci=(0.03, 0.03), counts=(1, 0, 0), p=1.0)],
        {"primary_metric": BERT, "min_effect": 0.0},
        Outcome.INCONCLUSIVE,
        "only 1 question was scored on both models; at least 10 are needed; so far BERTScore F1 +0.030 "
        "[95% CI +0.030, +0.030] on 1 question: 1 win, 0 ties, 0 losses (sign test p=1)",
        None,
    ),
    (
        "exactly-min-items",
        [stats(BERT, n=10, mean=0.05, ci=(0.02, 0.08), counts=(9, 0, 1), p=0.021, sd=0.04)],
        {"primary_metric": BERT, "min_effect": 0.0},
        Outcome.IMPROVED,
        "BERTScore F1 +0.050 [95% CI +0.020, +0.080] on 10 questions: 9 wins, 0 ties, 1 loss (sign test p=0.021)",
        None,
    ),
    (
        "improved",
        [JUDGE_GAIN, BERT_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.IMPROVED,
        "judge correctness +1.3 [95% CI +0.6, +2.0] on 48 questions: 31 wins, 12 ties, 5 losses (sign test p=0.0001)",
        None,
    ),
    (
        # a gain of exactly the minimum effect is enough
        "gain-exactly-min-effect",
        [stats(JUDGE, n=30, mean=0.5, ci=(0.1, 0.9), counts=(15, 10, 5), p=0.041)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.IMPROVED,
        "judge correctness +0.5 [95% CI +0.1, +0.9] on 30 questions: 15 wins, 10 ties, 5 losses (sign test p=0.041)",
        None,
    ),
    (
        # any clear loss is reported, however far below min_effect it is
        "regressed",
        [stats(BERT, n=200, mean=-0.004, ci=(-0.007, -0.001), counts=(70, 10, 120), p=0.0004, sd=0.02)],
        {"primary_metric": BERT, "min_effect": 0.02},
        Outcome.REGRESSED,
        "BERTScore F1 -0.004 [95% CI -0.007, -0.001] on 200 questions: 70 wins, 10 ties, 120 losses "
        "(sign test p=0.0004)",
        None,
    ),
    (
        # half-width 0.7 > min_effect 0.5: ceil((2.8 * 1.5 / 0.5) ** 2) = ceil(70.56) = 71
        "no-clear-difference-set-too-small",
        [stats(JUDGE, n=20, mean=0.3, ci=(-0.4, 1.0), counts=(8, 6, 6), p=0.79, sd=1.5)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.3 [95% CI -0.4, +1.0] on 20 questions: 8 wins, 6 ties, 6 losses (sign test p=0.79); "
        "the confidence interval includes 0; about 71 questions would be needed to show an effect of +0.5",
        71,
    ),
    (
        # the same, with 71 questions already scored: the estimate says nothing new and is left out
        "no-clear-difference-estimate-already-met",
        [stats(JUDGE, n=71, mean=0.3, ci=(-0.4, 1.0), counts=(30, 11, 30), p=1.0, sd=1.5)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.3 [95% CI -0.4, +1.0] on 71 questions: 30 wins, 11 ties, 30 losses (sign test p=1); "
        "the confidence interval includes 0",
        None,
    ),
    (
        # half-width exactly min_effect: the set is large enough to show it, so no estimate
        "no-clear-difference-half-width-exactly-min-effect",
        [stats(JUDGE, n=20, mean=0.3, ci=(-0.2, 0.8), counts=(8, 6, 6), p=0.79, sd=1.5)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.3 [95% CI -0.2, +0.8] on 20 questions: 8 wins, 6 ties, 6 losses (sign test p=0.79); "
        "the confidence interval includes 0",
        None,
    ),
    (
        # a narrow interval around 0 (half-width 0.003 < 0.01): no estimate, however large the spread suggests
        "no-clear-difference-narrow-interval",
        [stats(BERT, n=100, mean=0.001, ci=(-0.002, 0.004), counts=(50, 0, 50), p=1.0, sd=0.05)],
        {"primary_metric": BERT, "min_effect": 0.01},
        Outcome.NO_CLEAR_DIFFERENCE,
        "BERTScore F1 +0.001 [95% CI -0.002, +0.004] on 100 questions: 50 wins, 0 ties, 50 losses (sign test p=1); "
        "the confidence interval includes 0",
        None,
    ),
    (
        "no-clear-difference-spread-unknown",
        [stats(JUDGE, n=20, mean=0.3, ci=(-0.4, 1.0), counts=(8, 6, 6), p=0.79, sd=None)],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.3 [95% CI -0.4, +1.0] on 20 questions: 8 wins, 6 ties, 6 losses (sign test p=0.79); "
        "the confidence interval includes 0",
        None,
    ),
    (
        # min_effect 0 and the interval straddles 0: sized for the observed mean, ceil((2.8 * 1.0 / 0.3) ** 2) = 88
        "no-clear-difference-sized-for-the-observed-mean",
        [stats(JUDGE, n=20, mean=0.3, ci=(-0.15, 0.75), counts=(9, 4, 7), p=0.8, sd=1.0)],
        {"primary_metric": JUDGE, "min_effect": 0.0},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.3 [95% CI -0.1, +0.8] on 20 questions: 9 wins, 4 ties, 7 losses (sign test p=0.8); "
        "the confidence interval includes 0; about 88 questions would be needed to show an effect of +0.3",
        88,
    ),
    (
        # an interval that ends exactly at 0 includes it: not a clear gain
        "interval-ending-at-0-from-above",
        [stats(JUDGE, n=20, mean=0.3, ci=(0.0, 0.6), counts=(9, 4, 7), p=0.8)],
        {"primary_metric": JUDGE, "min_effect": 0.0},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.3 [95% CI +0.0, +0.6] on 20 questions: 9 wins, 4 ties, 7 losses (sign test p=0.8); "
        "the confidence interval includes 0; about 88 questions would be needed to show an effect of +0.3",
        88,
    ),
    (
        # ... nor a clear loss
        "interval-ending-at-0-from-below",
        [stats(JUDGE, n=20, mean=-0.3, ci=(-0.6, 0.0), counts=(7, 4, 9), p=0.8)],
        {"primary_metric": JUDGE, "min_effect": 0.0},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness -0.3 [95% CI -0.6, +0.0] on 20 questions: 7 wins, 4 ties, 9 losses (sign test p=0.8); "
        "the confidence interval includes 0; about 88 questions would be needed to show an effect of +0.3",
        88,
    ),
    (
        # no observed difference and no minimum effect: there is no effect to size a question set for
        "no-difference-at-all",
        [stats(JUDGE, n=20, mean=0.0, ci=(-0.5, 0.5), counts=(7, 6, 7), p=1.0, sd=3.0)],
        {"primary_metric": JUDGE, "min_effect": 0.0},
        Outcome.NO_CLEAR_DIFFERENCE,
        "judge correctness +0.0 [95% CI -0.5, +0.5] on 20 questions: 7 wins, 6 ties, 7 losses (sign test p=1); "
        "the confidence interval includes 0",
        None,
    ),
    (
        # clearly above 0 but smaller than what matters; the interval is narrow, so more questions would not help
        "real-gain-below-min-effect",
        [stats(BERT, n=100, mean=0.004, ci=(0.002, 0.006), counts=(60, 0, 40), p=0.057, sd=0.01)],
        {"primary_metric": BERT, "min_effect": 0.01},
        Outcome.NO_CLEAR_DIFFERENCE,
        "BERTScore F1 +0.004 [95% CI +0.002, +0.006] on 100 questions: 60 wins, 0 ties, 40 losses "
        "(sign test p=0.057); the gain is real but below the minimum effect of +0.010",
        None,
    ),
    (
        "primary-not-measured",
        [BERT_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        "judge correctness was not measured (measured: bertscore_f1)",
        None,
    ),
    (
        "nothing-measured",
        [],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        "judge correctness was not measured (measured: nothing)",
        None,
    ),
    (
        "primary-not-measured-among-two",
        [BERT_GAIN, stats(PAIRWISE, n=48, mean=0.2, ci=(0.1, 0.3))],
        {"primary_metric": JUDGE, "min_effect": 0.5},
        Outcome.INCONCLUSIVE,
        "judge correctness was not measured (measured: bertscore_f1, pairwise_preference)",
        None,
    ),
    (
        # the judge failing on a secondary metric does not change the outcome, but the reason does not hide it
        "secondary-judge-coverage-warning",
        [BERT_GAIN, stats(JUDGE, n=12, mean=1.0, ci=(0.2, 1.8), asked=48)],
        {"primary_metric": BERT, "min_effect": 0.0},
        Outcome.IMPROVED,
        "BERTScore F1 +0.012 [95% CI +0.004, +0.020] on 48 questions: 30 wins, 0 ties, 18 losses (sign test p=0.11); "
        "warning: judge correctness coverage 25%",
        None,
    ),
    (
        "leaked-questions-counted",
        [JUDGE_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5, "excluded_questions": 3},
        Outcome.IMPROVED,
        "judge correctness +1.3 [95% CI +0.6, +2.0] on 48 questions: 31 wins, 12 ties, 5 losses (sign test p=0.0001); "
        "3 leaked questions excluded",
        None,
    ),
    (
        "one-leaked-question",
        [JUDGE_GAIN],
        {"primary_metric": JUDGE, "min_effect": 0.5, "excluded_questions": 1},
        Outcome.IMPROVED,
        "judge correctness +1.3 [95% CI +0.6, +2.0] on 48 questions: 31 wins, 12 ties, 5 losses (sign test p=0.0001); "
        "1 leaked question excluded",
        None,
    ),
]


@pytest.mark.parametrize(
    ("metrics", "options", "outcome", "reason", "needed"),
    [row[1:] for row in RULES],
    ids=[row[0] for row in RULES],
)
def test_verdict_rules(metrics, options, outcome, reason, needed):
    # Given the paired statistics of each metric, When the verdict is drawn on the primary one
    verdict = decide(metrics, **options)
    # Then the outcome, the reason and the sample-size estimate follow the documented rules
    assert verdict.outcome is outcome
    assert verdict.reason == reason
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
    # its whitespace collapsed to single spaces, and cut at 300 characters
    assert reason == (
        "judge scored 0 of 5 questions (coverage 0%, below 90%); first error: " + ("line one line two " + "x" * 282)
    )


@pytest.mark.parametrize(
    ("scored", "asked", "shown"),
    [(179, 200, "89.5%"), (2_249, 2_500, "89.9%"), (1, 3, "33.3%"), (2, 3, "66.6%")],
    ids=["89.5", "89.96", "a-third", "two-thirds"],
)
def test_coverage_just_below_the_threshold_is_not_rounded_up_to_it(scored, asked, shown):
    # Given a judge that scored just under 90% (89.96% once showed as "90.0%, below 90%")
    judged = stats(JUDGE, n=scored, mean=1.0, ci=(0.5, 1.5), asked=asked)
    # When the verdict is drawn / Then the coverage is shown rounded down, never up to the threshold
    assert f"coverage {shown}, below 90%" in decide([judged], primary_metric=JUDGE, min_effect=0.0).reason


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_effect": -0.1}, "min_effect must be a finite number >= 0, not -0.1"),
        ({"min_effect": math.nan}, "min_effect must be a finite number >= 0, not nan"),
        ({"min_effect": math.inf}, "min_effect must be a finite number >= 0, not inf"),
        ({"min_effect": 0.0, "min_items": 0}, "min_items must be at least 1, not 0"),
        ({"min_effect": 0.0, "min_judge_coverage": -0.01}, "min_judge_coverage must be between 0 and 1, not -0.01"),
        ({"min_effect": 0.0, "min_judge_coverage": 1.01}, "min_judge_coverage must be between 0 and 1, not 1.01"),
    ],
    ids=["negative-effect", "nan-effect", "infinite-effect", "no-items", "coverage-below-0", "coverage-above-1"],
)
def test_decide_refuses_meaningless_options(options, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        decide([JUDGE_GAIN], primary_metric=JUDGE, **options)


@pytest.mark.parametrize(
    ("options", "outcome"),
    [
        ({"min_judge_coverage": 0.0}, Outcome.IMPROVED),  # any coverage will do
        ({"min_judge_coverage": 1.0}, Outcome.INCONCLUSIVE),  # every question must be judged
        ({"min_items": 1}, Outcome.IMPROVED),
    ],
    ids=["coverage-0", "coverage-1", "one-item"],
)
def test_the_bounds_of_each_option_are_accepted(options, outcome):
    # Given a judge that scored 47 of the 48 questions it was asked, with a clear gain
    judged = stats(JUDGE, n=47, mean=1.3, ci=(0.6, 2.0), asked=48)
    # When the verdict is drawn with an option at its bound / Then it is drawn, not refused
    assert decide([judged], primary_metric=JUDGE, min_effect=0.5, **options).outcome is outcome


@pytest.mark.parametrize(
    "missing",
    [{"ci_low": None}, {"ci_high": None}, {"mean_delta": None}],
    ids=["no-low-end", "no-high-end", "no-mean"],
)
def test_statistics_without_an_interval_or_a_mean_are_inconclusive(missing):
    # Given enough questions, but figures that are incomplete (an older or hand-edited report)
    incomplete = JUDGE_GAIN.model_copy(update=missing)
    # When the verdict is drawn / Then it is inconclusive rather than guessed or a crash
    assert decide([incomplete], primary_metric=JUDGE, min_effect=0.5).outcome is Outcome.INCONCLUSIVE


@pytest.mark.parametrize(
    ("p_value", "shown"),
    [(0.00001, "p<0.0001"), (0.0001, "p=0.0001"), (0.04912, "p=0.049"), (1.0, "p=1")],
)
def test_p_values_are_shown_to_two_significant_digits_and_tiny_ones_as_a_bound(p_value, shown):
    assert format_p_value(p_value) == shown


def test_counts_of_one_are_singular():
    one_each = stats(JUDGE, n=1, mean=1.0, ci=(1.0, 1.0), counts=(1, 1, 1), p=0.5)
    assert describe(one_each) == (
        "judge correctness +1.0 [95% CI +1.0, +1.0] on 1 question: 1 win, 1 tie, 1 loss (sign test p=0.5)"
    )


@pytest.mark.parametrize(
    "missing",
    [{"ci_low": None, "ci_high": None}, {"ci_high": None}, {"ci_low": None}],
    ids=["no-interval", "no-high-end", "no-low-end"],
)
def test_a_metric_without_an_interval_or_p_value_is_described_without_them(missing):
    figures = stats(BERT, n=20, mean=0.01, ci=(0.0, 0.02), counts=(12, 2, 6), p=None).model_copy(update=missing)
    assert describe(figures) == "BERTScore F1 +0.010 on 20 questions: 12 wins, 2 ties, 6 losses"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        (JUDGE, 1.26, "+1.3"),
        (BERT, -0.0123, "-0.012"),
        (PAIRWISE, 0.25, "+25 pp"),
        (PAIRWISE, -1.0, "-100 pp"),
        ("rouge_l", 0.1, "+0.100"),
    ],
)
def test_deltas_are_shown_in_each_metric_unit(name, value, shown):
    assert format_delta(name, value) == shown


def test_a_metric_nobody_could_score_is_described_without_figures():
    assert describe(stats(JUDGE, n=0, mean=None, ci=None, asked=14)) == (
        "judge correctness not scored on both models for any of 14 questions"
    )
