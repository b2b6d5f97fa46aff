"""The Converse record format ("bedrock-conversation"): Amazon Nova 1 (Micro, Lite, Pro), Amazon Nova 2 Lite and
Meta Llama 3.2::

    {"schemaVersion": str, "system": [{"text": str}, ...],
     "messages": [{"role": "user" | "assistant", "content": [block, ...]}, ...]}

where a block is one of::

    {"text": str}
    {"image": {"format": "png", "source": {"s3Location": {"uri": "s3://bucket/key", "bucketOwner": "..."}}}}
    {"video": {"format": "mp4", "source": {"s3Location": {"uri": "s3://bucket/key"}}}}
    {"reasoningContent": {"reasoningText": {"text": str}}}            Amazon Nova 2, assistant turns only

What differs between the models that use the format (schema version, media formats and limits, reasoning) is data:
one ``ConverseRules`` per registry family, each fact beside the page it comes from (checked 2026-12). Whether a
model takes media at all is the registry's ``media_supported`` (Nova Micro and Llama 3.2 1B/3B take text only).
Rules that no file can show (the media being readable by Bedrock, in the dataset's bucket, of the documented size)
are the service's to check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from lambdas.dataset.families.base import Tally
from lambdas.dataset.families.messages import MessagesFamily
from lambdas.dataset.formats import json_type, shown, shown_keys
from lambdas.dataset.report import ErrorCode
from lambdas.registry import DataFormat, ModelSpec

MediaKind = Literal["image", "video"]

NOVA_2_DATA_PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html"


@dataclass(frozen=True)
class ConverseRules:
    """What one model family accepts in the Converse format, beyond the shape every family shares."""

    schema_version: str | None  # the one value accepted; None: any string
    image_formats: tuple[str, ...]  # the ``format`` values, as the Converse API spells them
    video_formats: tuple[str, ...]  # empty: the family takes no video
    max_images_per_record: int  # per sample (record), not per message
    max_videos_per_record: int
    one_media_kind_per_dataset: bool  # a dataset carries images or videos, never both
    reasoning: bool  # assistant turns may carry reasoningContent


NOVA_1_RULES = ConverseRules(
    # "schemaVersion can be any string value":
    # https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html
    schema_version=None,
    # The Converse ImageBlock formats (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html),
    # all of which Nova reads (PNG, JPEG, GIF, WebP: https://docs.aws.amazon.com/nova/latest/userguide/modalities.html).
    image_formats=("png", "jpeg", "gif", "webp"),
    # Of the VideoBlock formats Nova reads (https://docs.aws.amazon.com/nova/latest/userguide/modalities.html), those
    # fine-tuning takes, as AWS's sample validator lists them (IMAGE_FORMATS / VIDEO_FORMATS in
    # https://github.com/aws-samples/amazon-nova-samples/tree/main/customization/bedrock-finetuning/understanding/dataset_validation).
    video_formats=("mov", "mkv", "mp4", "webm"),
    # "content can have multiple text and image objects. max image count is 10":
    # https://docs.aws.amazon.com/nova/latest/userguide/nova-fine-tune-1.html; per sample, and "One sample (single
    # record in messages) can have only 1 video": https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html
    max_images_per_record=10,
    max_videos_per_record=1,
    # "Dataset can't contain different media modalities. That is, the dataset can either be text with images or text
    # with videos": https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html
    one_media_kind_per_dataset=True,
    # Reasoning content is a Nova 2 addition: https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
    reasoning=False,
)

NOVA_2_RULES = ConverseRules(
    # "Amazon Nova 2.0 SFT data uses the same Converse API format as Amazon Nova 1.0, with the addition of optional
    # reasoning content fields": https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
    schema_version=None,
    # "Supported media formats: Images - PNG, JPEG, GIF; Videos - MOV, MKV, MP4" (no WebP, no WebM):
    # https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
    image_formats=("png", "jpeg", "gif"),
    video_formats=("mov", "mkv", "mp4"),
    # Not restated for Nova 2; Nova 1's limits (above), which AWS's sample validator also applies to lite-2.0.
    max_images_per_record=10,
    max_videos_per_record=1,
    # "You cannot mix images and videos within the same dataset or across different turns":
    # https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
    one_media_kind_per_dataset=True,
    # "Assistant content - Text-only responses and reasoning content"; "Nova 2.0 SFT supports only text-based
    # reasoning content in the reasoningText field": https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
    # and https://docs.aws.amazon.com/sagemaker/latest/dg/nova-fine-tune-2.html
    reasoning=True,
)

LLAMA_3_2_RULES = ConverseRules(
    # The page gives records with "schemaVersion": "bedrock-conversation-2024" and never says another is accepted.
    schema_version="bedrock-conversation-2024",
    # "Supported image formats for Meta Llama-3.2 11B Vision Instruct and Meta Llama-3.2 90B Vision Instruct include:
    # gif, jpeg, png, and webp"; "User inputs can include both text and images, while assistant responses are always
    # textual" (no video): https://docs.aws.amazon.com/bedrock/latest/userguide/preparing-image-text-data.html
    image_formats=("png", "jpeg", "gif", "webp"),
    video_formats=(),
    # Not documented for Llama 3.2; the limit this project applied before, now per record as for Nova.
    max_images_per_record=10,
    max_videos_per_record=0,
    one_media_kind_per_dataset=False,
    reasoning=False,
)

# Keyed by the registry's ``family``. A family missing here gets Nova 1's rules, the Converse-format baseline.
RULES_BY_FAMILY: dict[str, ConverseRules] = {
    "amazon-nova": NOVA_1_RULES,
    "amazon-nova-2": NOVA_2_RULES,
    "meta-llama-3.2": LLAMA_3_2_RULES,
}

# The Converse S3Location: "uri: An object URI starting with s3://", pattern s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?,
# at most 1,024 characters; "bucketOwner" optional
# (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_S3Location.html). The key is required here: a
# medium is an object. bucketOwner is checked to be a string only: every documentation example gives a placeholder
# ("your-aws-account-id") where the API's pattern wants 12 digits.
_S3_OBJECT_URI = re.compile(r"s3://[a-z0-9][.\-a-z0-9]{1,61}[a-z0-9]/.+")
_S3_URI_MAX_CHARACTERS = 1024
_MEDIA_KEYS = frozenset({"format", "source"})
_S3_LOCATION_KEYS = frozenset({"uri", "bucketOwner"})
_REASONING_TEXT_KEYS = frozenset({"text", "signature"})  # ReasoningTextBlock


def rules_for(spec: ModelSpec) -> ConverseRules:
    return RULES_BY_FAMILY.get(spec.family, NOVA_1_RULES)


class BedrockConversation(MessagesFamily):
    data_format: ClassVar[DataFormat] = DataFormat.BEDROCK_CONVERSATION
    top_level_keys: ClassVar[frozenset[str]] = frozenset({"schemaVersion", "system", "messages"})
    # Blank lines after the last record are a warning (issue 13: the Nova cases built from the documentation accept
    # such a file); a blank line between records stays an error, as the documentation describes the file: "each line
    # is a JSON object corresponding to a record" (https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html),
    # and AWS's sample validator fails on it.
    trailing_blank_lines_tolerated: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, tally: Tally) -> None:
        super().__init__(spec, tally)
        self.rules = rules_for(spec)
        self._schema_version = self.rules.schema_version
        self._media = spec.media_supported
        block_keys = {"text", "image", "video"}
        if self.rules.reasoning:
            block_keys.add("reasoningContent")
        self._block_keys = frozenset(block_keys)
        self._images = self._videos = 0  # in the record being checked
        self._records_with: dict[MediaKind, int] = {"image": 0, "video": 0}
        self._first_line_with: dict[MediaKind, int] = {}

    # -- the fast path -------------------------------------------------------------------------------------------

    def well_formed(self, line: int, record: dict[str, Any]) -> bool:
        """A text conversation, one text block per message; media, reasoning and several blocks take the detailed
        path."""
        allowed = self.top_level_keys
        for key in record:
            if key not in allowed:
                return False
        messages = record.get("messages")
        if type(messages) is not list or len(messages) < 2:
            return False
        if "schemaVersion" in record:
            version, required = record["schemaVersion"], self._schema_version
            if type(version) is not str or (required is not None and version != required):
                return False
        system = record.get("system")
        if system is not None:
            if type(system) is not list:
                return False
            blocks: list[str] = []
            for block in system:
                if type(block) is not dict or len(block) != 1 or type(block.get("text")) is not str:
                    return False
                blocks.append(block["text"])
            system = "\n".join(blocks)
        texts: list[str] = []
        characters = len(system) if system else 0
        expected = "user"
        for message in messages:
            if type(message) is not dict or len(message) != 2 or message.get("role") != expected:
                return False
            content = message.get("content")
            if type(content) is not list or len(content) != 1:
                return False
            block = content[0]
            if type(block) is not dict or len(block) != 1:
                return False
            text = block.get("text")
            if type(text) is not str or not text or text.isspace():
                return False
            texts.append(text)
            characters += len(text)
            expected = "assistant" if expected == "user" else "user"
        if expected != "user":  # the last message was not the assistant's
            return False
        return self._accept_conversation(line, system, texts, characters)

    # -- the detailed checks -------------------------------------------------------------------------------------

    def check_record(self, line: int, record: dict[str, Any]) -> None:
        self._images = self._videos = 0
        super().check_record(line, record)

    def _check_header(self, line: int, record: dict[str, Any]) -> None:
        if "schemaVersion" not in record:
            return
        version, expected = record["schemaVersion"], self.rules.schema_version
        if not isinstance(version, str):
            wanted = f'"{expected}"' if expected else 'a string (any; the examples use "bedrock-conversation-2024")'
            self.errors.add(
                line, ErrorCode.BAD_SCHEMA_VERSION, f'"schemaVersion" is {shown(version)}; it must be {wanted}'
            )
        elif expected is not None and version != expected:
            self.errors.add(
                line,
                ErrorCode.BAD_SCHEMA_VERSION,
                f'"schemaVersion" is {shown(version)}; {self.spec.display_name} needs "{expected}"',
            )

    def _system_text(self, line: int, value: Any) -> str | None:
        if not isinstance(value, list) or not all(isinstance(block, dict) for block in value):
            self.errors.add(
                line,
                ErrorCode.WRONG_TYPE,
                f'"system" must be an array of {{"text": ...}} blocks, not {json_type(value)}',
            )
            return None
        texts: list[str] = []
        for block in value:
            unknown = [key for key in block if key != "text"]
            if unknown:
                self._unknown_keys(line, unknown, "a system block", frozenset({"text"}))
            text = block.get("text")
            if not isinstance(text, str):
                self.errors.add(
                    line, ErrorCode.WRONG_TYPE, f'a system block\'s "text" must be a string, not {json_type(text)}'
                )
                continue
            texts.append(text)
        return "\n".join(texts)

    def _content_text(self, line: int, where: str, role: str | None, content: Any) -> tuple[str | None, int]:
        if not isinstance(content, list):
            self.errors.add(
                line, ErrorCode.WRONG_TYPE, f'{where} "content" must be an array of blocks, not {json_type(content)}'
            )
            return None, 0
        texts: list[str] = []
        reasoning = 0  # characters of reasoning text: Nova 2 trains on them too
        images = videos = 0
        for block in content:
            if not isinstance(block, dict):
                self.errors.add(line, ErrorCode.WRONG_TYPE, f"{where} holds {json_type(block)} where a block belongs")
                continue
            unknown = [key for key in block if key not in self._block_keys]
            if "reasoningContent" in unknown:
                unknown.remove("reasoningContent")
                self.errors.add(
                    line,
                    ErrorCode.BAD_REASONING,
                    f'{where} has "reasoningContent"; {self.spec.display_name} takes none (Amazon Nova 2 Lite does: '
                    f"{NOVA_2_DATA_PAGE})",
                )
            if unknown:
                self._unknown_keys(line, unknown, f"a block of {where}", self._block_keys)
            if "text" in block:
                text = block["text"]
                if not isinstance(text, str):
                    self.errors.add(line, ErrorCode.WRONG_TYPE, f'{where} has a "text" that is {json_type(text)}')
                else:
                    self._check_reserved(line, text, where)
                    texts.append(text)
            if "image" in block:
                images += 1
                self._check_medium(line, where, "image", block["image"])
            if "video" in block:
                videos += 1
                self._check_medium(line, where, "video", block["video"])
            if "reasoningContent" in block and self.rules.reasoning:
                reasoning += self._check_reasoning(line, where, role, block["reasoningContent"])
        if images or videos:
            self._images += images
            self._videos += videos
            if not self._media:
                self.errors.add(
                    line,
                    ErrorCode.MEDIA_NOT_SUPPORTED,
                    f"{where} has an image or video; {self.spec.display_name} takes text only",
                )
            elif role == "assistant":
                # Media come from the user: "Input types - Text, image, or video in user content blocks; Assistant
                # content - Text-only responses and reasoning content":
                # https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html (Nova 1: AWS's sample
                # validator, "messages with the assistant role do not contain an image/video"; Llama 3.2: "assistant
                # responses are always textual", https://docs.aws.amazon.com/bedrock/latest/userguide/preparing-image-text-data.html)
                self.errors.add(
                    line,
                    ErrorCode.MEDIA_NOT_SUPPORTED,
                    f"{where} is an assistant message with media; only user messages may carry media",
                )
        text = "\n".join(texts)
        if not text.strip() and not (images or videos or reasoning):
            self.errors.add(line, ErrorCode.EMPTY_CONTENT, f"{where} ({role or 'unknown role'}) has empty content")
        return text, len(text) + reasoning

    def _check_medium(self, line: int, where: str, kind: MediaKind, medium: Any) -> None:
        """An image or video block's ``{"format", "source"}`` (nothing more when the model takes no media at all:
        the message is refused whole)."""
        if not self._media:
            return
        formats = self.rules.image_formats if kind == "image" else self.rules.video_formats
        if not formats:
            self.errors.add(
                line, ErrorCode.MEDIA_NOT_SUPPORTED, f"{where} has a {kind}; {self.spec.display_name} takes no {kind}"
            )
            return
        if not isinstance(medium, dict):
            self.errors.add(
                line,
                ErrorCode.WRONG_TYPE,
                f'{where} has an "{kind}" that is {json_type(medium)}, not an object with "format" and "source"',
            )
            return
        unknown = [key for key in medium if key not in _MEDIA_KEYS]
        if unknown:
            self._unknown_keys(line, unknown, f"the {kind} of {where}", _MEDIA_KEYS)
        found = medium.get("format")
        if found not in formats:
            hint = ""
            if isinstance(found, str) and found.lower() in formats:
                hint = " (in lower case, as the Converse API spells it)"
            elif found == "jpg" and "jpeg" in formats:
                hint = ' (write "jpeg")'
            shown_format = "missing" if "format" not in medium else shown(found)
            self.errors.add(
                line,
                ErrorCode.BAD_MEDIA_FORMAT,
                f'the {kind} "format" of {where} is {shown_format}; {self.spec.display_name} takes '
                f"{', '.join(formats)}{hint}",
            )
        self._check_source(line, where, kind, medium)

    def _check_source(self, line: int, where: str, kind: MediaKind, medium: dict[str, Any]) -> None:
        # "The image.source.s3Location.uri and video.source.s3Location.uri must be accessible to Amazon Bedrock":
        # fine-tuning reads media from S3, not inline bytes
        # (https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html).
        shape = '{"s3Location": {"uri": "s3://bucket/key"}}'
        if "source" not in medium:
            self.errors.add(line, ErrorCode.BAD_MEDIA_SOURCE, f'the {kind} of {where} has no "source"; give {shape}')
            return
        source = medium["source"]
        if not isinstance(source, dict) or "s3Location" not in source:
            inline = isinstance(source, dict) and "bytes" in source
            self.errors.add(
                line,
                ErrorCode.BAD_MEDIA_SOURCE,
                f"the {kind} of {where} is inline bytes; fine-tuning reads media from Amazon S3: give {shape}"
                if inline
                else f'the {kind} "source" of {where} is {shown(source)}; give {shape}',
            )
            return
        unknown = [key for key in source if key != "s3Location"]
        if unknown:
            self._unknown_keys(line, unknown, f'the {kind} "source" of {where}', frozenset({"s3Location"}))
        location = source["s3Location"]
        if not isinstance(location, dict):
            self.errors.add(
                line,
                ErrorCode.BAD_MEDIA_SOURCE,
                f'the {kind} "s3Location" of {where} is {json_type(location)}; give {shape}',
            )
            return
        unknown = [key for key in location if key not in _S3_LOCATION_KEYS]
        if unknown:
            self._unknown_keys(line, unknown, f'the {kind} "s3Location" of {where}', _S3_LOCATION_KEYS)
        uri = location.get("uri")
        if not (isinstance(uri, str) and len(uri) <= _S3_URI_MAX_CHARACTERS and _S3_OBJECT_URI.fullmatch(uri)):
            found = "missing" if "uri" not in location else shown(uri)
            self.errors.add(
                line,
                ErrorCode.BAD_MEDIA_SOURCE,
                f"the {kind} uri of {where} is {found}; it must name an S3 object: s3://bucket/key (a bucket name in "
                "lower case, at most 1,024 characters in all)",
            )
        if "bucketOwner" in location and not isinstance(location["bucketOwner"], str):
            self.errors.add(
                line,
                ErrorCode.BAD_MEDIA_SOURCE,
                f'the {kind} "bucketOwner" of {where} is {json_type(location["bucketOwner"])}; '
                "it must be the bucket owner's AWS account id, as a string",
            )

    def _check_reasoning(self, line: int, where: str, role: str | None, value: Any) -> int:
        """A Nova 2 reasoning block; the characters of its text (0 when unreadable)."""
        # "Assistant content - Text-only responses and reasoning content":
        # https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
        if role == "user":
            self.errors.add(
                line,
                ErrorCode.BAD_REASONING,
                f'{where} is a user message with "reasoningContent"; only assistant messages carry reasoning',
            )
        # ReasoningContentBlock is reasoningText | redactedContent:
        # https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlock.html; fine-tuning
        # "supports only text-based reasoning content in the reasoningText field":
        # https://docs.aws.amazon.com/sagemaker/latest/dg/nova-fine-tune-2.html
        shape = '{"reasoningText": {"text": "..."}}'
        if not isinstance(value, dict) or set(value) != {"reasoningText"}:
            found = json_type(value)
            if isinstance(value, dict):
                found = f"an object with {shown_keys(list(value), quoted=True)}"
            self.errors.add(
                line,
                ErrorCode.BAD_REASONING,
                f'the "reasoningContent" of {where} is {found}; Nova 2 fine-tuning takes {shape} only',
            )
            return 0
        block = value["reasoningText"]
        if not isinstance(block, dict):
            self.errors.add(
                line, ErrorCode.BAD_REASONING, f'the "reasoningText" of {where} is {json_type(block)}; give {shape}'
            )
            return 0
        unknown = [key for key in block if key not in _REASONING_TEXT_KEYS]
        if unknown:
            self._unknown_keys(line, unknown, f'the "reasoningText" of {where}', _REASONING_TEXT_KEYS)
        text = block.get("text")
        if not isinstance(text, str) or not text.strip():
            found = "missing" if "text" not in block else ("empty" if isinstance(text, str) else json_type(text))
            self.errors.add(
                line, ErrorCode.BAD_REASONING, f'the reasoning "text" of {where} is {found}; give the reasoning as text'
            )
            return 0
        self._check_reserved(line, text, f"the reasoning of {where}")
        return len(text)

    def _end_record(self, line: int) -> None:
        images, videos = self._images, self._videos
        if not (images or videos) or not self._media:
            return
        rules = self.rules
        too_many = images > rules.max_images_per_record
        if rules.video_formats:
            too_many = too_many or videos > rules.max_videos_per_record or bool(images and videos)
        if too_many:
            allowed = f"up to {rules.max_images_per_record} images"
            if rules.video_formats:
                allowed += f" or {rules.max_videos_per_record} video, not both"
            self.errors.add(
                line,
                ErrorCode.TOO_MANY_MEDIA,
                f"the record has {images} image(s) and {videos} video(s); a record (sample) may carry {allowed}",
            )
        counts: tuple[tuple[MediaKind, int], ...] = (("image", images), ("video", videos))
        for kind, count in counts:
            if count:
                self._records_with[kind] += 1
                self._first_line_with.setdefault(kind, line)

    def finish(self) -> None:
        first = self._first_line_with
        if self.rules.one_media_kind_per_dataset and "image" in first and "video" in first:
            with_images, with_videos = self._records_with["image"], self._records_with["video"]
            self.errors.add(
                None,
                ErrorCode.MIXED_MEDIA,
                f"the dataset mixes images ({with_images:,} record(s), the first at line {first['image']}) and videos "
                f"({with_videos:,} record(s), the first at line {first['video']}); {self.spec.display_name} trains "
                "on text with images or text with videos, not both: put them in separate datasets",
            )
