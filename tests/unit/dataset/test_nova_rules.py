"""The Converse-format rules of issue 13 (Amazon Nova 1 and 2, Meta Llama 3.2), each from its documentation page.

Pages (checked 2026-12):
- NOVA1: https://docs.aws.amazon.com/nova/latest/userguide/fine-tune-prepare-data-understanding.html
- NOVA1-SFT: https://docs.aws.amazon.com/nova/latest/userguide/nova-fine-tune-1.html ("max image count is 10")
- NOVA2: https://docs.aws.amazon.com/bedrock/latest/userguide/nova-2-sft-data-prep.html
- LLAMA: https://docs.aws.amazon.com/bedrock/latest/userguide/preparing-image-text-data.html
- S3LOC: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_S3Location.html
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.dataset.prepare import PreparationOptions, prepare_dataset
from lambdas.dataset.report import ErrorCode, ValidationReport, WarningCode
from lambdas.dataset.validator import validate_stream
from lambdas.registry import get_model

NOVA_LITE = get_model("amazon.nova-lite-v1:0:300k")
NOVA_MICRO = get_model("amazon.nova-micro-v1:0:128k")
# Nova 2 Lite is not in the registry yet (see the report of issue 13): the same entry under the family that selects
# Nova 2's rules.
NOVA_2_LITE = NOVA_LITE.model_copy(
    update={"model_id": "amazon.nova-2-lite-v1:0:256k", "display_name": "Amazon Nova 2 Lite", "family": "amazon-nova-2"}
)
LLAMA_32_VISION = get_model("meta.llama3-2-11b-instruct-v1:0:128k")
CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")

SYSTEM = [{"text": "You are a digital assistant with a friendly personality"}]


def s3(uri: str = "s3://amzn-s3-demo-bucket/train/cat.png", **extra: Any) -> dict[str, Any]:
    return {"s3Location": {"uri": uri, **extra}}


def image(image_format: str = "png", source: Any = None) -> dict[str, Any]:
    return {"image": {"format": image_format, "source": source if source is not None else s3()}}


def video(video_format: str = "mp4", source: Any = None) -> dict[str, Any]:
    return {"video": {"format": video_format, "source": source if source is not None else s3("s3://my-bucket/v/a.mp4")}}


def reasoning(text: str = "The user asks about a neighbour; Australia's nearest is New Zealand.") -> dict[str, Any]:
    return {"reasoningContent": {"reasoningText": {"text": text}}}


def text(value: str) -> dict[str, Any]:
    return {"text": value}


def record(*turns: list[dict[str, Any]], schema: Any = "bedrock-conversation-2024") -> dict[str, Any]:
    """A record whose turns alternate from the user: ``record([user blocks], [assistant blocks], ...)``."""
    messages = [
        {"role": "user" if index % 2 == 0 else "assistant", "content": blocks} for index, blocks in enumerate(turns)
    ]
    return {"schemaVersion": schema, "system": SYSTEM, "messages": messages}


def filler(index: int) -> dict[str, Any]:
    return record([text(f"What is question {index}?")], [text(f"It is answer {index}.")])


def dataset(replacements: dict[int, Any], total: int = 10) -> bytes:
    """``total`` distinct text records, the line numbers in ``replacements`` replaced (bytes are written as is)."""
    lines: list[bytes] = []
    for line in range(1, total + 1):
        value = replacements.get(line, filler(line))
        lines.append(value if isinstance(value, bytes) else json.dumps(value).encode())
    return b"\n".join(lines) + b"\n"


def validate(data: bytes, spec=NOVA_LITE, **options: Any) -> ValidationReport:
    return validate_stream([data], spec, **options)


def found(report: ValidationReport) -> list[tuple[int | None, str]]:
    return [(problem.line, problem.code) for problem in report.errors]


def warned(report: ValidationReport) -> list[tuple[int | None, str]]:
    return [(problem.line, problem.code) for problem in report.warnings]


# -- the documentation's cases, one table ---------------------------------------------------------------------------

# (case, model, the record placed on line 2 of a 10-record file, the errors expected as (line, code))
DOCUMENTATION_CASES: list[tuple[str, Any, dict[str, Any], list[tuple[int | None, str]]]] = [
    # NOVA1's text-only example
    ("text only", NOVA_LITE, record([text("What is the capital of Mars?")], [text("Mars has none.")]), []),
    # NOVA1's single-image example, its placeholders included
    (
        "one image, documentation placeholders",
        NOVA_LITE,
        record(
            [
                text("What is in this image?"),
                image("png", s3("s3://your-bucket/your-path/your-image.png", bucketOwner="your-aws-account-id")),
            ],
            [text("A cat.")],
        ),
        [],
    ),
    ("one video", NOVA_LITE, record([video("mp4"), text("Summarise the video.")], [text("A cat sleeps.")]), []),
    ("ten images in one turn", NOVA_LITE, record([*[image()] * 10, text("Which is red?")], [text("The third.")]), []),
    # NOVA1: "schemaVersion can be any string value"
    ("schemaVersion any string", NOVA_LITE, record([text("Q?")], [text("A.")], schema="my-own-version"), []),
    (
        "every image format",
        NOVA_LITE,
        record([image("png"), image("jpeg"), image("gif"), image("webp"), text("Q?")], [text("A.")]),
        [],
    ),
    ("every video format: mov", NOVA_LITE, record([video("mov"), text("Q?")], [text("A.")]), []),
    ("every video format: mkv", NOVA_LITE, record([video("mkv"), text("Q?")], [text("A.")]), []),
    ("every video format: webm", NOVA_LITE, record([video("webm"), text("Q?")], [text("A.")]), []),
    # NOVA2's examples: text with reasoning; an image with reasoning
    (
        "Nova 2 reasoning",
        NOVA_2_LITE,
        record([text("What country is right next to Australia?")], [reasoning(), text("New Zealand.")]),
        [],
    ),
    (
        "Nova 2 image and reasoning",
        NOVA_2_LITE,
        record([image("jpeg"), text("Which country is highlighted?")], [reasoning(), text("Chile.")]),
        [],
    ),
    # media limits per sample (record), not per message: NOVA1 and NOVA1-SFT
    (
        "11 images in one turn",
        NOVA_LITE,
        record([*[image()] * 11, text("Which?")], [text("A.")]),
        [(2, "too_many_media")],
    ),
    (
        "6 + 6 images over two user turns",
        NOVA_LITE,
        record([*[image()] * 6, text("These?")], [text("Yes.")], [*[image()] * 6, text("And these?")], [text("No.")]),
        [(2, "too_many_media")],
    ),
    (
        "a video in each of two user turns",
        NOVA_LITE,
        record([video(), text("This?")], [text("Yes.")], [video(), text("And this?")], [text("No.")]),
        [(2, "too_many_media")],
    ),
    # image / video formats
    ("image format bmp", NOVA_LITE, record([image("bmp"), text("Q?")], [text("A.")]), [(2, "bad_media_format")]),
    ("image format jpg", NOVA_LITE, record([image("jpg"), text("Q?")], [text("A.")]), [(2, "bad_media_format")]),
    (
        "image format in capitals",
        NOVA_LITE,
        record([image("PNG"), text("Q?")], [text("A.")]),
        [(2, "bad_media_format")],
    ),
    ("video format avi", NOVA_LITE, record([video("avi"), text("Q?")], [text("A.")]), [(2, "bad_media_format")]),
    ("Nova 2: no webp", NOVA_2_LITE, record([image("webp"), text("Q?")], [text("A.")]), [(2, "bad_media_format")]),
    ("Nova 2: no webm", NOVA_2_LITE, record([video("webm"), text("Q?")], [text("A.")]), [(2, "bad_media_format")]),
    # the source: an S3 object (NOVA1, S3LOC)
    (
        "inline bytes",
        NOVA_LITE,
        record([image("png", {"bytes": "iVBORw0KGgo="}), text("Q?")], [text("A.")]),
        [(2, "bad_media_source")],
    ),
    (
        "https uri",
        NOVA_LITE,
        record([image("png", s3("https://example.com/cat.png")), text("Q?")], [text("A.")]),
        [(2, "bad_media_source")],
    ),
    (
        "a bucket, no object",
        NOVA_LITE,
        record([image("png", s3("s3://my-bucket/")), text("Q?")], [text("A.")]),
        [(2, "bad_media_source")],
    ),
    (
        "uri is not a string",
        NOVA_LITE,
        record([image("png", s3(42)), text("Q?")], [text("A.")]),
        [(2, "bad_media_source")],
    ),
    (
        "no source",
        NOVA_LITE,
        record([{"image": {"format": "png"}}, text("Q?")], [text("A.")]),
        [(2, "bad_media_source")],
    ),
    # media only in user turns (NOVA2; Nova 1 as AWS's sample validator)
    ("image from the assistant", NOVA_LITE, record([text("Draw a cat.")], [image()]), [(2, "media_not_supported")]),
    # Nova Micro is text only (registry media_supported)
    ("Micro with an image", NOVA_MICRO, record([image(), text("Q?")], [text("A.")]), [(2, "media_not_supported")]),
    # reasoning (NOVA2)
    ("Nova 1 with reasoning", NOVA_LITE, record([text("Q?")], [reasoning(), text("A.")]), [(2, "bad_reasoning")]),
    ("reasoning from the user", NOVA_2_LITE, record([reasoning(), text("Q?")], [text("A.")]), [(2, "bad_reasoning")]),
    (
        "redacted reasoning",
        NOVA_2_LITE,
        record([text("Q?")], [{"reasoningContent": {"redactedContent": "AAAA"}}, text("A.")]),
        [(2, "bad_reasoning")],
    ),
    ("empty reasoning", NOVA_2_LITE, record([text("Q?")], [reasoning("  "), text("A.")]), [(2, "bad_reasoning")]),
    (
        "reserved word in reasoning",
        NOVA_2_LITE,
        record([text("Q?")], [reasoning("Then User: asks"), text("A.")]),
        [(2, "reserved_string")],
    ),
    # NOVA1's reserved keywords, [EOS] included (AWS's sample validator never finds it)
    ("[EOS] in an answer", NOVA_LITE, record([text("Q?")], [text("Done [EOS]")]), [(2, "reserved_string")]),
    (
        "<image> in a question",
        NOVA_LITE,
        record([image(), text("Look at <image>")], [text("A.")]),
        [(2, "reserved_string")],
    ),
    # first user, last assistant (NOVA1)
    ("ends with the user", NOVA_LITE, record([text("Q?")], [text("A.")], [text("And?")]), [(2, "last_not_assistant")]),
    # tokens: Nova's 32k context (AWS's sample validator has no length check)
    ("too long", NOVA_LITE, record([text("Q?")], [text("x" * (32_000 * 3 + 3))]), [(2, "too_many_tokens")]),
]


@pytest.mark.parametrize(
    ("spec", "case", "expected"),
    [pytest.param(spec, case, expected, id=name) for name, spec, case, expected in DOCUMENTATION_CASES],
)
def test_documentation_case(spec, case, expected):
    # Given a 10-record file whose second line is the documentation's case
    # When it is validated for the model
    report = validate(dataset({2: case}), spec)
    # Then exactly the expected problems are reported, on that line
    assert found(report) == expected
    assert report.valid is (not expected)


# -- schemaVersion --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, 2024, ["bedrock-conversation-2024"]])
def test_schema_version_must_be_a_string(version):
    # Given a schemaVersion that is present but not a string
    report = validate(dataset({4: record([text("Q?")], [text("A.")], schema=version)}))
    # Then it is bad_schema_version on its line, and the message says any string will do
    assert found(report) == [(4, "bad_schema_version")]
    assert "any" in report.errors[0].message


def test_schema_version_may_be_left_out():
    without = {key: value for key, value in filler(3).items() if key != "schemaVersion"}
    assert validate(dataset({3: without})).valid


def test_llama_32_still_needs_the_documented_schema_version():
    # Given Llama 3.2, whose page shows only "bedrock-conversation-2024" and never says another is accepted
    report = validate(
        dataset({2: record([text("Q?")], [text("A.")], schema="v1")}), LLAMA_32_VISION, check_counts=False
    )
    # Then another version is refused for it
    assert found(report) == [(2, "bad_schema_version")]


# -- media ------------------------------------------------------------------------------------------------------------


def test_media_limits_count_the_whole_record_and_say_so():
    # Given a record with 6 images in each of its two user turns (each turn alone is within the limit)
    case = record([*[image()] * 6, text("These?")], [text("Yes.")], [*[image()] * 6, text("And?")], [text("No.")])
    report = validate(dataset({7: case}))
    # Then the record is refused once, on its line, naming its total
    assert found(report) == [(7, "too_many_media")]
    assert "12 image(s)" in report.errors[0].message
    assert "up to 10 images or 1 video" in report.errors[0].message


def test_an_image_and_a_video_in_one_record_is_too_many_and_mixes_the_dataset():
    report = validate(dataset({5: record([image(), video(), text("Q?")], [text("A.")])}))
    assert found(report) == [(None, "mixed_media"), (5, "too_many_media")]


def test_a_dataset_that_mixes_images_and_videos_is_refused_once_naming_the_first_of_each():
    # Given images on lines 3 and 8 and a video on line 6, each record fine on its own
    report = validate(
        dataset(
            {
                3: record([image(), text("Q3?")], [text("A3.")]),
                6: record([video(), text("Q6?")], [text("A6.")]),
                8: record([image("gif"), text("Q8?")], [text("A8.")]),
            }
        )
    )
    # Then the dataset is refused by one dataset-level error that says where to look
    assert found(report) == [(None, "mixed_media")]
    message = report.errors[0].message
    assert "images (2 record(s), the first at line 3)" in message
    assert "videos (1 record(s), the first at line 6)" in message


def test_a_dataset_of_images_only_or_videos_only_is_fine():
    images = dataset(
        {2: record([image(), text("Q?")], [text("A.")]), 9: record([image("jpeg"), text("Q9?")], [text("A.")])}
    )
    videos = dataset(
        {2: record([video(), text("Q?")], [text("A.")]), 9: record([video("mov"), text("Q9?")], [text("A.")])}
    )
    assert validate(images).valid
    assert validate(videos).valid


def test_mixed_media_is_refused_before_the_split_is_written(tmp_path: Path):
    # Given a Nova dataset dropped as is, with images and videos
    data = dataset({2: record([image(), text("Q?")], [text("A.")]), 9: record([video(), text("Q9?")], [text("A.")])})
    # When preparation validates it
    prepared = prepare_dataset(lambda: iter([data]), NOVA_LITE, tmp_path / "out", PreparationOptions())
    # Then it is rejected with the dataset-level error and nothing is written
    assert not prepared.report.valid
    assert [(problem.line, problem.code) for problem in prepared.report.errors] == [(None, "mixed_media")]
    assert prepared.files == {}


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"bytes": "iVBORw0KGgo="}, "inline bytes"),
        (s3("s3:/my-bucket/cat.png"), "s3://bucket/key"),
        (s3("s3://My_Bucket/cat.png"), "lower case"),
        (s3(bucketOwner=123456789012), "as a string"),
        ({"s3Location": "s3://my-bucket/cat.png"}, "is a string"),
    ],
)
def test_media_source_problems_are_worded(source, words):
    report = validate(dataset({3: record([image("png", source), text("Q?")], [text("A.")])}))
    assert found(report) == [(3, "bad_media_source")]
    assert words in report.errors[0].message


def test_unknown_keys_inside_media_are_named():
    case = record(
        [{"image": {"format": "png", "source": s3(region="us-east-1"), "detail": "high"}}, text("Q?")], [text("A.")]
    )
    report = validate(dataset({4: case}))
    assert found(report) == [(4, "unknown_key"), (4, "unknown_key")]
    assert {"'detail'", "'region'"} <= {
        word.strip(";") for problem in report.errors for word in problem.message.split()
    }


def test_format_hints_for_common_slips():
    capitals = validate(dataset({2: record([image("PNG"), text("Q?")], [text("A.")])})).errors[0].message
    jpg = validate(dataset({2: record([image("jpg"), text("Q?")], [text("A.")])})).errors[0].message
    assert "lower case" in capitals
    assert 'write "jpeg"' in jpg


def test_llama_32_vision_takes_images_but_no_video():
    # Given Llama 3.2 11B: images in gif, jpeg, png, webp; "User inputs can include both text and images" (LLAMA)
    images = validate(
        dataset({2: record([image("webp"), text("Q?")], [text("A.")])}), LLAMA_32_VISION, check_counts=False
    )
    with_video = validate(
        dataset({2: record([video(), text("Q?")], [text("A.")])}), LLAMA_32_VISION, check_counts=False
    )
    assert images.valid
    assert found(with_video) == [(2, "media_not_supported")]
    assert "takes no video" in with_video.errors[0].message


def test_a_model_without_media_reports_the_message_once_not_each_block_problem():
    # Given Nova Micro and an image block that is wrong in every way
    case = record([{"image": {"format": "bmp", "source": {"bytes": "x"}}}, text("Q?")], [text("A.")])
    report = validate(dataset({2: case}), NOVA_MICRO)
    # Then the one problem is that Micro takes no media
    assert found(report) == [(2, "media_not_supported")]


# -- reasoning (Nova 2) ---------------------------------------------------------------------------------------------


def test_reasoning_counts_towards_the_tokens():
    # Given a Nova 2 record whose reasoning alone is over the 32,000-token estimate
    case = record([text("Q?")], [reasoning("r" * (32_000 * 3 + 3)), text("A.")])
    report = validate(dataset({2: case}), NOVA_2_LITE)
    assert found(report) == [(2, "too_many_tokens")]


def test_reasoning_may_carry_a_signature_but_nothing_else():
    signed = {"reasoningContent": {"reasoningText": {"text": "Because.", "signature": "c2ln"}}}
    odd = {"reasoningContent": {"reasoningText": {"text": "Because.", "score": 1}}}
    assert validate(dataset({2: record([text("Q?")], [signed, text("A.")])}), NOVA_2_LITE).valid
    assert found(validate(dataset({2: record([text("Q?")], [odd, text("A.")])}), NOVA_2_LITE)) == [(2, "unknown_key")]


# -- blank lines ------------------------------------------------------------------------------------------------------


def test_a_trailing_blank_line_is_a_warning_not_an_error():
    # Given a valid Nova file that ends with an empty line (an extra newline)
    report = validate(dataset({}) + b"\n")
    # Then it is valid, with one warning on the blank line
    assert report.valid
    assert warned(report) == [(11, "trailing_blank_lines")]
    assert report.records == 10


def test_several_trailing_blank_lines_are_one_warning_at_the_first():
    report = validate(dataset({}) + b"\n  \r\n\t\n")
    assert report.valid
    assert warned(report) == [(11, "trailing_blank_lines")]
    assert "3 blank line(s)" in report.warnings[0].message


def test_a_blank_line_between_records_is_still_an_error():
    # Given blank lines between records 3 and 4 (each line a JSON object is what JSONL, and NOVA1, ask for)
    lines = dataset({}).split(b"\n")
    data = b"\n".join([*lines[:3], b"", b"", *lines[3:]])
    report = validate(data)
    assert found(report) == [(4, "blank_line"), (5, "blank_line")]
    assert warned(report) == []


def test_a_file_of_blank_lines_only_has_blank_line_errors():
    report = validate(b"\n\n")
    assert found(report) == [(None, "empty_file"), (1, "blank_line"), (2, "blank_line")]


def test_trailing_blank_lines_stay_errors_for_the_other_formats():
    # Given a Claude 3 Haiku file ending in a blank line: only the Converse family tolerates it (issue 13 is about
    # Nova; the other formats keep their behaviour)
    lines = b"".join(
        json.dumps(
            {"system": "S", "messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": "A."}]}
        ).encode()
        + b"\n"
        for i in range(40)
    )
    report = validate(lines + b"\n", CLAUDE)
    assert found(report) == [(41, "blank_line")]


def test_a_trailing_blank_line_does_not_stop_preparation(tmp_path: Path):
    data = dataset({}) + b"\n"
    prepared = prepare_dataset(lambda: iter([data]), NOVA_LITE, tmp_path / "out", PreparationOptions())
    assert prepared.report.valid
    assert {problem.code for problem in prepared.report.warnings} == {WarningCode.TRAILING_BLANK_LINES}
    assert sum(len(path.read_bytes().splitlines()) for path in prepared.files.values()) == 10


def test_the_new_codes_are_part_of_the_stable_enums():
    assert {code.value for code in ErrorCode} >= {
        "bad_media_format",
        "bad_media_source",
        "mixed_media",
        "bad_reasoning",
    }
    assert WarningCode.TRAILING_BLANK_LINES.value == "trailing_blank_lines"


@pytest.mark.parametrize("spec", [NOVA_LITE, NOVA_2_LITE, LLAMA_32_VISION], ids=lambda spec: spec.family)
def test_fast_path_and_detailed_checks_agree_on_converse_records(spec, monkeypatch):
    # Given text records with other schema versions, without one, and a few with media or reasoning (detailed path)
    data = dataset(
        {
            2: record([text("Q2?")], [text("A2.")], schema="v1"),
            3: {key: value for key, value in filler(3).items() if key != "schemaVersion"},
            4: record([image("gif"), text("Q4?")], [text("A4.")]),
            5: record([text("Q5?")], [reasoning(), text("A5.")]),
            6: record([text("Q6?")], [text("Done [EOS]")]),
        },
        total=12,
    )
    fast = validate(data, spec, check_counts=False)
    # When every record is sent through the detailed checks
    monkeypatch.setattr("lambdas.dataset.validator.DatasetValidator._well_formed_conversation", lambda *_: False)
    detailed = validate(data, spec, check_counts=False)
    # Then the reports are the same
    assert fast.model_dump() == detailed.model_dump()
    assert ((6, "reserved_string") in found(fast)) is bool(spec.reserved_strings)  # Llama 3.2 reserves none
