"""``tuner capacity``: everything this stack owns that is alive now, young or old, and whether it bills."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdas import aws
from tests.unit.lifecycle.factories import PT_ARN, T0
from tests.unit.lifecycle.test_capacity import deployment_summary, pt_summary
from tuner.cli import main


@pytest.fixture
def stubbed_bedrock() -> Iterator[Stubber]:
    with Stubber(aws.client("bedrock")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def ours(stack: str = "FineTuningStack", run_id: str = "run-1") -> dict[str, Any]:
    return {"tags": [{"key": "fine-tuning:stack", "value": stack}, {"key": "fine-tuning:run-id", "value": run_id}]}


def test_a_young_in_service_throughput_is_listed_as_alive_and_billing(
    stubbed_bedrock: Stubber, fixed_clock: Any, capsys: Any
) -> None:
    # Given this stack's 2-hour-old, in-service throughput (younger than the 4 h lifetime: sweep --dry-run skips it)
    fixed_clock.now = T0 + timedelta(hours=2)
    stubbed_bedrock.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("ft-serve-a")]}
    )
    stubbed_bedrock.add_response("list_tags_for_resource", ours(), {"resourceARN": PT_ARN})
    stubbed_bedrock.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    # When the inventory is asked for, as JSON, with the reference study's hourly price
    code = main(["capacity", "--json", "--price-per-hour", "132", "--fail-if-any"])
    document = json.loads(capsys.readouterr().out)
    # Then it is alive, billing by the hour, about $264 so far, kept by the sweeper for now, and the exit is 1
    assert code == 1
    (item,) = document["alive"]
    assert (item["arn"], item["status"], item["age_hours"]) == (PT_ARN, "InService", 2.0)
    assert item["billing"] == "per started hour while it exists"
    assert item["cost_so_far_usd"] == 264.0
    assert item["swept_now"] is False
    assert "younger than the maximum lifetime" in item["why"]


def test_another_stacks_capacity_is_not_ours_and_nothing_alive_exits_0(
    stubbed_bedrock: Stubber, fixed_clock: Any, capsys: Any
) -> None:
    fixed_clock.now = T0 + timedelta(hours=9)
    stubbed_bedrock.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("theirs")]}
    )
    stubbed_bedrock.add_response("list_tags_for_resource", ours("OtherStack"), {"resourceARN": PT_ARN})
    stubbed_bedrock.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": [deployment_summary("ft-serve-dep")]}
    )
    stubbed_bedrock.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "gone", 404)
    assert main(["capacity", "--fail-if-any"]) == 0
    assert "0 capacity resource(s) of stack FineTuningStack alive; checked 2" in capsys.readouterr().out


def test_an_old_deployment_is_what_the_sweeper_deletes_now_and_an_unlisted_kind_fails(
    stubbed_bedrock: Stubber, fixed_clock: Any, capsys: Any
) -> None:
    fixed_clock.now = T0 + timedelta(hours=6)
    stubbed_bedrock.add_client_error("list_provisioned_model_throughputs", "AccessDeniedException", "no", 403)
    stubbed_bedrock.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": [deployment_summary("ft-serve-dep")]}
    )
    stubbed_bedrock.add_response("list_tags_for_resource", ours(run_id="run-9"))
    code = main(["capacity", "--fail-if-any"])
    out = capsys.readouterr().out
    assert code == 1
    assert "ALIVE: custom-model-deployment ft-serve-dep run=run-9" in out
    assert "bills per token used (nothing while idle)" in out
    assert "the sweeper deletes it now: older than the maximum lifetime (4 h)" in out
    assert "UNCHECKED: could not list provisioned-throughputs" in out
