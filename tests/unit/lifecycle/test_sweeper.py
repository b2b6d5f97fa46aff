from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, OperationNotPageableError
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
    # after the deletes, what is alive: this stack's young throughput
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [pt_summary("ft-serve-young", arn=OURS_YOUNG, created=T0 + timedelta(hours=4))]},
        {},
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-young"), {"resourceARN": OURS_YOUNG})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, {})
    sent: dict[str, Any] = {}
    sns_stubber.add_response(
        "publish",
        {"MessageId": "m-1"},
        {"TopicArn": TOPIC, "Subject": ANY, "Message": ANY, "MessageAttributes": ANY},
    )
    sns.meta.events.register("provide-client-params.sns.Publish", lambda params, **_: sent.update(params))
    # When the sweeper runs (no other delete is queued: deleting anything else would fail the test)
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    # Then the message also says what is still alive, and why the sweeper kept it
    assert "Still alive after this sweep:" in sent["Message"]
    assert (
        "provisioned-throughput ft-serve-young (run run-young, InService, age 1.0 h): younger than" in sent["Message"]
    )
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


# --- each kind and each resource on its own: one failure never stops the rest, and it is always reported ---------
def _published(sns: Any, sns_stubber: Stubber) -> dict[str, Any]:
    sent: dict[str, Any] = {}
    sns_stubber.add_response("publish", {"MessageId": "m-3"})
    sns.meta.events.register("provide-client-params.sns.Publish", lambda params, **_: sent.update(params))
    return sent


def queue_throughputs(stubber: Stubber) -> None:
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [pt_summary("ft-serve-old", arn=OURS_OLD, created=T0)]},
        {},
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-old"), {"resourceARN": OURS_OLD})


def queue_deployments(stubber: Stubber) -> None:
    stubber.add_response(
        "list_custom_model_deployments",
        {"modelDeploymentSummaries": [deployment_summary("ft-serve-dep", arn=OURS_DEPLOYMENT, created=T0)]},
        {},
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-dep"), {"resourceARN": OURS_DEPLOYMENT})


class SdkWithoutDeployments:
    """A bedrock client from a boto3 older than the custom-model-deployment APIs (2025-07), as a runtime may bundle."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def get_paginator(self, operation: str) -> Any:
        if operation == "list_custom_model_deployments":
            raise OperationNotPageableError(operation_name=operation)
        return self._client.get_paginator(operation)

    def __getattr__(self, name: str) -> Any:
        if "custom_model_deployment" in name:
            raise AttributeError(f"'Bedrock' object has no attribute '{name}'")
        return getattr(self._client, name)


def test_an_sdk_without_the_deployment_apis_still_deletes_expired_throughputs(
    bedrock_stub: Any, sns_stub: Any, fixed_clock: Any
) -> None:
    # Given an expired throughput of this stack, and a client that cannot list deployments at all
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_throughputs(stubber)
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    sent = _published(sns, sns_stubber)
    # When the sweeper runs / Then the throughput is deleted, and the failed listing is published and raised
    with pytest.raises(SweepIncompleteError, match="could not list custom-model-deployments: OperationNotPageable"):
        sweep_expired_capacity(
            SdkWithoutDeployments(bedrock), stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC
        )
    assert f"deleted provisioned-throughput ft-serve-old (run run-old, age 5 h) {OURS_OLD}" in sent["Message"]
    assert "FAILED to check: could not list custom-model-deployments: OperationNotPageableError" in sent["Message"]
    assert sent["Subject"].endswith("deleted 1, failed 1")


@pytest.mark.parametrize("failing", ["list_provisioned_model_throughputs", "list_custom_model_deployments"])
def test_a_failed_listing_of_one_kind_leaves_the_other_kind_swept_and_is_in_the_result(
    bedrock_stub: Any, fixed_clock: Any, failing: str
) -> None:
    # Given one kind whose listing is refused (a missing permission) and an expired resource of the other kind
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    if failing == "list_provisioned_model_throughputs":
        stubber.add_client_error(failing, "AccessDeniedException", "not authorized", 403)
        queue_deployments(stubber)
        stubber.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": OURS_DEPLOYMENT})
        survivor, failed_kind = OURS_DEPLOYMENT, "provisioned-throughput"
    else:
        queue_throughputs(stubber)
        stubber.add_client_error(failing, "AccessDeniedException", "not authorized", 403)
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
        survivor, failed_kind = OURS_OLD, "custom-model-deployment"
    # When swept by the operator's command (no raise) / Then the other kind is deleted and the failure is reported
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, raise_on_failure=False)
    assert [item.arn for item in result.deleted] == [survivor]
    assert [(f.kind.value, f.arn) for f in result.lookup_failures] == [(failed_kind, None)]
    assert "AccessDeniedException" in result.lookup_failures[0].error
    assert not result.complete
    assert result.summary().endswith("1 lookup(s) failed")


def test_tags_that_cannot_be_read_skip_only_that_resource(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given two expired throughputs, the first of whose tags cannot be read
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {
            "provisionedModelSummaries": [
                pt_summary("unreadable", arn=UNTAGGED, created=T0),
                pt_summary("ft-serve-old", arn=OURS_OLD, created=T0),
            ]
        },
    )
    stubber.add_client_error("list_tags_for_resource", "AccessDeniedException", "no tags for you", 403)
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-old"), {"resourceARN": OURS_OLD})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    # When swept / Then ours is deleted and the unreadable one is reported by its ARN (it may be ours, billing)
    with pytest.raises(SweepIncompleteError, match=f"could not read the tags of provisioned-throughput {UNTAGGED}"):
        sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4)


def test_when_no_kind_can_be_listed_the_cause_itself_is_raised(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given credentials the service refuses for every call
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    for operation in ("list_provisioned_model_throughputs", "list_custom_model_deployments"):
        stubber.add_client_error(operation, "UnrecognizedClientException", "The security token is invalid.", 403)
    # When swept / Then nothing was swept, and the caller sees the error it can act on, not a partial sweep
    with pytest.raises(ClientError, match="UnrecognizedClientException"):
        sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, raise_on_failure=False)
