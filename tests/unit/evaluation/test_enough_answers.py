"""The evaluation fails, rather than reporting empty scores, when a model cannot answer the test questions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lambdas.errors import EvaluationFailedError
from lambdas.evaluation.evaluate import require_enough_answers
from lambdas.evaluation.generation import Question
from lambdas.evaluation.results import GeneratedAnswer, ModelRole

NOW = datetime(2026, 1, 1, tzinfo=UTC)
MODELS = {ModelRole.BASE: "base-model", ModelRole.FINE_TUNED: "arn:aws:bedrock:us-east-1:1:provisioned-model/x"}


def _questions(count: int) -> list[Question]:
    return [Question(index=i, system=None, turns=(), reference=f"ref {i}") for i in range(count)]


def _answer(index: int, role: ModelRole, *, ok: bool) -> GeneratedAnswer:
    return GeneratedAnswer(
        index=index,
        role=role,
        model_id=MODELS[role],
        fingerprint="f" * 16,
        text="an answer" if ok else None,
        error=None if ok else "AccessDeniedException: not allowed",
        generated_at=NOW,
    )


def _answers(count: int, fine_tuned_ok: int) -> dict[tuple[ModelRole, int], GeneratedAnswer]:
    answers = {(ModelRole.BASE, i): _answer(i, ModelRole.BASE, ok=True) for i in range(count)}
    answers.update(
        {(ModelRole.FINE_TUNED, i): _answer(i, ModelRole.FINE_TUNED, ok=i < fine_tuned_ok) for i in range(count)}
    )
    return answers


def test_a_fine_tuned_model_that_answers_nothing_fails_the_evaluation_with_the_reason() -> None:
    with pytest.raises(EvaluationFailedError) as raised:
        require_enough_answers(_questions(4), _answers(4, fine_tuned_ok=0), MODELS, answers_prefix="runs/r/answers/")
    message = str(raised.value)
    assert "fine-tuned model (arn:aws:bedrock:us-east-1:1:provisioned-model/x) answered 0 of 4" in message
    assert "AccessDeniedException" in message
    assert "runs/r/answers/" in message


def test_fewer_than_half_answered_fails_and_half_passes() -> None:
    with pytest.raises(EvaluationFailedError, match="answered 1 of 4"):
        require_enough_answers(_questions(4), _answers(4, fine_tuned_ok=1), MODELS, answers_prefix="p/")
    require_enough_answers(_questions(4), _answers(4, fine_tuned_ok=2), MODELS, answers_prefix="p/")


def test_an_empty_test_split_fails_the_evaluation() -> None:
    with pytest.raises(EvaluationFailedError, match="no question to ask"):
        require_enough_answers([], {}, MODELS, answers_prefix="p/")
