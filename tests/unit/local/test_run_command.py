"""``python -m tuner run``: usage mistakes are one line and exit 2, before anything is synthesized or started."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner.cli import EXIT_USAGE, main


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("{}\n")
    return path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "missing.jsonl", "--local"], "missing.jsonl does not exist"),
        (["run", "{dataset}", "--local", "--model", "acme.parrot-v1"], "unknown base model id 'acme.parrot-v1'"),
        (["run", "{dataset}", "--local", "--simulate", "meteor"], "unknown scenario 'meteor'; choose one of: none,"),
        # what synth refuses, the rehearsal refuses too, naming the setting (the day only moves forward)
        (
            ["run", "{dataset}", "--local", "--model", "anthropic.claude-3-haiku-20240307-v1:0:200k"],
            "fine_tuning.base_model_id: Anthropic Claude 3 Haiku (anthropic.claude-3-haiku-20240307-v1:0:200k) "
            "reached its end of life on 2026-09-10",
        ),
        (["run", "{dataset}"], "only --local runs are supported"),
        # an --out that cannot be a folder: refused before synthesis, not a traceback after it
        (["run", "{dataset}", "--local", "--out", "{dataset}"], "data.jsonl: exists and is not a directory"),
        (["run", "{dataset}", "--local", "--out", "{dataset}/out"], "data.jsonl/out: Not a directory"),
        # -c takes exactly what `cdk synth -c` takes, and refuses the same values with the setting named
        (["run", "{dataset}", "--local", "-c", "evaluation=5"], "expected fine_tuning.KEY=VALUE"),
        (
            ["run", "{dataset}", "--local", "-c", 'fine_tuning.evaluation={"max_test_records": 0}'],
            "evaluation.max_test_records",
        ),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    arguments: list[str], message: str, dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([argument.replace("{dataset}", str(dataset)) for argument in arguments])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE
    assert captured.err.startswith("error: ")
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert "Traceback" not in captured.err + captured.out


def test_a_model_that_cannot_be_served_as_configured_is_refused_before_a_run() -> None:
    # Settings may say on-demand; Claude 3 Haiku cannot be served that way: say so instead of starting a run
    from tuner.local.harness import LocalRunError, resolve_settings

    with pytest.raises(LocalRunError, match="cannot be served on demand"):
        resolve_settings("anthropic.claude-3-haiku-20240307-v1:0:200k", {"inference_mode": "on-demand"})
    assert resolve_settings("amazon.nova-lite-v1:0:300k", {"inference_mode": "on-demand"})["inference_mode"] == (
        "on-demand"
    )


def test_context_options_replace_a_setting_exactly_as_cdk_synth_does() -> None:
    from infra.config import settings_from_context
    from tuner.local.harness import resolve_settings

    context = {"fine_tuning.evaluation": '{"max_test_records": 5}', "fine_tuning.hyperparameters": '{"epochCount": 3}'}
    rehearsed = resolve_settings(None, {}, context)
    # the whole key is replaced (cdk.json's other evaluation settings fall back to their defaults), as at synth
    assert rehearsed["evaluation"] == {"max_test_records": 5}
    assert rehearsed["hyperparameters"] == {"epochCount": 3}
    import json

    cdk = json.loads((Path(__file__).resolve().parents[3] / "cdk.json").read_text())["context"]
    synthesized = settings_from_context({**cdk, **context})
    assert synthesized.evaluation.max_test_records == 5
    assert synthesized.model_dump()["hyperparameters"] == rehearsed["hyperparameters"]
