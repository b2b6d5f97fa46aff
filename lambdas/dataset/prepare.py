"""Preparation: turn a dropped file into validated train / validation / test files in the model's format.

Its name says how it is read (``lambdas.dataset.sources``: JSON Lines, a ``.json`` file, gzip around either; any other
format is rejected unread). Its content is either raw question/answer pairs (a JSON array or JSONL of
``{question, answer}`` objects, key names from ``PipelineSettings.qa_keys``) or JSONL already in the model's format.
Preparation makes two passes over the source, so memory stays bounded for a file of any size (a JSON array is read
item by item, ``lambdas.dataset.json_array``):

1. read every record, convert raw pairs, and validate (``DatasetValidator``): this counts the records, and how
   many records ask each question (``QuestionGroups``: same after ``normalise_question``, i.e. case, Unicode form,
   punctuation and whitespace aside);
2. when valid, plan the split from the count and the model's limits (``plan_split``), place each repeated question
   as a whole in one split (``SplitAssignment``), and write each record to its split, choosing the other records'
   splits by selection sampling (Knuth's algorithm S): seeded, deterministic, exact counts.

Why repeated questions are kept together: a test question that is also a training question measures recall and
inflates the evaluation's verdict. Only exact repeats (after normalising) are grouped, because that is what a split
can do cheaply: one 8-byte digest per distinct question, for up to ``QUESTION_GROUP_LIMIT`` questions. Near
duplicates (rewordings) are not grouped; evaluation finds them with ``lambdas.evaluation.leakage.LeakageIndex`` and
leaves them out of the verdict. A dataset without repeated questions is split exactly as before grouping existed.

Each written file is then validated against its own role's limits.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from enum import StrEnum
from itertools import chain
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator

from lambdas.dataset.formats import Turn, format_record, json_type, lone_surrogate_in, parse_json, shown_keys
from lambdas.dataset.json_array import iter_json_array
from lambdas.dataset.report import ErrorCode, ReadAs, SplitCounts, ValidationReport, WarningCode
from lambdas.dataset.sources import (
    DECOMPRESSED_MAX_BYTES,
    SourceFormat,
    UnreadableSource,
    gunzip,
    source_name,
    unsupported_format_message,
    what_to_upload,
)
from lambdas.dataset.validator import (
    DEFAULT_MAX_LINE_BYTES,
    DUPLICATE_TRACKING_LIMIT,
    LONE_SURROGATE_MESSAGE,
    NOT_A_RECORD,
    UTF8_BOM,
    UTF16_BOMS,
    DatasetValidator,
    iter_lines,
    validate_file,
)
from lambdas.evaluation.leakage import normalise_question, question_digest, question_of_record
from lambdas.registry import ModelSpec
from lambdas.settings import QaKeys, SplitSettings

DETECT_BYTES = 64 * 1024
# How many distinct questions the split remembers to keep repeats together (an 8-byte digest and a count each: a few
# MB). The largest record limit in the registry is 20,000; past this, a new question's repeats split independently.
QUESTION_GROUP_LIMIT = DUPLICATE_TRACKING_LIMIT

Split = Literal["train", "validation", "test"]
SPLIT_FILE_NAMES: dict[Split, str] = {"train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"}

ChunkSource = Callable[[], Iterable[bytes]]  # each call reads the source again from its start
_Line = TypeVar("_Line")


class DatasetKind(StrEnum):
    MODEL_JSONL = "model-jsonl"  # already in the model's format
    RAW_QA_JSONL = "raw-qa-jsonl"
    JSON_ARRAY = "json-array"  # raw pairs when its items carry the question/answer keys; otherwise rejected


READ_AS: dict[DatasetKind, ReadAs] = {
    DatasetKind.MODEL_JSONL: "jsonl",
    DatasetKind.RAW_QA_JSONL: "jsonl",
    DatasetKind.JSON_ARRAY: "json-array",
}


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
    kind: DatasetKind | None  # None: not read (a format the pipeline does not read, or bytes that could not be)
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
    return counts, split_problems(counts, spec)


def validation_dropped(records: int, counts: SplitCounts, spec: ModelSpec, split: SplitSettings) -> str | None:
    """Why the validation split the settings asked for is not there, in words; None when nothing was dropped."""
    asked = round(records * split.validation_fraction)
    if asked == 0 or counts.validation > 0:
        return None
    minimum = spec.limits.validation_min_records
    if minimum is not None and asked < minimum:
        reason = (
            f"{asked:,} records ({split.validation_fraction:.0%}) is below {spec.display_name}'s minimum of {minimum:,}"
        )
    else:
        reason = f"training needs every record left after the test split ({spec.display_name}'s training minimum)"
    return (
        f"no validation split: {reason}; those records train instead, so the job reports no validation loss "
        "(add records, or raise split.validation_fraction)"
    )


def split_problems(counts: SplitCounts, spec: ModelSpec) -> list[tuple[str, str]]:
    """What makes a split unusable for the model: too few records to train, or too many; ``(code, message)``."""
    limits = spec.limits
    name = spec.display_name
    records = counts.train + counts.validation + counts.test
    train_min = limits.training_min_records or 0
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
    return problems


def question_key(record: Any, spec: ModelSpec) -> bytes | None:
    """What groups records in the split: the digest of the record's normalised question (None: no question)."""
    question = question_of_record(record, spec)
    if question is None:
        return None
    normalised = normalise_question(question)
    return question_digest(normalised) if normalised else None


