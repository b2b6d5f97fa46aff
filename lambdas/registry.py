"""The supported base models for Bedrock fine-tuning, as data.

Every difference between model families (dataset format, record limits, reserved strings, hyperparameter ranges,
regions, how the customized model is served) lives here, so adding a model is one entry. Figures come from the AWS
documentation as summarised in BEDROCK_FACTS.md; where the live service disagrees, the service wins and this file is
the one place to change.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class DataFormat(StrEnum):
    """The JSONL record shape a base model's customization job accepts."""

    ANTHROPIC_MESSAGES = "anthropic-messages"  # {"system": str?, "messages": [{"role", "content": str}]}
    BEDROCK_CONVERSATION = "bedrock-conversation"  # {"schemaVersion", "system": [{"text"}], "messages": [...]}
    PROMPT_COMPLETION = "prompt-completion"  # {"prompt": str, "completion": str}


class Serving(StrEnum):
    """How a customized model can be invoked."""

    PROVISIONED_THROUGHPUT = "provisioned-throughput"
    CUSTOM_MODEL_DEPLOYMENT = "custom-model-deployment"  # on demand, billed per token


class HyperparameterKind(StrEnum):
    INTEGER = "integer"
    FLOAT = "float"


class HyperparameterSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    kind: HyperparameterKind
    minimum: float
    maximum: float
    default: float

    def format(self, value: float) -> str:
        """Bedrock takes hyperparameters as strings."""
        if self.kind is HyperparameterKind.INTEGER:
            return str(int(value))
        return repr(float(value)) if not float(value).is_integer() else str(float(value))


class DatasetLimits(BaseModel):
    """Record-count, size and token limits. ``None`` means Bedrock documents no limit."""

    model_config = ConfigDict(frozen=True)

    training_min_records: int | None
    training_max_records: int | None
    validation_min_records: int | None
    validation_max_records: int | None
    total_min_records: int | None
    total_max_records: int | None
    max_tokens_per_record: int
    training_file_max_bytes: int | None
    validation_file_max_bytes: int | None


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str
    display_name: str
    family: str
    data_format: DataFormat
    regions: tuple[str, ...]
    base_inference_model_id: str  # the id used to ask the *base* model questions through Converse
    limits: DatasetLimits
    reserved_strings: tuple[str, ...]
    hyperparameters: tuple[HyperparameterSpec, ...]
    serving: tuple[Serving, ...]  # in order of preference for inference mode "auto"
    system_prompt_supported: bool = True
    system_prompt_recommended: bool = False  # the validator warns about records without one
    media_supported: bool = False
    file_name_pattern: str | None = None  # Nova restricts S3 object names
    legacy: bool = False
    end_of_life: date | None = None
    notes: str = ""

    def hyperparameter(self, name: str) -> HyperparameterSpec:
        for spec in self.hyperparameters:
            if spec.name == name:
                return spec
        raise UnknownHyperparameterError(self.model_id, name, [spec.name for spec in self.hyperparameters])

    def default_hyperparameters(self) -> dict[str, str]:
        return {spec.name: spec.format(spec.default) for spec in self.hyperparameters}

    @property
    def supports_on_demand(self) -> bool:
        return Serving.CUSTOM_MODEL_DEPLOYMENT in self.serving


class UnknownModelError(ValueError):
    def __init__(self, model_id: str) -> None:
        supported = ", ".join(sorted(MODELS))
        super().__init__(f"unknown base model id {model_id!r}; supported fine-tuning base models: {supported}")
        self.model_id = model_id


class UnknownHyperparameterError(ValueError):
    def __init__(self, model_id: str, name: str, known: list[str]) -> None:
        super().__init__(f"{model_id} has no hyperparameter {name!r}; it takes: {', '.join(known)}")


def _int(name: str, minimum: float, maximum: float, default: float) -> HyperparameterSpec:
    return HyperparameterSpec(
        name=name, kind=HyperparameterKind.INTEGER, minimum=minimum, maximum=maximum, default=default
    )


def _float(name: str, minimum: float, maximum: float, default: float) -> HyperparameterSpec:
    return HyperparameterSpec(
        name=name, kind=HyperparameterKind.FLOAT, minimum=minimum, maximum=maximum, default=default
    )


