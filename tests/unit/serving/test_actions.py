"""Promote, roll back and delete against the local Bedrock emulator (through real boto3 clients), moto's SSM and S3:
one stable deployment whose ARN never changes, a record of champions, and a line of history per change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lambdas.serving.actions import (
    DeploymentBusyError,
    ModelGoneError,
    NoServingDeploymentError,
    NothingToRollBackError,
    delete_serving,
    promote,
    rollback,
    serving_deployment_name,
)
from lambdas.serving.record import Champion, ServingKind, protected_arns
from lambdas.serving.store import read_history, read_record
from tests.unit.local.test_bedrock_emulator import BUCKET, LLAMA31, NOVA, ROLE, TRAIN_KEY, Emulated, _start
from tuner.local.bedrock.emulator import DEPLOYMENT_CREATING, DEPLOYMENT_UPDATING
from tuner.local.scenarios import BedrockBehaviour

STACK = "FineTuningStack"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Account:
    def __init__(self, emulated: Emulated) -> None:
        self.emulated = emulated
        self.bedrock: Any = emulated.bedrock
        self.ssm = boto3.client("ssm", region_name="us-east-1")
        self.s3: Any = emulated.s3

    def model(self, name: str, base_model_id: str = NOVA) -> str:
        arn = self.bedrock.create_model_customization_job(
            jobName=name,
            customModelName=f"{name}-model",
            roleArn=ROLE,
            baseModelIdentifier=base_model_id,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
        )["jobArn"]
        self.emulated.clock.advance(6 * 3600)
        return str(self.bedrock.get_model_customization_job(jobIdentifier=arn)["outputModelArn"])

    def champion(self, run_id: str, model_arn: str, base_model_id: str = NOVA) -> Champion:
        return Champion(
            custom_model_arn=model_arn,
            base_model_id=base_model_id,
            run_id=run_id,
            promoted_at=self.emulated.clock.now(),
            scores={"metric": "judge_correctness", "outcome": "improved", "mean_delta": 1.0, "n": 40},
        )

    def promote(self, champion: Champion, **kwargs: Any) -> Any:
        return promote(
            self.bedrock,
            self.ssm,
            self.s3,
            stack_name=STACK,
            bucket=BUCKET,
            champion=champion,
            by="state-machine",
            reason="improved against the base model",
            now=self.emulated.clock.now(),
            **kwargs,
        )

    def rollback(self) -> Any:
        return rollback(self.bedrock, self.ssm, self.s3, stack_name=STACK, bucket=BUCKET, by="cli", reason="complaints")

    def deployment(self, arn: str) -> dict[str, Any]:
        return dict(self.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn))


def test_promote_promote_rollback_keeps_one_deployment_whose_arn_never_changes(account: Account) -> None:
    model_a, model_b = account.model("a"), account.model("b")
    # Given no champion, when run A is promoted
    first = account.promote(account.champion("run-a", model_a))
    # Then the stack's serving deployment is created for it, tagged as serving (not as a run's capacity)
    arn = first.deployment_arn
    assert first.deployment_created
    assert first.changed
    deployment = account.deployment(arn)
    assert (deployment["modelDeploymentName"], deployment["modelArn"]) == ("FineTuningStack-serving", model_a)
    tags = {tag["key"]: tag["value"] for tag in account.bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
    assert tags == {"fine-tuning:serving-stack": STACK, "fine-tuning:role": "serving"}
    record = read_record(account.ssm, STACK)
    assert record is not None
    assert (record.champion.run_id, record.previous, record.deployment_arn) == ("run-a", [], arn)  # type: ignore[union-attr]
    assert record.serving_kind is ServingKind.ON_DEMAND_DEPLOYMENT
    assert "Created the serving deployment" in first.message
    # When run B is promoted once the deployment is Active
    account.emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    second = account.promote(account.champion("run-b", model_b))
    # Then the same deployment is switched to B, and A becomes the rollback target
    assert (second.deployment_arn, second.deployment_created, second.deployment_updated) == (arn, False, True)
    assert second.previous_champion.run_id == "run-a"
    account.emulated.clock.advance(DEPLOYMENT_UPDATING.total_seconds())
    assert account.deployment(arn)["modelArn"] == model_b
    record = read_record(account.ssm, STACK)
    assert [c.run_id for c in record.previous] == ["run-a"]  # type: ignore[union-attr]
    assert protected_arns(record) == {model_a, model_b, arn}
    # When the operator rolls back
    back = account.rollback()
    # Then A serves again through the same ARN, and there is nothing further to roll back to
    assert (back.deployment_arn, back.deployment_updated) == (arn, True)
    account.emulated.clock.advance(DEPLOYMENT_UPDATING.total_seconds())
    assert account.deployment(arn)["modelArn"] == model_a
    record = read_record(account.ssm, STACK)
    assert (record.champion.run_id, record.previous) == ("run-a", [])  # type: ignore[union-attr]
    with pytest.raises(NothingToRollBackError, match="no previous champion"):
        account.rollback()
    # And the history has one line per change, the ledger one deployment, created once
    history = read_history(account.s3, BUCKET)
    assert [(e.action, e.run_id, e.previous, e.by) for e in history] == [
        ("promote", "run-a", None, "state-machine"),
        ("promote", "run-b", model_a, "state-machine"),
        ("rollback", "run-a", model_b, "cli"),
    ]
    assert {e.deployment_arn for e in history} == {arn}
    (ledgered,) = account.emulated.emulator.ledger.of_type("custom-model-deployment")
    assert [model for _at, model in ledgered.model_updates] == [model_b, model_a]


def test_a_deployment_still_creating_refuses_a_switch_and_nothing_is_recorded(account: Account) -> None:
    model_a, model_b = account.model("a"), account.model("b")
    account.promote(account.champion("run-a", model_a))
    with pytest.raises(DeploymentBusyError, match="being created; try again when it is Active"):
        account.promote(account.champion("run-b", model_b))
    assert read_record(account.ssm, STACK).champion.run_id == "run-a"  # type: ignore[union-attr]
    assert len(read_history(account.s3, BUCKET)) == 1


def test_promoting_the_champion_again_changes_nothing(account: Account) -> None:
    model_a = account.model("a")
    account.promote(account.champion("run-a", model_a))
    account.emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    again = account.promote(account.champion("run-a", model_a))
    assert (again.changed, again.deployment_created, again.deployment_updated) == (False, False, False)
    assert "already is the champion" in again.message
    assert len(read_history(account.s3, BUCKET)) == 1


def test_a_deployment_created_before_a_failed_record_write_is_found_by_name(account: Account) -> None:
    # Given the stack's deployment exists but no record names it (the write failed after the create)
    model_a = account.model("a")
    arn = account.bedrock.create_custom_model_deployment(
        modelDeploymentName=serving_deployment_name(STACK), modelArn=model_a
    )["customModelDeploymentArn"]
    account.emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    # When the promotion is retried, it adopts the deployment instead of creating a second one
    change = account.promote(account.champion("run-a", model_a))
    assert (change.deployment_arn, change.deployment_created, change.deployment_updated) == (arn, False, False)
    assert len(account.emulated.emulator.ledger.of_type("custom-model-deployment")) == 1


def test_delete_serving_deletes_the_deployment_keeps_the_champion_and_a_later_promotion_creates_a_new_one(
    account: Account,
) -> None:
    model_a, model_b = account.model("a"), account.model("b")
    arn = account.promote(account.champion("run-a", model_a)).deployment_arn
    account.emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    deleted = delete_serving(
        account.bedrock, account.ssm, account.s3, stack_name=STACK, bucket=BUCKET, by="cli", reason="stack removed"
    )
    assert "Applications calling it now fail" in deleted.message
    record = read_record(account.ssm, STACK)
    assert (record.champion.run_id, record.deployment_arn) == ("run-a", None)  # type: ignore[union-attr]
    (ledgered,) = account.emulated.emulator.ledger.of_type("custom-model-deployment")
    assert (ledgered.arn, ledgered.deleted_by) == (arn, "state-machine")
    with pytest.raises(NoServingDeploymentError):
        delete_serving(account.bedrock, account.ssm, account.s3, stack_name=STACK, bucket=BUCKET, by="cli", reason="x")
    # A new deployment (a new ARN) once something is promoted again
    again = account.promote(account.champion("run-b", model_b))
    assert again.deployment_created
    assert again.deployment_arn != arn
    assert [e.action for e in read_history(account.s3, BUCKET)] == ["promote", "delete", "promote"]


def test_a_model_that_no_longer_exists_is_not_promoted(account: Account) -> None:
    gone = account.model("a")
    account.bedrock.delete_custom_model(modelIdentifier=gone)
    with pytest.raises(ModelGoneError, match="no longer exists"):
        account.promote(account.champion("run-a", gone))
    assert read_record(account.ssm, STACK) is None
    assert account.emulated.emulator.ledger.of_type("custom-model-deployment") == []


def test_a_champion_that_needs_provisioned_throughput_is_recorded_and_nothing_is_bought(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        account = Account(emulated)
        account.ssm = boto3.client("ssm", region_name="us-west-2")
        llama = account.model("l", LLAMA31)
        change = account.promote(account.champion("run-l", llama, LLAMA31))
        assert (change.deployment_arn, change.deployment_created) == (None, False)
        assert "need Provisioned Throughput: nothing was bought" in change.message
        record = read_record(account.ssm, STACK)
        assert record.serving_kind is ServingKind.PROVISIONED_THROUGHPUT_NEEDED  # type: ignore[union-attr]
        assert emulated.emulator.ledger.of_type("provisioned-throughput", "custom-model-deployment") == []


class RecordingSns:
    def __init__(self, fails: bool = False) -> None:
        self.messages: list[dict[str, str]] = []
        self.fails = fails

    def publish(self, **request: str) -> dict[str, str]:
        if self.fails:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://sns")
        self.messages.append(request)
        return {"MessageId": "m-1"}


def test_a_change_is_notified_in_one_short_message_and_a_lost_notification_does_not_undo_it(
    account: Account,
) -> None:
    sns = RecordingSns()
    change = account.promote(account.champion("run-a", account.model("a")), sns=sns, topic_arn="arn:topic")
    assert change.notified
    (message,) = sns.messages
    assert message["TopicArn"] == "arn:topic"
    assert message["Subject"] == "[FineTuningStack] serving: promote run-a"
    assert message["Message"].startswith("Promoted run run-a")
    account.emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    failing = account.promote(
        account.champion("run-b", account.model("b")), sns=RecordingSns(fails=True), topic_arn="t"
    )
    assert (failing.changed, failing.notified) == (True, False)
    assert "Could not connect" in (failing.notification_error or "")
    assert read_record(account.ssm, STACK).champion.run_id == "run-b"  # type: ignore[union-attr]


def test_the_create_request_matches_the_service_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no record and no deployment, stubbed Bedrock (the request is checked against botocore's model)
    from moto import mock_aws

    model = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/dddddddddddd"
    with mock_aws():
        ssm, s3 = boto3.client("ssm", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        bedrock = boto3.client("bedrock", region_name="us-east-1")
        not_found = {"service_error_code": "ResourceNotFoundException", "http_status_code": 404}
        with Stubber(bedrock) as stub:
            stub.add_response(
                "get_custom_model",
                {
                    "modelArn": model,
                    "modelName": "m",
                    "creationTime": T0,
                    "baseModelArn": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
                },
                {"modelIdentifier": model},
            )
            stub.add_client_error(
                "get_custom_model_deployment",
                **not_found,
                expected_params={"customModelDeploymentIdentifier": "FineTuningStack-serving"},
            )  # type: ignore[arg-type]
            stub.add_response(
                "create_custom_model_deployment",
                {"customModelDeploymentArn": deployment},
                {
                    "modelDeploymentName": "FineTuningStack-serving",
                    "modelArn": model,
                    "description": ANY,
                    "tags": [
                        {"key": "fine-tuning:serving-stack", "value": STACK},
                        {"key": "fine-tuning:role", "value": "serving"},
                    ],
                    "clientRequestToken": ANY,
                },
            )
            change = promote(
                bedrock,
                ssm,
                s3,
                stack_name=STACK,
                bucket=BUCKET,
                champion=Champion(custom_model_arn=model, base_model_id=NOVA, run_id="r", promoted_at=T0),
                by="cli",
                reason="r",
                now=T0,
            )
            stub.assert_no_pending_responses()
    assert change.deployment_arn == deployment


def test_the_deployment_name_fits_bedrock_s_pattern_and_length() -> None:
    import re

    assert serving_deployment_name("FineTuningStack") == "FineTuningStack-serving"
    long = serving_deployment_name("My--Stack_" + "x" * 80)
    assert len(long) <= 63
    assert re.fullmatch(r"([0-9a-zA-Z][_-]?)+", long)
    assert long.endswith("-serving")
    assert serving_deployment_name("My--Stack").startswith("My-Stack-")


def test_the_clock_defaults_to_the_pipeline_clock(account: Account) -> None:
    from lambdas import clock

    moment = T0 + timedelta(days=3)
    clock.use_clock(lambda: moment)
    try:
        change = promote(
            account.bedrock,
            account.ssm,
            account.s3,
            stack_name=STACK,
            bucket=BUCKET,
            champion=account.champion("run-a", account.model("a")),
            by="cli",
            reason="r",
        )
    finally:
        clock.use_system_clock()
    assert change.record.updated_at == moment
