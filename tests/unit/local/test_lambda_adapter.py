"""The adapter runs real handler code for moto's Lambda tasks, and waits advance the simulated clock.

These tests use a small hand-made definition and stand-in handlers defined here (never product code), so the adapter
is proven independently of the pipeline's own handlers.
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import clock as lambdas_clock
from tuner.local.lambda_adapter import (
    LAMBDA_EVAL_UTILS_MODULE,
    PATCHED_FUNCTION,
    LocalFunction,
    LocalLambdas,
    installed,
)
from tuner.local.simclock import SimulatedClock
from tuner.local.time_compression import compressed_time

REGION = "us-east-1"
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CALLS: list[dict[str, Any]] = []


class TransientServiceError(Exception):
    """Same name as lambdas.errors.TransientServiceError: Retry rules match on the class name."""


def record_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    CALLS.append({"event": event, "function": context.function_name, "bucket": os.environ.get("DATA_BUCKET")})
    return {"seen": event.get("value"), "now": lambdas_clock.utc_now().isoformat(), "wait_seconds": 7200}


def flaky_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    CALLS.append({"event": event, "function": context.function_name})
    if len(CALLS) == 1:
        raise TransientServiceError("Bedrock throttled us")
    return {"ok": True}


def broken_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ValueError("the dataset has 3 problems")


def unserializable_handler(event: dict[str, Any], context: Any) -> Any:
    return {"when": datetime(2026, 1, 1, tzinfo=UTC)}


def _function(name: str, handler: Callable[..., Any], **environment: str) -> LocalFunction:
    return LocalFunction(
        logical_id=name,
        name=name,
        arn=f"arn:aws:lambda:{REGION}:123456789012:function:{name}",
        handler=f"{__name__}.{handler.__name__}",
        environment=environment,
    )


def _task(function: LocalFunction, *, style: str, result_path: str, next_state: str | None = None) -> dict[str, Any]:
    state: dict[str, Any]
    if style == "direct":  # what CDK's LambdaInvoke(payload_response_only=True) synthesizes
        state = {"Type": "Task", "Resource": function.arn, "ResultPath": result_path}
    else:  # arn:aws:states:::lambda:invoke with the payload selected back out
        state = {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function.arn, "Payload.$": "$"},
            "ResultSelector": {"Payload.$": "$.Payload"},
            "OutputPath": "$",
            "ResultPath": result_path,
        }
    state.update({"Next": next_state} if next_state else {"End": True})
    return state


@pytest.fixture(autouse=True)
def _clear_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


def _run(definition: dict[str, Any], functions: list[LocalFunction], execution_input: dict[str, Any]) -> dict[str, Any]:
    clock = SimulatedClock(START)
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        compressed_time(clock) as compression,
        installed(LocalLambdas(functions)),
    ):
        lambdas_clock.use_clock(clock.now)
        try:
            sfn = boto3.client("stepfunctions", region_name=REGION)
            machine = sfn.create_state_machine(
                name="adapter-test", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
            )
            started = time.monotonic()
            execution_arn = sfn.start_execution(
                stateMachineArn=machine["stateMachineArn"], name="run-1", input=json.dumps(execution_input)
            )["executionArn"]
            while (described := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
                assert time.monotonic() - started < 20, "the execution did not finish"
                time.sleep(0.01)
            history = sfn.get_execution_history(executionArn=execution_arn)["events"]
        finally:
            lambdas_clock.use_system_clock()
    return {
        "status": described["status"],
        "output": json.loads(described.get("output") or "null"),
        "history": history,
        "clock": clock,
        "waits": compression.waits,
        "real_seconds": time.monotonic() - started,
    }


@pytest.mark.parametrize("style", ["direct", "lambda:invoke"])
def test_task_runs_the_real_handler_in_process_with_its_environment(style: str) -> None:
    # Given a one-task definition whose function has its own environment
    function = _function("Record", record_handler, DATA_BUCKET="bucket-of-record")
    definition = {"StartAt": "Record", "States": {"Record": _task(function, style=style, result_path="$.record")}}
    # When it runs on moto with the adapter installed
    result = _run(definition, [function], {"value": 42})
    # Then the handler saw the event, its function name and its own environment variable
    assert result["status"] == "SUCCEEDED"
    assert CALLS == [{"event": {"value": 42}, "function": "Record", "bucket": "bucket-of-record"}]
    record = result["output"]["record"]
    payload = record["Payload"] if style != "direct" else record
    assert payload["seen"] == 42
    # And the handler's "now" is the simulated clock, not the machine's
    assert payload["now"] == START.isoformat()
    # And the function's environment is gone again after the call
    assert os.environ.get("DATA_BUCKET") != "bucket-of-record"


def test_wait_state_advances_the_simulated_clock_instead_of_sleeping() -> None:
    # Given a task that asks for a two-hour wait, then a Wait state reading it
    function = _function("Record", record_handler)
    definition = {
        "StartAt": "Record",
        "States": {
            "Record": _task(function, style="direct", result_path="$.record", next_state="Wait"),
            "Wait": {"Type": "Wait", "SecondsPath": "$.record.wait_seconds", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        },
    }
    # When it runs
    result = _run(definition, [function], {})
    # Then two simulated hours passed in (much) less than two real seconds
    assert result["status"] == "SUCCEEDED"
    assert result["waits"] == [7200]
    assert result["clock"].elapsed_seconds == 7200
    assert result["real_seconds"] < 5


def test_handler_exception_is_a_lambda_error_named_after_its_class_and_retry_matches_it() -> None:
    # Given a handler that fails once with TransientServiceError, and a Retry rule for that name with a 30 s interval
    function = _function("Flaky", flaky_handler)
    task = _task(function, style="direct", result_path="$.flaky")
    task["Retry"] = [{"ErrorEquals": ["TransientServiceError"], "IntervalSeconds": 30, "MaxAttempts": 2}]
    definition = {"StartAt": "Flaky", "States": {"Flaky": task}}
    # When it runs
    result = _run(definition, [function], {})
    # Then the retry carried it, the failed attempt was recorded with the class name, and the interval was simulated
    assert result["status"] == "SUCCEEDED"
    assert len(CALLS) == 2
    failures = [event for event in result["history"] if event["type"] == "LambdaFunctionFailed"]
    assert [event["lambdaFunctionFailedEventDetails"]["error"] for event in failures] == ["TransientServiceError"]
    assert result["clock"].elapsed_seconds == 30


def test_catch_stores_error_and_cause_as_lambda_reports_them() -> None:
    # Given a failing handler whose error is caught into $.errors.Broken
    function = _function("Broken", broken_handler)
    task = _task(function, style="direct", result_path="$.broken", next_state="Done")
    task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.errors.Broken", "Next": "Done"}]
    definition = {"StartAt": "Broken", "States": {"Broken": task, "Done": {"Type": "Succeed"}}}
    # When it runs
    result = _run(definition, [function], {"errors": {}})
    # Then the Catch stored the exception's class name and Lambda's JSON error document as the cause
    caught = result["output"]["errors"]["Broken"]
    assert caught["Error"] == "ValueError"
    cause = json.loads(caught["Cause"])
    assert cause["errorType"] == "ValueError"
    assert cause["errorMessage"] == "the dataset has 3 problems"
    assert any("broken_handler" in line for line in cause["stackTrace"])


def test_a_result_lambda_cannot_serialize_fails_like_lambda_does() -> None:
    function = _function("Unserializable", unserializable_handler)
    definition = {"StartAt": "U", "States": {"U": _task(function, style="direct", result_path="$.u")}}
    result = _run(definition, [function], {})
    assert result["status"] == "FAILED"
    failures = [event for event in result["history"] if event["type"] == "LambdaFunctionFailed"]
    assert failures[0]["lambdaFunctionFailedEventDetails"]["error"] == "Runtime.MarshalError"


def test_patches_are_removed_when_the_run_ends() -> None:
    module = importlib.import_module(LAMBDA_EVAL_UTILS_MODULE)
    original = getattr(module, PATCHED_FUNCTION)
    with installed(LocalLambdas([])):
        assert getattr(module, PATCHED_FUNCTION) is not original
    assert getattr(module, PATCHED_FUNCTION) is original


def test_unknown_function_names_the_stack_functions() -> None:
    lambdas = LocalLambdas([_function("Record", record_handler)])
    with pytest.raises(LookupError, match="Record"):
        lambdas.find("arn:aws:lambda:us-east-1:123456789012:function:Missing")
    # A qualified ARN resolves to its function, as Lambda resolves it
    assert lambdas.find("arn:aws:lambda:us-east-1:123456789012:function:Record:$LATEST").name == "Record"
