"""Model access from GetFoundationModelAvailability: each gate that is closed fails the check with its own fix."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from lambdas.contracts import CheckStatus
from lambdas.preflight.access import check_model_access, foundation_model_of
from tests.unit.preflight.conftest import availability

MODEL = "meta.llama3-1-8b-instruct-v1:0"


def test_an_open_model_passes(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    stub.add_response("get_foundation_model_availability", availability(MODEL), {"modelId": MODEL})
    check = check_model_access(client, model_id=MODEL, role="base model")
    assert check.status is CheckStatus.PASSED
    assert check.check == "model-access"
    assert check.subject == f"base model {MODEL}"


@pytest.mark.parametrize(
    ("overrides", "words", "fix"),
    [
        (
            {"entitlementAvailability": "NOT_AVAILABLE"},
            "no model access (entitlementAvailability NOT_AVAILABLE)",
            "Model access page",
        ),
        ({"authorizationStatus": "NOT_AUTHORIZED"}, "not authorized", "IAM, SCPs"),
        ({"regionAvailability": "NOT_AVAILABLE"}, "not offered in this region", "tuner models"),
        ({"agreementAvailability": {"status": "PENDING"}}, "agreement is still being accepted", "wait"),
        (
            {"agreementAvailability": {"status": "ERROR", "errorMessage": "payment method"}},
            "agreement failed (agreementAvailability ERROR: payment method)",
            "accept the model's offer",
        ),
    ],
)
def test_each_closed_gate_fails_with_its_reason_and_fix(
    bedrock: tuple[Any, Stubber], overrides: dict[str, Any], words: str, fix: str
) -> None:
    client, stub = bedrock
    stub.add_response("get_foundation_model_availability", availability(MODEL, **overrides), {"modelId": MODEL})
    check = check_model_access(client, model_id=MODEL, role="base model")
    assert check.status is CheckStatus.FAILED
    assert words in check.message
    assert check.fix is not None
    assert fix in check.fix


def test_an_agreement_not_available_is_no_finding_of_its_own(bedrock: tuple[Any, Stubber]) -> None:
    # Public code reads NOT_AVAILABLE both as "no access" and "already accepted or none needed": the other gates decide
    client, stub = bedrock
    answer = availability(MODEL, agreementAvailability={"status": "NOT_AVAILABLE"})
    stub.add_response("get_foundation_model_availability", answer, {"modelId": MODEL})
    check = check_model_access(client, model_id=MODEL, role="judge")
    assert check.status is CheckStatus.PASSED
    assert "agreement NOT_AVAILABLE" in check.message


def test_a_model_invoked_through_a_profile_need_not_be_offered_here(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    answer = availability("amazon.nova-pro-v1:0", regionAvailability="NOT_AVAILABLE")
    stub.add_response("get_foundation_model_availability", answer, {"modelId": "amazon.nova-pro-v1:0"})
    check = check_model_access(client, model_id="amazon.nova-pro-v1:0", role="judge", through_profile=True)
    assert check.status is CheckStatus.PASSED
    assert "inference profile" in check.message


def test_a_model_bedrock_does_not_know_fails(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    stub.add_client_error(
        "get_foundation_model_availability",
        service_error_code="ResourceNotFoundException",
        service_message="The model does not exist",
        http_status_code=404,
    )
    check = check_model_access(client, model_id=MODEL, role="base model")
    assert check.status is CheckStatus.FAILED
    assert "does not know" in check.message


def test_access_that_cannot_be_read_is_a_warning_not_a_rejection(bedrock: tuple[Any, Stubber]) -> None:
    client, stub = bedrock
    stub.add_client_error(
        "get_foundation_model_availability", service_error_code="AccessDeniedException", http_status_code=403
    )
    check = check_model_access(client, model_id=MODEL, role="base model")
    assert check.status is CheckStatus.WARNING
    assert check.fix is not None
    assert "bedrock:GetFoundationModelAvailability" in check.fix


@pytest.mark.parametrize(
    ("model_id", "foundation"),
    [
        ("amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("us-gov.anthropic.claude-haiku-4-5-20251001-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0"),
        ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6", None),
    ],
)
def test_the_foundation_model_behind_a_converse_model_id(model_id: str, foundation: str | None) -> None:
    assert foundation_model_of(model_id) == foundation
