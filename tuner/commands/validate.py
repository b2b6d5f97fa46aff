"""``python -m tuner validate FILE``: what the pipeline will decide for FILE dropped as is, before anything is billed.

By default the file goes through the very code the ValidateDataset step runs, with the stack's settings (cdk.json's
``fine_tuning``, ``--model`` overriding the base model): raw question/answer data is converted, the split is planned
and the model's minimums are checked after the split; the two can never disagree. FILE's name decides how it is read,
as the dropped key's does (``lambdas.dataset.sources``). ``--role training|validation``
checks one file as Bedrock would read it (a prepared split). Exit 0 when valid (the drop would be accepted), 1 when
not, 2 for usage errors. ``--json`` prints exactly one JSON object (the report).
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

from lambdas.clock import utc_now
from lambdas.dataset.report import ErrorCode, ValidationReport, WarningCode
from lambdas.dataset.validator import validate_file
from lambdas.registry import DEFAULT_BASE_MODEL_ID, ModelSpec, UnknownModelError, get_model
from lambdas.settings import PipelineSettings
from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, UsageError

LINES_SHOWN = 5


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a dataset against a model's rules and limits, as the pipeline would decide for it dropped",
        description="Check a dataset as dropped into the bucket (JSON Lines, or a .json array of question/answer "
        "objects, either optionally .gz; other formats are rejected as the pipeline rejects them), or with --role one "
        "prepared JSONL split; every problem is reported with its line and a code. "
        "Exit status: 0 valid, 1 invalid, 2 usage error.",
        epilog=f"error codes (the file is invalid): {', '.join(ErrorCode)}\n\n"
        f"warning codes (worth a look, accepted by Bedrock): {', '.join(WarningCode)}",
        formatter_class=_CodesFormatter,
    )
    parser.add_argument("file", type=Path, help="the dataset file (.jsonl, .json, either .gz; --role: a .jsonl split)")
    parser.add_argument(
        "--model",
        default=None,
        help="base model id (default: cdk.json's base_model_id, else " + DEFAULT_BASE_MODEL_ID + ")",
    )
    parser.add_argument(
        "--role",
        choices=("training", "validation"),
        default=None,
        help="check FILE as one prepared split file (default: as dropped into the bucket, split included)",
    )
    parser.add_argument("--epochs", type=int, help="epochs for the billed-token estimate (default: the model's)")
    parser.add_argument("--price-per-1k-tokens", type=price, help="training price in USD per 1,000 tokens")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.set_defaults(run=run)


class _CodesFormatter(argparse.HelpFormatter):
    """Keeps the epilog's paragraphs apart (the default formatter runs them together)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n\n".join(super(_CodesFormatter, self)._fill_text(part, width, indent) for part in text.split("\n\n"))


def price(text: str) -> float:
    """An argparse type: a price in dollars, 0 or more (``float`` alone takes nan, inf and -5)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a price: give US dollars, 0 or more")
    return value


def model_from(model_id: str) -> ModelSpec:
    try:
        return get_model(model_id)
    except UnknownModelError as error:
        raise UsageError(str(error)) from None


def existing_file(path: Path) -> Path:
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{path}: not a file")
    return path


def default_epochs(spec: ModelSpec, epochs: int | None) -> int:
    if epochs is not None:
        hp = spec.hyperparameter("epochCount")
        if not hp.minimum <= epochs <= hp.maximum:
            raise UsageError(f"--epochs {epochs} is outside {spec.display_name}'s range {hp.minimum:g}..{hp.maximum:g}")
        return epochs
    return int(spec.hyperparameter("epochCount").default)


def drop_settings(model_id: str | None) -> PipelineSettings:
    """The stack's settings as synthesis reads them (cdk.json's fine_tuning), with ``model_id`` as the base model."""
    import json

    from infra.config import SettingsError, settings_from_context

    cdk_json = Path(__file__).resolve().parents[2] / "cdk.json"
    context = json.loads(cdk_json.read_text()).get("context", {}) if cdk_json.is_file() else {}
    fine_tuning = dict(context.get("fine_tuning", {}))
    if model_id is not None:
        model_from(model_id)  # an unknown id is a usage error naming the supported models
        fine_tuning["base_model_id"] = model_id
    try:
        return settings_from_context({"fine_tuning": fine_tuning})
    except SettingsError as error:
        raise UsageError(str(error).replace("\n", " ")) from None


def as_dropped(path: Path, settings: PipelineSettings, epochs: int | None, price: float | None) -> ValidationReport:
    """The ValidateDataset step's own preparation of ``path``, in a scratch folder that is thrown away."""
    import tempfile

    from lambdas.dataset.prepare import prepare_dataset
    from lambdas.dataset.run_dataset import options_for
    from lambdas.dataset.validator import file_chunks

    options = options_for(settings)
    if epochs is not None or price is not None:
        options = options.model_copy(
            update={
                "epochs": epochs if epochs is not None else options.epochs,
                "price_per_1k_tokens": price if price is not None else options.price_per_1k_tokens,
            }
        )
    with tempfile.TemporaryDirectory(prefix="tuner-validate-") as scratch:
        prepared = prepare_dataset(
            lambda: file_chunks(path),
            settings.model,
            Path(scratch),
            options,
            name=path.name,
            size_bytes=path.stat().st_size,
        )
    return prepared.report


