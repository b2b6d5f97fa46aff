"""Custom model retention: kept, deleted unless improved, or deleted; a failed delete is said, never raised."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

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


def test_apply_deletes_exactly_the_runs_model_and_reports_a_failed_delete() -> None:
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client) as stubber:
        stubber.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL})
        done = apply_retention(client, state("delete"))
        stubber.add_client_error("delete_custom_model", "AccessDeniedException", "not allowed", 403)
        failed = apply_retention(client, state("delete"))
        stubber.add_client_error("delete_custom_model", "ResourceNotFoundException", "gone", 404)
        gone = apply_retention(client, state("delete"))
    assert (done.action, done.error) == ("deleted", None)
    assert failed.action == "kept"
    assert failed.error is not None
    assert failed.error.startswith("AccessDeniedException")
    assert gone.action == "deleted"  # already gone is what was asked for


def test_keep_makes_no_call(monkeypatch: Any) -> None:
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client):  # any call would fail: none is queued
        kept = apply_retention(client, state("keep"))
    assert (kept.action, kept.custom_model_arn) == ("kept", MODEL)
