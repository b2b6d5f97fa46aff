"""The registry as the truth: regions, customization types, invocation ids per region, lifecycles, sources."""

from __future__ import annotations

import re
from datetime import date

import pytest
from botocore.loaders import Loader

from lambdas.registry import (
    JUDGES,
    MODELS,
    PIPELINE_CUSTOMIZATION_TYPE,
    CustomizationType,
    JudgeNotInvocableError,
    Lifecycle,
    ListPrice,
    ListPrices,
    ModelNotInRegionError,
    alternative_judge,
    get_model,
    is_inference_profile,
    models_in,
    resolve_judge_invocation_id,
)
from lambdas.settings import KMS_KEY_ARN_PATTERN

TODAY = date(2026, 12, 3)


def _bedrock_shapes() -> dict[str, dict[str, object]]:
    shapes: dict[str, dict[str, object]] = Loader().load_service_model("bedrock", "service-2")["shapes"]
    return shapes


@pytest.mark.parametrize(
    ("model_id", "region", "expected"),
    [
        # Llama 3.2 has no foundation-model Region: on demand only through the US profile
        ("meta.llama3-2-11b-instruct-v1:0:128k", "us-west-2", "us.meta.llama3-2-11b-instruct-v1:0"),
        ("meta.llama3-2-1b-instruct-v1:0:128k", "us-west-2", "us.meta.llama3-2-1b-instruct-v1:0"),
        # Llama 3.1 is served by its plain id in us-west-2, Nova in us-east-1, Claude 3 Haiku in us-west-2
        ("meta.llama3-1-8b-instruct-v1:0:128k", "us-west-2", "meta.llama3-1-8b-instruct-v1:0"),
        ("amazon.nova-lite-v1:0:300k", "us-east-1", "amazon.nova-lite-v1:0"),
        ("amazon.nova-pro-v1:0:300k", "us-east-1", "amazon.nova-pro-v1:0"),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", "us-west-2", "anthropic.claude-3-haiku-20240307-v1:0"),
        # no region known: the plain foundation-model id, resolved again at run time
        ("meta.llama3-2-11b-instruct-v1:0:128k", None, "meta.llama3-2-11b-instruct-v1:0"),
    ],
)
def test_the_base_model_is_invoked_by_the_id_its_region_serves(
    model_id: str, region: str | None, expected: str
) -> None:
    assert get_model(model_id).base_invocation_id(region) == expected


def test_a_region_that_does_not_customize_the_model_has_no_invocation_id() -> None:
    with pytest.raises(ModelNotInRegionError, match=r"can be fine-tuned only in us-east-1, not in us-west-2"):
        get_model("amazon.nova-lite-v1:0:300k").base_invocation_id("us-west-2")


def test_every_model_can_be_invoked_wherever_it_is_customized_and_names_its_sources() -> None:
    for spec in MODELS.values():
        assert set(spec.regions) <= set(spec.invocation_ids), spec.model_id
        # the customizable variant is the plain id plus a context suffix
        assert spec.model_id.startswith(spec.foundation_model_id + ":"), spec.model_id
        for invocation in spec.invocation_ids.values():
            assert invocation in (spec.foundation_model_id, f"us.{spec.foundation_model_id}"), spec.model_id
        assert {"regions", "customization_types", "invocation_ids", "lifecycle", "serving"} <= set(spec.sources)
        for source in spec.sources.values():
            assert source.url.startswith("https://")
            assert source.checked == TODAY
        # every list price names its source, dated by the copy it was read from (never after the day it was read)
        assert set(spec.prices) <= set(spec.regions), spec.model_id
        for prices in spec.prices.values():
            for name in ListPrices.model_fields:
                price = getattr(prices, name)
                if isinstance(price, ListPrice):
                    assert price.source.url.startswith("https://"), (spec.model_id, name)
                    assert price.source.checked <= TODAY, (spec.model_id, name)


def test_customization_types_are_botocores() -> None:
    # The enum mirrors the service model, and every registry model takes the type this pipeline runs
    assert [kind.value for kind in CustomizationType] == _bedrock_shapes()["CustomizationType"]["enum"]
    assert all(PIPELINE_CUSTOMIZATION_TYPE in spec.customization_types for spec in MODELS.values())


