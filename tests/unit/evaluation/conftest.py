"""The BERTScore model is loaded once per test session (and only by tests marked slow)."""

from __future__ import annotations

import pytest

from lambdas.evaluation.bertscore import OFFLINE_MINILM


@pytest.fixture(scope="session")
def offline_minilm():
    """The offline MiniLM scorer, with the hub switched off so a download attempt would fail the test."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        from lambdas.evaluation.bertscore import load_scorer

        return load_scorer(OFFLINE_MINILM, 6)
