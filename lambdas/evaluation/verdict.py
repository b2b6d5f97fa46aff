"""The verdict: did fine-tuning help? One outcome, one sentence saying why, and the paired statistics behind it.

Each metric is compared question by question: for every question scored for both models, the delta is the fine-tuned
model's score minus the base model's (``lambdas.evaluation.statistics`` computes the figures: mean delta, its 95%
paired bootstrap confidence interval, wins / ties / losses and an exact sign test). One metric is the primary one;
the verdict reads it with these rules, in this order:

1. ``inconclusive`` when the primary metric was not measured; when it is a judge metric (judge correctness, pairwise
   preference) and the judge scored fewer than ``min_judge_coverage`` (default 90%) of the questions asked, the
   reason giving the coverage and the judge's first error (a judge outage is never read as "no difference"); or
   when fewer than ``min_items`` (default 10) questions were scored on both models.
2. ``improved`` when the confidence interval lies above zero (``ci_low > 0``) and ``mean_delta >= min_effect``: the
   gain is statistically clear and large enough to matter.
3. ``regressed`` when the confidence interval lies below zero (``ci_high < 0``), whatever its size: a clear loss is
   always reported.
4. ``no_clear_difference`` otherwise: the interval includes zero, or the gain is real but smaller than
   ``min_effect`` (the reason says which).

When there is no clear difference and the question set is too small to show one (the interval's half-width is
wider than ``min_effect``, or, with ``min_effect`` 0, the interval includes zero), ``questions_needed`` estimates
how many questions would show an effect of ``min_effect`` (with ``min_effect`` 0: of the observed mean delta) with
80% power at 5% two-sided significance, from the observed spread of the deltas: ``ceil(((1.96 + 0.84) * sd_delta /
effect) ** 2)``. It is a normal approximation, left out when the spread is unknown, the effect is zero, or the
estimate is not above the questions already scored.

Secondary metrics never change the outcome, but a judge metric among them with coverage below
``min_judge_coverage`` adds a warning to the reason; questions left out of the verdict (test questions leaked into
the training data) are counted at its end.

Pydantic and the standard library only: the report function (a zip Lambda without numpy) reads these models.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

# z-values of the sample-size estimate: 5% two-sided significance, 80% power.
Z_SIGNIFICANCE = 1.96
Z_POWER = 0.84


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricName(StrEnum):
    JUDGE_CORRECTNESS = "judge_correctness"  # pointwise LLM judge, 1-10
    BERTSCORE_F1 = "bertscore_f1"
    PAIRWISE_PREFERENCE = "pairwise_preference"  # per question +1 fine-tuned preferred, 0 tie, -1 base preferred


class MetricStatistics(_Model):
    """One metric compared question by question, fine-tuned minus base."""

    name: str
    n: int  # questions with a score for both models
    asked: int  # questions asked
    coverage: float  # n / asked
    mean_delta: float | None  # fine-tuned minus base
    ci_low: float | None  # 95% paired bootstrap CI of mean_delta
    ci_high: float | None
    wins: int
    ties: int
    losses: int
    p_value: float | None  # exact two-sided sign test
    sd_delta: float | None = None
    first_error: str | None = None  # why items are unscored (the judge's first error), when coverage < 1


class Outcome(StrEnum):
    IMPROVED = "improved"
    REGRESSED = "regressed"
    NO_CLEAR_DIFFERENCE = "no_clear_difference"
    INCONCLUSIVE = "inconclusive"


class Verdict(_Model):
    outcome: Outcome
    primary_metric: str
    reason: str  # one sentence, always naming n
    min_effect: float
    confidence: float = 0.95
    questions_needed: int | None = None  # estimate when the set is too small to show min_effect
    excluded_questions: int = 0  # left out of the verdict (e.g. leaked test questions)
    metrics: list[MetricStatistics]


@dataclass(frozen=True)
class _Display:
    label: str  # how the reason names the metric
    judged: bool  # scored by an LLM judge, whose outages show as low coverage
    delta: Callable[[float], str]  # a signed delta in the metric's own unit


def _signed(decimals: int) -> Callable[[float], str]:
    return lambda value: f"{value:+.{decimals}f}"


def _points(value: float) -> str:
    # A mean of +1/0/-1 preferences is the share preferring fine-tuned minus the share preferring base.
    return f"{value * 100:+.0f} pp"


# Data, not branches: a new metric is one row. Unknown names read as themselves with three decimals.
DISPLAY: dict[str, _Display] = {
    MetricName.JUDGE_CORRECTNESS: _Display("judge correctness", judged=True, delta=_signed(1)),
    MetricName.BERTSCORE_F1: _Display("BERTScore F1", judged=False, delta=_signed(3)),
    MetricName.PAIRWISE_PREFERENCE: _Display("pairwise preference", judged=True, delta=_points),
}


def _display(name: str) -> _Display:
    return DISPLAY.get(name, _Display(name, judged=False, delta=_signed(3)))


def format_delta(name: str, value: float) -> str:
    """A signed delta in the metric's unit: judge ``+1.3``, BERTScore ``+0.012``, pairwise ``+25 pp``."""
    return _display(name).delta(value)


