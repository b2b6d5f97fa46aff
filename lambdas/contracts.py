"""The models passed between the states of the fine-tuning state machine.

The state machine carries one JSON document, ``RunState``. The trigger creates it with ``run`` (and an empty
``errors``); every Lambda task receives the whole document and its result is stored under the snake_case name of its
state (``StartCustomizationJob`` -> ``$.start_customization_job``), typed by ``<StateName>Output``. A Catch stores
``{"Error", "Cause"}`` under ``$.errors.<StateName>``. Large artefacts (reports, answers, metrics) live in S3 under
``runs/<run-id>/`` and only their keys travel in the state, which must stay under Step Functions' 256 KB limit.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lambdas.dataset.report import Problem
from lambdas.registry import Serving
from lambdas.settings import PipelineSettings


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunStatus(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    ABORTED = "ABORTED"  # stopped by hand or timed out: the report comes from the execution cleanup


class RunPaths(BaseModel):
    """Where everything a run produces lives in the data bucket."""

    model_config = ConfigDict(frozen=True)

    run_id: str

    @property
    def prefix(self) -> str:
        return f"runs/{self.run_id}/"

    @property
    def validation_report(self) -> str:
        return f"{self.prefix}validation.json"

    @property
    def train(self) -> str:
        return f"{self.prefix}data/train.jsonl"

    @property
    def validation(self) -> str:
        return f"{self.prefix}data/validation.jsonl"

    @property
    def test(self) -> str:
        return f"{self.prefix}data/test.jsonl"

    @property
    def job_output(self) -> str:
        return f"{self.prefix}job-output/"

    @property
    def training_metrics(self) -> str:
        return f"{self.prefix}training_metrics.json"

    @property
    def answers_prefix(self) -> str:
        return f"{self.prefix}answers/"

    @property
    def evaluation(self) -> str:
        return f"{self.prefix}evaluation.json"

    @property
    def evaluation_questions(self) -> str:
        """The questions every shard asks (one JSON object per line), written before any spend."""
        return f"{self.prefix}evaluation/questions.jsonl"

    @property
    def leaked_questions(self) -> str:
        """Test questions left out because the training or validation data holds them too."""
        return f"{self.prefix}evaluation/leaked.json"

    @property
    def judgements_prefix(self) -> str:
        """Each judge verdict, saved as produced: a retried shard never pays for a verdict twice."""
        return f"{self.prefix}judgements/"

    def scored_shard(self, shard: int) -> str:
        return f"{self.prefix}evaluation/shards/{shard:05d}.json"

    @property
    def report_json(self) -> str:
        return f"{self.prefix}report.json"

    @property
    def report_md(self) -> str:
        return f"{self.prefix}report.md"

    @property
    def report_html(self) -> str:
        return f"{self.prefix}report.html"


INCOMING_PREFIX = "incoming/"
REEVALUATE_PREFIX = "reevaluate/"  # a JSON request to evaluate an existing custom model again, without training
EVAL_PREFIX = "eval/"  # fixed evaluation sets (evaluation.test_set) live here
RUNS_PREFIX = "runs/"
SERVING_PREFIX = "serving/"  # serving/history.jsonl: every change of the stack's champion
DATA_PREFIX_PATTERN = "runs/*/data/*"  # what the Bedrock service role may read
JOB_OUTPUT_PREFIX_PATTERN = "runs/*/job-output/*"  # what the Bedrock service role may write


class Reevaluation(_Model):
    """A run that evaluates an existing custom model again: no validation of a new drop, no training.

    Created by the trigger from a request under ``reevaluate/`` (``tuner evaluate --custom-model ARN`` uploads one).
    The questions are the source run's test split (``source_run_id``) or the fixed set ``evaluation.test_set``.
    """

    custom_model_arn: str = ""  # empty only when the request could not be read (request_error says why)
    source_run_id: str | None = None  # the run that trained the model: its prepared splits are reused
    request_key: str  # the request object under reevaluate/
    request_error: str | None = None  # why the request is unusable: the run ends REJECTED before anything is bought


class ChampionAtStart(_Model):
    """The stack's champion when the run started (the serving record ``/<stack>/serving``). When it serves through
    the stack's on-demand deployment it answers the same questions as a third contestant."""

    custom_model_arn: str
    run_id: str
    deployment_arn: str | None = None  # where it answers; None: it needs Provisioned Throughput and is not asked
    scores: dict[str, Any] = Field(default_factory=dict)  # what it won on (the serving record's figures)
    evaluation_set_sha256: str | None = None


