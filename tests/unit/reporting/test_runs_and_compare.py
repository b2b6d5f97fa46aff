"""``tuner runs`` lists every run with its status and verdict; ``tuner compare`` puts two side by side and warns
when they were not evaluated on the same questions; ``tuner report`` takes a folder or the file; ``--version``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.evaluation.results import EvaluationSet
from lambdas.reporting.build import build_report
from tests.unit.reporting.reporting_states import T0, evaluation_result, lambda_cause, succeeded_state, with_updates
from tuner.cli import main


def write_run(folder: Path, report_json: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(report_json)
    return folder


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    succeeded = build_report(succeeded_state(), now=T0, evaluation=evaluation_result())
    failed_state = with_updates(
        succeeded_state(),
        summarize_evaluation=None,
        errors={"StartCustomizationJob": {"Error": "ValidationException", "Cause": lambda_cause("X", "no access")}},
    )
    failed = build_report(failed_state, now=T0)
    write_run(tmp_path / "runs" / "a", succeeded.model_dump_json())
    write_run(tmp_path / "runs" / "b", failed.model_dump_json())
    (tmp_path / "runs" / "empty").mkdir()  # a folder without a report is not a run
    return tmp_path / "runs"


def test_runs_lists_every_run_with_status_and_verdict(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--dir", str(runs_dir), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["runs"]
    by_status = {row["status"]: row for row in rows}
    assert set(by_status) == {"SUCCEEDED", "FAILED"}
    assert by_status["SUCCEEDED"]["verdict"] is None or by_status["SUCCEEDED"]["verdict"] in {
        "improved",
        "regressed",
        "no_clear_difference",
        "inconclusive",
    }
    # the total estimated cost: the capacity's $132 and the base model's answers (training, judge, storage unpriced)
    succeeded = by_status["SUCCEEDED"]
    assert succeeded["capacity_cost_usd"] == 132.0
    assert succeeded["estimated_cost_usd"] == pytest.approx(132.0 + (8 * 0.00025 + 10 * 0.00125) / 1000, abs=1e-6)
    assert succeeded["estimated_cost_complete"] is False
    assert succeeded["estimated_cost_label"] == "estimated, list prices as of 2025-07-20"
    # the failed run asked no question (no evaluation cost): its capacity is what it cost, as far as prices are known
    assert (by_status["FAILED"]["estimated_cost_usd"], by_status["FAILED"]["estimated_cost_complete"]) == (132.0, False)
    assert by_status["FAILED"]["headline"].startswith("failed at StartCustomizationJob")
    # the table shows the total, marked as a lower bound where prices were missing
    assert main(["runs", "--dir", str(runs_dir)]) == 0
    table = capsys.readouterr().out
    assert "$132.00" in table
    assert "at least" in table


def test_runs_on_a_missing_folder_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--dir", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_compare_warns_when_the_runs_asked_different_questions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = build_report(succeeded_state(), now=T0, evaluation=evaluation_result())
    assert report.evaluation is not None

    def with_set(sha: str) -> str:
        evaluation = report.evaluation.model_copy(  # type: ignore[union-attr]
            update={
                "evaluation_set": EvaluationSet(
                    source="test_set", key="eval/golden.jsonl", sha256=sha, questions=2, considered=2, leaked=0
                )
            }
        )
        return report.model_copy(update={"evaluation": evaluation}).model_dump_json()

    a = write_run(tmp_path / "a", with_set("1" * 64))
    b = write_run(tmp_path / "b", with_set("2" * 64))
    same = write_run(tmp_path / "c", with_set("1" * 64))
    page = tmp_path / "compare.html"
    assert main(["compare", str(a), str(b / "report.json"), "--html", str(page)]) == 0
    captured = capsys.readouterr()
    assert "different evaluation sets" in captured.err
    assert "hyperparameter epochCount" in page.read_text()
    assert "Warning: the runs used different evaluation sets" in page.read_text()
    assert main(["compare", str(a), str(same)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_report_accepts_the_folder_or_the_file(runs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(runs_dir / "a" / "report.json")]) == 0
    assert (runs_dir / "a" / "report.html").is_file()
    assert "report.json/report.json" not in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("python -m tuner ")
