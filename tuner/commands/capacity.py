"""``python -m tuner capacity``: every throughput and deployment this stack owns, alive now, and what it costs.

Unlike ``sweep --dry-run``, which only looks at capacity older than the maximum lifetime, this lists every capacity
tagged with the stack, young or old: its age, status, how it bills, an estimate of its cost so far, and whether the
sweeper would delete it now. Use it to confirm nothing is left after a run: ``--fail-if-any`` exits 1 when anything
exists (or could not be checked). Runs against the account and region the standard AWS configuration points at.
"""

from __future__ import annotations

import argparse
import math
import sys

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from lambdas import aws
from lambdas.lifecycle.inventory import CapacityInventory, capacity_inventory
from lambdas.settings import PipelineSettings
from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, UsageError
from tuner.commands.sweep import DEFAULT_STACK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "capacity",
        help="list this stack's provisioned throughputs and deployments alive now, with age and cost",
        description=__doc__,
    )
    parser.add_argument("--stack", default=DEFAULT_STACK, metavar="NAME", help=f"default: {DEFAULT_STACK}")
    parser.add_argument(
        "--max-age-hours",
        type=float,
        default=None,
        metavar="H",
        help="the sweeper's maximum lifetime, to say what it would delete now (default: capacity_max_lifetime_hours)",
    )
    parser.add_argument(
        "--price-per-hour",
        type=float,
        default=None,
        metavar="USD",
        help="Provisioned Throughput price per model unit and hour, for the cost so far (e.g. 132 for the reference "
        "study's Claude 3 Haiku)",
    )
    parser.add_argument("--fail-if-any", action="store_true", help="exit 1 when any capacity exists or was unchecked")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)


def _print(inventory: CapacityInventory) -> None:
    for item in inventory.alive:
        age = f"{item.age_hours:g} h" if item.age_hours is not None else "unknown age"
        cost = f", ~${item.cost_so_far_usd:,.2f} so far" if item.cost_so_far_usd is not None else ""
        sweep = "the sweeper deletes it now" if item.swept_now else "kept by the sweeper"
        print(
            f"ALIVE: {item.kind.value} {item.name} run={item.run_id} {item.status} {age}, bills {item.billing}{cost}; "
            f"{sweep}: {item.why}\n       {item.arn}"
        )
    for failure in inventory.lookup_failures:
        print(f"UNCHECKED: {failure.describe()} (anything it hides may still be billing)")
    print(
        f"{len(inventory.alive)} capacity resource(s) of stack {inventory.stack_name} alive; "
        f"checked {inventory.checked} in the account"
    )


def run(args: argparse.Namespace) -> int:
    max_age = PipelineSettings().capacity_max_lifetime_hours if args.max_age_hours is None else args.max_age_hours
    for name, value in (("--max-age-hours", max_age), ("--price-per-hour", args.price_per_hour)):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise UsageError(f"{name} must be a number of 0 or more")
    try:
        inventory = capacity_inventory(
            aws.client("bedrock"), stack_name=args.stack, max_age_hours=max_age, hourly_price_usd=args.price_per_hour
        )
    except (NoCredentialsError, NoRegionError, ProfileNotFound, InvalidRegionError) as error:
        raise UsageError(
            f"{error}: configure AWS credentials and a region (e.g. AWS_PROFILE, AWS_DEFAULT_REGION)"
        ) from None
    except (ClientError, BotoCoreError) as error:
        raise UsageError(str(error)) from None
    if len(inventory.lookup_failures) == 2 and not inventory.alive and inventory.checked == 0:
        raise UsageError(f"could not list any capacity: {inventory.lookup_failures[0].error}")
    if args.json:
        sys.stdout.write(inventory.model_dump_json() + "\n")
    else:
        _print(inventory)
    if args.fail_if_any and (inventory.alive or not inventory.complete):
        return EXIT_BAD_INPUT
    return EXIT_OK
