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
