"""What Preflight reads from the emulator, through real boto3 clients on the loopback endpoints: model access
(bedrock, rest-json) and the Amazon Bedrock quotas (service-quotas, awsJson1_1), and the create calls that honour
the same quotas and access when a run gets that far."""

from __future__ import annotations

import re
from collections.abc import Iterator

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.unit.local.test_bedrock_emulator import (
    BUCKET,
    LLAMA31,
    REPO_ROOT,
    ROLE,
    TRAIN_KEY,
    Emulated,
    _create_job,
    _finish_job,
    _start,
)
from tuner.local.bedrock.emulator import EmulatedBedrock
from tuner.local.bedrock.protocol import JsonService, ServiceError
from tuner.local.scenarios import BedrockBehaviour

PT_UNITS = "Model units no-commitment Provisioned Throughputs across custom models"


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulated]:
    yield from _start(BedrockBehaviour(), monkeypatch)


def _quotas(region: str = "us-east-1") -> dict[str, float]:
    client = boto3.client("service-quotas", region_name=region)
    pages = client.get_paginator("list_service_quotas").paginate(
        ServiceCode="bedrock", PaginationConfig={"PageSize": 5}
    )
    return {quota["QuotaName"]: quota["Value"] for page in pages for quota in page["Quotas"]}


def test_the_registry_models_and_judges_are_available_and_unknown_ones_are_not_found(emulated: Emulated) -> None:
    bedrock = emulated.bedrock
    nova = bedrock.get_foundation_model_availability(modelId="amazon.nova-lite-v1:0")  # type: ignore[attr-defined]
    assert (nova["authorizationStatus"], nova["entitlementAvailability"], nova["regionAvailability"]) == (
        "AUTHORIZED",
        "AVAILABLE",
        "AVAILABLE",
    )
    with pytest.raises(ClientError) as raised:
        bedrock.get_foundation_model_availability(modelId="acme.unknown-v1:0")  # type: ignore[attr-defined]
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_model_served_only_through_a_profile_here_is_not_offered_by_its_plain_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        judge = emulated.bedrock.get_foundation_model_availability(modelId="amazon.nova-pro-v1:0")  # type: ignore[attr-defined]
        assert judge["regionAvailability"] == "NOT_AVAILABLE"  # us.amazon.nova-pro-v1:0 from us-west-2
        llama = emulated.bedrock.get_foundation_model_availability(modelId="meta.llama3-1-8b-instruct-v1:0")  # type: ignore[attr-defined]
        assert llama["regionAvailability"] == "AVAILABLE"


def test_no_model_access_takes_the_base_models_away_and_leaves_the_judges(monkeypatch: pytest.MonkeyPatch) -> None:
    for emulated in _start(BedrockBehaviour(no_model_access=True), monkeypatch):
        bedrock = emulated.bedrock
        base = bedrock.get_foundation_model_availability(modelId="amazon.nova-lite-v1:0")  # type: ignore[attr-defined]
        assert base["entitlementAvailability"] == "NOT_AVAILABLE"
        judge = bedrock.get_foundation_model_availability(modelId="amazon.nova-pro-v1:0")  # type: ignore[attr-defined]
        assert judge["entitlementAvailability"] == "AVAILABLE"
        # and a job on the base model is refused, as Bedrock refuses it
        with pytest.raises(ClientError) as raised:
            _create_job(emulated)
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
        assert emulated.emulator.ledger.entries == []


def test_the_bedrock_quotas_are_listed_in_pages_over_the_json_protocol(emulated: Emulated) -> None:
    quotas = _quotas()
    assert quotas[PT_UNITS] == 2.0
    assert quotas["Custom model deployments"] == 2.0
    assert quotas["Model units per provisioned model for Amazon Nova Lite"] == 1.0
    assert len(quotas) > 5  # more than one page of 5
    with pytest.raises(ClientError) as raised:
        boto3.client("service-quotas", region_name="us-east-1").list_service_quotas(ServiceCode="ec2")
    assert raised.value.response["Error"]["Code"] == "NoSuchResourceException"


def test_with_no_capacity_quota_the_quotas_read_zero_and_the_create_calls_refuse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for emulated in _start(BedrockBehaviour(no_capacity_quota=True), monkeypatch):
        quotas = _quotas()
        assert quotas[PT_UNITS] == 0.0
        assert quotas["Custom model deployments"] == 0.0
        assert quotas["Concurrent model customization jobs"] == 2.0  # training is not what is missing
        model_arn = _finish_job(emulated, _create_job(emulated))["outputModelArn"]
        bedrock = emulated.bedrock
        with pytest.raises(ClientError) as throughput:
            bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId=model_arn)  # type: ignore[attr-defined]
        with pytest.raises(ClientError) as deployment:
            bedrock.create_custom_model_deployment(modelDeploymentName="d-1", modelArn=model_arn)  # type: ignore[attr-defined]
        for raised in (throughput, deployment):
            assert raised.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
        assert [entry.type for entry in emulated.emulator.ledger.entries] == ["customization-job", "custom-model"]


def test_a_throughput_beyond_the_per_model_units_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        arn = emulated.bedrock.create_model_customization_job(  # type: ignore[attr-defined]
            jobName="l",
            customModelName="l-model",
            roleArn=ROLE,
            baseModelIdentifier=LLAMA31,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
        )["jobArn"]
        model_arn = _finish_job(emulated, arn)["outputModelArn"]
        with pytest.raises(ClientError) as raised:
            emulated.bedrock.create_provisioned_model_throughput(  # type: ignore[attr-defined]
                modelUnits=2, provisionedModelName="pt-2", modelId=model_arn
            )
        assert raised.value.response["Error"]["Code"] == "ServiceQuotaExceededException"
        assert "no commitment model units reserved for" in raised.value.response["Error"]["Message"]


def test_every_service_quotas_call_the_pipeline_makes_is_emulated() -> None:
    source = "\n".join(path.read_text() for path in (REPO_ROOT / "lambdas").rglob("*.py"))
    called = set(re.findall(r"\bservice_quotas\.([a-z_]+)\(", source))
    model = botocore.session.get_session().get_service_model("service-quotas")
    names = {re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower(): op for op in model.operation_names}
    assert called == {"list_service_quotas"}
    assert all(hasattr(EmulatedBedrock, f"_service_quotas_{names[call]}") for call in called)


def test_the_json_protocol_routes_by_target_and_answers_errors_as_botocore_reads_them() -> None:
    service = JsonService("service-quotas")
    headers = {"X-Amz-Target": "ServiceQuotasV20190624.ListServiceQuotas"}
    assert service.parse_request("POST", "/", b'{"ServiceCode": "bedrock"}', headers) == (
        "ListServiceQuotas",
        {"ServiceCode": "bedrock"},
    )
    with pytest.raises(ServiceError):
        service.parse_request("POST", "/", b"{}", {"X-Amz-Target": "ServiceQuotasV20190624.NoSuchThing"})
    status, response_headers, body = service.error(ServiceError("NoSuchResourceException", "none"))
    assert status == 400
    assert b'"__type": "NoSuchResourceException"' in body
    assert response_headers["Content-Type"] == "application/x-amz-json-1.1"
