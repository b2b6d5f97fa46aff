"""The WriteReport and Notify steps: report.json/.md/.html to S3, and a readable summary to the SNS topic."""

from __future__ import annotations

import json
import re
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from lambdas.clock import utc_now
from lambdas.contracts import NotifyOutput, RunState, RunStatus, WriteReportOutput
from lambdas.evaluation.results import EvaluationResult
from lambdas.lifecycle.metrics import TrainingMetrics
from lambdas.lifecycle.service_errors import service_call
from lambdas.reporting.build import build_report, parse_training_metrics
from lambdas.reporting.model import ExecutionEnd, Report
from lambdas.reporting.render import (
    cost_line,
    cost_summary,
    fmt_score,
    how_read,
    next_step_lines,
    promotion_lines,
    reevaluation_line,
    render_html,
    render_markdown,
)

SNS_SUBJECT_LIMIT = 100
MAX_PROBLEMS_IN_MESSAGE = 10
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def _read_json(s3: Any, bucket: str, key: str) -> Any | None:
    """A JSON artefact of the run, or None when it does not exist or is not JSON (the report says what is missing)."""
    try:
        with service_call(f"reading s3://{bucket}/{key}"):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code", "")) in _MISSING:
            return None
        raise
    try:
        return json.loads(body)
    except ValueError:
        return None


def load_training_metrics(s3: Any, bucket: str, state: RunState) -> TrainingMetrics | None:
    if state.read_training_metrics is None:
        return None
    return parse_training_metrics(_read_json(s3, bucket, state.read_training_metrics.metrics_key))


def load_evaluation(s3: Any, bucket: str, state: RunState) -> EvaluationResult | None:
    if state.summarize_evaluation is None:
        return None
    document = _read_json(s3, bucket, state.summarize_evaluation.evaluation_key)
    try:
        return EvaluationResult.model_validate(document) if document is not None else None
    except ValidationError:
        return None  # the summary carried in the state still reaches the report


def write_report(state: RunState, *, s3: Any, bucket: str, ended: ExecutionEnd | None = None) -> WriteReportOutput:
    """Build the report and write report.json, report.md and report.html (each object written once, complete)."""
    report = build_report(
        state,
        now=utc_now(),
        training_metrics=load_training_metrics(s3, bucket, state),
        evaluation=load_evaluation(s3, bucket, state),
        ended=ended,
    )
    paths = state.run.paths
    for key, body, content_type in (
        (paths.report_json, report.model_dump_json(indent=2), "application/json"),
        (paths.report_md, render_markdown(report), "text/markdown; charset=utf-8"),
        (paths.report_html, render_html(report), "text/html; charset=utf-8"),
    ):
        with service_call(f"writing s3://{bucket}/{key}"):
            s3.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType=content_type)
    return WriteReportOutput(
        status=report.status,
        report_key=paths.report_json,
        markdown_key=paths.report_md,
        html_key=paths.report_html,
        summary=report.headline,
        cost=cost_summary(report.cost),
    )


def notification_subject(report: Report) -> str:
    """SNS subjects: at most 100 printable ASCII characters, one line."""
    prefix = "[EMULATED] " if report.run.emulated else ""
    text = f"{prefix}Fine-tuning {report.run.run_id} {report.status.value}: {report.headline}"
    text = re.sub(r"\s+", " ", text)
    text = "".join(char if 32 <= ord(char) < 127 else "?" for char in text).strip()
    if len(text) > SNS_SUBJECT_LIMIT:
        text = text[: SNS_SUBJECT_LIMIT - 3].rstrip() + "..."
    return text


def retention_outcome(state: RunState) -> str:
    """What the retention step did, when it ran (a failed delete is said loudly: storage keeps billing)."""
    done = state.apply_retention
    if done is None or done.custom_model_arn is None or not done.error:
        return ""  # the report's own line already says what was decided
    if done.error:
        return (
            f"\nCustom model NOT deleted ({done.error}): it bills storage until deleted: "
            f"aws bedrock delete-custom-model --model-identifier {done.custom_model_arn}"
        )
    return f"\nCustom model {done.action}: {done.reason}."


def promotion_outcome(state: RunState) -> str:
    """What the Promote step did (the report states the decision; this is the result, which the report cannot)."""
    done = state.promote
    if done is None:
        return ""
    if done.error:
        return f"\nPromotion FAILED ({done.error}): nothing serving changed. {done.message}"
    if done.promoted:
        return f"\nPromoted: {done.message}"
    if done.decision == "recommend":
        return f"\nServing: {done.message}"
    return ""


