"""Custom model retention: a custom model bills storage every month, so each run says what happens to its own.

``custom_model_retention`` (a run-level setting):

* ``keep`` (default): the model stays; the report states what it costs per month to store.
* ``delete-unless-improved``: the model is deleted unless the run's verdict is ``improved`` (a model that did not
  clearly beat its base model is not worth paying to store; a failed run's model is deleted too).
* ``delete``: the model is deleted once the run has reported.

The decision is a pure function of the settings and the verdict, so the report (written first) states it, and the
ApplyRetention step (after the report) carries it out. Deleting never touches capacity: the run's throughput or
deployment is deleted by then on every path.

A model that serves is never deleted: one the run promotes (``promotion`` auto, an eligible model) is kept by the
decision itself, and before any delete the step reads the stack's serving record and keeps every model it names
(the champion and its rollback targets, ``lambdas.serving.record.protected_arns``). A record that cannot be read
keeps the model: a delete that might take away what applications call is not made blind.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from lambdas.contracts import ApplyRetentionOutput, RunState
from lambdas.lifecycle.service_errors import error_code, is_not_found, service_call


class RetentionDecision(NamedTuple):
    custom_model_arn: str | None
    delete: bool
    reason: str


def retention_decision(state: RunState) -> RetentionDecision:
    setting = state.run.settings.custom_model_retention
    if state.run.reevaluation is not None:
        # The model is not this run's: retention applied when the run that trained it reported.
        return RetentionDecision(
            None,
            False,
            "a re-evaluation keeps the model it evaluates (retention is decided by the run that trained it)",
        )
    poll = state.poll_customization_job
    arn = poll.custom_model_arn if poll is not None else None
    if arn is None:
        return RetentionDecision(None, False, "the run produced no custom model")
    summary = state.summarize_evaluation
    outcome = summary.outcome if summary is not None else None
    if setting == "keep":
        return RetentionDecision(arn, False, "custom_model_retention is keep")
    from lambdas.serving.run_promotion import promotion_decision  # lifecycle is imported by serving: no cycle here

    if promotion_decision(state).decision == "promote":  # before "delete": a model that is to serve is kept
        return RetentionDecision(arn, False, f"the run promotes it to serve (promotion auto; {setting} not applied)")
    if setting == "delete":
        return RetentionDecision(arn, True, "custom_model_retention is delete")
    if outcome == "improved":
        return RetentionDecision(arn, False, "the verdict is improved (custom_model_retention delete-unless-improved)")
    what = f"the verdict is {outcome.replace('_', ' ')}" if outcome else "the run has no verdict"
    return RetentionDecision(arn, True, f"{what} (custom_model_retention delete-unless-improved)")


def apply_retention(bedrock: Any, state: RunState, ssm: Any = None) -> ApplyRetentionOutput:
    """Carry out the decision; a delete that fails is reported (the model is kept), never raised: the run's
    report and notification still go out. ``ssm`` reads the serving record (no delete without it)."""
    decision = retention_decision(state)
    setting = state.run.settings.custom_model_retention
    if decision.custom_model_arn is None:
        return ApplyRetentionOutput(custom_model_arn=None, setting=setting, action="none", reason=decision.reason)
    if not decision.delete:
        reason = decision.reason
        promoted = state.promote
        if promoted is not None and promoted.decision == "promote" and not promoted.promoted:
            # Kept for the promotion the report announced, which did not happen: say so, with what to do
            reason = (
                f"kept for a promotion that did not happen ({promoted.error or promoted.message}); promote it by "
                "hand or delete it"
            )
        return ApplyRetentionOutput(
            custom_model_arn=decision.custom_model_arn, setting=setting, action="kept", reason=reason
        )
    serving = _serving_protection(ssm, state.run.stack_name, decision.custom_model_arn)
    if serving is not None:
        return ApplyRetentionOutput(
            custom_model_arn=decision.custom_model_arn, setting=setting, action="kept", reason=serving
        )
    try:
        with service_call(f"deleting custom model {decision.custom_model_arn}"):
            bedrock.delete_custom_model(modelIdentifier=decision.custom_model_arn)
    except ClientError as error:
        if not is_not_found(error):
            return ApplyRetentionOutput(
                custom_model_arn=decision.custom_model_arn,
                setting=setting,
                action="kept",
                reason=decision.reason,
                error=f"{error_code(error)}: {error}",
            )
    return ApplyRetentionOutput(
        custom_model_arn=decision.custom_model_arn, setting=setting, action="deleted", reason=decision.reason
    )


def _serving_protection(ssm: Any, stack_name: str, arn: str) -> str | None:
    """Why the model must be kept because of the serving record, or None when it may be deleted."""
    from lambdas.serving.record import protected_arns
    from lambdas.serving.store import read_record

    if ssm is None:
        return "kept: the serving record was not read, and a model that may serve is never deleted blind"
    try:
        record = read_record(ssm, stack_name)
    except Exception as error:  # unreadable: keep the model, and say why
        return (
            f"kept: the serving record could not be read ({type(error).__name__}), and a model that may serve is "
            "never deleted blind"
        )
    if arn in protected_arns(record):
        return "kept: the stack's serving record names it (the champion, or a model to roll back to)"
    return None
