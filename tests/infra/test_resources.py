"""Resources and their key properties in the synthesized template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

from infra.lambda_function import POWERTOOLS_LAYER_NAME


def _resources(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == kind}


def _statements(raw: dict[str, Any], role_logical_prefix: str) -> list[dict[str, Any]]:
    policies = [
        p
        for p in _resources(raw, "AWS::IAM::Policy").values()
        if any(r["Ref"].startswith(role_logical_prefix) for r in p["Properties"]["Roles"])
    ]
    return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_resource_counts(template: Template) -> None:
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.resource_count_is("AWS::SNS::Topic", 1)
    template.resource_count_is("AWS::S3::Bucket", 2)  # data + access logs
    # 14 steps (the shard Maps' functions counted once) + trigger + sweeper + execution cleanup + CDK's
    # bucket-notifications handler
    template.resource_count_is("AWS::Lambda::Function", 20)
    template.resource_count_is("AWS::Events::Rule", 3)  # drops, sweep schedule, execution ended


def test_data_bucket_is_private_encrypted_versioned_logged_and_emits_events(
    template: Template, raw_template: dict[str, Any]
) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"DestinationBucketName": Match.any_value()},
        },
    )
    template.has_resource_properties(
        "Custom::S3BucketNotifications", {"NotificationConfiguration": {"EventBridgeConfiguration": {}}}
    )
    # Both buckets refuse plain HTTP
    policies = _resources(raw_template, "AWS::S3::BucketPolicy").values()
    assert len(policies) == 2
    for policy in policies:
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_bedrock_service_role_trusts_only_bedrock_for_this_accounts_jobs(raw_template: dict[str, Any]) -> None:
    roles = [
        r
        for r in _resources(raw_template, "AWS::IAM::Role").values()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "bedrock.amazonaws.com"
    ]
    assert len(roles) == 1
    trust = roles[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source_arn = json.dumps(trust["Condition"]["ArnLike"]["aws:SourceArn"])
    assert "model-customization-job/*" in source_arn


def test_drop_rule_matches_every_object_created_under_incoming(raw_template: dict[str, Any]) -> None:
    rules = [
        r["Properties"]
        for r in _resources(raw_template, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.s3"]
    ]
    assert len(rules) == 1
    pattern = rules[0]["EventPattern"]
    assert pattern["detail-type"] == ["Object Created"]
    # any name: a format the pipeline cannot read is answered by a REJECTED run, never by silence
    assert pattern["detail"]["object"]["key"] == [{"prefix": "incoming/"}, {"prefix": "reevaluate/"}]
    assert pattern["detail"]["bucket"]["name"][0]["Ref"].startswith("DataBucket")
    # the target has a dead-letter queue, so an undeliverable drop is kept, not lost (and the function's own
    # failures go there too: test_deploy_readiness.py)
    assert "DeadLetterConfig" in rules[0]["Targets"][0]


def test_execution_ended_rule_watches_aborted_timed_out_and_failed_runs(raw_template: dict[str, Any]) -> None:
    rules = [
        r["Properties"]
        for r in _resources(raw_template, "AWS::Events::Rule").values()
        if r["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    assert len(rules) == 1
    assert set(rules[0]["EventPattern"]["detail"]["status"]) == {"ABORTED", "TIMED_OUT", "FAILED"}


def test_sweeper_runs_on_a_schedule(template: Template) -> None:
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(15 minutes)"})


def test_state_machine_logs_everything_and_traces(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True},
        },
    )


def test_topic_is_encrypted(template: Template) -> None:
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_zip_functions_are_traced_with_powertools_layer(raw_template: dict[str, Any]) -> None:
    # runtime, layer and environment size: tests/infra/test_deploy_readiness.py
    functions = [
        f["Properties"]
        for f in _resources(raw_template, "AWS::Lambda::Function").values()
        if str(f["Properties"].get("Handler", "")).startswith("lambdas.")
    ]
    assert len(functions) == 17
    for function in functions:
        assert function["TracingConfig"] == {"Mode": "Active"}
        assert POWERTOOLS_LAYER_NAME in json.dumps(function["Layers"])


def test_evaluation_function_is_a_container_image_with_room_to_score(raw_template: dict[str, Any]) -> None:
    images = [
        f["Properties"]
        for f in _resources(raw_template, "AWS::Lambda::Function").values()
        if f["Properties"].get("PackageType") == "Image"
    ]
    commands = {image["ImageConfig"]["Command"][0]: image for image in images}
    assert set(commands) == {"lambdas.handlers.score_answers.handler", "lambdas.handlers.summarize_evaluation.handler"}
    scorer = commands["lambdas.handlers.score_answers.handler"]
    assert scorer["Timeout"] == 900
    assert scorer["MemorySize"] >= 4096


def test_each_step_role_has_only_its_own_bedrock_actions(raw_template: dict[str, Any]) -> None:
    def bedrock_actions(role_prefix: str) -> set[str]:
        actions: set[str] = set()
        for statement in _statements(raw_template, role_prefix):
            listed = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            actions.update(a for a in listed if a.startswith("bedrock:"))
        return actions

    assert bedrock_actions("WorkflowFunctionsValidateDataset") == set()
    assert bedrock_actions("WorkflowFunctionsPollCustomizationJob") == {"bedrock:GetModelCustomizationJob"}
    assert "bedrock:CreateProvisionedModelThroughput" not in bedrock_actions("WorkflowFunctionsGenerateAnswers")
    assert "bedrock:InvokeModel" in bedrock_actions("WorkflowFunctionsGenerateAnswers")
    # the judge runs after the delete: the scoring step may invoke models but touches no capacity
    assert bedrock_actions("WorkflowFunctionsScoreAnswers") == {
        "bedrock:InvokeModel",
        "bedrock:InvokeModelWithResponseStream",
    }
    assert bedrock_actions("WorkflowFunctionsPlanEvaluation") == set()
    # Preflight only reads: model access, and a re-evaluation's custom model; nothing that creates
    assert bedrock_actions("WorkflowFunctionsPreflight") == {
        "bedrock:GetFoundationModelAvailability",
        "bedrock:GetCustomModel",
    }
    # Promote creates or switches the stack's serving deployment, and deletes nothing
    assert bedrock_actions("WorkflowFunctionsPromote") == {
        "bedrock:GetCustomModel",
        "bedrock:CreateCustomModelDeployment",
        "bedrock:UpdateCustomModelDeployment",
        "bedrock:GetCustomModelDeployment",
        "bedrock:ListCustomModelDeployments",
        "bedrock:TagResource",
    }
    assert "bedrock:DeleteProvisionedModelThroughput" in bedrock_actions("WorkflowFunctionsDeleteInferenceCapacity")
    assert "bedrock:DeleteProvisionedModelThroughput" in bedrock_actions("SweeperRole")
    assert "bedrock:StopModelCustomizationJob" in bedrock_actions("SweeperExecutionCleanup")
    assert bedrock_actions("TriggerStartRun") == set()


def test_start_job_may_pass_only_the_service_role_and_only_to_bedrock(raw_template: dict[str, Any]) -> None:
    passes = [
        s for s in _statements(raw_template, "WorkflowFunctionsStartCustomizationJob") if s["Action"] == "iam:PassRole"
    ]
    assert len(passes) == 1
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert passes[0]["Resource"]["Fn::GetAtt"][0].startswith("BedrockServiceRole")


def test_zip_asset_holds_the_lambdas_package_without_caches(synthesized: tuple[Any, Any, Path]) -> None:
    outdir = synthesized[2]
    zip_assets = [
        p
        for p in outdir.glob("asset.*")
        if (p / "lambdas" / "handlers").is_dir() and not (p / "requirements-eval.txt").exists()
    ]
    assert zip_assets, "no asset contains lambdas/handlers"
    asset = zip_assets[0]
    assert (asset / "lambdas" / "handlers" / "trigger.py").is_file()
    assert (asset / "lambdas" / "contracts.py").is_file()
    assert not list(asset.rglob("__pycache__"))
    assert not list(asset.rglob("Dockerfile*"))


def test_image_asset_context_holds_only_what_the_image_needs(synthesized: tuple[Any, Any, Path]) -> None:
    outdir = synthesized[2]
    image_assets = [p for p in outdir.glob("asset.*") if (p / "lambdas" / "Dockerfile.evaluation").is_file()]
    assert len(image_assets) == 1
    top_level = {p.name for p in image_assets[0].iterdir()}
    assert top_level == {"lambdas", "requirements-eval.txt"}


def test_validate_step_has_room_to_stage_a_10_gb_dataset(raw_template: dict[str, Any]) -> None:
    validate = [
        f["Properties"]
        for f in _resources(raw_template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "lambdas.handlers.validate_dataset.handler"
    ]
    assert validate[0]["EphemeralStorage"] == {"Size": 10240}
    assert validate[0]["Timeout"] == 900


def test_execution_cleanup_knows_its_state_machine(raw_template: dict[str, Any]) -> None:
    cleanup = [
        f["Properties"]
        for f in _resources(raw_template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "lambdas.handlers.execution_cleanup.handler"
    ]
    assert cleanup[0]["Environment"]["Variables"]["STATE_MACHINE_ARN"]["Ref"].startswith("WorkflowStateMachine")


def test_preflight_reads_quotas_and_lists_only_its_own_state_machines_executions(raw_template: dict[str, Any]) -> None:
    statements = _statements(raw_template, "WorkflowFunctionsPreflight")
    actions = {
        action
        for statement in statements
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    }
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "bedrock:GetFoundationModelAvailability",
        "bedrock:GetCustomModel",
        "servicequotas:ListServiceQuotas",
        "states:ListExecutions",
    }
    (listing,) = [s for s in statements if s["Action"] == "states:ListExecutions"]
    assert listing["Resource"]["Ref"].startswith("WorkflowStateMachine")
    # in a policy of its own: the function's default policy naming the state machine would be a dependency cycle
    preflight_functions = [
        resource
        for resource in _resources(raw_template, "AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == "lambdas.handlers.preflight.handler"
    ]
    (function,) = preflight_functions
    policies = _resources(raw_template, "AWS::IAM::Policy")
    default_policy = next(name for name in function["DependsOn"] if name in policies)
    assert "states:ListExecutions" not in json.dumps(policies[default_policy])
