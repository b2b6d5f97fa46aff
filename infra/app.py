"""Builds the CDK app: the stack, its settings from context, and cdk-nag's AwsSolutions checks."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import CONTEXT_KEY, SettingsError, settings_from_context
from infra.nag import acknowledge_findings
from infra.stack import FineTuningStack

STACK_NAME = "FineTuningStack"
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def build_app(
    context: dict[str, Any] | None = None, outdir: str | None = None, *, today: date | None = None
) -> tuple[App, FineTuningStack]:
    """``context`` adds to (and overrides) cdk.json's context; validation errors raise ``SettingsError``.

    Besides the settings' own validation, synthesis refuses what cannot work on ``today`` (default: the clock's
    day) in the target region: a model past its Legacy or end-of-life date, a model the region does not customize,
    a judge the region cannot invoke or that reached its end of life. Each problem names its setting, all on one line.
    """
    app = App(context=context, outdir=outdir)
    settings = settings_from_context(_fine_tuning_context(app, context))
    account = os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = os.environ.get("CDK_DEFAULT_REGION")
    problems = settings.problems_starting(region=region or None, today=today)
    if problems:
        raise SettingsError("; ".join(f"{CONTEXT_KEY}.{problem.setting}: {problem.message}" for problem in problems))
    env = Environment(account=account, region=region) if account and region else None
    stack = FineTuningStack(app, STACK_NAME, settings=settings, env=env)
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
