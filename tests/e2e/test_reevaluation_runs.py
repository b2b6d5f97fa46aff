"""Re-evaluating a custom model without retraining, end to end: one session trains a model, then drops the
reevaluate/ request `tuner evaluate` would upload; the second run buys capacity for the same model, evaluates it on
the first run's questions, deletes the capacity and reports, and never starts a job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import read_out
from tuner.local.harness import Drop, LocalRun, RunRequest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "dataset" / "sample_qa.jsonl"


def test_a_reevaluation_evaluates_the_trained_model_again_without_a_job(tmp_path: Path) -> None:
    # Given a session that trains on the sample, then asks for the trained model to be evaluated again
    trained, again = LocalRun(
        RunRequest(
            dataset=SAMPLE,
            out_dir=tmp_path / "out",
            settings_overrides={"evaluation": {"concurrency": 2}},
            then=(Drop(reevaluate_previous=True),),
        )
    ).run_all()
    assert trained.report_status == "SUCCEEDED"
    model_arn = trained.report["job"]["custom_model_arn"]

    # Then each run has its own folder, report and ledger view
    assert trained.out_dir == tmp_path / "out" / trained.run_id
    assert again.out_dir == tmp_path / "out" / again.run_id
    report = read_out(again, "report.json")
    assert report["status"] == "SUCCEEDED", report.get("headline")

    # And the re-evaluation started no job and created no model: only capacity, for the trained model, deleted
    operations = [operation for operation, _ in again.bedrock_calls]
    assert "CreateModelCustomizationJob" not in operations
    assert "GetCustomModel" in operations  # preflight checked the model exists before anything was bought
    created = [(entry["type"], entry["deleted_at"] is not None) for entry in again.own_resources]
    assert created == [("custom-model-deployment", True)]
    execution = read_out(again, "execution.json")
    states = [state["name"] for state in execution["states"]]
    assert "StartCustomizationJob" not in states
    assert states.index("CreateInferenceCapacity") < states.index("DeleteInferenceCapacity")

    # And it asked the first run's questions, and the run document names the model it evaluated
    assert execution["input"]["run"]["reevaluation"]["custom_model_arn"] == model_arn
    assert execution["input"]["run"]["reevaluation"]["source_run_id"] == trained.run_id
    assert len(report["evaluation"]["items"]) == len(trained.report["evaluation"]["items"])
    questions = [item["question"] for item in report["evaluation"]["items"]]
    assert questions == [item["question"] for item in trained.report["evaluation"]["items"]]
    assert report["verdict"]["outcome"] in {"improved", "regressed", "no_clear_difference", "inconclusive"}
    # The model is still there: a re-evaluation never deletes what it evaluates
    models = [entry for entry in again.ledger["resources"] if entry["type"] == "custom-model"]
    assert [entry["deleted_at"] for entry in models] == [None]
    assert json.loads((again.out_dir / "ledger.json").read_text()) == again.ledger
