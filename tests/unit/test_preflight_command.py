"""``tuner preflight``: the Preflight step's checks from a machine with credentials (clients stubbed here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.stub import Stubber

from lambdas import aws
from tests.unit.preflight.conftest import PT_UNITS, availability, quota
from tuner.cli import main

LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
SAMPLE = Path(__file__).resolve().parents[2] / "dataset" / "sample_qa_llama3_1.jsonl"
MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:Runs"


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stubber, Stubber, Stubber]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    aws.reset_clients()
    with (
        Stubber(aws.client("bedrock")) as bedrock,
        Stubber(aws.client("service-quotas")) as quotas,
        Stubber(aws.client("stepfunctions")) as sfn,
    ):
        yield bedrock, quotas, sfn
        for stub in (bedrock, quotas, sfn):
            stub.assert_no_pending_responses()


def _expect(bedrock: Stubber, quotas: Stubber, *, pt_units: float) -> None:
    for model, offered in (("meta.llama3-1-8b-instruct-v1:0", "AVAILABLE"), ("amazon.nova-pro-v1:0", "NOT_AVAILABLE")):
        bedrock.add_response(
            "get_foundation_model_availability", availability(model, regionAvailability=offered), {"modelId": model}
        )
    listed = [
        quota(PT_UNITS, pt_units, "L-BE77399C"),
        quota("Model units per provisioned model for Meta Llama 3.1 8B Instruct", 1.0),
    ]
    quotas.add_response("list_service_quotas", {"Quotas": listed}, {"ServiceCode": "bedrock", "MaxResults": 100})


def test_an_account_ready_for_the_run_exits_0_and_says_what_it_could_not_read(
    account: tuple[Stubber, Stubber, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    bedrock, quotas, _ = account
    _expect(bedrock, quotas, pt_units=2.0)
    code = main(["preflight", str(SAMPLE), "--model", LLAMA])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[0] == f"preflight for Meta Llama 3.1 8B Instruct ({LLAMA}) in us-west-2"
    assert "  warning quota: concurrent model customization jobs: could not be read" in out
    assert "a run would pass preflight: 0 failed, 1 warning(s)" in out


def test_a_quota_of_zero_exits_1_with_the_fix(
    account: tuple[Stubber, Stubber, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    bedrock, quotas, _ = account
    _expect(bedrock, quotas, pt_units=0.0)
    code = main(["preflight", "--model", LLAMA, "--json"])
    assert code == 1
    output = json.loads(capsys.readouterr().out)
    assert output["passed"] is False
    (failure,) = [check for check in output["checks"] if check["status"] == "failed"]
    assert failure["subject"] == f"{PT_UNITS} (L-BE77399C)"
    assert "Service Quotas console" in failure["fix"]


def test_with_the_state_machine_a_drop_now_is_counted_against_the_running_runs(
    account: tuple[Stubber, Stubber, Stubber], capsys: pytest.CaptureFixture[str]
) -> None:
    bedrock, quotas, sfn = account
    _expect(bedrock, quotas, pt_units=2.0)
    running = {
        "executionArn": "arn:aws:states:us-west-2:123456789012:execution:Runs:faq-1",
        "stateMachineArn": MACHINE,
        "name": "faq-1",
        "status": "RUNNING",
        "startDate": datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    }
    sfn.add_response(
        "list_executions",
        {"executions": [running]},
        {"stateMachineArn": MACHINE, "statusFilter": "RUNNING", "maxResults": 100},
    )
    code = main(["preflight", "--model", LLAMA, "--state-machine-arn", MACHINE])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED  concurrent-runs: runs of this stack at once (max_concurrent_runs 1): 1 earlier run(s)" in out
    assert "a run would be REJECTED: 1 failed" in out
