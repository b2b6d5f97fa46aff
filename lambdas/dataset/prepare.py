"""Preparation: turn a dropped file into validated train / validation / test files in the model's format.

A dropped file is either raw question/answer pairs (a JSON array or JSONL of ``{question, answer}`` objects, key
names from ``PipelineSettings.qa_keys``) or JSONL already in the model's format. Preparation makes two passes over
the source, so memory stays bounded for JSONL of any size:

1. read every record, convert raw pairs, and validate (``DatasetValidator``): this counts the records;
2. when valid, plan the split from the count and the model's limits, and write each record to its split, choosing
   members by selection sampling (Knuth's algorithm S): exact counts, seeded, deterministic, constant memory.

Each written file is then validated against its own role's limits. Raw JSON *arrays* must be parsed whole; they are
accepted up to ``RAW_ARRAY_MAX_BYTES`` (larger raw data should be JSONL).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, field_validator

from lambdas.dataset.formats import Turn, format_record, json_type, lone_surrogate_in, parse_json, shown_keys
from lambdas.dataset.report import ErrorCode, SplitCounts, ValidationReport
from lambdas.dataset.validator import (
    DEFAULT_MAX_LINE_BYTES,
    LONE_SURROGATE_MESSAGE,
    NOT_A_RECORD,
    UTF8_BOM,
    DatasetValidator,
    iter_lines,
    validate_file,
)
from lambdas.registry import ModelSpec
from lambdas.settings import QaKeys, SplitSettings

RAW_ARRAY_MAX_BYTES = 64 * 1024 * 1024
DETECT_BYTES = 64 * 1024

Split = Literal["train", "validation", "test"]
SPLIT_FILE_NAMES: dict[Split, str] = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}

ChunkSource = Callable[[], Iterable[bytes]]  # each call reads the source again from its start


class DatasetKind(StrEnum):
    MODEL_JSONL = "model-jsonl"  # already in the model's format
    RAW_QA_JSONL = "raw-qa-jsonl"
    JSON_ARRAY = "json-array"  # raw pairs when its items carry the question/answer keys; otherwise rejected


class PreparationOptions(BaseModel):
    model_config = ConfigDict(frozen=True)

    qa_keys: QaKeys = QaKeys()
    system_prompt: str | None = None
    split: SplitSettings = SplitSettings()
    epochs: int | None = None
    price_per_1k_tokens: float | None = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES

    @field_validator("system_prompt")
    @classmethod
    def _system_prompt_is_text(cls, value: str | None) -> str | None:
        if lone_surrogate_in(value):  # e.g. bytes that are not UTF-8 on the command line
            raise ValueError("the system prompt is not valid text: it holds half of a UTF-16 surrogate pair")
        return value


class PreparedDataset(BaseModel):
    """The outcome: the report, and the files written (only when the report is valid)."""

    report: ValidationReport
    kind: DatasetKind
    files: dict[str, Path]  # split name -> file, only splits with records

    @property
    def prepared_from_raw_qa(self) -> bool:
        return self.report.stats.prepared_from_raw_qa


def detect_kind(head: bytes, qa_keys: QaKeys) -> DatasetKind:
    """Tell raw question/answer JSONL from model-format JSONL by the start of the file."""
    text = head.removeprefix(UTF8_BOM).decode("utf-8", errors="replace").lstrip()
    if text.startswith("["):
        return DatasetKind.JSON_ARRAY
    first_line = text.split("\n", 1)[0]
    try:
        first = parse_json(first_line)
    except ValueError:
        return DatasetKind.MODEL_JSONL  # the validator reports the bad line
    if _looks_like_qa(first, qa_keys):
        return DatasetKind.RAW_QA_JSONL
    return DatasetKind.MODEL_JSONL


def _looks_like_qa(value: Any, qa_keys: QaKeys) -> bool:
    return (
        isinstance(value, dict)
        and qa_keys.question in value
        and qa_keys.answer in value
        and not ({"messages", "prompt", "completion"} & set(value))
    )


def plan_split(records: int, spec: ModelSpec, split: SplitSettings) -> tuple[SplitCounts, list[tuple[str, str]]]:
    """How many records go to each split, within the model's limits; problems are ``(code, message)`` pairs.

    The validation set is dropped (its records train) when it would fall below the model's validation minimum; the
    test set shrinks when training would otherwise fall below its minimum.
    """
    limits = spec.limits
    name = spec.display_name
    test = round(records * split.test_fraction)
    validation = round(records * split.validation_fraction)
    if limits.validation_max_records is not None:
        validation = min(validation, limits.validation_max_records)
    if limits.validation_min_records is not None and validation < limits.validation_min_records:
        validation = 0
    train_min = limits.training_min_records or 0
    if records - validation - test < train_min:
        test = max(0, records - validation - train_min)
    if records - validation - test < train_min and validation:
        validation = 0
        test = max(0, records - train_min)
    counts = SplitCounts(train=records - validation - test, validation=validation, test=test)
    problems: list[tuple[str, str]] = []
    if counts.train < train_min:
        problems.append(
            (ErrorCode.TOO_FEW_RECORDS, f"{records:,} records; {name} needs at least {train_min:,} for training")
        )
    elif limits.total_min_records is not None and counts.train + counts.validation < limits.total_min_records:
        problems.append(
            (
                ErrorCode.TOO_FEW_RECORDS,
                f"{counts.train + counts.validation:,} records for training and validation after holding out "
                f"{counts.test} for testing; {name} needs at least {limits.total_min_records:,}",
            )
        )
    if limits.training_max_records is not None and counts.train > limits.training_max_records:
        problems.append(
            (
                ErrorCode.TOO_MANY_RECORDS,
                f"{counts.train:,} training records; {name} accepts at most {limits.training_max_records:,}",
            )
        )
    if limits.total_max_records is not None and counts.train + counts.validation > limits.total_max_records:
        problems.append(
            (
                ErrorCode.TOO_MANY_RECORDS,
                f"{counts.train + counts.validation:,} training and validation records; "
                f"{name} accepts at most {limits.total_max_records:,} in all",
            )
        )
    return counts, problems


def assign_splits(counts: SplitCounts, seed: int) -> Iterator[Split]:
    """The split of each record in order: a seeded, exact-count random choice in constant memory (algorithm S)."""
    rng = random.Random(seed)
    remaining = counts.train + counts.validation + counts.test
    want_test, want_validation = counts.test, counts.validation
    while remaining:
        draw = rng.random() * remaining
        if draw < want_test:
            want_test -= 1
            yield "test"
        elif draw < want_test + want_validation:
            want_validation -= 1
            yield "validation"
        else:
            yield "train"
        remaining -= 1


class QaProblem(NamedTuple):
    code: ErrorCode
    message: str


def qa_to_record(item: Any, keys: QaKeys, system_prompt: str | None, spec: ModelSpec) -> dict[str, Any] | QaProblem:
    """A raw pair in the model's format, or why it cannot be converted."""
    if not isinstance(item, dict):
        return QaProblem(ErrorCode.NOT_AN_OBJECT, f"each question/answer item must be an object, not {json_type(item)}")
    missing = [key for key in (keys.question, keys.answer) if key not in item]
    if missing:
        present = shown_keys(sorted(item))
        return QaProblem(
            ErrorCode.MISSING_FIELD,
            f"the item has no {' or '.join(repr(key) for key in missing)} (keys present: {present}); "
            "set qa_keys (or --question-key / --answer-key) to the names your data uses",
        )
    question, answer = item[keys.question], item[keys.answer]
    if not isinstance(question, str) or not isinstance(answer, str):
        return QaProblem(ErrorCode.WRONG_TYPE, f'"{keys.question}" and "{keys.answer}" must both be strings')
    turns = [Turn(role="user", text=question), Turn(role="assistant", text=answer)]
    return format_record(system_prompt, turns, spec)


