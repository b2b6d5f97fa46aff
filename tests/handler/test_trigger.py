"""The trigger: one execution per dropped object version, never two."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.contracts import RunState
from lambdas.handlers import trigger
from lambdas.registry import Serving
from lambdas.runs.overrides import METADATA_KEY
from lambdas.runs.start import DroppedObject, run_id_for
from lambdas.settings import PipelineSettings

SETTINGS_PARAMETER = "/FineTuningStack/pipeline-settings"
PASS_STATE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def _event(key: str, version: str | None = "v1", etag: str = "abc") -> dict[str, Any]:
    obj: dict[str, Any] = {"key": key, "size": 10, "etag": etag}
    if version:
        obj["version-id"] = version
    return {
        "version": "0",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "detail": {"bucket": {"name": "data-bucket"}, "object": obj, "reason": "PutObject"},
    }


@pytest.fixture
def state_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        arn = sfn.create_state_machine(name="runs", definition=PASS_STATE, roleArn=role)["stateMachineArn"]
        monkeypatch.setenv("DATA_BUCKET", "data-bucket")
        monkeypatch.setenv("STACK_NAME", "FineTuningStack")
        monkeypatch.setenv("STATE_MACHINE_ARN", arn)
        # The stack's settings, where the stack keeps them: the SSM parameter named in the trigger's environment
        settings = PipelineSettings(base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k")
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name=SETTINGS_PARAMETER, Value=settings.model_dump_json(), Type="String")
        monkeypatch.setenv("SETTINGS_PARAMETER", SETTINGS_PARAMETER)
        yield sfn, arn


def test_a_drop_starts_one_execution_named_after_the_object_version(
    state_machine: tuple[Any, str], lambda_context: Any
) -> None:
    sfn, arn = state_machine
    # When a JSONL lands under incoming/
    result = trigger.handler(_event("incoming/my data.jsonl"), lambda_context)
    # Then one execution starts, named by the run id, carrying the run's configuration
    assert result["started"] is True
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == [result["run_id"]]
    assert result["run_id"].startswith("my-data-")
    document = json.loads(sfn.describe_execution(executionArn=result["execution_arn"])["input"])
    state = RunState.model_validate(document)
    assert state.errors == {}
    assert state.run.source_key == "incoming/my data.jsonl"
    assert state.run.source_version == "v1"
    assert state.run.serving is Serving.PROVISIONED_THROUGHPUT  # Claude 3 Haiku has no on-demand path
    assert state.run.settings.base_model_id == "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert state.run.emulated is False


@pytest.mark.parametrize(
    ("real_key", "event_key"),
    [
        ("incoming/my data.jsonl", "incoming/my+data.jsonl"),  # S3 encodes a space as "+"
        ("incoming/c++ notes.jsonl", "incoming/c%2B%2B+notes.jsonl"),  # and a real "+" as %2B
        ("incoming/c++.jsonl", "incoming/c++.jsonl"),  # an unencoded "+" is still found, by asking S3
        ("incoming/100%.jsonl", "incoming/100%.jsonl"),  # so is an unencoded "%"
    ],
)
def test_the_run_reads_the_real_key_behind_an_url_encoded_event_key(
    state_machine: tuple[Any, str], lambda_context: Any, real_key: str, event_key: str
) -> None:
    sfn, _ = state_machine
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data-bucket")
    s3.put_object(Bucket="data-bucket", Key=real_key, Body=b"{}\n")
    result = trigger.handler(_event(event_key), lambda_context)
    assert result["started"] is True
    document = json.loads(sfn.describe_execution(executionArn=result["execution_arn"])["input"])
    assert document["run"]["source_key"] == real_key


def test_a_duplicate_delivery_of_the_same_version_starts_nothing(
    state_machine: tuple[Any, str], lambda_context: Any
) -> None:
    sfn, arn = state_machine
    first = trigger.handler(_event("incoming/data.jsonl"), lambda_context)
    second = trigger.handler(_event("incoming/data.jsonl"), lambda_context)
    assert first["started"] is True
    assert second["started"] is False
    assert "duplicate" in second["reason"]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1


def test_a_new_version_of_the_same_key_is_a_new_run(state_machine: tuple[Any, str], lambda_context: Any) -> None:
    sfn, arn = state_machine
    first = trigger.handler(_event("incoming/data.jsonl", version="v1"), lambda_context)
    second = trigger.handler(_event("incoming/data.jsonl", version="v2"), lambda_context)
    assert first["run_id"] != second["run_id"]
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 2


@pytest.mark.parametrize(
    "key",
    ["incoming/data.json", "incoming/DATA.JSONL", "incoming/data.jsonl.gz", "incoming/data", "incoming/data.csv"],
)
def test_every_object_under_incoming_starts_a_run_whatever_its_name(
    state_machine: tuple[Any, str], lambda_context: Any, key: str
) -> None:
    # Given any object created under incoming/, one the pipeline cannot read included (ValidateDataset rejects it
    # with the reason, and the notification says so: nothing is dropped in silence)
    sfn, arn = state_machine
    # When the trigger runs / Then it starts a run for it
    result = trigger.handler(_event(key), lambda_context)
    assert result["started"] is True
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert [e["name"] for e in executions] == [result["run_id"]]


def test_objects_outside_incoming_are_ignored(state_machine: tuple[Any, str], lambda_context: Any) -> None:
    sfn, arn = state_machine
    result = trigger.handler(_event("runs/x/report.jsonl"), lambda_context)
    assert result["started"] is False
    assert result["reason"] == "'runs/x/report.jsonl' is not under incoming/"
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


@pytest.mark.parametrize("key", ["incoming/", "incoming/team-a/", "incoming/my+folder/"])
def test_a_folder_marker_starts_nothing_and_says_why(
    state_machine: tuple[Any, str], lambda_context: Any, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the zero-byte object the S3 console's "Create folder" makes under incoming/
    sfn, arn = state_machine
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data-bucket")
    s3.put_object(Bucket="data-bucket", Key=key.replace("+", " "), Body=b"")
    logged: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(trigger.logger, "info", lambda message, extra: logged.append((message, extra)))
    # When its event arrives
    result = trigger.handler(_event(key), lambda_context)
    # Then no run starts, the answer says it is a folder marker, and the function logs it
    assert result["started"] is False
    assert result["run_id"] == ""
    assert "is a folder marker (a key ending in '/'" in result["reason"]
    assert logged == [("no run started", result)]
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []


def test_a_drop_of_any_name_carries_its_overrides(state_machine: tuple[Any, str], lambda_context: Any) -> None:
    # Given a gzip-compressed JSON array dropped with per-run settings in its metadata
    sfn, _ = state_machine
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data-bucket")
    s3.put_bucket_versioning(Bucket="data-bucket", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(
        Bucket="data-bucket",
        Key="incoming/faq.json.gz",
        Body=b"\x1f\x8b",
        Metadata={METADATA_KEY: json.dumps({"qa_keys": {"question": "q", "answer": "a"}})},
    )["VersionId"]
    # When the trigger starts its run
    result = trigger.handler(_event("incoming/faq.json.gz", version=version), lambda_context)
    # Then the run carries them, as it would for a .jsonl
    run = RunState.model_validate_json(sfn.describe_execution(executionArn=result["execution_arn"])["input"]).run
    assert run.overrides == {"qa_keys": {"question": "q", "answer": "a"}}
    assert (run.settings.qa_keys.question, run.settings.qa_keys.answer) == ("q", "a")


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("data.jsonl", "data"),
        ("DATA.JSONL", "DATA"),
        ("data.JsonL", "data"),
        ("faq.json", "faq"),
        ("faq.jsonl.gz", "faq"),
        ("faq.JSON.GZ", "faq"),
        ("faq.gz", "faq"),
        ("faq", "faq"),
        ("data.csv", "data-csv"),  # only the extensions the pipeline reads are left out
        ("data.csv.gz", "data-csv"),
    ],
)
def test_run_id_stems_leave_out_the_dataset_extensions(name: str, stem: str) -> None:
    run_id = run_id_for(DroppedObject(bucket="b", key=f"incoming/{name}", version_id="1"))
    assert run_id.rsplit("-", 1)[0] == stem


@pytest.mark.parametrize(
    "key",
    ["incoming/" + "a" * 300 + ".jsonl", "incoming/日本語 データ!!.jsonl", "incoming/.jsonl", "incoming/x/y/z.jsonl"],
)
def test_run_ids_are_valid_execution_and_bedrock_names(key: str) -> None:
    run_id = run_id_for(DroppedObject(bucket="b", key=key, version_id="1"))
    assert len(run_id) <= 53  # leaves room under Bedrock's 63-character names
    assert run_id[0].isalnum()
    assert all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in run_id)


def test_run_id_is_deterministic_and_falls_back_to_the_etag_without_versioning() -> None:
    unversioned = DroppedObject(bucket="b", key="incoming/a.jsonl", etag="e1")
    assert run_id_for(unversioned) == run_id_for(unversioned)
    assert run_id_for(unversioned) != run_id_for(DroppedObject(bucket="b", key="incoming/a.jsonl", etag="e2"))


def test_each_drop_reads_the_settings_deployed_now(state_machine: tuple[Any, str], lambda_context: Any) -> None:
    # Given a deploy that changed only the settings (the parameter) after a first run
    sfn, _ = state_machine
    first = trigger.handler(_event("incoming/data.jsonl", version="v1"), lambda_context)
    long_prompt = "Answer as the support desk would. " * 100  # 3,400 characters: more than an environment holds
    changed = PipelineSettings(
        base_model_id="amazon.nova-lite-v1:0:300k", hyperparameters={"epochCount": 5}, system_prompt=long_prompt
    )
    boto3.client("ssm", region_name="us-east-1").put_parameter(
        Name=SETTINGS_PARAMETER, Value=changed.model_dump_json(), Type="String", Overwrite=True
    )
    # When the next object is dropped into the same warm function
    second = trigger.handler(_event("incoming/data.jsonl", version="v2"), lambda_context)
    # Then the first run keeps the settings it started with and the second carries the new ones
    runs = [
        RunState.model_validate_json(sfn.describe_execution(executionArn=result["execution_arn"])["input"]).run
        for result in (first, second)
    ]
    assert runs[0].settings.base_model_id == "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert runs[1].settings == changed
    assert runs[1].serving is Serving.CUSTOM_MODEL_DEPLOYMENT  # Nova Lite in auto mode is served on demand


def test_a_missing_settings_parameter_fails_the_invocation_naming_it(
    state_machine: tuple[Any, str], lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a trigger pointed at a parameter that does not exist
    sfn, arn = state_machine
    monkeypatch.setenv("SETTINGS_PARAMETER", "/Elsewhere/pipeline-settings")
    # When a drop arrives / Then the invocation fails (Lambda retries it, then sends it to the on-failure queue)
    with pytest.raises(ClientError, match="ParameterNotFound"):
        trigger.handler(_event("incoming/data.jsonl"), lambda_context)
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
