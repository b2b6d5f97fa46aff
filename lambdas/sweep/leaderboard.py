"""A sweep's leaderboard, and which candidate wins: the rule, in the spirit of ``lambdas.serving.promotion``.

Every candidate that trained and answered is compared with the base model on the same questions by the paired
statistics and verdict rules of ``lambdas.evaluation.verdict`` (``improved`` needs the 95% confidence interval of the
mean delta above zero *and* the mean delta at least ``min_effect``; ``regressed`` an interval below zero;
``no_clear_difference`` an interval that includes zero or a real gain below ``min_effect``; ``inconclusive`` too
few questions scored or a judge outage).

**Ranking.** Rows are ranked by the primary metric's mean delta against the base model, highest first (ties: the
higher lower confidence bound, then the cheaper, then the earlier candidate). Candidates that succeeded but have no
mean delta (nothing scored on both models) come next, then candidates that failed, each with its reason, in sweep
order.

**The winner** is chosen among the candidates whose verdict against the base model is ``improved``:

1. None improved: **no winner**, and the reason says so, with each candidate's outcome (or why it failed). The
   sweep's best-looking figure is never promoted on a verdict that did not clear the base-model bar.
2. One improved: it wins.
3. Two or more: the two best-ranked improved candidates (the *contenders*, #1 and #2) are compared:

   * with a **head-to-head** (#1's answers against #2's on the same questions, ``HeadToHead``): ``improved`` -> #1
     wins, clearly better; ``regressed`` -> #2 wins (a direct, paired comparison outweighs the ranking's indirect
     one); ``no_clear_difference`` -> the two are **indistinguishable**; ``inconclusive`` (a judge outage, too few
     questions) says nothing, and the rule falls back to the intervals, as without one;
   * without one: they are **indistinguishable** when their confidence intervals against the base model overlap
     (#1's lower bound at or below #2's upper bound), else #1 wins, clearly ahead.

   Indistinguishable contenders: **the cheaper wins** (estimated cost; with costs unknown or equal, #1 keeps it),
   and the reason says that the two could not be told apart and which was cheaper.

Why prefer the cheaper on a tie: on ~50 questions a judge score's interval is about a point wide, so between two
candidates the questions cannot tell apart, the higher point estimate is as likely noise as merit; the cheaper one
(usually fewer epochs: less training to pay for, and less overfitting to its training data) gives the same measured
quality for less. Why only the top two: they are the ones a person would weigh; a third that is cheaper still but
ranked lower was already beaten on the figures by #2, and chaining ties down the table could walk quality down one
indistinguishable step at a time (the walk the promotion rule also guards against). Why a head-to-head over the
intervals: the intervals are each against the base model, and two overlapping intervals can still hide a real
difference, which the paired head-to-head (question difficulty cancels out) can show; overlap is the conservative
reading when no head-to-head was made.

``contenders`` names the pair whose head-to-head the rule reads, so a caller knows which comparison to make.
Pure functions and pydantic models, like the verdict they read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdas.contracts import PrimaryComparison
from lambdas.evaluation.verdict import Outcome, format_delta
from lambdas.sweep.candidates import Candidate

CandidateStatus = Literal["succeeded", "failed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CandidateResult(_Model):
    """What one candidate came to: how it compares with the base model, what it cost, or why it failed."""

    candidate: Candidate
    status: CandidateStatus
    failure_reason: str | None = None  # which step failed and why (status failed)
    versus_base: PrimaryComparison | None = None  # the candidate minus the base model, on the primary metric
    estimated_cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    final_training_loss: float | None = None
    final_validation_loss: float | None = None

    @model_validator(mode="after")
    def _failure_has_a_reason(self) -> CandidateResult:
        if self.status == "failed" and not self.failure_reason:
            raise ValueError(f"candidate {self.candidate.id} failed: say why (failure_reason)")
        return self

    @property
    def improved(self) -> bool:
        return self.status == "succeeded" and self.versus_base is not None and self.versus_base.outcome == "improved"


class HeadToHead(_Model):
    """Two candidates' answers compared on the same questions: ``comparison`` is ``first`` minus ``second``."""

    first: str  # candidate id
    second: str
    comparison: PrimaryComparison

    def flipped(self) -> HeadToHead:
        """The same comparison read the other way round: ``second`` minus ``first``."""
        c = self.comparison
        outcome = {"improved": "regressed", "regressed": "improved"}.get(c.outcome, c.outcome)
        return HeadToHead(
            first=self.second,
            second=self.first,
            comparison=c.model_copy(
                update={
                    "outcome": outcome,
                    "mean_delta": _negated(c.mean_delta),
                    "ci_low": _negated(c.ci_high),
                    "ci_high": _negated(c.ci_low),
                }
            ),
        )