def state_retention_line(report: Report, output: WriteReportOutput | None) -> str | None:  # noqa: ARG001
    """The custom model's fate, as decided in the report (the retention step's own result is added by notify)."""
    job = report.job
    if job is None or job.retention is None or job.custom_model_arn is None:
        return None
    return f"Custom model {job.custom_model_arn}: {job.retention}"


def notification_message(report: Report, *, bucket: str, output: WriteReportOutput | None) -> str:
    run = report.run
    lines = [f"Fine-tuning run {run.run_id}: {report.status.value}"]
    if run.emulated:
        lines.append("EMULATED: Bedrock was the local emulator; none of these figures come from a real job.")
    reevaluation = reevaluation_line(run)
    if reevaluation is not None:
        lines.append(f"{reevaluation}: no training.")
    source = "Request" if reevaluation is not None else "Dataset"
    lines += [
        report.headline,
        "",
        f"{source}: {run.source}",
        f"Base model: {run.base_model_name} ({run.base_model_id})",
    ]
    read = how_read(report.dataset) if report.dataset is not None else None
    if read:
        lines.append(read)

    if report.status is RunStatus.REJECTED and report.dataset is not None and not report.dataset.valid:
        data = report.dataset
        lines += ["", f"The dataset has {data.error_count} error(s); nothing was sent to Bedrock. First problems:"]
        for problem in data.first_errors[:MAX_PROBLEMS_IN_MESSAGE]:
            where = f"line {problem.line}" if problem.line is not None else "file"
            lines.append(f"  {where}: [{problem.code}] {problem.message}")
        lines.append(f"Full list: s3://{bucket}/{data.validation_report_key}")
    elif report.failure is not None:
        lines += ["", "What went wrong:"]
        lines += [f"  {failure.step} ({failure.error}): {failure.message}" for failure in report.failure.failures]
        lines += ["Clean-up:"] + [f"  {line}" for line in report.failure.cleanup]
    if report.preflight is not None and report.preflight.warnings:
        lines += ["", "Preflight warnings (the run was not stopped for these):"]
        lines += [f"  {check.subject}: {check.message}" for check in report.preflight.warnings]

    if report.evaluation is not None:
        evaluation = report.evaluation
        tuned, base = evaluation.fine_tuned, evaluation.base
        lines += [
            "",
            f"Scores over {tuned.items} test question(s), fine-tuned vs base:",
            f"  LLM-as-a-judge correctness (1-10, {evaluation.judge_model_id or 'judge disabled'}): "
            f"{fmt_score(tuned.judge_mean, 1)} vs {fmt_score(base.judge_mean, 1)}",
            f"  BERTScore F1 ({evaluation.bertscore_model}): {fmt_score(tuned.bertscore_f1)} vs "
            f"{fmt_score(base.bertscore_f1)}",
        ]
    lines += ["", f"Capacity: {cost_line(report.capacity)}"]
    lines += [sentence + (f": {command}" if command else "") for sentence, command in promotion_lines(report)]
    retention = state_retention_line(report, output)
    if retention:
        lines.append(retention)
    # The written report's line when there is one: it counted the answers' tokens in evaluation.json
    lines.append(f"Estimated cost: {output.cost if output is not None and output.cost else cost_summary(report.cost)}")
    if report.next_steps:
        lines += ["", "What next:", *next_step_lines(report.next_steps)]
    if output is not None:
        lines += [
            "",
            "Report:",
            f"  s3://{bucket}/{output.html_key}",
            f"  s3://{bucket}/{output.markdown_key}",
            f"  s3://{bucket}/{output.report_key}",
        ]
    else:
        lines += ["", "The report could not be written; see the execution's history for details."]
    return "\n".join(lines)


def notify(
    state: RunState, *, sns: Any, topic_arn: str, bucket: str, ended: ExecutionEnd | None = None
) -> NotifyOutput:
    """Publish the run's outcome. The summary is built from the state alone, so it goes out even if the report
    could not be written."""
    if not topic_arn:
        return NotifyOutput(message_id=None)
    report = build_report(state, now=utc_now(), ended=ended)
    if state.write_report is not None:  # its headline's cost counted the answers' tokens, which the state lacks
        report = report.model_copy(update={"headline": state.write_report.summary})
    with service_call(f"publishing to {topic_arn}"):
        response = sns.publish(
            TopicArn=topic_arn,
            Subject=notification_subject(report),
            Message=notification_message(report, bucket=bucket, output=state.write_report)
            + promotion_outcome(state)
            + retention_outcome(state),
            MessageAttributes={
                "status": {"DataType": "String", "StringValue": report.status.value},
                "run_id": {"DataType": "String", "StringValue": report.run.run_id},
            },
        )
    return NotifyOutput(message_id=response.get("MessageId"))
