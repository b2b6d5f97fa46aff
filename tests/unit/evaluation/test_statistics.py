"""Paired statistics: bootstrap interval, exact sign test and the per-metric summary, against hand-computed cases."""

from __future__ import annotations

import math
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lambdas.evaluation.statistics as statistics_module
from lambdas.evaluation.statistics import bootstrap_mean_ci, paired_statistics, sign_test_p_value

REPO_ROOT = Path(__file__).resolve().parents[3]


def _normal(count: int, mean: float, sd: float, *, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(count)]


def test_constant_deltas_give_a_point_interval():
    # Given deltas that are all the same, When bootstrapped, Then every resample mean is that value
    assert bootstrap_mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)


def test_a_single_delta_is_its_own_interval():
    assert bootstrap_mean_ci([0.25]) == (0.25, 0.25)


def test_two_point_sample_has_the_hand_computed_percentiles():
    # Given deltas [0, 1], resample means are 0, 0.5, 1 with probabilities 1/4, 1/2, 1/4
    # When the 95% interval is taken, Then its ends are the extremes (2.5% and 97.5% fall inside the outer quarters)
    assert bootstrap_mean_ci([0.0, 1.0], seed=7) == (0.0, 1.0)
    # And a 40% interval (30th to 70th percentile) lies wholly in the middle half: both ends are 0.5
    assert bootstrap_mean_ci([0.0, 1.0], confidence=0.4, seed=7) == (0.5, 0.5)


def test_the_same_seed_gives_the_same_interval_and_another_seed_may_not():
    deltas = _normal(50, 0.2, 1.0, seed=3)
    assert bootstrap_mean_ci(deltas, seed=11) == bootstrap_mean_ci(deltas, seed=11)
    assert bootstrap_mean_ci(deltas, seed=11) != bootstrap_mean_ci(deltas, seed=12)


def test_chunking_does_not_change_the_interval(monkeypatch):
    # Given a sample, When the resamples are drawn in chunks of 7 rows instead of all at once
    deltas = _normal(40, 0.0, 1.0, seed=5)
    whole = bootstrap_mean_ci(deltas, resamples=2_000, seed=1)
    monkeypatch.setattr(statistics_module, "_BOOTSTRAP_CHUNK_ELEMENTS", 7 * len(deltas))
    # Then the random stream, hence the interval, is the same
    assert bootstrap_mean_ci(deltas, resamples=2_000, seed=1) == whole


def test_five_thousand_questions_are_bootstrapped_in_bounded_memory():
    # Given 5,000 deltas (10,000 x 5,000 indices at once would be 400 MB), When bootstrapped with the defaults
    deltas = _normal(5_000, 0.1, 1.0, seed=9)
    low, high = bootstrap_mean_ci(deltas)
    # Then the interval surrounds the mean and is about +-1.96 standard errors wide
    mean = math.fsum(deltas) / len(deltas)
    assert low < mean < high
    assert high - low == pytest.approx(2 * 1.96 / math.sqrt(5_000), rel=0.1)


@pytest.mark.parametrize(
    ("wins", "losses", "expected"),
    [
        (5, 0, 2 / 32),  # 2 * P(X <= 0), X ~ Bin(5, 1/2)
        (3, 1, 2 * (1 + 4) / 16),  # 2 * P(X <= 1), X ~ Bin(4, 1/2)
        (0, 0, 1.0),  # nothing but ties: no evidence either way
        (1, 1, 1.0),  # 2 * 3/4 capped at 1
        (9, 1, 2 * (1 + 10) / 1024),
    ],
)
def test_sign_test_matches_hand_computation(wins, losses, expected):
    assert sign_test_p_value(wins, losses) == pytest.approx(expected, rel=1e-12)


def test_sign_test_is_symmetric():
    assert sign_test_p_value(12, 3) == sign_test_p_value(3, 12)


