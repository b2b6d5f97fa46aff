from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from lambdas.errors import TransientServiceError
from lambdas.lifecycle.cleanup import ExecutionEnded, cleanup_after_execution
from lambdas.lifecycle.names import capacity_name, job_name
from tests.unit.lifecycle.factories import T0, make_run
from tests.unit.lifecycle.test_capacity import expect_pt_lookup, pt_summary
from tests.unit.lifecycle.test_customization import _job

STATE_MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:FineTuning"
EXECUTION = "arn:aws:states:us-west-2:123456789012:execution:FineTuning:run-1"


def event(status: str, state_machine: str = STATE_MACHINE) -> ExecutionEnded:
    return ExecutionEnded.from_event(
        {
            "detail-type": "Step Functions Execution Status Change",
            "source": "aws.states",
            "detail": {"executionArn": EXECUTION, "stateMachineArn": state_machine, "status": status},
        }
    )


@pytest.fixture
def sfn_stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("stepfunctions", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def describe(stubber: Stubber, run: Any) -> None:
    stubber.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE,
            "status": "ABORTED",
            "startDate": T0,
            "input": json.dumps({"run": run.model_dump(mode="json"), "errors": {}}),
        },
        {"executionArn": EXECUTION},
    )


def test_aborting_an_execution_stops_the_job_and_deletes_capacity(
    bedrock_stub: Any, sfn_stub: Any, fixed_clock: Any
) -> None:
    # Given an aborted execution whose job is still training and whose throughput exists
    bedrock, stubber = bedrock_stub
    sfn, sfn_stubber = sfn_stub
    run = make_run()
    describe(sfn_stubber, run)
    stubber.add_response("get_model_customization_job", _job(run, "InProgress"), {"jobIdentifier": job_name(run)})
    stubber.add_response("stop_model_customization_job", {}, {"jobIdentifier": job_name(run)})
    expect_pt_lookup(stubber, capacity_name(run), [pt_summary(capacity_name(run))])
    stubber.add_response(
        "delete_provisioned_model_throughput",
        {},
        {"provisionedModelId": "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt0000000001"},
    )
    # When the cleanup handles the event
    result = cleanup_after_execution(bedrock, sfn, event("ABORTED"), state_machine_arn=STATE_MACHINE)
    # Then the job was asked to stop and the capacity deleted
    assert result.run_id == run.run_id
    assert (result.job_status_found, result.job_stop_requested) == ("InProgress", True)
    assert result.capacity is not None
    assert (result.capacity.deleted, result.capacity.already_gone) == (True, False)


def test_a_finished_job_is_left_alone_and_missing_capacity_is_fine(
    bedrock_stub: Any, sfn_stub: Any, fixed_clock: Any
) -> None:
    bedrock, stubber = bedrock_stub
    sfn, sfn_stubber = sfn_stub
    run = make_run()
    describe(sfn_stubber, run)
    stubber.add_response("get_model_customization_job", _job(run, "Completed"), {"jobIdentifier": job_name(run)})
    expect_pt_lookup(stubber, capacity_name(run), [])
    result = cleanup_after_execution(bedrock, sfn, event("TIMED_OUT"))
    assert (result.job_status_found, result.job_stop_requested) == ("Completed", False)
    assert result.capacity is not None
    assert result.capacity.already_gone


@pytest.mark.parametrize(
    ("status", "state_machine", "reason"),
    [
        ("SUCCEEDED", STATE_MACHINE, "needs no cleanup"),
        ("RUNNING", STATE_MACHINE, "needs no cleanup"),
        ("ABORTED", STATE_MACHINE + "-other", "another state machine"),
    ],
)
def test_other_events_are_ignored(
    bedrock_stub: Any, sfn_stub: Any, status: str, state_machine: str, reason: str
) -> None:
    bedrock, _stubber = bedrock_stub
    sfn, _sfn_stubber = sfn_stub
    result = cleanup_after_execution(bedrock, sfn, event(status, state_machine), state_machine_arn=STATE_MACHINE)
    assert result.ignored_reason is not None
    assert reason in result.ignored_reason


