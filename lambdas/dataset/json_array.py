"""A JSON array read item by item: raw question/answer arrays of any size in bounded memory.

``json.loads`` parses a whole document at once, and a 10 GB array would take many times that in memory. Here the
bytes are decoded as they arrive and each item goes to ``JSONDecoder.raw_decode`` once it is complete, so memory
holds one chunk and one item (an item longer than ``max_item_bytes`` is refused, as an over-long JSONL line is).
A broken array cannot be read past its first error: every problem here ends the reading (``UnreadableSource``).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from lambdas.dataset.formats import parse_json
from lambdas.dataset.report import ErrorCode
from lambdas.dataset.sources import UnreadableSource

_NOT_WHITESPACE = re.compile(r"[^ \t\n\r]")
_DECODER = json.JSONDecoder()
_NUMBER_TAIL = 2  # characters after a number that it may still take: "1." and "1e+" parse as 1, not as an error
_TOKEN_TAIL = 10  # characters: an error this close to the end of the text read may be a token cut short


class _Text:
    """The decoded text of a byte stream, consumed from the front; the line numbers of what was consumed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self.text = ""
        self.pos = 0
        self._lines_before = 0  # newlines in the text already dropped from the front
        self._ended = False
        self._started = False

    def more(self) -> bool:
        """Append the next chunk's text, dropping what was consumed; False when the input had already ended."""
        if self._ended:
            return False
        chunk = next(self._chunks, None)
        try:
            added = self._decode(chunk or b"", final=chunk is None)
        except UnicodeDecodeError as error:
            byte, line = error.object[error.start], self.line_at(len(self.text))
            raise UnreadableSource(
                ErrorCode.NOT_UTF8,
                f"the file is not valid UTF-8 (byte 0x{byte:02x}, near line {line}); save it as UTF-8",
            ) from None
        self._ended = chunk is None
        if not self._started and added:
            self._started = True
            added = added.removeprefix("\ufeff")  # a byte order mark before the array is harmless
        self._lines_before += self.text.count("\n", 0, self.pos)
        self.text = self.text[self.pos :] + added
        self.pos = 0
        return True

    def next_char(self) -> str:
        """The next character that is not whitespace ("" at the end of the input), skipping to it."""
        while True:
            found = _NOT_WHITESPACE.search(self.text, self.pos)
            if found is not None:
                self.pos = found.start()
                return self.text[self.pos]
            self.pos = len(self.text)
            if not self.more():
                return ""

    def line_at(self, index: int) -> int:
        """The 1-based line of the file that ``self.text[index]`` is on."""
        return self._lines_before + self.text.count("\n", 0, index) + 1


def iter_json_array(chunks: Iterable[bytes], *, max_item_bytes: int, advice: str = "") -> Iterator[tuple[int, Any]]:
    """Yield ``(item number, item)`` (1-based) for each item of the JSON array the chunks hold.

    Raises ``UnreadableSource`` (``advice`` ends its message: what to upload instead) when the text is not UTF-8,
    not one JSON array, or holds an item that is not JSON or is longer than ``max_item_bytes``.
    """
    text = _Text(chunks)
    if text.next_char() != "[":
        raise UnreadableSource(ErrorCode.INVALID_JSON, _with_advice("the file is not a JSON array", advice))
    text.pos += 1
    if text.next_char() == "]":
        text.pos += 1
    else:
        number = 0
        while True:
            number += 1
            yield number, _read_item(text, number, max_item_bytes, advice)
            separator = text.next_char()
            if separator == ",":
                text.pos += 1
                continue
            if separator == "]":
                text.pos += 1
                break
            found = f"found {separator!r} on line {text.line_at(text.pos)}" if separator else "the file ends there"
            raise UnreadableSource(
                ErrorCode.INVALID_JSON,
                _with_advice(f"the JSON array has no ',' or ']' after item {number:,} ({found})", advice),
            )
    if text.next_char():
        raise UnreadableSource(
            ErrorCode.INVALID_JSON,
            _with_advice(f"the file goes on after the JSON array's closing ] (line {text.line_at(text.pos)})", advice),
        )


def _read_item(text: _Text, number: int, max_item_bytes: int, advice: str) -> Any:
    if not text.next_char():
        raise UnreadableSource(
            ErrorCode.INVALID_JSON, _with_advice(f"the file ends inside the JSON array, before item {number:,}", advice)
        )
    while True:
        start = text.pos
        try:
            value, end = _DECODER.raw_decode(text.text, start)
        except json.JSONDecodeError as error:
            if _maybe_incomplete(error, text.text):
                if len(text.text) - start > max_item_bytes:
                    raise UnreadableSource(
                        ErrorCode.LINE_TOO_LONG,
                        f"item {number:,} of the JSON array (from line {text.line_at(start)}) is longer than "
                        f"{max_item_bytes:,} bytes, far beyond what one record may hold; not read",
                    ) from None
                if text.more():
                    continue
            detail = f"{error.msg} (line {text.line_at(error.pos)})"
            raise UnreadableSource(ErrorCode.INVALID_JSON, _not_json(number, detail, advice)) from None
        except (ValueError, RecursionError):  # nested too deeply, or a number too long: parse_json words it
            try:
                parse_json(text.text[start : start + max_item_bytes])
            except ValueError as error:
                raise UnreadableSource(ErrorCode.INVALID_JSON, _not_json(number, str(error), advice)) from None
            raise
        if len(text.text) - end <= _NUMBER_TAIL and text.more():
            continue  # a number at the end of the text read ("1", "1.", "1e+") may go on in the next chunk
        text.pos = end
        return value


def _maybe_incomplete(error: json.JSONDecodeError, text: str) -> bool:
    """Whether the error may only mean the item goes on in the next chunk: it is at the end of the text read so far
    (within the longest token cut short, "-Infinit"), or in a string still open there. Anything else is invalid."""
    return error.pos >= len(text) - _TOKEN_TAIL or error.msg.startswith("Unterminated string")


def _not_json(number: int, detail: str, advice: str) -> str:
    return _with_advice(f"item {number:,} of the JSON array is not valid JSON: {detail}", advice)


def _with_advice(message: str, advice: str) -> str:
    return f"{message}; {advice}" if advice else message
