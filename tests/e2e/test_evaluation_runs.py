"""The evaluation end to end on the synthesized workflow: capacity gone before any scoring, a judge outage that reads
as inconclusive (never as a pass), leaked test questions counted and excluded, a fixed evaluation set named by its
hash. One serving path (Nova on demand, the default) keeps these runs few."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import capacity_entries, read_out, state_names
from tuner.local.harness import LocalRun, RunRequest, RunResult
from tuner.local.scenarios import Scenario

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "dataset" / "sample_qa.jsonl"


def _run(tmp_path: Path, dataset: Path, scenario: Scenario = Scenario.NONE, **request: Any) -> RunResult:
    evaluation = {"concurrency": 2, **request.pop("evaluation", {})}
    return LocalRun(
        RunRequest(
            dataset=dataset,
            scenario=scenario,
            out_dir=tmp_path / "out",
            settings_overrides={**request.pop("settings_overrides", {}), "evaluation": evaluation},
            **request,
        )
    ).run()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_capacity_is_deleted_before_any_answer_is_scored(tmp_path: Path) -> None:
    # When the sample dataset runs
    result = _run(tmp_path, SAMPLE)
    report = read_out(result, "report.json")
    assert report["status"] == "SUCCEEDED"
    # Then in the execution history the delete finishes before scoring starts
    events = read_out(result, "execution.json")["events"]

    def position(kind: str, name: str) -> int:
        return next(
            i
            for i, event in enumerate(events)
            if event["type"] == kind
            and (event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}).get("name")
            == name
        )

    assert position("TaskStateExited", "DeleteInferenceCapacity") < position("MapStateEntered", "ScoreAnswers")
    states = state_names(result)
    assert states.index("GenerateAnswers") < states.index("DeleteInferenceCapacity") < states.index("ScoreAnswers")
    # And the capacity's ledger lifetime ended before the judge was asked anything
    (capacity,) = capacity_entries(result)
    delete_call = max(i for i, (operation, _) in enumerate(result.bedrock_calls) if operation.startswith("Delete"))
    assert result.judge_calls, "the judge was never asked"
    assert min(result.judge_calls) > delete_call
    assert _when(capacity["deleted_at"]) > _when(capacity["created_at"])
    # And the report leads with a verdict backed by paired statistics over every question
    verdict = report["verdict"]
    assert verdict["outcome"] in {"improved", "regressed", "no_clear_difference", "inconclusive"}
    metrics = {metric["name"]: metric for metric in verdict["metrics"]}
    assert set(metrics) == {"judge_correctness", "pairwise_preference", "bertscore_f1"}
    questions = len(report["evaluation"]["items"])
    assert metrics["judge_correctness"]["n"] == questions == report["dataset"]["test_records"]
    assert metrics["judge_correctness"]["ci_low"] <= metrics["judge_correctness"]["mean_delta"]
    assert f"on {questions} questions" in verdict["reason"]
    assert report["headline"].startswith(verdict["outcome"].replace("_", " "))
    # the default judge (Nova Pro) is of the tuned model's family (Nova Lite): the report says so and names another
    assert any("self-preference" in warning for warning in report["evaluation"]["warnings"])


def test_a_judge_outage_ends_inconclusive_with_the_judges_error_and_no_capacity_left(tmp_path: Path) -> None:
    result = _run(tmp_path, SAMPLE, Scenario.JUDGE_OUTAGE, settings_overrides={"promotion": "auto"})
    report = read_out(result, "report.json")
    # The run completes...
    assert result.execution_status == "SUCCEEDED"
    verdict = report["verdict"]
    # ...but its verdict is inconclusive, with the judge's coverage and first error as the reason
    assert verdict["outcome"] == "inconclusive"
    assert "coverage 0%" in verdict["reason"]
    assert "AccessDeniedException" in verdict["reason"]
    assert report["headline"].startswith("inconclusive")
    # an inconclusive model is never promoted, even with promotion auto, and the report says why
    assert report["promotion"]["decision"] == "skip"
    assert report["promotion"]["reason"].startswith("not improved against the base model (inconclusive")
    assert "Promotion (auto): not promoted" in (result.out_dir / "report.md").read_text()
    assert not [entry for entry in result.ledger["resources"] if entry.get("role") == "serving"]
    # and no capacity is left
    (capacity,) = capacity_entries(result)
    assert capacity["deleted_at"] is not None


def test_test_questions_leaked_from_training_are_counted_and_left_out(tmp_path: Path) -> None:
    # Given a dataset in which every question appears twice, once reworded by one extra word: the split keeps exact
    # repeats together, but a reworded twin lands on the other side of the split
    lines = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    twins = []
    for record in lines:
        twin = json.loads(json.dumps(record))
        user = twin["messages"][0]["content"][0]
        user["text"] = user["text"].rstrip("?") + " exactly?"
        twins.append(twin)
    dataset = tmp_path / "twins.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in lines + twins) + "\n")
    result = _run(tmp_path, dataset, evaluation={"max_test_records": 5_000})
    report = read_out(result, "report.json")
    evaluation = report["evaluation"]
    leaked = evaluation["evaluation_set"]["leaked"]
    # Then the leaked test questions are counted, listed, and not among the evaluated items
    assert leaked > 0
    assert len(evaluation["leaked_questions"]) == leaked
    assert evaluation["evaluation_set"]["questions"] + leaked == report["dataset"]["test_records"]
    assert len(evaluation["items"]) == evaluation["evaluation_set"]["questions"]
    asked = {item["question"] for item in evaluation["items"]}
    assert not asked & {leak["question"] for leak in evaluation["leaked_questions"]}
    assert report["verdict"]["excluded_questions"] == leaked
    assert f"{leaked} leaked question" in report["verdict"]["reason"]


def test_a_fixed_evaluation_set_replaces_the_test_split_and_is_named_by_its_hash(tmp_path: Path) -> None:
    body = "".join(
        json.dumps({"question": f"Which orbit does satellite model {n} use?", "answer": f"Orbit class {n}."}) + "\n"
        for n in range(12)
    ).encode()
    golden = tmp_path / "golden.jsonl"
    golden.write_bytes(body)
    result = _run(
        tmp_path, SAMPLE, evaluation={"test_set": "eval/golden.jsonl"}, bucket_files={"eval/golden.jsonl": golden}
    )
    report = read_out(result, "report.json")
    data = report["evaluation"]["evaluation_set"]
    assert (data["source"], data["key"], data["questions"]) == ("test_set", "eval/golden.jsonl", 12)
    assert data["sha256"] == hashlib.sha256(body).hexdigest()
    assert {item["reference"] for item in report["evaluation"]["items"]} == {f"Orbit class {n}." for n in range(12)}


def test_retention_delete_removes_the_custom_model_after_the_report(tmp_path: Path) -> None:
    result = LocalRun(
        RunRequest(
            dataset=SAMPLE,
            out_dir=tmp_path / "out",
            context={"fine_tuning.custom_model_retention": "delete"},
            settings_overrides={"evaluation": {"concurrency": 2}},
        )
    ).run()
    report = read_out(result, "report.json")
    assert report["status"] == "SUCCEEDED"
    assert report["job"]["retention"].startswith("deleted right after this report: custom_model_retention is delete")
    (model,) = [entry for entry in result.ledger["resources"] if entry["type"] == "custom-model"]
    assert model["deleted_by"] == "state-machine"
    states = state_names(result)
    assert states.index("WriteReport") < states.index("ApplyRetention") < states.index("Notify")


def test_a_drop_carries_its_own_run_settings_and_invalid_ones_are_rejected_before_any_spend(tmp_path: Path) -> None:
    # Given a drop whose metadata asks for 3 epochs and 5 test questions (no redeploy)
    override = json.dumps({"hyperparameters": {"epochCount": 3}, "evaluation": {"max_test_records": 5}})
    result = LocalRun(
        RunRequest(dataset=SAMPLE, out_dir=tmp_path / "ok", drop_metadata={"fine-tuning-settings": override})
    ).run()
    report = read_out(result, "report.json")
    # Then the run used them, and the report records what the drop changed
    assert report["status"] == "SUCCEEDED"
    assert report["hyperparameters"]["epochCount"] == "3"
    assert len(report["evaluation"]["items"]) == 5
    assert report["run"]["overrides"] == json.loads(override)
    # Given a drop whose metadata asks for what no run may change
    bad = LocalRun(
        RunRequest(
            dataset=SAMPLE,
            out_dir=tmp_path / "bad",
            drop_metadata={"fine-tuning-settings": '{"hyperparameters": {"epochCount": 99}}'},
        )
    ).run()
    rejected = read_out(bad, "report.json")
    # Then it is rejected with the reason, and nothing was created in Bedrock
    assert rejected["status"] == "REJECTED"
    assert "invalid_settings_override" in json.dumps(rejected)
    assert "epochCount=99 is outside" in json.dumps(rejected)
    assert bad.ledger == {"resources": []}
