"""The leaderboard: ranking on the primary metric, failed candidates last, and the winner rule."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lambdas.contracts import PrimaryComparison
from lambdas.registry import get_model
from lambdas.sweep.candidates import Candidate, SweepSettings, candidates
from lambdas.sweep.leaderboard import CandidateResult, HeadToHead, Leaderboard, contenders, leaderboard, ranked

NOVA = get_model("amazon.nova-lite-v1:0:300k")
C1, C2, C3, C4 = candidates(
    SweepSettings(hyperparameters={"epochCount": [1, 2, 3, 5]}), NOVA.default_hyperparameters(), NOVA
)


def versus(outcome: str, mean: float | None, low: float | None = None, high: float | None = None) -> PrimaryComparison:
    return PrimaryComparison(
        outcome=outcome, primary_metric="judge_correctness", n=40, mean_delta=mean, ci_low=low, ci_high=high
    )


def ok(candidate: Candidate, comparison: PrimaryComparison, cost: float | None = None) -> CandidateResult:
    return CandidateResult(candidate=candidate, status="succeeded", versus_base=comparison, estimated_cost_usd=cost)


def failed(candidate: Candidate, reason: str) -> CandidateResult:
    return CandidateResult(candidate=candidate, status="failed", failure_reason=reason)


def h2h(first: Candidate, second: Candidate, outcome: str, mean: float, low: float, high: float) -> HeadToHead:
    return HeadToHead(first=first.id, second=second.id, comparison=versus(outcome, mean, low, high))


# ------------------------------------------------------------------------------------------------- ranking
def test_rows_are_ranked_by_mean_delta_with_failed_candidates_last_with_their_reason() -> None:
    # Given four candidates: one failed, one not scored, two compared
    board = leaderboard(
        [
            failed(C1, "StartCustomizationJob: ServiceQuotaExceededException"),
            ok(C2, versus("no_clear_difference", 0.2, -0.3, 0.7)),
            ok(C3, versus("inconclusive", None)),
            ok(C4, versus("improved", 1.1, 0.5, 1.7), cost=3.0),
        ]
    )
    # Then the compared ones lead by mean delta, the unscored one follows, the failed one is last with its reason
    assert [(row.rank, row.candidate.id) for row in board.rows] == [(1, "c04"), (2, "c02"), (3, "c03"), (4, "c01")]
    last = board.rows[-1]
    assert (last.status, last.failure_reason, last.outcome) == (
        "failed",
        "StartCustomizationJob: ServiceQuotaExceededException",
        None,
    )
    top = board.rows[0]
    assert (top.outcome, top.mean_delta, top.ci_low, top.ci_high, top.n, top.estimated_cost_usd) == (
        "improved",
        1.1,
        0.5,
        1.7,
        40,
        3.0,
    )
    assert board.primary_metric == "judge_correctness"


def test_equal_means_rank_by_the_lower_bound_then_the_cheaper() -> None:
    results = [
        ok(C1, versus("improved", 1.0, 0.2, 1.8), cost=1.0),
        ok(C2, versus("improved", 1.0, 0.4, 1.6), cost=5.0),
        ok(C3, versus("improved", 1.0, 0.4, 1.6), cost=2.0),
    ]
    assert [result.candidate.id for result in ranked(results)] == ["c03", "c02", "c01"]


def test_rows_carry_the_losses_for_the_report() -> None:
    result = ok(C1, versus("improved", 1.0, 0.5, 1.5)).model_copy(
        update={"final_training_loss": 0.19, "final_validation_loss": 1.43}
    )
    (row,) = leaderboard([result]).rows
    assert (row.final_training_loss, row.final_validation_loss, row.winner) == (0.19, 1.43, True)


# --------------------------------------------------------------------------------------------------- winner
def test_no_candidate_improved_means_no_winner_and_the_reason_says_so() -> None:
    board = leaderboard(
        [
            ok(C1, versus("no_clear_difference", 0.3, -0.2, 0.8)),
            ok(C2, versus("regressed", -1.2, -1.8, -0.6)),
            failed(C3, "PollCustomizationJob: the job failed: internal error"),
        ]
    )
    assert board.winner is None
    assert board.winning_row is None
    assert not any(row.winner for row in board.rows)
    assert board.reason.startswith("no candidate improved on the base model, so the sweep has no winner (")
    assert "c01 (epochCount=1): no clear difference, +0.3 [95% CI -0.2, +0.8], n=40" in board.reason
    assert "c02 (epochCount=2): regressed, -1.2 [95% CI -1.8, -0.6], n=40" in board.reason
    assert "c03 (epochCount=3) failed: PollCustomizationJob: the job failed: internal error" in board.reason


def test_a_higher_mean_that_did_not_improve_does_not_win() -> None:
    # Given the best mean delta with an interval including zero, and a smaller but clear gain
    board = leaderboard(
        [ok(C1, versus("no_clear_difference", 1.5, -0.1, 3.1)), ok(C2, versus("improved", 0.9, 0.4, 1.4))]
    )
    # Then the improved one wins, though it ranks second
    assert [row.candidate.id for row in board.rows] == ["c01", "c02"]
    assert board.winner == "c02"
    assert board.reason == (
        "c02 (epochCount=2) wins: the only candidate that improved on the base model "
        "(improved, +0.9 [95% CI +0.4, +1.4], n=40)"
    )


def test_two_improved_with_separate_intervals_the_best_wins() -> None:
    board = leaderboard(
        [ok(C1, versus("improved", 0.8, 0.3, 1.2), cost=1.0), ok(C2, versus("improved", 2.0, 1.5, 2.5), cost=4.0)]
    )
    assert board.winner == "c02"
    assert not board.indistinguishable
    assert not board.cheaper_preferred
    assert board.reason.startswith("c02 (epochCount=2) wins: clearly ahead of c01, its interval against the base model")


def test_indistinguishable_by_overlapping_intervals_the_cheaper_wins_and_the_reason_says_so() -> None:
    # Given 5 epochs ahead on the mean but not clearly, and 2 epochs cheaper
    board = leaderboard(
        [ok(C4, versus("improved", 1.4, 0.8, 2.0), cost=5.0), ok(C2, versus("improved", 1.2, 0.6, 1.8), cost=2.0)]
    )
    assert board.winner == "c02"
    assert board.indistinguishable
    assert board.cheaper_preferred
    assert board.head_to_head is None
    assert board.reason == (
        "c02 (epochCount=2) wins: c04 and c02 are indistinguishable: their intervals against the base model overlap "
        "(c04: improved, +1.4 [95% CI +0.8, +2.0], n=40; c02: improved, +1.2 [95% CI +0.6, +1.8], n=40); "
        "c02 is cheaper ($2.00 against $5.00), so it is preferred"
    )
    assert [row.candidate.id for row in board.rows if row.winner] == ["c02"]


def test_indistinguishable_and_not_cheaper_the_higher_mean_keeps_it() -> None:
    board = leaderboard(
        [ok(C1, versus("improved", 1.4, 0.8, 2.0), cost=1.0), ok(C2, versus("improved", 1.2, 0.6, 1.8), cost=1.0)]
    )
    assert (board.winner, board.indistinguishable, board.cheaper_preferred) == ("c01", True, False)
    assert board.reason.endswith("c02 is not cheaper ($1.00 against $1.00), so the higher mean wins")


def test_indistinguishable_with_unknown_costs_the_higher_mean_keeps_it() -> None:
    board = leaderboard([ok(C1, versus("improved", 1.4, 0.8, 2.0)), ok(C2, versus("improved", 1.2, 0.6, 1.8), 1.0)])
    assert board.winner == "c01"
    assert board.reason.endswith("their costs are not known, so the higher mean wins")


def test_only_the_top_two_are_weighed() -> None:
    # Given a third improved candidate, cheapest of all, indistinguishable too
    board = leaderboard(
        [
            ok(C3, versus("improved", 1.4, 0.8, 2.0), cost=4.0),
            ok(C2, versus("improved", 1.3, 0.7, 1.9), cost=3.0),
            ok(C1, versus("improved", 1.2, 0.6, 1.8), cost=1.0),
        ]
    )
    assert board.winner == "c02"


# ------------------------------------------------------------------------------------------- head to head
RESULTS = [ok(C4, versus("improved", 1.4, 0.8, 2.0), cost=5.0), ok(C2, versus("improved", 1.2, 0.6, 1.8), cost=2.0)]


def test_contenders_are_the_top_two_improved() -> None:
    results = [*RESULTS, ok(C1, versus("no_clear_difference", 2.0, -0.5, 4.5)), failed(C3, "x")]
    assert contenders(results) == (C4, C2)
    assert contenders(results[:1]) is None


def test_a_clear_head_to_head_win_beats_the_cheaper_runner_up() -> None:
    board = leaderboard(RESULTS, head_to_head=h2h(C4, C2, "improved", 0.5, 0.1, 0.9))
    assert (board.winner, board.indistinguishable, board.cheaper_preferred) == ("c04", False, False)
    assert board.reason == (
        "c04 (epochCount=5) wins: clearly better than c02 head to head (improved, +0.5 [95% CI +0.1, +0.9], n=40)"
    )
    assert board.head_to_head is not None
    assert board.head_to_head.first == "c04"


def test_a_head_to_head_given_the_other_way_round_is_read_the_right_way() -> None:
    # c02 minus c04 regressed: c04 is clearly better
    board = leaderboard(RESULTS, head_to_head=h2h(C2, C4, "regressed", -0.5, -0.9, -0.1))
    assert board.winner == "c04"
    assert board.head_to_head is not None
    assert (board.head_to_head.first, board.head_to_head.comparison.outcome) == ("c04", "improved")
    assert (board.head_to_head.comparison.ci_low, board.head_to_head.comparison.ci_high) == (0.1, 0.9)


def test_the_runner_up_clearly_better_head_to_head_wins() -> None:
    board = leaderboard(RESULTS, head_to_head=h2h(C4, C2, "regressed", -0.4, -0.7, -0.1))
    assert board.winner == "c02"
    assert board.reason == (
        "c02 (epochCount=2) wins: second against the base model, but clearly better than c04 head to head "
        "(improved, +0.4 [95% CI +0.1, +0.7], n=40)"
    )


def test_no_clear_difference_head_to_head_is_a_tie_even_with_separate_intervals() -> None:
    results = [ok(C4, versus("improved", 2.0, 1.5, 2.5), cost=5.0), ok(C2, versus("improved", 0.9, 0.4, 1.4), cost=2.0)]
    board = leaderboard(results, head_to_head=h2h(C4, C2, "no_clear_difference", 0.3, -0.2, 0.8))
    assert (board.winner, board.indistinguishable, board.cheaper_preferred) == ("c02", True, True)
    assert board.reason.startswith(
        "c02 (epochCount=2) wins: c04 and c02 are indistinguishable head to head "
        "(no clear difference, +0.3 [95% CI -0.2, +0.8], n=40); c02 is cheaper"
    )


def test_an_inconclusive_head_to_head_falls_back_to_the_intervals() -> None:
    board = leaderboard(RESULTS, head_to_head=h2h(C4, C2, "inconclusive", 0.1, -2.0, 2.2))
    assert (board.winner, board.cheaper_preferred) == ("c02", True)
    assert "the head-to-head was inconclusive (inconclusive, +0.1 [95% CI -2.0, +2.2], n=40), so by the intervals" in (
        board.reason
    )


@pytest.mark.parametrize(
    ("results", "head_to_head", "message"),
    [
        (RESULTS, HeadToHead(first="c01", second="c02", comparison=versus("improved", 1, 0.5, 1.5)), "contenders are"),
        (RESULTS[:1], HeadToHead(first="c04", second="c02", comparison=versus("improved", 1, 0.5, 1.5)), "only one"),
        ([], HeadToHead(first="c04", second="c02", comparison=versus("improved", 1, 0.5, 1.5)), "no candidate"),
        ([*RESULTS, RESULTS[0]], None, "more than one result for candidate c04"),
        (
            [
                RESULTS[0],
                ok(C2, PrimaryComparison(outcome="improved", primary_metric="bertscore_f1", mean_delta=0.1)),
            ],
            None,
            "different primary metrics: bertscore_f1, judge_correctness",
        ),
    ],
)
def test_a_callers_mistake_is_an_error(
    results: list[CandidateResult], head_to_head: HeadToHead | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        leaderboard(results, head_to_head=head_to_head)


def test_a_failed_candidate_must_say_why() -> None:
    with pytest.raises(ValidationError, match="candidate c01 failed: say why"):
        CandidateResult(candidate=C1, status="failed")


def test_no_candidate_at_all() -> None:
    board = leaderboard([])
    assert (board.winner, board.rows, board.reason) == (None, [], "no candidate ran, so the sweep has no winner")


def test_the_leaderboard_round_trips_through_json() -> None:
    board = leaderboard(RESULTS, head_to_head=h2h(C4, C2, "no_clear_difference", 0.3, -0.2, 0.8))
    assert Leaderboard.model_validate_json(board.model_dump_json()) == board