class LeaderboardRow(_Model):
    rank: int  # 1 is the best mean delta against the base model; failed candidates rank last
    candidate: Candidate
    status: CandidateStatus
    failure_reason: str | None = None
    outcome: str | None = None  # the verdict against the base model
    n: int | None = None
    mean_delta: float | None = None  # the candidate minus the base model
    ci_low: float | None = None
    ci_high: float | None = None
    estimated_cost_usd: float | None = None
    final_training_loss: float | None = None
    final_validation_loss: float | None = None
    winner: bool = False


class Leaderboard(_Model):
    primary_metric: str | None  # None when no candidate was compared with the base model
    rows: list[LeaderboardRow]
    winner: str | None  # the winning candidate's id; None: no candidate improved on the base model
    reason: str  # one sentence: who wins and why, or why nobody does
    indistinguishable: bool = False  # the two contenders could not be told apart
    cheaper_preferred: bool = False  # the winner is contender #2, chosen because it is cheaper
    head_to_head: HeadToHead | None = None  # the head-to-head the rule read, as #1 minus #2

    @property
    def winning_row(self) -> LeaderboardRow | None:
        return next((row for row in self.rows if row.winner), None)


def _negated(value: float | None) -> float | None:
    return None if value is None else -value


def _rank_key(result: CandidateResult) -> tuple[int, float, float, float, int]:
    comparison = result.versus_base
    if result.status == "failed":
        return (2, 0.0, 0.0, 0.0, result.candidate.index)
    if comparison is None or comparison.mean_delta is None:
        return (1, 0.0, 0.0, 0.0, result.candidate.index)
    ci_low = comparison.ci_low if comparison.ci_low is not None else -math.inf
    cost = result.estimated_cost_usd if result.estimated_cost_usd is not None else math.inf
    return (0, -comparison.mean_delta, -ci_low, cost, result.candidate.index)


def ranked(results: Sequence[CandidateResult]) -> list[CandidateResult]:
    """The results in leaderboard order (the ranking rule in the module docstring)."""
    return sorted(results, key=_rank_key)


def contenders(results: Sequence[CandidateResult]) -> tuple[Candidate, Candidate] | None:
    """#1 and #2 among the improved candidates: the head-to-head the winner rule reads is #1 minus #2 on the same
    questions. None when fewer than two candidates improved (no head-to-head is needed)."""
    improved = [result for result in ranked(results) if result.improved]
    if len(improved) < 2:
        return None
    return improved[0].candidate, improved[1].candidate


def _interval(metric: str, comparison: PrimaryComparison) -> str:
    words = [comparison.outcome.replace("_", " ")]
    if comparison.mean_delta is not None:
        delta = format_delta(metric, comparison.mean_delta)
        if comparison.ci_low is not None and comparison.ci_high is not None:
            delta += f" [95% CI {format_delta(metric, comparison.ci_low)}, {format_delta(metric, comparison.ci_high)}]"
        words.append(delta)
    if comparison.n is not None:
        words.append(f"n={comparison.n}")
    return ", ".join(words)


def _summary(metric: str, result: CandidateResult) -> str:
    """``c02 (epochCount=2): improved, +1.3 [95% CI +0.6, +2.0], n=40`` or ``c03 (...): failed: <why>``."""
    name = f"{result.candidate.id} ({result.candidate.label})"
    if result.status == "failed":
        return f"{name} failed: {result.failure_reason}"
    if result.versus_base is None:
        return f"{name} was not compared with the base model"
    return f"{name}: {_interval(metric, result.versus_base)}"


def _wins(result: CandidateResult) -> str:
    return f"{result.candidate.id} ({result.candidate.label}) wins"


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def _matching(head_to_head: HeadToHead | None, first: Candidate, second: Candidate) -> HeadToHead | None:
    if head_to_head is None:
        return None
    if (head_to_head.first, head_to_head.second) == (first.id, second.id):
        return head_to_head
    if (head_to_head.first, head_to_head.second) == (second.id, first.id):
        return head_to_head.flipped()
    raise ValueError(
        f"the head-to-head compares {head_to_head.first} with {head_to_head.second}, but the contenders are "
        f"{first.id} and {second.id} (see contenders())"
    )


def _versus_base(result: CandidateResult) -> PrimaryComparison:
    if result.versus_base is None:
        raise ValueError(f"candidate {result.candidate.id} was not compared with the base model")
    return result.versus_base


def _overlap(first: PrimaryComparison, second: PrimaryComparison) -> bool:
    """Whether #1's interval against the base model reaches down to #2's; an unknown bound cannot separate them."""
    if first.ci_low is None or second.ci_high is None:
        return True
    return first.ci_low <= second.ci_high


def _primary_metric(results: Sequence[CandidateResult]) -> str | None:
    metrics = {result.versus_base.primary_metric for result in results if result.versus_base is not None}
    if len(metrics) > 1:
        raise ValueError(f"candidates were compared on different primary metrics: {', '.join(sorted(metrics))}")
    return next(iter(metrics), None)


