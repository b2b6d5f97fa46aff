"""``python -m tuner run FILE --local`` as a user runs it: exit status, summary, artefacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import ON_DEMAND, qa_pairs
from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, main

pytestmark = pytest.mark.e2e


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_successful_run_exits_0_and_prints_the_emulated_score_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A name that S3 URL-encodes in its event ("my good+data.jsonl" arrives as "my+good%2Bdata.jsonl")
    records = [json.dumps(ON_DEMAND.record(q, a)) for q, a in qa_pairs(40)]
    dataset = _write(tmp_path / "my good+data.jsonl", records)
    code = main(["run", str(dataset), "--local", "--quiet", "--out", str(tmp_path / "out")])
    output = capsys.readouterr().out
    assert code == EXIT_OK
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["run"]["source"].endswith("/incoming/my good+data.jsonl")
    assert "execution SUCCEEDED, report SUCCEEDED" in output
    assert "EMULATED" in output
    assert "fine-tuned (emulated)" in output
    for name in ("report.json", "report.md", "report.html", "execution.json", "ledger.json"):
        assert (tmp_path / "out" / name).is_file(), name


def test_the_demo_reports_every_estimated_cost_labelled_emulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the README's demo runs: the sample dataset, rehearsed locally (Nova Lite, deployed on demand)
    demo = Path(__file__).resolve().parents[2] / "dataset" / "sample_qa.jsonl"
    assert main(["run", str(demo), "--local", "--quiet", "--out", str(tmp_path / "out")]) == EXIT_OK
    capsys.readouterr()
    cost = json.loads((tmp_path / "out" / "report.json").read_text())["cost"]
    # Then report.json has the estimated costs the list prices allow, labelled emulated and dated
    assert cost["emulated"] is True
    assert cost["label"].startswith("EMULATED:")
    assert "list prices as of 2026-09-01" in cost["label"]
    assert cost["total_usd"] > 0
    for part in ("capacity", "evaluation"):  # the deployment's and the evaluation's tokens, priced
        assert cost[part]["usd"] > 0, part
        assert cost[part]["as_of"] == "2026-09-01", part
    # And the parts no dated source prices (training, storage) say so instead of guessing
    for part in ("training", "storage_per_month"):
        assert cost[part]["usd"] is None, part
        assert cost[part]["missing"], part
    assert "x 2 epochs" in cost["training"]["basis"]
    assert cost["complete"] is False
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "## Inference capacity and cost (EMULATED)" in markdown


def test_a_rejected_dataset_exits_1_with_its_artefacts_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = _write(tmp_path / "broken.jsonl", ['{"messages": [', "not json at all"])
    out = tmp_path / "out"
    code = main(["run", str(dataset), "--local", "--quiet", "--out", str(out)])
    output = capsys.readouterr().out
    assert code == EXIT_BAD_INPUT
    assert "report REJECTED" in output
    assert json.loads((out / "report.json").read_text())["status"] == "REJECTED"
    assert json.loads((out / "ledger.json").read_text()) == {"resources": []}
