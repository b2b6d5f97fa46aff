"""``runs/<run-id>/report.json``: everything a person needs to judge one run, in one typed document.

The Markdown and HTML reports are renderings of this document only, so ``python -m tuner report RUN_DIR`` can
re-render them from report.json alone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lambdas.contracts import PreflightOutput, Reevaluation, RunStatus, ScoreSummary
from lambdas.dataset.report import Problem
from lambdas.evaluation.results import (
    ChampionComparison,
    EvaluatedItem,
    EvaluationSet,
    LeakedQuestion,
    PairwiseSummary,
)
from lambdas.evaluation.verdict import Verdict
from lambdas.lifecycle.metrics import EpochLoss, LossPoint
from lambdas.pricing import CostEstimate
from lambdas.registry import Serving
from lambdas.reporting.loss import LossDiagnosis

REPORT_SCHEMA_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunSection(_Model):
    run_id: str
    source: str  # s3://bucket/key
    source_version: str | None = None
    received_at: datetime
    stack_name: str
    base_model_id: str
    base_model_name: str
    base_inference_model_id: str
    serving: Serving
    emulated: bool
    settings: dict[str, Any]
    overrides: dict[str, Any] | None = None  # what the drop itself changed (object metadata fine-tuning-settings)
    reevaluation: Reevaluation | None = None  # set when the run evaluated an existing custom model, without training


class DatasetSection(_Model):
    valid: bool
    records: int
    error_count: int
    warning_count: int
    first_errors: list[Problem] = Field(default_factory=list)
    validation_report_key: str
    prepared_from_raw_qa: bool = False
    read_as: str | None = None  # jsonl | json-array
    gzip: bool = False
    train_records: int = 0
    validation_records: int = 0
    test_records: int = 0
    estimated_training_tokens: int | None = None  # billed: the training tokens times ``epochs``
    epochs: int | None = None
    validation_dropped: str | None = None


class JobSection(_Model):
    name: str
    arn: str
    custom_model_name: str
    custom_model_arn: str | None = None
    status: str | None = None  # last status seen by the poller
    failure_message: str | None = None
    started_at: datetime
    last_checked_at: datetime | None = None
    ended_at: datetime | None = None  # Bedrock's endTime of the job
    duration_seconds: float | None = None  # from StartCustomizationJob to the job's end
    retention: str | None = None  # what happens to the custom model after this report, and why


class LossSection(_Model):
    training: list[LossPoint] = Field(default_factory=list)
    validation: list[LossPoint] = Field(default_factory=list)
    training_epoch_means: list[EpochLoss] = Field(default_factory=list)
    validation_epoch_means: list[EpochLoss] = Field(default_factory=list)
    diagnosis: LossDiagnosis = Field(default_factory=LossDiagnosis)  # best validation point, overfitting in words

    @property
    def empty(self) -> bool:
        return not (self.training_epoch_means or self.validation_epoch_means)


class EvaluationSection(_Model):
    evaluation_key: str | None = None
    base_model_id: str
    fine_tuned_model_id: str
    bertscore_model: str
    bertscore_num_layers: int | None = None
    judge_model_id: str | None
    base: ScoreSummary
    fine_tuned: ScoreSummary
    items: list[EvaluatedItem] = Field(default_factory=list)
    judge_prompt_version: str | None = None
    evaluation_set: EvaluationSet | None = None
    leaked_questions: list[LeakedQuestion] = Field(default_factory=list)
    pairwise: PairwiseSummary | None = None
    warnings: list[str] = Field(default_factory=list)
    champion: ChampionComparison | None = None  # the stack's champion, asked the same questions (third contestant)


class CapacitySection(_Model):
    kind: Serving | None
    arn: str | None
    name: str | None = None
    model_units: int | None = None
    created_at: datetime | None = None
    deleted: bool | None = None  # None: the delete step did not run (it would have, had capacity been bought)
    already_gone: bool | None = None
    deleted_at: datetime | None = None
    lifetime_seconds: float | None = None
    estimated_cost_usd: float | None = None


class CostSection(CostEstimate):
    """The run's estimated cost, part by part (``lambdas.pricing``): list prices (or the ``prices`` setting) times
    what the run used. Nothing here is read from a bill; ``label`` says how to read every figure."""

    label: str  # "estimated, list prices as of 2026-09-01", led by "EMULATED: ..." for a local rehearsal
    emulated: bool


class CustomModelSection(_Model):
    """The custom model the run trained, or (a re-evaluation) the existing one it evaluated again."""

    arn: str
    trained_by_run: str | None  # this run, or a re-evaluated model's source run (None: the request named none)
    deleted_after_report: bool  # the ApplyRetention step deletes it once this report is written
    retention: str  # what happens to it after this report, and why
    storage_usd_per_month: float | None  # None: no storage price is known for the model in its Region
    storage_label: str  # "estimated, list prices as of 2026-09-01", or "storage price unknown"; EMULATED when local


class NextStepKind(StrEnum):
    """What a step of the report's "What next" is about, for a reader of report.json."""

    FIX_AND_DROP_AGAIN = "fix-and-drop-again"  # nothing was trained: fix what went wrong, drop the dataset again
    FIX_REQUEST = "fix-request"  # a re-evaluation request was refused: fix it, send it again
    DELETE_CAPACITY = "delete-capacity"  # inference capacity the clean-up could not delete, billed by the hour
    REEVALUATE = "re-evaluate"  # the custom model exists: evaluate it again without training
    FIX_JUDGE = "fix-judge"  # the judge could not score enough questions: fix its access, evaluate again
    MORE_QUESTIONS = "more-questions"  # too few questions for a verdict: evaluate again on a larger fixed set
    CHANGE_TRAINING = "change-training"  # regressed or no clear gain: what to change before training again
    KEEP_MODEL = "keep-model"  # the custom model exists and is billed for storage every month
    DELETE_MODEL = "delete-model"  # how to delete it, for a model nobody wants
    MODEL_DELETED = "model-deleted"  # custom_model_retention deletes it after the report: no re-evaluation


