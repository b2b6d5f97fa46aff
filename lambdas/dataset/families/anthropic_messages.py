"""Anthropic's messages format ("anthropic-messages"): Claude 3 Haiku.

``{"system": str?, "messages": [{"role": "user" | "assistant", "content": str}, ...]}``, text only; no other keys
(Anthropic's fine-tuning guide says extraneous keys are not allowed). The reserved strings (``"\\nHuman:"``,
``"\\nAssistant:"``) come from the registry.
"""

from __future__ import annotations

from typing import Any, ClassVar

from lambdas.dataset.families.messages import MessagesFamily
from lambdas.dataset.formats import json_type
from lambdas.dataset.report import ErrorCode
from lambdas.registry import DataFormat


class AnthropicMessages(MessagesFamily):
    data_format: ClassVar[DataFormat] = DataFormat.ANTHROPIC_MESSAGES

    def well_formed(self, line: int, record: dict[str, Any]) -> bool:
        allowed = self.top_level_keys
        for key in record:
            if key not in allowed:
                return False
        messages = record.get("messages")
        if type(messages) is not list or len(messages) < 2:
            return False
        system = record.get("system")
        if system is not None and type(system) is not str:
            return False
        texts: list[str] = []
        characters = len(system) if system else 0
        expected = "user"
        for message in messages:
            if type(message) is not dict or len(message) != 2 or message.get("role") != expected:
                return False
            content = message.get("content")
            if type(content) is not str or not content or content.isspace():
                return False
            texts.append(content)
            characters += len(content)
            expected = "assistant" if expected == "user" else "user"
        if expected != "user":  # the last message was not the assistant's
            return False
        return self._accept_conversation(line, system, texts, characters)

    def _system_text(self, line: int, value: Any) -> str | None:
        if isinstance(value, str):
            return value
        self.errors.add(line, ErrorCode.WRONG_TYPE, f'"system" must be a string, not {json_type(value)}')
        return None

    def _content_text(self, line: int, where: str, role: str | None, content: Any) -> tuple[str | None, int]:
        if not isinstance(content, str):
            self.errors.add(line, ErrorCode.WRONG_TYPE, f'{where} "content" must be a string, not {json_type(content)}')
            return None, 0
        if not content.strip():
            self.errors.add(line, ErrorCode.EMPTY_CONTENT, f"{where} ({role or 'unknown role'}) has empty content")
        self._check_reserved(line, content, where)
        return content, len(content)
