from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, OperationNotPageableError
from botocore.stub import ANY, Stubber

from lambdas.errors import TransientServiceError
from lambdas.lifecycle.sweeper import SweepIncompleteError, sweep_expired_capacity
from tests.unit.lifecycle.factories import PT_ARN, STACK, T0, ListsThroughputsAsGiven
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


# --- the survivors that would leave capacity billing, or the operator uninformed ------------------------------------
COMMITTED = PT + "ffffffffffff"


def test_a_committed_throughput_does_not_stop_the_sweep_and_the_message_says_what_is_kept(
    bedrock_stub: Any, sns_stub: Any, fixed_clock: Any
) -> None:
    # Given this stack's expired committed throughput listed before an expired no-commitment one of 2 model units
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    committed = {**pt_summary("ft-serve-committed", arn=COMMITTED), "commitmentDuration": "OneMonth"}
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [committed, pt_summary("ft-serve-old", arn=OURS_OLD, units=2)]},
        {},
    )
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-c"), {"resourceARN": COMMITTED})
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-old"), {"resourceARN": OURS_OLD})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, {})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    # after the sweep only the committed one is alive
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [committed]}, {})
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-c"), {"resourceARN": COMMITTED})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, {})
    sns_stubber.add_response(
        "publish",
        {"MessageId": "m-4"},
        {
            "TopicArn": TOPIC,
            "Subject": f"Fine-tuning sweeper ({STACK}): deleted 1, failed 0",
            "Message": ANY,
            "MessageAttributes": {
                "event": {"DataType": "String", "StringValue": "capacity-swept"},
                "deleted": {"DataType": "Number", "StringValue": "1"},
            },
        },
    )
    sent: dict[str, Any] = {}
    sns.meta.events.register("provide-client-params.sns.Publish", lambda params, **_: sent.update(params))
    # When the sweeper runs
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    # Then the sweep went on past the committed one, and the email names both and what is still alive
    assert [item.arn for item in result.kept_committed] == [COMMITTED]
    assert [item.arn for item in result.deleted] == [OURS_OLD]
    assert result.complete
    assert sent["Message"] == "\n".join(
        [
            f"sweep of stack {STACK}: deleted 1, failed 0, checked 2 (max age 4 h)",
            "",
            f"deleted provisioned-throughput ft-serve-old (run run-old, age 5 h) {OURS_OLD}",
            f"kept committed throughput ft-serve-committed {COMMITTED}: it cannot be deleted before its term",
            "",
            "Still alive after this sweep:",
            "  provisioned-throughput ft-serve-committed (run run-c, InService, age 5.0 h): "
            f"a committed throughput cannot be deleted before its term {COMMITTED}",
        ]
    )


def test_capacity_of_unknown_age_is_never_swept(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given this stack's throughput listed without a creation time (a run may be using it right now)
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(days=30)
    ageless = {key: value for key, value in pt_summary("ft-serve-now", arn=OURS_OLD).items() if key != "creationTime"}
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []}, {})
    # When swept (no tag read and no delete is queued: either would fail the test)
    result = sweep_expired_capacity(ListsThroughputsAsGiven(bedrock, [ageless]), stack_name=STACK, max_age_hours=4)
    # Then it was looked at and kept
    assert (result.checked, result.deleted, result.failed) == (1, [], [])


def test_capacity_deleted_while_its_tags_are_read_does_not_stop_the_sweep(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given two expired throughputs, the first of which disappears between the listing and the tag read
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    stubber.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [pt_summary("gone", arn=UNTAGGED), pt_summary("ft-serve-old", arn=OURS_OLD)]},
    )
    stubber.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "no such resource", 404)
    stubber.add_response("list_tags_for_resource", tags(STACK, "run-old"), {"resourceARN": OURS_OLD})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    # When swept / Then the vanished one is neither a failure nor a reason to stop, and ours is deleted
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4)
    assert [item.arn for item in result.deleted] == [OURS_OLD]
    assert result.complete
    assert result.summary() == f"sweep of stack {STACK}: deleted 1, failed 0, checked 2 (max age 4 h)"


def test_a_resource_without_any_tags_is_not_ours(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("bare")]})
    stubber.add_response("list_tags_for_resource", {})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4)
    assert (result.checked, result.deleted) == (1, [])


@pytest.mark.parametrize(
    ("age", "swept"),
    [(timedelta(hours=4), False), (timedelta(hours=4, seconds=1), True)],
    ids=["exactly-the-lifetime-is-kept", "a-second-older-is-swept"],
)
def test_the_maximum_lifetime_is_a_strict_bound(
    bedrock_stub: Any, fixed_clock: Any, age: timedelta, swept: bool
) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + age
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("a")]})
    if swept:
        stubber.add_response("list_tags_for_resource", tags(STACK), {"resourceARN": PT_ARN})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    if swept:
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4)
    assert len(result.deleted) == int(swept)


def test_ages_are_reported_in_hours_to_the_hundredth(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=30, minutes=20)
    queue_throughputs(stubber)
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, dry_run=True)
    assert result.deleted[0].age_hours == 30.33
    assert result.deleted[0].created_at == T0
    assert result.summary() == f"sweep of stack {STACK}: would delete 1, failed 0, checked 1 (max age 4 h)"