class RunConfig(_Model):
    """Created by the trigger from the dropped object; never changes during the run."""

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    bucket: str
    source_key: str
    source_version: str | None = None
    source_etag: str | None = None
    received_at: datetime
    stack_name: str
    settings: PipelineSettings
    serving: Serving  # resolved from settings.inference_mode and the registry when the run starts
    emulated: bool = False  # true when Bedrock is the local emulator: every figure in the report is labelled so
    overrides: dict[str, Any] | None = None  # the drop's own settings (object metadata), applied over the stack's
    overrides_error: str | None = None  # why the drop's overrides were refused: the run ends REJECTED
    reevaluation: Reevaluation | None = None  # set when this run re-evaluates an existing custom model
    champion: ChampionAtStart | None = None  # the stack's champion when the run started, if any

    @property
    def is_reevaluation(self) -> bool:
        return self.reevaluation is not None

    @property
    def paths(self) -> RunPaths:
        return RunPaths(run_id=self.run_id)


class ValidateDatasetOutput(_Model):
    valid: bool
    records: int
    error_count: int
    warning_count: int
    first_errors: list[Problem] = Field(default_factory=list, max_length=10)
    report_key: str
    prepared_from_raw_qa: bool = False
    read_as: str | None = None  # jsonl | json-array: how the drop was read (by its name)
    gzip: bool = False  # the drop was gzip-compressed and decompressed while read
    train_key: str | None = None
    validation_key: str | None = None
    test_key: str | None = None
    train_records: int = 0
    validation_records: int = 0
    test_records: int = 0
    estimated_training_tokens: int | None = None
    validation_dropped: str | None = None  # why the settings' validation split is not there (too few records)


class StartCustomizationJobOutput(_Model):
    job_arn: str
    job_name: str
    custom_model_name: str
    output_s3_uri: str
    hyperparameters: dict[str, str]
    started_at: datetime


JobStatus = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]


class PollCustomizationJobOutput(_Model):
    status: JobStatus
    polls: int  # how many polls so far, including this one
    wait_seconds: int  # how long the state machine waits before the next poll
    custom_model_arn: str | None = None
    failure_message: str | None = None
    checked_at: datetime
    ended_at: datetime | None = None  # GetModelCustomizationJob's endTime, once the job has ended


class ReadTrainingMetricsOutput(_Model):
    metrics_key: str
    training_points: int
    validation_points: int
    final_training_loss: float | None = None
    final_validation_loss: float | None = None


CapacityStatus = Literal["Creating", "InService", "Updating", "Failed", "Active"]


class CreateInferenceCapacityOutput(_Model):
    kind: Serving
    arn: str
    name: str
    model_units: int | None = None  # provisioned throughput only
    created_at: datetime


class PollInferenceCapacityOutput(_Model):
    status: CapacityStatus
    ready: bool
    failed: bool
    polls: int
    wait_seconds: int
    failure_message: str | None = None
    checked_at: datetime


class ScoreSummary(_Model):
    items: int
    scored_items: int
    bertscore_precision: float | None = None
    bertscore_recall: float | None = None
    bertscore_f1: float | None = None
    judge_mean: float | None = None


class PlanEvaluationOutput(_Model):
    """Which questions the evaluation asks, in how many shards; decided before the job starts, so that a bad
    evaluation set or a judge that cannot be invoked fails the run before anything is billed."""

    questions_key: str
    questions: int
    shard_size: int
    shards: list[int]  # the Map states iterate over these shard numbers
    source: Literal["test_split", "test_set"]
    source_key: str
    source_sha256: str | None = None  # of the fixed evaluation set's object (``evaluation.test_set``)
    considered: int  # test records read before the cap (leaked ones included)
    leaked: int  # test questions found in the training or validation data: left out of the evaluation
    base_invocation_id: str  # how the base model is invoked in this region (plain id or inference profile)
    judge_invocation_id: str | None