_GB = 1024**3
_MB = 1024**2

_CLAUDE_HAIKU_LIMITS = DatasetLimits(
    training_min_records=32,
    training_max_records=10_000,
    validation_min_records=32,
    validation_max_records=1_000,
    total_min_records=32,
    total_max_records=10_000,
    max_tokens_per_record=32_000,
    training_file_max_bytes=10 * _GB,
    validation_file_max_bytes=1 * _GB,
)
_NOVA_LIMITS = DatasetLimits(
    training_min_records=8,
    training_max_records=20_000,
    validation_min_records=None,
    validation_max_records=None,
    total_min_records=8,
    total_max_records=20_000,
    max_tokens_per_record=32_000,
    training_file_max_bytes=None,
    validation_file_max_bytes=None,
)


def _llama_limits(max_tokens: int) -> DatasetLimits:
    return DatasetLimits(
        training_min_records=None,
        training_max_records=None,
        validation_min_records=None,
        validation_max_records=None,
        total_min_records=100,
        total_max_records=10_000,
        max_tokens_per_record=max_tokens,
        training_file_max_bytes=None,
        validation_file_max_bytes=None,
    )


_TITAN_LIMITS = DatasetLimits(
    training_min_records=None,
    training_max_records=None,
    validation_min_records=None,
    validation_max_records=None,
    total_min_records=None,
    total_max_records=None,
    max_tokens_per_record=4_096,
    training_file_max_bytes=1 * _GB,
    validation_file_max_bytes=100 * _MB,
)

_CLAUDE_HAIKU_HYPERPARAMETERS = (
    _int("epochCount", 1, 10, 2),
    _int("batchSize", 4, 256, 32),
    _float("learningRateMultiplier", 0.1, 2, 1),
    _float("earlyStoppingThreshold", 0, 0.1, 0.001),
    _int("earlyStoppingPatience", 1, 10, 2),
)
_NOVA_HYPERPARAMETERS = (
    _int("epochCount", 1, 5, 2),
    _float("learningRate", 1e-6, 1e-4, 1e-5),
    _int("learningRateWarmupSteps", 0, 100, 10),
)
_LLAMA_HYPERPARAMETERS = (
    _int("epochCount", 1, 10, 5),
    _int("batchSize", 1, 1, 1),
    _float("learningRate", 5e-6, 0.1, 1e-4),
)
_TITAN_HYPERPARAMETERS = (
    _int("epochCount", 1, 10, 5),
    _int("batchSize", 1, 64, 1),
    _float("learningRate", 0, 1, 1e-5),
    _int("learningRateWarmupSteps", 0, 250, 5),
)

_CLAUDE_RESERVED = ("\nHuman:", "\nAssistant:")
_NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
_NOVA_FILE_NAMES = r"^[A-Za-z0-9_\-/.]+$"


def _nova(size: str, context: str, *, media: bool) -> ModelSpec:
    return ModelSpec(
        model_id=f"amazon.nova-{size}-v1:0:{context}",
        display_name=f"Amazon Nova {size.capitalize()}",
        family="amazon-nova",
        data_format=DataFormat.BEDROCK_CONVERSATION,
        regions=("us-east-1",),
        base_inference_model_id=f"amazon.nova-{size}-v1:0",
        limits=_NOVA_LIMITS,
        reserved_strings=_NOVA_RESERVED,
        hyperparameters=_NOVA_HYPERPARAMETERS,
        serving=(Serving.CUSTOM_MODEL_DEPLOYMENT, Serving.PROVISIONED_THROUGHPUT),
        media_supported=media,
        file_name_pattern=_NOVA_FILE_NAMES,
        notes="On-demand custom model deployment supported for models customized on or after 2025-07-16.",
    )


def _llama31(size: str) -> ModelSpec:
    return ModelSpec(
        model_id=f"meta.llama3-1-{size}-instruct-v1:0:128k",
        display_name=f"Meta Llama 3.1 {size.upper()} Instruct",
        family="meta-llama-3.1",
        data_format=DataFormat.PROMPT_COMPLETION,
        regions=("us-west-2",),
        base_inference_model_id=f"meta.llama3-1-{size}-instruct-v1:0",
        limits=_llama_limits(16_000),
        reserved_strings=(),
        hyperparameters=_LLAMA_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        system_prompt_supported=False,
    )


