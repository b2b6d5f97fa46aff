"""The report's "What next": after a run that failed, or whose verdict is not ``improved``, what to do now, with the
run's own values in every sentence and the command that does it.

The steps are data (``NextStep``), so report.json carries them and the Markdown, the HTML and the notification show
the same ones. They point at what the report already says instead of saying it twice: a rejected run's problems and
preflight fixes are under "What went wrong", and What next adds the command that starts again.

    capacity the clean-up could not delete  delete it (first: it bills by the hour)
    rejected                                fix what went wrong, drop the dataset again (a re-evaluation: send again)
    failed before a custom model existed    the job's failure message, or the failed step; fix it, drop again
    failed or stopped with a custom model   evaluate it again without training, once the cause is fixed
    inconclusive: the judge's coverage      fix access to that judge, evaluate again: no training needed
    too few questions                       evaluate again on a larger fixed set (``--test-set``), how many it needs
    regressed, or no clear gain             what to change before training again (never said of a re-evaluation)
    and whenever a custom model exists      what keeping it costs per month and how to delete it, or that
                                            ``custom_model_retention`` deletes it (evaluating again means training)
    improved                                nothing
"""

from __future__ import annotations

import shlex

from lambdas.contracts import RunState, RunStatus
from lambdas.evaluation.verdict import DISPLAY, MetricName, MetricStatistics, Outcome
from lambdas.lifecycle.retention import retention_decision
from lambdas.pricing import fmt_usd, run_region
from lambdas.registry import Serving
from lambdas.reporting.costs import ENDED_EARLY, part_label, storage_per_month
from lambdas.reporting.model import CustomModelSection, NextStep, NextStepKind, Report

REEVALUATE = "python -m tuner evaluate"
STORAGE_PRICE_UNKNOWN = "storage price unknown"
LARGER_TEST_SET = "eval/FILE.jsonl"  # a placeholder the reader replaces: the key of the set they upload
NOT_DELETED = "NOT DELETED"  # how the clean-up's line about capacity that still bills begins
_OUTCOMES = {outcome.value: outcome for outcome in Outcome}


# -------------------------------------------------------------------------------------------------- the model


def custom_model_arn(state: RunState) -> str | None:
    """The run's custom model: the one a re-evaluation names, else the one its customization job created."""
    if state.run.reevaluation is not None:
        return state.run.reevaluation.custom_model_arn or None
    poll = state.poll_customization_job
    return poll.custom_model_arn if poll is not None else None


def custom_model_section(state: RunState, *, stopped: bool) -> CustomModelSection | None:
    """The custom model, what becomes of it after the report and what keeping it costs; ``stopped``: the execution
    ended before its own report step, so the ApplyRetention step never runs and the model stays."""
    arn = custom_model_arn(state)
    if arn is None:
        return None
    decision = retention_decision(state)
    deleted = False
    if decision.custom_model_arn != arn:  # custom_model_retention applies to the model a run trains
        retention = "kept: a re-evaluation never deletes the model it evaluates (the run that trained it decides)"
    elif stopped:
        would = f" (which would have deleted it: {decision.reason})" if decision.delete else ""
        retention = f"kept: the run was stopped before its retention step{would}"
    elif decision.delete:
        retention, deleted = f"deleted right after this report: {decision.reason}", True
    else:
        retention = f"kept, and billed for storage every month until you delete it: {decision.reason}"
    storage = storage_per_month(state, arn)
    label = part_label(storage) if storage.usd is not None else STORAGE_PRICE_UNKNOWN
    reevaluation = state.run.reevaluation
    return CustomModelSection(
        arn=arn,
        trained_by_run=reevaluation.source_run_id if reevaluation is not None else state.run.run_id,
        deleted_after_report=deleted,
        retention=retention,
        storage_usd_per_month=storage.usd,
        storage_label=f"EMULATED: {label}" if state.run.emulated else label,
    )


# ----------------------------------------------------------------------------------------------- the commands


def _region(state: RunState) -> str | None:
    job = state.start_customization_job
    capacity = state.create_inference_capacity
    return run_region(
        state.run.settings.model,
        custom_model_arn(state),
        job.job_arn if job else None,
        capacity.arn if capacity else None,
    )