def run(args: argparse.Namespace) -> int:
    path = existing_file(args.file)
    try:
        if args.role is None:
            settings = drop_settings(args.model)
            spec = settings.model
            epochs = default_epochs(spec, args.epochs) if args.epochs is not None else None
            report = as_dropped(path, settings, epochs, args.price_per_1k_tokens)
        else:
            spec = model_from(args.model or DEFAULT_BASE_MODEL_ID)
            epochs = default_epochs(spec, args.epochs)
            report = validate_file(
                path, spec, role=args.role, epochs=epochs, price_per_1k_tokens=args.price_per_1k_tokens
            )
    except OSError as error:
        raise UsageError(f"{path}: {error.strerror or error}") from None
    if args.json:
        print(report.model_dump_json())
    else:
        print(summary(report, spec, str(path), dropped=args.role is None))
    return EXIT_OK if report.valid else EXIT_BAD_INPUT


def _how_read(report: ValidationReport) -> str:
    stats = report.stats
    notes = []
    if stats.read_as == "json-array" and stats.prepared_from_raw_qa:
        notes.append("converted from a JSON array of raw question/answer pairs")
    elif stats.prepared_from_raw_qa:
        notes.append("raw question/answer pairs, converted")
    if stats.gzip:
        notes.append(f"gzip, {stats.bytes:,} bytes decompressed")
    return f" ({'; '.join(notes)})" if notes else ""


def summary(report: ValidationReport, spec: ModelSpec, name: str, *, dropped: bool = False) -> str:
    """A person's view: verdict, problems grouped by code with counts and first lines, then the figures."""
    stats = report.stats
    if dropped:
        verdict = "ACCEPTED" if report.valid else "REJECTED"
        lines = [
            f"{name}: dropped into the bucket as is, the run would be {verdict} for {spec.display_name} "
            f"({spec.model_id}), {report.records:,} records" + _how_read(report)
        ]
    else:
        verdict = "VALID" if report.valid else "INVALID"
        lines = [
            f"{name}: {verdict} for {spec.display_name} ({spec.model_id}) as {stats.role} data, "
            f"{report.records:,} records"
        ]
    refusal = spec.why_no_new_job(utc_now().date())
    if refusal is not None:  # the file can still be checked (the reference study's data), but no job would start
        lines.append(f"  note: {refusal}")
    for title, problems, counts in (
        ("errors", report.errors, stats.error_counts),
        ("warnings", report.warnings, stats.warning_counts),
    ):
        if not counts:
            continue
        lines.append(f"{title} ({sum(counts.values()):,}):")
        by_code: dict[str, list[int | None]] = defaultdict(list)
        example: dict[str, str] = {}
        for problem in problems:
            by_code[problem.code].append(problem.line)
            example.setdefault(problem.code, problem.message)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            distinct = sorted({line for line in by_code[code] if line is not None})
            numbers = [str(line) for line in distinct[:LINES_SHOWN]]
            where = (
                f" line{'s' if len(distinct) > 1 else ''} {', '.join(numbers)}{', ...' if count > len(numbers) else ''}"
                if numbers
                else ""
            )
            lines.append(f"  {code} x{count:,}{where}: {example.get(code, '')}")
    tokens = stats.tokens_per_record
    if tokens is not None:
        lines.append(
            f"tokens per record (characters / 3): min {tokens.min:,}, median {tokens.median:,}, max {tokens.max:,}; "
            f"total {stats.total_tokens:,}"
        )
    if stats.estimated_billed_tokens is not None and tokens is not None:
        cost = stats.estimated_training_cost_usd
        price = f", about ${cost:,.2f}" if cost is not None else " (set a price per 1k tokens for a cost estimate)"
        lines.append(
            f"estimated billed training tokens: {stats.estimated_billed_tokens:,} ({stats.epochs} epochs){price}"
        )
    if stats.split is not None:
        lines.append(
            f"split: train {stats.split.train:,}, validation {stats.split.validation:,}, test {stats.split.test:,}"
        )
    return "\n".join(lines)
