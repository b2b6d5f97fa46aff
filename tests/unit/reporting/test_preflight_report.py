"""A run rejected by Preflight: REJECTED (not FAILED), every reason and fix in the report and the notification, and
a clean-up that says nothing was bought."""

from __future__ import annotations

from lambdas.contracts import CheckStatus, PreflightCheck, PreflightOutput, RunState, RunStatus, StateError
from lambdas.reporting.build import build_report, run_status
from lambdas.reporting.publish import notification_message, notification_subject
from lambdas.reporting.render import render_html, render_markdown
from tests.unit.reporting.reporting_states import T0, run_config, validated

QUOTA_FAILURE = PreflightCheck(
    check="quota",
    subject="Model units no-commitment Provisioned Throughputs across custom models (L-BE77399C)",
    status=CheckStatus.FAILED,
    message="Model units no-commitment Provisioned Throughputs across custom models (L-BE77399C) is 0, but the run "
    "buys a no-commitment throughput of 1 model unit(s) for the fine-tuned model: it needs 1",
    fix="request an increase in the Service Quotas console (Amazon Bedrock, this region)",
)
UNREAD = PreflightCheck(
    check="quota",
    subject="concurrent model customization jobs",
    status=CheckStatus.WARNING,
    message="could not be read: no quota named like it",
    fix="check it in the Service Quotas console",
)
ACCESS = PreflightCheck(
    check="model-access", subject="base model x", status=CheckStatus.PASSED, message="authorized, entitled"
)


def _preflight(*checks: PreflightCheck) -> PreflightOutput:
    return PreflightOutput(
        passed=all(check.status is not CheckStatus.FAILED for check in checks),
        region="us-west-2",
        checks=list(checks),
        checked_at=T0,
    )


def _rejected() -> RunState:
    return RunState(run=run_config(), validate_dataset=validated(), preflight=_preflight(ACCESS, UNREAD, QUOTA_FAILURE))


def test_a_failed_check_rejects_the_run_and_says_why_and_what_to_do() -> None:
    report = build_report(_rejected(), now=T0)
    assert report.status is RunStatus.REJECTED
    assert report.headline == f"rejected before any spend: {QUOTA_FAILURE.message}"
    assert report.failure is not None
    (failure,) = report.failure.failures  # the valid dataset is not listed as a failure
    assert (failure.step, failure.error) == ("Preflight", "PreflightRejected")
    assert failure.message == f"[quota] {QUOTA_FAILURE.subject}: {QUOTA_FAILURE.message}. Fix: {QUOTA_FAILURE.fix}"
    assert report.failure.cleanup == [
        "No customization job was started: nothing was billed for training.",
        "No inference capacity was bought.",
    ]
    assert report.preflight is not None
    assert report.preflight.failures == [QUOTA_FAILURE]


def test_warnings_alone_do_not_reject_and_a_crashed_preflight_is_a_failure() -> None:
    warned = RunState(run=run_config(), validate_dataset=validated(), preflight=_preflight(ACCESS, UNREAD))
    assert run_status(warned) is not RunStatus.REJECTED
    crashed = RunState(
        run=run_config(),
        validate_dataset=validated(),
        errors={"Preflight": StateError(Error="TransientServiceError", Cause="throttled")},
    )
    assert run_status(crashed) is RunStatus.FAILED


def test_every_check_is_in_the_markdown_and_html_failures_first() -> None:
    report = build_report(_rejected(), now=T0)
    markdown = render_markdown(report)
    section = markdown[markdown.index("## Preflight") :]
    rows = [line for line in section.splitlines() if line.startswith("| FAILED") or line.startswith("| WARNING")]
    assert rows[0].startswith("| FAILED | quota |")
    assert QUOTA_FAILURE.fix in rows[0]
    assert rows[1].startswith("| WARNING | quota | concurrent model customization jobs")
    assert "| PASSED | model-access | base model x |" in section
    html = render_html(report)
    assert "<h2>Preflight</h2>" in html
    assert html.index("preflight-failed") < html.index("preflight-warning") < html.index("preflight-passed")


def test_the_notification_gives_each_reason_with_its_fix_and_the_warnings() -> None:
    report = build_report(_rejected(), now=T0)
    subject = notification_subject(report)
    assert subject.startswith("Fine-tuning faq-20260301-0900 REJECTED: rejected before any spend: Model units")
    assert len(subject) <= 100
    message = notification_message(report, bucket="data-bucket", output=None)
    assert "errors; nothing was sent" not in message  # not the invalid-dataset wording
    assert f"  Preflight (PreflightRejected): [quota] {QUOTA_FAILURE.subject}" in message
    assert f"Fix: {QUOTA_FAILURE.fix}" in message
    assert "No inference capacity was bought." in message
    assert f"  {UNREAD.subject}: {UNREAD.message}" in message
