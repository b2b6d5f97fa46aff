"""One conversation shape for every model family, and the conversions to and from each family's training format.

Validation, preparation and evaluation all reason about "a system prompt and alternating user/assistant turns";
the registry's ``DataFormat`` says how a model writes that down in a JSONL record. ``to_conversation`` reads a record
that is already well formed (the validator checks shape first and reports problems line by line; this module raises
``FormatError`` with one sentence when it meets a record it cannot read), ``format_record`` writes one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from lambdas.registry import DataFormat, ModelSpec

BEDROCK_CONVERSATION_SCHEMA = "bedrock-conversation-2024"
# Prompt/completion models take no system prompt: preparation puts it in front of the prompt, separated like this.
PROMPT_SYSTEM_SEPARATOR = "\n\n"

Role = Literal["user", "assistant"]

# A message quotes what it found, cut to this many characters: a record may hold megabytes where a short string
# belongs, and the first problems travel in the Step Functions payload (256 KB at most).
SHOWN_CHARACTERS = 80
SHOWN_KEYS = 10
_SURROGATE = re.compile("[\ud800-\udfff]")


class FormatError(ValueError):
    """A record that cannot be read as (or written in) the model's format."""


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` for text a user wrote: every way it can fail is a ``ValueError`` with a message.

    ``json`` recurses once per nesting level, so a line like ``[[[[...`` a few thousand deep raises
    ``RecursionError``; no record of any supported format nests more than a handful of levels.
    """
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply to be a record (thousands of levels of [ or {)") from None
    except ValueError as error:
        if isinstance(error, json.JSONDecodeError) or "integer string conversion" not in str(error):
            raise
        # Python's own wording would advise sys.set_int_max_str_digits(), which is no help to the file's author
        raise ValueError("a number has more than 4,300 digits") from None


def lone_surrogate_in(value: Any) -> bool:
    """True when a string in ``value`` (keys included) holds half of a UTF-16 surrogate pair.

    JSON can spell one (``"\\ud800"``) and ``json`` reads it into a ``str``, but it is not a character: such text
    cannot be written as UTF-8, so it would fail whichever step saves it, after the training it went into was paid.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def shown(value: Any) -> str:
    """A value as a message quotes it: strings and numbers in ``repr``, cut short; arrays and objects by type."""
    if isinstance(value, (list, dict)):
        return json_type(value)
    return _cut(repr(value))


def shown_keys(keys: Iterable[str], *, quoted: bool = False) -> str:
    """Up to ``SHOWN_KEYS`` key names for a message, each cut short, and how many more there are."""
    names = [shown(key) if quoted or not key.isprintable() else _cut(key) for key in keys]
    if not names:
        return "none"
    listed = ", ".join(names[:SHOWN_KEYS])
    return listed if len(names) <= SHOWN_KEYS else f"{listed} and {len(names) - SHOWN_KEYS:,} more"


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN_CHARACTERS else f"{text[:SHOWN_CHARACTERS]}..."


class Turn(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    text: str


class Conversation(BaseModel):
    model_config = ConfigDict(frozen=True)

    system: str | None
    turns: list[Turn]


class EvaluationItem(BaseModel):
    """A test record as evaluation uses it: ask ``prompt_turns`` (with ``system``), compare against ``reference``."""

    model_config = ConfigDict(frozen=True)

    system: str | None
    prompt_turns: list[Turn]
    reference: str


def to_conversation(record: dict[str, Any], spec: ModelSpec) -> Conversation:
    """Read one training record written in ``spec``'s data format."""
    if not isinstance(record, dict):
        raise FormatError(f"a record must be a JSON object, not {json_type(record)}")
    if spec.data_format is DataFormat.PROMPT_COMPLETION:
        prompt = _text_field(record, "prompt")
        completion = _text_field(record, "completion")
        return Conversation(
            system=None, turns=[Turn(role="user", text=prompt), Turn(role="assistant", text=completion)]
        )
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise FormatError('the record has no "messages" list')
    turns = [_read_turn(message, spec.data_format, index) for index, message in enumerate(messages, start=1)]
    return Conversation(system=_read_system(record.get("system"), spec.data_format), turns=turns)


def evaluation_item(record: dict[str, Any], spec: ModelSpec) -> EvaluationItem:
    """Split a record into the question part and the expected final answer."""
    conversation = to_conversation(record, spec)
    if len(conversation.turns) < 2 or conversation.turns[-1].role != "assistant":
        raise FormatError("an evaluation record needs at least one user turn followed by a final assistant answer")
    return EvaluationItem(
        system=conversation.system,
        prompt_turns=list(conversation.turns[:-1]),
        reference=conversation.turns[-1].text,
    )


def format_record(system: str | None, turns: Sequence[Turn], spec: ModelSpec) -> dict[str, Any]:
    """Write one record in ``spec``'s training format (keys in the order AWS's examples use)."""
    if not turns:
        raise FormatError("a record needs at least one turn")
    system = system or None
    if spec.data_format is DataFormat.ANTHROPIC_MESSAGES:
        record: dict[str, Any] = {}
        if system is not None:
            record["system"] = system
        record["messages"] = [{"role": turn.role, "content": turn.text} for turn in turns]
        return record
    if spec.data_format is DataFormat.BEDROCK_CONVERSATION:
        record = {"schemaVersion": BEDROCK_CONVERSATION_SCHEMA}
        if system is not None:
            record["system"] = [{"text": system}]
        record["messages"] = [{"role": turn.role, "content": [{"text": turn.text}]} for turn in turns]
        return record
    if len(turns) != 2 or turns[0].role != "user" or turns[1].role != "assistant":
        raise FormatError(f"{spec.display_name} takes one prompt and one completion, not a multi-turn conversation")
    prompt = turns[0].text if system is None else f"{system}{PROMPT_SYSTEM_SEPARATOR}{turns[0].text}"
    return {"prompt": prompt, "completion": turns[1].text}


def _text_field(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str):
        raise FormatError(f'"{key}" must be a string, not {json_type(value)}')
    return value


def _read_system(value: Any, data_format: DataFormat) -> str | None:
    if value is None:
        return None
    if data_format is DataFormat.ANTHROPIC_MESSAGES:
        if not isinstance(value, str):
            raise FormatError(f'"system" must be a string, not {json_type(value)}')
        return value
    return _text_of_blocks(value, '"system"')


def _read_turn(message: Any, data_format: DataFormat, index: int) -> Turn:
    if not isinstance(message, dict):
        raise FormatError(f"message {index} must be an object, not {json_type(message)}")
    role = message.get("role")
    if role not in ("user", "assistant"):
        raise FormatError(f'message {index} has role {role!r}; only "user" and "assistant" are allowed')
    content = message.get("content")
    if data_format is DataFormat.ANTHROPIC_MESSAGES:
        if not isinstance(content, str):
            raise FormatError(f'message {index} "content" must be a string, not {json_type(content)}')
        return Turn(role=role, text=content)
    return Turn(role=role, text=_text_of_blocks(content, f'message {index} "content"'))


def _text_of_blocks(blocks: Any, where: str) -> str:
    """The text of a Converse content list (media blocks carry no text and are skipped)."""
    if not isinstance(blocks, list):
        raise FormatError(f"{where} must be a list of blocks, not {json_type(blocks)}")
    texts: list[str] = []
    for block in blocks:
        if not isinstance(block, dict):
            raise FormatError(f"{where} holds {json_type(block)} where a block object belongs")
        text = block.get("text")
        if text is not None:
            if not isinstance(text, str):
                raise FormatError(f'{where} has a "text" that is {json_type(text)}, not a string')
            texts.append(text)
    return "\n".join(texts)


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages people read."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
