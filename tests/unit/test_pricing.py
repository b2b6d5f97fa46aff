"""List prices from the registry, the ``prices`` setting over them, and each part of a run's estimate by hand."""

from __future__ import annotations

from datetime import date

import pytest

from lambdas.pricing import (
    CostPart,
    Price,
    combine_parts,
    estimate_provisioned_throughput_cost,
    estimate_run_cost,
    estimate_storage_cost,
    estimate_token_cost,
    estimate_training_cost,
    fmt_usd,
    judge_prices,
    list_prices,
    run_region,
    started_hours,
    total_cost,
)
from lambdas.registry import get_model
from lambdas.settings import EvaluationSettings, PipelineSettings, PriceSettings

NOVA_LITE = "amazon.nova-lite-v1:0:300k"
LLAMA_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
PRICE_LIST = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonBedrock/current/us-east-1/index.json"
PRICE_LIST_DAY = date(2026, 9, 1)


def test_nova_lite_in_us_east_1_has_its_dated_list_prices_and_no_guessed_ones() -> None:
    prices = list_prices(NOVA_LITE, "us-east-1")
    assert prices.on_demand_input_per_1k_tokens == Price(usd=0.00006, as_of=PRICE_LIST_DAY, source=PRICE_LIST)
    assert prices.on_demand_output_per_1k_tokens == Price(usd=0.00024, as_of=PRICE_LIST_DAY, source=PRICE_LIST)
    assert prices.provisioned_throughput_per_model_unit_hour == Price(usd=60.5, as_of=PRICE_LIST_DAY, source=PRICE_LIST)
    # no dated copy gave the customization prices: None, and the note says so
    assert prices.training_per_1k_tokens is None
    assert prices.custom_model_storage_per_month is None
    assert "no dated copy of the pricing page gave them" in prices.note
    # with no Region, the model's only customization Region; elsewhere nothing is known
    assert list_prices(NOVA_LITE, None) == prices
    assert list_prices(NOVA_LITE, "us-west-2").on_demand_input_per_1k_tokens is None


def test_the_prices_setting_overrides_each_list_price_it_names_and_only_those() -> None:
    # Given a training price, an on-demand input price over the list price, and the day they were read
    overrides = PriceSettings(
        training_usd_per_1k_tokens=0.002, on_demand_input_usd_per_1k_tokens=0.0001, as_of=date(2026, 11, 30)
    )
    prices = list_prices(NOVA_LITE, "us-east-1", overrides)
    # Then those two come from the setting, named as such, and the rest stay list prices
    assert prices.training_per_1k_tokens == Price(
        usd=0.002,
        as_of=date(2026, 11, 30),
        source="setting fine_tuning.prices.training_usd_per_1k_tokens",
        configured=True,
    )
    assert prices.on_demand_input_per_1k_tokens is not None
    assert prices.on_demand_input_per_1k_tokens.usd == 0.0001
    assert prices.on_demand_input_per_1k_tokens.configured
    assert prices.on_demand_output_per_1k_tokens == Price(usd=0.00024, as_of=PRICE_LIST_DAY, source=PRICE_LIST)
    # And the existing keys keep working: the hourly price of a model unit
    hourly = list_prices(LLAMA_8B, "us-west-2", PriceSettings(provisioned_throughput_usd_per_hour=132.0))
    assert hourly.provisioned_throughput_per_model_unit_hour is not None
    assert hourly.provisioned_throughput_per_model_unit_hour.usd == 132.0