def _row(rank: int, result: CandidateResult, winner: str | None) -> LeaderboardRow:
    comparison = result.versus_base
    return LeaderboardRow(
        rank=rank,
        candidate=result.candidate,
        status=result.status,
        failure_reason=result.failure_reason,
        outcome=comparison.outcome if comparison is not None else None,
        n=comparison.n if comparison is not None else None,
        mean_delta=comparison.mean_delta if comparison is not None else None,
        ci_low=comparison.ci_low if comparison is not None else None,
        ci_high=comparison.ci_high if comparison is not None else None,
        estimated_cost_usd=result.estimated_cost_usd,
        final_training_loss=result.final_training_loss,
        final_validation_loss=result.final_validation_loss,
        winner=result.candidate.id == winner,
    )


def leaderboard(results: Sequence[CandidateResult], *, head_to_head: HeadToHead | None = None) -> Leaderboard:
    """The ranked rows and the winner by the rule in this module's docstring.

    ``head_to_head``, when given, must compare the two ``contenders`` (in either order); a head-to-head of any other
    pair is a caller's mistake and raises ``ValueError``, as do two results for one candidate.
    """
    ids = [result.candidate.id for result in results]
    repeated = sorted({candidate for candidate in ids if ids.count(candidate) > 1})
    if repeated:
        raise ValueError(f"more than one result for candidate {', '.join(repeated)}")
    metric = _primary_metric(results)
    order = ranked(results)
    improved = [result for result in order if result.improved]

    def board(
        winner: CandidateResult | None,
        reason: str,
        *,
        used: HeadToHead | None = None,
        indistinguishable: bool = False,
        cheaper_preferred: bool = False,
    ) -> Leaderboard:
        winner_id = winner.candidate.id if winner is not None else None
        return Leaderboard(
            primary_metric=metric,
            rows=[_row(rank, result, winner_id) for rank, result in enumerate(order, start=1)],
            winner=winner_id,
            reason=reason,
            indistinguishable=indistinguishable,
            cheaper_preferred=cheaper_preferred,
            head_to_head=used,
        )

    if not results:
        if head_to_head is not None:
            raise ValueError("a head-to-head was given, but no candidate has a result")
        return board(None, "no candidate ran, so the sweep has no winner")
    if metric is None or not improved:
        if head_to_head is not None:
            raise ValueError("a head-to-head was given, but no two candidates improved on the base model")
        figures = "; ".join(_summary(metric or "", result) for result in order)
        return board(None, f"no candidate improved on the base model, so the sweep has no winner ({figures})")
    best = improved[0]
    if len(improved) == 1:
        if head_to_head is not None:
            raise ValueError("a head-to-head was given, but only one candidate improved on the base model")
        figures = _interval(metric, _versus_base(best))
        return board(best, f"{_wins(best)}: the only candidate that improved on the base model ({figures})")

    runner = improved[1]
    used = _matching(head_to_head, best.candidate, runner.candidate)
    first, second = best.candidate.id, runner.candidate.id
    if used is not None and used.comparison.outcome == Outcome.IMPROVED:
        figures = _interval(metric, used.comparison)
        return board(best, f"{_wins(best)}: clearly better than {second} head to head ({figures})", used=used)
    if used is not None and used.comparison.outcome == Outcome.REGRESSED:
        figures = _interval(metric, used.flipped().comparison)
        reason = (
            f"{_wins(runner)}: second against the base model, but clearly better than {first} head to head ({figures})"
        )
        return board(runner, reason, used=used)

    if used is not None and used.comparison.outcome == Outcome.NO_CLEAR_DIFFERENCE:
        why = f"{first} and {second} are indistinguishable head to head ({_interval(metric, used.comparison)})"
    else:
        best_vs_base, runner_vs_base = _versus_base(best), _versus_base(runner)
        prefix = ""
        if used is not None:
            prefix = f"the head-to-head was inconclusive ({_interval(metric, used.comparison)}), so by the intervals: "
        intervals = f"{first}: {_interval(metric, best_vs_base)}; {second}: {_interval(metric, runner_vs_base)}"
        if not _overlap(best_vs_base, runner_vs_base):
            reason = (
                f"{_wins(best)}: {prefix}clearly ahead of {second}, its interval against the base model above "
                f"{second}'s ({intervals})"
            )
            return board(best, reason, used=used)
        why = (
            f"{prefix}{first} and {second} are indistinguishable: their intervals against the base model overlap "
            f"({intervals})"
        )

    costs = f"{_usd(runner.estimated_cost_usd)} against {_usd(best.estimated_cost_usd)}"
    if (
        runner.estimated_cost_usd is not None
        and best.estimated_cost_usd is not None
        and runner.estimated_cost_usd < best.estimated_cost_usd
    ):
        reason = f"{_wins(runner)}: {why}; {second} is cheaper ({costs}), so it is preferred"
        return board(runner, reason, used=used, indistinguishable=True, cheaper_preferred=True)
    if runner.estimated_cost_usd is None or best.estimated_cost_usd is None:
        tail = "their costs are not known, so the higher mean wins"
    else:
        tail = f"{second} is not cheaper ({costs}), so the higher mean wins"
    return board(best, f"{_wins(best)}: {why}; {tail}", used=used, indistinguishable=True)
