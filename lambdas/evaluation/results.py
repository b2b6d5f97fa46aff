"""The evaluation's documents: answers as generated, scores per item, and the whole result written to S3.

Pydantic only: the report function (a zip Lambda) reads these without torch or langchain.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from lambdas.contracts import ScoreSummary


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelRole(StrEnum):
    """Which of the two compared models produced an answer."""

    BASE = "base"
    FINE_TUNED = "fine_tuned"

    @property
    def label(self) -> str:
        return "base" if self is ModelRole.BASE else "fine-tuned"


def question_fingerprint(question: str, system: str | None) -> str:
    """Identifies what was asked, so a saved answer is reused only for the very same question."""
    digest = hashlib.sha256()
    digest.update((system or "").encode())
    digest.update(b"\x00")
    digest.update(question.encode())
    return digest.hexdigest()[:16]


class GeneratedAnswer(_Model):
    """One model's answer to one test question, saved to S3 the moment it exists."""

    index: int  # position in the (capped) test split, 0-based
    role: ModelRole
    model_id: str
    fingerprint: str
    text: str | None = None  # None when the model could not answer (``error`` says why)
    error: str | None = None
    attempts: int = 1
    latency_ms: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    generated_at: datetime


class BertScoreValue(_Model):
    precision: float
    recall: float
    f1: float


class JudgeVerdict(_Model):
    """The judge's correctness rating (1-10) with its reasoning; ``score`` is None when no valid rating came back."""

    score: int | None
    reasoning: str
    attempts: int
    error: str | None = None  # why the item is unscored (the last raw reply is kept in ``reasoning``)


class ScoredAnswer(_Model):
    answer: str | None
    error: str | None = None
    bertscore: BertScoreValue | None = None
    judge: JudgeVerdict | None = None


class EvaluatedItem(_Model):
    index: int
    question: str
    reference: str
    base: ScoredAnswer
    fine_tuned: ScoredAnswer

    def for_role(self, role: ModelRole) -> ScoredAnswer:
        return self.base if role is ModelRole.BASE else self.fine_tuned


class InferenceParameters(_Model):
    max_tokens: int
    temperature: float
    top_p: float


class EvaluationResult(_Model):
    """``runs/<run-id>/evaluation.json``: every item with both answers and all scores."""

    run_id: str
    base_model_id: str
    fine_tuned_model_id: str
    bertscore_model: str
    bertscore_num_layers: int
    judge_model_id: str | None
    inference: InferenceParameters
    items: list[EvaluatedItem]
    base: ScoreSummary
    fine_tuned: ScoreSummary
    evaluated_at: datetime


def summarize(items: list[EvaluatedItem], role: ModelRole) -> ScoreSummary:
    """Means over the items that have the score in question (unscored items are counted, not averaged as zero)."""
    answers = [item.for_role(role) for item in items]
    bert = [answer.bertscore for answer in answers if answer.bertscore is not None]
    judged = [answer.judge.score for answer in answers if answer.judge is not None and answer.judge.score is not None]
    return ScoreSummary(
        items=len(items),
        scored_items=sum(1 for answer in answers if answer.bertscore is not None or _judged(answer)),
        bertscore_precision=_mean([value.precision for value in bert]),
        bertscore_recall=_mean([value.recall for value in bert]),
        bertscore_f1=_mean([value.f1 for value in bert]),
        judge_mean=_mean([float(score) for score in judged]),
    )


def _judged(answer: ScoredAnswer) -> bool:
    return answer.judge is not None and answer.judge.score is not None


def _mean(values: list[float]) -> float | None:
    return fmean(values) if values else None