def test_sign_test_is_exact_for_thousands_of_questions():
    # Given 2,000 and 10,000 decided questions (2**n overflows a float), When tested
    p_2000 = sign_test_p_value(950, 1_050)
    p_10000 = sign_test_p_value(4_900, 5_100)
    # Then the p-values are finite probabilities, and agree with the normal approximation to a few percent
    assert 0 < p_2000 <= 1
    assert p_10000 == pytest.approx(math.erfc((5_000 - 4_900.5) / 50 / math.sqrt(2)), rel=0.05)


def test_sign_test_refuses_negative_counts():
    with pytest.raises(ValueError, match="negative"):
        sign_test_p_value(-1, 2)


def test_paired_statistics_counts_wins_ties_losses_and_coverage():
    # Given six questions asked, one unscored and one delta that is zero up to BERTScore's float noise
    stats = paired_statistics(
        "judge_correctness", [2.0, 1.0, 0.0, None, -1.0, 1e-12], asked=6, first_error="ThrottlingException"
    )
    # Then the unscored one is out of n, and the near-zero delta is a tie
    assert (stats.n, stats.asked) == (5, 6)
    assert stats.coverage == pytest.approx(5 / 6)
    assert (stats.wins, stats.ties, stats.losses) == (2, 2, 1)
    assert stats.mean_delta == pytest.approx(0.4)
    assert stats.sd_delta == pytest.approx(math.sqrt(sum((d - 0.4) ** 2 for d in [2, 1, 0, -1, 0]) / 4))
    assert stats.p_value == 1.0  # 2 wins, 1 loss: 2 * P(X <= 1) with X ~ Bin(3, 1/2) = 2 * 4/8
    assert stats.ci_low is not None
    assert stats.ci_high is not None
    assert stats.ci_low <= stats.mean_delta <= stats.ci_high
    # And the first error is kept because coverage is short
    assert stats.first_error == "ThrottlingException"


def test_first_error_is_dropped_when_every_question_was_scored():
    stats = paired_statistics("judge_correctness", [1.0, 2.0], asked=2, first_error="a retried reply")
    assert stats.coverage == 1.0
    assert stats.first_error is None


def test_one_scored_question_has_no_spread():
    stats = paired_statistics("bertscore_f1", [0.03, None], asked=2)
    assert (stats.n, stats.ci_low, stats.ci_high, stats.sd_delta) == (1, 0.03, 0.03, None)


@pytest.mark.parametrize("asked", [3, 0])
def test_nothing_scored_leaves_every_statistic_empty(asked):
    # Given a judge outage (every delta None) or nothing asked
    stats = paired_statistics("judge_correctness", [None] * asked, asked=asked, first_error="AccessDenied")
    # Then there are no figures to report, only the counts and why
    assert (stats.n, stats.coverage, stats.wins, stats.ties, stats.losses) == (0, 0.0, 0, 0, 0)
    assert (stats.mean_delta, stats.ci_low, stats.ci_high, stats.p_value, stats.sd_delta) == (None,) * 5
    assert stats.first_error == "AccessDenied"