def reevaluate_command(state: RunState, arn: str, *, test_set: str | None = None) -> str:
    """``python -m tuner evaluate``: the custom model evaluated again, without training, on the run's questions (the
    training run's test split, or the fixed set it used) or on ``test_set``."""
    run = state.run
    source = run.reevaluation.source_run_id if run.reevaluation is not None else run.run_id
    options = [("--custom-model", arn)]
    if source:
        options.append(("--run", source))
    options.append(("--bucket", run.bucket))
    region = _region(state)
    if region:
        options.append(("--region", region))
    questions = test_set or run.settings.evaluation.test_set  # the same questions, unless told otherwise
    if questions:
        options.append(("--test-set", questions))
    return _shell(REEVALUATE, options)


def delete_model_command(state: RunState, arn: str) -> str:
    region = _region(state)
    return _shell(
        "aws bedrock delete-custom-model", [("--model-identifier", arn), *([("--region", region)] if region else [])]
    )


def drop_again_command(state: RunState) -> str:
    """Uploading the dataset again under the same key: a new object version, so a new run."""
    run = state.run
    name = run.source_key.rsplit("/", 1)[-1]
    return " ".join(["aws s3 cp", shlex.quote(name), shlex.quote(f"s3://{run.bucket}/{run.source_key}")])


def delete_capacity_command(kind: Serving | None, arn: str) -> str:
    if kind is Serving.CUSTOM_MODEL_DEPLOYMENT:
        return f"aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {arn}"
    return f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {arn}"


def undeleted_capacity(state: RunState) -> tuple[Serving | None, str] | None:
    """(kind, ARN) of inference capacity the run bought and did not delete, or None."""
    created = state.create_inference_capacity
    deleted = state.delete_inference_capacity
    if created is None and (deleted is None or deleted.arn is None):
        return None
    if deleted is not None and deleted.deleted:
        return None
    arn = created.arn if created else deleted.arn if deleted else None
    kind = created.kind if created else deleted.kind if deleted else None
    return kind, arn or "(unknown)"


def _shell(program: str, options: list[tuple[str, str]]) -> str:
    """``program --flag value ...``, each value quoted only where the shell needs it (ARNs and ids do not)."""
    return " ".join([program, *(f"{flag} {shlex.quote(value)}" for flag, value in options)])


# -------------------------------------------------------------------------------------------------- the steps


def next_steps(state: RunState, report: Report) -> list[NextStep]:
    """What next, by the table in this module's docstring; empty for an improved run."""
    steps: list[NextStep] = []
    capacity = undeleted_capacity(state)
    cleanup = report.failure.cleanup if report.failure is not None else []
    if capacity is not None and any(line.startswith(NOT_DELETED) for line in cleanup):
        kind, arn = capacity
        what = kind.value if kind else "inference capacity"
        steps.append(
            NextStep(
                kind=NextStepKind.DELETE_CAPACITY,
                text=f"Delete {what} {arn} first: it was not deleted, and it bills every hour until it is gone.",
                command=delete_capacity_command(kind, arn),
            )
        )
    model = report.custom_model
    if report.status is RunStatus.REJECTED:
        return [*steps, _rejected(state, report)]
    if report.failure is not None:  # failed, or stopped by hand
        if model is None:
            return steps + ([_failed_untrained(state, report)] if report.status is RunStatus.FAILED else [])
        steps.append(_failed_trained(state, report, model))
    else:
        outcome = _outcome(state, report)
        if outcome is Outcome.IMPROVED or outcome is None:
            return steps
        steps += _verdict_steps(state, report, outcome, model)
    if model is not None:
        steps += _model_steps(state, model)
    return steps


def _rejected(state: RunState, report: Report) -> NextStep:
    reevaluation = state.run.reevaluation
    if reevaluation is not None:
        arn = reevaluation.custom_model_arn or "CUSTOM_MODEL_ARN"
        command = reevaluate_command(state, arn)
        if not reevaluation.source_run_id and not state.run.settings.evaluation.test_set:
            command += " --run RUN_ID"
        return NextStep(
            kind=NextStepKind.FIX_REQUEST,
            text="Nothing was bought. Fix the re-evaluation request as What went wrong says, then send it again:",
            command=command,
        )
    preflight = report.preflight
    if preflight is not None and not preflight.passed:
        checks = ", ".join(dict.fromkeys(check.check for check in preflight.failures)) or "preflight"
        what = f"Do what the failed preflight check ({checks}) says under What went wrong"
    else:
        data = report.dataset
        count = data.error_count if data is not None else 0
        where = f"; every one, with its line, in {_s3(state, data.validation_report_key)}" if data is not None else ""
        what = f"Fix the {count} problem(s) in the dataset (listed under Dataset{where})"
    return NextStep(
        kind=NextStepKind.FIX_AND_DROP_AGAIN,
        text=f"Nothing was bought. {what}, then drop the dataset again:",
        command=drop_again_command(state),
    )


