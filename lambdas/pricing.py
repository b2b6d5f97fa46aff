"""What a run costs, estimated from dated list prices: before it starts (Preflight's budget) and after it ends (the
report). Nothing here is billed or read from a bill; every figure says which prices it used and how old they are.

Prices come from the registry's table (``lambdas.registry``: per model and Region, each figure with its source and
the day its copy shows); the ``prices`` setting overrides any of them. A price no source gave stays ``None``, and an
estimate that needs it says so (``CostPart.missing``) instead of guessing.

The API (stable: Preflight and the report call it)::

    list_prices(model_id, region, overrides=None)        -> ModelPrices   the base model / custom model, one Region
    judge_prices(judge_model_id, region, overrides=None) -> ModelPrices   on-demand input/output only
    run_region(spec, *arns)                              -> str | None    the Region an ARN names, else the model's

    estimate_training_cost(prices, *, billed_tokens, epochs)                  -> CostPart
    estimate_provisioned_throughput_cost(prices, *, model_units, lifetime_seconds) -> CostPart
    estimate_token_cost(prices, *, what, input_tokens, output_tokens, approximate=False) -> CostPart
    estimate_storage_cost(prices, *, months=1)                                -> CostPart
    combine_parts(parts, *, name, what)                                      -> CostPart  (a sum, missing kept)
    total_cost(*, model_id, region, training, capacity, evaluation, storage_per_month, when) -> CostEstimate

    estimate_run_cost(settings, region, *, estimated_training_tokens, training_records=None,
                      evaluation_questions=None, tokens_per_question=None, capacity_hours=None) -> CostEstimate

``CostEstimate.total_usd`` is training + capacity + evaluation + one month of custom model storage, summed over the
parts that could be priced; ``complete`` is False when any price was missing (the total is then a lower bound).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lambdas.evaluation.prompts import JUDGE_INSTRUCTIONS, JUDGE_SYSTEM, PAIRWISE_INSTRUCTIONS, PAIRWISE_SYSTEM
from lambdas.registry import (
    JUDGES,
    ListPrice,
    ListPrices,
    ModelSpec,
    Serving,
    get_model,
    resolve_serving,
)
from lambdas.settings import PipelineSettings, PriceSettings

SECONDS_PER_HOUR = 3600
CHARACTERS_PER_TOKEN = 4  # for texts whose tokens nobody counted (the judges' prompts and replies): approximate
JUDGE_REPLY_TOKENS_AT_MOST = 1024  # the judges' max_tokens (lambdas.evaluation.judge): a reply's upper bound
# Characters of the judges' fixed prompt text, sent with every call (the question, reference and answers come on top)
CORRECTNESS_PROMPT_CHARS = len(JUDGE_SYSTEM) + len(JUDGE_INSTRUCTIONS)
PAIRWISE_PROMPT_CHARS = len(PAIRWISE_SYSTEM) + len(PAIRWISE_INSTRUCTIONS)

PRICE_WORDS: dict[str, str] = {
    "training_per_1k_tokens": "training per 1,000 tokens",
    "provisioned_throughput_per_model_unit_hour": "Provisioned Throughput per model unit hour",
    "on_demand_input_per_1k_tokens": "on-demand input per 1,000 tokens",
    "on_demand_output_per_1k_tokens": "on-demand output per 1,000 tokens",
    "custom_model_storage_per_month": "custom model storage per month",
}
# Which ``prices`` setting overrides which price, for the base model and for the judge
_MODEL_OVERRIDES: dict[str, str] = {
    "training_per_1k_tokens": "training_usd_per_1k_tokens",
    "provisioned_throughput_per_model_unit_hour": "provisioned_throughput_usd_per_hour",
    "on_demand_input_per_1k_tokens": "on_demand_input_usd_per_1k_tokens",
    "on_demand_output_per_1k_tokens": "on_demand_output_usd_per_1k_tokens",
    "custom_model_storage_per_month": "custom_model_storage_usd_per_month",
}
_JUDGE_OVERRIDES: dict[str, str] = {
    "on_demand_input_per_1k_tokens": "judge_input_usd_per_1k_tokens",
    "on_demand_output_per_1k_tokens": "judge_output_usd_per_1k_tokens",
}
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:bedrock:([a-z0-9-]+):")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Frozen):
    """One price an estimate used: a list price from the registry, or one the ``prices`` setting configured."""

    usd: float
    as_of: date | None  # the day the list-price copy shows; for a configured price, ``prices.as_of`` (or None)
    source: str  # the copy's URL, or ``setting fine_tuning.prices.<name>``
    configured: bool = False


class ModelPrices(_Frozen):
    """A model's prices in one Region, the ``prices`` setting applied. ``None``: no price known (``note`` says)."""

    model_id: str
    region: str | None
    training_per_1k_tokens: Price | None = None
    provisioned_throughput_per_model_unit_hour: Price | None = None
    on_demand_input_per_1k_tokens: Price | None = None
    on_demand_output_per_1k_tokens: Price | None = None
    custom_model_storage_per_month: Price | None = None
    note: str = ""

    def price(self, name: str) -> Price | None:
        value = getattr(self, name)
        return value if isinstance(value, Price) else None

    def missing(self, name: str) -> str:
        """How an estimate names a price it lacks: ``list price of training per 1,000 tokens (<model>, us-east-1)``."""
        return f"list price of {PRICE_WORDS[name]} ({self.model_id}, {self.region or 'no Region'})"


