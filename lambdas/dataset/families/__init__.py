"""The record formats, one module per family, behind ``FormatFamily`` (see ``base``).

Adding a format is a module here, its line in ``FAMILIES``, and the registry's ``DataFormat`` value its models name.
"""

from __future__ import annotations

from lambdas.dataset.families.anthropic_messages import AnthropicMessages
from lambdas.dataset.families.base import FormatFamily, Parts, Tally, estimate_tokens
from lambdas.dataset.families.bedrock_conversation import BedrockConversation
from lambdas.dataset.families.prompt_completion import PromptCompletion
from lambdas.registry import DataFormat, ModelSpec

FAMILIES: dict[DataFormat, type[FormatFamily]] = {
    family.data_format: family for family in (AnthropicMessages, BedrockConversation, PromptCompletion)
}


def family_for(spec: ModelSpec, tally: Tally) -> FormatFamily:
    """The rules of ``spec``'s data format, reporting to ``tally``."""
    return FAMILIES[spec.data_format](spec, tally)


__all__ = ["FAMILIES", "FormatFamily", "Parts", "Tally", "estimate_tokens", "family_for"]
