"""One run at a time, or N: ``max_concurrent_runs`` runs of this stack may be active at once.

A drop beyond the limit is rejected (REJECTED report and notification), not queued: waiting would hold a Step
Functions execution open for hours and start buying capacity when nobody expects it, while a rejection tells the
person who dropped the file at once, and dropping it again later is a new object version, so a new run.

Two drops at the same moment: both executions start, and each one's Preflight lists the RUNNING executions of the
state machine. A run counts only the executions that started *before* it (start time, then execution name, so that
both sides order the pair the same way) and is admitted when fewer than ``max_concurrent_runs`` of them are running.
The older of two simultaneous runs is admitted, the younger rejected; more than N are never admitted at once, since
the youngest of any N + 1 overlapping admitted runs would have seen the other N. The rule is conservative: an older
run that is about to be rejected itself (an invalid dataset still in validation, a run writing its report) still
counts while its execution runs. ListExecutions is eventually consistent; an execution that started before this one
has had at least the validation and the evaluation plan's time to appear.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.contracts import CheckStatus, ExecutionContext, PreflightCheck
from lambdas.lifecycle.service_errors import error_code, error_message, service_call

CHECK = "concurrent-runs"


def running_executions(stepfunctions: Any, state_machine_arn: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "statusFilter": "RUNNING", "maxResults": 100}
    while True:
        with service_call(f"listing the running executions of {state_machine_arn}"):
            page = stepfunctions.list_executions(**kwargs)
        yield from page.get("executions", [])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def _order(started_at: datetime, name: str) -> tuple[datetime, str]:
    return started_at, name


def check_concurrent_runs(stepfunctions: Any, execution: ExecutionContext, *, limit: int) -> PreflightCheck:
    subject = f"runs of this stack at once (max_concurrent_runs {limit})"
    me = execution.execution_arn
    try:
        running = list(running_executions(stepfunctions, execution.state_machine_arn))
    except ClientError as error:
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.WARNING,
            message=f"the running executions could not be listed ({error_code(error)}: {error_message(error)}); "
            "this run was not counted against the limit",
            fix="allow states:ListExecutions on the state machine to the Preflight function's role",
        )
    mine = next((item for item in running if item["executionArn"] == me), None)
    my_order = _order(mine["startDate"] if mine else execution.started_at, me.rsplit(":", 1)[-1])
    older = sorted(
        (item for item in running if item["executionArn"] != me and _order(item["startDate"], item["name"]) < my_order),
        key=lambda item: _order(item["startDate"], item["name"]),
    )
    if len(older) >= limit:
        names = ", ".join(item["name"] for item in older[:5]) + (" ..." if len(older) > 5 else "")
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"{len(older)} earlier run(s) of this stack are still active ({names}) and max_concurrent_runs is "
            f"{limit}: a second run now could buy a second inference capacity",
            fix="drop the dataset again (a new object version is a new run) when the active run has finished, or "
            "raise max_concurrent_runs",
        )
    return PreflightCheck(
        check=CHECK,
        subject=subject,
        status=CheckStatus.PASSED,
        message=f"{len(older)} earlier run(s) active, {limit} allowed",
    )
