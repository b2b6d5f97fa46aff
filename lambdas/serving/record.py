"""The stack's serving record: which custom model serves (the champion), which served before it (the rollback
targets), and the one stable on-demand deployment applications call.

The record lives in the SSM String parameter ``/<stack>/serving`` (``lambdas.serving.store``); every change to it is
also one line of ``serving/history.jsonl`` in the data bucket (``HistoryEntry``). Anything the record names is
protected: retention and the sweeper must never delete ``protected_arns(record)``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lambdas.registry import get_model

# A Standard SSM parameter holds at most 4 KB: a champion takes ~0.5 KB, so the record keeps the last few rollback
# targets and forgets older ones (they stay in history.jsonl, and lose their protection from retention).
MAX_PREVIOUS = 4

Actor = Literal["state-machine", "cli"]
Action = Literal["promote", "rollback", "delete"]
Score = str | float | int | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServingKind(StrEnum):
    """How the champion is served."""

    ON_DEMAND_DEPLOYMENT = "on-demand-deployment"  # the stack's stable custom model deployment, billed per token
    PROVISIONED_THROUGHPUT_NEEDED = "provisioned-throughput-needed"  # recorded only: nothing is bought for it


def serving_kind_for(base_model_id: str) -> ServingKind:
    """A model the registry says can be deployed on demand is served by the stable deployment; any other needs
    Provisioned Throughput, which promotion never buys (it bills by the hour whether called or not)."""
    if get_model(base_model_id).supports_on_demand:
        return ServingKind.ON_DEMAND_DEPLOYMENT
    return ServingKind.PROVISIONED_THROUGHPUT_NEEDED


class Champion(_Model):
    """A custom model promoted to serve, with the run that produced it and the figures it won on."""

    custom_model_arn: str
    base_model_id: str
    run_id: str
    promoted_at: datetime
    # The primary metric's figures in the promoting run (``lambdas.serving.candidate.primary_scores``): metric,
    # outcome, mean_delta, ci_low, ci_high, n against the base model, and the model's own mean score when known.
    scores: dict[str, Score] = Field(default_factory=dict)
    evaluation_set_sha256: str | None = None  # of a fixed evaluation set; None: the run's own test split


class ServingRecord(_Model):
    stack_name: str
    champion: Champion | None = None
    previous: list[Champion] = Field(default_factory=list)  # rollback targets, the most recent last
    deployment_arn: str | None = None  # the stack's one stable on-demand deployment, once created
    serving_kind: ServingKind
    updated_at: datetime


class HistoryEntry(_Model):
    """One line of ``serving/history.jsonl``: a change of the serving record."""

    at: datetime
    action: Action
    run_id: str | None  # the run whose model serves after the change (for a delete: the champion's)
    custom_model_arn: str | None
    previous: str | None  # the champion's custom model ARN before the change
    deployment_arn: str | None  # the stable deployment after the change (for a delete: the one deleted)
    by: Actor
    reason: str


def parameter_name(stack_name: str) -> str:
    return f"/{stack_name}/serving"


def protected_arns(record: ServingRecord | None) -> set[str]:
    """What must never be deleted by retention or the sweeper: the champion's model, every rollback target's model
    and the stable deployment."""
    if record is None:
        return set()
    champions = [*record.previous, *([record.champion] if record.champion else [])]
    arns = {champion.custom_model_arn for champion in champions}
    if record.deployment_arn:
        arns.add(record.deployment_arn)
    return arns
