"""Every throughput and deployment this stack owns, alive now: what the sweeper would say, before it acts.

"Is anything of mine still billing?" must have a complete answer. Unlike the sweep, which only looks at capacity
older than the maximum lifetime, the inventory lists every capacity tagged with this stack, young or old, with its
age, status, an estimate of what it has cost so far, and whether the sweeper would delete it now. A listing or a
tag read that fails is reported, never skipped: what it hides may be billing.
"""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from lambdas.clock import utc_now
from lambdas.lifecycle.capacity import CapacityRecord, list_capacity
from lambdas.lifecycle.names import TAG_RUN_ID, TAG_STACK
from lambdas.lifecycle.sweeper import CAPACITY_KINDS, BedrockClient, SweepLookupFailure, read_tags
from lambdas.registry import Serving


class LiveCapacity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Serving
    arn: str
    name: str
    status: str
    run_id: str | None
    created_at: datetime | None
    age_hours: float | None  # None: Bedrock gave no creation time
    model_units: int | None = None
    committed: bool = False
    billing: str  # how it bills: by the started hour (throughput), per token (deployment)
    cost_so_far_usd: float | None = None  # estimated: whole started hours x model units x the hourly price
    swept_now: bool  # the sweeper would delete it on its next run
    why: str  # why it would or would not be swept


class CapacityInventory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack_name: str
    max_age_hours: float
    alive: list[LiveCapacity]
    lookup_failures: list[SweepLookupFailure]
    checked: int
    taken_at: datetime

    @property
    def complete(self) -> bool:
        return not self.lookup_failures


def _live(
    record: CapacityRecord, run_id: str | None, now: datetime, max_age_hours: float, hourly_price: float | None
) -> LiveCapacity:
    age = (now - record.created_at).total_seconds() / 3600 if record.created_at is not None else None
    if record.committed:
        swept, why = False, "a committed throughput cannot be deleted before its term"
    elif age is None:
        swept, why = False, "no creation time: the sweeper never deletes what a run may be using"
    elif age > max_age_hours:
        swept, why = True, f"older than the maximum lifetime ({max_age_hours:g} h)"
    else:
        swept, why = False, f"younger than the maximum lifetime ({max_age_hours:g} h); a run may be using it"
    cost = None
    if record.kind is Serving.PROVISIONED_THROUGHPUT and age is not None and hourly_price is not None:
        cost = round(max(1, math.ceil(age)) * (record.model_units or 1) * hourly_price, 2)
    return LiveCapacity(
        kind=record.kind,
        arn=record.arn,
        name=record.name,
        status=record.status,
        run_id=run_id,
        created_at=record.created_at,
        age_hours=round(age, 2) if age is not None else None,
        model_units=record.model_units,
        committed=record.committed,
        billing="per started hour while it exists"
        if record.kind is Serving.PROVISIONED_THROUGHPUT
        else "per token used (nothing while idle)",
        cost_so_far_usd=cost,
        swept_now=swept,
        why=why,
    )


def capacity_inventory(
    bedrock: BedrockClient,
    *,
    stack_name: str,
    max_age_hours: float,
    hourly_price_usd: float | None = None,
) -> CapacityInventory:
    """Every capacity tagged with ``stack_name``, each kind and each resource looked up independently."""
    now = utc_now()
    alive: list[LiveCapacity] = []
    failures: list[SweepLookupFailure] = []
    checked = 0
    for kind in CAPACITY_KINDS:
        try:
            records = list_capacity(bedrock, kind)
        except Exception as error:  # reported: the other kind is still listed
            failures.append(SweepLookupFailure(kind=kind, error=f"{type(error).__name__}: {error}"))
            continue
        for record in records:
            checked += 1
            try:
                tags = read_tags(bedrock, record.arn)
            except Exception as error:  # reported: this one may be ours and billing
                failures.append(SweepLookupFailure(kind=kind, arn=record.arn, error=f"{type(error).__name__}: {error}"))
                continue
            if tags is None or tags.get(TAG_STACK) != stack_name:
                continue
            alive.append(_live(record, tags.get(TAG_RUN_ID), now, max_age_hours, hourly_price_usd))
    return CapacityInventory(
        stack_name=stack_name,
        max_age_hours=max_age_hours,
        alive=alive,
        lookup_failures=failures,
        checked=checked,
        taken_at=now,
    )