def format_p_value(p_value: float) -> str:
    return "p<0.0001" if p_value < 0.0001 else f"p={p_value:.2g}"


def _percent(share: float) -> str:
    # One decimal unless whole, rounded down, so 89.5% or 89.96% is never shown as a "90%" or "90.0%" that is below a
    # 90% threshold. The 1e-9 absorbs float error: 179/200 is 89.49999999999999 percent to the machine.
    value = share * 100
    if value == round(value):
        return f"{value:.0f}%"
    return f"{math.floor(value * 10 + 1e-9) / 10:.1f}%"


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def describe(stats: MetricStatistics, *, confidence: float = 0.95) -> str:
    """One metric in a line, e.g.

    ``judge correctness +1.3 [95% CI +0.6, +2.0] on 48 questions: 31 wins, 12 ties, 5 losses (sign test p=0.0001)``
    """
    display = _display(stats.name)
    questions = _count(stats.n, "question", "questions")
    if stats.mean_delta is None:
        return f"{display.label} not scored on both models for any of {stats.asked} questions"
    interval = ""
    if stats.ci_low is not None and stats.ci_high is not None:
        interval = f" [{confidence:.0%} CI {display.delta(stats.ci_low)}, {display.delta(stats.ci_high)}]"
    counts = ", ".join(
        [_count(stats.wins, "win", "wins"), _count(stats.ties, "tie", "ties"), _count(stats.losses, "loss", "losses")]
    )
    sign_test = f" (sign test {format_p_value(stats.p_value)})" if stats.p_value is not None else ""
    return f"{display.label} {display.delta(stats.mean_delta)}{interval} on {questions}: {counts}{sign_test}"


def _coverage_shortfall(stats: MetricStatistics, min_judge_coverage: float) -> bool:
    return _display(stats.name).judged and stats.coverage < min_judge_coverage


def _judge_outage(stats: MetricStatistics, min_judge_coverage: float) -> str:
    judge = "pairwise judge" if stats.name == MetricName.PAIRWISE_PREFERENCE else "judge"
    reason = (
        f"{judge} scored {stats.n} of {_count(stats.asked, 'question', 'questions')} "
        f"(coverage {_percent(stats.coverage)}, below {_percent(min_judge_coverage)})"
    )
    if stats.first_error:
        reason += f"; first error: {' '.join(stats.first_error.split())[:300]}"
    if stats.n:
        reason += f"; on those alone {describe(stats)}"
    return reason


def questions_needed(stats: MetricStatistics, *, min_effect: float) -> int | None:
    """Questions that would show ``min_effect`` (0: the observed mean) with 80% power at 5% two-sided significance."""
    target = min_effect if min_effect > 0 else abs(stats.mean_delta or 0.0)
    if stats.sd_delta is None or target == 0:
        return None
    needed = math.ceil(((Z_SIGNIFICANCE + Z_POWER) * stats.sd_delta / target) ** 2)
    # Bootstrap and normal approximation can disagree near the edge; an estimate the set already meets says nothing.
    return needed if needed > stats.n else None


