from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from lambdas.contracts import CreateInferenceCapacityOutput
from lambdas.errors import QuotaExceededError, TransientServiceError
from lambdas.lifecycle.capacity import (
    MissingStateError,
    billed_hours,
    create_inference_capacity,
    delete_inference_capacity,
    estimate_cost_usd,
    poll_inference_capacity,
)
from lambdas.lifecycle.names import capacity_name, client_token, resource_tags
from lambdas.registry import Serving
from lambdas.settings import PipelineSettings, PriceSettings
from tests.unit.lifecycle.factories import (
    CUSTOM_MODEL_ARN,
    DEPLOYMENT_ARN,
    NOVA_MODEL_ARN,
    PT_ARN,
    T0,
    make_run,
)

FOUNDATION_ARN = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k"


def pt_summary(name: str, *, arn: str = PT_ARN, status: str = "InService", created: Any = T0) -> dict[str, Any]:
    return {
        "provisionedModelName": name,
        "provisionedModelArn": arn,
        "modelArn": CUSTOM_MODEL_ARN,
        "desiredModelArn": CUSTOM_MODEL_ARN,
        "foundationModelArn": FOUNDATION_ARN,
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": status,
        "creationTime": created,
        "lastModifiedTime": created,
    }


def deployment_summary(name: str, *, arn: str = DEPLOYMENT_ARN, created: Any = T0) -> dict[str, Any]:
    return {
        "customModelDeploymentArn": arn,
        "customModelDeploymentName": name,
        "modelArn": NOVA_MODEL_ARN,
        "createdAt": created,
        "status": "Active",
    }


def expect_pt_lookup(stubber: Stubber, name: str, summaries: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": summaries}, {"nameContains": name}
    )


def expect_deployment_lookup(stubber: Stubber, name: str, summaries: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": summaries}, {"nameContains": name}
    )


def priced_run(**kwargs: Any) -> Any:
    settings = PipelineSettings(
        base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
        prices=PriceSettings(provisioned_throughput_usd_per_hour=132.0),
        **kwargs,
    )
    return make_run(settings=settings)