class GenerateAnswersShardOutput(_Model):
    shard: int
    questions: int
    answered_base: int
    answered_fine_tuned: int
    answered_champion: int | None = None  # None: no champion was asked
    reused: int  # answers saved by an earlier attempt and not asked again
    generated: int


class ScoreAnswersShardOutput(_Model):
    shard: int
    scores_key: str
    items: int
    judge_asked: int
    judge_scored: int
    first_judge_error: str | None = None


class PrimaryComparison(_Model):
    """The fine-tuned model against one opponent (base model or champion) on the primary metric: what promotion
    needs, small enough to travel in the state."""

    outcome: str  # improved | regressed | no_clear_difference | inconclusive
    primary_metric: str
    n: int | None = None
    mean_delta: float | None = None  # fine-tuned minus the opponent
    ci_low: float | None = None
    ci_high: float | None = None


class SummarizeEvaluationOutput(_Model):
    evaluation_key: str
    items: int
    base: ScoreSummary
    fine_tuned: ScoreSummary
    bertscore_model: str
    judge_model_id: str | None
    outcome: str  # the verdict's outcome: improved | regressed | no_clear_difference | inconclusive
    reason: str
    champion: ScoreSummary | None = None  # the champion's scores, when it was evaluated as a third contestant
    champion_outcome: str | None = None  # the challenger against the champion, by the same rules
    versus_base: PrimaryComparison | None = None
    versus_champion: PrimaryComparison | None = None


class CheckStatus(StrEnum):
    PASSED = "passed"
    WARNING = "warning"  # could not be checked, or worth knowing; never stops the run
    FAILED = "failed"  # the run is rejected before any Bedrock create call


class PreflightCheck(_Model):
    """One account or settings check made before anything is bought, with what to do about it."""

    check: str  # model-access | lifecycle | quota | budget | concurrent-runs
    subject: str  # what was checked: "base model amazon.nova-lite-v1:0", a quota's name, "estimated run cost"
    status: CheckStatus
    message: str  # the finding, in words
    fix: str | None = None  # what a person can do about a failure or warning


class PreflightOutput(_Model):
    """What Preflight found; ``passed`` is false when any check failed, and the run then ends REJECTED."""

    passed: bool
    region: str | None
    checks: list[PreflightCheck]
    checked_at: datetime

    @property
    def failures(self) -> list[PreflightCheck]:
        return [check for check in self.checks if check.status is CheckStatus.FAILED]

    @property
    def warnings(self) -> list[PreflightCheck]:
        return [check for check in self.checks if check.status is CheckStatus.WARNING]


class ExecutionContext(_Model):
    """The parts of Step Functions' context object (``$$``) a step is given: which execution of which machine."""

    execution_arn: str
    state_machine_arn: str
    started_at: datetime


class DeleteInferenceCapacityOutput(_Model):
    kind: Serving | None
    arn: str | None
    deleted: bool  # true when the capacity is gone now (deleted by us, or already gone)
    already_gone: bool
    deleted_at: datetime
    lifetime_seconds: float | None = None
    estimated_cost_usd: float | None = None


class ApplyRetentionOutput(_Model):
    """What happened to the run's custom model after the report, by ``custom_model_retention``."""

    custom_model_arn: str | None
    setting: str
    action: Literal["kept", "deleted", "none"]  # none: the run produced no custom model
    reason: str
    error: str | None = None  # a delete that failed: the model is kept, and still bills storage


class PromoteOutput(_Model):
    """What the Promote step did with the run's model, by the ``promotion`` policy and the eligibility rule."""

    decision: Literal["promote", "recommend", "skip"]
    eligible: bool
    reason: str  # why it is (not) eligible, in a sentence
    promoted: bool = False
    deployment_arn: str | None = None  # the stack's stable serving deployment after the promotion
    message: str = ""  # what changed, for the notification
    error: str | None = None  # a promotion that failed: nothing changed, the command to retry is in the message


class WriteReportOutput(_Model):
    status: RunStatus
    report_key: str
    markdown_key: str
    html_key: str
    summary: str  # one line: becomes the Fail state's cause and the notification subject's tail
    cost: str | None = None  # the report's estimated cost in one line (it read evaluation.json; Notify reads no S3)


class NotifyOutput(_Model):
    message_id: str | None


