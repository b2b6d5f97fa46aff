"""Every scenario of a run, end to end, for a model served by Provisioned Throughput and one deployed on demand.

The promise under test: a bad dataset never reaches a paid Bedrock call, a failed job never buys capacity, and
every capacity bought is deleted (by the state machine, the execution cleanup or the sweeper) whatever goes wrong.
Assertions read the artefacts a user gets: report.json, execution.json and the emulator's ledger.json.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    TEST_ITEMS,
    Runner,
    ServingPath,
    capacity_entries,
    read_out,
    state_names,
)
from tuner.local.harness import RunResult
from tuner.local.scenarios import Scenario

pytestmark = pytest.mark.e2e

CAPACITY_STATES = {"CreateInferenceCapacity", "PollInferenceCapacity", "WaitForInferenceCapacity"}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _assert_every_capacity_deleted(result: RunResult, serving: ServingPath, *, by: str) -> dict[str, Any]:
    """Exactly one capacity of the serving path's kind was bought, and it is gone, with its lifetime recorded."""
    entries = capacity_entries(result)
    assert [entry["type"] for entry in entries] == [serving.capacity_type]
    (entry,) = entries
    assert entry["deleted_at"] is not None, f"{entry['arn']} was never deleted"
    assert entry["deleted_by"] == by
    assert _when(entry["deleted_at"]) > _when(entry["created_at"])
    # the ledger on disk says the same as the result
    assert read_out(result, "ledger.json") == result.ledger
    return entry


def _creates(result: RunResult) -> list[str]:
    return [operation for operation, _caller in result.bedrock_calls if operation.startswith("Create")]


def test_a_valid_dataset_succeeds_with_scores_for_every_test_item(
    run_local: Runner, valid_dataset: Path, serving: ServingPath
) -> None:
    # When a valid dataset is dropped
    result = run_local(valid_dataset)
    # Then the run succeeded, and report.json says so, labelled emulated
    assert result.execution_status == "SUCCEEDED"
    report = read_out(result, "report.json")
    assert report["status"] == "SUCCEEDED"
    assert report["run"]["emulated"] is True
    assert report["run"]["base_model_id"] == serving.model_id
    # And every test item has both answers scored by BERTScore and the judge
    evaluation = report["evaluation"]
    test_records = report["dataset"]["test_records"]
    assert 0 < len(evaluation["items"]) == min(TEST_ITEMS, test_records)
    for side in ("base", "fine_tuned"):
        summary = evaluation[side]
        assert summary["scored_items"] == summary["items"] == len(evaluation["items"])
        assert summary["bertscore_f1"] is not None
        assert 1 <= summary["judge_mean"] <= 10
    for item in evaluation["items"]:
        assert item["fine_tuned"]["error"] is None
        assert item["fine_tuned"]["judge"]["score"] is not None
    # And the emulated fine-tuned model, which learned the training split, beats the generic base model
    assert evaluation["fine_tuned"]["judge_mean"] > evaluation["base"]["judge_mean"]
    # And the capacity was deleted by the state machine itself, and the sweeper found nothing left
    entry = _assert_every_capacity_deleted(result, serving, by="state-machine")
    assert report["capacity"]["arn"] == entry["arn"]
    assert report["capacity"]["deleted"] is True
    assert report["capacity"]["lifetime_seconds"] > 0
    # And its estimated costs are labelled emulated: priced where the list prices allow, named where they do not
    cost = report["cost"]
    assert cost["emulated"] is True
    assert cost["label"].startswith("EMULATED:")
    assert cost["total_usd"] > 0
    assert cost["evaluation"]["usd"] > 0  # the base model's answers, at least
    if serving.capacity_type == "provisioned-throughput":  # no dated list price of a Llama model unit hour
        assert cost["capacity"]["usd"] is None
        assert "Provisioned Throughput per model unit hour" in cost["capacity"]["missing"][0]
    else:
        assert cost["capacity"]["usd"] > 0
    assert report["job"]["ended_at"] is not None
    assert report["job"]["duration_seconds"] > 0
    # And the report's three forms and the history are on disk
    for name in ("report.md", "report.html"):
        assert (result.out_dir / name).stat().st_size > 0
    assert state_names(result)[-1] == "Succeeded"


def test_an_invalid_dataset_is_rejected_before_any_bedrock_create_call(
    run_local: Runner, invalid_dataset: Path
) -> None:
    result = run_local(invalid_dataset)
    report = read_out(result, "report.json")
    assert report["status"] == "REJECTED"
    problems = report["dataset"]["first_errors"]
    assert {problem["line"] for problem in problems} >= {4, 8}
    # Nothing was created in Bedrock: the ledger is empty and no Create call was ever made
    assert read_out(result, "ledger.json") == {"resources": []}
    assert _creates(result) == []
    states = state_names(result)
    assert "StartCustomizationJob" not in states
    assert states[-1] == "Rejected"


