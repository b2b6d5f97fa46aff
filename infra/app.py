"""Builds the CDK app: the stack, its settings from context, and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEY, SettingsError, settings_from_context
from infra.nag import acknowledge_findings
from infra.stack import FineTuningStack
from lambdas.registry import JudgeNotInvocableError, resolve_judge_invocation_id

STACK_NAME = "FineTuningStack"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> tuple[App, FineTuningStack]:
    """``context`` adds to (and overrides) cdk.json's context; validation errors raise ``SettingsError``."""
    app = App(context=context, outdir=outdir)
    settings = settings_from_context(_fine_tuning_context(app, context))
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    env = Environment(account=account, region=region) if account and region else None
    stack = FineTuningStack(app, STACK_NAME, settings=settings, env=env)
    if region and region not in settings.model.regions:
        raise SettingsError(
            f"{settings.model.display_name} can be fine-tuned only in {', '.join(settings.model.regions)}, "
            f"but the stack is being deployed to {region}"
        )
    if region and settings.evaluation.judge_enabled:
        try:
            resolve_judge_invocation_id(settings.evaluation.judge_model_id, region)
        except JudgeNotInvocableError as error:
            raise SettingsError(f"{CONTEXT_KEY}.evaluation.judge_model_id: {error}") from None
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    acknowledge_findings(stack)
    return app, stack


def _fine_tuning_context(app: App, context: dict[str, Any] | None) -> dict[str, Any]:
    """cdk.json's context, overridden by the CLI's ``-c`` values and by ``context``.

    The CDK CLI passes cdk.json and ``-c`` through ``CDK_CONTEXT_JSON``; ``python app.py`` alone does not, so
    cdk.json is read here too and both ways of synthesizing see the same settings.
    """
    file_context: dict[str, Any] = {}
    if CDK_JSON.is_file():
        try:
            document = json.loads(CDK_JSON.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as error:  # the CDK CLI refuses such a file; `python app.py` must too
            raise SettingsError(f"{CDK_JSON.name} is not valid JSON: {error}") from None
        file_context = document.get("context", {}) if isinstance(document, dict) else {}
    keys = set(file_context) | set(context or {}) | set(json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}"))
    merged: dict[str, Any] = {}
    for key in sorted(keys):
        if key != CONTEXT_KEY and not key.startswith(f"{CONTEXT_KEY}."):
            continue
        value = app.node.try_get_context(key)
        merged[key] = file_context.get(key) if value is None else value
    return merged


def synthesize_template(context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Synthesizes offline into a temporary folder and returns the stack's CloudFormation template."""
    with tempfile.TemporaryDirectory(prefix="cdk-synth-") as outdir:
        app, stack = build_app(context, outdir=outdir)
        assembly = app.synth()
        template: dict[str, Any] = assembly.get_stack_artifact(stack.artifact_id).template
        return template
