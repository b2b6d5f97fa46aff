"""``python -m tuner report RUN_DIR`` re-renders report.html and report.md from report.json."""

from __future__ import annotations

from lambdas.reporting.build import build_report
from tests.unit.reporting.reporting_states import T0, evaluation_result, succeeded_state
from tuner.cli import main


def test_report_is_rerendered_from_report_json(tmp_path, capsys):
    report = build_report(succeeded_state(emulated=True), now=T0, evaluation=evaluation_result())
    (tmp_path / "report.json").write_text(report.model_dump_json())
    (tmp_path / "report.html").write_text("stale")
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'class="emulated"' in page
    assert (tmp_path / "report.md").read_text().startswith("# Fine-tuning run faq-20260301-0900: SUCCEEDED")
    assert "SUCCEEDED: inconclusive: only 2 questions were scored" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.md"]  # no temp left


def test_a_missing_or_foreign_report_json_is_a_usage_error(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "report.json does not exist" in capsys.readouterr().err
    (tmp_path / "report.json").write_text('{"status": "DONE"}')
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a run report: status:" in capsys.readouterr().err


def test_a_report_json_with_nan_or_infinity_is_still_rendered(tmp_path, capsys):
    # Given a report.json edited to hold NaN and Infinity (JSON parsers accept both): rendering raised
    report = build_report(succeeded_state(emulated=True), now=T0, evaluation=evaluation_result())
    text = report.model_dump_json()
    text = text.replace('"training_epoch_means":[]', '"training_epoch_means":[{"epoch":1,"mean_loss":NaN,"points":1}]')
    text = text.replace('"lifetime_seconds":1800.0', '"lifetime_seconds":Infinity')
    assert "NaN" in text
    assert "Infinity" in text
    (tmp_path / "report.json").write_text(text)
    assert main(["report", str(tmp_path)]) == 0
    assert "The loss values cannot be plotted" in (tmp_path / "report.html").read_text()
    assert "lived unknown" in (tmp_path / "report.md").read_text()
