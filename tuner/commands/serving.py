"""``python -m tuner serving | promote RUN_ID | rollback``: what the stack serves, and changing it by hand.

``serving`` shows the champion (the run, since when, its scores against the base model) and how to call it: the
stack's stable on-demand deployment ARN, which applications put in ``modelId`` and which never changes, or, for a
model that needs Provisioned Throughput, what one model unit would cost per hour and the AWS CLI command to buy it.
``serving --delete`` deletes the stable deployment (``cdk destroy`` does not: the deployment outlives the stack).
``promote RUN_ID`` makes a run's custom model the champion (read from ``runs/<RUN_ID>/report.json`` in the stack's
bucket); ``rollback`` serves the previous champion again. Every change is written to the SSM parameter
``/<stack>/serving``, appended to ``serving/history.jsonl`` in the bucket and sent to the stack's notification topic.

Runs against the account and region the standard AWS configuration points at (or ``--region``); the bucket and the
topic are read from the stack's outputs unless ``--bucket`` is given.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tuner.cli import EXIT_OK, UsageError
from tuner.commands.sweep import DEFAULT_STACK

HISTORY_SHOWN = 10
HOURS_PER_MONTH = 730  # the AWS pricing pages' month
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+=@-]*$")


@dataclass(frozen=True)
class ServingClients:
    """The clients a serving command uses, and where the stack keeps things. ``clients_for`` makes them for AWS; a
    local emulated account can make them differently."""

    bedrock: Any
    ssm: Any
    s3: Any
    sns: Any
    stack_name: str
    bucket: str
    topic_arn: str | None


def _stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}


def clients_for(args: argparse.Namespace) -> ServingClients:
    """AWS clients in ``--region`` (default: the standard configuration's), the bucket from ``--bucket`` or the
    stack's ``DataBucketName`` output, the topic from its ``NotificationTopicArn`` output."""
    import boto3
    from botocore.exceptions import ClientError

    from lambdas.aws import RETRY_CONFIG

    session = boto3.session.Session(region_name=args.region) if args.region else boto3.session.Session()

    def client(service: str) -> Any:
        return session.client(service, config=RETRY_CONFIG)  # type: ignore[call-overload]

    bucket, topic = args.bucket, None
    try:
        outputs = _stack_outputs(client("cloudformation"), args.stack)
    except ClientError as error:
        if bucket is None:
            raise UsageError(
                f"cannot read the outputs of stack {args.stack} ({error.response['Error'].get('Message', error)}); "
                "pass --stack NAME or --bucket BUCKET"
            ) from None
        outputs = {}
    bucket = bucket or outputs.get("DataBucketName")
    topic = outputs.get("NotificationTopicArn")
    if not bucket:
        raise UsageError(f"stack {args.stack} has no DataBucketName output; pass --bucket BUCKET")
    return ServingClients(
        bedrock=client("bedrock"),
        ssm=client("ssm"),
        s3=client("s3"),
        sns=client("sns"),
        stack_name=args.stack,
        bucket=bucket,
        topic_arn=topic,
    )


@contextmanager
def serving_clients(args: argparse.Namespace) -> Iterator[ServingClients]:
    """AWS clients (``clients_for``), or, with ``--account DIR``, the emulated account a local rehearsal kept there
    (restored for the command and saved back after it)."""
    if getattr(args, "account", None) is None:
        yield clients_for(args)
        return
    from tuner.local.account import AccountError, opened

    try:
        with opened(args.account) as account:
            yield ServingClients(
                bedrock=account.bedrock,
                ssm=account.ssm,
                s3=account.s3,
                sns=None,
                stack_name=account.saved.stack_name,
                bucket=account.saved.bucket,
                topic_arn=None,
            )
    except AccountError as error:
        raise UsageError(str(error)) from None


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--account",
        type=Path,
        metavar="DIR",
        help="act on the emulated account a local rehearsal kept in DIR (tuner run --local --account DIR), not AWS",
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, metavar="NAME", help=f"default: {DEFAULT_STACK}")
    parser.add_argument("--region", metavar="R", help="AWS Region (default: the standard AWS configuration's)")
    parser.add_argument("--bucket", help="the stack's data bucket (default: the stack's DataBucketName output)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serving = subparsers.add_parser(
        "serving",
        help="who serves for this stack, since when, with which scores, and how to call it",
        description=__doc__,
    )
    _common(serving)
    serving.add_argument(
        "--delete", action="store_true", help="delete the stable serving deployment (the champions stay recorded)"
    )
    serving.set_defaults(run=run_serving)

    promote = subparsers.add_parser(
        "promote",
        help="make a run's custom model the champion the stack serves",
        description="Make a run's custom model the champion: the stack's stable deployment switches to it (or, for a "
        "model that needs Provisioned Throughput, it is recorded and nothing is bought).",
    )
    promote.add_argument("run_id", metavar="RUN_ID")
    _common(promote)
    promote.add_argument("--reason", default="chosen by hand with tuner promote", help="recorded in the history")
    promote.add_argument(
        "--force", action="store_true", help="promote even when the run's verdict is not 'improved' against the base"
    )
    promote.set_defaults(run=run_promote)

    rollback = subparsers.add_parser(
        "rollback",
        help="serve the previous champion again",
        description="Serve the previous champion again; the current one leaves the record (its model is kept).",
    )
    _common(rollback)
    rollback.add_argument("--reason", default="chosen by hand with tuner rollback", help="recorded in the history")
    rollback.set_defaults(run=run_rollback)


