"""What only a real deploy would otherwise show: environment sizes, runtimes, the service role's documented permissions,
KMS on every role that touches the custom model, log group names, and where a failed drop ends up."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.app import build_app
from infra.config import SettingsError, settings_from_context
from infra.lambda_function import (
    LAMBDA_REQUIREMENTS,
    POWERTOOLS_LAYER_NAME,
    RUNTIME,
    LambdaDependenciesError,
    lambda_dependencies,
)
from lambdas.settings import SYSTEM_PROMPT_MAX_CHARS, PipelineSettings
from tuner.local.template import TemplateResolver

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4 * 1024  # https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0b1c2d3e4f5a60718"]
SECURITY_GROUP = "sg-0a1b2c3d4e5f60718"
LONG_PROMPT = ("You answer questions about the product, briefly and only from its documentation. " * 50)[:3_500]


def _resources(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == kind}


def _statements(raw: dict[str, Any], role_logical_prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _resources(raw, "AWS::IAM::Policy").values()
        if any(role["Ref"].startswith(role_logical_prefix) for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def _zip_functions(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in _resources(raw, "AWS::Lambda::Function").items()
        if str(resource["Properties"].get("Handler", "")).startswith("lambdas.")
    }


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The stack with every optional setting that adds permissions, and a 3,500-character system prompt."""
    context = {
        "fine_tuning.system_prompt": json.dumps(LONG_PROMPT),
        "fine_tuning.customization_kms_key_arn": KMS_KEY,
        "fine_tuning.vpc": json.dumps({"subnet_ids": SUBNETS, "security_group_ids": [SECURITY_GROUP]}),
    }
    app, stack = build_app(context, outdir=str(tmp_path_factory.mktemp("cdk-configured")))
    # synthesis runs cdk-nag: an unacknowledged finding would fail here
    template: dict[str, Any] = app.synth().get_stack_artifact(stack.artifact_id).template
    return template


# ------------------------------------------------------------------------------------------- settings, environments
def test_a_long_system_prompt_synthesizes_and_every_environment_stays_under_4_kb(configured: dict[str, Any]) -> None:
    # Given the template resolved as CloudFormation would name its resources (ARNs and names at their real lengths)
    resolver = TemplateResolver(configured, stack_name="FineTuningStack", region="ap-southeast-2")
    functions = _resources(configured, "AWS::Lambda::Function")
    assert len(functions) == 20
    for logical_id, function in functions.items():
        variables = resolver.resolve(function["Properties"].get("Environment", {}).get("Variables", {}))
        # Then each environment, counted as Lambda counts it (keys and values, UTF-8), fits with room to spare
        size = sum(len(key.encode()) + len(str(value).encode()) for key, value in variables.items())
        assert size < LAMBDA_ENVIRONMENT_LIMIT_BYTES // 2, f"{logical_id}: {size} bytes"
        assert LONG_PROMPT[:100] not in json.dumps(variables), logical_id


