"""Clients stubbed against botocore's own service models: a request the real API would refuse fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"  # Provisioned Throughput, us-west-2
NOVA = "amazon.nova-lite-v1:0:300k"  # on-demand deployment, us-east-1
PT_UNITS = "Model units no-commitment Provisioned Throughputs across custom models"


def availability(model_id: str, **overrides: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "modelId": model_id,
        "agreementAvailability": {"status": "AVAILABLE"},
        "authorizationStatus": "AUTHORIZED",
        "entitlementAvailability": "AVAILABLE",
        "regionAvailability": "AVAILABLE",
    }
    answer.update(overrides)
    return answer


def quota(name: str, value: float, code: str = "L-0000TEST") -> dict[str, Any]:
    return {"ServiceCode": "bedrock", "QuotaCode": code, "QuotaName": name, "Value": value, "Adjustable": True}


def client_stub(service: str, region: str = "us-west-2") -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(service, region_name=region)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    yield from client_stub("bedrock")


@pytest.fixture
def service_quotas() -> Iterator[tuple[Any, Stubber]]:
    yield from client_stub("service-quotas")


@pytest.fixture
def stepfunctions() -> Iterator[tuple[Any, Stubber]]:
    yield from client_stub("stepfunctions")
