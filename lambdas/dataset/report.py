"""The validation report: every problem with its line and a stable code, plus the figures a person plans with.

The JSON is ``{"valid", "records", "errors", "warnings", "stats"}``. Problems are capped per code (the first
``KEEP_PER_CODE`` of each are kept) so a 10 GB file full of errors cannot exhaust memory; ``stats.error_counts`` and
``stats.warning_counts`` always hold the true totals.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

Role = Literal["training", "validation"]
# How a dropped file's records were read: one per line, or the items of one JSON array (converted one per line).
ReadAs = Literal["jsonl", "json-array"]

KEEP_PER_CODE = 100


class Problem(BaseModel):
    """One problem found in a dataset; the state machine's validate output carries the first few."""

    model_config = ConfigDict(extra="forbid")

    line: int | None  # 1-based; None for file-level problems
    code: str
    message: str


class ErrorCode(StrEnum):
    """Problems that make Bedrock reject the data (or would waste the job): the dataset is invalid."""

    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_MESSAGES = "missing_messages"
    MISSING_FIELD = "missing_field"
    BAD_ROLE = "bad_role"
    NOT_ALTERNATING = "not_alternating"
    FIRST_NOT_USER = "first_not_user"
    LAST_NOT_ASSISTANT = "last_not_assistant"
    EMPTY_CONTENT = "empty_content"
    UNKNOWN_KEY = "unknown_key"
    RESERVED_STRING = "reserved_string"
    TOO_MANY_TOKENS = "too_many_tokens"
    TOO_FEW_RECORDS = "too_few_records"
    TOO_MANY_RECORDS = "too_many_records"
    FILE_TOO_LARGE = "file_too_large"
    NOT_UTF8 = "not_utf8"
    BOM = "bom"
    BLANK_LINE = "blank_line"
    WRONG_TYPE = "wrong_type"
    TOO_FEW_MESSAGES = "too_few_messages"
    JSON_ARRAY_NOT_JSONL = "json_array_not_jsonl"
    MEDIA_NOT_SUPPORTED = "media_not_supported"
    TOO_MANY_MEDIA = "too_many_media"
    BAD_SCHEMA_VERSION = "bad_schema_version"
    BAD_FILE_NAME = "bad_file_name"
    LINE_TOO_LONG = "line_too_long"
    EMPTY_FILE = "empty_file"
    LONE_SURROGATE = "lone_surrogate"
    BAD_MEDIA_FORMAT = "bad_media_format"  # an image or video "format" the model does not take
    BAD_MEDIA_SOURCE = "bad_media_source"  # a medium not read from an S3 object uri
    MIXED_MEDIA = "mixed_media"  # a dataset with both images and videos (Nova)
    BAD_REASONING = "bad_reasoning"  # reasoning content misplaced, misshapen, or for a model that takes none
    UNSUPPORTED_FORMAT = "unsupported_format"  # a file extension the pipeline does not read (.csv, .parquet...)
    CORRUPT_GZIP = "corrupt_gzip"  # named .gz, but not gzip data, corrupt, or cut short
    JSON_NOT_RECORDS = "json_not_records"  # a .json file that is neither a JSON array nor one JSON object per line


class WarningCode(StrEnum):
    """Things worth a look that Bedrock accepts."""

    DUPLICATE_RECORD = "duplicate_record"
    DUPLICATE_PROMPT = "duplicate_prompt"
    UNBALANCED_LENGTHS = "unbalanced_lengths"
    MISSING_SYSTEM_PROMPT = "missing_system_prompt"
    TRAILING_BLANK_LINES = "trailing_blank_lines"  # blank lines after the last record, where the format tolerates it
    VALIDATION_SPLIT_DROPPED = "validation_split_dropped"  # too few records for the model's validation minimum


class TokenStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: int
    median: int
    max: int


class SplitCounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    train: int
    validation: int
    test: int


class DatasetStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str
    role: Role
    bytes: int
    records: int
    tokens_per_record: TokenStats | None  # None when no record could be read
    total_tokens: int  # estimated as characters // 3, the rule of AWS's own validator
    epochs: int | None = None
    estimated_billed_tokens: int | None = None  # training tokens x epochs (training files only)
    estimated_training_cost_usd: float | None = None  # when a price per 1k tokens is configured
    error_counts: dict[str, int]
    warning_counts: dict[str, int]
    prepared_from_raw_qa: bool = False
    read_as: ReadAs | None = None  # set for a dropped file (preparation), not for a split file checked alone
    gzip: bool = False  # decompressed while read: ``bytes`` and the file size limit are the decompressed content's
    split: SplitCounts | None = None  # set when the dataset was split into train / validation / test


class ValidationReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid: bool
    records: int
    errors: list[Problem]
    warnings: list[Problem]
    stats: DatasetStats

    def error_codes(self) -> set[str]:
        return {problem.code for problem in self.errors}


class ProblemLog:
    """Problems of one kind (errors or warnings): the first few per code kept, every one counted."""

    def __init__(self, keep_per_code: int = KEEP_PER_CODE) -> None:
        self._keep = keep_per_code
        self._kept: dict[str, list[Problem]] = {}
        self.counts: Counter[str] = Counter()

    def add(self, line: int | None, code: str, message: str) -> None:
        self.counts[code] += 1
        kept = self._kept.setdefault(code, [])
        if len(kept) < self._keep:
            kept.append(Problem(line=line, code=code, message=message))

    def extend(self, problems: list[Problem]) -> None:
        for problem in problems:
            self.add(problem.line, problem.code, problem.message)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def problems(self) -> list[Problem]:
        """File-level problems first, then by line."""
        merged = [problem for kept in self._kept.values() for problem in kept]
        merged.sort(key=lambda problem: -1 if problem.line is None else problem.line)
        return merged
