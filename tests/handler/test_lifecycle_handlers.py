"""The lifecycle handlers as Lambda runs them: a Step Functions state document in, a JSON-able output out."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.bedrock.models import bedrock_backends

from lambdas import aws, clock
from lambdas.contracts import RunConfig
from lambdas.lifecycle.metrics import TRAINING_CSV_SUFFIX
from lambdas.lifecycle.names import capacity_name, job_name
from tests.unit.lifecycle.factories import BUCKET, CUSTOM_MODEL_ARN, PT_ARN, ROLE_ARN, T0, FixedClock, make_run
from tests.unit.lifecycle.test_capacity import expect_pt_lookup, pt_summary

EVENTS = Path(__file__).parent.parent / "unit" / "lifecycle" / "data"
ACCOUNT = "123456789012"
REGION = "us-east-1"
LIFECYCLE_HANDLERS = (
    "start_customization_job",
    "poll_customization_job",
    "read_training_metrics",
    "create_inference_capacity",
    "poll_inference_capacity",
    "delete_inference_capacity",
    "sweeper",
    "execution_cleanup",
)


@pytest.fixture(autouse=True)
def sim_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FixedClock]:
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    monkeypatch.setenv("STACK_NAME", "FineTuningStack")
    monkeypatch.setenv("BEDROCK_ROLE_ARN", ROLE_ARN)
    fake = FixedClock()
    clock.use_clock(fake)
    yield fake
    clock.use_system_clock()


def run_document(**extra: Any) -> dict[str, Any]:
    run = RunConfig.model_validate(make_run().model_dump(mode="json"))
    dataset = {
        "valid": True,
        "records": 117,
        "error_count": 0,
        "warning_count": 0,
        "report_key": run.paths.validation_report,
        "train_key": run.paths.train,
        "validation_key": run.paths.validation,
        "train_records": 85,
        "validation_records": 32,
    }
    return {"run": run.model_dump(mode="json"), "errors": {}, "validate_dataset": dataset, **extra}


@pytest.fixture
def bedrock_stub() -> Iterator[Stubber]:
    with Stubber(aws.client("bedrock")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_start_and_poll_the_job_through_the_handlers(lambda_context: Any) -> None:
    from lambdas.handlers import poll_customization_job, start_customization_job

    with mock_aws():
        # Given a validated dataset, when StartCustomizationJob runs twice (a Step Functions retry)
        document = run_document()
        started = start_customization_job.handler(document, lambda_context)
        again = start_customization_job.handler(document, lambda_context)
        # Then one job exists and both outputs name it
        jobs = aws.client("bedrock").list_model_customization_jobs()["modelCustomizationJobSummaries"]
        assert len(jobs) == 1
        assert started["job_arn"] == again["job_arn"]
        assert started["hyperparameters"]["epochCount"] == "2"
        document["start_customization_job"] = started

        # When polled while it trains, then after it completed
        first = poll_customization_job.handler(document, lambda_context)
        assert (first["status"], first["polls"], first["wait_seconds"]) == ("InProgress", 1, 60)
        document["poll_customization_job"] = first
        bedrock_backends[ACCOUNT][REGION].model_customization_jobs[started["job_name"]].status = "Completed"
        second = poll_customization_job.handler(document, lambda_context)
        # Then the poll count grows and the custom model is reported
        assert (second["status"], second["polls"], second["wait_seconds"]) == ("Completed", 2, 90)
        assert second["custom_model_arn"].endswith(started["job_name"])
        json.dumps(second)  # JSON-able, as Step Functions needs


def test_read_training_metrics_handler(lambda_context: Any, reference_run: Any) -> None:
    from lambdas.handlers import read_training_metrics

    with mock_aws():
        s3 = aws.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        document = run_document()
        run_id = document["run"]["run_id"]
        job_arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-customization-job/amazon.nova-lite-v1:0:300k/abcdef123456"
        document["start_customization_job"] = {
            "job_arn": job_arn,
            "job_name": "ft-job-x",
            "custom_model_name": "ft-model-x",
            "output_s3_uri": f"s3://{BUCKET}/runs/{run_id}/job-output/",
            "hyperparameters": {},
            "started_at": T0.isoformat(),
        }
        key = f"runs/{run_id}/job-output/model-customization-job-abcdef123456/{TRAINING_CSV_SUFFIX}"
        s3.put_object(Bucket=BUCKET, Key=key, Body=(reference_run / "step_wise_training_metrics.csv").read_bytes())
        output = read_training_metrics.handler(document, lambda_context)
        assert output["metrics_key"] == f"runs/{run_id}/training_metrics.json"
        assert (output["training_points"], output["validation_points"]) == (21, 0)


def test_create_poll_and_delete_capacity_handlers(
    lambda_context: Any, bedrock_stub: Stubber, sim_clock: FixedClock
) -> None:
    from lambdas.handlers import create_inference_capacity, delete_inference_capacity, poll_inference_capacity

    document = run_document(
        poll_customization_job={
            "status": "Completed",
            "polls": 9,
            "wait_seconds": 900,
            "custom_model_arn": CUSTOM_MODEL_ARN,
            "checked_at": T0.isoformat(),
        }
    )
    run = RunConfig.model_validate(document["run"])
    name = capacity_name(run)
    # Given no throughput yet: CreateInferenceCapacity buys one
    expect_pt_lookup(bedrock_stub, name, [])
    bedrock_stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "clientRequestToken": ANY,
            "modelUnits": 1,
            "provisionedModelName": name,
            "modelId": CUSTOM_MODEL_ARN,
            "tags": ANY,
        },
    )
    created = create_inference_capacity.handler(document, lambda_context)
    assert (created["kind"], created["arn"], created["name"]) == ("provisioned-throughput", PT_ARN, name)
    document["create_inference_capacity"] = created
    # PollInferenceCapacity reports it in service
    bedrock_stub.add_response("get_provisioned_model_throughput", pt_summary(name), {"provisionedModelId": PT_ARN})
    polled = poll_inference_capacity.handler(document, lambda_context)
    assert (polled["ready"], polled["failed"], polled["polls"], polled["wait_seconds"]) == (True, False, 1, 60)
    # DeleteInferenceCapacity deletes it 40 minutes later
    sim_clock.now = T0 + timedelta(minutes=40)
    bedrock_stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    deleted = delete_inference_capacity.handler(document, lambda_context)
    assert (deleted["deleted"], deleted["already_gone"], deleted["lifetime_seconds"]) == (True, False, 2400.0)


def test_delete_handler_after_a_failed_create_finds_the_capacity_by_name(
    lambda_context: Any, bedrock_stub: Stubber
) -> None:
    from lambdas.handlers import delete_inference_capacity

    # Given the create step failed (its Catch stored an error, no output)
    document = run_document(errors={"CreateInferenceCapacity": {"Error": "States.Timeout", "Cause": "timed out"}})
    name = capacity_name(RunConfig.model_validate(document["run"]))
    expect_pt_lookup(bedrock_stub, name, [pt_summary(name, status="Creating")])
    bedrock_stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    # When the delete runs / Then the throughput Bedrock did create is deleted
    output = delete_inference_capacity.handler(document, lambda_context)
    assert (output["arn"], output["already_gone"]) == (PT_ARN, False)


def test_sweeper_handler_uses_the_configured_lifetime(
    lambda_context: Any, bedrock_stub: Stubber, monkeypatch: pytest.MonkeyPatch, sim_clock: FixedClock
) -> None:
    from lambdas.handlers import sweeper

    monkeypatch.setenv("CAPACITY_MAX_LIFETIME_HOURS", "2")  # the one setting the sweeper is given
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", f"arn:aws:sns:{REGION}:{ACCOUNT}:fine-tuning")
    sim_clock.now = T0 + timedelta(hours=3)
    bedrock_stub.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [pt_summary("x")]})
    bedrock_stub.add_response(
        "list_tags_for_resource", {"tags": [{"key": "fine-tuning:stack", "value": "FineTuningStack"}]}
    )
    bedrock_stub.add_response("list_custom_model_deployments", {"modelDeploymentSummaries": []})
    bedrock_stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    with Stubber(aws.client("sns")) as sns_stub:
        sns_stub.add_response("publish", {"MessageId": "m-9"})
        scheduled = json.loads((EVENTS / "scheduled_event.json").read_text())
        output = sweeper.handler(scheduled, lambda_context)
    assert output["max_age_hours"] == 2
    assert [item["arn"] for item in output["deleted"]] == [PT_ARN]
    assert output["message_id"] == "m-9"


def test_execution_cleanup_handler_stops_a_running_job(lambda_context: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdas.handlers import execution_cleanup, start_customization_job

    state_machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:FineTuning"
    execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:FineTuning:run-1"
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine)
    with mock_aws():
        # Given a run whose job is training (moto) when its execution is aborted
        document = run_document()
        start_customization_job.handler(document, lambda_context)
        name = job_name(RunConfig.model_validate(document["run"]))
        bedrock = aws.client("bedrock")
        aws.client("s3").create_bucket(Bucket=BUCKET)
        described = {
            "executionArn": execution,
            "stateMachineArn": state_machine,
            "status": "ABORTED",
            "startDate": T0,
            "input": json.dumps({"run": document["run"], "errors": {}}),
            "error": "States.Aborted",
            "cause": "stopped by hand",
        }
        with Stubber(aws.client("stepfunctions")) as sfn_stub:
            sfn_stub.add_response("describe_execution", described, {"executionArn": execution})
            # the history, newest first: it was waiting for the job, with the run's whole document as input
            sfn_stub.add_response(
                "get_execution_history",
                {
                    "events": [
                        {
                            "timestamp": T0,
                            "type": "WaitStateEntered",
                            "id": 7,
                            "stateEnteredEventDetails": {
                                "name": "WaitForCustomizationJob",
                                "input": json.dumps(document),
                            },
                        }
                    ]
                },
                {"executionArn": execution, "reverseOrder": True, "maxResults": 200},
            )
            sfn_stub.add_response("describe_execution", described, {"executionArn": execution})
            # moto has no provisioned throughput listing: this account has none
            monkeypatch.setattr(bedrock, "get_paginator", lambda _name: _EmptyPaginator())
            aborted = json.loads((EVENTS / "execution_aborted_event.json").read_text())
            output = execution_cleanup.handler(aborted, lambda_context)
        # Then the job is stopped and nothing else was bought
        assert bedrock.get_model_customization_job(jobIdentifier=name)["status"] == "Stopped"
        assert (output["job_status_found"], output["job_stop_requested"]) == ("InProgress", True)
        assert output["capacity"]["already_gone"] is True
        # And the run has a report: ABORTED, in which step, and what the cleanup did
        report = json.loads(aws.client("s3").get_object(Bucket=BUCKET, Key=output["report_key"])["Body"].read())
        assert report["status"] == "ABORTED"
        assert report["failure"]["failures"][0]["step"] == "WaitForCustomizationJob"
        assert "was stopped in WaitForCustomizationJob: stopped by hand" in report["failure"]["failures"][0]["message"]
        assert any("the cleanup stopped it" in line for line in report["failure"]["cleanup"])
        assert report["headline"].startswith("aborted: the execution was stopped in WaitForCustomizationJob")


class _EmptyPaginator:
    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [{}]


def test_lifecycle_handlers_import_only_what_a_zip_function_has() -> None:
    # Given a fresh interpreter, when every lifecycle handler is imported
    code = (
        "import sys\n"
        + "".join(f"import lambdas.handlers.{name}\n" for name in LIFECYCLE_HANDLERS)
        + "banned = ('torch', 'transformers', 'bert_score', 'langchain', 'langchain_aws', 'moto', 'rich', 'tuner')\n"
        + "print(sorted(m for m in sys.modules if m.split('.')[0] in banned))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Then nothing outside boto3, pydantic and Powertools was loaded
    assert result.stdout.strip() == "[]"
