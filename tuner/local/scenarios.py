"""The ``--simulate`` scenarios: what goes wrong in a local run, and how the emulator makes it go wrong."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


@dataclass(frozen=True)
class BedrockBehaviour:
    job_fails: bool = False  # the customization job ends Failed
    capacity_fails: bool = False  # the throughput / deployment ends Failed
    fine_tuned_converse_fails: bool = False  # every Converse call on the customized model fails
    judge_denied: bool = False  # every judge call is refused (no model access)
    throttle_one_in: int | None = None  # every n-th request (both endpoints) is answered ThrottlingException
    # (operation, n): the first n requests of the operation are throttled, more than one Lambda attempt's client
    # retries can absorb, so the state machine's own Retry has to carry the step
    throttle_bursts: tuple[tuple[str, int], ...] = ()
    no_model_access: bool = False  # model access to the base models was never granted (the judges have it)
    no_capacity_quota: bool = False  # the account's capacity quotas (throughput model units, deployments) are 0


class Scenario(StrEnum):
    NONE = "none"
    JOB_FAILURE = "job-failure"
    CAPACITY_FAILURE = "capacity-failure"
    EVAL_FAILURE = "eval-failure"
    JUDGE_OUTAGE = "judge-outage"
    THROTTLING = "throttling"
    STOP = "stop"
    STOP_EVENT_LOST = "stop-event-lost"
    NO_MODEL_ACCESS = "no-model-access"
    NO_CAPACITY_QUOTA = "no-capacity-quota"
    OVER_BUDGET = "over-budget"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def stops_execution(self) -> bool:
        return self in (Scenario.STOP, Scenario.STOP_EVENT_LOST)

    @property
    def delivers_execution_events(self) -> bool:
        """False when EventBridge's best-effort delivery to the cleanup function is lost (the sweeper's case)."""
        return self is not Scenario.STOP_EVENT_LOST

    @property
    def settings_overrides(self) -> dict[str, Any]:
        """Settings the scenario imposes on top of the run's own (deep-merged last)."""
        if self is Scenario.OVER_BUDGET:
            return dict(OVER_BUDGET_SETTINGS)
        return {}

    @property
    def bedrock(self) -> BedrockBehaviour:
        if self is Scenario.JOB_FAILURE:
            return BedrockBehaviour(job_fails=True)
        if self is Scenario.CAPACITY_FAILURE:
            return BedrockBehaviour(capacity_fails=True)
        if self is Scenario.EVAL_FAILURE:
            return BedrockBehaviour(fine_tuned_converse_fails=True)
        if self is Scenario.JUDGE_OUTAGE:
            return BedrockBehaviour(judge_denied=True)
        if self is Scenario.NO_MODEL_ACCESS:
            return BedrockBehaviour(no_model_access=True)
        if self is Scenario.NO_CAPACITY_QUOTA:
            return BedrockBehaviour(no_capacity_quota=True)
        if self is Scenario.THROTTLING:
            return BedrockBehaviour(
                throttle_one_in=3,
                throttle_bursts=(("CreateProvisionedModelThroughput", 12), ("CreateCustomModelDeployment", 12)),
            )
        return BedrockBehaviour()


# A budget below what any run costs: the evaluation's answers alone, priced from the registry, cost more than this
# hundredth of a cent (the gate: lambdas/preflight/budget.py).
OVER_BUDGET_SETTINGS: dict[str, Any] = {"max_run_cost_usd": 0.0001}

_DESCRIPTIONS = {
    Scenario.NONE: "everything works",
    Scenario.JOB_FAILURE: "the customization job fails during training",
    Scenario.CAPACITY_FAILURE: "the provisioned throughput / deployment fails while being created",
    Scenario.EVAL_FAILURE: "every Converse call on the fine-tuned model fails",
    Scenario.JUDGE_OUTAGE: (
        "the judge model is denied (no model access): the run completes, the capacity is deleted, and the verdict is "
        "inconclusive with the judge's error as the reason"
    ),
    Scenario.THROTTLING: (
        "Bedrock throttles one request in three, and the capacity purchase until the client gives up; "
        "retries must carry the run"
    ),
    Scenario.STOP: "the execution is stopped while capacity exists; the execution-cleanup function deletes it",
    Scenario.STOP_EVENT_LOST: (
        "the execution is stopped while capacity exists and the cleanup event is lost; the sweeper must delete it"
    ),
    Scenario.NO_MODEL_ACCESS: (
        "model access to the base model was never granted: Preflight rejects the run before any Bedrock create call"
    ),
    Scenario.NO_CAPACITY_QUOTA: (
        "the account's Provisioned Throughput model units and custom model deployments quotas are 0: Preflight "
        "rejects the run before the job is paid for"
    ),
    Scenario.OVER_BUDGET: (
        "max_run_cost_usd is far below the run's estimated cost: Preflight rejects the run before any Bedrock create "
        "call"
    ),
}