class NextStep(_Model):
    """One thing to do after a run that did not end improved: a sentence, and the command that does it."""

    kind: NextStepKind
    text: str
    command: str | None = None


class PromotionSection(_Model):
    """Whether the run's model should serve (lambdas/serving): the decision the Promote step carries out."""

    policy: str  # off | manual | auto
    decision: str  # promote | recommend | skip
    eligible: bool
    reason: str
    command: str | None = None  # how to promote it by hand (manual policy)
    champion_run_id: str | None = None  # the champion it was compared with, when there was one


class StepFailure(_Model):
    step: str
    error: str
    message: str


class ExecutionEnd(_Model):
    """How an execution ended without reaching its own report step (stopped, timed out), as the cleanup saw it."""

    status: str  # ABORTED, TIMED_OUT or FAILED, as Step Functions says
    step: str | None  # the state it was in
    error: str | None = None
    cause: str | None = None
    cleanup: list[str] = Field(default_factory=list)  # what the execution cleanup stopped and deleted


class FailureSection(_Model):
    failures: list[StepFailure]
    cleanup: list[str]  # what was stopped or deleted (or could not be), in words


class Report(_Model):
    schema_version: int = REPORT_SCHEMA_VERSION
    status: RunStatus
    headline: str  # one line, also the notification subject's tail
    generated_at: datetime
    run: RunSection
    dataset: DatasetSection | None = None
    job: JobSection | None = None
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    loss: LossSection = Field(default_factory=LossSection)
    verdict: Verdict | None = None  # did fine-tuning help, by how much, how sure: the first thing to read
    evaluation: EvaluationSection | None = None
    capacity: CapacitySection | None = None
    cost: CostSection | None = None  # estimated from list prices; None only in reports written before costs existed
    preflight: PreflightOutput | None = None  # the account checks made before any spend (model access, quotas, ...)
    failure: FailureSection | None = None
    custom_model: CustomModelSection | None = None  # the run's custom model and what becomes of it
    next_steps: list[NextStep] = Field(default_factory=list)  # "What next": empty for an improved run
    promotion: PromotionSection | None = None  # None: the run has no evaluated custom model
