"""Streaming dataset validation: every problem, with its line, before a cent is spent.

The file is read in chunks (local path or an S3 ``get_object`` body) and split into lines here; memory stays
constant whatever the file size: one line at a time (capped at ``max_line_bytes``, longer lines are reported and
skipped without being buffered), problems capped per code, a fixed histogram for the median and bounded sets for
duplicate detection. What a record must look like is its format family's business (``lambdas.dataset.families``,
chosen by the registry's ``DataFormat``); this module keeps the streaming, the counting, the token statistics,
the duplicates and the report.
"""

from __future__ import annotations

import io
import json
import json.scanner
import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, cast

from lambdas.dataset.families import Parts, estimate_tokens, family_for
from lambdas.dataset.formats import json_type, lone_surrogate_in, parse_json
from lambdas.dataset.report import (
    DatasetStats,
    ErrorCode,
    ProblemLog,
    Role,
    TokenStats,
    ValidationReport,
    WarningCode,
)
from lambdas.registry import ModelSpec

if TYPE_CHECKING:  # the settings model (and what it imports) is not needed to validate a file
    from lambdas.settings import PipelineSettings

CHUNK_BYTES = 1024 * 1024
# A 32,000-token record is ~96,000 characters; even as \\uXXXX escapes it stays well under this.
DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
# How many records duplicate detection remembers (two hashes each, a few MB); beyond it duplicates go unnoticed.
# The largest record limit in the registry is 20,000, so a file this long is rejected for its count anyway.
DUPLICATE_TRACKING_LIMIT = 50_000
# unbalanced_lengths: the longest record is this many times the median (and at least UNBALANCED_MIN_TOKENS long).
UNBALANCED_FACTOR = 10
UNBALANCED_MIN_TOKENS = 200
UNBALANCED_MIN_RECORDS = 10

UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_NEWLINE = ord("\n")
# The C scanner that json.loads ends in: called directly for the common line (no surrounding whitespace) it skips
# json.loads' argument handling, two regex matches and two Python frames per line; a line it does not read whole
# goes through parse_json, which words the error.
_scan_json: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(cast(Any, json.JSONDecoder()))

BLANK_LINE_MESSAGE = "blank line; JSONL needs one JSON object on every line"
NOT_A_RECORD: Any = object()  # parse_line's answer for a line that could not be read as JSON
LONE_SURROGATE_MESSAGE = (
    "a string holds a \\uD800-\\uDFFF escape that is half of a UTF-16 surrogate pair, not a character; it cannot "
    "be saved as UTF-8, so the run would fail after training. Remove it, or write the character itself"
)


def epochs_for(settings: PipelineSettings) -> int:
    return int(float(settings.resolved_hyperparameters().get("epochCount", "1")))


class ChunkStream(io.RawIOBase):
    """A raw stream over an iterator of byte chunks, so that ``BufferedReader.readline`` (C) finds the lines."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._current = b""
        self._offset = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._offset >= len(self._current):
            next_chunk = next(self._chunks, None)
            if next_chunk is None:
                return 0
            self._current, self._offset = next_chunk, 0
        view = memoryview(buffer).cast("B")
        size = min(len(view), len(self._current) - self._offset)
        view[:size] = self._current[self._offset : self._offset + size]
        self._offset += size
        return size


def iter_lines(
    chunks: Iterable[bytes], max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, line)`` for each line (without its ``\\n``); ``line`` is None when it was too long.

    A too-long line is never held in memory: it is read and dropped in pieces of at most ``max_line_bytes``.
    A final line without a newline counts; a file ending in a newline has no extra empty line.
    """
    readline = io.BufferedReader(ChunkStream(chunks), buffer_size=CHUNK_BYTES).readline
    limit = max_line_bytes + 1  # the line and its newline
    number = 0
    while line := readline(limit):
        number += 1
        if line[-1] == _NEWLINE:
            yield number, line[:-1]
        elif len(line) < limit:
            yield number, line  # the last line, without a newline
        else:
            while (rest := readline(limit)) and rest[-1] != _NEWLINE:
                pass
            yield number, None


def file_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(chunk_bytes):
            yield chunk