@contextmanager
def _usage_errors() -> Iterator[None]:
    """AWS and serving errors become one line and exit 2."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        InvalidRegionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    from lambdas.errors import PipelineError

    try:
        yield
    except (NoCredentialsError, NoRegionError, ProfileNotFound, InvalidRegionError) as error:
        raise UsageError(f"{error}: configure AWS credentials and a region (e.g. AWS_PROFILE, --region)") from None
    except PipelineError as error:
        raise UsageError(str(error)) from None
    except (ClientError, BotoCoreError) as error:
        raise UsageError(str(error)) from None


# --------------------------------------------------------------------------------------------------------- serving
def _age(since: datetime, now: datetime) -> str:
    seconds = max((now - since).total_seconds(), 0)
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def _scores_line(scores: dict[str, Any]) -> str:
    from lambdas.evaluation.verdict import format_delta

    if not scores.get("metric"):
        return "no verdict recorded"
    metric = str(scores["metric"])
    words = [f"{scores.get('outcome', '?')} against the base model on {metric}"]
    if scores.get("mean_delta") is not None:
        delta = format_delta(metric, float(scores["mean_delta"]))
        if scores.get("ci_low") is not None and scores.get("ci_high") is not None:
            low, high = format_delta(metric, float(scores["ci_low"])), format_delta(metric, float(scores["ci_high"]))
            delta += f" [95% CI {low}, {high}]"
        words.append(delta)
    if scores.get("n") is not None:
        words.append(f"n={scores['n']}")
    if scores.get("mean") is not None:
        words.append(f"mean {float(scores['mean']):.3g}")
    return ", ".join(words)


def _live_deployment(clients: ServingClients, record: Any) -> dict[str, Any] | None:
    """What Bedrock says of the stable deployment now (status, the model it serves, an update in progress)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from lambdas.serving.actions import find_serving_deployment

    try:
        found = find_serving_deployment(clients.bedrock, clients.stack_name, record)
    except (ClientError, BotoCoreError) as error:
        return {"error": str(error)}
    if found is None:
        return None
    update = found.get("updateDetails") or {}
    return {
        "arn": found["customModelDeploymentArn"],
        "name": found.get("modelDeploymentName"),
        "status": found.get("status"),
        "model_arn": found.get("modelArn"),
        "update_model_arn": update.get("modelArn"),
        "update_status": update.get("updateStatus"),
    }


