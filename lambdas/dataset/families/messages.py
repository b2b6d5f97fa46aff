"""The record walk shared by the formats that write a conversation as ``{"system"?, "messages": [...]}``.

Anthropic's messages format and the Converse format agree on the outline (an optional system prompt, then at least
two messages, each ``{"role", "content"}``, from the user first, alternating, the assistant last: see BEDROCK_FACTS.md,
"Rules for the conversation formats") and differ in how a system prompt and a message's content are written. A
subclass says how, in ``_system_text`` and ``_content_text``; ``_check_header`` and ``_end_record`` let it add rules
about the rest of the record.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from lambdas.dataset.families.base import ROLES, FormatFamily, estimate_tokens
from lambdas.dataset.formats import json_type, shown, shown_keys
from lambdas.dataset.report import ErrorCode

_MESSAGE_KEYS = frozenset({"role", "content"})


class MessagesFamily(FormatFamily):
    """``check_record`` for ``{"system"?, "messages": [{"role", "content"}, ...]}`` records."""

    top_level_keys: ClassVar[frozenset[str]] = frozenset({"system", "messages"})

    def _accept_conversation(self, line: int, system: str | None, texts: list[str], characters: int) -> bool:
        """The fast path's common end, once a family has walked its messages into ``texts`` (user first, assistant
        last): clean texts, within the token limit; then the record is measured and accepted."""
        if not self._clean(texts if system is None else (system, *texts)):
            return False
        if estimate_tokens(characters) > self._max_tokens:
            return False
        self._measure(line, characters, (system, tuple(texts[:-1]), (texts[-1],)))
        if system is None:
            self._note_system_prompt(line, system)
        return True

    def check_record(self, line: int, record: dict[str, Any]) -> None:
        self._check_top_level_keys(line, record)
        self._check_header(line, record)
        characters = 0
        system_text: str | None = None
        if "system" in record:
            system_text = self._system_text(line, record["system"])
            if system_text is not None:
                characters += len(system_text)
                self._check_reserved(line, system_text, "the system prompt")
        if "messages" not in record:
            present = shown_keys(sorted(record))
            self.errors.add(
                line,
                ErrorCode.MISSING_MESSAGES,
                f'the record has no "messages" (keys present: {present}); raw question/answer data must be prepared '
                "first (python -m tuner prepare), with qa_keys naming its fields",
            )
            return
        messages = record["messages"]
        if not isinstance(messages, list):
            self.errors.add(line, ErrorCode.WRONG_TYPE, f'"messages" must be an array, not {json_type(messages)}')
            return
        if len(messages) < 2:
            self.errors.add(
                line,
                ErrorCode.TOO_FEW_MESSAGES,
                f"the record has {len(messages)} message(s); it needs at least a user message and an assistant answer",
            )
        roles: list[str | None] = []
        texts: list[str] = []
        for index, message in enumerate(messages, start=1):
            role, text, measured = self._check_message(line, index, message)
            roles.append(role)
            if text is not None:
                texts.append(text)
                characters += measured
        self._check_order(line, roles)
        self._end_record(line)
        if texts:  # something to measure; duplicates only when every message could be read
            whole = len(texts) == len(messages)
            self.tally.measure(line, characters, (system_text, tuple(texts[:-1]), tuple(texts[-1:])) if whole else None)
        self.tally.note_system_prompt(line, None if "system" not in record else (system_text or ""))

    def _check_message(self, line: int, index: int, message: Any) -> tuple[str | None, str | None, int]:
        """Check one message: its role (None if unusable), its text (None if unreadable) and the characters it
        weighs (its text, and any other text the model trains on, such as reasoning)."""
        where = f"message {index}"
        if not isinstance(message, dict):
            self.errors.add(line, ErrorCode.WRONG_TYPE, f"{where} must be an object, not {json_type(message)}")
            return None, None, 0
        unknown = [key for key in message if key not in _MESSAGE_KEYS]
        if unknown:
            self._unknown_keys(line, unknown, where, _MESSAGE_KEYS)
        role = message.get("role")
        if role not in ROLES:
            found = "missing" if "role" not in message else shown(role)
            self.errors.add(line, ErrorCode.BAD_ROLE, f'{where} role is {found}; it must be "user" or "assistant"')
            role = None
        if "content" not in message:
            self.errors.add(line, ErrorCode.EMPTY_CONTENT, f'{where} has no "content"')
            return role, None, 0
        text, characters = self._content_text(line, where, role, message["content"])
        return role, text, characters

    # -- what a subclass says about its format -------------------------------------------------------------------

    def _check_header(self, line: int, record: dict[str, Any]) -> None:
        """Rules about the record's other top-level keys (e.g. a schema version)."""

    @abstractmethod
    def _system_text(self, line: int, value: Any) -> str | None:
        """The system prompt's text, or None (with the problem logged) when it cannot be read."""

    @abstractmethod
    def _content_text(self, line: int, where: str, role: str | None, content: Any) -> tuple[str | None, int]:
        """Check a message's content; its text (None when unreadable) and the characters it weighs."""

    def _end_record(self, line: int) -> None:
        """Rules about the whole record, once its messages are checked (e.g. media per record)."""
