"""Typed configuration.

``PipelineSettings`` is what an operator sets in ``cdk.json`` (context key ``fine_tuning``). It is validated at synth
time, and the trigger copies it into every execution's input, so each run records exactly the settings it ran with.

``RuntimeEnvironment`` is what a Lambda function learns from its environment variables: the names of the resources
the stack created. Domain code never reads ``os.environ``; handlers build this model once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from lambdas.clock import utc_now
from lambdas.dataset.formats import lone_surrogate_in
from lambdas.registry import (
    DEFAULT_BASE_MODEL_ID,
    PIPELINE_CUSTOMIZATION_TYPE,
    JudgeNotInvocableError,
    ModelSpec,
    get_model,
    resolve_judge_invocation_id,
    resolve_serving,
)

InferenceMode = Literal["provisioned", "on-demand", "auto"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Free text is bounded so that every setting that synthesizes can be stored and used. The system prompt goes into
# every training record: 4,000 characters is under a third of the smallest per-record limit in the registry (Titan
# Text Express: 4,096 tokens at batch size 1, about 12,288 characters by the validator's len // 3 estimate), so each
# record keeps room for its own text. The whole settings must also fit the 8 KB SSM parameter the trigger reads
# (infra/settings_parameter.py refuses them at synth, naming the largest, when multi-byte text makes them larger).
SYSTEM_PROMPT_MAX_CHARS = 4_000
MAX_KEY_CHARS = 256  # qa_keys: JSON key names
# The key-ARN form of botocore's pattern for CreateModelCustomizationJob.customModelKmsKeyId (shape KmsKeyId,
# bedrock 2023-04-20): (arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/...)))|<key id>|
# alias/... . Only a key ARN is taken: the stack grants its roles kms: actions on this ARN, and IAM matches key
# operations against the key's ARN, never an alias's; a bare key id or alias names no account or region to grant.
KMS_KEY_ARN_PATTERN = r"^arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]{36}$"


class _Strict(BaseModel):
    # JSON settings can spell NaN and Infinity (or 1e999); no setting means either.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _text_is_unicode(cls, data: Any) -> Any:
        """A ``\\ud800``-style escape in JSON is half of a surrogate pair, not text: the settings could not be
        serialized into the settings parameter or a run's input: say which setting holds it, not a traceback."""
        if isinstance(data, dict):
            for key, value in data.items():
                if lone_surrogate_in(value):
                    raise ValueError(
                        f"{key} holds half of a UTF-16 surrogate pair (a \\uD800-\\uDFFF escape), not text"
                    )
        return data


class SplitSettings(_Strict):
    """How one dropped dataset is split into train / validation / test (deterministic for a seed)."""

    validation_fraction: float = Field(default=0.1, ge=0, lt=1)
    test_fraction: float = Field(default=0.1, ge=0, lt=1)
    seed: int = 42

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> SplitSettings:
        if self.validation_fraction + self.test_fraction >= 0.9:
            raise ValueError("validation_fraction + test_fraction must leave at least 10% of records for training")
        return self


class QaKeys(_Strict):
    """Key names of the raw question/answer form that preparation converts into the model's format."""

    question: str = Field(default="question", min_length=1, max_length=MAX_KEY_CHARS)
    answer: str = Field(default="answer", min_length=1, max_length=MAX_KEY_CHARS)

    @model_validator(mode="after")
    def _distinct(self) -> QaKeys:
        if self.question == self.answer:
            raise ValueError(f"the question and answer keys must differ (both are {self.question!r})")
        return self


PrimaryMetric = Literal["judge_correctness", "bertscore_f1", "pairwise_preference"]

# The smallest gain worth having, per primary metric, when ``min_effect`` is not set: half a point on the judge's
# 1-10 scale, 0.01 of BERTScore F1, and a net preference of 10 percentage points (wins minus losses).
DEFAULT_MIN_EFFECT: dict[str, float] = {
    "judge_correctness": 0.5,
    "bertscore_f1": 0.01,
    "pairwise_preference": 0.1,
}
JUDGE_METRICS = frozenset({"judge_correctness", "pairwise_preference"})


