"""The evaluation's documents: answers as generated, scores per item, and the whole result written to S3.

Pydantic only: the report function (a zip Lambda) reads these without torch or langchain.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from statistics import fmean

from pydantic import BaseModel, ConfigDict, Field

from lambdas.contracts import ScoreSummary
from lambdas.evaluation.verdict import Verdict


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelRole(StrEnum):
    """Which of the compared models produced an answer: the base model, the run's fine-tuned model (the challenger)
    and, when the stack has one serving on demand, the champion."""

    BASE = "base"
    FINE_TUNED = "fine_tuned"
    CHAMPION = "champion"

    @property
    def label(self) -> str:
        return self.value.replace("_", "-")


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
    # Converse's usage for this answer (None: not reported): what the report's cost estimate counts
    input_tokens: int | None = None
    output_tokens: int | None = None


class Preference(StrEnum):
    """Which answer the pairwise judge preferred, once both presentation orders are reconciled."""

    FINE_TUNED = "fine_tuned"
    BASE = "base"
    TIE = "tie"

    @property
    def delta(self) -> float:
        """The question's delta on the pairwise metric: +1 fine-tuned preferred, -1 base preferred, 0 a tie."""
        return {Preference.FINE_TUNED: 1.0, Preference.BASE: -1.0}.get(self, 0.0)


class PairwiseVerdict(_Model):
    """The pairwise judge on one question, asked twice: fine-tuned answer shown first (A), then base shown first.

    ``fine_tuned_first`` and ``base_first`` are what each order preferred, translated to roles (``None`` when that
    order got no usable reply). ``preference`` counts only when both orders agree; otherwise it is a tie.
    ``preference`` is None when either order is missing (the item is unscored, ``error`` says why).
    """

    preference: Preference | None
    fine_tuned_first: Preference | None = None
    base_first: Preference | None = None
    consistent: bool | None = None  # both orders named the same role (or both a tie)
    reasoning: str = ""
    attempts: int = 0
    error: str | None = None


class LeakedQuestion(_Model):
    """A test question that also appears (exactly or nearly) in the training or validation data."""

    index: int
    kind: str  # "exact" (same after normalising case, whitespace, punctuation) or "near" (similarity >= threshold)
    similarity: float
    split: str  # "train" or "validation"
    matched: str  # the training/validation question it matches, cut to 200 characters
    question: str = ""  # the test question itself, cut to 200 characters


class EvaluatedItem(_Model):
    index: int
    question: str
    reference: str
    base: ScoredAnswer
    fine_tuned: ScoredAnswer
    pairwise: PairwiseVerdict | None = None
    champion: ScoredAnswer | None = None  # the stack's champion, when it was evaluated too

    def for_role(self, role: ModelRole) -> ScoredAnswer:
        if role is ModelRole.CHAMPION:
            return self.champion or ScoredAnswer(answer=None, error="the champion was not evaluated")
        return self.base if role is ModelRole.BASE else self.fine_tuned


class InferenceParameters(_Model):
    max_tokens: int
    temperature: float
    top_p: float


class EvaluationSet(_Model):
    """Where the evaluation's questions came from: the run's own test split, or a fixed set shared by runs."""

    source: str  # "test_split" or "test_set"
    key: str  # S3 key in the data bucket
    sha256: str | None = None  # of the fixed set's object: two runs with the same hash asked the same questions
    questions: int  # asked
    considered: int  # read before the cap, leaked ones included
    leaked: int  # left out: also in the training or validation data


class PairwiseSummary(_Model):
    """The pairwise judge over all questions both models answered."""

    judged: int  # questions with a verdict from both presentation orders
    fine_tuned_preferred: int
    base_preferred: int
    ties: int  # including position-inconsistent verdicts
    win_rate: float | None  # fine_tuned_preferred / judged
    position_consistency: float | None  # share of judged questions where both orders agreed


class ChampionComparison(_Model):
    """The run's fine-tuned model (the challenger) against the stack's champion, on the same questions."""

    custom_model_arn: str
    run_id: str  # the run that trained the champion
    invoked_as: str  # the stable deployment it answered through
    summary: ScoreSummary
    verdict: Verdict  # challenger minus champion, by the same rules as the verdict against the base model


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
    judge_prompt_version: str | None = None
    evaluation_set: EvaluationSet | None = None
    leaked_questions: list[LeakedQuestion] = Field(default_factory=list)
    pairwise: PairwiseSummary | None = None
    verdict: Verdict | None = None
    warnings: list[str] = Field(default_factory=list)  # e.g. a judge of the tuned model's own family
    champion: ChampionComparison | None = None


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
