"""Paired statistics of one metric: fine-tuned minus base, question by question.

Both models answer the same questions, so each question is its own control: comparing per-question deltas removes
the spread between easy and hard questions that two separate means would carry. The interval is a percentile
bootstrap of the mean delta (no assumption about the shape of judge scores, which are whole numbers from 1 to 10)
and the p-value an exact sign test on wins and losses (ties left out), which holds for any distribution.

numpy is imported inside the bootstrap only: the report function (a zip Lambda without numpy) imports this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import fmean, stdev

from lambdas.evaluation.verdict import MetricStatistics

# |delta| below this is a tie: BERTScore's floats differ in the last bits for identical answers.
TIE_TOLERANCE = 1e-9

# Resampled indices drawn per chunk, so memory stays at a few MB whatever the number of questions.
_BOOTSTRAP_CHUNK_ELEMENTS = 1_000_000


def bootstrap_mean_ci(
    deltas: Sequence[float], *, resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile paired bootstrap interval of the mean of ``deltas``; the same seed gives the same interval."""
    if not deltas:
        raise ValueError("cannot bootstrap an empty sample")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    if not all(math.isfinite(delta) for delta in deltas):
        raise ValueError("deltas must be finite numbers")
    if all(delta == deltas[0] for delta in deltas):
        # Every resample is the sample itself; answer exactly rather than with the mean's rounding error.
        return float(deltas[0]), float(deltas[0])

    import numpy as np

    values = np.asarray(deltas, dtype=np.float64)
    size = values.size
    rng = np.random.default_rng(seed)
    means = np.empty(resamples, dtype=np.float64)
    rows = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // size)
    for start in range(0, resamples, rows):
        count = min(rows, resamples - start)
        means[start : start + count] = values[rng.integers(0, size, size=(count, size))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def sign_test_p_value(wins: int, losses: int) -> float:
    """Exact two-sided sign test: ``min(1, 2 * P(X <= min(wins, losses)))`` with ``X ~ Bin(wins + losses, 1/2)``."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins and losses must not be negative, not {wins} and {losses}")
    trials = wins + losses
    if trials == 0:
        return 1.0
    # Whole numbers throughout: 2**10_000 overflows a float, but Python divides big integers to the nearest float.
    term = 1  # comb(trials, 0), then comb(trials, k) by the recurrence
    tail = 0
    for k in range(min(wins, losses) + 1):
        tail += term
        term = term * (trials - k) // (k + 1)
    return min(1.0, tail / (1 << (trials - 1)))  # 2 * tail / 2**trials


def paired_statistics(
    name: str,
    deltas: Sequence[float | None],
    *,
    asked: int,
    resamples: int = 10_000,
    seed: int = 0,
    first_error: str | None = None,
) -> MetricStatistics:
    """The statistics of one metric; ``deltas`` has one entry per question asked, None where either model is unscored.

    ``first_error`` (why items are unscored) is kept only while some are: a complete set has nothing to explain.
    """
    scored = [delta for delta in deltas if delta is not None]
    n = len(scored)
    coverage = n / asked if asked else 0.0
    if n == 0:
        return MetricStatistics(
            name=name,
            n=0,
            asked=asked,
            coverage=coverage,
            mean_delta=None,
            ci_low=None,
            ci_high=None,
            wins=0,
            ties=0,
            losses=0,
            p_value=None,
            first_error=first_error,
        )
    wins = sum(1 for delta in scored if delta >= TIE_TOLERANCE)
    losses = sum(1 for delta in scored if delta <= -TIE_TOLERANCE)
    ci_low, ci_high = bootstrap_mean_ci(scored, resamples=resamples, seed=seed)
    return MetricStatistics(
        name=name,
        n=n,
        asked=asked,
        coverage=coverage,
        mean_delta=fmean(scored),
        ci_low=ci_low,
        ci_high=ci_high,
        wins=wins,
        ties=n - wins - losses,
        losses=losses,
        p_value=sign_test_p_value(wins, losses),
        sd_delta=stdev(scored) if n >= 2 else None,
        first_error=first_error if coverage < 1 else None,
    )
