"""``python -m tuner prepare RAW [--model MODEL_ID] --out DIR``: raw question/answer pairs -> validated splits.

Writes ``train.jsonl``, ``validation.jsonl`` (when the model's minimum allows one) and ``test.jsonl`` in the model's
format, validates what it wrote and prints the counts. RAW is read as the pipeline reads a drop of that name (the
same code: ``.jsonl``, ``.json``, either ``.gz``; other formats are rejected). Exit 0 when valid, 1 when not, 2 for
usage errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pydantic import ValidationError

from lambdas.dataset.prepare import SPLIT_FILE_NAMES, PreparationOptions, prepare_dataset
from lambdas.dataset.validator import file_chunks
from lambdas.settings import QaKeys, SplitSettings
from tuner.cli import EXIT_BAD_INPUT, EXIT_OK, UsageError
from tuner.commands.validate import default_epochs, drop_settings, existing_file, model_from, price, summary

_DEFAULT_SPLIT = SplitSettings()
_DEFAULT_KEYS = QaKeys()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "prepare", help="convert raw question/answer data into validated model-format splits"
    )
    parser.add_argument(
        "raw",
        type=Path,
        help="raw Q/A as a .json array or JSONL (or JSONL already in the model's format), either optionally .gz",
    )
    parser.add_argument(
        "--model", default=None, help="base model id whose format and limits apply (default: as validate's)"
    )
    parser.add_argument("--out", required=True, type=Path, help="directory for train/validation/test.jsonl")
    parser.add_argument("--system-prompt", help="system prompt added to every record")
    parser.add_argument("--seed", type=int, default=_DEFAULT_SPLIT.seed, help="split seed (default %(default)s)")
    parser.add_argument("--validation-fraction", type=float, default=_DEFAULT_SPLIT.validation_fraction)
    parser.add_argument("--test-fraction", type=float, default=_DEFAULT_SPLIT.test_fraction)
    parser.add_argument(
        "--question-key", default=_DEFAULT_KEYS.question, help="key of the question (default %(default)s)"
    )
    parser.add_argument("--answer-key", default=_DEFAULT_KEYS.answer, help="key of the answer (default %(default)s)")
    parser.add_argument("--epochs", type=int, help="epochs for the billed-token estimate (default: the model's)")
    parser.add_argument("--price-per-1k-tokens", type=price, help="training price in USD per 1,000 tokens")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = model_from(args.model) if args.model else drop_settings(None).model
    raw = existing_file(args.raw)
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a directory")
    for name in SPLIT_FILE_NAMES.values():
        if (args.out / name).exists() and (args.out / name).samefile(raw):
            raise UsageError(f"--out {args.out}: {name} there is {raw} itself, which preparing would overwrite")
    try:
        options = PreparationOptions(
            qa_keys=QaKeys(question=args.question_key, answer=args.answer_key),
            system_prompt=args.system_prompt,
            split=SplitSettings(
                validation_fraction=args.validation_fraction, test_fraction=args.test_fraction, seed=args.seed
            ),
            epochs=default_epochs(spec, args.epochs),
            price_per_1k_tokens=args.price_per_1k_tokens,
        )
    except ValidationError as error:
        raise UsageError("; ".join(str(item["msg"]).removeprefix("Value error, ") for item in error.errors())) from None
    try:
        prepared = prepare_dataset(
            lambda: file_chunks(raw), spec, args.out, options, name=raw.name, size_bytes=raw.stat().st_size
        )
    except OSError as error:
        raise UsageError(f"{error.filename or raw}: {error.strerror or error}") from None
    report = prepared.report
    print(summary(report, spec, str(raw)))
    if not report.valid:
        print("nothing written")
        return EXIT_BAD_INPUT
    origin = "raw question/answer pairs" if report.stats.prepared_from_raw_qa else f"{spec.display_name} records"
    if report.stats.read_as == "json-array":
        origin += " (a JSON array)"
    print(f"prepared from {origin}:")
    for split, path in prepared.files.items():
        count = getattr(report.stats.split, split) if report.stats.split else 0
        print(f"  {split:<10} {count:>6,} records  {path}")
    return EXIT_OK