class EvaluationSettings(_Strict):
    max_test_records: int = Field(default=50, ge=1, le=5_000)
    concurrency: int = Field(default=4, ge=1, le=64)  # model calls in flight per shard
    max_tokens: int = Field(default=512, ge=1, le=8_192)
    temperature: float = Field(default=0.0, ge=0, le=1)
    top_p: float = Field(default=0.9, gt=0, le=1)
    # A registry judge (resolved to its plain id or inference profile for the stack's region), an inference
    # profile id (us.…, eu.…, apac.…, global.…) or an ARN.
    judge_model_id: str = Field(default="amazon.nova-pro-v1:0", pattern=r"^\S+$", max_length=2_048)
    judge_enabled: bool = True
    pairwise_enabled: bool = True  # the pairwise preference judge (both orders) next to pointwise correctness
    # Baked into the evaluation image: a hub name or a local folder.
    bertscore_model: str = Field(default="all-MiniLM-L6-v2", min_length=1, max_length=512)
    bertscore_num_layers: int = Field(default=6, ge=1, le=48)
    # The verdict: which metric decides, the smallest gain worth having (default per metric: DEFAULT_MIN_EFFECT),
    # the judge coverage below which no verdict is given, and the fewest questions a verdict may rest on.
    primary_metric: PrimaryMetric = "judge_correctness"
    min_effect: float | None = Field(default=None, ge=0)
    min_judge_coverage: float = Field(default=0.9, ge=0, le=1)
    min_items: int = Field(default=10, ge=1, le=5_000)
    # A fixed evaluation set (an S3 key under eval/ in the data bucket) used instead of each run's own test split,
    # so that runs on different datasets are compared on the same questions.
    test_set: str | None = Field(default=None, pattern=r"^eval/\S+$", max_length=1_024)
    # Generation and scoring run as a Step Functions Map over shards of the test set.
    shard_size: int = Field(default=25, ge=1, le=500)
    max_concurrent_shards: int = Field(default=4, ge=1, le=40)

    @property
    def resolved_min_effect(self) -> float:
        return self.min_effect_for(self.primary_metric)

    def min_effect_for(self, metric: str) -> float:
        """``min_effect`` applies to the primary metric; another metric (the comparison with the champion when the
        primary one is the pairwise preference) takes its own default."""
        if self.min_effect is not None and metric == self.primary_metric:
            return self.min_effect
        return DEFAULT_MIN_EFFECT[metric]

    @model_validator(mode="after")
    def _primary_metric_is_measured(self) -> EvaluationSettings:
        if self.primary_metric in JUDGE_METRICS and not self.judge_enabled:
            raise ValueError(f"primary_metric {self.primary_metric} needs the judge (judge_enabled is false)")
        if self.primary_metric == "pairwise_preference" and not self.pairwise_enabled:
            raise ValueError("primary_metric pairwise_preference needs pairwise_enabled")
        return self


class PollingSettings(_Strict):
    """Waits between status polls. The job wait grows geometrically: a training job takes hours."""

    job_first_wait_seconds: int = Field(default=60, ge=10, le=3_600)
    job_wait_growth: float = Field(default=1.5, ge=1, le=4)
    job_max_wait_seconds: int = Field(default=900, ge=60, le=3_600)
    capacity_wait_seconds: int = Field(default=60, ge=10, le=600)  # capacity bills while we wait: poll steadily


