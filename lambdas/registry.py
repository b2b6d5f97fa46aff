"""The supported base models for Bedrock fine-tuning, and the judges, as data.

Every difference between model families (dataset format, record limits, reserved strings, hyperparameter ranges,
the regions that customize it, its customization types, how the customized model is served, the id that invokes the
base model from each region, its Legacy and end-of-life dates, list prices) lives here, so adding a model is one
entry. Each fact names its source in ``SOURCES`` with the day it was checked; where the live service disagrees, the
service wins and this file is the one place to change. ``python -m tuner models`` prints it.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdas.clock import utc_now


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


class CustomizationType(StrEnum):
    """``CustomizationType`` of the botocore ``bedrock`` service model (2023-04-20, botocore 1.44.5)."""

    FINE_TUNING = "FINE_TUNING"
    CONTINUED_PRE_TRAINING = "CONTINUED_PRE_TRAINING"
    DISTILLATION = "DISTILLATION"
    REINFORCEMENT_FINE_TUNING = "REINFORCEMENT_FINE_TUNING"
    IMPORTED = "IMPORTED"


# The customization this pipeline runs (CreateModelCustomizationJob's customizationType).
PIPELINE_CUSTOMIZATION_TYPE = CustomizationType.FINE_TUNING


class Lifecycle(StrEnum):
    """A base model's state on Bedrock on a given day (the user guide's "Model lifecycle")."""

    ACTIVE = "active"
    LEGACY = "legacy"  # still answers, but Bedrock starts no new fine-tuning job or Provisioned Throughput for it
    END_OF_LIFE = "end-of-life"  # requests to it fail


class Source(BaseModel):
    """Where a fact comes from, and the day it was last checked against that source."""

    model_config = ConfigDict(frozen=True)

    title: str
    url: str
    checked: date


_CHECKED = date(2026, 12, 3)  # the day every source below was last read
_USER_GUIDE = "https://docs.aws.amazon.com/bedrock/latest/userguide/"


def _doc(title: str, page: str) -> Source:
    return Source(title=f"Amazon Bedrock User Guide: {title}", url=_USER_GUIDE + page, checked=_CHECKED)


SOURCES: dict[str, Source] = {
    "fine-tuning": _doc("Supported models and Regions for fine-tuning", "custom-model-fine-tuning.html"),
    "customization-types": Source(
        title="botocore bedrock service model 2023-04-20 (botocore 1.44.5), shape CustomizationType",
        url="https://github.com/boto/botocore/blob/develop/botocore/data/bedrock/2023-04-20/service-2.json",
        checked=_CHECKED,
    ),
    "lifecycle": _doc(
        "Model lifecycle (Legacy and EOL tables: a Legacy model gets no new fine-tuning job or throughput)",
        "model-lifecycle.html",
    ),
    "provisioned-throughput": _doc(
        "Supported Region and models for Provisioned Throughput", "prov-thru-supported.html"
    ),
    "on-demand-deployment": _doc("Deploy a custom model for on-demand inference", "deploy-custom-model-on-demand.html"),
    "invocation-nova": _doc(
        "Supported Regions and models for batch inference (foundation-model vs inference-profile Regions)",
        "batch-inference-supported.html",
    ),
    "invocation-meta-anthropic": _doc(
        "Understanding intelligent prompt routing (foundation-model vs inference-profile Regions)",
        "prompt-routing.html",
    ),
    "prices": Source(
        title="Amazon Bedrock pricing (the user guide only links it; its figures are rendered client-side, so the "
        "figures in this file come from the dated copies of it and of the AWS Price List below)",
        url="https://aws.amazon.com/bedrock/pricing/",
        checked=_CHECKED,
    ),
    # Each price source's ``checked`` is the day its copy shows, not the day it was read (2026-12-03).
    "prices-price-list-2026-09": Source(
        title="AWS Price List Bulk API, offer AmazonBedrock, us-east-1, publication 2026-09-01T20:50:51Z, as "
        "transcribed in github.com/api-evangelist/amazon-nova plans/amazon-nova-plans-pricing.yml: Nova on-demand "
        "input/output per 1,000 tokens; Nova Micro/Lite/Pro model units 60.50 USD per hour with no commitment",
        url="https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonBedrock/current/us-east-1/index.json",
        checked=date(2026, 9, 1),
    ),
    "prices-page-copy-2025-07": Source(
        title="Amazon Bedrock pricing page, copy dated 2025-07-20 (github.com/convo-lang/convo-lang "
        "packages/convo-lang-bedrock/bedrock-pricing.md): on-demand per 1,000 input/output tokens of Meta Llama and "
        "Claude 3 Haiku; the copy names no Region (the page showed its US prices)",
        url="https://github.com/convo-lang/convo-lang/blob/091db5838d43329ba83c26c8bcf77a6216c0a624/packages/"
        "convo-lang-bedrock/bedrock-pricing.md",
        checked=date(2025, 7, 20),
    ),
    "prices-toolkit-2026-10": Source(
        title="github.com/aws/agent-toolkit-for-aws llm-to-bedrock bedrock_pricing.py, verified 2026-10-05 against "
        "aws.amazon.com/bedrock/pricing: Claude Haiku 4.5 through a US geographic (us.) inference profile, 10% over "
        "the global rate, the same from every US Region",
        url="https://github.com/aws/agent-toolkit-for-aws/blob/121e03dba4dd7241562cd40908892e95622d1cf0/plugins/"
        "aws-startup-advisor/skills/llm-to-bedrock/scripts/bedrock_pricing.py",
        checked=date(2026, 10, 5),
    ),
    "prices-custom-nova-on-demand": Source(
        title="AWS Machine Learning Blog, Customize Amazon Nova models with Amazon Bedrock fine-tuning: a customized "
        "Nova model invoked on demand is billed per call at the standard rate for the model",
        url="https://aws.amazon.com/blogs/machine-learning/customize-amazon-nova-models-with-amazon-bedrock-fine-tuning",
        checked=_CHECKED,
    ),
    "claude-3-haiku-card": _doc(
        "Model card: Claude 3 Haiku (EOL 2026-09-10)", "model-card-anthropic-claude-3-haiku.html"
    ),
    "claude-haiku-4-5-card": _doc(
        "Model card: Claude Haiku 4.5 (Active; geographic inference id us.anthropic.claude-haiku-4-5-20251001-v1:0)",
        "model-card-anthropic-claude-haiku-4-5.html",
    ),
}


class ListPrice(BaseModel):
    """One list price in USD and where it was read (``source.checked``: the day the copy it was read from shows)."""

    model_config = ConfigDict(frozen=True)

    usd: float = Field(ge=0)
    source: Source


class ListPrices(BaseModel):
    """A model's list prices in one Region, for estimates only (``lambdas.pricing`` puts the ``prices`` setting on
    top). ``None``: no dated source gave the figure (``note`` says so); nothing here is guessed."""

    model_config = ConfigDict(frozen=True)

    training_per_1k_tokens: ListPrice | None = None  # billed tokens: training tokens x epochs
    provisioned_throughput_per_model_unit_hour: ListPrice | None = None  # no commitment, per started hour
    on_demand_input_per_1k_tokens: ListPrice | None = None  # the base model's; also a custom Nova deployment's
    on_demand_output_per_1k_tokens: ListPrice | None = None
    custom_model_storage_per_month: ListPrice | None = None
    note: str = ""


def _price(usd: float, source: str) -> ListPrice:
    return ListPrice(usd=usd, source=SOURCES[source])


# Searched 2026-12-03 (copies of aws.amazon.com/bedrock/pricing, the AWS Price List, public price tables): no dated
# copy gave the model customization figures (training per 1,000 tokens, custom model storage per month) of Nova or
# Llama 3.1, nor a Llama or Claude 3 Haiku model unit hour. They stay None until read from a source; set them with
# fine_tuning.prices (training_usd_per_1k_tokens, custom_model_storage_usd_per_month, ...).
_NO_CUSTOMIZATION_PRICES = (
    "training per 1,000 tokens and custom model storage per month: no dated copy of the pricing page gave them "
    "(searched 2026-12-03); set fine_tuning.prices to estimate them"
)


class ModelNotInRegionError(ValueError):
    """The base model cannot be customized (so is not served for this pipeline) in the region."""


class ModelSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_id: str  # the customizable variant CreateModelCustomizationJob takes, e.g. amazon.nova-lite-v1:0:300k
    foundation_model_id: str  # the plain foundation-model id, e.g. amazon.nova-lite-v1:0
    display_name: str
    family: str
    data_format: DataFormat
    regions: tuple[str, ...]  # where Bedrock customizes it
    customization_types: tuple[CustomizationType, ...]
    # The modelId that asks the *base* model questions through Converse from each customization region: the plain
    # id where it is served on demand in that region, otherwise the geography's cross-Region inference profile.
    invocation_ids: dict[str, str]
    limits: DatasetLimits
    reserved_strings: tuple[str, ...]
    hyperparameters: tuple[HyperparameterSpec, ...]
    serving: tuple[Serving, ...]  # in order of preference for inference mode "auto"
    system_prompt_supported: bool = True
    system_prompt_recommended: bool = False  # the validator warns about records without one
    media_supported: bool = False
    file_name_pattern: str | None = None  # Nova restricts S3 object names
    legacy_since: date | None = None  # from this day Bedrock starts no new fine-tuning job or throughput for it
    end_of_life: date | None = None  # from this day requests to it fail
    prices: dict[str, ListPrices] = {}  # Region -> list prices there (``lambdas.pricing.list_prices`` reads them)
    sources: dict[str, Source] = {}  # fact -> where it comes from
    notes: str = ""

    @model_validator(mode="after")
    def _invocable_wherever_customizable(self) -> ModelSpec:
        missing = [region for region in self.regions if region not in self.invocation_ids]
        if missing:
            raise ValueError(f"{self.model_id}: no base-model invocation id for {', '.join(missing)}")
        priced_elsewhere = sorted(set(self.prices) - set(self.regions))
        if priced_elsewhere:
            raise ValueError(f"{self.model_id}: prices for {', '.join(priced_elsewhere)}, where it is not customized")
        return self

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

    def base_invocation_id(self, region: str | None) -> str:
        """The Converse ``modelId`` of the base model from ``region``: its plain id or an inference profile.

        With no region known (an environment-agnostic synth) the plain foundation-model id; the functions resolve it
        again in their own region at run time.
        """
        if region is None:
            return self.foundation_model_id
        invocation = self.invocation_ids.get(region)
        if invocation is None:
            raise ModelNotInRegionError(
                f"{self.display_name} ({self.model_id}) can be fine-tuned only in {', '.join(self.regions)}, "
                f"not in {region}"
            )
        return invocation

    def lifecycle(self, today: date) -> Lifecycle:
        if self.end_of_life is not None and today >= self.end_of_life:
            return Lifecycle.END_OF_LIFE
        if self.legacy_since is not None and today >= self.legacy_since:
            return Lifecycle.LEGACY
        return Lifecycle.ACTIVE

    def why_no_new_job(self, today: date) -> str | None:
        """Why Bedrock would refuse to start a fine-tuning job (or capacity) for this model today; ``None`` if not."""
        state = self.lifecycle(today)
        if state is Lifecycle.END_OF_LIFE:
            return (
                f"{self.display_name} ({self.model_id}) reached its end of life on {self.end_of_life}: Bedrock "
                "answers no request for it, so no fine-tuning job can start"
            )
        if state is Lifecycle.LEGACY:
            return (
                f"{self.display_name} ({self.model_id}) is Legacy since {self.legacy_since} (end of life "
                f"{self.end_of_life or 'not announced'}): Bedrock creates no new fine-tuning job or Provisioned "
                "Throughput for a Legacy model"
            )
        if PIPELINE_CUSTOMIZATION_TYPE not in self.customization_types:
            return f"{self.display_name} ({self.model_id}) cannot be customized by {PIPELINE_CUSTOMIZATION_TYPE}"
        return None


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

_CLAUDE_RESERVED = ("\nHuman:", "\nAssistant:")
_NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
_NOVA_FILE_NAMES = r"^[A-Za-z0-9_\-/.]+$"

_FINE_TUNING_ONLY = (CustomizationType.FINE_TUNING,)


def _sources(**facts: str) -> dict[str, Source]:
    return {fact: SOURCES[key] for fact, key in facts.items()}


def _nova_prices(input_per_1k: float, output_per_1k: float) -> dict[str, ListPrices]:
    return {
        "us-east-1": ListPrices(
            provisioned_throughput_per_model_unit_hour=_price(60.50, "prices-price-list-2026-09"),
            on_demand_input_per_1k_tokens=_price(input_per_1k, "prices-price-list-2026-09"),
            on_demand_output_per_1k_tokens=_price(output_per_1k, "prices-price-list-2026-09"),
            note="on demand, a custom Nova deployment bills at the base model's rate "
            f"({SOURCES['prices-custom-nova-on-demand'].url}); {_NO_CUSTOMIZATION_PRICES}",
        )
    }


def _on_demand_prices(region: str, input_per_1k: float, output_per_1k: float, source: str) -> dict[str, ListPrices]:
    return {
        region: ListPrices(
            on_demand_input_per_1k_tokens=_price(input_per_1k, source),
            on_demand_output_per_1k_tokens=_price(output_per_1k, source),
            note="model unit hour: no dated source found; " + _NO_CUSTOMIZATION_PRICES,
        )
    }


def _nova(size: str, context: str, *, media: bool, prices: dict[str, ListPrices]) -> ModelSpec:
    plain = f"amazon.nova-{size}-v1:0"
    return ModelSpec(
        model_id=f"{plain}:{context}",
        foundation_model_id=plain,
        display_name=f"Amazon Nova {size.capitalize()}",
        family="amazon-nova",
        data_format=DataFormat.BEDROCK_CONVERSATION,
        regions=("us-east-1",),
        customization_types=_FINE_TUNING_ONLY,
        # Served on demand by its plain id in us-east-1 (elsewhere only through the us. profile).
        invocation_ids={"us-east-1": plain},
        limits=_NOVA_LIMITS,
        reserved_strings=_NOVA_RESERVED,
        hyperparameters=_NOVA_HYPERPARAMETERS,
        serving=(Serving.CUSTOM_MODEL_DEPLOYMENT, Serving.PROVISIONED_THROUGHPUT),
        media_supported=media,
        file_name_pattern=_NOVA_FILE_NAMES,
        prices=prices,
        sources=_sources(
            regions="fine-tuning",
            customization_types="customization-types",
            invocation_ids="invocation-nova",
            lifecycle="lifecycle",
            serving="on-demand-deployment",
            provisioned_throughput="provisioned-throughput",
        ),
        notes="Active (not in the Legacy/EOL tables). On-demand custom model deployment for models customized on or "
        "after 2025-07-16, in us-east-1.",
    )


def _llama31(size: str, prices: dict[str, ListPrices]) -> ModelSpec:
    plain = f"meta.llama3-1-{size}-instruct-v1:0"
    return ModelSpec(
        model_id=f"{plain}:128k",
        foundation_model_id=plain,
        display_name=f"Meta Llama 3.1 {size.upper()} Instruct",
        family="meta-llama-3.1",
        data_format=DataFormat.PROMPT_COMPLETION,
        regions=("us-west-2",),
        customization_types=_FINE_TUNING_ONLY,
        invocation_ids={"us-west-2": plain},  # foundation-model Region us-west-2: the plain id answers on demand
        limits=_llama_limits(16_000),
        reserved_strings=(),
        hyperparameters=_LLAMA_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        system_prompt_supported=False,
        prices=prices,
        sources=_sources(
            regions="fine-tuning",
            customization_types="customization-types",
            invocation_ids="invocation-meta-anthropic",
            lifecycle="lifecycle",
            serving="provisioned-throughput",
        ),
        notes="Active (Llama 3.1 405B is Legacy; 8B and 70B are not in the Legacy/EOL tables).",
    )


def _llama32(size: str, prices: dict[str, ListPrices]) -> ModelSpec:
    plain = f"meta.llama3-2-{size}-instruct-v1:0"
    return ModelSpec(
        model_id=f"{plain}:128k",
        foundation_model_id=plain,
        display_name=f"Meta Llama 3.2 {size.upper()} Instruct",
        family="meta-llama-3.2",
        data_format=DataFormat.BEDROCK_CONVERSATION,
        regions=("us-west-2",),
        customization_types=_FINE_TUNING_ONLY,
        # No foundation-model Region: on demand only through the US cross-Region inference profile.
        invocation_ids={"us-west-2": f"us.{plain}"},
        limits=_llama_limits(10_000 if size == "90b" else 16_000),
        reserved_strings=(),
        hyperparameters=_LLAMA_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        media_supported=size in ("11b", "90b"),
        legacy_since=date(2026, 1, 7),
        end_of_life=date(2026, 7, 7),
        prices=prices,
        sources=_sources(
            regions="fine-tuning",
            customization_types="customization-types",
            invocation_ids="invocation-meta-anthropic",
            lifecycle="lifecycle",
            serving="provisioned-throughput",
        ),
        notes="Legacy since 2026-01-07, end of life 2026-07-07 (the fine-tuning table still lists it). Kept so that "
        "its datasets validate and its facts stay on record; synth and runs refuse it.",
    )


_ALL: tuple[ModelSpec, ...] = (
    ModelSpec(
        model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
        foundation_model_id="anthropic.claude-3-haiku-20240307-v1:0",
        display_name="Anthropic Claude 3 Haiku",
        family="anthropic-claude-3",
        data_format=DataFormat.ANTHROPIC_MESSAGES,
        regions=("us-west-2",),
        customization_types=_FINE_TUNING_ONLY,
        invocation_ids={"us-west-2": "anthropic.claude-3-haiku-20240307-v1:0"},
        limits=_CLAUDE_HAIKU_LIMITS,
        reserved_strings=_CLAUDE_RESERVED,
        hyperparameters=_CLAUDE_HAIKU_HYPERPARAMETERS,
        serving=(Serving.PROVISIONED_THROUGHPUT,),
        system_prompt_recommended=True,
        legacy_since=date(2026, 3, 10),
        end_of_life=date(2026, 9, 10),
        # The reference study paid about $132 an hour for one model unit: an order of magnitude, not a list price.
        prices=_on_demand_prices("us-west-2", 0.00025, 0.00125, "prices-page-copy-2025-07"),
        sources=_sources(
            regions="fine-tuning",
            customization_types="customization-types",
            invocation_ids="invocation-meta-anthropic",
            lifecycle="claude-3-haiku-card",
            serving="provisioned-throughput",
        ),
        notes="The reference study's model: its format is kept so the study's data still validates. Legacy since "
        "2026-03-10, end of life 2026-09-10: no new job starts.",
    ),
    _nova("micro", "128k", media=False, prices=_nova_prices(0.000035, 0.00014)),
    _nova("lite", "300k", media=True, prices=_nova_prices(0.00006, 0.00024)),
    _nova("pro", "300k", media=True, prices=_nova_prices(0.0008, 0.0032)),
    _llama31("8b", _on_demand_prices("us-west-2", 0.00022, 0.00022, "prices-page-copy-2025-07")),
    _llama31("70b", _on_demand_prices("us-west-2", 0.00072, 0.00072, "prices-page-copy-2025-07")),
    _llama32("1b", _on_demand_prices("us-west-2", 0.0001, 0.0001, "prices-page-copy-2025-07")),
    _llama32("3b", _on_demand_prices("us-west-2", 0.00015, 0.00015, "prices-page-copy-2025-07")),
    _llama32("11b", _on_demand_prices("us-west-2", 0.00016, 0.00016, "prices-page-copy-2025-07")),
    _llama32("90b", _on_demand_prices("us-west-2", 0.00072, 0.00072, "prices-page-copy-2025-07")),
    # Amazon Titan Text Express and Lite are not here: neither is in the user guide's fine-tuning table (checked
    # 2026-12-03, custom-model-fine-tuning.html), nor in the Provisioned Throughput table a customized model needs
    # (prov-thru-supported.html). A registry entry that no job can use would only let synth accept it.
)

MODELS: dict[str, ModelSpec] = {spec.model_id: spec for spec in _ALL}

DEFAULT_BASE_MODEL_ID = "amazon.nova-lite-v1:0:300k"
REFERENCE_STUDY_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def get_model(model_id: str) -> ModelSpec:
    try:
        return MODELS[model_id]
    except KeyError:
        raise UnknownModelError(model_id) from None


def models_in(region: str) -> list[ModelSpec]:
    """The registry models Bedrock customizes in ``region`` (whatever their lifecycle)."""
    return [spec for spec in _ALL if region in spec.regions]


def known_regions() -> list[str]:
    return sorted({region for spec in _ALL for region in spec.regions})


def resolve_serving(spec: ModelSpec, inference_mode: str) -> Serving:
    """Pick how the customized model will be served for an inference mode of ``provisioned|on-demand|auto``."""
    if inference_mode == "provisioned":
        if Serving.PROVISIONED_THROUGHPUT not in spec.serving:
            raise ValueError(f"{spec.model_id} cannot be served by Provisioned Throughput after customization")
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
    inference-profile regions per model), "Supported Regions and models for inference profiles"
    (docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-support.html), the model cards, and "Model
    lifecycle" for ``legacy_since``/``end_of_life``.
    """

    model_config = ConfigDict(frozen=True)

    model_id: str
    display_name: str
    family: str  # compared with the tuned model's family: a judge of the same family may prefer its own kin
    invocation_ids: dict[str, str]
    legacy_since: date | None = None
    end_of_life: date | None = None  # from this day Converse refuses it
    source: Source | None = None
    # Region -> on-demand list prices of the invocation id used from there (a geographic profile may cost more)
    prices: dict[str, ListPrices] = {}

    def invocation_id(self, region: str) -> str | None:
        return self.invocation_ids.get(region)

    def is_past_end_of_life(self, today: date) -> bool:
        return self.end_of_life is not None and today >= self.end_of_life


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
            source=SOURCES["invocation-nova"],
            # The Price List copy is us-east-1's; a profile bills at its source Region's price, not found elsewhere.
            prices={
                "us-east-1": ListPrices(
                    on_demand_input_per_1k_tokens=_price(0.0008, "prices-price-list-2026-09"),
                    on_demand_output_per_1k_tokens=_price(0.0032, "prices-price-list-2026-09"),
                )
            },
        ),
        JudgeSpec(
            model_id="anthropic.claude-haiku-4-5-20251001-v1:0",
            display_name="Anthropic Claude Haiku 4.5",
            family="anthropic-claude",
            # Active; the model card lists the geographic (us.) and global inference ids for on-demand use.
            invocation_ids=dict.fromkeys(_US_PROFILE_REGIONS, "us.anthropic.claude-haiku-4-5-20251001-v1:0"),
            source=SOURCES["claude-haiku-4-5-card"],
            prices=dict.fromkeys(
                _US_PROFILE_REGIONS,
                ListPrices(
                    on_demand_input_per_1k_tokens=_price(0.0011, "prices-toolkit-2026-10"),
                    on_demand_output_per_1k_tokens=_price(0.0055, "prices-toolkit-2026-10"),
                ),
            ),
        ),
        # Past their end of life: kept so that a setting naming them is refused with the date, not as unknown.
        JudgeSpec(
            model_id="amazon.nova-premier-v1:0",
            display_name="Amazon Nova Premier",
            family="amazon-nova",
            invocation_ids=dict.fromkeys(_US_PROFILE_REGIONS, "us.amazon.nova-premier-v1:0"),  # profile only
            legacy_since=date(2026, 3, 13),
            end_of_life=date(2026, 9, 14),
            source=SOURCES["lifecycle"],
        ),
        JudgeSpec(
            model_id="anthropic.claude-sonnet-4-20250514-v1:0",
            display_name="Anthropic Claude Sonnet 4",
            family="anthropic-claude",
            invocation_ids=dict.fromkeys(_US_PROFILE_REGIONS, "us.anthropic.claude-sonnet-4-20250514-v1:0"),
            legacy_since=date(2026, 4, 14),
            end_of_life=date(2026, 10, 14),
            source=SOURCES["lifecycle"],
        ),
    )
}
DEFAULT_JUDGE_MODEL_ID = "amazon.nova-pro-v1:0"
# Inference profile ids start with a geography (or "global"); ARNs name a profile or model the user chose.
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")