def prepare_dataset(
    source: ChunkSource,
    spec: ModelSpec,
    out_dir: Path,
    options: PreparationOptions,
    *,
    size_bytes: int | None = None,
) -> PreparedDataset:
    """Validate ``source`` (converting raw pairs) and, when valid, write the split files into ``out_dir``.

    Files are written under temporary names and renamed only once all are complete and valid, so a reader never
    sees a half-written split.
    """
    first_pass = iter(source())
    head = b""
    buffered: list[bytes] = []
    for chunk in first_pass:  # up to the first complete line (bounded), to read the first record whole
        buffered.append(chunk)
        head += chunk
        if (len(head) >= DETECT_BYTES and b"\n" in head) or len(head) > options.max_line_bytes:
            break
    kind = detect_kind(head, options.qa_keys)
    stream = chain(buffered, first_pass)
    validator = DatasetValidator(
        spec,
        role="training",
        epochs=options.epochs,
        price_per_1k_tokens=options.price_per_1k_tokens,
        max_line_bytes=options.max_line_bytes,
        check_counts=False,
    )
    items: list[Any] | None = None
    raw_qa = kind is not DatasetKind.MODEL_JSONL
    if kind is DatasetKind.JSON_ARRAY:
        items = _load_raw_array(stream, validator, options.qa_keys)
        raw_qa = items is not None
        if items is not None:
            for number, item in enumerate(items, start=1):
                validator.records += 1
                _check_qa(validator, number, item, options, spec)
    else:
        for line_number, raw in iter_lines(stream, options.max_line_bytes):
            value = validator.parse_line(line_number, raw)
            if value is NOT_A_RECORD:
                continue
            if raw_qa:
                _check_qa(validator, line_number, value, options, spec)
            else:
                validator.check_record(line_number, value)
    report = validator.finish(size_bytes=size_bytes)
    counts, plan_problems = plan_split(report.records, spec, options.split)
    if report.records and not validator.stopped:
        for code, message in plan_problems:
            validator.errors.add(None, code, message)
    if validator.errors:
        return PreparedDataset(report=_final_report(validator, raw_qa, None, None), kind=kind, files={})

    out_dir.mkdir(parents=True, exist_ok=True)
    partial = {split: out_dir / f".{name}.partial" for split, name in SPLIT_FILE_NAMES.items()}
    records = _record_lines(source, kind, items, options, spec)
    _write_splits(records, assign_splits(counts, options.split.seed), partial, counts)
    train_report = _check_written(partial, counts, spec, options, validator)
    files: dict[str, Path] = {}
    if validator.errors:
        for path in partial.values():
            path.unlink(missing_ok=True)
    else:
        for split, path in partial.items():
            if getattr(counts, split):
                final = out_dir / SPLIT_FILE_NAMES[split]
                path.replace(final)
                files[split] = final
            else:
                path.unlink(missing_ok=True)
                (out_dir / SPLIT_FILE_NAMES[split]).unlink(missing_ok=True)  # no stale file from an earlier run
    return PreparedDataset(report=_final_report(validator, raw_qa, counts, train_report), kind=kind, files=files)


