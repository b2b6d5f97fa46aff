"""The inventory: every capacity this stack owns, young or old, what it has cost and whether the sweeper deletes it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from lambdas.lifecycle.inventory import CapacityInventory, LiveCapacity, capacity_inventory
from lambdas.registry import Serving
from tests.unit.lifecycle.factories import DEPLOYMENT_ARN, PT_ARN, STACK, T0, ListsThroughputsAsGiven
from tests.unit.lifecycle.test_capacity import deployment_summary, pt_summary

OTHER_PT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt0000000002"


def tags(stack: str, run_id: str = "run-1") -> dict[str, Any]:
    return {"tags": [{"key": "fine-tuning:stack", "value": stack}, {"key": "fine-tuning:run-id", "value": run_id}]}


def take(
    bedrock: Any, stubber: Stubber, throughputs: list[dict[str, Any]], *, price: float | None = 10.0, **tag_answers: Any
) -> CapacityInventory:
    """List ``throughputs`` (each of this stack unless ``tag_answers`` says otherwise) and no deployment."""
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": throughputs})
    for summary in throughputs:
        answer = tag_answers.get(summary["provisionedModelName"], tags(STACK, "run-" + summary["provisionedModelName"]))
        stubber.add_response("list_tags_for_resource", answer, {"resourceARN": summary["provisionedModelArn"]})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    return capacity_inventory(bedrock, stack_name=STACK, max_age_hours=4, hourly_price_usd=price)


def test_a_young_throughput_of_several_units_is_alive_billing_and_kept(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given this stack's 2-unit throughput, 1 h 20 min old, at $10 per model-unit hour
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=1, minutes=20)
    # When the inventory is taken
    inventory = take(bedrock, stubber, [pt_summary("a", units=2)])
    # Then it is listed with everything a person needs to decide, and 2 started hours x 2 units are estimated
    assert inventory.alive == [
        LiveCapacity(
            kind=Serving.PROVISIONED_THROUGHPUT,
            arn=PT_ARN,
            name="a",
            status="InService",
            run_id="run-a",
            created_at=T0,
            age_hours=1.33,
            model_units=2,
            committed=False,
            billing="per started hour while it exists",
            cost_so_far_usd=40.0,
            swept_now=False,
            why="younger than the maximum lifetime (4 h); a run may be using it",
        )
    ]
    assert (inventory.checked, inventory.complete, inventory.taken_at) == (1, True, fixed_clock.now)


@pytest.mark.parametrize(
    ("age", "hours_billed"),
    [(timedelta(0), 1), (timedelta(minutes=30), 1), (timedelta(hours=1), 1), (timedelta(hours=1, seconds=36), 2)],
)
def test_cost_so_far_is_per_started_hour(
    bedrock_stub: Any, fixed_clock: Any, age: timedelta, hours_billed: int
) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + age
    (item,) = take(bedrock, stubber, [pt_summary("a")], price=13.337).alive
    assert item.cost_so_far_usd == round(hours_billed * 13.337, 2)


def test_without_a_price_there_is_no_cost(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=2)
    (item,) = take(bedrock, stubber, [pt_summary("a")], price=None).alive
    assert item.cost_so_far_usd is None


@pytest.mark.parametrize(
    ("age", "swept", "why"),
    [
        (timedelta(hours=4), False, "younger than the maximum lifetime (4 h); a run may be using it"),
        (timedelta(hours=4, seconds=36), True, "older than the maximum lifetime (4 h)"),
    ],
)
def test_swept_now_agrees_with_the_sweepers_strict_bound(
    bedrock_stub: Any, fixed_clock: Any, age: timedelta, swept: bool, why: str
) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + age
    (item,) = take(bedrock, stubber, [pt_summary("a")]).alive
    assert (item.swept_now, item.why) == (swept, why)


def test_a_committed_throughput_is_never_swept_however_old(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(days=10)
    committed = {**pt_summary("c"), "commitmentDuration": "SixMonths"}
    (item,) = take(bedrock, stubber, [committed]).alive
    assert (item.committed, item.swept_now, item.age_hours) == (True, False, 240.0)
    assert item.why == "a committed throughput cannot be deleted before its term"


def test_a_throughput_listed_without_creation_time_or_units(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given this stack's throughput listed without a creation time, and another without model units
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=9)
    ageless = {key: value for key, value in pt_summary("ageless").items() if key != "creationTime"}
    unitless = {key: value for key, value in pt_summary("unitless", arn=OTHER_PT).items() if key != "modelUnits"}
    stubber.add_response("list_tags_for_resource", tags(STACK), {"resourceARN": PT_ARN})
    stubber.add_response("list_tags_for_resource", tags(STACK), {"resourceARN": OTHER_PT})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    # When the inventory is taken
    inventory = capacity_inventory(
        ListsThroughputsAsGiven(bedrock, [ageless, unitless]), stack_name=STACK, max_age_hours=4, hourly_price_usd=10.0
    )
    # Then the one of unknown age is alive, never swept, and of unknown cost; the other is priced as one unit
    first, second = inventory.alive
    assert (first.created_at, first.age_hours, first.cost_so_far_usd, first.swept_now) == (None, None, None, False)
    assert first.why == "no creation time: the sweeper never deletes what a run may be using"
    assert (second.model_units, second.cost_so_far_usd, second.swept_now) == (None, 90.0, True)


def test_an_old_deployment_bills_per_token_and_is_swept(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=6)
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []})
    stubber.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": [deployment_summary("d", status="Creating")]}
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-d"), {"resourceARN": DEPLOYMENT_ARN})
    (item,) = capacity_inventory(bedrock, stack_name=STACK, max_age_hours=4, hourly_price_usd=10.0).alive
    assert (item.kind, item.status, item.run_id, item.age_hours) == (
        Serving.CUSTOM_MODEL_DEPLOYMENT,
        "Creating",
        "run-d",
        6.0,
    )
    assert (item.billing, item.cost_so_far_usd, item.model_units) == ("per token used (nothing while idle)", None, None)
    assert item.swept_now


def test_others_and_unreadable_ones_do_not_hide_ours(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given an unreadable throughput, then another stack's, a vanished one and an untagged one, and ours last
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=1)
    arns = [f"arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt00000000{i:02d}" for i in range(5)]
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [pt_summary(f"p{i}", arn=arn) for i, arn in enumerate(arns)]},
    )
    stubber.add_client_error("list_tags_for_resource", "AccessDeniedException", "no", 403)
    stubber.add_response("list_tags_for_resource", tags("OtherStack"), {"resourceARN": arns[1]})
    stubber.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "gone", 404)
    stubber.add_response("list_tags_for_resource", {}, {"resourceARN": arns[3]})
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-4"), {"resourceARN": arns[4]})
    stubber.add_client_error("list_custom_model_deployments", "AccessDeniedException", "not authorized", 403)
    # When the inventory is taken
    inventory = capacity_inventory(bedrock, stack_name=STACK, max_age_hours=4)
    # Then ours is listed, and both the unreadable resource and the unlisted kind are reported, by kind and ARN
    assert [item.arn for item in inventory.alive] == [arns[4]]
    assert inventory.checked == 5
    assert not inventory.complete
    assert [(failure.kind, failure.arn) for failure in inventory.lookup_failures] == [
        (Serving.PROVISIONED_THROUGHPUT, arns[0]),
        (Serving.CUSTOM_MODEL_DEPLOYMENT, None),
    ]
    assert [failure.error for failure in inventory.lookup_failures] == [
        "AccessDeniedException: An error occurred (AccessDeniedException) when calling the ListTagsForResource "
        "operation: no",
        "AccessDeniedException: An error occurred (AccessDeniedException) when calling the ListCustomModelDeployments "
        "operation: not authorized",
    ]