class CostPart(_Frozen):
    """One part of a run's cost. ``usd`` sums what could be priced (None: nothing could); ``missing`` names the
    prices it lacked, so a part with ``missing`` is a lower bound."""

    name: str  # training | capacity | evaluation | storage_per_month (or a piece of one: base answers, judge)
    usd: float | None
    basis: str  # how it was computed, in words and numbers
    approximate: bool = False  # some token counts were estimated from characters, or are upper bounds
    missing: tuple[str, ...] = ()
    prices: tuple[Price, ...] = ()
    as_of: date | None = None  # the oldest date of the prices used (filled in from ``prices`` when not given)

    @model_validator(mode="before")
    @classmethod
    def _dated(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("as_of") is None and data.get("prices"):
            days = [Price.model_validate(price).as_of for price in data["prices"]]
            data = {**data, "as_of": _oldest(days)}
        return data

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def configured(self) -> bool:
        return any(price.configured for price in self.prices)


class CostEstimate(_Frozen):
    """A run's estimated cost, part by part, with the total and the age of the prices behind it."""

    model_id: str
    region: str | None
    when: Literal["before-run", "after-run"]  # planned (upper bounds for answers) or from what the run used
    training: CostPart
    capacity: CostPart
    evaluation: CostPart
    storage_per_month: CostPart  # while the custom model exists; one month is in the total
    total_usd: float | None  # training + capacity + evaluation + one month of storage, over the priced parts
    complete: bool  # every part priced: otherwise ``total_usd`` is a lower bound
    as_of: date | None  # the oldest list-price date any part used
    sources: tuple[str, ...] = Field(default=())  # every price source used, once

    @property
    def parts(self) -> tuple[CostPart, ...]:
        return (self.training, self.capacity, self.evaluation, self.storage_per_month)


# ------------------------------------------------------------------------------------------------------- prices


def _price(listed: ListPrice | None, override: float | None, setting: str, as_of: date | None) -> Price | None:
    if override is not None:
        return Price(usd=override, as_of=as_of, source=f"setting fine_tuning.prices.{setting}", configured=True)
    if listed is None:
        return None
    return Price(usd=listed.usd, as_of=listed.source.checked, source=listed.source.url)


def _resolve(
    model_id: str,
    region: str | None,
    table: dict[str, ListPrices],
    overrides: PriceSettings | None,
    names: dict[str, str],
) -> ModelPrices:
    listed = table.get(region) if region is not None else None
    settings = overrides or PriceSettings()
    values = {
        name: _price(getattr(listed, name) if listed else None, getattr(settings, setting), setting, settings.as_of)
        for name, setting in names.items()
    }
    note = listed.note if listed else f"no list prices for {model_id} in {region or 'an unknown Region'}"
    return ModelPrices(model_id=model_id, region=region, note=note, **values)


def list_prices(model_id: str, region: str | None, overrides: PriceSettings | None = None) -> ModelPrices:
    """The base model's prices in ``region`` (its customization, capacity and on-demand prices), ``overrides``
    (the run's ``prices`` setting) taking precedence over the registry's list prices. ``region`` None: the model's
    customization Region when it has exactly one."""
    spec = get_model(model_id)
    return _resolve(spec.model_id, region or _only_region(spec), spec.prices, overrides, _MODEL_OVERRIDES)


def judge_prices(judge_model_id: str | None, region: str | None, overrides: PriceSettings | None = None) -> ModelPrices:
    """The judge's on-demand prices from ``region``. A profile id or ARN is matched by the model it names; a judge
    the registry does not know has only the ``prices`` setting's judge prices."""
    bare = _bare_model_id(judge_model_id or "")
    spec = JUDGES.get(bare)
    return _resolve(judge_model_id or "(no judge)", region, spec.prices if spec else {}, overrides, _JUDGE_OVERRIDES)


def run_region(spec: ModelSpec, *arns: str | None) -> str | None:
    """The Region a run's resources live in: the first Bedrock ARN that names one (job, capacity), else the model's
    only customization Region (every registry model is customized in one)."""
    for arn in arns:
        match = _ARN_REGION.match(arn or "")
        if match:
            return match.group(1)
    return _only_region(spec)


def _only_region(spec: ModelSpec) -> str | None:
    return spec.regions[0] if len(spec.regions) == 1 else None


def _bare_model_id(model_id: str) -> str:
    bare = model_id.rsplit("/", 1)[-1]
    for prefix in ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global."):
        bare = bare.removeprefix(prefix)
    return bare


# ---------------------------------------------------------------------------------------------------- estimates


def fmt_usd(value: float | None) -> str:
    """Dollars for people: cents from a cent up, up to six decimals below (an evaluation can cost $0.0004)."""
    if value is None:
        return "n/a"
    if value == 0:
        return "$0.00"
    if value < 0.000001:
        return "< $0.000001"
    if value < 0.01:
        return "$" + f"{value:.6f}".rstrip("0")
    return f"${value:,.2f}"


def fmt_price(usd: float) -> str:
    """A unit price in full: ``$60.50``, ``$0.00006`` (``fmt_usd`` would round a per-token price away)."""
    return f"${usd:,.2f}" if usd >= 0.01 else f"${usd:.8f}".rstrip("0").rstrip(".")


def _rate(price: Price, unit: str) -> str:
    return f"{fmt_price(price.usd)} {unit}"


def started_hours(lifetime_seconds: float) -> int:
    """No-commitment Provisioned Throughput is estimated per *started* hour: 1 s -> 1 h, 3601 s -> 2 h."""
    return max(1, math.ceil(lifetime_seconds / SECONDS_PER_HOUR))


def estimate_training_cost(prices: ModelPrices, *, billed_tokens: int | None, epochs: int | None) -> CostPart:
    """Billed tokens (the validator's estimate: training tokens x epochs) x the training price per 1,000 tokens."""
    epochs_words = f" (training tokens x {epochs} epoch{'s' if epochs != 1 else ''})" if epochs else ""
    if billed_tokens is None:
        return CostPart(name="training", usd=None, basis="no estimate of the billed tokens", missing=("billed tokens",))
    price = prices.training_per_1k_tokens
    tokens = f"{billed_tokens:,} billed tokens{epochs_words}"
    if price is None:
        return CostPart(
            name="training",
            usd=None,
            basis=f"{tokens}; no training price",
            missing=(prices.missing("training_per_1k_tokens"),),
        )
    return CostPart(
        name="training",
        usd=_round(billed_tokens / 1000 * price.usd),
        basis=f"{tokens} x {_rate(price, 'per 1,000 tokens')}",
        approximate=True,  # the token count is the validator's estimate (characters / 3), not Bedrock's count
        prices=(price,),
    )


def estimate_provisioned_throughput_cost(
    prices: ModelPrices, *, model_units: int | None, lifetime_seconds: float | None
) -> CostPart:
    """Model units x started hours x the no-commitment price per model unit hour."""
    units = model_units or 1
    if lifetime_seconds is None:
        return CostPart(
            name="capacity",
            usd=None,
            basis=f"Provisioned Throughput, {units} model unit(s): lifetime unknown",
            missing=("the capacity's lifetime",),
        )
    hours = started_hours(lifetime_seconds)
    what = f"Provisioned Throughput: {units} model unit(s) x {hours} started hour(s)"
    price = prices.provisioned_throughput_per_model_unit_hour
    if price is None:
        return CostPart(
            name="capacity",
            usd=None,
            basis=f"{what}; no price per model unit hour",
            missing=(prices.missing("provisioned_throughput_per_model_unit_hour"),),
        )
    return CostPart(
        name="capacity",
        usd=_round(units * hours * price.usd),
        basis=f"{what} x {_rate(price, 'per model unit hour')}",
        prices=(price,),
    )


def estimate_token_cost(
    prices: ModelPrices,
    *,
    name: str,
    what: str,
    input_tokens: int,
    output_tokens: int,
    approximate: bool = False,
) -> CostPart:
    """Input and output tokens x the on-demand prices per 1,000 tokens; a missing price leaves its side unpriced."""
    usd = 0.0
    priced = False
    used: list[Price] = []
    missing: list[str] = []
    pieces: list[str] = []
    for tokens, price_name, side in (
        (input_tokens, "on_demand_input_per_1k_tokens", "in"),
        (output_tokens, "on_demand_output_per_1k_tokens", "out"),
    ):
        price = prices.price(price_name)
        if price is None:
            if tokens:
                missing.append(prices.missing(price_name))
            pieces.append(f"{tokens:,} tokens {side} (no price)")
            continue
        usd += tokens / 1000 * price.usd
        priced = True
        used.append(price)
        pieces.append(f"{tokens:,} tokens {side} x {_rate(price, 'per 1,000')}")
    approx = "about " if approximate else ""
    return CostPart(
        name=name,
        usd=_round(usd) if priced or not (input_tokens or output_tokens) else None,
        basis=f"{what}: {approx}" + " + ".join(pieces),
        approximate=approximate,
        missing=tuple(missing),
        prices=tuple(used),
    )


def estimate_storage_cost(prices: ModelPrices, *, months: float = 1) -> CostPart:
    """Custom model storage: the monthly price, for as long as the custom model exists."""
    price = prices.custom_model_storage_per_month
    if price is None:
        return CostPart(
            name="storage_per_month",
            usd=None,
            basis="custom model storage: no price per month",
            missing=(prices.missing("custom_model_storage_per_month"),),
        )
    return CostPart(
        name="storage_per_month",
        usd=_round(months * price.usd),
        basis=f"one custom model x {_rate(price, 'per month')}",
        prices=(price,),
    )


def no_cost(name: str, why: str) -> CostPart:
    """A part that cost nothing, and why (no job started, no capacity bought, no question asked)."""
    return CostPart(name=name, usd=0.0, basis=why)


def combine_parts(parts: Iterable[CostPart], *, name: str, what: str | None = None) -> CostPart:
    """The sum of several pieces of one part (base-model answers + judge calls); unpriced pieces stay missing."""
    pieces = list(parts)
    known = [part.usd for part in pieces if part.usd is not None]
    prices: list[Price] = []
    for part in pieces:
        prices.extend(price for price in part.prices if price not in prices)
    basis = "; ".join(part.basis for part in pieces)
    return CostPart(
        name=name,
        usd=_round(sum(known)) if known else None,
        basis=f"{what}: {basis}" if what else basis,
        approximate=any(part.approximate for part in pieces),
        missing=tuple(missing for part in pieces for missing in part.missing),
        prices=tuple(prices),
    )


def total_cost(
    *,
    model_id: str,
    region: str | None,
    training: CostPart,
    capacity: CostPart,
    evaluation: CostPart,
    storage_per_month: CostPart,
    when: Literal["before-run", "after-run"],
) -> CostEstimate:
    parts = (training, capacity, evaluation, storage_per_month)
    known = [part.usd for part in parts if part.usd is not None]
    sources: list[str] = []
    for part in parts:
        sources.extend(price.source for price in part.prices if price.source not in sources)
    return CostEstimate(
        model_id=model_id,
        region=region,
        when=when,
        training=training,
        capacity=capacity,
        evaluation=evaluation,
        storage_per_month=storage_per_month,
        total_usd=_round(sum(known)) if known else None,
        complete=all(part.complete and part.usd is not None for part in parts),
        as_of=_oldest(part.as_of for part in parts),
        sources=tuple(sources),
    )


def judge_call_tokens(kind: Literal["correctness", "pairwise"], texts_chars: int, reply_chars: int) -> tuple[int, int]:
    """(input, output) tokens of one judge call, estimated from characters (approximate: nobody counted them)."""
    prompt = CORRECTNESS_PROMPT_CHARS if kind == "correctness" else PAIRWISE_PROMPT_CHARS
    return _tokens(prompt + texts_chars), _tokens(reply_chars)


NO_TRAINING = "no training: a re-evaluation of an existing custom model"


def estimate_run_cost(
    settings: PipelineSettings,
    region: str | None,
    *,
    estimated_training_tokens: int | None,
    training_records: int | None = None,
    evaluation_questions: int | None = None,
    tokens_per_question: int | None = None,
    capacity_hours: float | None = None,
    trains: bool = True,
) -> CostEstimate:
    """What a run with ``settings`` should cost, before it starts: for a budget check.

    ``trains`` false is a re-evaluation of an existing custom model: no training, and no storage the run adds (the
    model is stored whether or not it is evaluated again).

    ``estimated_training_tokens`` is the validator's billed-token estimate (training tokens x epochs).
    ``evaluation_questions`` defaults to ``evaluation.max_test_records``; ``tokens_per_question`` (question and
    reference) to the average training record (``estimated_training_tokens`` / epochs / ``training_records``).
    Every answer and judge reply is counted at its ``max_tokens`` (an upper bound), Provisioned Throughput at
    ``capacity_hours`` (default: the one started hour every throughput bills at least).
    """
    spec = settings.model
    region = region or _only_region(spec)
    prices = list_prices(spec.model_id, region, settings.prices)
    epochs = epochs_of(settings)
    if trains:
        training = estimate_training_cost(prices, billed_tokens=estimated_training_tokens, epochs=epochs)
        storage = estimate_storage_cost(prices)
    else:
        training = CostPart(name="training", usd=0.0, basis=NO_TRAINING)
        storage = CostPart(name="storage_per_month", usd=0.0, basis=f"{NO_TRAINING}: it adds no stored model")

    evaluation_settings = settings.evaluation
    questions = evaluation_questions if evaluation_questions is not None else evaluation_settings.max_test_records
    per_question = tokens_per_question
    if per_question is None and estimated_training_tokens and training_records:
        per_question = max(1, estimated_training_tokens // max(epochs or 1, 1) // training_records)
    per_question = per_question or 0
    answer = evaluation_settings.max_tokens  # at most, per answer
    system = _tokens(len(settings.system_prompt or ""))
    answers_in, answers_out = questions * (per_question + system), questions * answer

    serving = resolve_serving(spec, settings.inference_mode)
    if serving is Serving.PROVISIONED_THROUGHPUT:
        capacity = estimate_provisioned_throughput_cost(
            prices,
            model_units=settings.provisioned_model_units,
            lifetime_seconds=(capacity_hours if capacity_hours is not None else 1.0) * SECONDS_PER_HOUR,
        )
    else:
        capacity = estimate_token_cost(
            prices,
            name="capacity",
            what=f"on-demand deployment, {questions} answers at most {answer} tokens each",
            input_tokens=answers_in,
            output_tokens=answers_out,
            approximate=True,
        )
    base = estimate_token_cost(
        prices,
        name="base answers",
        what=f"base model, {questions} answers at most {answer} tokens each",
        input_tokens=answers_in,
        output_tokens=answers_out,
        approximate=True,
    )
    pieces = [base]
    if evaluation_settings.judge_enabled:
        judge = judge_prices(evaluation_settings.judge_model_id, region, settings.prices)
        calls = 2 * questions * (2 if evaluation_settings.pairwise_enabled else 1)  # both answers / both orders
        judge_in, judge_out = 0, 0
        if questions:
            correctness_in, _ = judge_call_tokens("correctness", 0, 0)
            judge_in = calls * (correctness_in + per_question + 2 * answer)
            judge_out = calls * JUDGE_REPLY_TOKENS_AT_MOST
        pieces.append(
            estimate_token_cost(
                judge,
                name="judge",
                what=f"judge {evaluation_settings.judge_model_id}, {calls} calls, replies at most "
                f"{JUDGE_REPLY_TOKENS_AT_MOST} tokens",
                input_tokens=judge_in,
                output_tokens=judge_out,
                approximate=True,
            )
        )
    evaluation = combine_parts(pieces, name="evaluation")
    return total_cost(
        model_id=spec.model_id,
        region=region,
        training=training,
        capacity=capacity,
        evaluation=evaluation,
        storage_per_month=storage,
        when="before-run",
    )


def epochs_of(settings: PipelineSettings) -> int | None:
    """The epochs a job with these settings runs (the billed tokens are the training tokens times this)."""
    value = settings.resolved_hyperparameters().get("epochCount")
    return int(float(value)) if value is not None else None


def _tokens(characters: int) -> int:
    return math.ceil(characters / CHARACTERS_PER_TOKEN) if characters > 0 else 0


def _round(value: float) -> float:
    return round(value, 6)


def _oldest(days: Iterable[date | None]) -> date | None:
    known = [day for day in days if day is not None]
    return min(known) if known else None
