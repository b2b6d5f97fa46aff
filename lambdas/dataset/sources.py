"""What a dropped file is, by its name, and how its bytes become text to read.

Every object created under ``incoming/`` starts a run (the trigger skips only folder markers), so every name gets an
answer here, before a byte is read:

======================================  =======================================================================
name (extension in any case)            read as
======================================  =======================================================================
``x.jsonl``, or no extension (``x``)    JSON Lines, one record per line (exactly as ``.jsonl`` always was)
``x.json``                              one JSON array of raw question/answer objects (converted as if they
                                        were dropped one per line), or JSON Lines; anything else is rejected
``x.jsonl.gz``, ``x.json.gz``, ``x.gz``  gzip, decompressed while it is read, then as the inner name says; size
                                        limits and token estimates are those of the decompressed content
anything else (``.csv``, ``.parquet``,  rejected without reading (``unsupported_format``), saying what to upload
``.txt``, ``.zip``, ``x.csv.gz``...)    instead; CSV is not guessed at
======================================  =======================================================================
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from enum import StrEnum
from typing import NamedTuple

from lambdas.dataset.report import ErrorCode
from lambdas.dataset.validator import CHUNK_BYTES, ChunkStream

GZIP_EXTENSION = ".gz"
# What a run id's readable stem leaves out, longest first (compared in lower case).
DATASET_EXTENSIONS = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".gz")
# Datasets are sized for up to 10 GB. A gzip file that decompresses to more is refused once this much is read, instead
# of being read for hours (a small file can decompress to terabytes); a model's own size limit, when lower, applies too.
DECOMPRESSED_MAX_BYTES = 10 * 1024**3


class SourceFormat(StrEnum):
    JSONL = "jsonl"  # one record per line
    JSON = "json"  # one JSON array of raw question/answer objects, or JSON Lines


# Extensions (lower case, after any .gz) and how they are read: a format is one entry here.
FORMATS: dict[str, SourceFormat] = {"": SourceFormat.JSONL, ".jsonl": SourceFormat.JSONL, ".json": SourceFormat.JSON}


class SourceName(NamedTuple):
    """What a dropped object's name says about its content."""

    file_name: str  # the last part of the key or path
    extension: str  # the extension as written, after any .gz ("" when there is none)
    gzipped: bool

    @property
    def format(self) -> SourceFormat | None:
        """How the content is read; None for a format the pipeline does not read."""
        return FORMATS.get(self.extension.lower())


class UnreadableSource(Exception):
    """The bytes cannot be read as the name says (a corrupt gzip, a broken JSON array): one file-level problem."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def source_name(name: str | None) -> SourceName:
    """Read a key or path (None: a source without a name, read as JSON Lines)."""
    file_name = (name or "").rsplit("/", 1)[-1]
    gzipped = file_name.lower().endswith(GZIP_EXTENSION)
    inner = file_name[: -len(GZIP_EXTENSION)] if gzipped else file_name
    _, dot, extension = inner.rpartition(".")
    return SourceName(file_name=file_name, extension=f".{extension}" if dot and extension else "", gzipped=gzipped)


def dataset_stem(file_name: str) -> str:
    """``file_name`` without the extension of a dataset the pipeline reads (``DATA.JSONL.GZ`` -> ``DATA``)."""
    lowered = file_name.lower()
    for extension in DATASET_EXTENSIONS:
        if lowered.endswith(extension):
            return file_name[: -len(extension)]
    return file_name


def what_to_upload(question_key: str, answer_key: str) -> str:
    """The formats the pipeline reads, as the end of a message telling someone what to upload instead."""
    pair = f'{{"{question_key}": ..., "{answer_key}": ...}}'
    return (
        f"upload JSON Lines (.jsonl: one record per line, in the model's format or as {pair} objects) "
        f"or a .json file holding one JSON array of {pair} objects; either may be gzip-compressed (.jsonl.gz, .json.gz)"
    )


def unsupported_format_message(name: SourceName, question_key: str, answer_key: str) -> str:
    kind = name.extension.lstrip(".").upper()
    inside = " inside gzip" if name.gzipped else ""
    return (
        f"{name.file_name!r} is a {name.extension} file{inside}: the pipeline does not read {kind}; "
        + what_to_upload(question_key, answer_key)
    )


def gunzip(
    chunks: Iterable[bytes], *, max_bytes: int = DECOMPRESSED_MAX_BYTES, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[bytes]:
    """Decompress gzip as it is read, ``chunk_bytes`` at a time (multi-member files too).

    Raises ``UnreadableSource`` for data that is not gzip, corrupt or cut short, and once more than ``max_bytes``
    came out. Errors of the underlying read (S3, the disk) pass through unchanged: they are not the file's fault.
    """
    reader = gzip.GzipFile(fileobj=io.BufferedReader(ChunkStream(chunks), buffer_size=CHUNK_BYTES), mode="rb")
    produced = 0
    try:
        while block := reader.read(chunk_bytes):
            produced += len(block)
            if produced > max_bytes:
                raise UnreadableSource(
                    ErrorCode.FILE_TOO_LARGE,
                    f"decompressed, the file is more than {max_bytes:,} bytes, the largest dataset the model and "
                    "the pipeline take; not read further",
                )
            yield block
    except gzip.BadGzipFile as error:
        detail = "it is not gzip data" if str(error).startswith("Not a gzipped file") else f"it is corrupt ({error})"
        raise UnreadableSource(ErrorCode.CORRUPT_GZIP, _corrupt_gzip_message(detail)) from None
    except EOFError:
        detail = "it ends before the end of its compressed data (an interrupted upload?)"
        raise UnreadableSource(ErrorCode.CORRUPT_GZIP, _corrupt_gzip_message(detail)) from None
    except zlib.error as error:
        raise UnreadableSource(ErrorCode.CORRUPT_GZIP, _corrupt_gzip_message(f"it is corrupt ({error})")) from None


def _corrupt_gzip_message(detail: str) -> str:
    return (
        f"the file is named .gz but cannot be decompressed: {detail}; compress it again with gzip, "
        "or upload it uncompressed without the .gz extension"
    )