class PriceSettings(_Strict):
    """Prices for the cost estimates (report, Preflight's budget), each overriding the registry's dated list price
    for the run's base model in its Region (``lambdas.pricing``). Nothing is billed from these; they only inform."""

    training_usd_per_1k_tokens: float | None = Field(default=None, ge=0)  # billed tokens: training x epochs
    # Per model unit per hour; billed per started hour (the reference study paid about $132/hour for one unit).
    provisioned_throughput_usd_per_hour: float | None = Field(default=None, ge=0)
    # The base model on demand; also the customized model's price when it is served by an on-demand deployment.
    on_demand_input_usd_per_1k_tokens: float | None = Field(default=None, ge=0)
    on_demand_output_usd_per_1k_tokens: float | None = Field(default=None, ge=0)
    custom_model_storage_usd_per_month: float | None = Field(default=None, ge=0)
    judge_input_usd_per_1k_tokens: float | None = Field(default=None, ge=0)  # the evaluation's judge, on demand
    judge_output_usd_per_1k_tokens: float | None = Field(default=None, ge=0)
    as_of: date | None = None  # the day these prices were read, shown with the estimates ("prices as of")


class VpcSettings(_Strict):
    # Counts and lengths of botocore's bedrock VpcConfig: SubnetIds 1-16, SecurityGroupIds 1-5, each id <= 32.
    subnet_ids: tuple[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]+$", max_length=32)], ...] = Field(
        min_length=1, max_length=16
    )
    security_group_ids: tuple[Annotated[str, Field(pattern=r"^sg-[0-9a-f]+$", max_length=32)], ...] = Field(
        min_length=1, max_length=5
    )


