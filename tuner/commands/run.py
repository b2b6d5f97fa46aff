"""``python -m tuner run FILE --local``: rehearse a complete run on moto and the local Bedrock emulator.

No AWS account is used and nothing is billed: the synthesized stack runs on moto's Step Functions engine with the
real handlers, Bedrock is emulated (every figure in the report is labelled EMULATED) and time is simulated.
Several files are dropped in order into the same emulated account (one run, one report each, under
``<out>/<run-id>/``). Exit status: 0 when every run SUCCEEDED, 1 when one FAILED or was REJECTED (artefacts are still
written), 2 on usage errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, UsageError
from tuner.local.scenarios import Scenario

SCENARIO_NAMES = tuple(scenario.value for scenario in Scenario)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the whole pipeline locally on an AWS emulator (--local)",
        description=__doc__,
        epilog="scenarios (--simulate):\n"
        + "\n".join(f"  {scenario.value:<17} {scenario.description}" for scenario in Scenario),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="the dataset to drop into incoming/ (under its own name); several files are dropped one after the "
        "other into the same emulated account, one run each",
    )
    parser.add_argument(
        "--reevaluate",
        action="store_true",
        help="after the last run, drop a reevaluate/ request for the custom model it trained (what `tuner evaluate` "
        "uploads on AWS): a second run that evaluates it again without training",
    )
    parser.add_argument(
        "--local", action="store_true", help="run on the embedded emulator (required: runs on AWS start from S3)"
    )
    parser.add_argument("--model", metavar="MODEL_ID", help="base model id (default: cdk.json's base_model_id)")
    parser.add_argument(
        "--simulate",
        metavar="SCENARIO",
        default="none",
        help="what goes wrong (see below; default: none)",
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="fine_tuning.KEY=VALUE",
        help="override one setting exactly as `cdk synth -c` does (the value is parsed as JSON where it parses), "
        "e.g. -c fine_tuning.evaluation='{\"max_test_records\": 5}'; repeatable",
    )
    parser.add_argument(
        "--override",
        metavar="JSON",
        help="run-level settings the drop itself carries, as S3 metadata fine-tuning-settings would on AWS "
        '(e.g. \'{"hyperparameters": {"epochCount": 3}}\')',
    )
    parser.add_argument(
        "--put",
        action="append",
        default=[],
        metavar="KEY=FILE",
        help="put FILE in the emulated bucket at KEY before the drops, e.g. eval/ports.jsonl=ports.jsonl for "
        "evaluation.test_set; repeatable",
    )
    parser.add_argument(
        "--account",
        type=Path,
        metavar="DIR",
        help="keep the emulated account in DIR: start from it if it exists, save it at the end (tuner serving, "
        "promote and rollback take the same --account)",
    )
    parser.add_argument("--out", type=Path, metavar="DIR", help="where the artefacts go (default: runs/<run-id>/)")
    parser.add_argument("--quiet", action="store_true", help="no progress display, only the summary")
    parser.set_defaults(run=run)


def context_pairs(values: list[str]) -> dict[str, str]:
    """``-c fine_tuning.KEY=VALUE`` options as a mapping; anything else is a one-line usage error."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.startswith("fine_tuning.") or key == "fine_tuning.":
            raise UsageError(f"-c {value!r}: expected fine_tuning.KEY=VALUE, as with `cdk synth -c`")
        pairs[key] = text
    return pairs


def bucket_files(values: list[str]) -> dict[str, Path]:
    """``--put KEY=FILE`` options as a mapping; a missing file or a malformed option is a one-line usage error."""
    files: dict[str, Path] = {}
    for value in values:
        key, sep, name = value.partition("=")
        if not sep or not key or not name or key.startswith("/") or key.endswith("/"):
            raise UsageError(f"--put {value!r}: expected KEY=FILE, e.g. eval/ports.jsonl=ports.jsonl")
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"--put {value!r}: {path} does not exist or is not a file")
        files[key] = path
    return files


def run(args: argparse.Namespace) -> int:
    if not args.local:
        raise UsageError("only --local runs are supported here; on AWS, upload the file to the bucket's incoming/")
    if args.simulate not in SCENARIO_NAMES:
        raise UsageError(f"unknown scenario {args.simulate!r}; choose one of: {', '.join(SCENARIO_NAMES)}")
    for file in args.files:
        if not file.is_file():
            raise UsageError(f"{file} does not exist or is not a file")
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise UsageError(f"--out {args.out}: exists and is not a directory")
        try:  # here, not as a traceback once the stack is synthesized
            args.out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"--out {args.out}: {error.strerror or error}") from None

    from lambdas.runs.overrides import METADATA_KEY
    from tuner.local.harness import Drop, LocalRun, LocalRunError, RunRequest
    from tuner.local.progress import ConsoleObserver, print_summary

    request = RunRequest(
        dataset=args.files[0],
        then=tuple(Drop(file=file) for file in args.files[1:])
        + ((Drop(reevaluate_previous=True),) if args.reevaluate else ()),
        model_id=args.model,
        scenario=Scenario(args.simulate),
        out_dir=args.out,
        context=context_pairs(args.context),
        bucket_files=bucket_files(args.put),
        account=args.account,
        drop_metadata={METADATA_KEY: args.override} if args.override is not None else {},
    )
    observer = ConsoleObserver(quiet=args.quiet)
    try:
        local_run = LocalRun(request, observer=observer)
        with observer:
            results = local_run.run_all()
    except LocalRunError as error:
        raise UsageError(str(error)) from None
    for result in results:
        print_summary(result, observer.console)
    return EXIT_OK if all(result.report_status == "SUCCEEDED" for result in results) else EXIT_BAD_INPUT