def test_a_failed_job_never_buys_capacity(run_local: Runner, valid_dataset: Path) -> None:
    result = run_local(valid_dataset, Scenario.JOB_FAILURE)
    report = read_out(result, "report.json")
    assert report["status"] == "FAILED"
    assert report["job"]["status"] == "Failed"
    assert "job-failure" in (report["job"]["failure_message"] or "")
    assert [entry["type"] for entry in result.ledger["resources"]] == ["customization-job"]
    assert not {"CreateProvisionedModelThroughput", "CreateCustomModelDeployment"} & set(_creates(result))
    assert not CAPACITY_STATES & set(state_names(result))


def test_failed_capacity_is_deleted_and_the_run_fails(
    run_local: Runner, valid_dataset: Path, serving: ServingPath
) -> None:
    result = run_local(valid_dataset, Scenario.CAPACITY_FAILURE)
    report = read_out(result, "report.json")
    assert report["status"] == "FAILED"
    assert "capacity-failure" in report["headline"]
    _assert_every_capacity_deleted(result, serving, by="state-machine")
    states = state_names(result)
    assert "GenerateAnswers" not in states
    assert states.index("DeleteInferenceCapacity") > states.index("PollInferenceCapacity")


def test_when_the_fine_tuned_model_cannot_answer_the_run_fails_and_the_capacity_is_still_deleted(
    run_local: Runner, valid_dataset: Path, serving: ServingPath
) -> None:
    result = run_local(valid_dataset, Scenario.EVAL_FAILURE)
    report = read_out(result, "report.json")
    # The evaluation step fails (a run with no fine-tuned answers has nothing to report as a success)...
    assert report["status"] == "FAILED"
    assert result.execution_status == "FAILED"
    failure = json.dumps(report)
    assert "EvaluationFailedError" in failure
    assert re.search(r"fine-tuned model \([^)]*\) answered 0 of [1-9]", failure)
    assert "AccessDeniedException" in failure
    # ...through the capacity delete, which still runs after it
    states = state_names(result)
    assert states.index("DeleteInferenceCapacity") > states.index("GenerateAnswers")
    assert "ScoreAnswers" not in states  # nothing to score: the report says why instead
    _assert_every_capacity_deleted(result, serving, by="state-machine")


def test_throttling_is_absorbed_by_client_and_state_machine_retries(
    run_local: Runner, valid_dataset: Path, serving: ServingPath
) -> None:
    result = run_local(valid_dataset, Scenario.THROTTLING)
    assert read_out(result, "report.json")["status"] == "SUCCEEDED"
    # The capacity purchase was throttled past the client's retries: the state machine retried the step...
    steps = {step["name"]: step for step in read_out(result, "execution.json")["states"]}
    create = steps["CreateInferenceCapacity"]
    assert create["attempts"] >= 2
    assert create["error"] == "TransientServiceError"
    # ...and still bought exactly one capacity, deleted at the end
    _assert_every_capacity_deleted(result, serving, by="state-machine")
    # And beyond the burst, one request in three was throttled all run long
    assert result.bedrock_throttled >= 12 + len(result.bedrock_calls) // 4


def test_a_stopped_execution_has_its_capacity_deleted_by_the_execution_cleanup(
    run_local: Runner, valid_dataset: Path, serving: ServingPath
) -> None:
    result = run_local(valid_dataset, Scenario.STOP)
    assert result.execution_status == "ABORTED"
    # The "Execution Status Change" rule's target deleted the capacity within the same simulated minute
    entry = _assert_every_capacity_deleted(result, serving, by="execution-cleanup")
    # and wrote the run's report: ABORTED, the state it was in, and what it deleted
    report = read_out(result, "report.json")
    assert result.report_status == report["status"] == "ABORTED"
    failure = report["failure"]["failures"][0]
    assert failure["step"] in {"WaitForInferenceCapacity", "PollInferenceCapacity", "CapacityReady?"}
    assert f"The cleanup deleted {serving.capacity_type} {entry['arn']}." in report["failure"]["cleanup"]
    assert report["capacity"]["deleted"] is True
    assert (_when(entry["deleted_at"]) - _when(entry["created_at"])).total_seconds() < 3600
    assert read_out(result, "execution.json")["status"] == "ABORTED"


def test_when_the_cleanup_event_is_lost_the_sweeper_deletes_expired_capacity(
    run_local: Runner, valid_dataset: Path, serving: ServingPath
) -> None:
    result = run_local(valid_dataset, Scenario.STOP_EVENT_LOST)
    assert result.execution_status == "ABORTED"
    entry = _assert_every_capacity_deleted(result, serving, by="sweeper")
    # It lived past the configured maximum lifetime (4 h) before the sweep found it, and not much longer
    lifetime_hours = (_when(entry["deleted_at"]) - _when(entry["created_at"])).total_seconds() / 3600
    assert 4 <= lifetime_hours <= 4.6
    sweeper_deletes = [operation for operation, caller in result.bedrock_calls if caller == "sweeper"]
    assert any(operation.startswith("Delete") for operation in sweeper_deletes)