class StateError(BaseModel):
    """What a Catch stores under ``$.errors.<StateName>``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


class RunState(BaseModel):
    """The document the state machine carries; each handler reads what it needs."""

    model_config = ConfigDict(extra="ignore")

    run: RunConfig
    errors: dict[str, StateError] = Field(default_factory=dict)
    validate_dataset: ValidateDatasetOutput | None = None
    start_customization_job: StartCustomizationJobOutput | None = None
    poll_customization_job: PollCustomizationJobOutput | None = None
    read_training_metrics: ReadTrainingMetricsOutput | None = None
    create_inference_capacity: CreateInferenceCapacityOutput | None = None
    poll_inference_capacity: PollInferenceCapacityOutput | None = None
    plan_evaluation: PlanEvaluationOutput | None = None
    preflight: PreflightOutput | None = None
    generate_answers: list[GenerateAnswersShardOutput] | None = None
    score_answers: list[ScoreAnswersShardOutput] | None = None
    summarize_evaluation: SummarizeEvaluationOutput | None = None
    delete_inference_capacity: DeleteInferenceCapacityOutput | None = None
    write_report: WriteReportOutput | None = None
    apply_retention: ApplyRetentionOutput | None = None
    promote: PromoteOutput | None = None

    @property
    def custom_model_arn(self) -> str | None:
        """The model this run evaluates: the one its job trained, or the one a re-evaluation names."""
        if self.run.reevaluation is not None:
            return self.run.reevaluation.custom_model_arn or None
        return self.poll_customization_job.custom_model_arn if self.poll_customization_job else None


# State names, shared by the CDK workflow, the handlers and the tests that walk the definition.
class StateName(StrEnum):
    VALIDATE_DATASET = "ValidateDataset"
    PLAN_EVALUATION = "PlanEvaluation"
    PREFLIGHT = "Preflight"  # account checks (access, quotas, budget, concurrent runs) before any Bedrock create call
    START_CUSTOMIZATION_JOB = "StartCustomizationJob"
    POLL_CUSTOMIZATION_JOB = "PollCustomizationJob"
    READ_TRAINING_METRICS = "ReadTrainingMetrics"
    CREATE_INFERENCE_CAPACITY = "CreateInferenceCapacity"
    POLL_INFERENCE_CAPACITY = "PollInferenceCapacity"
    GENERATE_ANSWERS = "GenerateAnswers"  # a Map over shards; its function answers one shard
    DELETE_INFERENCE_CAPACITY = "DeleteInferenceCapacity"
    SCORE_ANSWERS = "ScoreAnswers"  # a Map over shards; its function scores one shard
    SUMMARIZE_EVALUATION = "SummarizeEvaluation"
    WRITE_REPORT = "WriteReport"
    PROMOTE = "Promote"  # serves the run's model when it is eligible and promotion is auto (lambdas/serving)
    APPLY_RETENTION = "ApplyRetention"  # keeps or deletes the run's custom model, by custom_model_retention
    NOTIFY = "Notify"

    @property
    def is_map(self) -> bool:
        """A Map state over the evaluation's shards; its Lambda task is named ``<state>Shard``."""
        return self in (StateName.GENERATE_ANSWERS, StateName.SCORE_ANSWERS)

    @property
    def result_key(self) -> str:
        """Where the state's output is stored: ``StartCustomizationJob`` -> ``start_customization_job``."""
        out = []
        for index, char in enumerate(self.value):
            if char.isupper() and index:
                out.append("_")
            out.append(char.lower())
        return "".join(out)


# States that run while capacity (provisioned throughput / deployment) may exist: each must Catch into the delete.
POST_PURCHASE_STATES = (
    StateName.CREATE_INFERENCE_CAPACITY,
    StateName.POLL_INFERENCE_CAPACITY,
    StateName.GENERATE_ANSWERS,
)


class PreflightInput(BaseModel):
    """What Preflight receives: the run document and, from the context object, its own execution (to count the
    stack's other running executions; the state machine's ARN cannot be in the function's environment, which the
    state machine itself depends on)."""

    model_config = ConfigDict(extra="forbid")

    state: RunState
    execution: ExecutionContext | None = None


class ShardState(RunState):
    """What one iteration of a shard Map receives: the run's document and the shard number."""

    shard: int = Field(ge=0)
