"""The state machine as synthesized: every step wired, and no path from a purchase that skips the delete."""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

from lambdas.contracts import POST_PURCHASE_STATES, StateName
from lambdas.errors import RETRYABLE_ERRORS

DELETE = StateName.DELETE_INFERENCE_CAPACITY.value
TERMINAL_TYPES = {"Succeed", "Fail"}


def _edges(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, target) for every transition out of a state: next, choice, default, catch."""
    edges = []
    if "Next" in state:
        edges.append(("next", state["Next"]))
    for choice in state.get("Choices", []):
        edges.append(("choice", choice["Next"]))
    if "Default" in state:
        edges.append(("default", state["Default"]))
    for catch in state.get("Catch", []):
        edges.append(("catch", catch["Next"]))
    return edges


def _is_terminal(state: dict[str, Any]) -> bool:
    return state["Type"] in TERMINAL_TYPES or state.get("End", False)


def _functions_by_logical_id(raw_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in raw_template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def _handler_of(function: dict[str, Any]) -> str:
    properties = function["Properties"]
    return properties.get("Handler") or properties["ImageConfig"]["Command"][0]  # type: ignore[no-any-return]


def _task_of(definition: dict[str, Any], step: StateName) -> dict[str, Any]:
    """The step's Task: the state itself, or for a shard Map the one Task its iterations run."""
    state = definition["States"][step.value]
    if not step.is_map:
        return state  # type: ignore[no-any-return]
    processor = state["ItemProcessor"]
    assert list(processor["States"]) == [f"{step.value}Shard"]
    return processor["States"][f"{step.value}Shard"]  # type: ignore[no-any-return]


def test_every_step_is_a_task_running_its_own_handler_module(
    definition: dict[str, Any], raw_template: dict[str, Any]
) -> None:
    # Given the synthesized definition and template
    functions = _functions_by_logical_id(raw_template)
    states = definition["States"]
    for step in StateName:
        # Then each step is a Task (or a Map of one) whose function runs lambdas.handlers.<snake_name>.handler
        task = _task_of(definition, step)
        assert task["Type"] == "Task"
        logical_id = task["Resource"].strip("<>")
        assert _handler_of(functions[logical_id]) == f"lambdas.handlers.{step.result_key}.handler"
        # and its result lands under the state's snake_case name, as lambdas.contracts.RunState expects
        assert states[step.value]["ResultPath"] == f"$.{step.result_key}"
        # and it is given the whole run document (Preflight: under "state", with its execution beside it)
        parameters = task.get("Parameters")
        if step is StateName.PREFLIGHT:
            assert parameters == {
                "state.$": "$",
                "execution": {
                    "execution_arn.$": "$$.Execution.Id",
                    "state_machine_arn.$": "$$.StateMachine.Id",
                    "started_at.$": "$$.Execution.StartTime",
                },
            }
        elif not step.is_map:
            assert parameters is None
        if step.is_map:
            # each shard's result is its iteration's output; the Map collects them in shard order
            assert task["ResultPath"] == "$"
            assert states[step.value]["Type"] == "Map"
            assert states[step.value]["ItemsPath"] == "$.plan_evaluation.shards"
            assert states[step.value]["MaxConcurrencyPath"] == "$.run.settings.evaluation.max_concurrent_shards"


def test_every_deployed_handler_module_exists_in_lambdas(raw_template: dict[str, Any]) -> None:
    handlers = {
        _handler_of(function)
        for function in _functions_by_logical_id(raw_template).values()
        if _handler_of(function).startswith("lambdas.")
    }
    # 14 steps + trigger + sweeper + execution cleanup
    assert len(handlers) == 19
    for handler in handlers:
        module_name, _, attribute = handler.rpartition(".")
        module = importlib.util.find_spec(module_name)
        assert module is not None, f"{handler} names a module that does not exist"
        if module_name.rsplit(".", 1)[-1] not in ("score_answers", "summarize_evaluation"):  # the image's modules
            assert callable(getattr(importlib.import_module(module_name), attribute))


@pytest.mark.parametrize("state", POST_PURCHASE_STATES, ids=lambda s: s.value)
def test_post_purchase_states_catch_every_error_into_the_delete(definition: dict[str, Any], state: StateName) -> None:
    catches = definition["States"][state.value]["Catch"]
    assert any(c["ErrorEquals"] == ["States.ALL"] and c["Next"] == DELETE for c in catches)
    assert all(c["Next"] == DELETE for c in catches)
    assert all(c["ResultPath"] == f"$.errors.{state.value}" for c in catches)


