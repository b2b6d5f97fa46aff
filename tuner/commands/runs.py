"""``python -m tuner runs``: every run at a glance: id, date, model, status, verdict, primary delta with its CI, and
the total estimated cost (training, capacity, evaluation and a month of storage, from list prices).

Reads report.json of each run: the folders under ``--dir`` (default ``runs/``, where the local harness writes), or
``runs/<run-id>/report.json`` in the stack's bucket with ``--bucket`` (your AWS credentials and region).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.cli import EXIT_OK, UsageError

if TYPE_CHECKING:
    from lambdas.reporting.model import Report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "runs", help="list runs with status, verdict and cost", description=__doc__.splitlines()[0] if __doc__ else None
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--dir", type=Path, default=None, help="folder of run folders (default: runs/)")
    where.add_argument("--bucket", help="the stack's data bucket: read runs/*/report.json there")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)


def summary(report: Report) -> dict[str, Any]:
    """One row: what someone who paid for the run wants first."""
    verdict = report.verdict
    primary = (
        next((m for m in verdict.metrics if m.name == verdict.primary_metric), None) if verdict is not None else None
    )
    capacity = report.capacity
    cost = report.cost
    return {
        "run_id": report.run.run_id,
        "received_at": report.run.received_at.isoformat(),
        "model": report.run.base_model_id,
        "status": report.status.value,
        "emulated": report.run.emulated,
        "verdict": verdict.outcome.value if verdict is not None else None,
        "primary_metric": verdict.primary_metric if verdict is not None else None,
        "mean_delta": primary.mean_delta if primary is not None else None,
        "ci_low": primary.ci_low if primary is not None else None,
        "ci_high": primary.ci_high if primary is not None else None,
        "n": primary.n if primary is not None else None,
        # The total when the report has a cost section; reports written before it only estimated the capacity.
        "estimated_cost_usd": cost.total_usd if cost is not None else None,
        "estimated_cost_complete": cost.complete if cost is not None else None,
        "estimated_cost_label": cost.label if cost is not None else None,
        "capacity_cost_usd": capacity.estimated_cost_usd if capacity is not None else None,
        "headline": report.headline,
    }


def _cost_cell(row: dict[str, Any]) -> str:
    from lambdas.pricing import fmt_usd

    if row["estimated_cost_usd"] is None:
        capacity = row["capacity_cost_usd"]
        return f"capacity {fmt_usd(capacity)}" if capacity is not None else "n/a"
    return ("at least " if row["estimated_cost_complete"] is False else "") + fmt_usd(row["estimated_cost_usd"])


def _from_dir(folder: Path) -> list[tuple[str, Report]]:
    from tuner.commands.report import load_report

    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of runs")
    return [(str(path.parent), load_report(path)) for path in sorted(folder.glob("*/report.json"))]


def _from_bucket(bucket: str) -> list[tuple[str, Report]]:
    from botocore.exceptions import BotoCoreError, ClientError
    from pydantic import ValidationError

    from lambdas import aws
    from lambdas.reporting.model import Report

    s3 = aws.client("s3")
    found: list[tuple[str, Report]] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="runs/", Delimiter="/"):
            for prefix in page.get("CommonPrefixes", []):
                key = f"{prefix['Prefix']}report.json"
                try:
                    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                except s3.exceptions.NoSuchKey:
                    continue
                try:
                    found.append((f"s3://{bucket}/{key}", Report.model_validate_json(body)))
                except ValidationError:
                    print(f"warning: s3://{bucket}/{key} is not a run report; skipped", file=sys.stderr)
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"cannot list runs in s3://{bucket}: {error}") from None
    return found


def run(args: argparse.Namespace) -> int:
    runs = _from_bucket(args.bucket) if args.bucket else _from_dir(args.dir or Path("runs"))
    rows = sorted((summary(report) | {"location": where} for where, report in runs), key=lambda r: r["received_at"])
    if args.json:
        sys.stdout.write(json.dumps({"runs": rows}) + "\n")
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} run(s)")
    for column in ("run", "received", "model", "status", "verdict", "primary delta [95% CI]", "n", "est. cost"):
        table.add_column(column)
    for row in rows:
        delta = (
            f"{row['mean_delta']:+.3g} [{row['ci_low']:+.3g}, {row['ci_high']:+.3g}]"
            if row["mean_delta"] is not None and row["ci_low"] is not None and row["ci_high"] is not None
            else "n/a"
        )
        cost = _cost_cell(row)
        table.add_row(
            row["run_id"] + (" (EMULATED)" if row["emulated"] else ""),
            row["received_at"][:19],
            row["model"],
            row["status"],
            row["verdict"] or "-",
            f"{row['primary_metric'] or ''} {delta}".strip(),
            str(row["n"] if row["n"] is not None else "-"),
            cost,
        )
    Console().print(table)
    return EXIT_OK
