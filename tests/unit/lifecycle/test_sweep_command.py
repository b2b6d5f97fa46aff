from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ConfigParseError, InvalidRegionError, ProfileNotFound
from botocore.stub import Stubber

from lambdas import aws
from tests.unit.lifecycle.factories import PT_ARN, T0
from tests.unit.lifecycle.test_capacity import pt_summary
from tuner.cli import main


@pytest.fixture
def stubbed_bedrock() -> Iterator[Stubber]:
    with Stubber(aws.client("bedrock")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def queue_one_expired(stubber: Stubber, stack: str) -> None:
    stubber.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("ft-serve-a")]}
    )
    stubber.add_response("list_tags_for_resource", {"tags": [{"key": "fine-tuning:stack", "value": stack}]})
    stubber.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})


def test_dry_run_lists_without_deleting(stubbed_bedrock: Stubber, fixed_clock: Any, capsys: Any) -> None:
    fixed_clock.now = T0 + timedelta(hours=2)
    queue_one_expired(stubbed_bedrock, "Lab")
    code = main(["sweep", "--dry-run", "--stack", "Lab", "--max-age-hours", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert f"would delete: provisioned-throughput ft-serve-a run=None age=2h {PT_ARN}" in out
    assert "sweep of stack Lab: would delete 1, failed 0, checked 1 (max age 1 h)" in out


def test_sweep_deletes_and_a_failure_exits_1(stubbed_bedrock: Stubber, fixed_clock: Any, capsys: Any) -> None:
    fixed_clock.now = T0 + timedelta(hours=5)
    queue_one_expired(stubbed_bedrock, "FineTuningStack")
    stubbed_bedrock.add_client_error("delete_provisioned_model_throughput", "AccessDeniedException", "denied", 403)
    code = main(["sweep"])  # default stack and the default 4 h lifetime
    assert code == 1
    assert "FAILED: provisioned-throughput ft-serve-a" in capsys.readouterr().out


def test_a_kind_that_cannot_be_listed_is_printed_and_exits_1_after_the_other_is_swept(
    stubbed_bedrock: Stubber, fixed_clock: Any, capsys: Any
) -> None:
    fixed_clock.now = T0 + timedelta(hours=5)
    stubbed_bedrock.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("ft-serve-a")]}
    )
    stubbed_bedrock.add_response("list_tags_for_resource", {"tags": [{"key": "fine-tuning:stack", "value": "Lab"}]})
    stubbed_bedrock.add_client_error("list_custom_model_deployments", "AccessDeniedException", "not authorized", 403)
    stubbed_bedrock.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    code = main(["sweep", "--stack", "Lab"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"deleted: provisioned-throughput ft-serve-a run=None age=5h {PT_ARN}" in out
    assert "FAILED: could not list custom-model-deployments: AccessDeniedException: An error occurred" in out


@pytest.mark.parametrize("age", ["-1", "nan", "inf"])
def test_an_age_that_is_not_0_or_more_hours_is_a_usage_error(capsys: Any, age: str) -> None:
    # NaN compares false with every age, so all of the stack's capacity would have counted as expired
    assert main(["sweep", "--dry-run", "--max-age-hours", age]) == 2
    assert "--max-age-hours must be 0 or more" in capsys.readouterr().err


def test_refused_credentials_are_one_line_not_a_traceback(stubbed_bedrock: Stubber, capsys: Any) -> None:
    for operation in ("list_provisioned_model_throughputs", "list_custom_model_deployments"):
        stubbed_bedrock.add_client_error(
            operation, "UnrecognizedClientException", "The security token included in the request is invalid.", 403
        )
    assert main(["sweep", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: An error occurred (UnrecognizedClientException)")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ProfileNotFound(profile="nope"), "The config profile (nope) could not be found"),
        (InvalidRegionError(region_name="us east"), "Provided region_name 'us east'"),
        (ConfigParseError(path="~/.aws/config"), "Unable to parse config file: ~/.aws/config"),
    ],
    ids=["profile", "region", "config-file"],
)
def test_bad_aws_configuration_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: Any, error: Exception, message: str
) -> None:
    def sweep(*args: Any, **kwargs: Any) -> Any:  # botocore raises these while building the client
        raise error

    monkeypatch.setattr("tuner.commands.sweep.sweep_expired_capacity", sweep)
    assert main(["sweep", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
