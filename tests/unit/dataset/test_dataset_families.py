"""The format families behind the validator: one per DataFormat, chosen by the registry, through one interface."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import pytest

from lambdas.dataset import families
from lambdas.dataset.families import FAMILIES, FormatFamily, family_for
from lambdas.dataset.families.bedrock_conversation import NOVA_1_RULES, RULES_BY_FAMILY, BedrockConversation
from lambdas.dataset.report import ErrorCode
from lambdas.dataset.validator import DatasetValidator, validate_stream
from lambdas.registry import MODELS, DataFormat, get_model

LLAMA31 = get_model("meta.llama3-1-8b-instruct-v1:0:128k")


def test_every_data_format_has_its_family():
    assert set(FAMILIES) == set(DataFormat)
    for data_format, family in FAMILIES.items():
        assert family.data_format is data_format


@pytest.mark.parametrize("spec", list(MODELS.values()), ids=lambda spec: spec.model_id)
def test_the_registry_chooses_the_family(spec):
    family = family_for(spec, DatasetValidator(spec))
    assert family.data_format is spec.data_format
    assert family.spec is spec


def test_every_converse_model_in_the_registry_has_rules_of_its_own():
    # A family missing from RULES_BY_FAMILY would silently get Nova 1's rules
    converse = {spec.family for spec in MODELS.values() if spec.data_format is DataFormat.BEDROCK_CONVERSATION}
    assert converse <= set(RULES_BY_FAMILY)
    assert RULES_BY_FAMILY["amazon-nova"] is NOVA_1_RULES


def test_the_validator_keeps_the_family_it_was_given_rules_by():
    nova = get_model("amazon.nova-lite-v1:0:300k")
    assert isinstance(family_for(nova, DatasetValidator(nova)), BedrockConversation)


class _NeedsAnId(FormatFamily):
    """A made-up format: ``{"id": str, "prompt": str, "completion": str}``, ids unique across the dataset."""

    data_format: ClassVar[DataFormat] = DataFormat.PROMPT_COMPLETION
    top_level_keys: ClassVar[frozenset[str]] = frozenset({"id", "prompt", "completion"})
    finished = 0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ids: dict[str, int] = {}

    def check_record(self, line: int, record: dict[str, Any]) -> None:
        self._check_top_level_keys(line, record)
        first = self.ids.setdefault(str(record.get("id")), line)
        if first != line:
            self.errors.add(line, ErrorCode.MISSING_FIELD, f"id already used on line {first}")
        self.tally.measure(line, len(record.get("prompt", "")) + len(record.get("completion", "")), None)

    def finish(self) -> None:
        type(self).finished += 1
        self.errors.add(None, ErrorCode.TOO_FEW_RECORDS, f"{len(self.ids)} distinct ids")


def test_a_family_is_a_module_behind_the_interface(monkeypatch):
    # Given a new family registered for a data format
    monkeypatch.setitem(families.FAMILIES, DataFormat.PROMPT_COMPLETION, _NeedsAnId)
    data = b"".join(
        json.dumps(value).encode() + b"\n"
        for value in (
            {"id": "a", "prompt": "P", "completion": "C" * 30},
            {"id": "a", "prompt": "P", "completion": "C"},
            [1],
            {"id": "b", "prompt": "P", "completion": "C", "x": 1},
        )
    )
    # When a file is validated for a model of that format
    report = validate_stream([data], LLAMA31, check_counts=False)
    # Then the validator streamed and counted, the family judged each object, and its dataset rule ran once
    assert [(problem.line, problem.code) for problem in report.errors] == [
        (None, "too_few_records"),
        (2, "missing_field"),
        (3, "not_an_object"),  # the validator's: families only see JSON objects
        (4, "unknown_key"),
    ]
    assert _NeedsAnId.finished == 1
    assert report.records == 4
    assert report.stats.tokens_per_record is not None
    assert report.stats.tokens_per_record.max == 10  # what the family measured: 31 characters // 3
