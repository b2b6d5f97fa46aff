"""Nothing is spent that could have been known to fail: the scenarios Preflight stops, end to end.

Each run goes through the synthesized state machine on moto with the emulated Bedrock and Service Quotas; the
promise under test is the issue's quality bar: the run ends REJECTED with the reason (and its fix) in report.json,
and the ledger is empty: no customization job, no capacity, no Bedrock create call at all. One serving path (Llama
3.1 8B on Provisioned Throughput, the path a quota of 0 hurts most) keeps these runs few.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PROVISIONED, TEST_ITEMS, qa_pairs, read_out, state_names
from tuner.local.harness import LocalRun, RunRequest, RunResult
from tuner.local.scenarios import Scenario

pytestmark = pytest.mark.e2e


def _run(tmp_path: Path, scenario: Scenario) -> RunResult:
    dataset = tmp_path / "orbit_faq.jsonl"
    dataset.write_text("".join(json.dumps(PROVISIONED.record(q, a)) + "\n" for q, a in qa_pairs(PROVISIONED.records)))
    return LocalRun(
        RunRequest(
            dataset=dataset,
            model_id=PROVISIONED.model_id,
            scenario=scenario,
            out_dir=tmp_path / "out",
            settings_overrides={
                "inference_mode": PROVISIONED.inference_mode,
                "evaluation": {"max_test_records": TEST_ITEMS, "concurrency": 2},
            },
        )
    ).run()


def _assert_rejected_before_any_spend(result: RunResult) -> dict[str, Any]:
    report = read_out(result, "report.json")
    assert report["status"] == "REJECTED", report["headline"]
    assert report["headline"].startswith("rejected before any spend: ")
    # Nothing was created in Bedrock: the ledger is empty and no Create call was ever made
    assert read_out(result, "ledger.json") == {"resources": []}
    assert [operation for operation, _ in result.bedrock_calls if operation.startswith("Create")] == []
    assert result.emulator_failures == []
    states = state_names(result)
    assert "Preflight" in states
    assert "StartCustomizationJob" not in states
    assert states[-1] == "Rejected"
    assert report["failure"]["cleanup"] == [
        "No customization job was started: nothing was billed for training.",
        "No inference capacity was bought.",
    ]
    # every failure is a Preflight one (the dataset was valid), with its fix
    assert {failure["step"] for failure in report["failure"]["failures"]} == {"Preflight"}
    assert all(". Fix: " in failure["message"] for failure in report["failure"]["failures"])
    assert "## Preflight" in (result.out_dir / "report.md").read_text()
    return report


def _failed_checks(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [check for check in report["preflight"]["checks"] if check["status"] == "failed"]


def test_no_model_access_is_rejected_before_the_job(tmp_path: Path) -> None:
    report = _assert_rejected_before_any_spend(_run(tmp_path, Scenario.NO_MODEL_ACCESS))
    (failed,) = _failed_checks(report)
    assert failed["check"] == "model-access"
    assert failed["subject"] == "base model meta.llama3-1-8b-instruct-v1:0"
    assert "no model access (entitlementAvailability NOT_AVAILABLE)" in failed["message"]
    assert "Model access page" in failed["fix"]
    # the judge has access: only the base model is reported
    judge = [check for check in report["preflight"]["checks"] if check["subject"].startswith("judge ")]
    assert [check["status"] for check in judge] == ["passed"]


def test_a_throughput_quota_of_zero_is_rejected_before_the_job_is_paid_for(tmp_path: Path) -> None:
    report = _assert_rejected_before_any_spend(_run(tmp_path, Scenario.NO_CAPACITY_QUOTA))
    failed = _failed_checks(report)
    assert {check["check"] for check in failed} == {"quota"}
    subjects = [check["subject"] for check in failed]
    assert "Model units no-commitment Provisioned Throughputs across custom models (L-BE77399C)" in subjects
    assert any(
        subject.startswith("Model units per provisioned model for Meta Llama 3.1 8B Instruct") for subject in subjects
    )
    assert all("is 0, but" in check["message"] and "to at least 1" in check["fix"] for check in failed)


def test_a_run_over_its_budget_is_rejected_before_any_spend(tmp_path: Path) -> None:
    result = _run(tmp_path, Scenario.OVER_BUDGET)
    report = _assert_rejected_before_any_spend(result)
    (failed,) = _failed_checks(report)
    assert failed["check"] == "budget"
    assert failed["subject"] == "estimated run cost against max_run_cost_usd $0.0001"
    assert "is over the budget of $0.0001" in failed["message"]
    assert report["run"]["settings"]["max_run_cost_usd"] == 0.0001  # the scenario's budget, recorded with the run
