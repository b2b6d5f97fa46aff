"""The serving record in its SSM parameter and the change history in the bucket, on moto's SSM and S3."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.serving.record import (
    Champion,
    HistoryEntry,
    ServingKind,
    ServingRecord,
    parameter_name,
    protected_arns,
    serving_kind_for,
)
from lambdas.serving.store import (
    HISTORY_KEY,
    CorruptServingRecordError,
    ServingRecordTooLargeError,
    append_history,
    read_history,
    read_record,
    write_record,
)

STACK = "FineTuningStack"
BUCKET = "serving-test-bucket"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/aaaaaaaaaaaa"


def champion(run_id: str = "run-1", suffix: str = "a") -> Champion:
    return Champion(
        custom_model_arn=MODEL[:-12] + suffix * 12,
        base_model_id="amazon.nova-lite-v1:0:300k",
        run_id=run_id,
        promoted_at=T0,
        scores={"metric": "judge_correctness", "outcome": "improved", "mean_delta": 1.3, "ci_low": 0.6, "n": 40},
        evaluation_set_sha256="ab" * 32,
    )


def record(**updates: Any) -> ServingRecord:
    values: dict[str, Any] = {
        "stack_name": STACK,
        "champion": champion(),
        "previous": [],
        "deployment_arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/dddddddddddd",
        "serving_kind": ServingKind.ON_DEMAND_DEPLOYMENT,
        "updated_at": T0,
    }
    return ServingRecord(**(values | updates))


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield boto3.client("ssm", region_name="us-east-1"), s3


def test_the_parameter_is_named_after_the_stack() -> None:
    assert parameter_name(STACK) == "/FineTuningStack/serving"


def test_a_missing_parameter_is_no_record_and_a_written_one_reads_back(aws: tuple[Any, Any]) -> None:
    ssm, _ = aws
    assert read_record(ssm, STACK) is None
    written = record(previous=[champion("run-0", "b")])
    write_record(ssm, written)
    assert read_record(ssm, STACK) == written
    parameter = ssm.get_parameter(Name="/FineTuningStack/serving")["Parameter"]
    assert parameter["Type"] == "String"
    # Overwrite: a second write replaces it
    write_record(ssm, record(deployment_arn=None))
    again = read_record(ssm, STACK)
    assert again is not None
    assert again.deployment_arn is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not json", "is not a serving record"),
        ('{"stack_name": "FineTuningStack"}', "serving_kind: Field required"),
        (
            '{"stack_name": "FineTuningStack", "serving_kind": "bought", "updated_at": "2026-12-01T09:00:00Z"}',
            "serving_kind",
        ),
    ],
)
def test_a_corrupt_parameter_is_a_clear_error_naming_it(aws: tuple[Any, Any], value: str, problem: str) -> None:
    ssm, _ = aws
    ssm.put_parameter(Name="/FineTuningStack/serving", Value=value, Type="String")
    with pytest.raises(CorruptServingRecordError) as raised:
        read_record(ssm, STACK)
    assert "/FineTuningStack/serving" in str(raised.value)
    assert problem in str(raised.value)


def test_another_stacks_record_under_this_name_is_refused(aws: tuple[Any, Any]) -> None:
    ssm, _ = aws
    ssm.put_parameter(
        Name="/FineTuningStack/serving", Value=record(stack_name="Other").model_dump_json(), Type="String"
    )
    with pytest.raises(CorruptServingRecordError, match="record of stack Other"):
        read_record(ssm, STACK)


def test_a_record_too_large_for_a_standard_parameter_is_refused_before_writing(aws: tuple[Any, Any]) -> None:
    ssm, _ = aws
    huge = champion().model_copy(update={"scores": {"note": "x" * 5000}})
    with pytest.raises(ServingRecordTooLargeError, match="more than the 4096"):
        write_record(ssm, record(champion=huge))
    assert read_record(ssm, STACK) is None


def test_history_appends_one_line_per_change_and_reads_back_in_order(aws: tuple[Any, Any]) -> None:
    _, s3 = aws
    assert read_history(s3, BUCKET) == []
    entries = [
        HistoryEntry(
            at=T0,
            action="promote",
            run_id="run-1",
            custom_model_arn=MODEL,
            previous=None,
            deployment_arn="arn:d",
            by="state-machine",
            reason="improved",
        ),
        HistoryEntry(
            at=T0,
            action="rollback",
            run_id="run-0",
            custom_model_arn="arn:m0",
            previous=MODEL,
            deployment_arn="arn:d",
            by="cli",
            reason="complaints",
        ),
    ]
    for entry in entries:
        append_history(s3, BUCKET, entry)
    assert read_history(s3, BUCKET) == entries
    body = s3.get_object(Bucket=BUCKET, Key=HISTORY_KEY)["Body"].read().decode()
    assert body.count("\n") == 2
    assert body.endswith("\n")


def test_a_corrupt_history_line_is_named_by_its_number(aws: tuple[Any, Any]) -> None:
    _, s3 = aws
    s3.put_object(Bucket=BUCKET, Key=HISTORY_KEY, Body=b"\n{}\n")
    with pytest.raises(CorruptServingRecordError, match="line 2"):
        read_history(s3, BUCKET)


def test_protected_arns_are_the_champion_every_rollback_target_and_the_deployment() -> None:
    serving = record(previous=[champion("run-0", "b"), champion("run-00", "c")])
    assert protected_arns(serving) == {
        MODEL,
        MODEL[:-12] + "b" * 12,
        MODEL[:-12] + "c" * 12,
        "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/dddddddddddd",
    }
    assert protected_arns(record(champion=None, deployment_arn=None)) == set()
    assert protected_arns(None) == set()


def test_how_a_champion_is_served_comes_from_the_registry() -> None:
    assert serving_kind_for("amazon.nova-lite-v1:0:300k") is ServingKind.ON_DEMAND_DEPLOYMENT
    assert serving_kind_for("meta.llama3-1-8b-instruct-v1:0:128k") is ServingKind.PROVISIONED_THROUGHPUT_NEEDED