def _failed_untrained(state: RunState, report: Report) -> NextStep:
    poll = state.poll_customization_job
    if poll is not None and poll.status in ENDED_EARLY:
        message = (poll.failure_message or "Bedrock gave no failure message").strip().rstrip(".")
        text = (
            f"The customization job ended {poll.status}: {message}. Fix that in the dataset or the settings, "
            "then drop the dataset again:"
        )
    else:
        failed = report.failure.failures[0].step if report.failure and report.failure.failures else "a step"
        text = f"No custom model was created. Fix what went wrong at {failed}, then drop the dataset again:"
    return NextStep(kind=NextStepKind.FIX_AND_DROP_AGAIN, text=text, command=drop_again_command(state))


def _failed_trained(state: RunState, report: Report, model: CustomModelSection) -> NextStep:
    failed = report.failure.failures[0].step if report.failure and report.failure.failures else "a step"
    stopped = report.status is RunStatus.ABORTED
    if state.run.is_reevaluation:
        how = "was stopped" if stopped else f"failed at {failed}"
        first = f"The re-evaluation {how}. " + ("To finish it" if stopped else "Once the cause above is fixed")
        return NextStep(kind=NextStepKind.REEVALUATE, text=f"{first}, run it again:", command=_reevaluate(state, model))
    how = "The run was stopped" if stopped else f"The run failed at {failed}"
    if model.deleted_after_report:
        return NextStep(
            kind=NextStepKind.FIX_AND_DROP_AGAIN,
            text=f"{how} after training had completed, but the custom model is deleted after this report: once the "
            "cause is fixed, drop the dataset again to train again:",
            command=drop_again_command(state),
        )
    then = "To finish the evaluation" if stopped else "Once the cause above is fixed"
    return NextStep(
        kind=NextStepKind.REEVALUATE,
        text=f"{how} after training had completed, so the custom model need not be trained again. {then}, evaluate "
        "it again:",
        command=_reevaluate(state, model),
    )


def _outcome(state: RunState, report: Report) -> Outcome | None:
    if report.verdict is not None:
        return report.verdict.outcome
    summary = state.summarize_evaluation  # the notification reads no evaluation.json: the state's copy of the outcome
    return _OUTCOMES.get(summary.outcome) if summary is not None else None


def _primary(report: Report) -> MetricStatistics | None:
    verdict = report.verdict
    if verdict is None:
        return None
    return next((stats for stats in verdict.metrics if stats.name == verdict.primary_metric), None)


def _verdict_steps(
    state: RunState, report: Report, outcome: Outcome, model: CustomModelSection | None
) -> list[NextStep]:
    settings = state.run.settings.evaluation
    verdict = report.verdict
    stats = _primary(report)
    if outcome is Outcome.REGRESSED:
        return _change_training(state, report, "The fine-tuned model did worse than its base model.")
    if verdict is None or stats is None:
        # No verdict to read (the notification's case, or a metric that was not measured): its reason says why.
        words = outcome.value.replace("_", " ")
        return [_again(state, model, f"The verdict is {words}: its reason above says why.")]
    display = DISPLAY.get(stats.name)
    judged = display is not None and display.judged
    if outcome is Outcome.INCONCLUSIVE and judged and stats.coverage < settings.min_judge_coverage:
        return [_judge_step(state, report, stats, model)]
    too_few = stats.n < settings.min_items if outcome is Outcome.INCONCLUSIVE else verdict.questions_needed is not None
    if too_few:
        return [_more_questions(state, stats, verdict.questions_needed, model)]
    if outcome is Outcome.NO_CLEAR_DIFFERENCE:
        return _change_training(state, report, f"Fine-tuning made no clear difference on {stats.n} questions.")
    return [_again(state, model, f"No verdict was reached: {verdict.reason}.")]


