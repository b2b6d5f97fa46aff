"""Invalid settings fail synthesis with a clear message; cdk-nag fails on anything not acknowledged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import Validations
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from infra.app import build_app
from infra.config import SettingsError, settings_from_context

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"fine_tuning": {"base_model_id": "openai.gpt-9"}}, "unknown base model id 'openai.gpt-9'; supported"),
        (
            {
                "fine_tuning": {
                    "base_model_id": "anthropic.claude-3-haiku-20240307-v1:0:200k",
                    "inference_mode": "on-demand",
                }
            },
            "cannot be served on demand",
        ),
        (
            {"fine_tuning": {"hyperparameters": {"epochCount": 9}}},
            "epochCount=9 is outside Amazon Nova Lite's range 1..5",
        ),
        (
            {"fine_tuning": {"hyperparameters": {"learningRateMultiplier": 1}}},
            "has no hyperparameter 'learningRateMultiplier'",
        ),
        ({"fine_tuning": {"notification_email": "not-an-email"}}, "fine_tuning.notification_email"),
        ({"fine_tuning": {"provisioned_model_units": 0}}, "fine_tuning.provisioned_model_units"),
        ({"fine_tuning": {"split": {"validation_fraction": 0.5, "test_fraction": 0.5}}}, "at least 10% of records"),
        ({"fine_tuning": {"colour": "blue"}}, "fine_tuning.colour: Extra inputs are not permitted"),
        ({"fine_tuning": "[1, 2]"}, "must be a JSON object"),
        # -c values are parsed as JSON: each of these raised a traceback or passed where it should not
        ({"fine_tuning.hyperparameters": "[" * 50_000}, "fine_tuning.hyperparameters: the JSON is nested too deeply"),
        ({"fine_tuning.provisioned_model_units": "9" * 5_000}, "a number has more than 4,300 digits"),
        (
            {"fine_tuning.prices": '{"training_usd_per_1k_tokens": Infinity}'},
            "fine_tuning.prices.training_usd_per_1k_tokens: Input should be a finite number",
        ),
        ({"fine_tuning.capacity_max_lifetime_hours": "NaN"}, "capacity_max_lifetime_hours: Input should be a finite"),
        ({"fine_tuning.system_prompt": '"Be brief \\ud800"'}, "system_prompt holds half of a UTF-16 surrogate pair"),
        (
            {"fine_tuning.qa_keys": '{"question": "text", "answer": "text"}'},
            "fine_tuning.qa_keys: the question and answer keys must differ (both are 'text')",
        ),
        # values that passed synthesis and would only have failed once deployed or mid-run
        ({"fine_tuning.hyperparameters": '{"epochCount": true}'}, "epochCount must be a number, not true"),
        ({"fine_tuning.evaluation": '{"judge_model_id": ""}'}, "fine_tuning.evaluation.judge_model_id"),
        ({"fine_tuning.evaluation": '{"bertscore_model": ""}'}, "fine_tuning.evaluation.bertscore_model"),
        # a judge that cannot be invoked, a verdict on a metric nobody measures, a fixed set outside eval/
        ({"fine_tuning.evaluation": '{"judge_model_id": "acme.judge-v1"}'}, "unknown judge 'acme.judge-v1'"),
        (
            {"fine_tuning.evaluation": '{"judge_enabled": false}'},
            "primary_metric judge_correctness needs the judge (judge_enabled is false)",
        ),
        (
            {"fine_tuning.evaluation": '{"primary_metric": "pairwise_preference", "pairwise_enabled": false}'},
            "primary_metric pairwise_preference needs pairwise_enabled",
        ),
        ({"fine_tuning.evaluation": '{"test_set": "incoming/set.jsonl"}'}, "fine_tuning.evaluation.test_set"),
        ({"fine_tuning.evaluation": '{"min_effect": -0.5}'}, "fine_tuning.evaluation.min_effect"),
        (
            {"fine_tuning.vpc": '{"subnet_ids": [""], "security_group_ids": ["sg-0a1b2c"]}'},
            "fine_tuning.vpc.subnet_ids.0",
        ),
        (
            {"fine_tuning.vpc": '{"subnet_ids": ["subnet-0a1b"], "security_group_ids": ["subnet-0a1b"]}'},
            "fine_tuning.vpc.security_group_ids.0",
        ),
    ],
)
def test_invalid_settings_are_rejected_with_the_setting_named(context: dict[str, object], expected: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from_context(context)
    assert expected in str(raised.value)


def test_dotted_context_keys_override_single_settings() -> None:
    settings = settings_from_context(
        {
            "fine_tuning": {"base_model_id": "amazon.nova-lite-v1:0:300k"},
            "fine_tuning.base_model_id": "anthropic.claude-3-haiku-20240307-v1:0:200k",
            "fine_tuning.hyperparameters": '{"epochCount": 10}',
        }
    )
    assert settings.base_model_id == "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert settings.resolved_hyperparameters()["epochCount"] == "10"
    assert settings.resolved_hyperparameters()["batchSize"] == "32"  # registry default kept


def test_synth_of_an_invalid_setting_exits_1_with_a_message_and_no_traceback(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"fine_tuning.hyperparameters": {"epochCount": 99}}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 1
    assert "error: invalid fine-tuning settings" in result.stderr
    assert "epochCount=99 is outside" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "manifest.json").exists()


def test_a_cdk_json_that_is_not_json_fails_synthesis_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `python app.py` reads cdk.json itself (the CDK CLI, which would refuse it, is not involved)
    broken = tmp_path / "cdk.json"
    broken.write_text('{, "context": {}}')
    monkeypatch.setattr("infra.app.CDK_JSON", broken)
    with pytest.raises(SettingsError, match=r"cdk.json is not valid JSON: Expecting property name .* column 2"):
        build_app()


def test_a_model_outside_the_target_region_fails_synthesis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    with pytest.raises(SettingsError, match="only in us-east-1, but the stack is being deployed to eu-west-1"):
        build_app()


def _acknowledgements(construct: IConstruct) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for node in construct.node.find_all():
        for entry in node.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                for rule, reason in entry.data.items():
                    found[f"{node.node.path} {rule}"] = (rule, reason)
    return found


def test_every_cdk_nag_acknowledgement_is_a_scoped_finding_with_a_written_reason() -> None:
    # Given the app as synthesized (the session fixture proves synthesis with cdk-nag succeeds)
    _, stack = build_app()
    acknowledgements = _acknowledgements(stack)
    ours = {k: v for k, v in acknowledgements.items() if v[0].startswith("AwsSolutions::")}
    # Then there are acknowledgements, each naming one exact finding, each with a reason a reviewer can check
    assert len(ours) > 40
    for where, (rule, reason) in ours.items():
        assert rule.startswith("AwsSolutions::AwsSolutions-"), where
        assert len(reason) >= 60, f"{where}: reason too thin: {reason!r}"
    # and none sits on the stack itself (that would silence future findings anywhere)
    assert not any(where.split(" ")[0] == stack.node.path for where in ours)


def test_cdk_nag_fails_synthesis_on_an_unacknowledged_finding(tmp_path: Path) -> None:
    # Given the real app plus a queue that breaks AwsSolutions rules (no DLQ, no SSL enforcement)
    app, stack = build_app(outdir=str(tmp_path))
    sqs.Queue(stack, "CarelessQueue")
    # When synthesizing, then the validation fails and names the finding
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "CarelessQueue" in report
    assert "AwsSolutions-SQS3" in report


@pytest.mark.parametrize(
    ("model_id", "region"),
    [("amazon.nova-lite-v1:0:300k", "us-east-1"), ("meta.llama3-1-8b-instruct-v1:0:128k", "us-west-2")],
)
def test_synthesis_for_a_concrete_account_and_region_passes_cdk_nag(
    model_id: str, region: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the environment `cdk deploy` sets when credentials are available (ARNs become literal, not tokens)
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    app, stack = build_app({"fine_tuning.base_model_id": model_id}, outdir=str(tmp_path))
    # When synthesizing, then cdk-nag finds nothing unacknowledged and the template names the region literally
    assembly = app.synth()
    template = json.dumps(assembly.get_stack_artifact(stack.artifact_id).template)
    assert f":bedrock:{region}:123456789012:provisioned-model/*" in template
