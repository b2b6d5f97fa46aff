"""When a challenger may replace what serves: the eligibility rule, and what each ``promotion`` policy does with it.

A run's fine-tuned model (the challenger) is compared on the run's questions with the base model and, when the
stack has a champion, with the champion, by the same paired statistics and verdict rules (``lambdas.evaluation.
verdict``: ``improved`` needs the 95% confidence interval of the mean delta above zero *and* the mean delta at least
``min_effect``; ``regressed`` is an interval below zero of any size; ``no_clear_difference`` an interval that
includes zero or a real gain smaller than ``min_effect``; ``inconclusive`` too few questions scored or a judge
outage). The challenger is **eligible** when:

1. against the base model its verdict is ``improved`` — the bar every promotion clears, with or without a champion;
2. there is no champion, or, against the champion:

   * ``improved``: it is clearly better than what serves; or
   * ``no_clear_difference`` *and* its mean on the primary metric is at least the champion's (mean delta >= 0).

Why not require ``improved`` against the champion: the champion has already cleared the base-model bar, so a
successor is typically close to it, and telling two good models apart by ``min_effect`` takes far more questions
than telling either from the base (on ~50 questions a judge score's interval is about a point wide). The champion
would then almost never change, even as new drops bring newer data — which is why a stack is fine-tuned again.
Why not accept any ``no_clear_difference``: each swap might then hide a small loss below what the questions can
show, and a series of such swaps could walk quality down while every step looked like a tie. Requiring the point
estimate not to be worse stops that walk: on a tie the newer model wins only when the observed figures lean its way.

Never eligible: ``regressed`` against the champion (a clear loss against what applications get today, whatever the
gain over the base model), ``inconclusive`` against it (a judge outage or too few questions says nothing, and is
never read as "no difference", as in the verdict itself), or a champion that was not compared on this run's
questions (e.g. its deployment could not answer): a challenger is only promoted over a champion it was measured
against.

``decide`` applies the stack's ``promotion`` policy: ``off`` never promotes, ``manual`` (the default) recommends an
eligible challenger (the report and the notification give the ``tuner promote`` command), ``auto`` promotes it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from lambdas.evaluation.verdict import Outcome, Verdict, format_delta


class Policy(StrEnum):
    OFF = "off"
    MANUAL = "manual"
    AUTO = "auto"


Decision = Literal["promote", "recommend", "skip"]


class Comparison(BaseModel):
    """The challenger against one opponent (the base model or the champion) on the primary metric."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    primary_metric: str = ""
    n: int | None = None  # questions scored for both
    mean_delta: float | None = None  # challenger minus opponent

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> Comparison:
        primary = next((stats for stats in verdict.metrics if stats.name == verdict.primary_metric), None)
        return cls(
            outcome=verdict.outcome,
            primary_metric=verdict.primary_metric,
            n=primary.n if primary is not None else None,
            mean_delta=primary.mean_delta if primary is not None else None,
        )

    def describe(self) -> str:
        """``no clear difference, n=40`` or ``improved, +1.3 on judge_correctness, n=40``."""
        words = [self.outcome.value.replace("_", " ")]
        if self.mean_delta is not None and self.primary_metric:
            words.append(f"{format_delta(self.primary_metric, self.mean_delta)} on {self.primary_metric}")
        if self.n is not None:
            words.append(f"n={self.n}")
        return ", ".join(words)


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    eligible: bool
    reason: str  # one plain sentence


def eligibility(vs_base: Comparison, vs_champion: Comparison | None, *, has_champion: bool) -> Eligibility:
    """The rule of this module's docstring; ``vs_champion`` None with ``has_champion``: the champion was not
    compared on this run's questions."""
    if vs_base.outcome is not Outcome.IMPROVED:
        return Eligibility(eligible=False, reason=f"not improved against the base model ({vs_base.describe()})")
    base = f"improved against the base model ({vs_base.describe()})"
    if not has_champion:
        return Eligibility(eligible=True, reason=f"{base}, and there is no champion yet")
    if vs_champion is None:
        return Eligibility(
            eligible=False,
            reason=f"{base}, but it was not compared with the champion on the same questions",
        )
    against = f"({vs_champion.describe()})"
    if vs_champion.outcome is Outcome.IMPROVED:
        return Eligibility(eligible=True, reason=f"{base} and better than the champion {against}")
    if vs_champion.outcome is Outcome.REGRESSED:
        return Eligibility(eligible=False, reason=f"{base}, but worse than the champion {against}")
    if vs_champion.outcome is Outcome.INCONCLUSIVE:
        return Eligibility(
            eligible=False, reason=f"{base}, but the comparison with the champion is inconclusive {against}"
        )
    if vs_champion.mean_delta is None or vs_champion.mean_delta < 0:
        return Eligibility(
            eligible=False,
            reason=f"{base}, but not clearly different from the champion and its mean is not at least the "
            f"champion's {against}",
        )
    return Eligibility(
        eligible=True,
        reason=f"{base}, and not clearly different from the champion with a mean at least as high {against}",
    )


def decide(policy: Policy | str, result: Eligibility) -> Decision:
    """What the state machine does after the report: ``promote`` (auto), ``recommend`` (manual: say so and give the
    command), or ``skip`` (not eligible, or promotion off)."""
    chosen = Policy(policy)
    if chosen is Policy.OFF or not result.eligible:
        return "skip"
    return "promote" if chosen is Policy.AUTO else "recommend"
