"""The format normalizer reads and writes every model family's record shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.dataset.formats import (
    Conversation,
    FormatError,
    Turn,
    evaluation_item,
    format_record,
    to_conversation,
)
from lambdas.registry import get_model

CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
NOVA = get_model("amazon.nova-lite-v1:0:300k")
LLAMA31 = get_model("meta.llama3-1-8b-instruct-v1:0:128k")

QA = [Turn(role="user", text="What is Bedrock?"), Turn(role="assistant", text="A managed service.")]


@pytest.mark.parametrize("spec", [CLAUDE, NOVA], ids=["anthropic", "converse"])
def test_conversation_formats_round_trip(spec):
    # Given a system prompt and two turns
    # When written in the model's format and read back
    record = format_record("Be brief.", QA, spec)
    conversation = to_conversation(json.loads(json.dumps(record)), spec)
    # Then nothing is lost
    assert conversation == Conversation(system="Be brief.", turns=QA)


def test_anthropic_record_shape():
    assert format_record("S", QA, CLAUDE) == {
        "system": "S",
        "messages": [
            {"role": "user", "content": "What is Bedrock?"},
            {"role": "assistant", "content": "A managed service."},
        ],
    }
    assert "system" not in format_record(None, QA, CLAUDE)


def test_converse_record_shape():
    assert format_record("S", QA, NOVA) == {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": "S"}],
        "messages": [
            {"role": "user", "content": [{"text": "What is Bedrock?"}]},
            {"role": "assistant", "content": [{"text": "A managed service."}]},
        ],
    }


def test_prompt_completion_puts_system_prompt_before_the_prompt():
    record = format_record("Be brief.", QA, LLAMA31)
    assert record == {"prompt": "Be brief.\n\nWhat is Bedrock?", "completion": "A managed service."}
    assert to_conversation(record, LLAMA31).turns[1] == QA[1]


def test_prompt_completion_rejects_multi_turn():
    with pytest.raises(FormatError, match="multi-turn"):
        format_record(None, [*QA, *QA], LLAMA31)


def test_converse_media_blocks_are_skipped_in_text():
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"image": {"format": "png"}}, {"text": "What is shown?"}]},
            {"role": "assistant", "content": [{"text": "A cat."}]},
        ],
    }
    assert to_conversation(record, NOVA).turns[0].text == "What is shown?"


def test_evaluation_item_splits_prompt_and_reference():
    record = format_record("S", [*QA, Turn(role="user", text="More?"), Turn(role="assistant", text="No.")], CLAUDE)
    item = evaluation_item(record, CLAUDE)
    assert item.system == "S"
    assert [turn.text for turn in item.prompt_turns] == ["What is Bedrock?", "A managed service.", "More?"]
    assert item.reference == "No."


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"system": "S"}, "messages"),
        ({"messages": [{"role": "bot", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": 3}]}, "string"),
        ([1, 2], "JSON object"),
    ],
)
def test_unreadable_records_raise_format_error(record, match):
    with pytest.raises(FormatError, match=match):
        to_conversation(record, CLAUDE)


def test_evaluation_item_needs_final_assistant_turn():
    with pytest.raises(FormatError, match="final assistant"):
        evaluation_item({"messages": [{"role": "user", "content": "Q"}]}, CLAUDE)


def test_reference_records_read_as_conversations(reference_run: Path):
    lines = (reference_run / "claude3_ft_training.jsonl").read_text().splitlines()
    items = [evaluation_item(json.loads(line), CLAUDE) for line in lines]
    assert len(items) == 85
    assert items[0].prompt_turns[0].text == "What is Amazon Bedrock and its key features?"
    assert items[0].system is not None
