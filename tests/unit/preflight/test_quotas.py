"""Service Quotas found by name: below what the run needs is a rejection, unreadable is a warning."""

from __future__ import annotations

from typing import Any

from botocore.stub import Stubber

from lambdas.contracts import CheckStatus
from lambdas.preflight.quotas import (
    CUSTOM_MODEL_DEPLOYMENTS,
    CUSTOMIZATION_JOBS,
    NO_COMMITMENT_PT_UNITS,
    check_quotas,
    needs_of,
)
from lambdas.registry import Serving
from lambdas.settings import PipelineSettings
from tests.unit.preflight.conftest import LLAMA, NOVA, PT_UNITS, quota

LIST = {"ServiceCode": "bedrock", "MaxResults": 100}
LLAMA_UNITS = "Model units per provisioned model for Meta Llama 3.1 8B Instruct"
JOBS = "Concurrent model customization jobs"


def _llama(units: int = 1) -> list[Any]:
    return needs_of(
        PipelineSettings(base_model_id=LLAMA, provisioned_model_units=units), Serving.PROVISIONED_THROUGHPUT
    )


def test_a_provisioned_run_needs_a_job_slot_and_model_units_a_deployed_one_a_deployment() -> None:
    provisioned = _llama(units=2)
    assert [(need.label, need.needed) for need in provisioned] == [
        ("concurrent model customization jobs", 1),
        ("no-commitment Provisioned Throughput model units for custom models", 2),
        ("model units per provisioned model for Meta Llama 3.1 8B Instruct", 2),
    ]
    deployed = needs_of(PipelineSettings(base_model_id=NOVA), Serving.CUSTOM_MODEL_DEPLOYMENT)
    assert [(need.label, need.needed) for need in deployed] == [
        ("concurrent model customization jobs", 1),
        ("custom model deployments", 1),
    ]


def test_a_throughput_quota_of_zero_rejects_a_provisioned_run(service_quotas: tuple[Any, Stubber]) -> None:
    client, stub = service_quotas
    quotas = [quota(PT_UNITS, 0.0, "L-BE77399C"), quota(LLAMA_UNITS, 1.0), quota(JOBS, 2.0)]
    stub.add_response("list_service_quotas", {"Quotas": quotas}, LIST)
    checks = check_quotas(client, _llama())
    assert [check.status for check in checks] == [CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.PASSED]
    failed = checks[1]
    assert failed.subject == f"{PT_UNITS} (L-BE77399C)"
    assert f"{PT_UNITS} (L-BE77399C) is 0" in failed.message
    assert "needs 1" in failed.message
    assert failed.fix is not None
    assert "to at least 1" in failed.fix


def test_more_units_than_the_quota_is_rejected_and_enough_passes(service_quotas: tuple[Any, Stubber]) -> None:
    client, stub = service_quotas
    quotas = [quota(PT_UNITS, 2.0), quota(LLAMA_UNITS, 1.0), quota(JOBS, 2.0)]
    stub.add_response("list_service_quotas", {"Quotas": quotas}, LIST)
    checks = check_quotas(client, _llama(units=2))
    assert [check.status for check in checks] == [CheckStatus.PASSED, CheckStatus.PASSED, CheckStatus.FAILED]
    assert "needs 2" in checks[2].message


def test_quotas_are_read_across_pages(service_quotas: tuple[Any, Stubber]) -> None:
    client, stub = service_quotas
    stub.add_response("list_service_quotas", {"Quotas": [quota(JOBS, 2.0)], "NextToken": "page2"}, LIST)
    stub.add_response(
        "list_service_quotas",
        {"Quotas": [quota(PT_UNITS, 0.0), quota(LLAMA_UNITS, 1.0)]},
        {**LIST, "NextToken": "page2"},
    )
    checks = check_quotas(client, _llama())
    assert [check.status for check in checks] == [CheckStatus.PASSED, CheckStatus.FAILED, CheckStatus.PASSED]


def test_a_quota_not_listed_is_a_warning_that_says_it_could_not_be_read(service_quotas: tuple[Any, Stubber]) -> None:
    client, stub = service_quotas
    stub.add_response("list_service_quotas", {"Quotas": [quota(JOBS, 2.0)]}, LIST)
    checks = check_quotas(client, needs_of(PipelineSettings(base_model_id=NOVA), Serving.CUSTOM_MODEL_DEPLOYMENT))
    assert [check.status for check in checks] == [CheckStatus.PASSED, CheckStatus.WARNING]
    assert checks[1].subject == "custom model deployments"
    assert checks[1].message.startswith("could not be read: no quota named like it among the 1 applied")


def test_quotas_that_cannot_be_listed_are_all_warnings(service_quotas: tuple[Any, Stubber]) -> None:
    client, stub = service_quotas
    stub.add_client_error("list_service_quotas", service_error_code="AccessDeniedException", http_status_code=400)
    checks = check_quotas(client, _llama())
    assert {check.status for check in checks} == {CheckStatus.WARNING}
    assert all("AccessDeniedException" in check.message for check in checks)
    assert all(check.fix and "servicequotas:ListServiceQuotas" in check.fix for check in checks)


def test_the_most_restrictive_of_several_matching_quotas_decides(service_quotas: tuple[Any, Stubber]) -> None:
    client, stub = service_quotas
    quotas = [
        quota("Concurrent model customization jobs for fine-tuning", 0.0, "L-JOBS0001"),
        quota("Concurrent model customization jobs for distillation", 3.0, "L-JOBS0002"),
    ]
    stub.add_response("list_service_quotas", {"Quotas": quotas}, LIST)
    (check,) = check_quotas(client, _llama()[:1])
    assert check.status is CheckStatus.FAILED
    assert "L-JOBS0001" in check.subject


def test_names_match_the_quotas_they_mean_and_not_their_neighbours() -> None:
    assert NO_COMMITMENT_PT_UNITS(PT_UNITS)
    assert not NO_COMMITMENT_PT_UNITS("Model units no-commitment Provisioned Throughputs across base models")
    assert CUSTOMIZATION_JOBS("Concurrent model customization jobs")
    assert CUSTOMIZATION_JOBS("Scheduled customization jobs")
    assert not CUSTOMIZATION_JOBS("Sum of training and validation records for a Claude 3 Haiku v1 Fine-tuning job")
    assert CUSTOM_MODEL_DEPLOYMENTS("Custom model deployments per account")
    assert not CUSTOM_MODEL_DEPLOYMENTS("On-demand tokens per minute for custom model deployments")
    units = _llama()[2].matches
    assert units(LLAMA_UNITS)
    assert not units("Model units per provisioned model for Meta Llama 3.1 70B Instruct")