def _throughput_offer(stack_name: str, champion: Any) -> dict[str, Any]:
    """What serving a PT-only champion would take: a price per hour (when a list price is known) and the command."""
    from lambdas.pricing import list_prices, run_region
    from lambdas.registry import get_model
    from lambdas.serving.actions import serving_deployment_name

    spec = get_model(champion.base_model_id)
    region = run_region(spec, champion.custom_model_arn)
    price = list_prices(spec.model_id, region).provisioned_throughput_per_model_unit_hour
    name = f"{serving_deployment_name(stack_name)[:60]}-pt"
    command = (
        f"aws bedrock create-provisioned-model-throughput --region {region} --model-units 1 "
        f"--provisioned-model-name {name} --model-id {champion.custom_model_arn}"
    )
    return {
        "model_units": 1,
        "usd_per_hour": price.usd if price is not None else None,
        "usd_per_month": round(price.usd * HOURS_PER_MONTH, 2) if price is not None else None,
        "price_as_of": price.as_of.isoformat() if price is not None and price.as_of else None,
        "price_source": price.source if price is not None else None,
        "buy_command": command,
        "delete_command": f"aws bedrock delete-provisioned-model-throughput --region {region} "
        f"--provisioned-model-id {name}",
    }


def _print_serving(clients: ServingClients, document: dict[str, Any], record: Any, now: datetime) -> None:
    from lambdas.pricing import fmt_price, fmt_usd
    from lambdas.serving.record import ServingKind

    print(f"Stack {clients.stack_name}: serving record {document['parameter']}")
    if record is None or record.champion is None:
        print(f"No champion yet: promote a run with python -m tuner promote RUN_ID --stack {clients.stack_name}")
    else:
        champion = record.champion
        since = f"{champion.promoted_at:%Y-%m-%d %H:%M} UTC ({_age(champion.promoted_at, now)})"
        print(f"Champion: run {champion.run_id}, since {since}")
        print(f"  custom model {champion.custom_model_arn} ({champion.base_model_id})")
        print(f"  scores: {_scores_line(champion.scores)}")
        if champion.evaluation_set_sha256:
            print(f"  evaluation set sha256 {champion.evaluation_set_sha256}")
    deployment = document["deployment"]
    if deployment is not None and "error" in deployment:
        print(f"Serving deployment: could not be read ({deployment['error']})")
    elif deployment is not None:
        update = ""
        if deployment["update_status"] == "Updating":
            update = f", switching to {deployment['update_model_arn']}"
        print(f"Serving deployment (applications call this modelId; it never changes): {deployment['arn']}")
        status = f"{deployment['status']}, serving {deployment['model_arn']}{update}"
        print(f"  {status}; billed per token (nothing while idle)")
    elif record is not None and record.deployment_arn:
        print(f"Serving deployment {record.deployment_arn} is recorded but no longer exists in Bedrock")
    offer = document["provisioned_throughput"]
    if record is not None and record.serving_kind is ServingKind.PROVISIONED_THROUGHPUT_NEEDED and offer is not None:
        if offer["usd_per_hour"] is not None:
            cost = (
                f"{fmt_price(offer['usd_per_hour'])} per hour, about {fmt_usd(offer['usd_per_month'])} a month "
                f"(list price as of {offer['price_as_of']}, no commitment)"
            )
        else:
            cost = "no list price is known for it (see the Amazon Bedrock pricing page)"
        print("This champion needs Provisioned Throughput, which promotion never buys. One model unit costs " + cost)
        print(f"  buy it:    {offer['buy_command']}")
        print(f"  delete it: {offer['delete_command']} (it bills every hour until deleted)")
    if record is not None and record.previous:
        print("Rollback targets (newest first): " + ", ".join(f"run {c.run_id}" for c in reversed(record.previous)))
    if document["history"]:
        print("Latest changes:")
    for entry in document["history"]:
        print(f"  {entry['at'][:19]} {entry['action']} run {entry['run_id']} by {entry['by']}: {entry['reason']}")


