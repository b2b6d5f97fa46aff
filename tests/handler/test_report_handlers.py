"""WriteReport and Notify handlers on moto S3/SNS: artefacts written, a readable message published, zip-safe imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.contracts import RunState
from tests.unit.reporting.reporting_states import (
    RUN_ID,
    evaluation_result,
    run_config,
    succeeded_state,
    validated,
)

BUCKET = "data-bucket"
REGION = "us-east-1"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        sns = boto3.client("sns", region_name=REGION)
        topic_arn = sns.create_topic(Name="runs")["TopicArn"]
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv("DATA_BUCKET", BUCKET)
        monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic_arn)
        yield {"s3": s3, "topic_arn": topic_arn, "queue_url": queue_url}


def delivered(queue_url: str) -> list[dict[str, Any]]:
    """What the topic delivered to the test's SQS subscription (the SNS envelope: Subject, Message, attributes)."""
    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def test_write_report_writes_three_artefacts_and_returns_the_status(aws_env, lambda_context):
    from lambdas.handlers import write_report

    # Given a finished run with its evaluation and metrics in S3
    s3 = aws_env["s3"]
    state = succeeded_state()
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/evaluation.json", Body=evaluation_result().model_dump_json())
    s3.put_object(
        Bucket=BUCKET,
        Key=f"runs/{RUN_ID}/training_metrics.json",
        Body=json.dumps(
            {
                "training": [{"step": 0, "epoch": 1, "loss": 1.5}, {"step": 1, "epoch": 2, "loss": 0.9}],
                "validation": [{"step": 1, "epoch": 1, "loss": 2.0}],
            }
        ),
    )
    # When the handler runs
    output = write_report.handler(state.model_dump(mode="json"), lambda_context)
    # Then report.json/md/html exist and agree
    assert output["status"] == "SUCCEEDED"
    assert output["summary"].startswith("inconclusive: only 2 questions were scored on both models")
    report = json.loads(s3.get_object(Bucket=BUCKET, Key=output["report_key"])["Body"].read())
    assert report["status"] == "SUCCEEDED"
    assert len(report["evaluation"]["items"]) == 2
    assert [e["mean_loss"] for e in report["loss"]["training_epoch_means"]] == [1.5, 0.9]
    page = s3.get_object(Bucket=BUCKET, Key=output["html_key"])
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert b"<svg" in page["Body"].read()
    assert s3.get_object(Bucket=BUCKET, Key=output["markdown_key"])["Body"].read().startswith(b"# Fine-tuning run")


def test_write_report_survives_missing_artefacts(aws_env, lambda_context):
    from lambdas.handlers import write_report

    # Given a run whose evaluation.json and metrics were never written
    output = write_report.handler(succeeded_state().model_dump(mode="json"), lambda_context)
    report = json.loads(aws_env["s3"].get_object(Bucket=BUCKET, Key=output["report_key"])["Body"].read())
    # Then the summary carried in the state is still reported
    assert report["evaluation"]["fine_tuned"]["judge_mean"] == 8.0
    assert report["evaluation"]["items"] == []
    assert report["loss"]["training"] == []


def test_notify_publishes_the_rejected_run_with_line_numbers(aws_env, lambda_context):
    from lambdas.handlers import notify

    # Given a rejected run
    state = RunState(run=run_config(), validate_dataset=validated(valid=False))
    # When notified
    output = notify.handler(state.model_dump(mode="json"), lambda_context)
    # Then the subscriber got one message whose subject fits and whose body lists the problems with their lines
    (envelope,) = delivered(aws_env["queue_url"])
    assert output["message_id"] == envelope["MessageId"]
    assert envelope["TopicArn"] == aws_env["topic_arn"]
    assert len(envelope["Subject"]) <= 100
    assert envelope["Subject"].startswith(f"Fine-tuning {RUN_ID} REJECTED: dataset rejected: 2 error(s)")
    assert '  line 4: [role_order] message 1 must have role "user"' in envelope["Message"]
    assert "  line 17: [empty_content] message 2 has empty content" in envelope["Message"]
    assert envelope["MessageAttributes"]["status"]["Value"] == "REJECTED"


def test_notify_message_for_a_success_has_scores_cost_and_links():
    from lambdas.contracts import RunStatus, WriteReportOutput
    from lambdas.reporting.build import build_report
    from lambdas.reporting.publish import notification_message, notification_subject
    from tests.unit.reporting.reporting_states import T0

    state = succeeded_state(emulated=True)
    report = build_report(state, now=T0)
    output = WriteReportOutput(
        status=RunStatus.SUCCEEDED,
        report_key=f"runs/{RUN_ID}/report.json",
        markdown_key=f"runs/{RUN_ID}/report.md",
        html_key=f"runs/{RUN_ID}/report.html",
        summary=report.headline,
    )
    message = notification_message(report, bucket=BUCKET, output=output)
    assert "LLM-as-a-judge correctness (1-10, amazon.nova-pro-v1:0): 8.0 vs 3.0" in message
    assert "BERTScore F1 (all-MiniLM-L6-v2): 0.72 vs 0.65" in message
    assert "estimated cost $132.00" in message
    assert f"s3://{BUCKET}/runs/{RUN_ID}/report.html" in message
    assert "EMULATED" in message.splitlines()[1]
    subject = notification_subject(report)
    assert subject.startswith("[EMULATED] Fine-tuning")
    assert len(subject) <= 100
    assert subject.endswith("...")


def test_notify_without_a_topic_does_nothing(lambda_context, monkeypatch):
    from lambdas.handlers import notify

    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    monkeypatch.delenv("NOTIFICATION_TOPIC_ARN", raising=False)
    assert notify.handler(succeeded_state().model_dump(mode="json"), lambda_context) == {"message_id": None}


@pytest.mark.parametrize("module", ["write_report", "notify"])
def test_zip_handlers_import_nothing_outside_the_lambda_runtime(module):
    # The zip functions have boto3, pydantic and Powertools only: no torch, langchain, bert-score or rich may load.
    code = (
        f"import sys, lambdas.handlers.{module}\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'torch', 'transformers', 'bert_score', 'langchain_core', 'langchain_aws', 'langchain_classic', 'rich', "
        "'numpy', 'moto'})\n"
        "print(','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