class PipelineSettings(_Strict):
    base_model_id: str = DEFAULT_BASE_MODEL_ID
    inference_mode: InferenceMode = "auto"
    hyperparameters: dict[str, float] = Field(default_factory=dict)
    provisioned_model_units: int = Field(default=1, ge=1, le=10)
    system_prompt: str | None = Field(default=None, max_length=SYSTEM_PROMPT_MAX_CHARS)
    qa_keys: QaKeys = QaKeys()
    split: SplitSettings = SplitSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    polling: PollingSettings = PollingSettings()
    prices: PriceSettings = PriceSettings()
    capacity_max_lifetime_hours: float = Field(default=4, gt=0, le=72)
    # Preflight refuses a run whose estimated cost (training + capacity + evaluation) is above this; None: no gate.
    max_run_cost_usd: float | None = Field(default=None, gt=0)
    # Runs of this stack that may be active at once; Preflight rejects a run that would exceed it (lambdas/preflight).
    max_concurrent_runs: int = Field(default=1, ge=1, le=20)
    # What happens to the run's custom model (it bills storage every month) once the run has reported:
    # keep it, delete it unless the verdict is "improved", or delete it.
    custom_model_retention: Literal["keep", "delete-unless-improved", "delete"] = "keep"
    # Serving the winner (lambdas/serving): off (never), manual (the report says when a run's model is eligible and
    # gives the command), auto (an eligible model is promoted when the run reports).
    promotion: Literal["off", "manual", "auto"] = "manual"
    sweeper_interval_minutes: int = Field(default=15, ge=5, le=1_440)
    notification_email: str | None = Field(default=None, max_length=254)  # RFC 5321's longest forward-path
    customization_kms_key_arn: str | None = None
    vpc: VpcSettings | None = None

    @field_validator("hyperparameters", mode="before")
    @classmethod
    def _numbers_not_booleans(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, number in value.items():
                if isinstance(number, bool):  # JSON true would otherwise be read as 1
                    raise ValueError(f"hyperparameter {name} must be a number, not {str(number).lower()}")
        return value

    @field_validator("base_model_id")
    @classmethod
    def _known_model(cls, value: str) -> str:
        get_model(value)  # raises UnknownModelError naming the supported models
        return value

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value

    @field_validator("customization_kms_key_arn")
    @classmethod
    def _kms_arn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(KMS_KEY_ARN_PATTERN, value):
            raise ValueError(
                f"{value!r} is not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; an alias, alias ARN or "
                "bare key id is not taken: the roles' grants need the key's own ARN)"
            )
        return value

    @model_validator(mode="after")
    def _consistent_with_model(self) -> PipelineSettings:
        spec = self.model
        if PIPELINE_CUSTOMIZATION_TYPE not in spec.customization_types:
            raise ValueError(
                f"base_model_id: {spec.display_name} takes no {PIPELINE_CUSTOMIZATION_TYPE} customization (it takes "
                f"{', '.join(spec.customization_types) or 'none'})"
            )
        for name, value in self.hyperparameters.items():
            hp = spec.hyperparameter(name)
            if not hp.minimum <= value <= hp.maximum:
                raise ValueError(
                    f"hyperparameter {name}={value:g} is outside {spec.display_name}'s range "
                    f"{hp.minimum:g}..{hp.maximum:g}"
                )
            if hp.kind.value == "integer" and not float(value).is_integer():
                raise ValueError(f"hyperparameter {name} must be a whole number for {spec.display_name}")
        resolve_serving(spec, self.inference_mode)  # raises when on-demand is asked of a model without it
        if self.evaluation.judge_enabled:
            try:
                resolve_judge_invocation_id(self.evaluation.judge_model_id, None)  # an unknown judge is refused
            except JudgeNotInvocableError as error:
                raise ValueError(f"evaluation.judge_model_id: {error}") from None
        return self

    @property
    def model(self) -> ModelSpec:
        return get_model(self.base_model_id)

    def problems_starting(self, *, region: str | None, today: date | None = None) -> list[SettingProblem]:
        """What stops a deploy or a run with these settings from working in ``region`` on ``today``.

        Not a validator on purpose: settings are parsed again by every function of a running stack (the sweeper,
        the capacity delete, the report), and those must keep working after a model's Legacy or end-of-life date
        passes; only starting something new is refused. ``region`` None (an environment-agnostic synth) skips the
        region checks; ``today`` defaults to ``lambdas.clock``'s day.
        """
        day = today or utc_now().date()
        spec = self.model
        problems: list[SettingProblem] = []
        refusal = spec.why_no_new_job(day)
        if refusal is not None:
            problems.append(SettingProblem("base_model_id", refusal))
        elif region is not None and region not in spec.regions:
            problems.append(
                SettingProblem(
                    "base_model_id",
                    f"{spec.display_name} can be fine-tuned only in {', '.join(spec.regions)}, but the stack is "
                    f"being deployed to {region}",
                )
            )
        if self.evaluation.judge_enabled:
            try:
                resolve_judge_invocation_id(self.evaluation.judge_model_id, region, today=day)
            except JudgeNotInvocableError as error:
                problems.append(SettingProblem("evaluation.judge_model_id", str(error)))
        return problems

    def resolved_hyperparameters(self) -> dict[str, str]:
        """Registry defaults overlaid with the configured values, as the strings Bedrock expects."""
        spec = self.model
        values = spec.default_hyperparameters()
        for name, value in self.hyperparameters.items():
            values[name] = spec.hyperparameter(name).format(value)
        return values


class SettingProblem(NamedTuple):
    """One reason the settings cannot work, with the setting it concerns (``evaluation.judge_model_id``)."""

    setting: str
    message: str


class RuntimeEnvironment(BaseModel):
    """The resource names a Lambda function is given through its environment."""

    model_config = ConfigDict(frozen=True)

    bucket: str = Field(alias="DATA_BUCKET")
    stack_name: str = Field(default="FineTuningStack", alias="STACK_NAME")
    bedrock_role_arn: str = Field(default="", alias="BEDROCK_ROLE_ARN")
    topic_arn: str = Field(default="", alias="NOTIFICATION_TOPIC_ARN")
    state_machine_arn: str = Field(default="", alias="STATE_MACHINE_ARN")
    # The settings are not in any environment (Lambda caps one at 4 KB): the trigger reads them from this SSM
    # parameter and copies them into each run's input; the sweeper is given the one setting it needs.
    settings_parameter: str = Field(default="", alias="SETTINGS_PARAMETER")
    capacity_max_lifetime_hours: float = Field(
        default=PipelineSettings.model_fields["capacity_max_lifetime_hours"].default,
        gt=0,
        alias="CAPACITY_MAX_LIFETIME_HOURS",
    )
    bedrock_emulated: bool = Field(default=False, alias="BEDROCK_EMULATED")  # set only by the local harness

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> RuntimeEnvironment:
        return cls.model_validate(dict(os.environ if environ is None else environ))