def test_the_verdict_and_statistics_modules_import_without_numpy():
    # The report Lambda is a zip without numpy: importing these must not pull it in (only the bootstrap needs it)
    code = (
        "import sys; import lambdas.evaluation.statistics, lambdas.evaluation.verdict; "
        "assert 'numpy' not in sys.modules, 'numpy imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    assert result.returncode == 0, result.stderr


def test_a_constant_sample_is_answered_exactly_without_the_means_rounding_error():
    # Given three deltas of 0.1 (whose float mean is 0.10000000000000002), When bootstrapped, Then exactly 0.1
    assert bootstrap_mean_ci([0.1, 0.1, 0.1]) == (0.1, 0.1)


def test_the_defaults_are_ten_thousand_resamples_from_seed_0():
    # The report records an interval; the same deltas must give it again, years later, from the defaults alone
    deltas = _normal(30, 0.2, 1.0, seed=4)
    assert bootstrap_mean_ci(deltas) == bootstrap_mean_ci(deltas, resamples=10_000, seed=0)
    stats = paired_statistics("judge_correctness", deltas, asked=30)
    assert (stats.ci_low, stats.ci_high) == bootstrap_mean_ci(deltas, resamples=10_000, seed=0)


def test_paired_statistics_bootstraps_with_the_resamples_and_seed_it_is_given():
    deltas = _normal(30, 0.2, 1.0, seed=4)
    stats = paired_statistics("judge_correctness", [*deltas, None], asked=31, resamples=500, seed=3)
    assert (stats.ci_low, stats.ci_high) == bootstrap_mean_ci(deltas, resamples=500, seed=3)


def test_a_single_resample_is_allowed_and_is_its_own_interval():
    low, high = bootstrap_mean_ci([0.0, 1.0], resamples=1, seed=2)
    assert low == high
    assert low in (0.0, 0.5, 1.0)


class _CountingGenerator:
    """Wraps numpy's generator to record the shape of every draw of resample indices."""

    def __init__(self, generator, shapes):
        self._generator = generator
        self._shapes = shapes

    def integers(self, *args, **kwargs):
        self._shapes.append(kwargs["size"])
        return self._generator.integers(*args, **kwargs)


@pytest.mark.parametrize(
    ("chunk_elements", "questions", "rows_per_draw"),
    [(7 * 40, 40, 7), (10, 40, 1)],
    ids=["whole-rows-per-chunk", "a-row-larger-than-a-chunk"],
)
def test_every_resample_is_drawn_once_in_chunks_that_bound_memory(
    monkeypatch, chunk_elements, questions, rows_per_draw
):
    # Given a chunk size, When 100 resamples of the questions are drawn
    import numpy as np

    shapes: list[tuple[int, int]] = []
    real_default_rng = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda seed: _CountingGenerator(real_default_rng(seed), shapes))
    monkeypatch.setattr(statistics_module, "_BOOTSTRAP_CHUNK_ELEMENTS", chunk_elements)
    bootstrap_mean_ci(_normal(questions, 0.0, 1.0, seed=5), resamples=100, seed=1)
    # Then each draw holds at most a chunk (or one resample, when one alone is larger), and together exactly 100
    assert sum(rows for rows, _ in shapes) == 100
    assert {columns for _, columns in shapes} == {questions}
    assert max(rows for rows, _ in shapes) == rows_per_draw


@pytest.mark.parametrize(
    ("deltas", "options", "message"),
    [
        ([], {}, "cannot bootstrap an empty sample"),
        ([1.0, math.nan], {}, "deltas must be finite numbers"),
        ([1.0, math.inf], {}, "deltas must be finite numbers"),
        ([1.0, 2.0], {"resamples": 0}, "resamples must be at least 1, not 0"),
        ([1.0, 2.0], {"confidence": 0.0}, "confidence must be between 0 and 1, not 0.0"),
        ([1.0, 2.0], {"confidence": 1.0}, "confidence must be between 0 and 1, not 1.0"),
    ],
    ids=["empty", "nan", "infinite", "no-resamples", "confidence-0", "confidence-1"],
)
def test_bootstrap_refusals_say_what_is_wrong(deltas, options, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        bootstrap_mean_ci(deltas, **options)


def test_a_delta_of_exactly_the_tie_tolerance_is_decided():
    # Given deltas at +-1e-9 (the tolerance itself) and one just inside it
    stats = paired_statistics("bertscore_f1", [1e-9, -1e-9, 5e-10], asked=3)
    # Then the first is a win, the second a loss, and only the third a tie
    assert (stats.wins, stats.ties, stats.losses) == (1, 1, 1)


def test_two_scored_questions_have_a_spread():
    stats = paired_statistics("judge_correctness", [1.0, 3.0, None], asked=3)
    assert stats.sd_delta == pytest.approx(math.sqrt(2))
