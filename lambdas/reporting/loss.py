"""What the loss curves say, in plain words: the best validation point, and whether the model began to overfit.

Overfitting rule: the validation loss rises at two evaluations in a row while the training loss, over the same
steps, keeps falling. That is the usual sign that further epochs fit the training data at the expense of new data;
one rise alone is too often noise on a small validation set to call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from pydantic import BaseModel, ConfigDict

from lambdas.lifecycle.metrics import LossPoint

RISES_TO_FLAG = 2


class LossDiagnosis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    best_validation_step: int | None = None
    best_validation_epoch: int | None = None
    best_validation_loss: float | None = None
    overfitting: str | None = None  # one plain sentence when the rule above holds


def _training_loss_at(training: Sequence[LossPoint], step: int) -> float | None:
    """The training loss at the last recorded step at or before ``step``."""
    before = [point for point in training if point.step <= step]
    return before[-1].loss if before else None


def diagnose(training: Sequence[LossPoint], validation: Sequence[LossPoint]) -> LossDiagnosis:
    training = sorted(training, key=lambda point: point.step)
    validation = sorted(validation, key=lambda point: point.step)
    if not validation:
        return LossDiagnosis()
    best = min(validation, key=lambda point: (point.loss, point.step))
    overfitting = None
    for index in range(RISES_TO_FLAG, len(validation)):
        window = validation[index - RISES_TO_FLAG : index + 1]
        rising = all(later.loss > earlier.loss for earlier, later in pairwise(window))
        start, end = _training_loss_at(training, window[0].step), _training_loss_at(training, window[-1].step)
        if rising and start is not None and end is not None and end < start:
            overfitting = (
                f"Validation loss rose at {RISES_TO_FLAG} evaluations in a row (step {window[0].step} to "
                f"{window[-1].step}: {window[0].loss:.4f} to {window[-1].loss:.4f}) while the training loss kept "
                f"falling ({start:.4f} to {end:.4f}): the model began to overfit. The best validation loss was at "
                f"epoch {best.epoch} (step {best.step}); fewer epochs, or early stopping, would likely do as well."
            )
            break
    return LossDiagnosis(
        best_validation_step=best.step,
        best_validation_epoch=best.epoch,
        best_validation_loss=best.loss,
        overfitting=overfitting,
    )