def _llama32(size: str) -> ModelSpec:
    return ModelSpec(
        model_id=f"meta.llama3-2-{size}-instruct-v1:0:128k",
        display_name=f"Meta Llama 3.2 {size.upper()} Instruct",
        family="meta-llama-3.2",
        data_format=DataFormat.BEDROCK_CONVERSATION,
        regions=("us-west-2",),
        base_inference_model_id=f"meta.llama3-2-{size}-instruct-v1:0",
        limits=_llama_limits(10_000 if size == "90b" else 16_000),
        reserved_strings=(),
        hyperparameters=_LLAMA_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        media_supported=size in ("11b", "90b"),
    )


def _titan(variant: str, context: str) -> ModelSpec:
    return ModelSpec(
        model_id=f"amazon.titan-text-{variant}-v1:0:{context}",
        display_name=f"Amazon Titan Text {variant.capitalize()}",
        family="amazon-titan-text",
        data_format=DataFormat.PROMPT_COMPLETION,
        regions=("us-east-1", "us-west-2"),
        base_inference_model_id=f"amazon.titan-text-{variant}-v1",
        limits=_TITAN_LIMITS,
        reserved_strings=(),
        hyperparameters=_TITAN_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        system_prompt_supported=False,
    )


_ALL: tuple[ModelSpec, ...] = (
    ModelSpec(
        model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
        display_name="Anthropic Claude 3 Haiku",
        family="anthropic-claude-3",
        data_format=DataFormat.ANTHROPIC_MESSAGES,
        regions=("us-west-2",),
        base_inference_model_id="anthropic.claude-3-haiku-20240307-v1:0",
        limits=_CLAUDE_HAIKU_LIMITS,
        reserved_strings=_CLAUDE_RESERVED,
        hyperparameters=_CLAUDE_HAIKU_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        system_prompt_recommended=True,
        legacy=True,
        end_of_life=date(2026, 9, 10),
        notes="The reference study's model. Legacy: AWS lists its end of life as 2026-09-10.",
    ),
    _nova("micro", "128k", media=False),
    _nova("lite", "300k", media=True),
    _nova("pro", "300k", media=True),
    _llama31("8b"),
    _llama31("70b"),
    _llama32("1b"),
    _llama32("3b"),
    _llama32("11b"),
    _llama32("90b"),
    _titan("express", "8k"),
    _titan("lite", "4k"),
)

MODELS: dict[str, ModelSpec] = {spec.model_id: spec for spec in _ALL}

DEFAULT_BASE_MODEL_ID = "amazon.nova-lite-v1:0:300k"
REFERENCE_STUDY_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def get_model(model_id: str) -> ModelSpec:
    try:
        return MODELS[model_id]
    except KeyError:
        raise UnknownModelError(model_id) from None


def resolve_serving(spec: ModelSpec, inference_mode: str) -> Serving:
    """Pick how the customized model will be served for an inference mode of ``provisioned|on-demand|auto``."""
    if inference_mode == "provisioned":
        return Serving.PROVISIONED_THROUGHPUT
    if inference_mode == "on-demand":
        if not spec.supports_on_demand:
            raise ValueError(
                f"{spec.model_id} cannot be served on demand after customization; "
                "use inference mode 'provisioned' or 'auto'"
            )
        return Serving.CUSTOM_MODEL_DEPLOYMENT
    if inference_mode == "auto":
        return spec.serving[0]
    raise ValueError(f"unknown inference mode {inference_mode!r}; use provisioned, on-demand or auto")


# ------------------------------------------------------------------------------------------------------ judges
class JudgeSpec(BaseModel):
    """A model that may grade answers, and how to invoke it on demand from each region.

    ``invocation_ids`` maps a region to the modelId Converse takes there: the plain foundation-model id where the
    model is served in that region, otherwise the geography's cross-region inference profile. Sources (checked
    2026-12-03): Amazon Bedrock User Guide, "Supported Regions and models for batch inference" (foundation-model vs
    inference-profile regions per model) and "Supported Regions and models for inference profiles"
    (docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html).
    """

    model_config = ConfigDict(frozen=True)

    model_id: str
    display_name: str
    family: str  # compared with the tuned model's family: a judge of the same family may prefer its own kin
    invocation_ids: dict[str, str]

    def invocation_id(self, region: str) -> str | None:
        return self.invocation_ids.get(region)