def test_judge_prices_follow_the_invocation_id_of_the_region() -> None:
    # Nova Pro answers by its plain id in us-east-1, priced there; from us-west-2 its profile's price is not known
    nova = judge_prices("amazon.nova-pro-v1:0", "us-east-1")
    assert (nova.on_demand_input_per_1k_tokens, nova.on_demand_output_per_1k_tokens) == (
        Price(usd=0.0008, as_of=PRICE_LIST_DAY, source=PRICE_LIST),
        Price(usd=0.0032, as_of=PRICE_LIST_DAY, source=PRICE_LIST),
    )
    assert judge_prices("us.amazon.nova-pro-v1:0", "us-west-2").on_demand_input_per_1k_tokens is None
    # Claude Haiku 4.5 through the US profile: 10% over the global rate, from every US Region
    haiku = judge_prices("us.anthropic.claude-haiku-4-5-20251001-v1:0", "us-west-2")
    assert haiku.on_demand_input_per_1k_tokens is not None
    assert haiku.on_demand_output_per_1k_tokens is not None
    assert (haiku.on_demand_input_per_1k_tokens.usd, haiku.on_demand_output_per_1k_tokens.usd) == (0.0011, 0.0055)
    # A judge the registry does not know is priced only by the setting
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
    assert judge_prices(arn, "us-east-1").on_demand_input_per_1k_tokens is None
    configured = judge_prices(arn, "us-east-1", PriceSettings(judge_input_usd_per_1k_tokens=0.5))
    assert configured.on_demand_input_per_1k_tokens is not None
    assert configured.on_demand_input_per_1k_tokens.usd == 0.5


def test_the_region_comes_from_the_first_arn_that_names_one() -> None:
    spec = get_model(NOVA_LITE)
    job = "arn:aws:bedrock:eu-west-1:123456789012:model-customization-job/x"
    assert run_region(spec, None, job) == "eu-west-1"
    assert run_region(spec, "not-an-arn") == "us-east-1"  # the model's only customization Region


def test_training_is_billed_tokens_times_the_price_per_1000() -> None:
    prices = list_prices(NOVA_LITE, "us-east-1", PriceSettings(training_usd_per_1k_tokens=0.002))
    # 52,000 billed tokens (26,000 x 2 epochs) x $0.002 per 1,000 = $0.104
    part = estimate_training_cost(prices, billed_tokens=52_000, epochs=2)
    assert part.usd == pytest.approx(0.104)
    assert part.basis == "52,000 billed tokens (training tokens x 2 epochs) x $0.002 per 1,000 tokens"
    assert part.complete
    # Without a price the part has no figure and names what it lacks
    unpriced = estimate_training_cost(list_prices(NOVA_LITE, "us-east-1"), billed_tokens=52_000, epochs=2)
    assert unpriced.usd is None
    assert unpriced.missing == ("list price of training per 1,000 tokens (amazon.nova-lite-v1:0:300k, us-east-1)",)


def test_provisioned_throughput_is_model_units_times_started_hours() -> None:
    prices = list_prices(NOVA_LITE, "us-east-1")
    assert [started_hours(seconds) for seconds in (0, 1, 3600, 3601)] == [1, 1, 1, 2]
    # 2 model units x 2 started hours (1 h 0 min 1 s) x $60.50 = $242
    part = estimate_provisioned_throughput_cost(prices, model_units=2, lifetime_seconds=3601)
    assert part.usd == 242.0
    assert part.as_of == PRICE_LIST_DAY
    assert estimate_provisioned_throughput_cost(prices, model_units=1, lifetime_seconds=None).usd is None


def test_tokens_are_priced_per_1000_in_and_out_and_a_missing_side_is_named() -> None:
    prices = list_prices(NOVA_LITE, "us-east-1")
    # 1,000 in x $0.00006 + 2,000 out x $0.00024, per 1,000 = $0.00006 + $0.00048
    part = estimate_token_cost(prices, name="capacity", what="answers", input_tokens=1_000, output_tokens=2_000)
    assert part.usd == pytest.approx(0.00054)
    # Only the input priced (by the setting): the output is named as missing, the figure is a lower bound
    only_in = list_prices(LLAMA_8B, "us-east-1", PriceSettings(on_demand_input_usd_per_1k_tokens=0.1))
    partial = estimate_token_cost(only_in, name="x", what="answers", input_tokens=1_000, output_tokens=2_000)
    assert partial.usd == pytest.approx(0.1)
    assert partial.missing == ("list price of on-demand output per 1,000 tokens (" + LLAMA_8B + ", us-east-1)",)


