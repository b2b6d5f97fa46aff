"""Assemble the run report from the state document and the artefacts the steps wrote to S3."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from lambdas.contracts import RunState, RunStatus, StateError, StateName
from lambdas.evaluation.results import EvaluationResult
from lambdas.lifecycle.metrics import LossPoint, TrainingMetrics, epoch_means
from lambdas.pricing import epochs_of, fmt_usd
from lambdas.reporting.costs import run_costs
from lambdas.reporting.loss import diagnose
from lambdas.reporting.model import (
    CapacitySection,
    DatasetSection,
    EvaluationSection,
    ExecutionEnd,
    FailureSection,
    JobSection,
    LossSection,
    PromotionSection,
    Report,
    RunSection,
    StepFailure,
)
from lambdas.reporting.what_next import (
    NOT_DELETED,
    custom_model_section,
    delete_capacity_command,
    next_steps,
    undeleted_capacity,
)

ENDED_BADLY = ("Failed", "Stopped", "Stopping")
_STEP_ORDER = [name.value for name in StateName]


def run_status(state: RunState) -> RunStatus:
    """REJECTED: the dataset was invalid, or a preflight check failed (before any Bedrock create call). FAILED: a step
    failed, the job did not complete, or capacity failed."""
    if state.validate_dataset is not None and not state.validate_dataset.valid:
        return RunStatus.REJECTED
    if state.preflight is not None and not state.preflight.passed:
        return RunStatus.REJECTED
    if _step_errors(state):
        return RunStatus.FAILED
    if state.poll_customization_job is not None and state.poll_customization_job.status in ENDED_BADLY:
        return RunStatus.FAILED
    if state.poll_inference_capacity is not None and state.poll_inference_capacity.failed:
        return RunStatus.FAILED
    if state.summarize_evaluation is None:  # no step failed, yet the run never reached its evaluation
        return RunStatus.FAILED
    return RunStatus.SUCCEEDED


def _step_errors(state: RunState) -> dict[str, StateError]:
    # A failed Notify cannot be in its own report; every other entry is a step that failed.
    return {step: error for step, error in state.errors.items() if step != StateName.NOTIFY.value}


def error_message(error: StateError) -> tuple[str, str]:
    """(error type, message) from a Catch's ``{"Error", "Cause"}``; a Lambda's Cause is JSON with errorMessage."""
    cause = error.cause or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and ("errorMessage" in parsed or "errorType" in parsed):
        return str(parsed.get("errorType") or error.error), str(parsed.get("errorMessage") or "").strip()
    return error.error, cause.strip()


def parse_training_metrics(document: Any) -> TrainingMetrics | None:
    """``RunPaths.training_metrics``, read strictly when it matches TrainingMetrics and leniently otherwise.

    The lenient path accepts ``{"training": [{"step","epoch","loss"}], "validation": [...]}`` and skips points it
    cannot read, so a report is never lost to a metrics file it only partly understands.
    """
    if not isinstance(document, dict):
        return None
    try:
        return TrainingMetrics.model_validate(document)
    except ValidationError:
        pass

    def points(name: str) -> list[LossPoint]:
        out: list[LossPoint] = []
        raw = document.get(name)
        for entry in raw if isinstance(raw, list) else []:
            try:
                out.append(LossPoint.model_validate(entry))
            except ValidationError:
                continue
        return sorted(out, key=lambda point: point.step)

    return TrainingMetrics.from_series(points("training"), points("validation"))


def build_report(
    state: RunState,
    *,
    now: datetime,
    training_metrics: TrainingMetrics | None = None,
    evaluation: EvaluationResult | None = None,
    ended: ExecutionEnd | None = None,
) -> Report:
    """``ended`` is set by the execution cleanup when the execution stopped before its own report step."""
    status = RunStatus.ABORTED if ended is not None else run_status(state)
    run = state.run
    spec = run.settings.model
    capacity = _capacity(state)
    custom_model = custom_model_section(state, stopped=ended is not None)
    report = Report(
        status=status,
        headline="",
        generated_at=now,
        run=RunSection(
            run_id=run.run_id,
            source=f"s3://{run.bucket}/{run.source_key}",
            source_version=run.source_version,
            received_at=run.received_at,
            stack_name=run.stack_name,
            base_model_id=spec.model_id,
            base_model_name=spec.display_name,
            base_inference_model_id=(
                state.plan_evaluation.base_invocation_id if state.plan_evaluation else spec.base_invocation_id(None)
            ),
            serving=run.serving,
            emulated=run.emulated,
            settings=run.settings.model_dump(mode="json"),
            overrides=run.overrides,
            reevaluation=run.reevaluation,
        ),
        dataset=_dataset(state),
        job=_job(state, retention=custom_model.retention if custom_model is not None else None),
        hyperparameters=dict(state.start_customization_job.hyperparameters) if state.start_customization_job else {},
        loss=_loss(training_metrics),
        verdict=evaluation.verdict if evaluation is not None else None,
        evaluation=_evaluation(state, evaluation),
        capacity=capacity,
        cost=run_costs(state, evaluation, capacity),
        preflight=state.preflight,
        failure=_aborted(state, ended) if ended is not None else _failure(state, status),
        custom_model=custom_model,
        promotion=_promotion(state) if ended is None else None,
    )
    summary = state.summarize_evaluation
    verdict_line = (
        f"{summary.outcome.replace('_', ' ')}: {summary.reason}"
        if report.verdict is None and summary is not None and status is RunStatus.SUCCEEDED
        else None
    )
    return report.model_copy(
        update={"headline": headline(report, verdict_line=verdict_line), "next_steps": next_steps(state, report)}
    )


def _promotion(state: RunState) -> PromotionSection | None:
    """The decision the Promote step (after this report) carries out, so the report can say it."""
    from lambdas.serving.run_promotion import promotion_decision

    if state.summarize_evaluation is None or state.custom_model_arn is None:
        return None
    decided = promotion_decision(state)
    return PromotionSection(
        policy=state.run.settings.promotion,
        decision=decided.decision,
        eligible=decided.eligibility.eligible,
        reason=decided.eligibility.reason,
        command=decided.command,
        champion_run_id=state.run.champion.run_id if state.run.champion else None,
    )


def _dataset(state: RunState) -> DatasetSection | None:
    result = state.validate_dataset
    if result is None:
        return None
    return DatasetSection(
        valid=result.valid,
        records=result.records,
        error_count=result.error_count,
        warning_count=result.warning_count,
        first_errors=list(result.first_errors),
        validation_report_key=result.report_key,
        prepared_from_raw_qa=result.prepared_from_raw_qa,
        read_as=result.read_as,
        gzip=result.gzip,
        train_records=result.train_records,
        validation_records=result.validation_records,
        test_records=result.test_records,
        estimated_training_tokens=result.estimated_training_tokens,
        epochs=epochs_of(state.run.settings) if result.estimated_training_tokens is not None else None,
        validation_dropped=result.validation_dropped,
    )


def _job(state: RunState, *, retention: str | None) -> JobSection | None:
    started = state.start_customization_job
    if started is None:
        return None
    poll = state.poll_customization_job
    return JobSection(
        name=started.job_name,
        arn=started.job_arn,
        custom_model_name=started.custom_model_name,
        custom_model_arn=poll.custom_model_arn if poll else None,
        status=poll.status if poll else None,
        failure_message=poll.failure_message if poll else None,
        started_at=started.started_at,
        last_checked_at=poll.checked_at if poll else None,
        ended_at=poll.ended_at if poll else None,
        duration_seconds=(
            max((poll.ended_at - started.started_at).total_seconds(), 0.0) if poll and poll.ended_at else None
        ),
        retention=retention if poll is not None and poll.custom_model_arn else None,
    )


def _loss(metrics: TrainingMetrics | None) -> LossSection:
    if metrics is None:
        return LossSection()
    return LossSection(
        training=list(metrics.training),
        validation=list(metrics.validation),
        training_epoch_means=list(metrics.training_epoch_means or epoch_means(metrics.training)),
        validation_epoch_means=list(metrics.validation_epoch_means or epoch_means(metrics.validation)),
        diagnosis=diagnose(metrics.training, metrics.validation),
    )


def _evaluation(state: RunState, result: EvaluationResult | None) -> EvaluationSection | None:
    if result is not None:
        return EvaluationSection(
            evaluation_key=state.run.paths.evaluation,
            base_model_id=result.base_model_id,
            fine_tuned_model_id=result.fine_tuned_model_id,
            bertscore_model=result.bertscore_model,
            bertscore_num_layers=result.bertscore_num_layers,
            judge_model_id=result.judge_model_id,
            base=result.base,
            fine_tuned=result.fine_tuned,
            items=list(result.items),
            judge_prompt_version=result.judge_prompt_version,
            evaluation_set=result.evaluation_set,
            leaked_questions=list(result.leaked_questions),
            pairwise=result.pairwise,
            warnings=list(result.warnings),
            champion=result.champion,
        )
    output = state.summarize_evaluation
    if output is None:
        return None
    # The summary in the state survives even if evaluation.json could not be read.
    return EvaluationSection(
        evaluation_key=output.evaluation_key,
        base_model_id=(
            state.plan_evaluation.base_invocation_id
            if state.plan_evaluation
            else state.run.settings.model.base_invocation_id(None)
        ),
        fine_tuned_model_id=state.create_inference_capacity.arn if state.create_inference_capacity else "",
        bertscore_model=output.bertscore_model,
        judge_model_id=output.judge_model_id,
        base=output.base,
        fine_tuned=output.fine_tuned,
    )


def _capacity(state: RunState) -> CapacitySection | None:
    created = state.create_inference_capacity
    deleted = state.delete_inference_capacity
    if created is None and (deleted is None or deleted.arn is None):
        return None
    section = CapacitySection(
        kind=created.kind if created else deleted.kind if deleted else None,
        arn=created.arn if created else deleted.arn if deleted else None,
        name=created.name if created else None,
        model_units=created.model_units if created else None,
        created_at=created.created_at if created else None,
    )
    if deleted is not None:
        section = section.model_copy(
            update={
                "deleted": deleted.deleted,
                "already_gone": deleted.already_gone,
                "deleted_at": deleted.deleted_at,
                "lifetime_seconds": deleted.lifetime_seconds,
                "estimated_cost_usd": deleted.estimated_cost_usd,  # whole started hours, as Bedrock bills
            }
        )
    return section


def _failure(state: RunState, status: RunStatus) -> FailureSection | None:
    if status is RunStatus.SUCCEEDED:
        return None
    failures: list[StepFailure] = []
    errors = _step_errors(state)
    for step in sorted(errors, key=lambda name: _STEP_ORDER.index(name) if name in _STEP_ORDER else len(_STEP_ORDER)):
        kind, message = error_message(errors[step])
        failures.append(StepFailure(step=step, error=kind, message=message or "(no message)"))
    poll = state.poll_customization_job
    if poll is not None and poll.status in ENDED_BADLY:
        failures.append(
            StepFailure(
                step=StateName.POLL_CUSTOMIZATION_JOB.value,
                error=f"CustomizationJob{poll.status}",
                message=poll.failure_message or f"the customization job ended {poll.status}",
            )
        )
    capacity = state.poll_inference_capacity
    if capacity is not None and capacity.failed:
        failures.append(
            StepFailure(
                step=StateName.POLL_INFERENCE_CAPACITY.value,
                error="CapacityFailed",
                message=capacity.failure_message or "the inference capacity reached Failed",
            )
        )
    if status is RunStatus.REJECTED and state.validate_dataset is not None and not state.validate_dataset.valid:
        result = state.validate_dataset
        failures.insert(
            0,
            StepFailure(
                step=StateName.VALIDATE_DATASET.value,
                error="DatasetRejected",
                message=f"{result.error_count} error(s) in {result.records} record(s); see {result.report_key}",
            ),
        )
    if status is RunStatus.REJECTED and state.preflight is not None and not state.preflight.passed:
        failures[:0] = [
            StepFailure(
                step=StateName.PREFLIGHT.value,
                error="PreflightRejected",
                message=f"[{check.check}] {check.subject}: {check.message}"
                + (f". Fix: {check.fix}" if check.fix else ""),
            )
            for check in state.preflight.failures
        ]
    if not failures:
        failures.append(
            StepFailure(step="(run)", error="Incomplete", message="the run ended before its evaluation step ran")
        )
    return FailureSection(failures=failures, cleanup=_cleanup(state))


def _aborted(state: RunState, ended: ExecutionEnd) -> FailureSection:
    how = {"ABORTED": "was stopped", "TIMED_OUT": "timed out"}.get(ended.status, f"ended {ended.status}")
    where = f" in {ended.step}" if ended.step else ""
    message = f"the execution {how}{where}" + (f": {ended.cause}" if ended.cause else "")
    failure = StepFailure(
        step=ended.step or "(execution)", error=ended.error or f"Execution{ended.status}", message=message
    )
    return FailureSection(failures=[failure], cleanup=list(ended.cleanup) or _cleanup(state))


def _cleanup(state: RunState) -> list[str]:
    lines: list[str] = []
    job = state.start_customization_job
    poll = state.poll_customization_job
    if state.run.is_reevaluation:
        lines.append("No training: a re-evaluation starts no customization job.")
    elif job is None:
        lines.append("No customization job was started: nothing was billed for training.")
    elif poll is None or poll.status == "InProgress":
        lines.append(
            f"Customization job {job.job_name} had not finished; the execution-cleanup function stops it when the "
            "execution ends."
        )
    deleted = state.delete_inference_capacity
    delete_error = state.errors.get(StateName.DELETE_INFERENCE_CAPACITY.value)
    undeleted = undeleted_capacity(state)
    if undeleted is not None:
        kind, arn = undeleted
        reason = f" ({error_message(delete_error)[1]})" if delete_error else ""
        lines.append(
            f"{NOT_DELETED}: {arn}{reason}. It bills until deleted: the sweeper deletes expired capacity of this "
            f"stack; delete it now with: {delete_capacity_command(kind, arn)}"
        )
    elif deleted is not None and deleted.deleted:
        what = f"{deleted.kind.value if deleted.kind else 'capacity'} {deleted.arn}"
        lines.append(f"{what} was already gone." if deleted.already_gone else f"Deleted {what}.")
    else:
        lines.append("No inference capacity was bought.")
    return lines


def headline(report: Report, *, verdict_line: str | None = None) -> str:
    """One line for the notification subject and the Fail state's cause: the verdict first when there is one
    (``verdict_line`` is the state's copy of it, for the notification, which does not read evaluation.json)."""
    if report.status is RunStatus.REJECTED and report.preflight is not None and not report.preflight.passed:
        failed = report.preflight.failures
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"rejected before any spend: {failed[0].message}{more}" if failed else "rejected before any spend"
    if report.status is RunStatus.REJECTED and report.run.reevaluation is not None:
        first = report.dataset.first_errors[0] if report.dataset and report.dataset.first_errors else None
        return "re-evaluation request rejected" + (f": {first.message}" if first else "")
    if report.status is RunStatus.REJECTED:
        count = report.dataset.error_count if report.dataset else 0
        first = report.dataset.first_errors[0] if report.dataset and report.dataset.first_errors else None
        where = (
            f" (first: line {first.line}: {first.message})"
            if first and first.line
            else f" ({first.message})"
            if first
            else ""
        )
        return f"dataset rejected: {count} error(s){where}"
    if report.status is RunStatus.FAILED:
        failure = report.failure.failures[0] if report.failure and report.failure.failures else None
        return f"failed at {failure.step}: {failure.message}" if failure else "failed"
    if report.status is RunStatus.ABORTED:
        failure = report.failure.failures[0] if report.failure and report.failure.failures else None
        cleaned = "; ".join(report.failure.cleanup) if report.failure else ""
        return (f"aborted: {failure.message}" if failure else "aborted") + (f"; {cleaned}" if cleaned else "")
    parts: list[str] = []
    if report.verdict is not None:
        verdict_line = f"{report.verdict.outcome.value.replace('_', ' ')}: {report.verdict.reason}"
    if verdict_line is not None:
        parts.append(verdict_line)
    elif report.evaluation is not None:
        tuned, base = report.evaluation.fine_tuned, report.evaluation.base
        if tuned.bertscore_f1 is not None and base.bertscore_f1 is not None:
            parts.append(f"BERTScore F1 {tuned.bertscore_f1:.2f} vs base {base.bertscore_f1:.2f}")
        if tuned.judge_mean is not None and base.judge_mean is not None:
            parts.append(f"judge {tuned.judge_mean:.1f} vs {base.judge_mean:.1f}")
    if report.cost is not None and report.cost.total_usd is not None:
        parts.append(f"est. cost {'at least ' if not report.cost.complete else ''}{fmt_usd(report.cost.total_usd)}")
    elif report.capacity is not None and report.capacity.estimated_cost_usd is not None:
        parts.append(f"capacity ~${report.capacity.estimated_cost_usd:,.2f}")
    if verdict_line is not None:
        return "; ".join(parts)
    return "fine-tuned: " + "; ".join(parts) if parts else "succeeded"