def is_inference_profile(model_id: str) -> bool:
    """Whether a Converse modelId names a cross-Region (system-defined) inference profile rather than a model."""
    return model_id.startswith(_PROFILE_PREFIXES)


class JudgeNotInvocableError(ValueError):
    """The judge cannot be invoked on demand from the stack's region."""


def _bare_judge_id(judge_model_id: str) -> str:
    bare = judge_model_id.rsplit("/", 1)[-1]
    for prefix in _PROFILE_PREFIXES:
        bare = bare.removeprefix(prefix)
    return bare


def resolve_judge_invocation_id(judge_model_id: str, region: str | None, *, today: date | None = None) -> str:
    """The modelId the judge is invoked with from ``region``.

    A registry judge resolves to its per-region id (refused where it has none); an inference profile id or an ARN is
    taken as given (the user chose it). With no region known (an environment-agnostic synth), the registry id is
    kept and resolution happens at run time in the function's region. With ``today`` given, a registry judge past
    its end of life is refused, also when named by its inference profile id.
    """
    if today is not None:
        retired = JUDGES.get(_bare_judge_id(judge_model_id))
        if retired is not None and retired.is_past_end_of_life(today):
            live = ", ".join(sorted(spec.model_id for spec in JUDGES.values() if not spec.is_past_end_of_life(today)))
            raise JudgeNotInvocableError(
                f"judge {retired.display_name} ({judge_model_id}) reached its end of life on {retired.end_of_life}; "
                f"use one of {live}"
            )
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
    bare = _bare_judge_id(judge_model_id)
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


def alternative_judge(tuned: ModelSpec, today: date | None = None) -> JudgeSpec:
    """A registry judge of another family than the tuned model's, alive ``today`` (default: the clock's day)."""
    day = today or utc_now().date()
    return next(
        spec
        for spec in JUDGES.values()
        if not tuned.family.startswith(spec.family) and not spec.is_past_end_of_life(day)
    )
