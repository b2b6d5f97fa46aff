"""CloudFormation intrinsics and EventBridge patterns, as the local harness resolves and matches them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tuner.local import events
from tuner.local.async_invoke import AsyncInvokeConfig, async_configs_of, failure_record
from tuner.local.template import TemplateResolver

TEMPLATE: dict[str, Any] = {
    "Resources": {
        "DataBucketE6B0FAA8": {"Type": "AWS::S3::Bucket", "Properties": {}},
        "Topic1": {"Type": "AWS::SNS::Topic", "Properties": {}},
        "Role1": {"Type": "AWS::IAM::Role", "Properties": {}},
        "StartFn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "lambdas.handlers.trigger.handler"}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {}},
        "OnDrop": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [{"Ref": "DataBucketE6B0FAA8"}]},
                        "object": {"key": [{"wildcard": "incoming/*.jsonl"}]},
                    },
                },
                "State": "ENABLED",
                "Targets": [{"Arn": {"Fn::GetAtt": ["StartFn", "Arn"]}, "Id": "Target0"}],
            },
        },
        "Schedule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(15 minutes)",
                "Targets": [{"Arn": {"Fn::GetAtt": ["StartFn", "Arn"]}}],
            },
        },
    }
}
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def resolver() -> TemplateResolver:
    return TemplateResolver(TEMPLATE, stack_name="FineTuningStack", region="us-west-2")


def test_refs_and_attributes_resolve_to_names_and_arns_in_the_stacks_region(resolver: TemplateResolver) -> None:
    bucket = resolver.ref("DataBucketE6B0FAA8")
    assert bucket.startswith("finetuningstack-databuckete6b0faa8-")
    assert bucket == bucket.lower()
    assert len(bucket) <= 63
    assert resolver.resolve({"Fn::GetAtt": ["StartFn", "Arn"]}).startswith(
        "arn:aws:lambda:us-west-2:123456789012:function:FineTuningStack-StartFn-"
    )
    assert resolver.resolve({"Ref": "Topic1"}).startswith("arn:aws:sns:us-west-2:123456789012:")
    assert resolver.resolve({"Fn::GetAtt": "Role1.Arn"}).startswith("arn:aws:iam::123456789012:role/")
    assert resolver.resolve({"Ref": "Machine"}).startswith("arn:aws:states:us-west-2:123456789012:stateMachine:")


def test_join_sub_select_split_and_pseudo_parameters(resolver: TemplateResolver) -> None:
    joined = resolver.resolve(
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":bedrock:",
                    {"Ref": "AWS::Region"},
                    ":",
                    {"Ref": "AWS::AccountId"},
                ],
            ]
        }
    )
    assert joined == "arn:aws:bedrock:us-west-2:123456789012"
    assert resolver.resolve({"Fn::Sub": ["${AWS::Region}-${x}", {"x": "y"}]}) == "us-west-2-y"
    assert resolver.resolve({"Fn::Sub": "${Topic1.TopicName}"}) == resolver.get_att("Topic1", "TopicName")
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::${DataBucketE6B0FAA8}/*"}) == (
        f"arn:aws:s3:::{resolver.ref('DataBucketE6B0FAA8')}/*"
    )
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": ["/", "a/b/c"]}]}) == "b"
    # A state machine definition is a Join of strings and GetAtts: it resolves to one JSON string
    definition = resolver.resolve({"Fn::Join": ["", ['{"Resource":"', {"Fn::GetAtt": ["StartFn", "Arn"]}, '"}']]})
    assert definition == '{"Resource":"' + resolver.get_att("StartFn", "Arn") + '"}'


def test_unknown_references_fail_with_the_name(resolver: TemplateResolver) -> None:
    with pytest.raises(KeyError, match="Nope"):
        resolver.resolve({"Ref": "Nope"})
    with pytest.raises(KeyError, match="Fn::If"):
        resolver.resolve({"Fn::If": ["c", 1, 2]})
    with pytest.raises(KeyError, match=r"StartFn\.Colour"):
        resolver.get_att("StartFn", "Colour")


def test_the_drop_rule_matches_jsonl_uploads_under_incoming_only(resolver: TemplateResolver) -> None:
    rules = events.rules_of(resolver)
    drop = next(rule for rule in rules if rule.logical_id == "OnDrop")
    schedule = next(rule for rule in rules if rule.logical_id == "Schedule")
    assert schedule.pattern is None
    assert schedule.schedule == "rate(15 minutes)"
    assert drop.target_arns == (resolver.get_att("StartFn", "Arn"),)
    bucket = resolver.ref("DataBucketE6B0FAA8")

    def created(bucket_name: str, key: str) -> dict[str, Any]:
        return events.object_created(
            bucket_name, key, size=10, etag='"abc"', version_id="v1", region="us-west-2", account="123456789012", at=AT
        )

    assert drop.pattern is not None
    assert events.matches(drop.pattern, created(bucket, "incoming/data.jsonl"))
    assert not events.matches(drop.pattern, created(bucket, "incoming/data.json"))
    assert not events.matches(drop.pattern, created(bucket, "runs/x/data/train.jsonl"))
    assert not events.matches(drop.pattern, created("another-bucket", "incoming/data.jsonl"))
    event = created(bucket, "incoming/data.jsonl")
    assert event["detail"]["object"] == {
        "key": "incoming/data.jsonl",
        "size": 10,
        "etag": "abc",
        "version-id": "v1",
        "sequencer": event["detail"]["object"]["sequencer"],
    }
    assert event["time"] == "2026-01-02T03:04:05Z"


def test_status_change_pattern_with_exists_anything_but_and_prefix() -> None:
    execution = {
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:M:run-1",
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:M",
        "name": "run-1",
        "status": "ABORTED",
        "startDate": AT,
        "stopDate": AT,
    }
    event = events.execution_status_change(execution, region="us-east-1", account="123456789012", at=AT)
    assert event["detail"]["startDate"] == int(AT.timestamp() * 1000)
    pattern = {"source": ["aws.states"], "detail": {"status": ["ABORTED", "FAILED"]}}
    assert events.matches(pattern, event)
    assert not events.matches({"detail": {"status": [{"anything-but": ["ABORTED"]}]}}, event)
    assert events.matches({"detail": {"executionArn": [{"prefix": "arn:aws:states:"}]}}, event)
    assert events.matches({"detail": {"cause": [{"exists": False}]}}, event)
    with pytest.raises(ValueError, match="numeric"):
        events.matches({"detail": {"status": [{"numeric": [">", 1]}]}}, event)


def test_async_invoke_settings_and_the_settings_parameter_resolve_as_on_aws() -> None:
    # Given a function with an on-failure queue, one without any EventInvokeConfig, and a named SSM parameter
    template: dict[str, Any] = {
        "Resources": {
            **TEMPLATE["Resources"],
            "OtherFn": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "lambdas.handlers.sweeper.handler"}},
            "Drops": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "StartFnInvokeConfig": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "StartFn"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 1,
                    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Drops", "Arn"]}}},
                },
            },
            "Settings": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Name": "/FineTuningStack/pipeline-settings", "Type": "String", "Value": "{}"},
            },
        }
    }
    resolver = TemplateResolver(template, stack_name="FineTuningStack", region="us-west-2")
    configs = async_configs_of(resolver)
    # Then the configured function retries once and fails into the queue; the other has Lambda's defaults
    assert configs == {
        resolver.ref("StartFn"): AsyncInvokeConfig(retry_attempts=1, on_failure=resolver.get_att("Drops", "Arn"))
    }
    assert configs.get(resolver.ref("OtherFn"), AsyncInvokeConfig()) == AsyncInvokeConfig(2, None)
    assert resolver.ref("Settings") == "/FineTuningStack/pipeline-settings"  # Ref of a parameter is its name
    # and the record a failure leaves carries the event and why it failed
    record = failure_record(
        {"detail": {}}, function_arn="arn:fn", attempts=2, error_type="RuntimeError", error_message="no", at=AT
    )
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"detail": {}}
    assert record["responsePayload"] == {"errorType": "RuntimeError", "errorMessage": "no"}