def _judge_step(state: RunState, report: Report, stats: MetricStatistics, model: CustomModelSection | None) -> NextStep:
    judge = (report.evaluation.judge_model_id if report.evaluation else None) or (
        state.run.settings.evaluation.judge_model_id
    )
    which = "pairwise judge" if stats.name == MetricName.PAIRWISE_PREFERENCE else "judge"
    first = " ".join((stats.first_error or "").split())[:200].rstrip(".")
    error = f" (first error: {first})" if first else ""
    said = f"The {which} {judge} scored only {stats.n} of {stats.asked} questions{error}: fix access to that judge."
    then = "Then evaluating the same custom model again is enough, without training:"
    return _again(state, model, said, kind=NextStepKind.FIX_JUDGE, then=then)


def _more_questions(
    state: RunState, stats: MetricStatistics, needed: int | None, model: CustomModelSection | None
) -> NextStep:
    settings = state.run.settings.evaluation
    target = needed or settings.min_items
    if needed is not None:
        said = f"{stats.n} questions are too few to show a difference: about {needed} are needed."
    else:
        said = f"Only {stats.n} questions were scored on both models; a verdict needs at least {settings.min_items}."
    bucket = state.run.bucket
    cap = (
        f" (and raise evaluation.max_test_records, now {settings.max_test_records}, to at least {target})"
        if target > settings.max_test_records
        else ""
    )
    upload = f"Upload at least {target} questions to s3://{bucket}/{LARGER_TEST_SET}{cap}"
    if model is None or model.deleted_after_report:
        text = (
            f"{said} {upload}, set evaluation.test_set to {LARGER_TEST_SET} and train again: the custom model is "
            "deleted after this report."
        )
        return NextStep(kind=NextStepKind.MORE_QUESTIONS, text=text)
    return NextStep(
        kind=NextStepKind.MORE_QUESTIONS,
        text=f"{said} {upload}, then evaluate the same custom model on them, without training:",
        command=reevaluate_command(state, model.arn, test_set=LARGER_TEST_SET),
    )


def _change_training(state: RunState, report: Report, said: str) -> list[NextStep]:
    if state.run.is_reevaluation:
        return []  # a re-evaluation trains nothing: what to change about training is its source run's business
    parameters = report.hyperparameters
    epochs = f" (this run: {parameters['epochCount']})" if "epochCount" in parameters else ""
    rate_name = next((name for name in ("learningRate", "learningRateMultiplier") if name in parameters), None)
    rate = f" (this run: {rate_name} {parameters[rate_name]})" if rate_name else ""
    return [
        NextStep(
            kind=NextStepKind.CHANGE_TRAINING,
            text=f"{said} Before training again, try more (or more varied) training data, fewer epochs{epochs} or a "
            f"lower learning rate{rate}.",
        )
    ]


def _again(
    state: RunState,
    model: CustomModelSection | None,
    said: str,
    *,
    kind: NextStepKind = NextStepKind.REEVALUATE,
    then: str = "Evaluate the same custom model again, without training:",
) -> NextStep:
    """``said``, then how to evaluate again: the custom model without training, or (deleted) a new training run."""
    if model is not None and not model.deleted_after_report:
        return NextStep(kind=kind, text=f"{said} {then}", command=_reevaluate(state, model))
    return NextStep(
        kind=kind,
        text=f"{said} The custom model is deleted after this report, so evaluating again means training again: "
        "drop the dataset again:",
        command=drop_again_command(state),
    )


def _reevaluate(state: RunState, model: CustomModelSection) -> str:
    return reevaluate_command(state, model.arn)


def _model_steps(state: RunState, model: CustomModelSection) -> list[NextStep]:
    if model.deleted_after_report:
        return [
            NextStep(
                kind=NextStepKind.MODEL_DELETED,
                text=f"Custom model {model.arn} is {model.retention}; evaluating it again would mean training again.",
            )
        ]
    if model.storage_usd_per_month is not None:
        cost = f": keeping it costs {fmt_usd(model.storage_usd_per_month)} per month ({model.storage_label})"
    else:
        cost = f" and is billed for storage every month until you delete it ({model.storage_label})"
    return [
        NextStep(kind=NextStepKind.KEEP_MODEL, text=f"Custom model {model.arn} still exists{cost}."),
        NextStep(
            kind=NextStepKind.DELETE_MODEL,
            text="If you do not want it, delete it:",
            command=delete_model_command(state, model.arn),
        ),
    ]


def _s3(state: RunState, key: str) -> str:
    return f"s3://{state.run.bucket}/{key}"
