"""``python -m tuner sweep``: find and delete this stack's inference capacity that outlived its maximum lifetime.

The same code the scheduled sweeper Lambda runs, against whatever AWS account and region the standard configuration
points at (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``...). Use ``--dry-run`` first: it lists what would be deleted.
"""

from __future__ import annotations

import argparse
import math

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from lambdas import aws
from lambdas.errors import PipelineError
from lambdas.lifecycle.sweeper import SweepResult, sweep_expired_capacity
from lambdas.settings import PipelineSettings
from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, UsageError

DEFAULT_STACK = "FineTuningStack"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="delete this stack's provisioned throughput / deployments older than the maximum lifetime",
        description=__doc__,
    )
    parser.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    parser.add_argument(
        "--max-age-hours",
        type=float,
        default=None,
        metavar="H",
        help="delete capacity older than H hours (default: the pipeline's capacity_max_lifetime_hours, "
        f"{PipelineSettings().capacity_max_lifetime_hours:g}); 0 deletes all of this stack's capacity",
    )
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        metavar="NAME",
        help=f"only capacity tagged fine-tuning:stack=NAME is touched (default: {DEFAULT_STACK})",
    )
    parser.set_defaults(run=run)


def _print(result: SweepResult) -> None:
    verb = "would delete" if result.dry_run else "deleted"
    for item in result.deleted:
        print(f"{verb}: {item.kind.value} {item.name} run={item.run_id} age={item.age_hours:g}h {item.arn}")
    for item in result.failed:
        print(f"FAILED: {item.kind.value} {item.name} {item.arn}: {item.error} (still billing)")
    for item in result.kept_committed:
        print(f"kept: committed throughput {item.name} {item.arn} cannot be deleted before its term")
    for failure in result.lookup_failures:
        print(f"FAILED: {failure.describe()} (anything it hides may still be billing)")
    print(result.summary())


def run(args: argparse.Namespace) -> int:
    max_age = PipelineSettings().capacity_max_lifetime_hours if args.max_age_hours is None else args.max_age_hours
    if not math.isfinite(max_age) or max_age < 0:  # NaN would compare false with every age: all "expired"
        raise UsageError("--max-age-hours must be 0 or more (a number of hours)")
    try:
        result = sweep_expired_capacity(
            aws.client("bedrock"),
            stack_name=args.stack,
            max_age_hours=max_age,
            dry_run=args.dry_run,
            raise_on_failure=False,
        )
    except (NoCredentialsError, NoRegionError, ProfileNotFound, InvalidRegionError) as error:
        raise UsageError(
            f"{error}: configure AWS credentials and a region (e.g. AWS_PROFILE, AWS_DEFAULT_REGION)"
        ) from None
    except PipelineError as error:
        print(f"error: {error}")
        return EXIT_BAD_INPUT
    except (ClientError, BotoCoreError) as error:  # credentials refused or expired, a config file that does not parse
        raise UsageError(str(error)) from None
    _print(result)
    return EXIT_OK if result.complete else EXIT_BAD_INPUT
