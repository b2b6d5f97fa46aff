"""``python -m tuner preflight [FILE]``: the Preflight step's checks, from a machine with AWS credentials.

The same code the Preflight state runs (``lambdas.preflight``), with the stack's settings (cdk.json's ``fine_tuning``,
``--model`` overriding the base model), against the account and region the standard AWS configuration points at:
model access of the base model and the judge, end of life and region support, the Service Quotas the run needs, and
the budget (``max_run_cost_usd``; FILE, the dataset you mean to drop, sizes the estimate as the drop would).
``--state-machine-arn`` also counts the stack's running executions against ``max_concurrent_runs``. It only reads.
Exit status: 0 when a run would pass, 1 when a check failed, 2 for usage errors (no credentials, bad settings).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidRegionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from lambdas import aws
from lambdas.clock import utc_now
from lambdas.contracts import CheckStatus, ExecutionContext, PreflightOutput
from lambdas.errors import PipelineError
from lambdas.preflight.budget import RunSize
from lambdas.preflight.run import preflight
from lambdas.registry import resolve_serving
from lambdas.settings import PipelineSettings
from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, UsageError
from tuner.commands.validate import as_dropped, drop_settings, existing_file

_MARK = {CheckStatus.FAILED: "FAILED ", CheckStatus.WARNING: "warning", CheckStatus.PASSED: "ok     "}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "preflight",
        help="check model access, quotas, budget and running runs before a drop (reads your AWS account)",
        description=__doc__,
    )
    parser.add_argument("file", type=Path, nargs="?", help="the dataset you mean to drop (sizes the cost estimate)")
    parser.add_argument("--model", default=None, help="base model id (default: cdk.json's base_model_id)")
    parser.add_argument(
        "--state-machine-arn",
        default=None,
        metavar="ARN",
        help="the stack's state machine (output StateMachineArn): count its running executions",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)


def _size(path: Path | None, settings: PipelineSettings) -> RunSize:
    if path is None:
        return RunSize(questions=settings.evaluation.max_test_records)
    try:
        report = as_dropped(existing_file(path), settings, None, None)
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or error}") from None
    if not report.valid:
        raise UsageError(f"{path} would be rejected as dropped: run python -m tuner validate {path}")
    split = report.stats.split
    return RunSize(
        training_tokens=report.stats.estimated_billed_tokens,
        train_records=split.train if split else report.records,
        validation_records=split.validation if split else 0,
        questions=min(settings.evaluation.max_test_records, split.test) if split else 0,
    )


def _print(output: PreflightOutput, settings: PipelineSettings) -> None:
    order = {CheckStatus.FAILED: 0, CheckStatus.WARNING: 1, CheckStatus.PASSED: 2}
    print(f"preflight for {settings.model.display_name} ({settings.base_model_id}) in {output.region or '?'}")
    for check in sorted(output.checks, key=lambda check: order[check.status]):
        print(f"  {_MARK[check.status]} {check.check}: {check.subject}: {check.message}")
        if check.fix and check.status is not CheckStatus.PASSED:
            print(f"            fix: {check.fix}")
    failed, warned = len(output.failures), len(output.warnings)
    verdict = "a run would be REJECTED" if failed else "a run would pass preflight"
    print(f"{verdict}: {failed} failed, {warned} warning(s), {len(output.checks) - failed - warned} passed")


def run(args: argparse.Namespace) -> int:
    settings = drop_settings(args.model)
    size = _size(args.file, settings)
    serving = resolve_serving(settings.model, settings.inference_mode)
    # Not an execution yet: every running execution is "earlier", so the check says whether a drop now would fit.
    upcoming = (
        ExecutionContext(
            execution_arn=f"{args.state_machine_arn}:(a drop now)".replace(":stateMachine:", ":execution:"),
            state_machine_arn=args.state_machine_arn,
            started_at=utc_now(),
        )
        if args.state_machine_arn
        else None
    )
    try:
        bedrock = aws.client("bedrock")
        output = preflight(
            settings,
            serving=serving,
            region=bedrock.meta.region_name,
            bedrock=bedrock,
            service_quotas=aws.client("service-quotas"),
            size=size,
            stepfunctions=aws.client("stepfunctions") if upcoming else None,
            execution=upcoming,
        )
    except (NoCredentialsError, NoRegionError, ProfileNotFound, InvalidRegionError) as error:
        raise UsageError(
            f"{error}: configure AWS credentials and a region (e.g. AWS_PROFILE, AWS_DEFAULT_REGION)"
        ) from None
    except PipelineError as error:  # throttling or a 5xx that outlived the client's retries
        print(f"error: {error}")
        return EXIT_BAD_INPUT
    except (ClientError, BotoCoreError) as error:  # credentials refused or expired
        raise UsageError(str(error)) from None
    if args.json:
        print(output.model_dump_json())
    else:
        _print(output, settings)
    return EXIT_OK if output.passed else EXIT_BAD_INPUT