def test_no_route_from_the_purchase_reaches_an_end_without_passing_the_delete(definition: dict[str, Any]) -> None:
    # Given every state reachable from the purchase by any transition (success, choice, wait loop, or catch),
    # without going through the delete step
    states = definition["States"]
    reached: set[str] = set()
    frontier = [StateName.CREATE_INFERENCE_CAPACITY.value]
    while frontier:
        name = frontier.pop()
        if name in reached or name == DELETE:
            continue
        reached.add(name)
        frontier.extend(target for _, target in _edges(states[name]))
    # Then none of them ends the execution: the only way out is through DeleteInferenceCapacity
    assert {StateName.POLL_INFERENCE_CAPACITY.value, StateName.GENERATE_ANSWERS.value} <= reached
    assert not [name for name in reached if _is_terminal(states[name])]
    # and every Task or Map among them turns any failure into a visit to the delete
    for name in reached:
        if states[name]["Type"] in ("Task", "Map"):
            assert any(c["ErrorEquals"] == ["States.ALL"] and c["Next"] == DELETE for c in states[name]["Catch"])
    # and the capacity's own Failed status routes to the delete too
    choice = states["CapacityReady?"]
    failed_routes = [c["Next"] for c in choice["Choices"] if c.get("Variable") == "$.poll_inference_capacity.failed"]
    assert failed_routes == [DELETE]


def test_the_delete_retries_every_error_and_then_still_writes_the_report(definition: dict[str, Any]) -> None:
    states = definition["States"]
    delete = states[DELETE]
    assert any(r["ErrorEquals"] == ["States.ALL"] and r["MaxAttempts"] >= 5 for r in delete["Retry"])
    assert [c["Next"] for c in delete["Catch"]] == [StateName.WRITE_REPORT.value]
    # After the delete, answers that were all generated are scored; anything else goes to the report
    generated = states[delete["Next"]]
    assert generated["Choices"] == [
        {"Variable": "$.generate_answers", "IsPresent": True, "Next": StateName.SCORE_ANSWERS.value}
    ]
    assert generated["Default"] == StateName.WRITE_REPORT.value


def test_scoring_runs_only_after_the_delete_and_fails_into_the_report(definition: dict[str, Any]) -> None:
    states = definition["States"]
    # Given every route into ScoreAnswers
    into_scoring = [name for name, state in states.items() if ("choice", "ScoreAnswers") in _edges(state)]
    # Then it is only the choice that follows the delete
    assert into_scoring == [definition["States"][DELETE]["Next"]]
    assert states[StateName.SCORE_ANSWERS.value]["Next"] == StateName.SUMMARIZE_EVALUATION.value
    assert states[StateName.SUMMARIZE_EVALUATION.value]["Next"] == StateName.WRITE_REPORT.value
    for step in (StateName.SCORE_ANSWERS, StateName.SUMMARIZE_EVALUATION):
        assert [c["Next"] for c in states[step.value]["Catch"]] == [StateName.WRITE_REPORT.value]


def test_states_before_the_purchase_fail_into_the_report_without_buying(definition: dict[str, Any]) -> None:
    for state in (
        StateName.VALIDATE_DATASET,
        StateName.PLAN_EVALUATION,
        StateName.PREFLIGHT,
        StateName.START_CUSTOMIZATION_JOB,
        StateName.POLL_CUSTOMIZATION_JOB,
        StateName.READ_TRAINING_METRICS,
    ):
        catches = definition["States"][state.value]["Catch"]
        assert [c["Next"] for c in catches] == [StateName.WRITE_REPORT.value]


def test_invalid_dataset_and_failed_job_skip_every_bedrock_cost(definition: dict[str, Any]) -> None:
    states = definition["States"]
    dataset_valid = states["DatasetValid?"]
    assert dataset_valid["Choices"] == [
        {"Variable": "$.validate_dataset.valid", "BooleanEquals": True, "Next": "PlanEvaluation"}
    ]
    assert dataset_valid["Default"] == StateName.WRITE_REPORT.value
    # the evaluation is planned (questions, leaks, judge) and the account checked before the job that costs money
    assert states["PlanEvaluation"]["Next"] == StateName.PREFLIGHT.value
    assert states["Preflight"]["Next"] == "PreflightPassed?"
    passed = states["PreflightPassed?"]
    assert passed["Choices"] == [{"Variable": "$.preflight.passed", "BooleanEquals": True, "Next": "TrainsAModel?"}]
    assert passed["Default"] == StateName.WRITE_REPORT.value
    # a re-evaluation of an existing custom model goes straight to its capacity; every other run trains
    trains = states["TrainsAModel?"]
    assert [choice["Next"] for choice in trains["Choices"]] == [StateName.CREATE_INFERENCE_CAPACITY.value]
    assert "$.run.reevaluation" in json.dumps(trains["Choices"])
    assert trains["Default"] == StateName.START_CUSTOMIZATION_JOB.value
    job_status = states["JobStatus?"]
    failed_or_stopped = [c for c in job_status["Choices"] if "Or" in c]
    assert [c["Next"] for c in failed_or_stopped] == [StateName.WRITE_REPORT.value]
    assert {c["StringEquals"] for c in failed_or_stopped[0]["Or"]} == {"Failed", "Stopped"}


