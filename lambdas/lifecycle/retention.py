"""Custom model retention: a custom model bills storage every month, so each run says what happens to its own.

``custom_model_retention`` (a run-level setting):

* ``keep`` (default): the model stays; the report states what it costs per month to store.
* ``delete-unless-improved``: the model is deleted unless the run's verdict is ``improved`` (a model that did not
  clearly beat its base model is not worth paying to store; a failed run's model is deleted too).
* ``delete``: the model is deleted once the run has reported.

The decision is a pure function of the settings and the verdict, so the report (written first) states it, and the
ApplyRetention step (after the report) carries it out. Deleting never touches capacity: the run's throughput or
deployment is deleted by then on every path. A model that serves as the stack's champion (issue: serve the winner)
must never be deleted here; no such record exists yet in this version.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from lambdas.contracts import ApplyRetentionOutput, RunState
from lambdas.lifecycle.service_errors import is_not_found, service_call


class RetentionDecision(NamedTuple):
    custom_model_arn: str | None
    delete: bool
    reason: str


def retention_decision(state: RunState) -> RetentionDecision:
    setting = state.run.settings.custom_model_retention
    poll = state.poll_customization_job
    arn = poll.custom_model_arn if poll is not None else None
    if arn is None:
        return RetentionDecision(None, False, "the run produced no custom model")
    summary = state.summarize_evaluation
    outcome = summary.outcome if summary is not None else None
    if setting == "keep":
        return RetentionDecision(arn, False, "custom_model_retention is keep")
    if setting == "delete":
        return RetentionDecision(arn, True, "custom_model_retention is delete")
    if outcome == "improved":
        return RetentionDecision(arn, False, "the verdict is improved (custom_model_retention delete-unless-improved)")
    what = f"the verdict is {outcome.replace('_', ' ')}" if outcome else "the run has no verdict"
    return RetentionDecision(arn, True, f"{what} (custom_model_retention delete-unless-improved)")


def apply_retention(bedrock: Any, state: RunState) -> ApplyRetentionOutput:
    """Carry out the decision; a delete that fails is reported (the model is kept), never raised: the run's
    report and notification still go out."""
    decision = retention_decision(state)
    setting = state.run.settings.custom_model_retention
    if decision.custom_model_arn is None:
        return ApplyRetentionOutput(custom_model_arn=None, setting=setting, action="none", reason=decision.reason)
    if not decision.delete:
        return ApplyRetentionOutput(
            custom_model_arn=decision.custom_model_arn, setting=setting, action="kept", reason=decision.reason
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
                error=f"{error.response.get('Error', {}).get('Code', 'ClientError')}: {error}",
            )
    return ApplyRetentionOutput(
        custom_model_arn=decision.custom_model_arn, setting=setting, action="deleted", reason=decision.reason
    )
