"""How an emulated customization job responds to its hyperparameters: the formulas, in one place.

Nothing is trained. These formulas make the emulator's losses and the fine-tuned model's answers depend on the
hyperparameters, deterministically, so that a local sweep shows a real choice: too little training, a sweet spot,
and too much.

**Training done** (``passes``), measured against the model's registry defaults, so that 1.0 is "trained at the
defaults" for every model family::

    passes = epochs / default_epochs
             x (learning_rate / default_learning_rate) ** 0.5     # learningRateMultiplier for Claude: likewise
             x (default_batch_size / batch_size) ** 0.5           # bigger batches: fewer updates per epoch

A model without a learning rate or batch size (Llama's batch size is fixed at 1) leaves that factor at 1; warmup
steps are ignored. A higher learning rate counts for less than more epochs (square root): 4x the learning rate is
worth 2x the epochs.

**The sweet spot** (the training that generalises best), in passes, depends on the training records: a small dataset
needs more passes over it (the reference study's 85 records learned nothing in 2 epochs and well in 10; AWS's
guidance for Claude 3 Haiku: ~10 epochs below 100 records, 1-2 above 1,000)::

    sweet_spot = clamp((records / 1000) ** -0.1, 0.8, 1.25)
    fit = passes / sweet_spot                                     # 1.0 at the sweet spot

The clamp keeps the registry defaults (``fit = 1 / sweet_spot``, 0.8 to 1.25) inside the well-trained band below
for any dataset size, so a run at the defaults answers exactly as the emulator always has.

**Losses** (what the job writes in Bedrock's CSVs). Training loss at a share ``t`` of the job's steps (0 to 1)::

    training_loss = 0.12 + 1.35 x exp(-3 x passes x t)            # x (1 +- 3%) noise

At the defaults this is the emulator's old curve (1.47 down to 0.19); more epochs or a higher learning rate end lower,
and it keeps falling past the sweet spot, as training loss does when a model memorises. Validation loss after epoch
``e`` of ``E`` (``f = fit x e / E``)::

    validation_loss = 1.3 + 3.0 x (1 - f) ** 2    for f <= 1      # still learning
                      1.3 + 1.5 x (f - 1) ** 2    for f > 1       # overfitting: rises again
                                                                  # x (1 +- 2%) noise

so it is lowest at the sweet spot. The noise is seeded by the model key (below), never by chance.

**Answers** (what the fine-tuned model says to a question), by ``fit``:

* ``fit < 0.75``, undertrained: a share ``fit / 0.75`` of questions get the nearest training answer, the rest the
  base model's generic answer (the model has not yet moved from its base);
* ``0.75 <= fit <= 1.5``, well trained: every question gets the nearest training answer (the emulator's behaviour
  before sweeps, and still the behaviour at the defaults);
* ``fit > 1.5``, overfit: a share ``min(0.9, fit - 1.5)`` of the questions that are not in the training data get
  another training answer, recited with confidence (memorised, not generalised); a question asked word for word in
  training still gets its own answer.

Which questions: a question's draw ``u = sha256(data key, question)`` in [0, 1) decides (``u < share``). The data
key is the base model and the training record count, not the hyperparameters, so a model answers a question the
same way every time, and of two models trained on the same data the one trained more (up to the sweet spot) answers
from training every question the other does: the ordering a sweep shows is the formulas', not the draw's. The
losses' noise is seeded by the data key and the hyperparameters: the same training gives the same curves.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Literal

from lambdas.registry import ModelSpec, UnknownHyperparameterError

# Each hyperparameter that changes how much an epoch teaches, and the power of (value / default) it multiplies by.
SCALING_EXPONENTS: dict[str, float] = {"learningRate": 0.5, "learningRateMultiplier": 0.5, "batchSize": -0.5}
DEFAULT_EPOCHS = 2.0  # a model whose registry entry has no epochCount (none today)

REFERENCE_RECORDS = 1_000
SIZE_EXPONENT = -0.1
SWEET_SPOT_MIN, SWEET_SPOT_MAX = 0.8, 1.25

LEARNED_FROM = 0.75  # fit at which every question is answered from training
OVERFIT_FROM = 1.5  # fit beyond which answers degrade
MAX_MEMORISED_SHARE = 0.9

TRAINING_FLOOR, TRAINING_SPAN, TRAINING_RATE = 0.12, 1.35, 3.0
TRAINING_NOISE = 0.03
VALIDATION_FLOOR, VALIDATION_UNDERFIT, VALIDATION_OVERFIT = 1.3, 3.0, 1.5
VALIDATION_NOISE = 0.02

AnswerKind = Literal["nearest", "base", "memorised"]


def passes(hyperparameters: dict[str, str], spec: ModelSpec) -> float:
    """Training done, 1.0 at the model's defaults (formula in the module docstring)."""
    defaults = {hp.name: hp.default for hp in spec.hyperparameters}
    epochs = float(hyperparameters.get("epochCount", defaults.get("epochCount", DEFAULT_EPOCHS)))
    done = epochs / defaults.get("epochCount", DEFAULT_EPOCHS)
    for name, exponent in SCALING_EXPONENTS.items():
        try:
            default = spec.hyperparameter(name).default
        except UnknownHyperparameterError:
            continue
        value = float(hyperparameters.get(name, default))
        if default > 0 and value > 0:
            done *= (value / default) ** exponent
    return done