def _too_small_to_tell(ci_low: float, ci_high: float, min_effect: float) -> bool:
    if min_effect > 0:
        return (ci_high - ci_low) / 2 > min_effect
    return ci_low <= 0 <= ci_high


def _rule(stats: MetricStatistics, *, min_effect: float, min_judge_coverage: float, min_items: int) -> Verdict:
    """The outcome for the primary metric alone (``metrics`` and the suffixes are the caller's)."""
    found = describe(stats)

    def verdict(outcome: Outcome, reason: str, needed: int | None = None) -> Verdict:
        return Verdict(
            outcome=outcome,
            primary_metric=stats.name,
            reason=reason,
            min_effect=min_effect,
            questions_needed=needed,
            metrics=[],
        )

    if _coverage_shortfall(stats, min_judge_coverage):
        return verdict(Outcome.INCONCLUSIVE, _judge_outage(stats, min_judge_coverage))
    if stats.n < min_items or stats.mean_delta is None or stats.ci_low is None or stats.ci_high is None:
        scored = _count(stats.n, "question was", "questions were")
        reason = f"only {scored} scored on both models; at least {min_items} are needed; so far {found}"
        return verdict(Outcome.INCONCLUSIVE, reason)
    if stats.ci_low > 0 and stats.mean_delta >= min_effect:
        return verdict(Outcome.IMPROVED, found)
    if stats.ci_high < 0:
        return verdict(Outcome.REGRESSED, found)

    minimum = format_delta(stats.name, min_effect)
    if stats.ci_low > 0:
        reason = f"{found}; the gain is real but below the minimum effect of {minimum}"
    else:
        reason = f"{found}; the confidence interval includes 0"
    too_small = _too_small_to_tell(stats.ci_low, stats.ci_high, min_effect)
    needed = questions_needed(stats, min_effect=min_effect) if too_small else None
    if needed is not None:
        effect = minimum if min_effect > 0 else format_delta(stats.name, abs(stats.mean_delta))
        reason += f"; about {needed} questions would be needed to show an effect of {effect}"
    return verdict(Outcome.NO_CLEAR_DIFFERENCE, reason, needed)


def decide(
    metrics: Sequence[MetricStatistics],
    *,
    primary_metric: str,
    min_effect: float,
    min_judge_coverage: float = 0.9,
    min_items: int = 10,
    excluded_questions: int = 0,
) -> Verdict:
    """The verdict on ``primary_metric`` by the rules in this module's docstring; the other metrics ride along."""
    if not math.isfinite(min_effect) or min_effect < 0:
        raise ValueError(f"min_effect must be a finite number >= 0, not {min_effect}")
    if not 0 <= min_judge_coverage <= 1:
        raise ValueError(f"min_judge_coverage must be between 0 and 1, not {min_judge_coverage}")
    if min_items < 1:
        raise ValueError(f"min_items must be at least 1, not {min_items}")

    primary = next((stats for stats in metrics if stats.name == primary_metric), None)
    if primary is None:
        measured = ", ".join(stats.name for stats in metrics) or "nothing"
        verdict = Verdict(
            outcome=Outcome.INCONCLUSIVE,
            primary_metric=primary_metric,
            reason=f"{_display(primary_metric).label} was not measured (measured: {measured})",
            min_effect=min_effect,
            metrics=[],
        )
    else:
        verdict = _rule(primary, min_effect=min_effect, min_judge_coverage=min_judge_coverage, min_items=min_items)

    reason = verdict.reason
    for stats in metrics:
        if stats is not primary and _coverage_shortfall(stats, min_judge_coverage):
            reason += f"; warning: {_display(stats.name).label} coverage {_percent(stats.coverage)}"
    if excluded_questions > 0:
        reason += f"; {_count(excluded_questions, 'leaked question', 'leaked questions')} excluded"
    return verdict.model_copy(
        update={"reason": reason, "excluded_questions": excluded_questions, "metrics": list(metrics)}
    )