class QuestionGroups:
    """First pass: how many records ask each question, for up to ``limit`` distinct questions."""

    def __init__(self, limit: int = QUESTION_GROUP_LIMIT) -> None:
        self._limit = limit
        self._sizes: dict[bytes, int] = {}

    def add(self, key: bytes | None) -> None:
        if key is None:
            return
        sizes = self._sizes
        if key in sizes:
            sizes[key] += 1
        elif len(sizes) < self._limit:
            sizes[key] = 1

    def repeated(self) -> dict[bytes, int]:
        """The questions more than one record asks, in first-seen order, with how many records ask each."""
        return {key: size for key, size in self._sizes.items() if size > 1}


class SplitAssignment:
    """Where each record goes: every record of a repeated question to one split, the others by algorithm S.

    Repeated questions are placed first, the largest groups first (in a seeded order among equal sizes), each in a
    split drawn in proportion to the records the split still wants, among the splits with room for the whole group.
    The records with a question of their own then fill exactly what each split still wants (``assign_splits``).
    So the counts stay those planned unless a group is larger than every split's remaining room (one question asked
    by most of the dataset): it then goes where the most room is left, that split ends larger than planned, and the
    others smaller by as much, test first, then train, then validation (the set Bedrock holds to a minimum).
    ``counts`` is what will be written. Without repeated questions this is ``assign_splits(planned, seed)``.
    """

    def __init__(self, planned: SplitCounts, repeated: Mapping[bytes, int], seed: int) -> None:
        rng = random.Random(f"question-groups:{seed}")  # a stream of its own, apart from algorithm S's
        wanted: dict[Split, int] = {"test": planned.test, "validation": planned.validation, "train": planned.train}
        grouped: Counter[Split] = Counter()
        groups = list(repeated.items())
        rng.shuffle(groups)
        groups.sort(key=lambda group: group[1], reverse=True)  # stable: the shuffle orders groups of equal size
        self._group_split: dict[bytes, Split] = {}
        for key, size in groups:
            split = _draw_split(wanted, size, rng)
            self._group_split[key] = split
            wanted[split] -= size
            grouped[split] += size
        single = planned.train + planned.validation + planned.test - grouped.total()
        left = {split: max(count, 0) for split, count in wanted.items()}
        excess = sum(left.values()) - single  # what an oversized group took beyond its split's room
        for split in ("test", "train", "validation"):
            cut = min(excess, left[split])
            left[split] -= cut
            excess -= cut
        self._singles = SplitCounts(train=left["train"], validation=left["validation"], test=left["test"])
        self._seed = seed
        self.counts = SplitCounts(
            train=grouped["train"] + left["train"],
            validation=grouped["validation"] + left["validation"],
            test=grouped["test"] + left["test"],
        )

    @property
    def needs_keys(self) -> bool:
        """Whether ``assign`` needs each record's ``question_key`` (only when some question is repeated)."""
        return bool(self._group_split)

    def assign(self, records: Iterable[tuple[_Line, bytes | None]]) -> Iterator[tuple[_Line, Split]]:
        """Each ``(record, question key)``, in the order of the first pass, with its split."""
        singles = assign_splits(self._singles, self._seed)
        for record, key in records:
            split = self._group_split.get(key) if key is not None else None
            if split is None:
                split = next(singles, None)
                if split is None:
                    raise ValueError("the source changed between reads: more records on the second pass")
            yield record, split