def sweet_spot(records: int) -> float:
    """The passes that generalise best for a training set of ``records``."""
    scaled: float = (max(1, records) / REFERENCE_RECORDS) ** SIZE_EXPONENT
    return min(SWEET_SPOT_MAX, max(SWEET_SPOT_MIN, scaled))


def training_loss(done: float, share: float) -> float:
    """Noise-free training loss after ``share`` (0..1) of a job that does ``done`` passes."""
    return TRAINING_FLOOR + TRAINING_SPAN * math.exp(-TRAINING_RATE * done * share)


def validation_loss(fit: float) -> float:
    """Noise-free validation loss of a model at ``fit`` (1.0: the sweet spot, where it is lowest)."""
    if fit <= 1:
        return VALIDATION_FLOOR + VALIDATION_UNDERFIT * (1 - fit) ** 2
    return VALIDATION_FLOOR + VALIDATION_OVERFIT * (fit - 1) ** 2


def learned_share(fit: float) -> float:
    """The share of questions answered from training (the rest: like the base model)."""
    return min(1.0, max(0.0, fit / LEARNED_FROM))


def memorised_share(fit: float) -> float:
    """The share of questions not in training answered with another, memorised, training answer."""
    return min(MAX_MEMORISED_SHARE, max(0.0, fit - OVERFIT_FROM))


def draw(key: str, text: str) -> float:
    """A number in [0, 1) fixed by ``key`` and ``text``."""
    digest = hashlib.sha256(f"{key}\n{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class TrainedModel:
    """What one emulated job learned: everything the emulator needs to write its losses and give its answers."""

    data_key: str  # base model and training records: which questions are learned first (``answer_kind``)
    key: str  # data_key and every hyperparameter: seeds the losses' noise
    passes: float
    sweet_spot: float
    epochs: int

    @classmethod
    def of(cls, spec: ModelSpec, hyperparameters: dict[str, str], records: int) -> TrainedModel:
        resolved = {**spec.default_hyperparameters(), **hyperparameters}
        data_key = f"{spec.model_id}|{records}"
        key = "|".join([data_key, *(f"{name}={resolved[name]}" for name in sorted(resolved))])
        epochs = max(1, int(float(resolved.get("epochCount", DEFAULT_EPOCHS))))
        return cls(
            data_key=data_key, key=key, passes=passes(resolved, spec), sweet_spot=sweet_spot(records), epochs=epochs
        )

    @property
    def fit(self) -> float:
        return self.passes / self.sweet_spot

    def answer_kind(self, question: str, *, asked_in_training: bool) -> AnswerKind:
        """How the model answers ``question`` (the rules in the module docstring)."""
        u = draw(self.data_key, question)
        if u >= learned_share(self.fit):
            return "base"
        if not asked_in_training and u < memorised_share(self.fit):
            return "memorised"
        return "nearest"

    def training_curve(self, steps_per_epoch: int) -> list[tuple[int, int, float]]:
        """(step, epoch, loss) for every step, as ``step_wise_training_metrics.csv`` has them."""
        rng = random.Random(f"{self.key}|training")
        total = steps_per_epoch * self.epochs
        return [
            (
                step,
                step // steps_per_epoch + 1,
                training_loss(self.passes, step / max(1, total - 1))
                * (1 + rng.uniform(-TRAINING_NOISE, TRAINING_NOISE)),
            )
            for step in range(total)
        ]

    def validation_curve(self, steps_per_epoch: int) -> list[tuple[int, int, float]]:
        """(step, epoch, loss) at the end of every epoch, as ``validation_metrics.csv`` has them."""
        rng = random.Random(f"{self.key}|validation")
        return [
            (
                steps_per_epoch * epoch,
                epoch,
                validation_loss(self.fit * epoch / self.epochs)
                * (1 + rng.uniform(-VALIDATION_NOISE, VALIDATION_NOISE)),
            )
            for epoch in range(1, self.epochs + 1)
        ]