def test_titan_text_models_are_not_offered_for_fine_tuning() -> None:
    # Neither Titan Text model is in the user guide's fine-tuning table (checked 2026-12-03)
    assert not [model_id for model_id in MODELS if model_id.startswith("amazon.titan-text")]


@pytest.mark.parametrize(
    ("model_id", "day", "state"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", date(2026, 3, 9), Lifecycle.ACTIVE),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", date(2026, 3, 10), Lifecycle.LEGACY),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", date(2026, 9, 10), Lifecycle.END_OF_LIFE),
        ("meta.llama3-2-11b-instruct-v1:0:128k", date(2026, 1, 7), Lifecycle.LEGACY),
        ("meta.llama3-2-11b-instruct-v1:0:128k", TODAY, Lifecycle.END_OF_LIFE),
        ("meta.llama3-1-8b-instruct-v1:0:128k", TODAY, Lifecycle.ACTIVE),
        ("amazon.nova-lite-v1:0:300k", TODAY, Lifecycle.ACTIVE),
    ],
)
def test_lifecycle_follows_the_legacy_and_end_of_life_dates(model_id: str, day: date, state: Lifecycle) -> None:
    assert get_model(model_id).lifecycle(day) is state


def test_no_job_starts_on_a_legacy_model_and_the_reason_names_the_date() -> None:
    haiku = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
    assert haiku.why_no_new_job(date(2026, 3, 1)) is None
    assert "Legacy since 2026-03-10" in (haiku.why_no_new_job(date(2026, 6, 1)) or "")
    assert "end of life on 2026-09-10" in (haiku.why_no_new_job(TODAY) or "")


def test_us_west_2_customizes_llama_and_the_reference_model_and_us_east_1_nova() -> None:
    assert {spec.family for spec in models_in("us-west-2")} == {
        "meta-llama-3.1",
        "meta-llama-3.2",
        "anthropic-claude-3",
    }
    assert {spec.family for spec in models_in("us-east-1")} == {"amazon-nova"}
    assert models_in("eu-west-1") == []


def test_a_judge_past_its_end_of_life_is_refused_by_any_of_its_ids() -> None:
    for judge_id in ("anthropic.claude-sonnet-4-20250514-v1:0", "us.anthropic.claude-sonnet-4-20250514-v1:0"):
        with pytest.raises(JudgeNotInvocableError, match=r"reached its end of life on 2026-10-14; use one of"):
            resolve_judge_invocation_id(judge_id, "us-east-1", today=TODAY)
    # before that day, and without a day (parsing settings of a running stack), it resolves
    assert resolve_judge_invocation_id("anthropic.claude-sonnet-4-20250514-v1:0", "us-east-1", today=date(2026, 10, 13))
    assert resolve_judge_invocation_id("anthropic.claude-sonnet-4-20250514-v1:0", "us-east-1")


def test_the_alternative_judge_is_one_still_alive() -> None:
    nova = get_model("amazon.nova-lite-v1:0:300k")
    alternative = alternative_judge(nova, TODAY)
    assert not alternative.family.startswith("amazon-nova")
    assert not alternative.is_past_end_of_life(TODAY)
    assert is_inference_profile(alternative.invocation_ids["us-west-2"])
    assert all(spec.source is not None for spec in JUDGES.values())


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ],
)
def test_every_kms_key_arn_the_settings_take_matches_botocores_pattern(value: str) -> None:
    # Given botocore's pattern for CreateModelCustomizationJob.customModelKmsKeyId
    request = _bedrock_shapes()["CreateModelCustomizationJobRequest"]["members"]
    shape = _bedrock_shapes()[request["customModelKmsKeyId"]["shape"]]  # type: ignore[index]
    assert re.match(KMS_KEY_ARN_PATTERN, value)
    assert re.fullmatch(str(shape["pattern"]), value)
    assert int(str(shape["min"])) <= len(value) <= int(str(shape["max"]))
