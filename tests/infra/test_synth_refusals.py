"""Synthesis refuses what cannot work on the day and in the region, in one line naming the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from infra.app import build_app
from infra.config import SettingsError

REPO_ROOT = Path(__file__).resolve().parents[2]
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def test_synth_of_a_model_past_its_end_of_life_exits_1_with_one_line_naming_it(tmp_path: Path) -> None:
    # Given the reference study's model, what `cdk synth -c fine_tuning.base_model_id=...` passes to the app
    env = {
        **os.environ,
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"fine_tuning.base_model_id": HAIKU}),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    # Then synthesis fails in one line that names the setting and the end of life, and writes nothing
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: fine_tuning.base_model_id: Anthropic Claude 3 Haiku")
    assert "reached its end of life on 2026-09-10" in result.stderr
    assert not (tmp_path / "manifest.json").exists()


@pytest.mark.parametrize(
    ("context", "region", "expected"),
    [
        # Llama 3.2 has been past its end of life since 2026-07-07 (the fine-tuning table still lists it)
        (
            {"fine_tuning.base_model_id": "meta.llama3-2-11b-instruct-v1:0:128k"},
            "us-west-2",
            "fine_tuning.base_model_id: Meta Llama 3.2 11B Instruct (meta.llama3-2-11b-instruct-v1:0:128k) reached "
            "its end of life on 2026-07-07",
        ),
        # a judge past its end of life, and one the region cannot invoke, both named, on one line
        (
            {"fine_tuning.evaluation": '{"judge_model_id": "anthropic.claude-sonnet-4-20250514-v1:0"}'},
            "us-east-1",
            "fine_tuning.evaluation.judge_model_id: judge Anthropic Claude Sonnet 4 "
            "(anthropic.claude-sonnet-4-20250514-v1:0) reached its end of life on 2026-10-14",
        ),
        (
            {"fine_tuning.base_model_id": "meta.llama3-1-8b-instruct-v1:0:128k"},
            "us-east-1",
            "fine_tuning.base_model_id: Meta Llama 3.1 8B Instruct can be fine-tuned only in us-west-2, but the stack "
            "is being deployed to us-east-1",
        ),
    ],
)
def test_synth_refuses_what_the_day_or_the_region_rules_out(
    context: dict[str, str], region: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", region)
    with pytest.raises(SettingsError) as raised:
        build_app(context, today=date(2026, 12, 3))
    assert str(raised.value).startswith(expected)
    assert "\n" not in str(raised.value)


def test_on_a_day_before_its_legacy_date_the_reference_model_still_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    # The clock is injectable: the day the reference study ran, Claude 3 Haiku was Active in us-west-2
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "123456789012")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-west-2")
    _, stack = build_app({"fine_tuning.base_model_id": HAIKU}, today=date(2026, 3, 1))
    assert stack.region == "us-west-2"
