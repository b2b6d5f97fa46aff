"""The budget gate: the run's estimated cost (training + inference capacity + evaluation + a month of custom model
storage) against ``max_run_cost_usd``. The estimate is ``lambdas.pricing.estimate_run_cost``'s: the registry's dated
list prices with the ``prices`` setting on top, and the run's size as ValidateDataset and PlanEvaluation measured it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from lambdas.contracts import CheckStatus, PreflightCheck, RunState
from lambdas.pricing import NO_TRAINING, CostEstimate, CostPart, estimate_run_cost, fmt_usd
from lambdas.settings import PipelineSettings, PriceSettings

CHECK = "budget"


class RunSize(BaseModel):
    """What the cost of a run depends on, as known before it starts."""

    model_config = ConfigDict(frozen=True)

    training_tokens: int | None = None  # estimated tokens of the training split (ValidateDataset)
    train_records: int = 0
    validation_records: int = 0
    questions: int = 0  # evaluation questions each model answers (PlanEvaluation)
    trains: bool = True  # false for a re-evaluation of an existing custom model

    @classmethod
    def of(cls, state: RunState) -> RunSize:
        dataset, plan = state.validate_dataset, state.plan_evaluation
        return cls(
            training_tokens=dataset.estimated_training_tokens if dataset else None,
            train_records=dataset.train_records if dataset else 0,
            validation_records=dataset.validation_records if dataset else 0,
            questions=plan.questions if plan else 0,
            trains=not state.run.is_reevaluation,
        )


def _breakdown(estimate: CostEstimate) -> str:
    def amount(part: CostPart) -> str:
        if part.basis.startswith(NO_TRAINING):
            return "none (re-evaluation of an existing model)"
        return fmt_usd(part.usd) if part.usd is not None else "unpriced"

    parts = ", ".join(f"{part.name.replace('_', ' ')} {amount(part)}" for part in estimate.parts)
    as_of = f"; list prices as of {estimate.as_of}" if estimate.as_of else ""
    return f"{parts}{as_of}"


def check_budget(settings: PipelineSettings, *, region: str | None, size: RunSize) -> PreflightCheck:
    """Failed when the estimate, or the part of it that could be priced, is above ``max_run_cost_usd``, and when a
    budget is set but a price the estimate needs is unknown: a gate that cannot see the cost must not wave it through.

    Provisioned Throughput is estimated at one started hour (the least a throughput bills); answers and judge replies
    at their ``max_tokens``.
    """
    estimate = estimate_run_cost(
        settings,
        region,
        estimated_training_tokens=size.training_tokens,
        training_records=size.train_records or None,
        evaluation_questions=size.questions,
        trains=size.trains,
    )
    limit = settings.max_run_cost_usd
    total = estimate.total_usd
    shown = (fmt_usd(total) if estimate.complete else f"{fmt_usd(total)} or more") if total is not None else "unknown"
    breakdown = _breakdown(estimate)
    missing = sorted({item for part in estimate.parts for item in part.missing})
    if limit is None:
        return PreflightCheck(
            check=CHECK,
            subject="estimated run cost",
            status=CheckStatus.PASSED,
            message=f"no budget set (max_run_cost_usd); estimated {shown} ({breakdown})",
        )
    subject = f"estimated run cost against max_run_cost_usd {fmt_usd(limit)}"
    if total is not None and total > limit:
        unpriced = f"; not priced: {', '.join(missing)}" if missing else ""
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"the run's estimated cost, {shown}, is over the budget of {fmt_usd(limit)} "
            f"({breakdown}{unpriced})",
            fix="raise max_run_cost_usd, or make the run cheaper: fewer records or epochs, fewer evaluation questions "
            "(evaluation.max_test_records), on-demand serving where the model has it (inference_mode)",
        )
    if missing:
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"the budget cannot be checked: the estimate ({shown}) lacks {', '.join(missing)}",
            fix=f"set the missing prices under fine_tuning.prices ({_PRICE_SETTINGS}; see "
            "https://aws.amazon.com/bedrock/pricing), or unset max_run_cost_usd",
        )
    return PreflightCheck(
        check=CHECK,
        subject=subject,
        status=CheckStatus.PASSED,
        message=f"estimated {shown}, within {fmt_usd(limit)} ({breakdown})",
    )


_PRICE_SETTINGS = ", ".join(name for name in PriceSettings.model_fields if name != "as_of")