def s3_chunks(body: Any, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Chunks of a ``get_object(...)["Body"]`` stream, closed when done."""
    try:
        while chunk := body.read(chunk_bytes):
            yield chunk
    finally:
        body.close()


class DatasetValidator:
    """Checks records one at a time and keeps constant-size statistics; ``finish`` produces the report.

    Feed raw lines with ``feed_line`` (or already-parsed records with ``check_record``, as preparation does after
    converting raw question/answer pairs), report skipped over-long lines with ``line_too_long``. The record rules
    are the format family's (``lambdas.dataset.families``): it logs problems here and hands back, through
    ``measure`` and ``note_system_prompt``, what each record holds.
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        role: Role = "training",
        epochs: int | None = None,
        price_per_1k_tokens: float | None = None,
        file_name: str | None = None,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
        check_counts: bool = True,
    ) -> None:
        self.spec = spec
        self.role = role
        self.epochs = epochs
        self.price_per_1k_tokens = price_per_1k_tokens
        self.file_name = file_name
        self.max_line_bytes = max_line_bytes
        self.check_counts = check_counts
        self.errors = ProblemLog()
        self.warnings = ProblemLog()
        self.records = 0
        self.bytes = 0
        self.stopped = False  # set when reading on is pointless (the file is a JSON array)
        self._family = family_for(spec, self)
        self._blank_lines_may_trail = self._family.trailing_blank_lines_tolerated
        self._blank_run_start: int | None = None  # the first of the blank lines read since the last record
        self._blank_run_length = 0
        self._max_tokens = spec.limits.max_tokens_per_record
        self._histogram = array("I", bytes(4 * (max_line_bytes // 3 + 2)))
        self._measured = 0
        self._total_tokens = 0
        self._max_tokens_seen = 0
        self._max_tokens_line: int | None = None
        self._seen_records: dict[int, int] = {}
        self._seen_prompts: dict[int, int] = {}
        self._line_key: int | None = None  # hash of the line just parsed (set by parse_line)
        self._record_key: int | None = None  # the same, taken over by check_record for the record it checks
        self._without_system = 0
        self._first_without_system: int | None = None
        self._finished = False

    # -- lines ---------------------------------------------------------------------------------------------------

    def feed_line(self, line_number: int, raw: bytes | None) -> None:
        """Check one line of a JSONL file (``None``: a line too long to read)."""
        value = self.parse_line(line_number, raw)
        if value is not NOT_A_RECORD:
            self.check_record(line_number, value)

    def parse_line(self, line_number: int, raw: bytes | None) -> Any:
        """Decode and parse one line, logging what stops it being read; ``NOT_A_RECORD`` when nothing was read.

        Counts the line as a record unless it is blank.
        """
        if self.stopped:
            return NOT_A_RECORD
        if raw is None:
            if self._blank_run_start is not None:
                self._blank_lines_are_errors()
            self.line_too_long(line_number)
            return NOT_A_RECORD
        self.bytes += len(raw) + 1
        if line_number == 1:
            if raw.startswith(UTF16_BOMS):
                # Every line would be not_utf8 or invalid_json: one problem, with its cause, instead
                self.errors.add(
                    1,
                    ErrorCode.NOT_UTF8,
                    "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8",
                )
                self.stopped = True
                return NOT_A_RECORD
            if raw.startswith(UTF8_BOM):
                self.errors.add(
                    1, ErrorCode.BOM, "the file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM"
                )
                raw = raw[len(UTF8_BOM) :]
        if raw.endswith(b"\r"):
            raw = raw[:-1]  # CRLF line endings are fine
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            if self._blank_run_start is not None:
                self._blank_lines_are_errors()
            self.records += 1
            self.errors.add(
                line_number,
                ErrorCode.NOT_UTF8,
                f"byte {error.start + 1} of the line is not valid UTF-8 (0x{raw[error.start]:02x}); "
                "save the file as UTF-8",
            )
            return NOT_A_RECORD
        if not text or text.isspace():
            if self._blank_lines_may_trail:  # an error only once a record follows (see _blank_lines_are_errors)
                if self._blank_run_start is None:
                    self._blank_run_start = line_number
                self._blank_run_length += 1
            else:
                self.errors.add(line_number, ErrorCode.BLANK_LINE, BLANK_LINE_MESSAGE)
            return NOT_A_RECORD
        if self._blank_run_start is not None:
            self._blank_lines_are_errors()
        self.records += 1
        if self.records == 1 and text.lstrip().startswith("[") and self._is_json_array(text):
            return NOT_A_RECORD
        try:
            value, end = _scan_json(text, 0)
        except (StopIteration, ValueError, RecursionError):
            end = -1
        if end != len(text):  # not JSON, or surrounded by whitespace (fine), or followed by something else
            value = self._decode_slowly(line_number, text)
            if value is NOT_A_RECORD:
                return NOT_A_RECORD
        self._line_key = hash(raw)  # identifies the record for duplicate detection (see _check_duplicates)
        return value

    def _blank_lines_are_errors(self) -> None:
        """The blank lines just read are followed by a line: they are between records, an error each."""
        start = self._blank_run_start
        if start is None:
            return
        for line_number in range(start, start + self._blank_run_length):
            self.errors.add(line_number, ErrorCode.BLANK_LINE, BLANK_LINE_MESSAGE)
        self._blank_run_start, self._blank_run_length = None, 0

    def _trailing_blank_lines(self) -> None:
        """Blank lines at the end of the file: a warning where the format tolerates them (and a record came first)."""
        first, count = self._blank_run_start, self._blank_run_length
        if first is None:
            return
        if not self.records:  # nothing but blank lines: each is an error, as before any record
            self._blank_lines_are_errors()
            return
        self.warnings.add(
            first,
            WarningCode.TRAILING_BLANK_LINES,
            f"the file ends with {count:,} blank line(s), from line {first}; accepted after the last record, but "
            "remove them: a blank line between records is an error",
        )
        self._blank_run_start, self._blank_run_length = None, 0

    def _decode_slowly(self, line_number: int, text: str) -> Any:
        """``json`` parsing with its error located for the user; ``NOT_A_RECORD`` when the line is not JSON."""
        try:
            return parse_json(text)
        except ValueError as error:
            if not isinstance(error, json.JSONDecodeError):
                detail = str(error)
            elif error.msg == "Extra data" and text[: error.pos].endswith("\r"):
                detail = (
                    "records are separated by carriage returns only (old Mac line endings); "
                    "end each line with \\n (or \\r\\n)"
                )
            else:
                detail = f"{error.msg} at column {error.colno}"
            self.errors.add(line_number, ErrorCode.INVALID_JSON, f"not valid JSON: {detail}")
            return NOT_A_RECORD

    def line_too_long(self, line_number: int) -> None:
        self.records += 1
        self.bytes += self.max_line_bytes
        self.errors.add(
            line_number,
            ErrorCode.LINE_TOO_LONG,
            f"the line is longer than {self.max_line_bytes:,} bytes, far beyond what one record may hold; not read",
        )

    def _is_json_array(self, first_line: str) -> bool:
        """A file that opens a JSON array is one document, not JSON Lines: say so once instead of per line."""
        try:
            value = parse_json(first_line)
        except ValueError:
            value = None  # an array spread over several lines
        else:
            if not (isinstance(value, list) and value and all(isinstance(item, dict) for item in value)):
                return False  # a JSON line that happens to be an array: not_an_object below
        self.errors.add(
            None,
            ErrorCode.JSON_ARRAY_NOT_JSONL,
            "the file is a JSON array; Bedrock needs JSON Lines (one JSON object per line, no enclosing [ ]); "
            "raw question/answer arrays are converted by python -m tuner prepare",
        )
        self.records = 0
        self.stopped = True
        return True

    # -- records -------------------------------------------------------------------------------------------------

    def check_record(self, line: int, record: Any) -> None:
        """Check one parsed record; every problem found is logged against ``line``."""
        self._record_key, self._line_key = self._line_key, None
        if type(record) is dict and self._well_formed_conversation(line, record):
            return
        if lone_surrogate_in(record):  # nothing else about the record matters: it cannot even be written out
            self.errors.add(line, ErrorCode.LONE_SURROGATE, LONE_SURROGATE_MESSAGE)
            return
        if not isinstance(record, dict):
            self.errors.add(line, ErrorCode.NOT_AN_OBJECT, f"each line must be a JSON object, not {json_type(record)}")
            return
        self._family.check_record(line, record)

    def _well_formed_conversation(self, line: int, record: dict[str, Any]) -> bool:
        """The family's fast path: True when the record is flawless (and was measured), False to check it in
        detail."""
        return self._family.well_formed(line, record)

    def note_system_prompt(self, line: int, system: str | None) -> None:
        if system is None and self.spec.system_prompt_recommended:
            self._without_system += 1
            if self._first_without_system is None:
                self._first_without_system = line

    def measure(self, line: int, characters: int, parts: Parts | None) -> None:
        """Token statistics and limit for a record; duplicate detection when all of it could be read."""
        tokens = estimate_tokens(characters)
        if tokens > self._max_tokens:
            self.errors.add(
                line,
                ErrorCode.TOO_MANY_TOKENS,
                f"about {tokens:,} tokens (characters / 3); "
                f"{self.spec.display_name} allows {self._max_tokens:,} per record",
            )
        self._measured += 1
        self._total_tokens += tokens
        histogram = self._histogram
        histogram[tokens if tokens < len(histogram) else -1] += 1  # minimum and median are read from it at the end
        if tokens > self._max_tokens_seen or self._max_tokens_line is None:
            self._max_tokens_seen = tokens
            self._max_tokens_line = line
        if parts is not None:
            self._check_duplicates(line, parts)

    def _check_duplicates(self, line: int, parts: Parts) -> None:
        """Warn about a repeated record (an identical line) or a repeated prompt, in bounded memory.

        Python's 64-bit hashes stand in for the texts: stable within the process, and a collision among the
        ``DUPLICATE_TRACKING_LIMIT`` records tracked is negligible. Hashing the raw line (when there is one) is
        cheaper than hashing the parsed answer, which matters at 10 GB.
        """
        line_key = self._record_key
        if len(self._seen_records) >= DUPLICATE_TRACKING_LIMIT:
            return
        system, prompt, answer = parts
        prompt_key = hash((system, prompt))
        record_key = hash((prompt_key, answer)) if line_key is None else line_key
        first = self._seen_records.setdefault(record_key, line)
        if first != line:
            self.warnings.add(line, WarningCode.DUPLICATE_RECORD, f"the same record as line {first}")
            return
        first = self._seen_prompts.setdefault(prompt_key, line)
        if first != line:
            self.warnings.add(
                line,
                WarningCode.DUPLICATE_PROMPT,
                f"the same prompt as line {first} (system prompt and question); teach one answer per prompt",
            )

    # -- report --------------------------------------------------------------------------------------------------

    def finish(self, *, size_bytes: int | None = None, decompressed: bool = False) -> ValidationReport:
        """Run the file-level checks (once) and build the report; ``decompressed``: ``size_bytes`` is the size of the
        content once decompressed (a gzip drop), which the size limit applies to."""
        if not self._finished:
            self._finished = True
            if size_bytes is not None:
                self.bytes = size_bytes
            self._trailing_blank_lines()
            self._family.finish()
            self._file_level_checks(self.bytes, decompressed)
            self._file_level_warnings()
        return self.report()

    def _file_level_warnings(self) -> None:
        if self._without_system:
            self.warnings.add(
                self._first_without_system,
                WarningCode.MISSING_SYSTEM_PROMPT,
                f"{self._without_system:,} record(s) have no system prompt "
                f"(first at line {self._first_without_system}); "
                f"{self.spec.display_name} fine-tunes best with the same system prompt you will use at inference",
            )
        token_stats = self._token_stats()
        if (
            token_stats is not None
            and self._measured >= UNBALANCED_MIN_RECORDS
            and token_stats.max >= UNBALANCED_MIN_TOKENS
            and token_stats.max > UNBALANCED_FACTOR * max(token_stats.median, 1)
        ):
            self.warnings.add(
                self._max_tokens_line,
                WarningCode.UNBALANCED_LENGTHS,
                f"the longest record (about {token_stats.max:,} tokens) is over {UNBALANCED_FACTOR}x the median "
                f"({token_stats.median:,}); very uneven lengths waste padding and weigh training towards long records",
            )

    def report(self) -> ValidationReport:
        """The report as things stand (problems added after ``finish`` are included)."""
        token_stats = self._token_stats()
        billed = cost = None
        if self.role == "training" and self.epochs is not None:
            billed = self._total_tokens * self.epochs
            if self.price_per_1k_tokens is not None:
                cost = round(billed / 1000 * self.price_per_1k_tokens, 4)
        stats = DatasetStats(
            model_id=self.spec.model_id,
            role=self.role,
            bytes=self.bytes,
            records=self.records,
            tokens_per_record=token_stats,
            total_tokens=self._total_tokens,
            epochs=self.epochs if self.role == "training" else None,
            estimated_billed_tokens=billed,
            estimated_training_cost_usd=cost,
            error_counts=dict(self.errors.counts),
            warning_counts=dict(self.warnings.counts),
        )
        return ValidationReport(
            valid=not self.errors,
            records=self.records,
            errors=self.errors.problems(),
            warnings=self.warnings.problems(),
            stats=stats,
        )

    def _file_level_checks(self, size: int, decompressed: bool) -> None:
        limits = self.spec.limits
        training = self.role == "training"
        max_bytes = limits.training_file_max_bytes if training else limits.validation_file_max_bytes
        # (a gzip drop read no further than the pipeline's bound has said it is too large already)
        if max_bytes is not None and size > max_bytes and not self.errors.counts[ErrorCode.FILE_TOO_LARGE]:
            self.errors.add(
                None,
                ErrorCode.FILE_TOO_LARGE,
                f"the {self.role} file is {size:,} bytes{' decompressed' if decompressed else ''}; "
                f"{self.spec.display_name} accepts at most {max_bytes:,}",
            )
        pattern = self.spec.file_name_pattern
        if self.file_name is not None and pattern is not None and not re.fullmatch(pattern, self.file_name):
            self.errors.add(
                None,
                ErrorCode.BAD_FILE_NAME,
                f"the file name {self.file_name!r} has characters {self.spec.display_name} rejects; "
                "use only letters, digits and _ - / .",
            )
        if self.stopped:
            return
        if self.records == 0:
            self.errors.add(None, ErrorCode.EMPTY_FILE, "the file holds no records")
            return
        if not self.check_counts:
            return
        minimum = limits.training_min_records if training else limits.validation_min_records
        maximum = limits.training_max_records if training else limits.validation_max_records
        if training and maximum is None:
            maximum = limits.total_max_records
        if minimum is not None and self.records < minimum:
            self.errors.add(
                None,
                ErrorCode.TOO_FEW_RECORDS,
                f"{self.records:,} {self.role} records; {self.spec.display_name} needs at least {minimum:,}",
            )
        if maximum is not None and self.records > maximum:
            self.errors.add(
                None,
                ErrorCode.TOO_MANY_RECORDS,
                f"{self.records:,} {self.role} records; {self.spec.display_name} accepts at most {maximum:,}",
            )

    def _token_stats(self) -> TokenStats | None:
        if not self._measured:
            return None
        middle = (self._measured + 1) // 2  # the lower median: a value some record really has
        seen = 0
        minimum = median = None
        for tokens, count in enumerate(self._histogram):
            if not count:
                continue
            if minimum is None:
                minimum = tokens
            seen += count
            if seen >= middle:
                median = tokens
                break
        top = self._max_tokens_seen  # the last bucket also holds anything longer: clamp to the true maximum
        return TokenStats(min=min(minimum or 0, top), median=min(median or 0, top), max=top)


def validate_stream(
    chunks: Iterable[bytes],
    spec: ModelSpec,
    *,
    role: Role = "training",
    epochs: int | None = None,
    price_per_1k_tokens: float | None = None,
    file_name: str | None = None,
    size_bytes: int | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    check_counts: bool = True,
) -> ValidationReport:
    validator = DatasetValidator(
        spec,
        role=role,
        epochs=epochs,
        price_per_1k_tokens=price_per_1k_tokens,
        file_name=file_name,
        max_line_bytes=max_line_bytes,
        check_counts=check_counts,
    )
    parse, check = validator.parse_line, validator.check_record
    for line_number, raw in iter_lines(chunks, max_line_bytes):
        value = parse(line_number, raw)
        if value is not NOT_A_RECORD:
            check(line_number, value)
        elif validator.stopped:
            break
    return validator.finish(size_bytes=size_bytes)


def validate_file(
    path: Path,
    spec: ModelSpec,
    *,
    role: Role = "training",
    epochs: int | None = None,
    price_per_1k_tokens: float | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    check_counts: bool = True,
) -> ValidationReport:
    return validate_stream(
        file_chunks(path),
        spec,
        role=role,
        epochs=epochs,
        price_per_1k_tokens=price_per_1k_tokens,
        file_name=path.name,
        size_bytes=path.stat().st_size,
        max_line_bytes=max_line_bytes,
        check_counts=check_counts,
    )


def validate_s3_object(
    s3: Any,
    bucket: str,
    key: str,
    spec: ModelSpec,
    *,
    version_id: str | None = None,
    role: Role = "training",
    epochs: int | None = None,
    price_per_1k_tokens: float | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> ValidationReport:
    """Validate an S3 object by streaming its body: never more than a chunk and a line in memory."""
    request: dict[str, str] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    response = s3.get_object(**request)
    return validate_stream(
        s3_chunks(response["Body"]),
        spec,
        role=role,
        epochs=epochs,
        price_per_1k_tokens=price_per_1k_tokens,
        file_name=str(PurePosixPath(key)),
        size_bytes=int(response["ContentLength"]),
        max_line_bytes=max_line_bytes,
    )
