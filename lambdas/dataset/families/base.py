"""What every format family implements, and the helpers the families share.

A format family knows what one record of its format (the registry's ``DataFormat``) must look like. The validator
(``lambdas.dataset.validator``) streams the lines, parses them, counts the records, measures tokens, finds duplicates
and builds the report; it hands each parsed JSON object to the family and asks it, at the end, for the checks that
need the whole dataset::

    validator ──parsed object──▶ family.well_formed(line, record)   fast path: flawless? (logs nothing)
                                 family.check_record(line, record)  otherwise: logs every problem on the line
              ◀──tally.measure(line, characters, parts)──            the text it read, for tokens and duplicates
    validator.finish() ────────▶ family.finish()                    dataset-level rules (e.g. Nova's one media kind)

A family reports through a ``Tally`` (the validator): problems on ``errors`` / ``warnings``, the characters of each
record it could read with ``measure``, and whether the record has a system prompt with ``note_system_prompt``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol

from lambdas.dataset.formats import lone_surrogate_in, shown_keys
from lambdas.dataset.report import ErrorCode, ProblemLog
from lambdas.registry import DataFormat, ModelSpec

# What duplicate detection compares: the system prompt, the prompt turns and the final answer.
Parts = tuple[str | None, tuple[str, ...], tuple[str, ...]]

ROLES = ("user", "assistant")


def estimate_tokens(characters: int) -> int:
    """AWS's sample validators estimate tokens as characters // 3."""
    return characters // 3


class Tally(Protocol):
    """The validator as a family sees it."""

    @property
    def errors(self) -> ProblemLog: ...

    @property
    def warnings(self) -> ProblemLog: ...

    def measure(self, line: int, characters: int, parts: Parts | None) -> None:
        """Count a record's tokens (from its characters) and, when ``parts`` is given, look for duplicates."""

    def note_system_prompt(self, line: int, system: str | None) -> None:
        """Record whether the record has a system prompt (``None``: it has none)."""


def group_by_sentinel(reserved: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Reserved strings grouped by one character each contains, chosen to be rare in prose (not a letter, digit or
    space: the ``:`` of ``User:``, the newline of ``\\nHuman:``). A text without that character cannot hold them."""
    groups: dict[str, list[str]] = {}
    for text in reserved:
        sentinel = next((char for char in text if not char.isalnum() and char != " "), text[0])
        groups.setdefault(sentinel, []).append(text)
    return tuple((sentinel, tuple(members)) for sentinel, members in groups.items())


class FormatFamily(ABC):
    """The rules of one record format, applied one record at a time (and once over the dataset, in ``finish``).

    Subclasses name their ``data_format`` and ``top_level_keys`` and implement ``check_record``; ``well_formed``
    (a fast path for the common, flawless record) and ``finish`` (dataset-level rules) are optional.
    """

    data_format: ClassVar[DataFormat]
    top_level_keys: ClassVar[frozenset[str]]
    # Whether blank lines at the very end of a file are only a warning (a blank line between records is an error).
    trailing_blank_lines_tolerated: ClassVar[bool] = False

    def __init__(self, spec: ModelSpec, tally: Tally) -> None:
        self.spec = spec
        self.tally = tally
        self.errors = tally.errors
        self._measure = tally.measure  # bound once: the fast path calls them for every record
        self._note_system_prompt = tally.note_system_prompt
        self._reserved = spec.reserved_strings
        self._reserved_groups = group_by_sentinel(spec.reserved_strings)
        self._max_tokens = spec.limits.max_tokens_per_record

    def well_formed(self, line: int, record: dict[str, Any]) -> bool:  # noqa: ARG002 (the interface's signature)
        """True when ``record`` is flawless, in which case it has been measured; False (and nothing logged) when
        anything is unusual, so that ``check_record`` finds and words every problem. Keep it short: it is what
        makes a 10 GB file affordable. The default has no fast path."""
        return False

    @abstractmethod
    def check_record(self, line: int, record: dict[str, Any]) -> None:
        """Log every problem of ``record`` (a JSON object without half surrogate pairs) against ``line``, and
        measure what could be read of it."""

    def finish(self) -> None:  # noqa: B027 (optional hook: most families have no dataset-level rule)
        """Log the problems only the whole dataset shows (called once, after the last record)."""

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _check_top_level_keys(self, line: int, record: dict[str, Any]) -> None:
        allowed = self.top_level_keys
        unknown = [key for key in record if key not in allowed]
        if unknown:
            self._unknown_keys(line, unknown, "the record", allowed)

    def _unknown_keys(self, line: int, unknown: list[str], where: str, allowed: frozenset[str]) -> None:
        names = shown_keys(unknown, quoted=True)
        self.errors.add(line, ErrorCode.UNKNOWN_KEY, f"{where} has {names}; allowed keys: {', '.join(sorted(allowed))}")

    def _check_reserved(self, line: int, text: str, where: str) -> None:
        for reserved in self._reserved:
            if reserved in text:
                self.errors.add(
                    line,
                    ErrorCode.RESERVED_STRING,
                    f"{where} contains {reserved!r}, which {self.spec.display_name} reserves; rephrase it",
                )

    def _clean(self, texts: tuple[str, ...] | list[str]) -> bool:
        """The fast path's text check: no half surrogate pair, no reserved string, in any of ``texts``."""
        groups = self._reserved_groups
        for text in texts:
            if not text.isascii() and lone_surrogate_in(text):  # isascii() is a flag lookup, not a scan
                return False
            for sentinel, group in groups:
                if sentinel in text:  # one-character search: a few times faster than searching for the strings
                    for reserved in group:
                        if reserved in text:
                            return False
        return True

    def _check_order(self, line: int, roles: list[str | None]) -> None:
        """First ``user``, last ``assistant``, alternating (unreadable roles, ``None``, are skipped)."""
        if not roles:
            return
        if roles[0] is not None and roles[0] != "user":
            self.errors.add(
                line, ErrorCode.FIRST_NOT_USER, f'the first message is from "{roles[0]}"; it must be "user"'
            )
        if roles[-1] is not None and roles[-1] != "assistant":
            self.errors.add(
                line, ErrorCode.LAST_NOT_ASSISTANT, f'the last message is from "{roles[-1]}"; it must be "assistant"'
            )
        for index in range(1, len(roles)):
            if roles[index] is not None and roles[index] == roles[index - 1]:
                self.errors.add(
                    line,
                    ErrorCode.NOT_ALTERNATING,
                    f'messages {index} and {index + 1} are both from "{roles[index]}"; '
                    "user and assistant must alternate",
                )
                break
