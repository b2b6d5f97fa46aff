"""Every preflight check for one run, in the order a person would fix them; the Preflight state and
``tuner preflight`` both call ``preflight``."""

from __future__ import annotations

from datetime import date
from typing import Any

from lambdas.clock import utc_now
from lambdas.contracts import (
    CheckStatus,
    ExecutionContext,
    PreflightCheck,
    PreflightOutput,
    RunState,
)
from lambdas.preflight.access import check_model_access, foundation_model_of
from lambdas.preflight.budget import RunSize, check_budget
from lambdas.preflight.concurrency import check_concurrent_runs
from lambdas.preflight.custom_model import check_custom_model
from lambdas.preflight.quotas import check_quotas, needs_of
from lambdas.registry import (
    JudgeNotInvocableError,
    ModelNotInRegionError,
    Serving,
    is_inference_profile,
    resolve_judge_invocation_id,
)
from lambdas.settings import PipelineSettings

_LIFECYCLE_FIXES = {
    "base_model_id": "set base_model_id to an active model Bedrock fine-tunes in this region (python -m tuner models)",
    "evaluation.judge_model_id": "set evaluation.judge_model_id to a judge that is alive and invocable from this "
    "region (python -m tuner models), or evaluation.judge_enabled false",
}


def check_lifecycle(settings: PipelineSettings, *, region: str | None, today: date) -> list[PreflightCheck]:
    """End of life, Legacy status, customization type and region support, from the registry (the same rules synth
    applies; a running stack meets them again here because a date may have passed since the deploy)."""
    problems = settings.problems_starting(region=region, today=today)
    if problems:
        return [
            PreflightCheck(
                check="lifecycle",
                subject=problem.setting,
                status=CheckStatus.FAILED,
                message=problem.message,
                fix=_LIFECYCLE_FIXES.get(problem.setting),
            )
            for problem in problems
        ]
    spec = settings.model
    where = f" in {region}" if region else ""
    return [
        PreflightCheck(
            check="lifecycle",
            subject=f"base model {spec.model_id}",
            status=CheckStatus.PASSED,
            message=f"{spec.display_name} is {spec.lifecycle(today).value} and takes FINE_TUNING{where}",
        )
    ]


def _access_checks(
    bedrock: Any, settings: PipelineSettings, *, region: str | None, judge_invocation_id: str | None
) -> list[PreflightCheck]:
    spec = settings.model
    try:
        base_through_profile = region is not None and is_inference_profile(spec.base_invocation_id(region))
    except ModelNotInRegionError:
        base_through_profile = False  # the lifecycle check has said so; the availability answer says the rest
    checks = [
        check_model_access(
            bedrock, model_id=spec.foundation_model_id, role="base model", through_profile=base_through_profile
        )
    ]
    if not settings.evaluation.judge_enabled:
        return checks
    judge = settings.evaluation.judge_model_id
    if judge_invocation_id is None:
        try:
            judge_invocation_id = resolve_judge_invocation_id(judge, region)
        except JudgeNotInvocableError:
            return checks  # the lifecycle check reports it
    foundation = foundation_model_of(judge_invocation_id)
    if foundation is None:
        checks.append(
            PreflightCheck(
                check="model-access",
                subject=f"judge {judge_invocation_id}",
                status=CheckStatus.WARNING,
                message="the judge is named by an application inference profile: the model behind it is not known "
                "here, so its access was not checked",
                fix="make sure the profile's model has access granted (Bedrock console, Model access)",
            )
        )
        return checks
    through_profile = is_inference_profile(judge_invocation_id) or judge_invocation_id.startswith("arn:")
    checks.append(check_model_access(bedrock, model_id=foundation, role="judge", through_profile=through_profile))
    return checks


def preflight(
    settings: PipelineSettings,
    *,
    serving: Serving,
    region: str | None,
    bedrock: Any,
    service_quotas: Any,
    size: RunSize,
    stepfunctions: Any = None,
    execution: ExecutionContext | None = None,
    judge_invocation_id: str | None = None,
    today: date | None = None,
) -> PreflightOutput:
    """Read-only checks of everything this run will need; ``passed`` is false when any check failed.

    ``execution`` (with ``stepfunctions``) counts this stack's running executions against ``max_concurrent_runs``;
    without it the check is reported as not made.
    """
    now = utc_now()
    day = today or now.date()
    checks = check_lifecycle(settings, region=region, today=day)
    checks += _access_checks(bedrock, settings, region=region, judge_invocation_id=judge_invocation_id)
    checks += check_quotas(service_quotas, needs_of(settings, serving, trains=size.trains))
    checks.append(check_budget(settings, region=region, size=size))
    if execution is not None and stepfunctions is not None:
        checks.append(check_concurrent_runs(stepfunctions, execution, limit=settings.max_concurrent_runs))
    return PreflightOutput(
        passed=not any(check.status is CheckStatus.FAILED for check in checks),
        region=region,
        checks=checks,
        checked_at=now,
    )


def preflight_run(
    state: RunState,
    *,
    region: str | None,
    bedrock: Any,
    service_quotas: Any,
    stepfunctions: Any,
    execution: ExecutionContext | None,
) -> PreflightOutput:
    """The Preflight state: the run's settings and serving, its dataset's size and its evaluation plan."""
    output = preflight(
        state.run.settings,
        serving=state.run.serving,
        region=region,
        bedrock=bedrock,
        service_quotas=service_quotas,
        size=RunSize.of(state),
        stepfunctions=stepfunctions,
        execution=execution,
        judge_invocation_id=state.plan_evaluation.judge_invocation_id if state.plan_evaluation else None,
    )
    reevaluation = state.run.reevaluation
    if reevaluation is not None:
        output.checks.insert(0, check_custom_model(bedrock, reevaluation.custom_model_arn, state.run.settings.model))
        output.passed = output.passed and output.checks[0].status is not CheckStatus.FAILED
    if execution is None:
        output.checks.append(
            PreflightCheck(
                check="concurrent-runs",
                subject=f"runs of this stack at once (max_concurrent_runs {state.run.settings.max_concurrent_runs})",
                status=CheckStatus.WARNING,
                message="this step was not told its execution, so other running runs were not counted",
                fix="redeploy the stack: its Preflight state passes the execution from the context object",
            )
        )
    return output
