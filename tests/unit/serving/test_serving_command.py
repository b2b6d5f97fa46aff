"""``tuner serving | promote RUN_ID | rollback`` on moto's SSM, S3 and CloudFormation and the local Bedrock
emulator: who serves, since when, with which scores; changes by hand; errors in one line with exit 2."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from tests.unit.local.test_bedrock_emulator import BUCKET, LLAMA31, ROLE, TRAIN_KEY, Emulated, _start
from tests.unit.serving.reports import NOVA, report, verdict
from tuner.cli import main
from tuner.commands import serving
from tuner.local.bedrock.emulator import DEPLOYMENT_CREATING, DEPLOYMENT_UPDATING
from tuner.local.scenarios import BedrockBehaviour

WHERE = ["--bucket", BUCKET, "--region", "us-east-1"]
REAL_STACK_OUTPUTS = serving._stack_outputs


@pytest.fixture(autouse=True)
def no_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's CloudFormation needs packages this project does not install: the stack is answered here."""

    def outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
        raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack {stack_name} does not exist"}}, "X")

    monkeypatch.setattr(serving, "_stack_outputs", outputs)


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulated]:
    yield from _start(BedrockBehaviour(), monkeypatch)


def trained(emulated: Emulated, name: str, base_model_id: str = NOVA) -> str:
    bedrock: Any = emulated.bedrock
    job = bedrock.create_model_customization_job(
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=ROLE,
        baseModelIdentifier=base_model_id,
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
    )["jobArn"]
    emulated.clock.advance(6 * 3600)
    return str(bedrock.get_model_customization_job(jobIdentifier=job)["outputModelArn"])


