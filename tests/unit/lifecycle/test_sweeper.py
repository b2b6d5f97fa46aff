from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lambdas.lifecycle.sweeper import SweepIncompleteError, sweep_expired_capacity
from tests.unit.lifecycle.factories import STACK, T0
from tests.unit.lifecycle.test_capacity import deployment_summary, pt_summary

TOPIC = "arn:aws:sns:us-west-2:123456789012:fine-tuning"
PT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/"
DEP = "arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/"
OURS_OLD, OURS_YOUNG, OTHER_STACK, UNTAGGED = (
    PT + "aaaaaaaaaaaa",
    PT + "bbbbbbbbbbbb",
    PT + "cccccccccccc",
    PT + "dddddddddddd",
)
OURS_DEPLOYMENT = DEP + "eeeeeeeeeeee"


def tags(stack: str | None, run_id: str = "run-1") -> dict[str, Any]:
    if stack is None:
        return {"tags": [{"key": "team", "value": "search"}]}
    return {"tags": [{"key": "fine-tuning:stack", "value": stack}, {"key": "fine-tuning:run-id", "value": run_id}]}


@pytest.fixture
def sns_stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("sns", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def queue_account(stubber: Stubber) -> None:
    """Four throughputs and one deployment; now is T0 + 5 h and the maximum lifetime 4 h."""
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {
            "provisionedModelSummaries": [
                pt_summary("ft-serve-old", arn=OURS_OLD, created=T0),
                pt_summary("ft-serve-young", arn=OURS_YOUNG, created=T0 + timedelta(hours=4)),
                pt_summary("theirs", arn=OTHER_STACK, created=T0 - timedelta(hours=1)),
                pt_summary("untagged", arn=UNTAGGED, created=T0 - timedelta(days=3)),
            ]
        },
        {},
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-old"), {"resourceARN": OURS_OLD})
    stubber.add_response("list_tags_for_resource", tags("SomeOtherStack"), {"resourceARN": OTHER_STACK})
    stubber.add_response("list_tags_for_resource", tags(None), {"resourceARN": UNTAGGED})
    stubber.add_response(
        "list_custom_model_deployments",
        {"modelDeploymentSummaries": [deployment_summary("ft-serve-dep", arn=OURS_DEPLOYMENT, created=T0)]},
        {},
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-dep"), {"resourceARN": OURS_DEPLOYMENT})


def test_deletes_only_this_stacks_expired_capacity_and_notifies_once(
    bedrock_stub: Any, sns_stub: Any, fixed_clock: Any
) -> None:
    # Given an account with expired and young, tagged, foreign and untagged capacity
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_account(stubber)
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    stubber.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": OURS_DEPLOYMENT})
    sns_stubber.add_response(
        "publish",
        {"MessageId": "m-1"},
        {"TopicArn": TOPIC, "Subject": ANY, "Message": ANY, "MessageAttributes": ANY},
    )
    # When the sweeper runs (no other delete is queued: deleting anything else would fail the test)
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    # Then exactly this stack's expired throughput and deployment are deleted and reported in one message
    assert [item.arn for item in result.deleted] == [OURS_OLD, OURS_DEPLOYMENT]
    assert [item.run_id for item in result.deleted] == ["run-old", "run-dep"]
    assert result.deleted[0].age_hours == 5.0
    assert result.checked == 5
    assert result.failed == []
    assert result.message_id == "m-1"


def test_dry_run_deletes_and_publishes_nothing(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    sns, _sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_account(stubber)
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC, dry_run=True)
    assert [item.arn for item in result.deleted] == [OURS_OLD, OURS_DEPLOYMENT]
    assert result.dry_run
    assert result.message_id is None


def test_nothing_expired_sends_no_message(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    sns, _sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(minutes=30)
    stubber.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("young", arn=OURS_YOUNG)]}
    )
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    assert (result.checked, result.deleted, result.message_id) == (1, [], None)


def test_a_failed_delete_is_reported_then_raised(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    # Given two expired resources, the first of which cannot be deleted
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_account(stubber)
    stubber.add_client_error("delete_provisioned_model_throughput", "AccessDeniedException", "denied", 403)
    stubber.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": OURS_DEPLOYMENT})
    sent: dict[str, Any] = {}
    sns_stubber.add_response("publish", {"MessageId": "m-2"})
    sns.meta.events.register("provide-client-params.sns.Publish", lambda params, **_: sent.update(params))
    # When swept / Then the other one is still deleted, the failure is published, and the sweep raises
    with pytest.raises(SweepIncompleteError, match=OURS_OLD):
        sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    assert f"FAILED to delete provisioned-throughput ft-serve-old {OURS_OLD}" in sent["Message"]
    assert "deleted custom-model-deployment ft-serve-dep (run run-dep" in sent["Message"]


def test_committed_throughput_is_never_deleted(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    committed = {**pt_summary("ft-serve-committed", arn=OURS_OLD), "commitmentDuration": "OneMonth"}
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [committed]})
    stubber.add_response("list_tags_for_resource", tags(STACK), {"resourceARN": OURS_OLD})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4)
    assert [item.arn for item in result.kept_committed] == [OURS_OLD]
    assert result.deleted == []
