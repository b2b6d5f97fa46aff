"""What the progress display and execution.json say about each state, read from a Step Functions history."""

from __future__ import annotations

from typing import Any

from tuner.local.harness import steps_from_history
from tuner.local.progress import _collapse_polls


def _entered(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def _exited(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateExited", "stateExitedEventDetails": {"name": name}}


def _failed(error: str) -> dict[str, Any]:
    return {"type": "LambdaFunctionFailed", "lambdaFunctionFailedEventDetails": {"error": error, "cause": "{}"}}


SCHEDULED = {"type": "LambdaFunctionScheduled"}


def test_a_retried_task_counts_attempts_and_ends_done() -> None:
    history = [_entered("CreateInferenceCapacity"), SCHEDULED, _failed("TransientServiceError"), SCHEDULED]
    history += [_exited("CreateInferenceCapacity")]
    (step,) = steps_from_history(history)
    assert (step.status, step.attempts, step.error) == ("done", 2, "TransientServiceError")


def test_a_task_that_failed_for_good_and_was_caught_says_caught() -> None:
    history = [_entered("EvaluateModels"), SCHEDULED, _failed("ValueError"), _entered("DeleteInferenceCapacity")]
    history += [SCHEDULED, _exited("DeleteInferenceCapacity")]
    evaluate, delete = steps_from_history(history)
    assert (evaluate.status, evaluate.error) == ("caught", "ValueError")
    assert delete.status == "done"


def test_a_stopped_execution_marks_the_running_state_aborted() -> None:
    history = [_entered("WaitForInferenceCapacity", "Wait"), {"type": "ExecutionAborted"}]
    (step,) = steps_from_history(history)
    assert (step.name, step.kind, step.status) == ("WaitForInferenceCapacity", "Wait", "aborted")


def test_poll_loops_are_shown_once_with_their_count() -> None:
    history = []
    for _ in range(3):
        history += [_entered("Poll"), _exited("Poll"), _entered("Wait", "Wait"), _exited("Wait", "Wait")]
    history += [_entered("Poll"), _exited("Poll"), _entered("Next")]
    rows = [(step.name, count) for step, count in _collapse_polls(steps_from_history(history))]
    assert rows == [("Poll", 4), ("Wait", 3), ("Next", 1)]
