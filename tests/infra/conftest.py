from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.app import build_app


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, dict[str, Any], Path]:
    """One offline synthesis (with cdk-nag) shared by the infra tests: (assertions template, raw template, outdir)."""
    outdir = tmp_path_factory.mktemp("cdk-out")
    app, stack = build_app(outdir=str(outdir))
    assembly = app.synth()
    raw = assembly.get_stack_artifact(stack.artifact_id).template
    return Template.from_json(raw), raw, outdir


@pytest.fixture(scope="session")
def template(synthesized: tuple[Template, dict[str, Any], Path]) -> Template:
    return synthesized[0]


@pytest.fixture(scope="session")
def raw_template(synthesized: tuple[Template, dict[str, Any], Path]) -> dict[str, Any]:
    return synthesized[1]


@pytest.fixture(scope="session")
def definition(raw_template: dict[str, Any]) -> dict[str, Any]:
    """The state machine definition with each Fn::GetAtt of a function replaced by ``<LogicalId>``."""
    machines = [r for r in raw_template["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert len(machines) == 1
    parts = machines[0]["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else f"<{part['Fn::GetAtt'][0]}>" for part in parts)
    return json.loads(text)  # type: ignore[no-any-return]