def run_serving(args: argparse.Namespace) -> int:
    from lambdas.clock import utc_now
    from lambdas.serving.actions import delete_serving
    from lambdas.serving.record import ServingKind, parameter_name
    from lambdas.serving.store import read_history, read_record

    with _usage_errors(), serving_clients(args) as clients:
        if args.delete:
            change = delete_serving(
                clients.bedrock,
                clients.ssm,
                clients.s3,
                stack_name=clients.stack_name,
                bucket=clients.bucket,
                by="cli",
                reason="deleted by hand with tuner serving --delete",
                sns=clients.sns,
                topic_arn=clients.topic_arn,
            )
            _print_change(args, change)
            return EXIT_OK
        record = read_record(clients.ssm, clients.stack_name)
        history = read_history(clients.s3, clients.bucket)[-HISTORY_SHOWN:]
        needs_throughput = record is not None and record.serving_kind is ServingKind.PROVISIONED_THROUGHPUT_NEEDED
        document: dict[str, Any] = {
            "stack_name": clients.stack_name,
            "parameter": parameter_name(clients.stack_name),
            "record": record.model_dump(mode="json") if record is not None else None,
            "deployment": _live_deployment(clients, record),
            "provisioned_throughput": (
                _throughput_offer(clients.stack_name, record.champion)
                if needs_throughput and record is not None and record.champion is not None
                else None
            ),
            "history": [entry.model_dump(mode="json") for entry in history],
        }
        if args.json:
            sys.stdout.write(json.dumps(document) + "\n")
        else:
            _print_serving(clients, document, record, utc_now())  # the account's time (simulated when emulated)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------- promote, rollback
def _print_change(args: argparse.Namespace, change: Any) -> None:
    if args.json:
        sys.stdout.write(change.model_dump_json() + "\n")
        return
    print(change.message)
    if change.deployment_arn:
        print(f"Applications call: {change.deployment_arn}")
    if change.notification_error:
        print(f"warning: the notification was not sent: {change.notification_error}", file=sys.stderr)


def _read_report(clients: ServingClients, run_id: str) -> Any:
    from botocore.exceptions import ClientError
    from pydantic import ValidationError

    from lambdas.contracts import RUNS_PREFIX
    from lambdas.reporting.model import Report

    key = f"{RUNS_PREFIX}{run_id}/report.json"
    try:
        body = clients.s3.get_object(Bucket=clients.bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise UsageError(f"no report for run {run_id} at s3://{clients.bucket}/{key}") from None
        raise
    try:
        return Report.model_validate_json(body)
    except ValidationError:
        raise UsageError(f"s3://{clients.bucket}/{key} is not a run report this version can read") from None


def run_promote(args: argparse.Namespace) -> int:
    from lambdas.clock import utc_now
    from lambdas.evaluation.verdict import Outcome
    from lambdas.serving.actions import promote
    from lambdas.serving.candidate import champion_from_report

    if not _RUN_ID.match(args.run_id):
        raise UsageError(f"{args.run_id!r} is not a run id (python -m tuner runs --bucket BUCKET lists them)")
    with _usage_errors(), serving_clients(args) as clients:
        report = _read_report(clients, args.run_id)
        champion = champion_from_report(report, promoted_at=utc_now())
        verdict = report.verdict
        if not args.force and (verdict is None or verdict.outcome is not Outcome.IMPROVED):
            said = f"{verdict.outcome.value}: {verdict.reason}" if verdict is not None else "no verdict"
            raise UsageError(
                f"run {args.run_id} did not improve on its base model ({said}); promote it anyway with --force"
            )
        change = promote(
            clients.bedrock,
            clients.ssm,
            clients.s3,
            stack_name=clients.stack_name,
            bucket=clients.bucket,
            champion=champion,
            by="cli",
            reason=args.reason,
            sns=clients.sns,
            topic_arn=clients.topic_arn,
        )
    _print_change(args, change)
    return EXIT_OK


def run_rollback(args: argparse.Namespace) -> int:
    from lambdas.serving.actions import rollback

    with _usage_errors(), serving_clients(args) as clients:
        change = rollback(
            clients.bedrock,
            clients.ssm,
            clients.s3,
            stack_name=clients.stack_name,
            bucket=clients.bucket,
            by="cli",
            reason=args.reason,
            sns=clients.sns,
            topic_arn=clients.topic_arn,
        )
    _print_change(args, change)
    return EXIT_OK
