from __future__ import annotations

from datetime import datetime, timedelta, timezone
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
    throughput_price_per_hour,
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


def pt_summary(
    name: str, *, arn: str = PT_ARN, status: str = "InService", created: Any = T0, units: int = 1
) -> dict[str, Any]:
    return {
        "provisionedModelName": name,
        "provisionedModelArn": arn,
        "modelArn": CUSTOM_MODEL_ARN,
        "desiredModelArn": CUSTOM_MODEL_ARN,
        "foundationModelArn": FOUNDATION_ARN,
        "modelUnits": units,
        "desiredModelUnits": units,
        "status": status,
        "creationTime": created,
        "lastModifiedTime": created,
    }


def deployment_summary(
    name: str, *, arn: str = DEPLOYMENT_ARN, created: Any = T0, status: str = "Active"
) -> dict[str, Any]:
    return {
        "customModelDeploymentArn": arn,
        "customModelDeploymentName": name,
        "modelArn": NOVA_MODEL_ARN,
        "createdAt": created,
        "status": status,
    }


def expect_pt_lookup(stubber: Stubber, name: str, summaries: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": summaries}, {"nameContains": name}
    )


def expect_deployment_lookup(stubber: Stubber, name: str, summaries: list[dict[str, Any]]) -> None:
    stubber.add_response(
        "list_custom_model_deployments", {"modelDeploymentSummaries": summaries}, {"nameContains": name}
    )