_US_PROFILE_REGIONS = ("us-east-1", "us-east-2", "us-west-2")

JUDGES: dict[str, JudgeSpec] = {
    spec.model_id: spec
    for spec in (
        JudgeSpec(
            model_id="amazon.nova-pro-v1:0",
            display_name="Amazon Nova Pro",
            family="amazon-nova",
            # Plain id on demand in us-east-1 only; the US profile from us-east-2 and us-west-2.
            invocation_ids={
                "us-east-1": "amazon.nova-pro-v1:0",
                "us-east-2": "us.amazon.nova-pro-v1:0",
                "us-west-2": "us.amazon.nova-pro-v1:0",
            },
        ),
        JudgeSpec(
            model_id="amazon.nova-premier-v1:0",
            display_name="Amazon Nova Premier",
            family="amazon-nova",
            invocation_ids=dict.fromkeys(_US_PROFILE_REGIONS, "us.amazon.nova-premier-v1:0"),  # profile only
        ),
        JudgeSpec(
            model_id="anthropic.claude-sonnet-4-20250514-v1:0",
            display_name="Anthropic Claude Sonnet 4",
            family="anthropic-claude",
            invocation_ids=dict.fromkeys(_US_PROFILE_REGIONS, "us.anthropic.claude-sonnet-4-20250514-v1:0"),
        ),
    )
}
DEFAULT_JUDGE_MODEL_ID = "amazon.nova-pro-v1:0"
# Inference profile ids start with a geography (or "global"); ARNs name a profile or model the user chose.
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")


class JudgeNotInvocableError(ValueError):
    """The judge cannot be invoked on demand from the stack's region."""


def resolve_judge_invocation_id(judge_model_id: str, region: str | None) -> str:
    """The modelId the judge is invoked with from ``region``.

    A registry judge resolves to its per-region id (refused where it has none); an inference profile id or an ARN is
    taken as given (the user chose it). With no region known (an environment-agnostic synth), the registry id is
    kept and resolution happens at run time in the function's region.
    """
    if judge_model_id.startswith(_PROFILE_PREFIXES) or judge_model_id.startswith("arn:"):
        return judge_model_id
    spec = JUDGES.get(judge_model_id)
    if spec is None:
        known = ", ".join(sorted(JUDGES))
        raise JudgeNotInvocableError(
            f"unknown judge {judge_model_id!r}: use one of {known}, an inference profile id (e.g. "
            "us.amazon.nova-pro-v1:0) or an inference profile ARN"
        )
    if region is None:
        return judge_model_id
    invocation = spec.invocation_id(region)
    if invocation is None:
        raise JudgeNotInvocableError(
            f"judge {spec.display_name} ({judge_model_id}) cannot be invoked on demand from {region}; "
            f"it can from {', '.join(sorted(spec.invocation_ids))}"
        )
    return invocation


def judge_family(judge_model_id: str) -> str | None:
    """The judge's model family, for the self-preference warning (profile ids and ARNs are matched by their id)."""
    bare = judge_model_id.rsplit("/", 1)[-1]
    for prefix in _PROFILE_PREFIXES:
        bare = bare.removeprefix(prefix)
    spec = JUDGES.get(bare)
    if spec is not None:
        return spec.family
    for family, marker in (
        ("amazon-nova", "amazon.nova"),
        ("anthropic-claude", "anthropic.claude"),
        ("meta-llama", "meta.llama"),
    ):
        if bare.startswith(marker):
            return family
    return None


def same_family(judge_model_id: str, tuned: ModelSpec) -> bool:
    family = judge_family(judge_model_id)
    return family is not None and tuned.family.startswith(family)


def alternative_judge(tuned: ModelSpec) -> JudgeSpec:
    """A registry judge of another family than the tuned model's."""
    return next(spec for spec in JUDGES.values() if not tuned.family.startswith(spec.family))