def _draw_split(wanted: Mapping[Split, int], size: int, rng: random.Random) -> Split:
    """A split for a group of ``size`` records: in proportion to what each split with room for it still wants."""
    room = [split for split, count in wanted.items() if count >= size]
    if not room:
        return max(("train", "validation", "test"), key=lambda split: wanted[split])
    draw = rng.random() * sum(wanted[split] for split in room)
    for split in room:
        if draw < wanted[split]:
            return split
        draw -= wanted[split]
    return room[-1]


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
    name: str | None = None,
    size_bytes: int | None = None,
) -> PreparedDataset:
    """Validate ``source`` (converting raw pairs) and, when valid, write the split files into ``out_dir``.

    ``name``, the object's key or the file's path, says how the bytes are read (``lambdas.dataset.sources``; None:
    as JSON Lines). ``size_bytes`` is the stored size; a gzip file is measured decompressed instead. Files are
    written under temporary names and renamed only once all are complete and valid, so a reader never sees a
    half-written split.
    """
    by_name = source_name(name)
    keys = options.qa_keys
    validator = DatasetValidator(
        spec,
        role="training",
        epochs=options.epochs,
        price_per_1k_tokens=options.price_per_1k_tokens,
        max_line_bytes=options.max_line_bytes,
        check_counts=False,
    )
    if by_name.format is None:
        validator.errors.add(
            None, ErrorCode.UNSUPPORTED_FORMAT, unsupported_format_message(by_name, keys.question, keys.answer)
        )
        validator.stopped = True
        validator.finish(size_bytes=size_bytes)
        return PreparedDataset(report=_final_report(validator, None, False, None, None), kind=None, files={})
    if by_name.gzipped:
        source = _decompressed(source, spec)
    consumed = _ByteCount()
    groups = QuestionGroups()
    kind: DatasetKind | None = None
    raw_qa = False
    try:
        head, stream = _read_head(consumed.of(source()), options.max_line_bytes)
        detected = detect_kind(head, keys)
        if by_name.format is SourceFormat.JSON and detected is DatasetKind.MODEL_JSONL:
            _check_json_file_holds_records(head, options)
        kind = detected
        raw_qa = kind is not DatasetKind.MODEL_JSONL
        if kind is DatasetKind.JSON_ARRAY:
            raw_qa = _validate_raw_array(stream, validator, groups, options, spec)
        else:
            _validate_lines(stream, validator, groups, options, spec, raw_qa=raw_qa)
    except UnreadableSource as problem:
        validator.errors.add(None, problem.code, problem.message)
        validator.stopped = True
    measured = consumed.total if by_name.gzipped or size_bytes is None else size_bytes
    report = validator.finish(size_bytes=measured, decompressed=by_name.gzipped)
    counts, plan_problems = plan_split(report.records, spec, options.split)
    assignment = SplitAssignment(counts, groups.repeated(), options.split.seed)
    if assignment.counts != counts:  # a repeated question too large for any split's room moved the counts
        counts = assignment.counts
        plan_problems = split_problems(counts, spec)
    if report.records and not validator.stopped:
        for code, message in plan_problems:
            validator.errors.add(None, code, message)
        dropped = validation_dropped(report.records, counts, spec, options.split)
        if dropped is not None:
            validator.warnings.add(None, WarningCode.VALIDATION_SPLIT_DROPPED, dropped)
    read_as = READ_AS.get(kind) if kind is not None else None
    if validator.errors or kind is None:
        return PreparedDataset(
            report=_final_report(validator, read_as, by_name.gzipped, None, None, raw_qa=raw_qa), kind=kind, files={}
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    partial = {split: out_dir / f".{file}.partial" for split, file in SPLIT_FILE_NAMES.items()}
    records = _record_lines(source, kind, options, spec, keyed=assignment.needs_keys)
    _write_splits(assignment.assign(records), partial, counts)
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
    return PreparedDataset(
        report=_final_report(validator, read_as, by_name.gzipped, counts, train_report, raw_qa=raw_qa),
        kind=kind,
        files=files,
    )


def _decompressed(source: ChunkSource, spec: ModelSpec) -> ChunkSource:
    """``source`` read through gzip, up to the largest file the model (and the pipeline) takes."""
    bound = min(spec.limits.training_file_max_bytes or DECOMPRESSED_MAX_BYTES, DECOMPRESSED_MAX_BYTES)
    return lambda: gunzip(source(), max_bytes=bound)


class _ByteCount:
    """How many bytes a pass read (for a gzip file: decompressed)."""

    def __init__(self) -> None:
        self.total = 0

    def of(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.total += len(chunk)
            yield chunk


def _read_head(chunks: Iterable[bytes], max_line_bytes: int) -> tuple[bytes, Iterator[bytes]]:
    """The start of the file, up to its first complete line (bounded), to read the first record whole; and the
    whole stream, that start included."""
    rest = iter(chunks)
    head = b""
    buffered: list[bytes] = []
    for chunk in rest:
        buffered.append(chunk)
        head += chunk
        if (len(head) >= DETECT_BYTES and b"\n" in head) or len(head) > max_line_bytes:
            break
    return head, chain(buffered, rest)


def _check_json_file_holds_records(head: bytes, options: PreparationOptions) -> None:
    """A ``.json`` file not holding an array must be JSON Lines: its first line one JSON object. Otherwise (one object
    over several lines, a string, text that is not JSON) it is rejected as a whole, saying what to upload."""
    text = head.removeprefix(UTF8_BOM).decode("utf-8", errors="replace").lstrip()
    if not text or head.startswith(UTF16_BOMS) or ("\n" not in text and len(head) > options.max_line_bytes):
        return  # empty, UTF-16 or a first line too long: the validator says so, as for any JSON Lines file
    first_line = text.split("\n", 1)[0]
    try:
        first = parse_json(first_line)
    except ValueError as error:
        several_lines = text.startswith("{") and "\n" in text.rstrip()
        found = "one JSON object spread over several lines" if several_lines else f"text that is not JSON ({error})"
    else:
        if isinstance(first, dict):
            return
        found = f"{json_type(first)} on its first line"
    keys = options.qa_keys
    raise UnreadableSource(
        ErrorCode.JSON_NOT_RECORDS,
        f"the .json file holds {found}, not records; {what_to_upload(keys.question, keys.answer)}",
    )


def _count_question(validator: DatasetValidator, groups: QuestionGroups, record: Any, spec: ModelSpec) -> None:
    if not validator.errors:  # nothing is written once there is an error
        groups.add(question_key(record, spec))


def _validate_lines(
    stream: Iterable[bytes],
    validator: DatasetValidator,
    groups: QuestionGroups,
    options: PreparationOptions,
    spec: ModelSpec,
    *,
    raw_qa: bool,
) -> None:
    """First pass over JSON Lines: every record checked (raw pairs converted first) and its question counted."""
    for line_number, raw in iter_lines(stream, options.max_line_bytes):
        value = validator.parse_line(line_number, raw)
        if value is NOT_A_RECORD:
            if validator.stopped:
                break
            continue
        if raw_qa:
            _count_question(validator, groups, _check_qa(validator, line_number, value, options, spec), spec)
        else:
            validator.check_record(line_number, value)
            _count_question(validator, groups, value, spec)


def _validate_raw_array(
    stream: Iterable[bytes],
    validator: DatasetValidator,
    groups: QuestionGroups,
    options: PreparationOptions,
    spec: ModelSpec,
) -> bool:
    """First pass over a JSON array, item by item, each checked as if it were a line of raw pairs (its number is
    its "line"). False, with the problem logged, when the array does not hold raw question/answer objects."""
    keys = options.qa_keys
    advice = what_to_upload(keys.question, keys.answer)
    for number, item in iter_json_array(stream, max_item_bytes=options.max_line_bytes, advice=advice):
        if number == 1 and not _looks_like_qa(item, keys):
            found = (
                f"its first item has keys: {shown_keys(sorted(item))}"
                if isinstance(item, dict)
                else f"its first item is {json_type(item)}"
            )
            validator.errors.add(
                None,
                ErrorCode.JSON_ARRAY_NOT_JSONL,
                f"the file is a JSON array, but not of raw question/answer objects ({found}); {advice}. "
                "If your pairs use other key names, set qa_keys (or --question-key / --answer-key) to them",
            )
            validator.stopped = True
            return False
        validator.records += 1
        _count_question(validator, groups, _check_qa(validator, number, item, options, spec), spec)
    return True


def _check_qa(
    validator: DatasetValidator, line: int, item: Any, options: PreparationOptions, spec: ModelSpec
) -> dict[str, Any] | None:
    """Convert and check one raw pair; the record in the model's format, or None when it cannot be converted."""
    if lone_surrogate_in(item):  # the whole item, any field; check_record would see only the converted texts
        validator.errors.add(line, ErrorCode.LONE_SURROGATE, LONE_SURROGATE_MESSAGE)
        return None
    record = qa_to_record(item, options.qa_keys, options.system_prompt, spec)
    if isinstance(record, QaProblem):
        validator.errors.add(line, record.code, record.message)
        return None
    validator.check_record(line, record)
    return record


def _record_lines(
    source: ChunkSource,
    kind: DatasetKind,
    options: PreparationOptions,
    spec: ModelSpec,
    *,
    keyed: bool,
) -> Iterator[tuple[bytes, bytes | None]]:
    """Second pass: each record as one line of the model's format (the source is known to be valid), with its
    ``question_key`` when ``keyed`` (otherwise None: a line already in the model's format is then not parsed)."""
    if kind is DatasetKind.JSON_ARRAY:
        for _, item in iter_json_array(source(), max_item_bytes=options.max_line_bytes):
            record = qa_to_record(item, options.qa_keys, options.system_prompt, spec)
            yield _dump(record), question_key(record, spec) if keyed else None
        return
    for line_number, raw in iter_lines(source(), options.max_line_bytes):
        if raw is None:  # cannot happen for a source that validated; keep the count honest if it changed
            raise ValueError(f"line {line_number} of the source changed between reads")
        line = raw.removeprefix(UTF8_BOM) if line_number == 1 else raw
        line = line.removesuffix(b"\r")
        if not line.strip():
            continue
        if kind is DatasetKind.RAW_QA_JSONL:
            record = qa_to_record(parse_json(line), options.qa_keys, options.system_prompt, spec)
            yield _dump(record), question_key(record, spec) if keyed else None
        else:
            yield line, question_key(parse_json(line), spec) if keyed else None


def _dump(record: dict[str, Any] | QaProblem) -> bytes:
    if isinstance(record, QaProblem):
        raise ValueError(f"the source changed between reads: {record.message}")
    return json.dumps(record, ensure_ascii=False).encode()


def _write_splits(records: Iterable[tuple[bytes, Split]], paths: dict[Split, Path], counts: SplitCounts) -> None:
    files = {split: path.open("wb") for split, path in paths.items()}
    written: Counter[Split] = Counter()
    try:
        for line, split in records:
            files[split].write(line + b"\n")
            written[split] += 1
    finally:
        for handle in files.values():
            handle.close()
    expected = counts.train + counts.validation + counts.test
    if written.total() != expected:
        raise ValueError(
            f"the source changed between reads: {written.total()} records on the second pass, {expected} on the first"
        )
    if SplitCounts(train=written["train"], validation=written["validation"], test=written["test"]) != counts:
        raise ValueError("the source changed between reads: its questions are not those of the first pass")


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
    validator: DatasetValidator,
    read_as: ReadAs | None,
    gzipped: bool,
    counts: SplitCounts | None,
    train_report: ValidationReport | None,
    *,
    raw_qa: bool = False,
) -> ValidationReport:
    report = validator.report()
    stats = report.stats.model_copy(
        update={"prepared_from_raw_qa": raw_qa, "read_as": read_as, "gzip": gzipped, "split": counts}
    )
    if train_report is not None:
        # Bedrock bills the training split, not the held-out records.
        stats = stats.model_copy(
            update={
                "estimated_billed_tokens": train_report.stats.estimated_billed_tokens,
                "estimated_training_cost_usd": train_report.stats.estimated_training_cost_usd,
            }
        )
    return report.model_copy(update={"stats": stats})