def test_an_execution_without_a_run_is_ignored(bedrock_stub: Any, sfn_stub: Any) -> None:
    bedrock, _stubber = bedrock_stub
    sfn, sfn_stubber = sfn_stub
    sfn_stubber.add_response(
        "describe_execution",
        {
            "executionArn": EXECUTION,
            "stateMachineArn": STATE_MACHINE,
            "status": "FAILED",
            "startDate": T0,
            "input": "{}",
        },
    )
    result = cleanup_after_execution(bedrock, sfn, event("FAILED"))
    assert result.ignored_reason == "the execution input holds no run configuration"


@pytest.mark.parametrize(
    ("detail", "reason"),
    [
        ({"stateMachineArn": STATE_MACHINE, "status": "ABORTED"}, "the event names no execution"),
        ({"executionArn": EXECUTION, "stateMachineArn": STATE_MACHINE}, "status (none) needs no cleanup"),
        ({"executionArn": EXECUTION, "status": "FAILED"}, "another state machine's execution"),
        (
            {"executionArn": EXECUTION, "stateMachineArn": STATE_MACHINE, "status": "SUCCEEDED"},
            "status SUCCEEDED needs",
        ),
    ],
    ids=["no-execution", "no-status", "no-state-machine", "succeeded"],
)
def test_an_event_that_names_no_execution_of_ours_is_ignored_without_a_call(
    bedrock_stub: Any, sfn_stub: Any, detail: dict[str, str], reason: str
) -> None:
    # Given an event missing a field the cleanup needs (no response is queued: any AWS call would fail the test)
    bedrock, _stubber = bedrock_stub
    sfn, _sfn_stubber = sfn_stub
    ended = ExecutionEnded.from_event({"detail-type": "Step Functions Execution Status Change", "detail": detail})
    # When handled / Then it is ignored, saying why, and nothing is looked up, stopped or deleted
    result = cleanup_after_execution(bedrock, sfn, ended, state_machine_arn=STATE_MACHINE)
    assert result.ignored_reason is not None
    assert result.ignored_reason.startswith(reason)
    assert (result.run_id, result.job_name, result.capacity) == (None, None, None)


def test_an_event_without_detail_reads_as_empty_fields() -> None:
    assert ExecutionEnded.from_event({}) == ExecutionEnded(execution_arn="", state_machine_arn="", status="")


def test_a_failed_execution_lookup_says_which_execution(bedrock_stub: Any, sfn_stub: Any) -> None:
    bedrock, _stubber = bedrock_stub
    sfn, sfn_stubber = sfn_stub
    sfn_stubber.add_client_error("describe_execution", "ThrottlingException", "Rate exceeded", 400)
    with pytest.raises(TransientServiceError, match=f"^describing execution {EXECUTION}: ThrottlingException"):
        cleanup_after_execution(bedrock, sfn, event("ABORTED"))


def test_the_result_names_the_job_it_looked_for(bedrock_stub: Any, sfn_stub: Any, fixed_clock: Any) -> None:
    # Given an aborted execution whose job was never created
    bedrock, stubber = bedrock_stub
    sfn, sfn_stubber = sfn_stub
    run = make_run()
    describe(sfn_stubber, run)
    stubber.add_client_error("get_model_customization_job", "ResourceNotFoundException", "no job", 404)
    expect_pt_lookup(stubber, capacity_name(run), [])
    # When cleaned up / Then the result says which job name was looked for and that none existed
    result = cleanup_after_execution(bedrock, sfn, event("ABORTED"), state_machine_arn=STATE_MACHINE)
    assert (result.job_name, result.job_status_found, result.job_stop_requested) == (job_name(run), None, False)
    assert result.ignored_reason is None
