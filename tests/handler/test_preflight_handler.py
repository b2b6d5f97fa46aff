"""The Preflight handler as Step Functions invokes it: the run document and its execution (from the context object)
in, the checks out; two runs of the same stack at once are told apart by their executions in Step Functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas import aws
from lambdas.contracts import PreflightOutput, RunConfig
from lambdas.handlers import preflight
from lambdas.settings import PipelineSettings
from tests.unit.lifecycle.factories import make_run, valid_dataset
from tests.unit.preflight.conftest import LLAMA, PT_UNITS, availability, quota

REGION = "us-west-2"
PASS_STATE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
QUOTAS = [
    quota(PT_UNITS, 2.0, "L-BE77399C"),
    quota("Model units per provisioned model for Meta Llama 3.1 8B Instruct", 1.0),
    quota("Concurrent model customization jobs", 2.0),
]


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    aws.reset_clients()


@pytest.fixture
def account() -> Iterator[tuple[Stubber, Stubber]]:
    """Bedrock and Service Quotas stubbed (moto has neither), Step Functions in moto."""
    with mock_aws(), Stubber(aws.client("bedrock")) as bedrock, Stubber(aws.client("service-quotas")) as quotas:
        yield bedrock, quotas


def _expect_an_open_account(bedrock: Stubber, quotas: Stubber, *, pt_units: float = 2.0) -> None:
    for model, offered in (("meta.llama3-1-8b-instruct-v1:0", "AVAILABLE"), ("amazon.nova-pro-v1:0", "NOT_AVAILABLE")):
        bedrock.add_response(
            "get_foundation_model_availability", availability(model, regionAvailability=offered), {"modelId": model}
        )
    listed = [quota(PT_UNITS, pt_units, "L-BE77399C"), *QUOTAS[1:]]
    quotas.add_response("list_service_quotas", {"Quotas": listed}, {"ServiceCode": "bedrock", "MaxResults": 100})


def _document(run: RunConfig, execution: dict[str, Any] | None) -> dict[str, Any]:
    state = {
        "run": run.model_dump(mode="json"),
        "errors": {},
        "validate_dataset": valid_dataset(run).model_dump(mode="json"),
    }
    return {"state": state, "execution": execution}


def _start_runs(*names: str) -> tuple[str, dict[str, dict[str, Any]]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(name="Runs", definition=PASS_STATE, roleArn=role)["stateMachineArn"]
    contexts = {}
    for name in names:  # moto leaves executions RUNNING unless told to execute them
        arn = sfn.start_execution(stateMachineArn=machine, name=name)["executionArn"]
        started = sfn.describe_execution(executionArn=arn)["startDate"]
        contexts[name] = {"execution_arn": arn, "state_machine_arn": machine, "started_at": started.isoformat()}
    return machine, contexts


def test_the_only_run_passes_preflight(account: tuple[Stubber, Stubber], lambda_context: Any) -> None:
    bedrock, quotas = account
    _expect_an_open_account(bedrock, quotas)
    _, executions = _start_runs("run-a")
    run = make_run("run-a", settings=PipelineSettings(base_model_id=LLAMA))
    output = PreflightOutput.model_validate(preflight.handler(_document(run, executions["run-a"]), lambda_context))
    assert output.passed, [check.message for check in output.failures]
    assert output.region == REGION
    assert output.checks[-1].message == "0 earlier run(s) active, 1 allowed"


def test_a_second_drop_while_a_run_is_active_is_rejected_and_the_first_goes_on(
    account: tuple[Stubber, Stubber], lambda_context: Any
) -> None:
    bedrock, quotas = account
    # Given two runs of the stack whose executions are both running (the second dropped after the first)
    _, executions = _start_runs("run-a", "run-b")
    settings = PipelineSettings(base_model_id=LLAMA)
    # When each one's Preflight runs
    outputs = {}
    for name in ("run-b", "run-a"):
        _expect_an_open_account(bedrock, quotas)
        document = _document(make_run(name, settings=settings), executions[name])
        outputs[name] = PreflightOutput.model_validate(preflight.handler(document, lambda_context))
    # Then the second is rejected for the first, which goes on
    assert outputs["run-a"].passed
    assert not outputs["run-b"].passed
    (failure,) = outputs["run-b"].failures
    assert failure.check == "concurrent-runs"
    assert "still active (run-a)" in failure.message


def test_two_runs_are_allowed_when_max_concurrent_runs_is_two(
    account: tuple[Stubber, Stubber], lambda_context: Any
) -> None:
    bedrock, quotas = account
    _expect_an_open_account(bedrock, quotas)
    _, executions = _start_runs("run-a", "run-b")
    run = make_run("run-b", settings=PipelineSettings(base_model_id=LLAMA, max_concurrent_runs=2))
    assert PreflightOutput.model_validate(preflight.handler(_document(run, executions["run-b"]), lambda_context)).passed


def test_a_quota_of_zero_is_a_failed_check_not_an_error(account: tuple[Stubber, Stubber], lambda_context: Any) -> None:
    bedrock, quotas = account
    _expect_an_open_account(bedrock, quotas, pt_units=0.0)
    _, executions = _start_runs("run-a")
    run = make_run("run-a", settings=PipelineSettings(base_model_id=LLAMA))
    output = PreflightOutput.model_validate(preflight.handler(_document(run, executions["run-a"]), lambda_context))
    assert not output.passed
    assert [check.subject for check in output.failures] == [f"{PT_UNITS} (L-BE77399C)"]