def test_a_tag_read_that_fails_is_reported_with_its_cause(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    stubber.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("ft-serve-old", arn=OURS_OLD)]}
    )
    stubber.add_client_error("list_tags_for_resource", "ThrottlingException", "Rate exceeded", 429)
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, raise_on_failure=False)
    (failure,) = result.lookup_failures
    assert (failure.kind.value, failure.arn) == ("provisioned-throughput", OURS_OLD)
    assert failure.error == f"TransientServiceError: reading tags of {OURS_OLD}: ThrottlingException: Rate exceeded"


def test_a_failed_delete_keeps_its_cause(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_throughputs(stubber)
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_client_error("delete_provisioned_model_throughput", "AccessDeniedException", "denied", 403)
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, raise_on_failure=False)
    (failed,) = result.failed
    assert failed.error == (
        "AccessDeniedException: An error occurred (AccessDeniedException) when calling the "
        "DeleteProvisionedModelThroughput operation: denied"
    )
    assert result.summary() == f"sweep of stack {STACK}: deleted 0, failed 1, checked 1 (max age 4 h)"


def test_without_a_topic_nothing_is_published(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    # Given an SNS client but no topic configured (no publish is queued: publishing would fail the test)
    bedrock, stubber = bedrock_stub
    sns, _sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_throughputs(stubber)
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns)
    assert (len(result.deleted), result.message_id) == (1, None)


def _sweep_one_and_publish(bedrock_stub: Any, sns_stub: Any, stack: str) -> dict[str, Any]:
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    stubber.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("ft-serve-old", arn=OURS_OLD)]}
    )
    stubber.add_response("list_tags_for_resource", tags(stack, "run-old"), {"resourceARN": OURS_OLD})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    sent = _published(sns, sns_stubber)
    sweep_expired_capacity(bedrock, stack_name=stack, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    return sent


def test_the_message_says_when_nothing_is_left(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    fixed_clock.now = T0 + timedelta(hours=5)
    sent = _sweep_one_and_publish(bedrock_stub, sns_stub, STACK)
    assert sent["Message"] == "\n".join(
        [
            f"sweep of stack {STACK}: deleted 1, failed 0, checked 1 (max age 4 h)",
            "",
            f"deleted provisioned-throughput ft-serve-old (run run-old, age 5 h) {OURS_OLD}",
            "",
            "Nothing of this stack is alive after this sweep.",
        ]
    )


def test_the_subject_fits_snss_100_characters(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    fixed_clock.now = T0 + timedelta(hours=5)
    long_stack = "S" * 120
    sent = _sweep_one_and_publish(bedrock_stub, sns_stub, long_stack)
    assert sent["Subject"] == f"Fine-tuning sweeper ({long_stack}"[:100]


def test_what_is_alive_that_cannot_be_listed_is_said_in_the_message(
    bedrock_stub: Any, sns_stub: Any, fixed_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the inventory after the sweep fails for a reason of its own
    def broken_inventory(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("inventory exploded")

    monkeypatch.setattr("lambdas.lifecycle.inventory.capacity_inventory", broken_inventory)
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_throughputs(stubber)
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    sent = _published(sns, sns_stubber)
    # When swept / Then the sweep's own result still goes out, saying what could not be listed
    sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)
    assert sent["Message"].endswith(
        "Still alive after this sweep:\n  (could not list what is alive: RuntimeError: inventory exploded)"
    )


def test_a_notification_that_cannot_be_sent_says_so(bedrock_stub: Any, sns_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    sns, sns_stubber = sns_stub
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_throughputs(stubber)
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": OURS_OLD})
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    sns_stubber.add_client_error("publish", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(TransientServiceError, match=r"^publishing the sweep notification: ThrottlingException"):
        sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, sns=sns, topic_arn=TOPIC)


def test_when_no_kind_can_be_listed_the_first_listings_error_is_raised(bedrock_stub: Any, fixed_clock: Any) -> None:
    bedrock, stubber = bedrock_stub
    stubber.add_client_error("list_provisioned_model_throughputs", "UnrecognizedClientException", "bad token", 403)
    stubber.add_client_error("list_custom_model_deployments", "AccessDeniedException", "not authorized", 403)
    with pytest.raises(ClientError, match="UnrecognizedClientException"):
        sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4, raise_on_failure=False)


def test_the_stacks_serving_deployment_is_never_swept(bedrock_stub: Any, fixed_clock: Any) -> None:
    # Given the stack's stable serving deployment (lambdas/serving), months old, tagged as the serving deployment
    from lambdas.serving.actions import serving_deployment_name, serving_tags

    bedrock, stubber = bedrock_stub
    fixed_clock.now = T0 + timedelta(days=90)
    serving = DEP + "5e5e5e5e5e5e"
    stubber.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": []})
    stubber.add_response(
        "list_custom_model_deployments",
        {"modelDeploymentSummaries": [deployment_summary(serving_deployment_name(STACK), arn=serving)]},
    )
    stubber.add_response("list_tags_for_resource", {"tags": serving_tags(STACK)}, {"resourceARN": serving})
    # When swept / Then it is looked at, and left alone: it is not a run's capacity
    result = sweep_expired_capacity(bedrock, stack_name=STACK, max_age_hours=4)
    assert (result.checked, result.deleted) == (1, [])