def test_the_settings_live_in_one_parameter_that_only_the_trigger_reads(configured: dict[str, Any]) -> None:
    parameters = _resources(configured, "AWS::SSM::Parameter")
    assert len(parameters) == 1
    (logical_id, parameter), *_ = parameters.items()
    # the whole settings, prompt included, validated as the trigger will read them
    settings = PipelineSettings.model_validate_json(parameter["Properties"]["Value"])
    assert settings.system_prompt == LONG_PROMPT
    assert settings.customization_kms_key_arn == KMS_KEY
    assert parameter["Properties"]["Tier"] == "Intelligent-Tiering"  # Standard (free) until the settings pass 4 KB
    # the trigger is told its name and may read it; no other role may, and no environment carries the settings
    readers = [
        policy["Properties"]["Roles"][0]["Ref"]
        for policy in _resources(configured, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ssm:GetParameter" in _actions(statement) and logical_id in json.dumps(statement["Resource"])
    ]
    assert len(readers) == 1
    assert readers[0].startswith("TriggerStartRunRole")
    (statement,) = [
        s
        for s in _statements(configured, "TriggerStartRunRole")
        if "ssm:GetParameter" in _actions(s) and logical_id in json.dumps(s["Resource"])
    ]
    assert _actions(statement) == ["ssm:GetParameter"]
    # the other parameter anyone reads is the serving record (/<stack>/serving), written by promotion, not by CFN
    serving_readers = {
        policy["Properties"]["Roles"][0]["Ref"].split("Role")[0]
        for policy in _resources(configured, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "ssm:GetParameter" in _actions(statement) and "/serving" in json.dumps(statement["Resource"])
    }
    assert serving_readers == {"TriggerStartRun", "WorkflowFunctionsPromote", "WorkflowFunctionsApplyRetention"}
    for function_id, function in _zip_functions(configured).items():
        variables = function["Environment"]["Variables"]
        assert "PIPELINE_SETTINGS" not in variables, function_id
        if function["Handler"] == "lambdas.handlers.trigger.handler":
            assert variables["SETTINGS_PARAMETER"] == {"Ref": logical_id}
        if function["Handler"] == "lambdas.handlers.sweeper.handler":
            assert variables["CAPACITY_MAX_LIFETIME_HOURS"] == "4.0"


def test_a_system_prompt_longer_than_the_documented_limit_is_refused_by_name() -> None:
    with pytest.raises(SettingsError, match=r"fine_tuning\.system_prompt: String should have at most 4000 char"):
        settings_from_context({"fine_tuning.system_prompt": json.dumps("x" * (SYSTEM_PROMPT_MAX_CHARS + 1))})


def test_settings_too_large_for_the_parameter_fail_synthesis_naming_the_largest() -> None:
    # Given a prompt within the character limit whose UTF-8 form (3 bytes a character) exceeds what SSM holds
    context = {"fine_tuning.system_prompt": json.dumps("日本語の質問に答える。" * 360)}  # 3,960 characters
    with pytest.raises(SettingsError, match=r"holds at most 8,192; the longest are fine_tuning\.system_prompt \("):
        build_app(context)


# ------------------------------------------------------------------------------------------------------- runtime
def _deprecated_on(runtime: str, today: date) -> str | None:
    """The date cfn-lint's runtime data gives for ``runtime``'s deprecation, when that date is not after ``today``."""
    data = json.loads(
        resources.files("cfnlint").joinpath("data", "AdditionalSpecs", "LmbdRuntimeLifecycle.json").read_text()
    )
    assert runtime in data, f"cfn-lint does not know {runtime}"
    deprecated = str(data[runtime]["deprecated"])
    return deprecated if date.fromisoformat(deprecated) <= today else None


def test_the_deprecation_check_flags_a_runtime_once_its_date_has_passed() -> None:
    assert _deprecated_on("python3.11", date(2027, 6, 30)) == "2027-06-30"
    assert _deprecated_on("python3.11", date(2027, 6, 29)) is None


def test_no_function_runs_a_runtime_cfn_lint_marks_deprecated(raw_template: dict[str, Any]) -> None:
    functions = _zip_functions(raw_template)
    assert len(functions) == 17
    for logical_id, function in functions.items():
        runtime = function["Runtime"]
        assert _deprecated_on(runtime, date.today()) is None, f"{logical_id}: {runtime} is deprecated"
        major, minor = map(int, re.fullmatch(r"python(\d+)\.(\d+)", runtime).groups())  # type: ignore[union-attr]
        assert (major, minor) >= (3, 12), f"{logical_id}: {runtime}"


def test_every_zip_function_has_the_powertools_layer_built_for_its_runtime(raw_template: dict[str, Any]) -> None:
    # pydantic-core in the layer is a compiled extension: the layer's Python must be the runtime's
    assert f"-{RUNTIME.name.replace('.', '')}-" in POWERTOOLS_LAYER_NAME
    for logical_id, function in _zip_functions(raw_template).items():
        assert function["Runtime"] == RUNTIME.name, logical_id
        layers = json.dumps(function["Layers"])
        assert f":layer:{POWERTOOLS_LAYER_NAME}:" in layers, logical_id


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.split("#", 1)[0].strip())
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


class FakePip:
    """Stands in for ``python -m pip install --target DIR``: records the call and writes one module into DIR."""

    def __init__(self, returncode: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.returncode = returncode

    def __call__(self, command: list[str], **_kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "boto3").mkdir()
        (target / "bin").mkdir()
        return subprocess.CompletedProcess(command, self.returncode, "", "ERROR: No matching distribution found")


def test_dependencies_are_installed_once_per_set_of_pins_for_the_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pip = FakePip()
    monkeypatch.setattr("infra.lambda_function.subprocess.run", pip)
    requirements = tmp_path / "requirements-lambda.txt"
    requirements.write_text("boto3==1.44.5\n")
    cache = tmp_path / "cache"
    # Given one set of pins, installed twice
    first = lambda_dependencies(requirements, cache)
    again = lambda_dependencies(requirements, cache)
    # Then pip ran once, for the runtime's Python and wheels only, and the folder holds what it installed
    assert first == again
    assert len(pip.calls) == 1
    assert pip.calls[0][pip.calls[0].index("--python-version") + 1] == RUNTIME.name.removeprefix("python")
    assert "--only-binary=:all:" in pip.calls[0]
    assert "--no-deps" in pip.calls[0]
    assert sorted(path.name for path in first.iterdir()) == ["boto3"]  # console scripts dropped
    # and a change of pins is a new folder
    requirements.write_text("boto3==1.44.6\n")
    assert lambda_dependencies(requirements, cache) != first
    assert len(pip.calls) == 2


def test_a_failed_install_names_the_file_and_keeps_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("infra.lambda_function.subprocess.run", FakePip(returncode=1))
    requirements = tmp_path / "requirements-lambda.txt"
    requirements.write_text("boto3==0.0.0\n")
    with pytest.raises(LambdaDependenciesError, match=r"requirements-lambda\.txt .* No matching distribution"):
        lambda_dependencies(requirements, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []  # a half-installed folder would be taken as complete


def test_the_bundled_sdk_is_the_one_the_tests_run(synthesized: tuple[Any, Any, Path]) -> None:
    # the functions ship the boto3/botocore pinned in requirements.txt, which the tests exercise
    lambda_pins, local_pins = _pins(LAMBDA_REQUIREMENTS), _pins(REPO_ROOT / "requirements.txt")
    assert lambda_pins["boto3"] == local_pins["boto3"]
    assert lambda_pins["botocore"] == local_pins["botocore"]
    # and the zip asset holds that botocore, with the custom-model-deployment APIs (2025-07) in its bedrock model
    assets = [path for path in synthesized[2].glob("asset.*") if (path / "lambdas" / "handlers").is_dir()]
    zip_asset = next(path for path in assets if (path / "botocore").is_dir())
    assert (zip_asset / f"botocore-{lambda_pins['botocore']}.dist-info").is_dir()
    assert (zip_asset / f"boto3-{lambda_pins['boto3']}.dist-info").is_dir()
    (model,) = (zip_asset / "botocore" / "data" / "bedrock").glob("*/service-2.json*")
    content = model.read_bytes()
    operations = json.loads(gzip.decompress(content) if model.suffix == ".gz" else content)["operations"]
    assert {"CreateCustomModelDeployment", "ListCustomModelDeployments"} <= set(operations)


# ------------------------------------------------------------------------------------------------------- logging
def test_the_state_machine_logs_under_vendedlogs(raw_template: dict[str, Any]) -> None:
    groups = {
        logical_id: resource["Properties"].get("LogGroupName", "")
        for logical_id, resource in _resources(raw_template, "AWS::Logs::LogGroup").items()
    }
    (machine,) = _resources(raw_template, "AWS::StepFunctions::StateMachine").values()
    destinations = machine["Properties"]["LoggingConfiguration"]["Destinations"]
    (group_id,) = [d["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0] for d in destinations]
    assert groups[group_id].startswith("/aws/vendedlogs/states/")


# ------------------------------------------------------------------------------------------- service role and IAM
def test_the_service_role_has_the_documented_s3_permissions(raw_template: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in _statements(raw_template, "BedrockServiceRole")}
    assert set(statements) == {"ReadPreparedTrainingData", "WriteJobOutput", "ListDataBucket"}
    assert _actions(statements["ReadPreparedTrainingData"]) == ["s3:GetObject"]
    assert json.dumps(statements["ReadPreparedTrainingData"]["Resource"]).endswith('"/runs/*/data/*"]]}')
    assert sorted(_actions(statements["WriteJobOutput"])) == ["s3:GetObject", "s3:PutObject"]
    assert json.dumps(statements["WriteJobOutput"]["Resource"]).endswith('"/runs/*/job-output/*"]]}')
    # ListBucket on the bucket itself, with no s3:prefix condition that would deny a HeadBucket check
    listing = statements["ListDataBucket"]
    assert _actions(listing) == ["s3:ListBucket"]
    assert listing["Resource"]["Fn::GetAtt"][0].startswith("DataBucket")
    assert "Condition" not in listing
    assert not any(a.startswith(("ec2:", "kms:")) for s in statements.values() for a in _actions(s))


def test_with_a_vpc_the_service_role_gets_the_documented_ec2_permissions(configured: dict[str, Any]) -> None:
    statements = {s["Sid"]: s for s in _statements(configured, "BedrockServiceRole")}
    create = [s for s in statements.values() if "ec2:CreateNetworkInterface" in _actions(s)]
    assert len(create) == 2
    tagged = statements["CreateTaggedJobNetworkInterface"]
    assert tagged["Condition"]["StringEquals"] == {"aws:RequestTag/BedrockManaged": ["true"]}
    assert "model-customization-job/*" in json.dumps(tagged["Condition"]["ArnEquals"])
    subnets = json.dumps(statements["CreateNetworkInterfaceInJobSubnets"]["Resource"])
    assert all(f":subnet/{subnet}" in subnets for subnet in SUBNETS)
    assert f":security-group/{SECURITY_GROUP}" in subnets
    manage = statements["ManageJobNetworkInterfaces"]
    assert sorted(_actions(manage)) == [
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    ]
    assert len(manage["Condition"]["ArnEquals"]["ec2:Subnet"]) == len(SUBNETS)
    assert manage["Condition"]["StringEquals"] == {"ec2:ResourceTag/BedrockManaged": "true"}
    assert set(_actions(statements["DescribeJobNetwork"])) == {
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    }
    assert statements["TagJobNetworkInterfaces"]["Condition"]["StringEquals"] == {
        "ec2:CreateAction": ["CreateNetworkInterface"]
    }


KMS_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("BedrockServiceRole", KMS_ACTIONS),
        ("WorkflowFunctionsStartCustomizationJob", KMS_ACTIONS),
        ("WorkflowFunctionsCreateInferenceCapacity", KMS_ACTIONS),
        ("WorkflowFunctionsGenerateAnswers", {"kms:Decrypt", "kms:GenerateDataKey"}),  # invokes the custom model
        ("WorkflowFunctionsScoreAnswers", set()),  # only the judge, a foundation model
        ("WorkflowFunctionsDeleteInferenceCapacity", set()),
        ("TriggerStartRun", set()),
    ],
)
def test_every_role_that_touches_the_custom_model_may_use_its_key_through_bedrock(
    configured: dict[str, Any], role: str, expected: set[str]
) -> None:
    kms = [s for s in _statements(configured, role) if any(a.startswith("kms:") for a in _actions(s))]
    assert {a for s in kms for a in _actions(s)} == expected
    for statement in kms:
        assert statement["Resource"] == KMS_KEY
        assert "bedrock." in json.dumps(statement["Condition"]["StringEquals"]["kms:ViaService"])


def test_the_job_may_customize_only_the_configured_base_model(raw_template: dict[str, Any]) -> None:
    resources_ = [
        resource
        for s in _statements(raw_template, "WorkflowFunctionsStartCustomizationJob")
        if "bedrock:CreateModelCustomizationJob" in _actions(s)
        for resource in s["Resource"]
    ]
    models = [json.dumps(r) for r in resources_ if "foundation-model" in json.dumps(r)]
    assert len(models) == 1
    assert models[0].endswith('"::foundation-model/amazon.nova-lite-v1:0:300k"]]}')


def test_no_role_may_invoke_custom_models_directly(raw_template: dict[str, Any]) -> None:
    # a tuned model is invoked through its throughput or deployment ARN, never as custom-model/*
    for policy in _resources(raw_template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if any(a.startswith("bedrock:InvokeModel") for a in _actions(statement)):
                assert "custom-model/" not in json.dumps(statement["Resource"]), policy["Properties"]["Roles"]


# ------------------------------------------------------------------------------------------- no drop is lost
def test_a_trigger_that_fails_every_attempt_sends_the_drop_to_the_dead_letter_queue(
    template: Template, raw_template: dict[str, Any]
) -> None:
    queues = _resources(raw_template, "AWS::SQS::Queue")
    (queue_id,) = [logical_id for logical_id in queues if logical_id.startswith("TriggerUndeliveredDrops")]
    (trigger_id,) = [
        logical_id
        for logical_id, function in _zip_functions(raw_template).items()
        if function["Handler"] == "lambdas.handlers.trigger.handler"
    ]
    # the function's own asynchronous failures: two retries, then the queue
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": trigger_id},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        },
    )
    # which the trigger may write to
    sends = [s for s in _statements(raw_template, "TriggerStartRunRole") if "sqs:SendMessage" in _actions(s)]
    assert [s["Resource"] for s in sends] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    # EventBridge's undeliverable events go to the same queue
    (rule,) = [
        r["Properties"]
        for r in _resources(raw_template, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    assert rule["Targets"][0]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    # and the first message raises an alarm
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_the_access_log_bucket_keeps_erased_logs_and_has_no_acls(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {"NoncurrentVersionExpiration": {"NoncurrentDays": 90}, "ExpirationInDays": 365}
                        )
                    ]
                )
            },
        },
    )
    # no bucket is given an ACL (log delivery is by bucket policy)
    template.all_resources_properties(
        "AWS::S3::Bucket", Match.not_(Match.object_like({"AccessControl": Match.any_value()}))
    )