def _check_qa(validator: DatasetValidator, line: int, item: Any, options: PreparationOptions, spec: ModelSpec) -> None:
    if lone_surrogate_in(item):  # the whole item, any field; check_record would see only the converted texts
        validator.errors.add(line, ErrorCode.LONE_SURROGATE, LONE_SURROGATE_MESSAGE)
        return
    record = qa_to_record(item, options.qa_keys, options.system_prompt, spec)
    if isinstance(record, QaProblem):
        validator.errors.add(line, record.code, record.message)
        return
    validator.check_record(line, record)


def _load_raw_array(stream: Iterable[bytes], validator: DatasetValidator, qa_keys: QaKeys) -> list[Any] | None:
    """Parse a raw question/answer JSON array (bounded in size); None, with the problem logged, when it is not one."""
    data = bytearray()
    for chunk in stream:
        data += chunk
        if len(data) > RAW_ARRAY_MAX_BYTES:
            validator.errors.add(
                None,
                ErrorCode.RAW_ARRAY_TOO_LARGE,
                f"the file is a JSON array larger than {RAW_ARRAY_MAX_BYTES // (1024 * 1024)} MB; "
                "give large raw data as JSON Lines (one question/answer object per line)",
            )
            validator.stopped = True
            return None
    validator.bytes = len(data)
    try:
        value = parse_json(bytes(data).removeprefix(UTF8_BOM))
    except ValueError as error:
        validator.errors.add(
            None, ErrorCode.INVALID_JSON, f"the file starts like a JSON array but is not valid JSON: {error}"
        )
        validator.stopped = True
        return None
    if isinstance(value, list) and value and _looks_like_qa(value[0], qa_keys):
        return value
    first_keys = ""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        first_keys = f"; its first item has keys: {shown_keys(sorted(value[0]))}"
    validator.errors.add(
        None,
        ErrorCode.JSON_ARRAY_NOT_JSONL,
        "the file is a JSON array; Bedrock needs JSON Lines (one JSON object per line). Raw question/answer "
        f'arrays are converted when their items have "{qa_keys.question}" and "{qa_keys.answer}" '
        f"(set qa_keys or --question-key / --answer-key){first_keys}",
    )
    validator.stopped = True
    return None


