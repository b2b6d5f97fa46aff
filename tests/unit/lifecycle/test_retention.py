"""Custom model retention: kept, deleted unless improved, or deleted; a failed delete is said, never raised."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.contracts import RunState
from lambdas.lifecycle.retention import apply_retention, retention_decision
from tests.unit.reporting.reporting_states import succeeded_state, with_updates

MODEL = "arn:aws:bedrock:us-west-2:123456789012:custom-model/m1"


def state(setting: str, outcome: str | None = "improved") -> RunState:
    base = succeeded_state()
    document = base.model_dump(mode="json", by_alias=True)
    document["run"]["settings"]["custom_model_retention"] = setting
    if outcome is None:
        document["summarize_evaluation"] = None
    else:
        document["summarize_evaluation"]["outcome"] = outcome
    return RunState.model_validate(document)


@pytest.mark.parametrize(
    ("setting", "outcome", "delete"),
    [
        ("keep", "regressed", False),
        ("delete", "improved", True),
        ("delete-unless-improved", "improved", False),
        ("delete-unless-improved", "no_clear_difference", True),
        ("delete-unless-improved", "inconclusive", True),
        ("delete-unless-improved", None, True),  # a run that failed before its verdict
    ],
)
def test_the_decision_table(setting: str, outcome: str | None, delete: bool) -> None:
    decision = retention_decision(state(setting, outcome))
    assert decision.custom_model_arn == MODEL
    assert decision.delete is delete
    assert setting in decision.reason


def test_no_custom_model_means_nothing_to_decide() -> None:
    # Given a run that never got a custom model (rejected, or the job failed)
    decision = retention_decision(with_updates(state("delete"), poll_customization_job=None))
    assert (decision.custom_model_arn, decision.delete) == (None, False)


@mock_aws
def test_apply_deletes_exactly_the_runs_model_and_reports_a_failed_delete() -> None:
    client = boto3.client("bedrock", region_name="us-west-2")
    ssm = boto3.client("ssm", region_name="us-west-2")  # no serving record: nothing serves
    with Stubber(client) as stubber:
        stubber.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL})
        done = apply_retention(client, state("delete"), ssm)
        stubber.add_client_error("delete_custom_model", "AccessDeniedException", "not allowed", 403)
        failed = apply_retention(client, state("delete"), ssm)
        stubber.add_client_error("delete_custom_model", "ResourceNotFoundException", "gone", 404)
        gone = apply_retention(client, state("delete"), ssm)
    assert (done.action, done.error) == ("deleted", None)
    assert (failed.action, failed.custom_model_arn, failed.reason) == (
        "kept",
        MODEL,
        "custom_model_retention is delete",
    )
    assert failed.error is not None
    assert failed.error.startswith("AccessDeniedException")
    assert gone.action == "deleted"  # already gone is what was asked for


def test_keep_makes_no_call(monkeypatch: Any) -> None:
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client):  # any call would fail: none is queued
        kept = apply_retention(client, state("keep"))
    assert (kept.action, kept.custom_model_arn) == ("kept", MODEL)


@mock_aws
def test_a_model_the_serving_record_names_is_never_deleted() -> None:
    from datetime import UTC, datetime

    from lambdas.serving.record import Champion, ServingKind, ServingRecord, parameter_name

    run = state("delete")
    champion = Champion(
        custom_model_arn=MODEL,
        base_model_id=run.run.settings.base_model_id,
        run_id="earlier-run",
        promoted_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    record = ServingRecord(
        stack_name=run.run.stack_name,
        champion=champion,
        serving_kind=ServingKind.ON_DEMAND_DEPLOYMENT,
        updated_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    ssm = boto3.client("ssm", region_name="us-west-2")
    ssm.put_parameter(Name=parameter_name(run.run.stack_name), Value=record.model_dump_json(), Type="String")
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client):  # a delete call would fail: none may be made
        kept = apply_retention(client, run, ssm)
        blind = apply_retention(client, run, None)
    assert (kept.action, kept.error) == ("kept", None)
    assert kept.reason == "kept: the stack's serving record names it (the champion, or a model to roll back to)"
    assert blind.action == "kept"
    assert blind.reason == "kept: the serving record was not read, and a model that may serve is never deleted blind"


def test_a_model_kept_for_a_promotion_that_failed_says_so() -> None:
    from lambdas.contracts import PrimaryComparison, PromoteOutput

    run = state("delete")
    document = run.model_dump(mode="json", by_alias=True)
    document["run"]["settings"]["promotion"] = "auto"
    document["summarize_evaluation"]["versus_base"] = PrimaryComparison(
        outcome="improved", primary_metric="judge_correctness", n=40, mean_delta=1.0
    ).model_dump()
    document["promote"] = PromoteOutput(
        decision="promote", eligible=True, reason="improved", error="DeploymentBusyError: updating"
    ).model_dump()
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client):  # no delete may be made: the model was meant to serve
        kept = apply_retention(client, RunState.model_validate(document), None)
    assert kept.action == "kept"
    assert kept.reason == (
        "kept for a promotion that did not happen (DeploymentBusyError: updating); promote it by hand or delete it"
    )


@pytest.mark.parametrize(
    ("setting", "outcome", "reason"),
    [
        ("keep", "regressed", "custom_model_retention is keep"),
        ("delete", "improved", "custom_model_retention is delete"),
        (
            "delete-unless-improved",
            "improved",
            "the verdict is improved (custom_model_retention delete-unless-improved)",
        ),
        (
            "delete-unless-improved",
            "no_clear_difference",
            "the verdict is no clear difference (custom_model_retention delete-unless-improved)",
        ),
        ("delete-unless-improved", None, "the run has no verdict (custom_model_retention delete-unless-improved)"),
    ],
)
def test_each_decision_says_exactly_why(setting: str, outcome: str | None, reason: str) -> None:
    assert retention_decision(state(setting, outcome)).reason == reason


def _promoting(setting: str) -> RunState:
    from lambdas.contracts import PrimaryComparison

    document = state(setting).model_dump(mode="json", by_alias=True)
    document["run"]["settings"]["promotion"] = "auto"
    document["summarize_evaluation"]["versus_base"] = PrimaryComparison(
        outcome="improved", primary_metric="judge_correctness", n=40, mean_delta=1.0
    ).model_dump()
    return RunState.model_validate(document)


def test_a_model_the_run_promotes_is_kept_whatever_the_setting() -> None:
    for setting in ("delete", "delete-unless-improved"):
        decision = retention_decision(_promoting(setting))
        assert decision == (MODEL, False, f"the run promotes it to serve (promotion auto; {setting} not applied)")


def test_a_reevaluation_decides_nothing_about_the_model_it_evaluates() -> None:
    from lambdas.contracts import Reevaluation

    document = state("delete").model_dump(mode="json", by_alias=True)
    document["run"]["reevaluation"] = Reevaluation(custom_model_arn=MODEL, request_key="reevaluate/x.json").model_dump()
    decision = retention_decision(RunState.model_validate(document))
    assert decision == (
        None,
        False,
        "a re-evaluation keeps the model it evaluates (retention is decided by the run that trained it)",
    )


@mock_aws
def test_every_output_names_the_model_the_setting_and_the_reason() -> None:
    client = boto3.client("bedrock", region_name="us-west-2")
    ssm = boto3.client("ssm", region_name="us-west-2")
    with Stubber(client) as stubber:
        stubber.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL})
        deleted = apply_retention(client, state("delete"), ssm)
        kept = apply_retention(client, state("keep"), ssm)
        none = apply_retention(client, with_updates(state("delete"), poll_customization_job=None), ssm)
    assert deleted.model_dump() == {
        "custom_model_arn": MODEL,
        "setting": "delete",
        "action": "deleted",
        "reason": "custom_model_retention is delete",
        "error": None,
    }
    assert kept.model_dump() == {
        "custom_model_arn": MODEL,
        "setting": "keep",
        "action": "kept",
        "reason": "custom_model_retention is keep",
        "error": None,
    }
    assert none.model_dump() == {
        "custom_model_arn": None,
        "setting": "delete",
        "action": "none",
        "reason": "the run produced no custom model",
        "error": None,
    }


@mock_aws
def test_a_serving_record_that_cannot_be_read_keeps_the_model_and_names_the_error() -> None:
    from lambdas.serving.record import parameter_name

    run = state("delete")
    ssm = boto3.client("ssm", region_name="us-west-2")
    ssm.put_parameter(Name=parameter_name(run.run.stack_name), Value="{broken", Type="String")
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client):
        kept = apply_retention(client, run, ssm)
    assert (kept.action, kept.custom_model_arn, kept.setting, kept.error) == ("kept", MODEL, "delete", None)
    assert kept.reason == (
        "kept: the serving record could not be read (CorruptServingRecordError), and a model that may serve is "
        "never deleted blind"
    )
