"""The emulator's UpdateCustomModelDeployment (one stable deployment, switched between models) and its snapshot of
the emulated account, through real boto3 clients on the loopback endpoints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

from tests.unit.local.test_bedrock_emulator import (
    QA,
    REGION,
    Emulated,
    _create_job,
    _finish_job,
    _start,
)
from tuner.local.bedrock.emulator import DEPLOYMENT_UPDATING, EmulatedBedrock
from tuner.local.bedrock.protocol import RestJsonService
from tuner.local.scenarios import BedrockBehaviour
from tuner.local.simclock import SimulatedClock

QUESTION = [{"role": "user", "content": [{"text": "How long can capacity live before it is swept?"}]}]


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulated]:
    yield from _start(BedrockBehaviour(), monkeypatch)


def _two_models(emulated: Emulated) -> tuple[str, str]:
    first = _finish_job(emulated, _create_job(emulated, "job-a", token="a"))["outputModelArn"]
    second = _finish_job(emulated, _create_job(emulated, "job-b", token="b"))["outputModelArn"]
    return first, second


def _active_deployment(emulated: Emulated, model_arn: str) -> str:
    arn: str = emulated.bedrock.create_custom_model_deployment(  # type: ignore[attr-defined]
        modelDeploymentName="stack-serving", modelArn=model_arn
    )["customModelDeploymentArn"]
    emulated.clock.advance(600)
    return arn


def test_the_patch_route_is_update_custom_model_deployment() -> None:
    service = RestJsonService("bedrock")
    operation, params = service.parse_request(
        "PATCH", "/model-customization/custom-model-deployments/stack-serving", b'{"modelArn": "arn:m"}'
    )
    assert (operation, params) == (
        "UpdateCustomModelDeployment",
        {"customModelDeploymentIdentifier": "stack-serving", "modelArn": "arn:m"},
    )


def test_update_keeps_the_arn_reports_updating_then_serves_the_new_model(emulated: Emulated) -> None:
    # Given an Active deployment of model A
    model_a, model_b = _two_models(emulated)
    arn = _active_deployment(emulated, model_a)
    bedrock = emulated.bedrock
    # When it is switched to model B
    answer = bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=model_b)  # type: ignore[attr-defined]
    # Then the answer names the same deployment, which is still Active and still serves A while the update runs
    assert answer["customModelDeploymentArn"] == arn
    during = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)  # type: ignore[attr-defined]
    assert (during["status"], during["modelArn"]) == ("Active", model_a)
    assert during["updateDetails"] == {"modelArn": model_b, "updateStatus": "Updating"}
    assert emulated.runtime.converse(modelId=arn, messages=QUESTION)["output"]["message"]["content"][0]["text"]  # type: ignore[attr-defined]
    # And once the update has had its time, Get and List report model B under the unchanged ARN
    emulated.clock.advance(DEPLOYMENT_UPDATING.total_seconds())
    after = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)  # type: ignore[attr-defined]
    assert (after["customModelDeploymentArn"], after["status"], after["modelArn"]) == (arn, "Active", model_b)
    assert after["updateDetails"] == {"modelArn": model_b, "updateStatus": "UpdateCompleted"}
    assert after["lastUpdatedAt"] > during["lastUpdatedAt"]
    listed = bedrock.list_custom_model_deployments(modelArnEquals=model_b)["modelDeploymentSummaries"]  # type: ignore[attr-defined]
    assert [item["customModelDeploymentArn"] for item in listed] == [arn]
    reply = emulated.runtime.converse(modelId=arn, messages=QUESTION)  # type: ignore[attr-defined]
    assert reply["output"]["message"]["content"][0]["text"] == QA[1][1]
    # And the ledger has one deployment, created once, with its model update
    deployments = emulated.emulator.ledger.of_type("custom-model-deployment")
    assert len(deployments) == 1
    assert deployments[0].to_json()["model_updates"] == [
        {"at": deployments[0].to_json()["model_updates"][0]["at"], "model_arn": model_b}
    ]


def test_update_is_refused_while_creating_or_updating_and_for_unknown_or_unservable_models(
    emulated: Emulated,
) -> None:
    model_a, model_b = _two_models(emulated)
    bedrock = emulated.bedrock
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model_a)["customModelDeploymentArn"]  # type: ignore[attr-defined]

    def refused(identifier: str, model_arn: str) -> tuple[str, str]:
        with pytest.raises(ClientError) as raised:
            bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=identifier, modelArn=model_arn)  # type: ignore[attr-defined]
        error = raised.value.response["Error"]
        return error["Code"], error["Message"]

    assert refused(arn, model_b) == (
        "ValidationException",
        "Custom model deployment d is Creating and cannot be updated",
    )
    emulated.clock.advance(600)
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier="d", modelArn=model_b)  # type: ignore[attr-defined]
    assert refused(arn, model_a)[1] == "Custom model deployment d already has an update in progress"
    missing_model = model_a[:-12] + "000000000000"
    assert refused(arn, missing_model)[0] == "ResourceNotFoundException"
    missing_deployment = arn[:-12] + "000000000000"
    assert refused(missing_deployment, model_a)[0] == "ResourceNotFoundException"
    # Neither the old nor the new model can be deleted while the deployment uses them
    for model in (model_a, model_b):
        with pytest.raises(ClientError) as raised:
            bedrock.delete_custom_model(modelIdentifier=model)  # type: ignore[attr-defined]
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_snapshot_restores_the_account_in_another_emulator(emulated: Emulated) -> None:
    # Given an account with two models, a deployment switched from A to B, a throughput deleted, and tags
    model_a, model_b = _two_models(emulated)
    bedrock = emulated.bedrock
    arn = _active_deployment(emulated, model_a)
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=model_b)  # type: ignore[attr-defined]
    pt = bedrock.create_provisioned_model_throughput(  # type: ignore[attr-defined]
        modelUnits=1, provisionedModelName="pt", modelId=model_a, tags=[{"key": "k", "value": "v"}]
    )["provisionedModelArn"]
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt)  # type: ignore[attr-defined]
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "fine-tuning:serving-stack", "value": "S"}])  # type: ignore[attr-defined]
    before = {
        "deployment": bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn),  # type: ignore[attr-defined]
        "models": bedrock.list_custom_models()["modelSummaries"],  # type: ignore[attr-defined]
        "jobs": bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"],  # type: ignore[attr-defined]
        "tags": bedrock.list_tags_for_resource(resourceARN=arn)["tags"],  # type: ignore[attr-defined]
    }
    # When it is snapshotted through JSON and restored into a fresh emulator on a clock at the same moment
    snapshot = json.loads(json.dumps(emulated.emulator.snapshot()))
    assert snapshot["taken_at"].startswith(emulated.clock.now().date().isoformat())
    clock = SimulatedClock(emulated.clock.now())
    fresh = EmulatedBedrock(clock, region=REGION)
    fresh.restore(snapshot)

    def call(operation: str, **params: object) -> dict:  # type: ignore[type-arg]
        return fresh.dispatch("bedrock", operation, params)

    # Then the same account answers the same, and goes on living in simulated time
    deployment = call("GetCustomModelDeployment", customModelDeploymentIdentifier=arn)
    for key in ("customModelDeploymentArn", "modelDeploymentName", "modelArn", "status", "createdAt", "lastUpdatedAt"):
        assert deployment[key] == before["deployment"][key], key
    assert deployment["updateDetails"] == {"modelArn": model_b, "updateStatus": "Updating"}
    assert [m["modelArn"] for m in call("ListCustomModels")["modelSummaries"]] == [
        m["modelArn"] for m in before["models"]
    ]
    assert [j["status"] for j in call("ListModelCustomizationJobs")["modelCustomizationJobSummaries"]] == [
        j["status"] for j in before["jobs"]
    ]
    assert call("ListTagsForResource", resourceARN=arn)["tags"] == before["tags"]
    assert fresh.ledger.to_json() == emulated.emulator.ledger.to_json()
    clock.advance(DEPLOYMENT_UPDATING.total_seconds())
    assert call("GetCustomModelDeployment", customModelDeploymentIdentifier=arn)["modelArn"] == model_b
    reply = fresh.dispatch("bedrock-runtime", "Converse", {"modelId": arn, "messages": QUESTION})
    assert reply["output"]["message"]["content"][0]["text"] == QA[1][1]  # the training pairs came along
    # And a snapshot of the restored account is the same document, taken later
    again = fresh.snapshot()
    assert {k: v for k, v in again.items() if k != "taken_at"} == {k: v for k, v in snapshot.items() if k != "taken_at"}


def test_restore_refuses_a_snapshot_of_another_region_or_version() -> None:
    clock = SimulatedClock()
    source = EmulatedBedrock(clock, region="us-west-2").snapshot()
    target = EmulatedBedrock(clock, region="us-east-1")
    with pytest.raises(ValueError, match="the snapshot is of us-west-2"):
        target.restore(source)
    with pytest.raises(ValueError, match="version 0"):
        target.restore(source | {"snapshot_version": 0})


def test_job_durations_and_stops_survive_a_snapshot(emulated: Emulated) -> None:
    arn = _create_job(emulated, "job-s", token="s")
    emulated.bedrock.stop_model_customization_job(jobIdentifier=arn)  # type: ignore[attr-defined]
    fresh = EmulatedBedrock(SimulatedClock(emulated.clock.now() + timedelta(minutes=5)), region=REGION)
    fresh.restore(emulated.emulator.snapshot())
    assert fresh.dispatch("bedrock", "GetModelCustomizationJob", {"jobIdentifier": arn})["status"] == "Stopped"