def _record_lines(
    source: ChunkSource, kind: DatasetKind, items: list[Any] | None, options: PreparationOptions, spec: ModelSpec
) -> Iterator[bytes]:
    """Second pass: each record as one line of the model's format (the source is known to be valid)."""
    if items is not None:
        for item in items:
            yield _dump(qa_to_record(item, options.qa_keys, options.system_prompt, spec))
        return
    for line_number, raw in iter_lines(source(), options.max_line_bytes):
        if raw is None:  # cannot happen for a source that validated; keep the count honest if it changed
            raise ValueError(f"line {line_number} of the source changed between reads")
        line = raw.removeprefix(UTF8_BOM) if line_number == 1 else raw
        line = line.removesuffix(b"\r")
        if not line.strip():
            continue
        if kind is DatasetKind.RAW_QA_JSONL:
            yield _dump(qa_to_record(parse_json(line), options.qa_keys, options.system_prompt, spec))
        else:
            yield line


def _dump(record: dict[str, Any] | QaProblem) -> bytes:
    if isinstance(record, QaProblem):
        raise ValueError(f"the source changed between reads: {record.message}")
    return json.dumps(record, ensure_ascii=False).encode()


def _write_splits(
    records: Iterator[bytes], splits: Iterator[Split], paths: dict[Split, Path], counts: SplitCounts
) -> None:
    files = {split: path.open("wb") for split, path in paths.items()}
    written = 0
    try:
        for line, split in zip(records, splits, strict=False):
            files[split].write(line + b"\n")
            written += 1
    finally:
        for handle in files.values():
            handle.close()
    expected = counts.train + counts.validation + counts.test
    if written != expected:
        raise ValueError(
            f"the source changed between reads: {written} records on the second pass, {expected} on the first"
        )


def _check_written(
    paths: dict[Split, Path],
    counts: SplitCounts,
    spec: ModelSpec,
    options: PreparationOptions,
    validator: DatasetValidator,
) -> ValidationReport | None:
    """Validate each written file against its own role's limits; problems land in ``validator`` prefixed by file."""
    train_report: ValidationReport | None = None
    roles: dict[Split, Literal["training", "validation"]] = {
        "train": "training",
        "validation": "validation",
        "test": "validation",
    }
    for split, path in paths.items():
        if not getattr(counts, split):
            continue
        report = validate_file(
            path,
            spec,
            role=roles[split],
            epochs=options.epochs,
            price_per_1k_tokens=options.price_per_1k_tokens,
            check_counts=split != "test",  # the test set never reaches Bedrock
        )
        if split == "train":
            train_report = report
        for problem in report.errors:
            validator.errors.add(problem.line, problem.code, f"{SPLIT_FILE_NAMES[split]}: {problem.message}")
    return train_report


def _final_report(
    validator: DatasetValidator, raw_qa: bool, counts: SplitCounts | None, train_report: ValidationReport | None
) -> ValidationReport:
    report = validator.report()
    stats = report.stats.model_copy(update={"prepared_from_raw_qa": raw_qa, "split": counts})
    if train_report is not None:
        # Bedrock bills the training split, not the held-out records.
        stats = stats.model_copy(
            update={
                "estimated_billed_tokens": train_report.stats.estimated_billed_tokens,
                "estimated_training_cost_usd": train_report.stats.estimated_training_cost_usd,
            }
        )
    return report.model_copy(update={"stats": stats})