def publish(emulated: Emulated, run_id: str, model_arn: str | None, **kwargs: Any) -> None:
    body = report(run_id, model_arn, **kwargs).model_dump_json()
    emulated.s3.put_object(Bucket=BUCKET, Key=f"runs/{run_id}/report.json", Body=body.encode())  # type: ignore[attr-defined]


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main([*argv, "--json", *WHERE]) == 0, capsys.readouterr().err
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main([*argv, *WHERE]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1  # one line
    return error


def test_no_champion_yet(emulated: Emulated, capsys: pytest.CaptureFixture[str]) -> None:
    document = cli_json(capsys, "serving")
    assert (document["record"], document["deployment"], document["history"]) == (None, None, [])
    assert main(["serving", *WHERE]) == 0
    assert "No champion yet: promote a run with python -m tuner promote RUN_ID" in capsys.readouterr().out


def test_promote_promote_rollback_from_the_command_line(emulated: Emulated, capsys: pytest.CaptureFixture[str]) -> None:
    model_a, model_b = trained(emulated, "a"), trained(emulated, "b")
    publish(emulated, "run-a", model_a)
    publish(emulated, "run-b", model_b)
    # When run A is promoted, then run B once the deployment is Active
    first = cli_json(capsys, "promote", "run-a")
    arn = first["deployment_arn"]
    assert first["record"]["champion"]["run_id"] == "run-a"
    emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    assert main(["promote", "run-b", *WHERE]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Promoted run run-b")
    assert f"Applications call: {arn}" in out
    emulated.clock.advance(DEPLOYMENT_UPDATING.total_seconds())
    # Then serving names B, served through the same deployment, with its scores and A as the rollback target
    document = cli_json(capsys, "serving")
    assert document["record"]["champion"]["run_id"] == "run-b"
    assert document["deployment"]["arn"] == arn
    assert (document["deployment"]["status"], document["deployment"]["model_arn"]) == ("Active", model_b)
    assert [entry["action"] for entry in document["history"]] == ["promote", "promote"]
    assert main(["serving", *WHERE]) == 0
    text = capsys.readouterr().out
    assert "Champion: run run-b, since " in text
    assert "scores: improved against the base model on judge_correctness, +1.3 [95% CI +0.6, +2.0], n=40" in text
    assert f"Serving deployment (applications call this modelId; it never changes): {arn}" in text
    assert "Rollback targets (newest first): run run-a" in text
    # When the operator rolls back, A serves again through the same ARN
    back = cli_json(capsys, "rollback")
    assert (back["action"], back["deployment_arn"], back["record"]["champion"]["run_id"]) == ("rollback", arn, "run-a")
    assert back["history"]["by"] == "cli"
    assert "no previous champion to roll back to" in refused(capsys, "rollback")


def test_a_run_that_did_not_improve_needs_force(emulated: Emulated, capsys: pytest.CaptureFixture[str]) -> None:
    publish(
        emulated, "run-t", trained(emulated, "t"), outcome_verdict=verdict(mean_delta=0.1, ci_low=-0.3, ci_high=0.5)
    )
    error = refused(capsys, "promote", "run-t")
    assert "run run-t did not improve on its base model (no_clear_difference:" in error
    assert error.endswith("promote it anyway with --force\n")
    assert cli_json(capsys, "promote", "run-t", "--force", "--reason", "needed today")["history"]["reason"] == (
        "needed today"
    )


def test_promote_refuses_what_cannot_serve(emulated: Emulated, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no report for run run-x at s3://emulator-test-bucket/runs/run-x/report.json" in refused(
        capsys, "promote", "run-x"
    )
    assert "is not a run id" in refused(capsys, "promote", "../etc")
    publish(emulated, "run-f", None)
    assert "run run-f (SUCCEEDED) produced no custom model" in refused(capsys, "promote", "run-f")
    gone = trained(emulated, "g")
    emulated.bedrock.delete_custom_model(modelIdentifier=gone)  # type: ignore[attr-defined]
    publish(emulated, "run-g", gone)
    assert f"the custom model {gone} no longer exists" in refused(capsys, "promote", "run-g")
    assert cli_json(capsys, "serving")["record"] is None


def test_serving_delete_removes_the_deployment_and_keeps_the_champion(
    emulated: Emulated, capsys: pytest.CaptureFixture[str]
) -> None:
    publish(emulated, "run-a", trained(emulated, "a"))
    arn = cli_json(capsys, "promote", "run-a")["deployment_arn"]
    emulated.clock.advance(DEPLOYMENT_CREATING.total_seconds())
    assert main(["serving", "--delete", *WHERE]) == 0
    assert f"Deleted the serving deployment {arn}" in capsys.readouterr().out
    document = cli_json(capsys, "serving")
    assert (document["deployment"], document["record"]["deployment_arn"]) == (None, None)
    assert document["record"]["champion"]["run_id"] == "run-a"
    assert "has no serving deployment to delete" in refused(capsys, "serving", "--delete")


def test_a_champion_that_needs_provisioned_throughput_is_explained_with_the_command_to_buy_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--bucket", BUCKET, "--region", "us-west-2"]
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        llama = trained(emulated, "l", LLAMA31)
        publish(emulated, "run-l", llama, base_model_id=LLAMA31)
        assert main(["promote", "run-l", *where]) == 0
        assert "need Provisioned Throughput: nothing was bought" in capsys.readouterr().out
        assert main(["serving", *where]) == 0
        text = capsys.readouterr().out
        assert "This champion needs Provisioned Throughput, which promotion never buys" in text
        assert "no list price is known for it" in text
        assert (
            "aws bedrock create-provisioned-model-throughput --region us-west-2 --model-units 1 "
            f"--provisioned-model-name FineTuningStack-serving-pt --model-id {llama}"
        ) in text
        assert emulated.emulator.ledger.of_type("provisioned-throughput", "custom-model-deployment") == []


def test_the_throughput_offer_prices_a_model_unit_hour_from_the_list_price() -> None:
    from lambdas.serving.record import Champion
    from tests.unit.reporting.reporting_states import T0

    arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"
    offer = serving._throughput_offer(
        "S", Champion(custom_model_arn=arn, base_model_id=NOVA, run_id="r", promoted_at=T0)
    )
    assert (offer["usd_per_hour"], offer["usd_per_month"], offer["price_as_of"]) == (60.5, 44165.0, "2026-09-01")
    assert offer["delete_command"] == (
        "aws bedrock delete-provisioned-model-throughput --region us-east-1 --provisioned-model-id S-serving-pt"
    )


def test_the_bucket_and_topic_come_from_the_stack_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the stack's outputs as DescribeStacks returns them (checked against the service model)
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    topic = "arn:aws:sns:us-east-1:123456789012:FineTuningStack-Notifications"
    with Stubber(cloudformation) as stub:
        stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "MyStack",
                        "CreationTime": "2026-12-01T00:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [
                            {"OutputKey": "DataBucketName", "OutputValue": "the-data-bucket"},
                            {"OutputKey": "NotificationTopicArn", "OutputValue": topic},
                        ],
                    }
                ]
            },
            {"StackName": "MyStack"},
        )
        outputs = REAL_STACK_OUTPUTS(cloudformation, "MyStack")
    monkeypatch.setattr(serving, "_stack_outputs", lambda _client, _name: outputs)
    # When the clients are made without --bucket, then the bucket and the topic are the stack's
    clients = serving.clients_for(argparse.Namespace(stack="MyStack", region="us-east-1", bucket=None))
    assert (clients.stack_name, clients.bucket, clients.topic_arn) == ("MyStack", "the-data-bucket", topic)


def test_a_stack_that_cannot_be_read_needs_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serving", "--stack", "Nope", "--region", "us-east-1"]) == 2
    assert capsys.readouterr().err == (
        "error: cannot read the outputs of stack Nope (Stack Nope does not exist); "
        "pass --stack NAME or --bucket BUCKET\n"
    )
