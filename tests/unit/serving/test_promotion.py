"""The eligibility rule (challenger vs base, and vs the champion) and what each promotion policy does with it."""

from __future__ import annotations

import pytest

from lambdas.evaluation.verdict import MetricStatistics, Outcome
from lambdas.evaluation.verdict import decide as verdict_of
from lambdas.serving.promotion import Comparison, Eligibility, Policy, decide, eligibility

IMPROVED = Comparison(outcome=Outcome.IMPROVED, primary_metric="judge_correctness", n=40, mean_delta=1.3)


def vs(outcome: str, mean_delta: float | None = 0.0, n: int = 40) -> Comparison:
    return Comparison(outcome=outcome, primary_metric="judge_correctness", n=n, mean_delta=mean_delta)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("vs_base", "vs_champion", "has_champion", "eligible", "reason"),
    [
        # the base-model bar comes first, champion or not
        (
            vs("no_clear_difference", 0.2),
            None,
            False,
            False,
            "not improved against the base model (no clear difference, +0.2 on judge_correctness, n=40)",
        ),
        (vs("regressed", -1.0), vs("improved", 1.0), True, False, "not improved against the base model (regressed"),
        (vs("inconclusive", None, 8), None, False, False, "not improved against the base model (inconclusive, n=8)"),
        # no champion yet: improved is enough
        (IMPROVED, None, False, True, "and there is no champion yet"),
        # a champion that was not compared on the same questions blocks promotion
        (IMPROVED, None, True, False, "not compared with the champion on the same questions"),
        (IMPROVED, vs("improved", 0.9), True, True, "better than the champion (improved, +0.9"),
        (IMPROVED, vs("regressed", -0.4), True, False, "worse than the champion (regressed, -0.4"),
        (
            IMPROVED,
            vs("inconclusive", None, 5),
            True,
            False,
            "comparison with the champion is inconclusive (inconclusive, n=5)",
        ),
        # a tie with the champion: the newer model wins only when its mean is at least the champion's
        (IMPROVED, vs("no_clear_difference", 0.0), True, True, "with a mean at least as high"),
        (
            IMPROVED,
            vs("no_clear_difference", 0.3),
            True,
            True,
            "with a mean at least as high (no clear difference, +0.3",
        ),
        (IMPROVED, vs("no_clear_difference", -0.1), True, False, "its mean is not at least the champion's"),
        (IMPROVED, vs("no_clear_difference", None), True, False, "its mean is not at least the champion's"),
    ],
)
def test_the_eligibility_rule(
    vs_base: Comparison, vs_champion: Comparison | None, has_champion: bool, eligible: bool, reason: str
) -> None:
    result = eligibility(vs_base, vs_champion, has_champion=has_champion)
    assert result.eligible is eligible
    assert reason in result.reason


@pytest.mark.parametrize(
    ("policy", "eligible", "decision"),
    [
        ("off", True, "skip"),
        ("off", False, "skip"),
        ("manual", True, "recommend"),
        ("manual", False, "skip"),
        ("auto", True, "promote"),
        ("auto", False, "skip"),
        (Policy.AUTO, True, "promote"),
    ],
)
def test_the_policy_decides_what_happens_to_an_eligible_challenger(policy: str, eligible: bool, decision: str) -> None:
    assert decide(policy, Eligibility(eligible=eligible, reason="r")) == decision


def test_an_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="'always'"):
        decide("always", Eligibility(eligible=True, reason="r"))


def test_a_comparison_reads_the_verdict_s_primary_metric() -> None:
    stats = MetricStatistics(
        name="judge_correctness",
        n=40,
        asked=40,
        coverage=1.0,
        mean_delta=1.3,
        ci_low=0.6,
        ci_high=2.0,
        wins=30,
        ties=5,
        losses=5,
        p_value=0.0001,
    )
    verdict = verdict_of([stats], primary_metric="judge_correctness", min_effect=0.5)
    comparison = Comparison.from_verdict(verdict)
    assert comparison == Comparison(outcome=Outcome.IMPROVED, primary_metric="judge_correctness", n=40, mean_delta=1.3)
    assert comparison.describe() == "improved, +1.3 on judge_correctness, n=40"
    unmeasured = Comparison.from_verdict(verdict_of([], primary_metric="judge_correctness", min_effect=0.5))
    assert (unmeasured.outcome, unmeasured.n, unmeasured.mean_delta) == (Outcome.INCONCLUSIVE, None, None)