class TestCreate:
    def test_buys_a_no_commitment_throughput_once(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        # Given no throughput with the run's name
        client, stubber = bedrock_stub
        run = make_run()
        name = capacity_name(run)
        expect_pt_lookup(stubber, name, [])
        stubber.add_response(
            "create_provisioned_model_throughput",
            {"provisionedModelArn": PT_ARN},
            {
                "clientRequestToken": client_token(run, "throughput"),
                "modelUnits": 1,
                "provisionedModelName": name,
                "modelId": CUSTOM_MODEL_ARN,
                "tags": resource_tags(run),
            },  # exact match: no commitmentDuration
        )
        # When capacity is created
        output = create_inference_capacity(client, run, CUSTOM_MODEL_ARN)
        # Then it is recorded with its creation time
        assert (output.kind, output.arn, output.name, output.model_units) == (
            Serving.PROVISIONED_THROUGHPUT,
            PT_ARN,
            name,
            1,
        )
        assert output.created_at == fixed_clock.now

    def test_retry_finds_the_existing_throughput_instead_of_buying_again(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run()
        name = capacity_name(run)
        other = pt_summary(name + "-other", arn="arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt0000000009")
        expect_pt_lookup(stubber, name, [other, pt_summary(name, status="Creating")])
        # no create is queued: a create call would fail the test
        output = create_inference_capacity(client, run, CUSTOM_MODEL_ARN)
        assert output.arn == PT_ARN
        assert output.created_at == T0

    def test_creates_an_on_demand_deployment(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run(serving=Serving.CUSTOM_MODEL_DEPLOYMENT, base_model_id="amazon.nova-lite-v1:0:300k")
        name = capacity_name(run)
        expect_deployment_lookup(stubber, name, [])
        stubber.add_response(
            "create_custom_model_deployment",
            {"customModelDeploymentArn": DEPLOYMENT_ARN},
            {
                "modelDeploymentName": name,
                "modelArn": NOVA_MODEL_ARN,
                "description": ANY,
                "tags": resource_tags(run),
                "clientRequestToken": client_token(run, "deployment"),
            },
        )
        output = create_inference_capacity(client, run, NOVA_MODEL_ARN)
        assert (output.kind, output.arn, output.model_units) == (Serving.CUSTOM_MODEL_DEPLOYMENT, DEPLOYMENT_ARN, None)

    def test_quota_error_says_what_to_do(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run()
        expect_pt_lookup(stubber, capacity_name(run), [])
        stubber.add_client_error("create_provisioned_model_throughput", "ServiceQuotaExceededException", "limit", 400)
        with pytest.raises(QuotaExceededError, match="only 2 no-commitment Provisioned Throughputs"):
            create_inference_capacity(client, run, CUSTOM_MODEL_ARN)

    def test_throttling_that_survived_retries_is_transient(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run()
        stubber.add_client_error("list_provisioned_model_throughputs", "ThrottlingException", "slow", 429)
        with pytest.raises(TransientServiceError):
            create_inference_capacity(client, run, CUSTOM_MODEL_ARN)

    def test_without_a_model_nothing_is_bought(self, bedrock_stub: Any) -> None:
        client, _stubber = bedrock_stub
        with pytest.raises(MissingStateError):
            create_inference_capacity(client, make_run(), None)


def created(kind: Serving = Serving.PROVISIONED_THROUGHPUT, arn: str = PT_ARN) -> CreateInferenceCapacityOutput:
    return CreateInferenceCapacityOutput(
        kind=kind,
        arn=arn,
        name="ft-serve-x",
        model_units=1 if kind is Serving.PROVISIONED_THROUGHPUT else None,
        created_at=T0,
    )


def pt_detail(status: str, **extra: Any) -> dict[str, Any]:
    summary = pt_summary("ft-serve-x", status=status)
    return {**summary, **extra}


class TestPoll:
    @pytest.mark.parametrize(
        ("status", "ready", "failed"),
        [("Creating", False, False), ("Updating", False, False), ("InService", True, False), ("Failed", False, True)],
    )
    def test_throughput_statuses(self, bedrock_stub: Any, status: str, ready: bool, failed: bool) -> None:
        client, stubber = bedrock_stub
        extra = {"failureMessage": "insufficient capacity"} if failed else {}
        stubber.add_response(
            "get_provisioned_model_throughput", pt_detail(status, **extra), {"provisionedModelId": PT_ARN}
        )
        output = poll_inference_capacity(client, make_run(), created(), previous_polls=7)
        assert (output.status, output.ready, output.failed, output.polls) == (status, ready, failed, 8)
        assert output.wait_seconds == 60  # steady: capacity bills while we wait
        assert output.failure_message == ("insufficient capacity" if failed else None)

    @pytest.mark.parametrize(
        ("status", "ready", "failed"), [("Creating", False, False), ("Active", True, False), ("Failed", False, True)]
    )
    def test_deployment_statuses(self, bedrock_stub: Any, status: str, ready: bool, failed: bool) -> None:
        client, stubber = bedrock_stub
        response = {
            "customModelDeploymentArn": DEPLOYMENT_ARN,
            "modelDeploymentName": "ft-serve-x",
            "modelArn": NOVA_MODEL_ARN,
            "createdAt": T0,
            "status": status,
        }
        stubber.add_response(
            "get_custom_model_deployment", response, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN}
        )
        deployment = created(Serving.CUSTOM_MODEL_DEPLOYMENT, DEPLOYMENT_ARN)
        output = poll_inference_capacity(client, make_run(), deployment, 0)
        assert (output.status, output.ready, output.failed, output.polls) == (status, ready, failed, 1)
        assert (output.failure_message is not None) == failed


class TestDelete:
    def test_deletes_and_estimates_cost_per_started_hour(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        # Given a throughput created at T0 and deleted 1 h 20 min later at $132/h
        client, stubber = bedrock_stub
        fixed_clock.now = T0 + timedelta(hours=1, minutes=20)
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        # When deleted
        output = delete_inference_capacity(client, priced_run(), created())
        # Then it is gone and two started hours are estimated
        assert (output.deleted, output.already_gone, output.arn) == (True, False, PT_ARN)
        assert output.lifetime_seconds == 4800
        assert output.estimated_cost_usd == 264.0
        assert output.deleted_at == fixed_clock.now

    def test_already_deleted_is_success(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        client, stubber = bedrock_stub
        stubber.add_client_error("delete_provisioned_model_throughput", "ResourceNotFoundException", "gone", 404)
        output = delete_inference_capacity(client, make_run(), created())
        assert (output.deleted, output.already_gone) == (True, True)
        assert output.estimated_cost_usd is None  # no price configured

    def test_without_create_output_finds_the_capacity_by_name(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        # Given the create step failed after Bedrock accepted the request (no create output in the state)
        client, stubber = bedrock_stub
        run = priced_run()
        fixed_clock.now = T0 + timedelta(minutes=30)
        expect_pt_lookup(stubber, capacity_name(run), [pt_summary(capacity_name(run), status="Creating")])
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        # When the delete step runs
        output = delete_inference_capacity(client, run, None)
        # Then the throughput found by name is deleted, billed as one started hour
        assert (output.arn, output.already_gone, output.lifetime_seconds) == (PT_ARN, False, 1800)
        assert output.estimated_cost_usd == 132.0

    def test_without_create_output_and_nothing_bought_is_success(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run()
        expect_pt_lookup(stubber, capacity_name(run), [])
        output = delete_inference_capacity(client, run, None)
        assert (output.arn, output.deleted, output.already_gone, output.lifetime_seconds) == (None, True, True, None)

    def test_deployment_delete_has_no_hourly_cost(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        client, stubber = bedrock_stub
        stubber.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT_ARN})
        deployment = created(Serving.CUSTOM_MODEL_DEPLOYMENT, DEPLOYMENT_ARN)
        output = delete_inference_capacity(client, priced_run(), deployment)
        assert (output.kind, output.already_gone, output.estimated_cost_usd) == (
            Serving.CUSTOM_MODEL_DEPLOYMENT,
            False,
            None,
        )

    @pytest.mark.parametrize(
        ("code", "status", "expected"),
        [
            ("ConflictException", 409, TransientServiceError),  # still Creating: the workflow retries
            ("InternalServerException", 500, TransientServiceError),
            ("AccessDeniedException", 403, Exception),
        ],
    )
    def test_a_failed_delete_always_raises(
        self, bedrock_stub: Any, fixed_clock: Any, code: str, status: int, expected: type[Exception]
    ) -> None:
        client, stubber = bedrock_stub
        stubber.add_client_error("delete_provisioned_model_throughput", code, "no", status)
        with pytest.raises(expected, match=code):
            delete_inference_capacity(client, make_run(), created())


def test_billing_rule_is_per_started_hour() -> None:
    assert [billed_hours(s) for s in (0, 1, 3600, 3601, 7200)] == [1, 1, 1, 2, 2]
    assert estimate_cost_usd(Serving.PROVISIONED_THROUGHPUT, 3601, 2, 10.0) == 40.0
    assert estimate_cost_usd(Serving.PROVISIONED_THROUGHPUT, 3601, 2, None) is None