def priced_run(price: float = 132.0, **kwargs: Any) -> Any:
    settings = PipelineSettings(
        base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
        prices=PriceSettings(provisioned_throughput_usd_per_hour=price),
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


def created(
    kind: Serving = Serving.PROVISIONED_THROUGHPUT, arn: str = PT_ARN, *, units: int = 1
) -> CreateInferenceCapacityOutput:
    return CreateInferenceCapacityOutput(
        kind=kind,
        arn=arn,
        name="ft-serve-x",
        model_units=units if kind is Serving.PROVISIONED_THROUGHPUT else None,
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

    def test_without_a_prices_setting_the_list_price_of_the_capacitys_region_is_used(
        self, bedrock_stub: Any, fixed_clock: Any
    ) -> None:
        # Given a Nova Lite throughput in us-east-1 (list price $60.50 per model unit hour) of 2 model units, no
        # ``prices`` setting, deleted 1 h 20 min after it was created
        client, stubber = bedrock_stub
        arn = PT_ARN.replace("us-west-2", "us-east-1")
        run = make_run(
            settings=PipelineSettings(
                base_model_id="amazon.nova-lite-v1:0:300k", inference_mode="provisioned", provisioned_model_units=2
            )
        )
        fixed_clock.now = T0 + timedelta(hours=1, minutes=20)
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": arn})
        output = delete_inference_capacity(client, run, created().model_copy(update={"arn": arn, "model_units": 2}))
        # Then two started hours x 2 units x $60.50
        assert throughput_price_per_hour(run, arn) == 60.5
        assert output.estimated_cost_usd == 242.0
        # And the setting wins over the list price
        priced = make_run(
            settings=run.settings.model_copy(update={"prices": PriceSettings(provisioned_throughput_usd_per_hour=10.0)})
        )
        assert throughput_price_per_hour(priced, arn) == 10.0

    def test_already_deleted_is_success(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        client, stubber = bedrock_stub
        stubber.add_client_error("delete_provisioned_model_throughput", "ResourceNotFoundException", "gone", 404)
        output = delete_inference_capacity(client, make_run(), created())
        assert (output.deleted, output.already_gone) == (True, True)
        assert output.estimated_cost_usd is None  # no price configured, and no list price of a Haiku model unit

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


class TestModelUnits:
    """A throughput of N model units bills N times the hourly price: the units must travel from settings to Bedrock
    and from Bedrock's listing into every estimate."""

    def test_the_configured_units_are_bought_and_recorded(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        # Given a run configured for 3 model units
        client, stubber = bedrock_stub
        run = make_run(provisioned_model_units=3)
        name = capacity_name(run)
        expect_pt_lookup(stubber, name, [])
        stubber.add_response(
            "create_provisioned_model_throughput",
            {"provisionedModelArn": PT_ARN},
            {
                "clientRequestToken": client_token(run, "throughput"),
                "modelUnits": 3,
                "provisionedModelName": name,
                "modelId": CUSTOM_MODEL_ARN,
                "tags": resource_tags(run),
            },
        )
        # When capacity is created / Then 3 units are asked for and recorded
        assert create_inference_capacity(client, run, CUSTOM_MODEL_ARN).model_units == 3

    def test_a_retry_records_the_units_bedrock_lists_for_the_existing_throughput(self, bedrock_stub: Any) -> None:
        # Given a throughput of 2 units already bought under the run's name (by a version configured differently)
        client, stubber = bedrock_stub
        run = make_run()
        expect_pt_lookup(stubber, capacity_name(run), [pt_summary(capacity_name(run), units=2)])
        # When the create step is retried / Then the output carries what exists, not what is configured now
        assert create_inference_capacity(client, run, CUSTOM_MODEL_ARN).model_units == 2

    def test_a_retried_deployment_has_no_model_units(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run(serving=Serving.CUSTOM_MODEL_DEPLOYMENT, base_model_id="amazon.nova-lite-v1:0:300k")
        expect_deployment_lookup(stubber, capacity_name(run), [deployment_summary(capacity_name(run))])
        output = create_inference_capacity(client, run, NOVA_MODEL_ARN)
        assert (output.kind, output.arn, output.model_units, output.created_at) == (
            Serving.CUSTOM_MODEL_DEPLOYMENT,
            DEPLOYMENT_ARN,
            None,
            T0,
        )

    def test_the_delete_estimate_uses_the_units_that_were_created(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        # Given a 2-unit throughput deleted after 30 minutes, while settings now say 1 unit, at $132 per unit-hour
        client, stubber = bedrock_stub
        fixed_clock.now = T0 + timedelta(minutes=30)
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        # When deleted / Then one started hour of 2 units is estimated
        output = delete_inference_capacity(client, priced_run(), created(units=2))
        assert output.estimated_cost_usd == 264.0

    def test_the_delete_estimate_uses_the_units_of_the_throughput_found_by_name(
        self, bedrock_stub: Any, fixed_clock: Any
    ) -> None:
        client, stubber = bedrock_stub
        run = priced_run()
        fixed_clock.now = T0 + timedelta(minutes=30)
        expect_pt_lookup(stubber, capacity_name(run), [pt_summary(capacity_name(run), units=3)])
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        assert delete_inference_capacity(client, run, None).estimated_cost_usd == 396.0

    def test_without_known_units_the_configured_units_are_estimated(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        # Given a create output from before units were recorded, and a run configured for 2 units
        client, stubber = bedrock_stub
        fixed_clock.now = T0 + timedelta(minutes=30)
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        legacy = created().model_copy(update={"model_units": None})
        output = delete_inference_capacity(client, priced_run(provisioned_model_units=2), legacy)
        assert output.estimated_cost_usd == 264.0


def test_unknown_units_are_estimated_as_one_and_cents_are_kept() -> None:
    assert estimate_cost_usd(Serving.PROVISIONED_THROUGHPUT, 3600, None, 13.337) == 13.34
    assert estimate_cost_usd(Serving.PROVISIONED_THROUGHPUT, 7200, 3, 0.125) == 0.75
    assert estimate_cost_usd(Serving.PROVISIONED_THROUGHPUT, None, 1, 10.0) is None
    assert estimate_cost_usd(Serving.CUSTOM_MODEL_DEPLOYMENT, 3600, None, 10.0) is None


class TestLifetime:
    def test_a_throughput_deleted_the_moment_it_was_created_lived_zero_seconds(
        self, bedrock_stub: Any, fixed_clock: Any
    ) -> None:
        client, stubber = bedrock_stub
        fixed_clock.now = T0
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        output = delete_inference_capacity(client, priced_run(), created())
        assert (output.lifetime_seconds, output.estimated_cost_usd) == (0.0, 132.0)  # a started hour is billed

    def test_a_delete_clock_behind_the_create_clock_never_gives_a_negative_lifetime(
        self, bedrock_stub: Any, fixed_clock: Any
    ) -> None:
        # Given the deleting Lambda's clock 5 s behind the one that recorded the creation
        client, stubber = bedrock_stub
        fixed_clock.now = T0 - timedelta(seconds=5)
        stubber.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
        assert delete_inference_capacity(client, priced_run(), created()).lifetime_seconds == 0.0

    @pytest.mark.parametrize(
        "creation_time",
        [
            datetime(2026, 3, 1, 9, 0),  # naive, as a hand-built or older client may give it
            datetime(2026, 3, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))),
        ],
        ids=["naive-is-utc", "offset-kept"],
    )
    def test_creation_times_are_read_as_the_instant_they_name(self, bedrock_stub: Any, creation_time: Any) -> None:
        # Given Bedrock lists the run's throughput with a creation time that is naive or in another offset
        client, stubber = bedrock_stub
        run = make_run()
        expect_pt_lookup(stubber, capacity_name(run), [pt_summary(capacity_name(run), created=creation_time)])
        # When found on a retry / Then it is the same instant as 09:00 UTC, and comparable with the clock
        output = create_inference_capacity(client, run, CUSTOM_MODEL_ARN)
        assert output.created_at == T0
        assert output.created_at.utcoffset() is not None


class TestErrorsSayWhatWasBeingDone:
    @pytest.mark.parametrize(
        ("serving", "operation", "action"),
        [
            (Serving.PROVISIONED_THROUGHPUT, "list_provisioned_model_throughputs", "listing provisioned throughputs"),
            (Serving.CUSTOM_MODEL_DEPLOYMENT, "list_custom_model_deployments", "listing custom model deployments"),
        ],
    )
    def test_a_failed_listing(self, bedrock_stub: Any, serving: Serving, operation: str, action: str) -> None:
        client, stubber = bedrock_stub
        stubber.add_client_error(operation, "ThrottlingException", "Rate exceeded", 429)
        with pytest.raises(TransientServiceError, match=f"^{action}: ThrottlingException: Rate exceeded$"):
            create_inference_capacity(client, make_run(serving=serving), CUSTOM_MODEL_ARN)

    def test_a_refused_create(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        run = make_run()
        expect_pt_lookup(stubber, capacity_name(run), [])
        stubber.add_client_error("create_provisioned_model_throughput", "ServiceQuotaExceededException", "limit", 400)
        with pytest.raises(QuotaExceededError, match=f"^creating provisioned-throughput {capacity_name(run)}: quota"):
            create_inference_capacity(client, run, CUSTOM_MODEL_ARN)

    def test_a_failed_poll(self, bedrock_stub: Any) -> None:
        client, stubber = bedrock_stub
        stubber.add_client_error("get_provisioned_model_throughput", "InternalServerException", "oops", 500)
        with pytest.raises(TransientServiceError, match=r"^checking provisioned-throughput ft-serve-x: Internal"):
            poll_inference_capacity(client, make_run(), created(), previous_polls=0)

    def test_a_failed_delete(self, bedrock_stub: Any, fixed_clock: Any) -> None:
        client, stubber = bedrock_stub
        stubber.add_client_error("delete_provisioned_model_throughput", "ConflictException", "still creating", 409)
        with pytest.raises(TransientServiceError, match=f"^deleting provisioned-throughput {PT_ARN}: Conflict"):
            delete_inference_capacity(client, make_run(), created())

    def test_a_missing_model_says_which_step_did_not_deliver(self, bedrock_stub: Any) -> None:
        client, _stubber = bedrock_stub
        with pytest.raises(MissingStateError, match=r"^no custom model ARN: the customization job did not report"):
            create_inference_capacity(client, make_run(), "")


def test_a_deployment_page_without_summaries_lists_nothing(bedrock_stub: Any) -> None:
    # Given Bedrock answers the deployment lookup with a page that has no summaries at all
    client, stubber = bedrock_stub
    run = make_run(serving=Serving.CUSTOM_MODEL_DEPLOYMENT, base_model_id="amazon.nova-lite-v1:0:300k")
    stubber.add_response("list_custom_model_deployments", {}, {"nameContains": capacity_name(run)})
    # When the run's deployment is deleted without a create output / Then nothing was bought, nothing is deleted
    output = delete_inference_capacity(client, run, None)
    assert (output.arn, output.already_gone) == (None, True)
