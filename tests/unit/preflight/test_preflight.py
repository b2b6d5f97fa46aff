"""Every check of one run together: the order, what a failure anywhere does to ``passed``, what each one asks AWS."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from botocore.stub import Stubber

from lambdas.contracts import CheckStatus, ExecutionContext, RunState
from lambdas.preflight.budget import RunSize
from lambdas.preflight.run import preflight, preflight_run
from lambdas.registry import REFERENCE_STUDY_MODEL_ID, Serving
from lambdas.settings import PipelineSettings
from tests.unit.lifecycle.factories import make_run, valid_dataset
from tests.unit.preflight.conftest import LLAMA, PT_UNITS, availability, quota

TODAY = date(2026, 12, 3)
MACHINE = "arn:aws:states:us-west-2:123456789012:stateMachine:Runs"
EXECUTION = ExecutionContext(
    execution_arn="arn:aws:states:us-west-2:123456789012:execution:Runs:run-a",
    state_machine_arn=MACHINE,
    started_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
)
QUOTAS = [
    quota(PT_UNITS, 2.0, "L-BE77399C"),
    quota("Model units per provisioned model for Meta Llama 3.1 8B Instruct", 1.0),
    quota("Concurrent model customization jobs", 2.0),
]
SIZE = RunSize(training_tokens=50_000, train_records=100, questions=10)


def _expect_access(stub: Stubber, *models: str) -> None:
    for model in models:
        answer = availability(model, regionAvailability="AVAILABLE" if model.startswith("meta") else "NOT_AVAILABLE")
        stub.add_response("get_foundation_model_availability", answer, {"modelId": model})


def test_a_run_the_account_can_afford_passes_every_check(
    bedrock: tuple[Any, Stubber], service_quotas: tuple[Any, Stubber], stepfunctions: tuple[Any, Stubber]
) -> None:
    (bedrock_client, bedrock_stub), (quotas_client, quotas_stub), (sfn, sfn_stub) = (
        bedrock,
        service_quotas,
        stepfunctions,
    )
    # Given Llama 3.1 8B in us-west-2, judged by Nova Pro through the US inference profile
    _expect_access(bedrock_stub, "meta.llama3-1-8b-instruct-v1:0", "amazon.nova-pro-v1:0")
    quotas_stub.add_response("list_service_quotas", {"Quotas": QUOTAS}, {"ServiceCode": "bedrock", "MaxResults": 100})
    sfn_stub.add_response(
        "list_executions",
        {"executions": []},
        {"stateMachineArn": MACHINE, "statusFilter": "RUNNING", "maxResults": 100},
    )
    output = preflight(
        PipelineSettings(base_model_id=LLAMA),
        serving=Serving.PROVISIONED_THROUGHPUT,
        region="us-west-2",
        bedrock=bedrock_client,
        service_quotas=quotas_client,
        stepfunctions=sfn,
        execution=EXECUTION,
        size=SIZE,
        today=TODAY,
    )
    assert output.passed
    assert output.region == "us-west-2"
    assert [check.check for check in output.checks] == [
        "lifecycle",
        "model-access",
        "model-access",
        "quota",
        "quota",
        "quota",
        "budget",
        "concurrent-runs",
    ]
    assert {check.status for check in output.checks} == {CheckStatus.PASSED}
    assert output.checks[2].subject == "judge amazon.nova-pro-v1:0"  # the profile's model, not its id


def test_a_model_past_its_end_of_life_fails_and_the_other_checks_still_report(
    bedrock: tuple[Any, Stubber], service_quotas: tuple[Any, Stubber]
) -> None:
    (bedrock_client, bedrock_stub), (quotas_client, quotas_stub) = bedrock, service_quotas
    _expect_access(bedrock_stub, "anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-pro-v1:0")
    quotas_stub.add_response("list_service_quotas", {"Quotas": QUOTAS}, {"ServiceCode": "bedrock", "MaxResults": 100})
    output = preflight(
        PipelineSettings(base_model_id=REFERENCE_STUDY_MODEL_ID),
        serving=Serving.PROVISIONED_THROUGHPUT,
        region="us-west-2",
        bedrock=bedrock_client,
        service_quotas=quotas_client,
        size=SIZE,
        today=TODAY,
    )
    assert not output.passed
    (lifecycle,) = [check for check in output.failures if check.check == "lifecycle"]
    assert lifecycle.subject == "base_model_id"
    assert "reached its end of life on 2026-09-10" in lifecycle.message
    assert lifecycle.fix is not None
    assert "tuner models" in lifecycle.fix
    # without an execution there is no concurrency check at all (tuner preflight without --state-machine-arn)
    assert "concurrent-runs" not in {check.check for check in output.checks}


def test_a_judge_named_by_an_application_profile_is_a_warning(
    bedrock: tuple[Any, Stubber], service_quotas: tuple[Any, Stubber]
) -> None:
    (bedrock_client, bedrock_stub), (quotas_client, quotas_stub) = bedrock, service_quotas
    _expect_access(bedrock_stub, "meta.llama3-1-8b-instruct-v1:0")
    quotas_stub.add_response("list_service_quotas", {"Quotas": QUOTAS}, {"ServiceCode": "bedrock", "MaxResults": 100})
    judge = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3d4e5f6"
    output = preflight(
        PipelineSettings(base_model_id=LLAMA, evaluation={"judge_model_id": judge}),  # type: ignore[arg-type]
        serving=Serving.PROVISIONED_THROUGHPUT,
        region="us-west-2",
        bedrock=bedrock_client,
        service_quotas=quotas_client,
        size=SIZE,
        today=TODAY,
    )
    assert output.passed
    (warning,) = output.warnings
    assert warning.subject == f"judge {judge}"


def test_without_a_judge_only_the_base_model_is_asked_about(
    bedrock: tuple[Any, Stubber], service_quotas: tuple[Any, Stubber]
) -> None:
    (bedrock_client, bedrock_stub), (quotas_client, quotas_stub) = bedrock, service_quotas
    _expect_access(bedrock_stub, "meta.llama3-1-8b-instruct-v1:0")
    quotas_stub.add_response("list_service_quotas", {"Quotas": QUOTAS}, {"ServiceCode": "bedrock", "MaxResults": 100})
    settings = PipelineSettings(
        base_model_id=LLAMA,
        evaluation={"judge_enabled": False, "primary_metric": "bertscore_f1"},  # type: ignore[arg-type]
    )
    output = preflight(
        settings,
        serving=Serving.PROVISIONED_THROUGHPUT,
        region="us-west-2",
        bedrock=bedrock_client,
        service_quotas=quotas_client,
        size=SIZE,
        today=TODAY,
    )
    assert [check.subject for check in output.checks if check.check == "model-access"] == [
        "base model meta.llama3-1-8b-instruct-v1:0"
    ]


def test_the_state_says_how_big_the_run_is_and_a_missing_execution_is_a_warning(
    bedrock: tuple[Any, Stubber], service_quotas: tuple[Any, Stubber], stepfunctions: tuple[Any, Stubber]
) -> None:
    (bedrock_client, bedrock_stub), (quotas_client, quotas_stub), (sfn, _) = bedrock, service_quotas, stepfunctions
    _expect_access(bedrock_stub, "meta.llama3-1-8b-instruct-v1:0", "amazon.nova-pro-v1:0")
    quotas_stub.add_response("list_service_quotas", {"Quotas": QUOTAS}, {"ServiceCode": "bedrock", "MaxResults": 100})
    run = make_run(settings=PipelineSettings(base_model_id=LLAMA))
    dataset = valid_dataset(run).model_copy(update={"estimated_training_tokens": 12_345})
    state = RunState(run=run, validate_dataset=dataset)
    assert RunSize.of(state) == RunSize(training_tokens=12_345, train_records=85, validation_records=32, questions=0)
    output = preflight_run(
        state,
        region="us-west-2",
        bedrock=bedrock_client,
        service_quotas=quotas_client,
        stepfunctions=sfn,
        execution=None,
    )
    assert output.passed
    assert output.checks[-1].check == "concurrent-runs"
    assert output.checks[-1].status is CheckStatus.WARNING