def test_storage_is_the_monthly_price() -> None:
    prices = list_prices(NOVA_LITE, "us-east-1", PriceSettings(custom_model_storage_usd_per_month=1.95))
    assert estimate_storage_cost(prices).usd == 1.95
    assert estimate_storage_cost(list_prices(NOVA_LITE, "us-east-1")).usd is None


def test_the_total_sums_what_is_priced_and_says_when_it_is_a_lower_bound() -> None:
    priced = CostPart(name="capacity", usd=1.5, basis="b")
    missing = CostPart(name="training", usd=None, basis="b", missing=("training price",))
    estimate = total_cost(
        model_id=NOVA_LITE,
        region="us-east-1",
        training=missing,
        capacity=priced,
        evaluation=combine_parts([CostPart(name="a", usd=0.25, basis="a"), priced], name="evaluation"),
        storage_per_month=CostPart(name="storage_per_month", usd=0.0, basis="none"),
        when="after-run",
    )
    assert estimate.evaluation.usd == 1.75
    assert estimate.total_usd == 3.25
    assert estimate.complete is False


def test_a_planned_run_is_estimated_part_by_part_by_hand() -> None:
    # Given Nova Lite served on demand, 10 questions of 50 tokens answered in at most 100 tokens, no judge, and
    # training and storage prices set (the list prices give the on-demand tokens)
    settings = PipelineSettings(
        base_model_id=NOVA_LITE,
        evaluation=EvaluationSettings(
            max_test_records=10, max_tokens=100, judge_enabled=False, primary_metric="bertscore_f1"
        ),
        prices=PriceSettings(training_usd_per_1k_tokens=0.002, custom_model_storage_usd_per_month=1.95),
    )
    # When Preflight estimates a run of 10,000 billed tokens
    estimate = estimate_run_cost(settings, "us-east-1", estimated_training_tokens=10_000, tokens_per_question=50)
    # Then training: 10,000 x $0.002 / 1,000 = $0.02
    assert estimate.training.usd == pytest.approx(0.02)
    # capacity (the deployment's answers) and evaluation (the base model's): 500 in x $0.00006 + 1,000 out x $0.00024
    answers = 500 * 0.00006 / 1000 + 1000 * 0.00024 / 1000
    assert estimate.capacity.usd == pytest.approx(answers)
    assert estimate.evaluation.usd == pytest.approx(answers)
    # storage: one month; total: all four, every price known
    assert estimate.storage_per_month.usd == 1.95
    assert estimate.total_usd == pytest.approx(0.02 + 2 * answers + 1.95)
    assert estimate.complete
    assert estimate.when == "before-run"
    assert estimate.as_of == PRICE_LIST_DAY


def test_a_planned_provisioned_run_pays_whole_hours_and_its_judge() -> None:
    # Given Llama 3.1 8B on 2 model units at a configured $20/hour, judged by Nova Pro from us-east-1
    settings = PipelineSettings(
        base_model_id=LLAMA_8B,
        provisioned_model_units=2,
        evaluation=EvaluationSettings(max_test_records=4, max_tokens=10, pairwise_enabled=False),
        prices=PriceSettings(provisioned_throughput_usd_per_hour=20.0),
    )
    estimate = estimate_run_cost(
        settings, "us-west-2", estimated_training_tokens=None, tokens_per_question=5, capacity_hours=1.5
    )
    # Then 2 units x 2 started hours x $20
    assert estimate.capacity.usd == 80.0
    # The judge's price from us-west-2 (through the US profile) is not known: the evaluation says so
    assert any("amazon.nova-pro-v1:0, us-west-2" in missing for missing in estimate.evaluation.missing)
    assert estimate.training.usd is None
    assert estimate.complete is False


@pytest.mark.parametrize(
    ("usd", "text"),
    [(None, "n/a"), (0, "$0.00"), (0.000125, "$0.000125"), (0.0233, "$0.02"), (1234.5, "$1,234.50")],
)
def test_dollars_read_well_at_every_size(usd: float | None, text: str) -> None:
    assert fmt_usd(usd) == text
