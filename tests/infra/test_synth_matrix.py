"""Every registry model x each region that customizes it x each way it can be served: synthesis either refuses it
(a model past its Legacy or end-of-life date) or produces a template that passes cdk-nag and cfn-lint.

cdk-nag runs inside ``app.synth()`` (``build_app`` adds the AwsSolutions checks; an unacknowledged finding fails
synthesis). cfn-lint runs through its Python API on the written template, for the target region, and fails on
errors, as ``make cfn-lint`` does. The day is pinned to the day the registry was last checked, so that the matrix
does not change under the test as dates pass; the refusals on other days are tested in test_synth_refusals.py.
Each combination is synthesized once: 8 templates, 35 s in all on two cores (the first about 11 s: jsii starts).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint

from infra.app import build_app
from infra.config import SettingsError
from lambdas.registry import MODELS, Serving

pytestmark = pytest.mark.slow

TODAY = date(2026, 12, 3)
ACCOUNT = "123456789012"
MODES = {Serving.CUSTOM_MODEL_DEPLOYMENT: "on-demand", Serving.PROVISIONED_THROUGHPUT: "provisioned"}
MATRIX = [
    (spec.model_id, region, MODES[serving])
    for spec in MODELS.values()
    for region in spec.regions
    for serving in spec.serving
]
LIVE = [row for row in MATRIX if MODELS[row[0]].why_no_new_job(TODAY) is None]
REFUSED = [row for row in MATRIX if row not in LIVE]


def _context(model_id: str, mode: str) -> dict[str, str]:
    return {"fine_tuning.base_model_id": model_id, "fine_tuning.inference_mode": mode}


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    region: str = request.param
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    return region


def test_the_matrix_covers_both_serving_modes_and_both_regions() -> None:
    assert {mode for _, _, mode in LIVE} == {"on-demand", "provisioned"}
    assert {region for _, region, _ in LIVE} == {"us-east-1", "us-west-2"}


@pytest.mark.parametrize(("model_id", "target", "mode"), LIVE, indirect=["target"], ids=["-".join(row) for row in LIVE])
def test_each_live_combination_synthesizes_and_passes_cdk_nag_and_cfn_lint(
    model_id: str, target: str, mode: str, tmp_path: Path
) -> None:
    # When synthesizing for a concrete account and region (cdk-nag fails synthesis on any unacknowledged finding)
    app, stack = build_app(_context(model_id, mode), outdir=str(tmp_path / "cdk.out"), today=TODAY)
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    # Then the template is for that region and that model
    text = json.dumps(template)
    assert f":bedrock:{target}:{ACCOUNT}:" in text
    assert model_id in text
    # And cfn-lint finds no error in it for that region
    path = tmp_path / "template.json"
    path.write_text(text)
    errors = [match for match in lint(path.read_text(), config=ManualArgs(regions=[target])) if match.rule.id[0] == "E"]
    assert errors == [], "\n".join(str(match) for match in errors)


@pytest.mark.parametrize(
    ("model_id", "target", "mode"), REFUSED, indirect=["target"], ids=["-".join(row) for row in REFUSED]
)
def test_each_combination_past_its_date_is_refused_naming_it(model_id: str, target: str, mode: str) -> None:
    with pytest.raises(SettingsError, match=rf"^fine_tuning\.base_model_id: .*\({model_id}\) (is Legacy|reached)"):
        build_app(_context(model_id, mode), today=TODAY)
