"""The prompt/completion format ("prompt-completion"): Meta Llama 3.1, Amazon Titan Text.

``{"prompt": str, "completion": str}`` and nothing else; these models take no system prompt (preparation puts one in
front of the prompt).
"""

from __future__ import annotations

from typing import Any, ClassVar

from lambdas.dataset.families.base import FormatFamily
from lambdas.dataset.formats import json_type
from lambdas.dataset.report import ErrorCode
from lambdas.registry import DataFormat


class PromptCompletion(FormatFamily):
    data_format: ClassVar[DataFormat] = DataFormat.PROMPT_COMPLETION
    top_level_keys: ClassVar[frozenset[str]] = frozenset({"prompt", "completion"})

    def check_record(self, line: int, record: dict[str, Any]) -> None:
        self._check_top_level_keys(line, record)
        texts: list[str] = []
        for key in ("prompt", "completion"):
            if key not in record:
                self.errors.add(line, ErrorCode.MISSING_FIELD, f'the record has no "{key}"')
                continue
            value = record[key]
            if not isinstance(value, str):
                self.errors.add(line, ErrorCode.WRONG_TYPE, f'"{key}" must be a string, not {json_type(value)}')
                continue
            if not value.strip():
                self.errors.add(line, ErrorCode.EMPTY_CONTENT, f'"{key}" is empty')
            self._check_reserved(line, value, f'"{key}"')
            texts.append(value)
        if len(texts) == 2:
            self.tally.measure(line, len(texts[0]) + len(texts[1]), (None, (texts[0],), (texts[1],)))