def test_every_task_retries_throttling_and_lambda_service_errors_with_backoff(definition: dict[str, Any]) -> None:
    for step in StateName:
        retry = _task_of(definition, step)["Retry"][0]
        assert set(RETRYABLE_ERRORS) <= set(retry["ErrorEquals"])
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"]
        assert retry["BackoffRate"] >= 2
        assert retry["JitterStrategy"] == "FULL"


def test_polling_waits_come_from_the_poll_results(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert states["WaitForCustomizationJob"]["SecondsPath"] == "$.poll_customization_job.wait_seconds"
    assert states["WaitForCustomizationJob"]["Next"] == StateName.POLL_CUSTOMIZATION_JOB.value
    assert states["WaitForInferenceCapacity"]["SecondsPath"] == "$.poll_inference_capacity.wait_seconds"
    assert states["WaitForInferenceCapacity"]["Next"] == StateName.POLL_INFERENCE_CAPACITY.value


def test_outcome_maps_the_report_status_to_the_execution_status(definition: dict[str, Any]) -> None:
    states = definition["States"]
    outcome = states["RunOutcome?"]
    routes = {}
    for choice in outcome["Choices"]:
        present, equals = choice["And"]
        # the status is checked for presence first: a run whose WriteReport failed has none, and must end Failed
        assert present == {"Variable": "$.write_report.status", "IsPresent": True}
        routes[equals["StringEquals"]] = choice["Next"]
    assert routes == {"SUCCEEDED": "Succeeded", "REJECTED": "Rejected"}
    assert outcome["Default"] == "Failed"
    assert states["Rejected"]["Type"] == "Fail"
    assert states["Failed"]["Type"] == "Fail"
    assert states["Succeeded"]["Type"] == "Succeed"


def test_nothing_before_the_job_can_create_anything_in_bedrock(definition: dict[str, Any]) -> None:
    # Given every state reachable from the start without passing the first create call (the job, or a
    # re-evaluation's capacity)
    states = definition["States"]
    creates = {StateName.START_CUSTOMIZATION_JOB.value, StateName.CREATE_INFERENCE_CAPACITY.value}
    reached: set[str] = set()
    frontier = [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reached or name in creates:
            continue
        reached.add(name)
        frontier.extend(target for _, target in _edges(states[name]))
    # Then the only tasks there are the ones that only read, and the report (Promote and ApplyRetention act only on
    # an evaluated custom model, which cannot exist before the job: tests/unit/lifecycle/test_retention.py,
    # tests/unit/serving/test_run_promotion.py)
    tasks = {name for name in reached if states[name]["Type"] == "Task"}
    assert tasks == {
        "ValidateDataset",
        "PlanEvaluation",
        "Preflight",
        "WriteReport",
        "Promote",
        "ApplyRetention",
        "Notify",
    }
    # and the only way into the job, or into capacity without a job, is Preflight having passed
    into_job = [name for name, state in states.items() if any(t == "StartCustomizationJob" for _, t in _edges(state))]
    assert into_job == ["TrainsAModel?"]
    into_capacity = {
        name for name, state in states.items() if any(t == "CreateInferenceCapacity" for _, t in _edges(state))
    }
    assert into_capacity == {"TrainsAModel?", StateName.READ_TRAINING_METRICS.value}
    into_choice = [name for name, state in states.items() if any(t == "TrainsAModel?" for _, t in _edges(state))]
    assert into_choice == ["PreflightPassed?"]


def test_a_rejected_run_ends_in_a_fail_state_that_names_both_kinds_of_rejection(definition: dict[str, Any]) -> None:
    rejected = definition["States"]["Rejected"]
    assert rejected["Error"] == "RunRejected"
    assert "invalid dataset" in rejected["Cause"]
    assert "preflight" in rejected["Cause"]


def test_retention_runs_after_the_report_and_never_keeps_the_notification_from_going_out(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    # the report states both decisions; then the model may be promoted, then kept or deleted, then the owner told
    assert states[StateName.WRITE_REPORT.value]["Next"] == StateName.PROMOTE.value
    assert states[StateName.PROMOTE.value]["Next"] == StateName.APPLY_RETENTION.value
    assert [c["Next"] for c in states[StateName.PROMOTE.value]["Catch"]] == [StateName.APPLY_RETENTION.value]
    assert states[StateName.APPLY_RETENTION.value]["Next"] == StateName.NOTIFY.value
    assert [c["Next"] for c in states[StateName.APPLY_RETENTION.value]["Catch"]] == [StateName.NOTIFY.value]
