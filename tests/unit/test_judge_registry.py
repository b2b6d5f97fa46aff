"""Judges as data: the modelId a judge is invoked with from each region, and the family it belongs to."""

from __future__ import annotations

import pytest

from lambdas.registry import (
    JudgeNotInvocableError,
    alternative_judge,
    get_model,
    resolve_judge_invocation_id,
    same_family,
)


@pytest.mark.parametrize(
    ("judge", "region", "expected"),
    [
        # Nova Pro answers on demand by its plain id in us-east-1 only; elsewhere through the US inference profile
        ("amazon.nova-pro-v1:0", "us-east-1", "amazon.nova-pro-v1:0"),
        ("amazon.nova-pro-v1:0", "us-west-2", "us.amazon.nova-pro-v1:0"),
        ("anthropic.claude-sonnet-4-20250514-v1:0", "us-east-1", "us.anthropic.claude-sonnet-4-20250514-v1:0"),
        # no region known (an environment-agnostic synth): resolved at run time, in the function's region
        ("amazon.nova-pro-v1:0", None, "amazon.nova-pro-v1:0"),
        # a profile id or an ARN is the user's choice, taken as given
        ("eu.amazon.nova-pro-v1:0", "eu-west-1", "eu.amazon.nova-pro-v1:0"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
            "us-east-1",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
        ),
    ],
)
def test_a_judge_resolves_to_the_id_its_region_can_invoke(judge: str, region: str | None, expected: str) -> None:
    assert resolve_judge_invocation_id(judge, region) == expected


def test_a_judge_without_a_route_from_the_region_is_refused_with_where_it_works() -> None:
    with pytest.raises(
        JudgeNotInvocableError, match="cannot be invoked on demand from eu-west-1; it can from us-east-1"
    ):
        resolve_judge_invocation_id("amazon.nova-pro-v1:0", "eu-west-1")


def test_an_unknown_judge_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(JudgeNotInvocableError, match=r"unknown judge 'acme\.judge-v1'.*amazon\.nova-pro-v1:0"):
        resolve_judge_invocation_id("acme.judge-v1", "us-east-1")


def test_self_preference_is_detected_by_family_and_an_alternative_of_another_family_is_named() -> None:
    nova = get_model("amazon.nova-lite-v1:0:300k")
    llama = get_model("meta.llama3-1-8b-instruct-v1:0:128k")
    assert same_family("amazon.nova-pro-v1:0", nova)
    assert same_family("us.amazon.nova-pro-v1:0", nova)  # through its profile too
    assert not same_family("amazon.nova-pro-v1:0", llama)
    assert not alternative_judge(nova).family.startswith("amazon-nova")
