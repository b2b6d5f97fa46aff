"""``python -m tuner models``: which models can be fine-tuned in a region, and how each is served and invoked there.

Everything comes from the registry (``lambdas/registry.py``), whose facts name their documentation source and the
day they were checked. For each region: every registry model Bedrock customizes there, how its customized version
can be served (``on-demand`` deployment or ``provisioned`` throughput, the ``inference_mode`` values), the id that
invokes the base model from that region (its plain id, or a cross-Region inference profile), its lifecycle today
(a model past its Legacy or end-of-life date is listed, marked, and refused by synth), its dated list prices there
(each with its source; a price no source gave is absent, not guessed),
and the judges that can be invoked from the region. ``--json`` prints one object: the region's, with ``--region``;
otherwise ``{"today", "regions": [...]}``.
"""

from __future__ import annotations

import argparse
import re
from datetime import date

from pydantic import BaseModel

from lambdas.clock import utc_now
from lambdas.pricing import fmt_price
from lambdas.registry import (
    JUDGES,
    JudgeSpec,
    Lifecycle,
    ListPrices,
    ModelSpec,
    Serving,
    Source,
    is_inference_profile,
    known_regions,
    models_in,
)
from tuner.cli import EXIT_OK, UsageError

# The names the ``inference_mode`` setting uses for each way of serving a customized model.
SERVING_MODES = {Serving.CUSTOM_MODEL_DEPLOYMENT: "on-demand", Serving.PROVISIONED_THROUGHPUT: "provisioned"}
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")


class ModelView(BaseModel):
    model_id: str
    display_name: str
    family: str
    data_format: str
    customization_types: list[str]
    serving: list[str]  # inference_mode values, in the order "auto" prefers them
    invocation_id: str
    invocation: str  # "foundation-model" or "inference-profile"
    lifecycle: Lifecycle
    legacy_since: date | None
    end_of_life: date | None
    fine_tunable: bool
    why_not: str | None
    prices: ListPrices  # in this Region
    sources: dict[str, Source]


class JudgeView(BaseModel):
    model_id: str
    display_name: str
    family: str
    invocation_id: str | None
    invocable: bool
    end_of_life: date | None
    why_not: str | None


class RegionView(BaseModel):
    region: str
    today: date
    models: list[ModelView]
    judges: list[JudgeView]


class CatalogueView(BaseModel):
    today: date
    regions: list[RegionView]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "models",
        help="which models can be fine-tuned in a region, how they are served and invoked there",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--region", metavar="R", help=f"one AWS Region (default: all of {', '.join(known_regions())})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(run=run)


def _model_view(spec: ModelSpec, region: str, today: date) -> ModelView:
    invocation_id = spec.base_invocation_id(region)
    why_not = spec.why_no_new_job(today)
    return ModelView(
        model_id=spec.model_id,
        display_name=spec.display_name,
        family=spec.family,
        data_format=spec.data_format.value,
        customization_types=[kind.value for kind in spec.customization_types],
        serving=[SERVING_MODES[serving] for serving in spec.serving],
        invocation_id=invocation_id,
        invocation="inference-profile" if is_inference_profile(invocation_id) else "foundation-model",
        lifecycle=spec.lifecycle(today),
        legacy_since=spec.legacy_since,
        end_of_life=spec.end_of_life,
        fine_tunable=why_not is None,
        why_not=why_not,
        prices=spec.prices.get(region, ListPrices(note=f"no list prices for {region}")),
        sources=spec.sources,
    )


def _judge_view(spec: JudgeSpec, region: str, today: date) -> JudgeView:
    invocation_id = spec.invocation_id(region)
    why_not: str | None = None
    if spec.is_past_end_of_life(today):
        why_not = f"end of life {spec.end_of_life}"
    elif invocation_id is None:
        why_not = f"not invocable on demand from {region}"
    return JudgeView(
        model_id=spec.model_id,
        display_name=spec.display_name,
        family=spec.family,
        invocation_id=invocation_id,
        invocable=why_not is None,
        end_of_life=spec.end_of_life,
        why_not=why_not,
    )


def region_view(region: str, today: date) -> RegionView:
    models = [_model_view(spec, region, today) for spec in models_in(region)]
    models.sort(key=lambda view: not view.fine_tunable)  # stable: registry order within each group
    judges = [_judge_view(spec, region, today) for spec in JUDGES.values()]
    judges.sort(key=lambda view: not view.invocable)
    return RegionView(region=region, today=today, models=models, judges=judges)


def _checked_region(region: str) -> str:
    if not _REGION.match(region):
        raise UsageError(f"--region {region!r} is not an AWS Region name (like us-east-1)")
    if region not in known_regions():
        raise UsageError(
            f"no registry model can be fine-tuned in {region}; Bedrock customizes them in {', '.join(known_regions())}"
        )
    return region


def _text(view: RegionView) -> str:
    lines = [f"{view.region} (lifecycles as of {view.today})"]
    width = max(len(model.model_id) for model in view.models)
    invoked_width = max(len(model.invocation_id) for model in view.models) + len(" (profile)")
    for model in view.models:
        invoked = model.invocation_id + (" (profile)" if model.invocation == "inference-profile" else "")
        status = "fine-tunable" if model.fine_tunable else f"REFUSED: {model.lifecycle.value.replace('-', ' ')}"
        when = model.end_of_life if model.lifecycle is Lifecycle.END_OF_LIFE else model.legacy_since
        status += f" since {when}" if not model.fine_tunable and when else ""
        lines.append(
            f"  {model.model_id:<{width}}  {'/'.join(model.serving):<23}  base model as {invoked:<{invoked_width}}  "
            f"{status}"
        )
    lines.append(f"  judges invocable from {view.region}:")
    for judge in view.judges:
        if judge.invocable:
            lines.append(f"    {judge.model_id} as {judge.invocation_id}")
    refused = [f"{judge.model_id} ({judge.why_not})" for judge in view.judges if not judge.invocable]
    if refused:
        lines.append(f"  judges refused: {', '.join(refused)}")
    lines.append("  list prices (USD; as of the date of each figure's source):")
    for model in view.models:
        lines.append(f"    {model.model_id:<{width}}  {_prices_text(model.prices)}")
    return "\n".join(lines)


def _prices_text(prices: ListPrices) -> str:
    figures = [
        (prices.training_per_1k_tokens, "training /1k tokens"),
        (prices.provisioned_throughput_per_model_unit_hour, "/model unit hour"),
        (prices.on_demand_input_per_1k_tokens, "in /1k"),
        (prices.on_demand_output_per_1k_tokens, "out /1k"),
        (prices.custom_model_storage_per_month, "storage /month"),
    ]
    known = [f"{fmt_price(price.usd)} {what} ({price.source.checked})" for price, what in figures if price is not None]
    missing = [what for price, what in figures if price is None]
    text = ", ".join(known) if known else "none known"
    return text + (f"; not known: {', '.join(missing)}" if missing else "")


def run(args: argparse.Namespace) -> int:
    today = utc_now().date()
    if args.region is not None:
        view = region_view(_checked_region(args.region), today)
        print(view.model_dump_json(indent=2) if args.json else _text(view))
        return EXIT_OK
    views = [region_view(region, today) for region in known_regions()]
    if args.json:
        print(CatalogueView(today=today, regions=views).model_dump_json(indent=2))
    else:
        print("\n\n".join(_text(view) for view in views))
    return EXIT_OK
