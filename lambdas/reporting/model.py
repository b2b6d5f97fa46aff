"""``runs/<run-id>/report.json``: everything a person needs to judge one run, in one typed document.

The Markdown and HTML reports are renderings of this document only, so ``python -m tuner report RUN_DIR`` can
re-render them from report.json alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lambdas.contracts import PreflightOutput, RunStatus, ScoreSummary
from lambdas.dataset.report import Problem
from lambdas.evaluation.results import EvaluatedItem, EvaluationSet, LeakedQuestion, PairwiseSummary
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


class DatasetSection(_Model):
    valid: bool
    records: int
    error_count: int
    warning_count: int
    first_errors: list[Problem] = Field(default_factory=list)
    validation_report_key: str
    prepared_from_raw_qa: bool = False
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
