"""One run at a time, or N: only executions that started earlier count, so two simultaneous drops admit one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.stub import Stubber

from lambdas.contracts import CheckStatus, ExecutionContext
from lambdas.preflight.concurrency import check_concurrent_runs

MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:Runs"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
LIST = {"stateMachineArn": MACHINE, "statusFilter": "RUNNING", "maxResults": 100}


def _execution(name: str, started: datetime) -> dict[str, Any]:
    return {
        "executionArn": f"arn:aws:states:us-west-2:123456789012:execution:Runs:{name}",
        "stateMachineArn": MACHINE,
        "name": name,
        "status": "RUNNING",
        "startDate": started,
    }


def _me(name: str, started: datetime) -> ExecutionContext:
    return ExecutionContext(
        execution_arn=_execution(name, started)["executionArn"], state_machine_arn=MACHINE, started_at=started
    )


def test_the_only_run_passes(stepfunctions: tuple[Any, Stubber]) -> None:
    client, stub = stepfunctions
    stub.add_response("list_executions", {"executions": [_execution("run-a", T0)]}, LIST)
    check = check_concurrent_runs(client, _me("run-a", T0), limit=1)
    assert check.status is CheckStatus.PASSED
    assert check.message == "0 earlier run(s) active, 1 allowed"


def test_a_drop_while_a_run_is_active_is_rejected(stepfunctions: tuple[Any, Stubber]) -> None:
    client, stub = stepfunctions
    running = [_execution("run-b", T0 + timedelta(hours=2)), _execution("run-a", T0)]
    stub.add_response("list_executions", {"executions": running}, LIST)
    check = check_concurrent_runs(client, _me("run-b", T0 + timedelta(hours=2)), limit=1)
    assert check.status is CheckStatus.FAILED
    assert "1 earlier run(s) of this stack are still active (run-a)" in check.message
    assert check.fix is not None
    assert "drop the dataset again" in check.fix


def test_the_earlier_run_is_not_stopped_by_a_later_one(stepfunctions: tuple[Any, Stubber]) -> None:
    client, stub = stepfunctions
    running = [_execution("run-b", T0 + timedelta(hours=2)), _execution("run-a", T0)]
    stub.add_response("list_executions", {"executions": running}, LIST)
    assert check_concurrent_runs(client, _me("run-a", T0), limit=1).status is CheckStatus.PASSED


def test_two_drops_in_the_same_millisecond_admit_exactly_one(stepfunctions: tuple[Any, Stubber]) -> None:
    # Given two executions that started at the same instant, each seeing the other in its own preflight
    client, stub = stepfunctions
    running = [_execution("zeta-run", T0), _execution("alpha-run", T0)]
    outcomes = {}
    for name in ("zeta-run", "alpha-run"):
        stub.add_response("list_executions", {"executions": running}, LIST)
        outcomes[name] = check_concurrent_runs(client, _me(name, T0), limit=1).status
    # Then the tie is broken by name the same way on both sides: one runs, one is rejected
    assert outcomes == {"alpha-run": CheckStatus.PASSED, "zeta-run": CheckStatus.FAILED}


def test_n_runs_at_once_when_allowed(stepfunctions: tuple[Any, Stubber]) -> None:
    client, stub = stepfunctions
    running = [_execution(f"run-{i}", T0 + timedelta(minutes=i)) for i in range(3)]
    for name, minutes, expected in (("run-1", 1, CheckStatus.PASSED), ("run-2", 2, CheckStatus.FAILED)):
        stub.add_response("list_executions", {"executions": running}, LIST)
        check = check_concurrent_runs(client, _me(name, T0 + timedelta(minutes=minutes)), limit=2)
        assert check.status is expected


def test_running_executions_are_read_across_pages(stepfunctions: tuple[Any, Stubber]) -> None:
    client, stub = stepfunctions
    stub.add_response("list_executions", {"executions": [_execution("run-b", T0)], "nextToken": "more"}, LIST)
    stub.add_response(
        "list_executions", {"executions": [_execution("run-a", T0 - timedelta(days=1))]}, {**LIST, "nextToken": "more"}
    )
    assert check_concurrent_runs(client, _me("run-b", T0), limit=1).status is CheckStatus.FAILED


def test_its_own_start_time_from_the_context_when_the_list_lags(stepfunctions: tuple[Any, Stubber]) -> None:
    # ListExecutions is eventually consistent: this execution may not be listed yet
    client, stub = stepfunctions
    stub.add_response("list_executions", {"executions": [_execution("run-a", T0)]}, LIST)
    assert check_concurrent_runs(client, _me("run-b", T0 + timedelta(seconds=5)), limit=1).status is CheckStatus.FAILED


def test_executions_that_cannot_be_listed_are_a_warning(stepfunctions: tuple[Any, Stubber]) -> None:
    client, stub = stepfunctions
    stub.add_client_error("list_executions", service_error_code="AccessDeniedException", http_status_code=400)
    check = check_concurrent_runs(client, _me("run-a", T0), limit=1)
    assert check.status is CheckStatus.WARNING
    assert check.fix is not None
    assert "states:ListExecutions" in check.fix
