"""Nova validation time: this project's validator against the approach of AWS's sample Nova validator.

Generates (in a temporary directory) two 10,000-record Amazon Nova Lite files in the ``bedrock-conversation-2024``
format: text conversations (some multi-turn) where one record in ten carries media in its user turn, as S3 uris,
images (1 to 3 ``png``/``jpeg``/``gif``/``webp`` blocks) in one file, one ``mp4``/``mov`` video in the other (a
dataset may not mix the two). Both files are valid. Each is validated, each run in a fresh process, by:

- ours: ``lambdas.dataset.validator.validate_file`` with the registry's Nova Lite entry;
- AWS-approach baseline: a re-implementation, written here and not copied, of how AWS's sample script
  (aws-samples/amazon-nova-samples, ``customization/bedrock-finetuning/understanding/dataset_validation``) works, as
  issue 13 describes it: the file is read whole into a list of ``json.loads`` results, then each record is validated
  by nested pydantic models (sample, message, content block, image/video, source, S3 location) whose validators do the
  per-record checks (roles and their order, media only from users and not on Micro, media formats, ``s3://`` uris,
  up to 10 images or one video per message, empty text, a case-insensitive search for the reserved words), then the
  record count is checked. Like the script, it never finds ``[EOS]`` and has no token-length check, so it does less
  than ours per record.

Runs are interleaved (ours, baseline, ours, ...) so that load on a shared machine falls on both alike; the table shows
the median of ``--repeat`` runs: the validation alone (as each child measured it after its imports) and the whole
process (interpreter start and imports included), and the ratio ours / baseline of each. The quality bar is the whole
process: ours at most ``TARGET_RATIO`` (0.77) times the baseline's.
Run: ``.venv/bin/python benchmarks/nova_validation.py [--repeat 7]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MODEL_ID = "amazon.nova-lite-v1:0:300k"
RECORDS = 10_000
TARGET_RATIO = 0.77

OURS = """
import sys, time
from pathlib import Path
from lambdas.dataset.validator import validate_file
from lambdas.registry import get_model
start = time.perf_counter()
report = validate_file(Path(sys.argv[1]), get_model(sys.argv[2]), epochs=2)
elapsed = time.perf_counter() - start
codes = sorted(report.stats.error_counts)
print(f"{report.records} {elapsed:.3f} {'valid' if report.valid else 'invalid:' + ','.join(codes)}")
"""

AWS_APPROACH_BASELINE = """
import json, re, sys, time
from typing import Optional
from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator, model_validator

IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
VIDEO_FORMATS = ("mov", "mkv", "mp4", "webm")
# Searched case-insensitively in every text, as the script does; "[EOS]" is never found (issue 13).
RESERVED_WORDS = ("System:", "User:", "Bot:", "Assistant:", "<image>", "<video>")
PATH = re.compile(r"^[\\w\\-/.]+$")


def reserved_words(text):
    lowered = text.strip().lower()
    found = [word for word in RESERVED_WORDS if word.lower() in lowered]
    if found:
        raise ValueError(f"reserved words: {found}")


class S3Location(BaseModel):
    uri: str
    bucketOwner: Optional[str] = None

    @field_validator("uri")
    @classmethod
    def _s3(cls, uri):
        if not uri.startswith("s3://") or not PATH.match(uri[5:]):
            raise ValueError("not an s3:// uri")
        return uri


class Source(BaseModel):
    s3Location: S3Location


class Image(BaseModel):
    format: str
    source: Source

    @field_validator("format")
    @classmethod
    def _format(cls, value):
        if value.lower() not in IMAGE_FORMATS:
            raise ValueError("image format")
        return value


class Video(BaseModel):
    format: str
    source: Source

    @field_validator("format")
    @classmethod
    def _format(cls, value):
        if value.lower() not in VIDEO_FORMATS:
            raise ValueError("video format")
        return value


class Block(BaseModel):
    text: Optional[str] = None
    image: Optional[Image] = None
    video: Optional[Video] = None

    @model_validator(mode="after")
    def _one(self):
        if self.text is None and self.image is None and self.video is None:
            raise ValueError("empty block")
        return self

    @field_validator("text")
    @classmethod
    def _text(cls, text):
        if text:
            reserved_words(text)
        return text


class Message(BaseModel):
    role: str
    content: list[Block]

    @field_validator("role")
    @classmethod
    def _role(cls, role):
        if role.lower() not in ("user", "assistant"):
            raise ValueError("role")
        return role

    @field_validator("content")
    @classmethod
    def _content(cls, content, info: ValidationInfo):
        images = sum(block.image is not None for block in content)
        videos = sum(block.video is not None for block in content)
        text = sum(len(block.text) for block in content if block.text is not None)
        if not (images or videos) and text == 0:
            raise ValueError("empty text")
        if "micro" in info.context["model"] and (images or videos):
            raise ValueError("Micro takes no media")
        if videos > 1 or (videos and images) or images > 10:
            raise ValueError("too many media in the message")
        return content

    @model_validator(mode="after")
    def _media_from_users(self):
        media = any(block.image is not None or block.video is not None for block in self.content)
        if media and self.role.lower() == "assistant":
            raise ValueError("media in an assistant message")
        return self


class SystemBlock(BaseModel):
    text: str

    @field_validator("text")
    @classmethod
    def _text(cls, text):
        if text:
            reserved_words(text)
        return text


class Sample(BaseModel):
    schemaVersion: Optional[str] = None
    system: Optional[list[SystemBlock]] = None
    messages: list[Message]

    @field_validator("messages")
    @classmethod
    def _order(cls, messages):
        if len(messages) < 2:
            raise ValueError("a user and an assistant message are needed")
        for index, message in enumerate(messages):
            if message.role != ("user" if index % 2 == 0 else "assistant"):
                raise ValueError("roles must alternate from user")
        if messages[-1].role != "assistant":
            raise ValueError("the last message is the assistant's")
        return messages


start = time.perf_counter()
with open(sys.argv[1]) as handle:  # the whole file is loaded first, as the script does
    records = [json.loads(line) for line in handle]
errors = []
context = {"model": sys.argv[2]}
for number, record in enumerate(records, start=1):
    try:
        Sample.model_validate(record, context=context)
    except ValidationError as error:
        errors.append((number, str(error)))
if not 8 <= len(records) <= 20000:
    errors.append((None, "record count"))
elapsed = time.perf_counter() - start
print(f"{len(records)} {elapsed:.3f} {'valid' if not errors else 'invalid:' + str(len(errors))}")
"""

WORDS = [
    *("amazon", "bedrock", "model", "fine", "tuning", "dataset", "record", "answer", "question", "token"),
    *("throughput", "provisioned", "custom", "validation", "training", "epoch", "batch", "learning", "rate"),
    *("nova", "lite", "image", "video", "bucket", "region", "account", "service", "deployment"),
]
SYSTEM = "You are the operations assistant for the Bedrock fine-tuning pipeline. Answer concisely and accurately."


def _sentence(rng: random.Random, low: int, high: int, end: str) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high))) + end


def _s3(uri: str) -> dict[str, Any]:
    return {"s3Location": {"uri": uri, "bucketOwner": "123456789012"}}


def nova_record(rng: random.Random, index: int, media: str) -> dict[str, Any]:
    """One record; one in ten carries ``media`` ("image" or "video") in its first user turn, from S3."""
    user: list[dict[str, Any]] = [{"text": _sentence(rng, 8, 40, "?")}]
    if index % 10 == 0:
        if media == "image":
            formats = rng.choices(("png", "jpeg", "gif", "webp"), k=rng.randint(1, 3))
            blocks = [
                {"image": {"format": kind, "source": _s3(f"s3://bench-data/media/{index}-{number}.{kind}")}}
                for number, kind in enumerate(formats)
            ]
        else:
            kind = rng.choice(("mp4", "mov"))
            blocks = [{"video": {"format": kind, "source": _s3(f"s3://bench-data/media/{index}.{kind}")}}]
        user = blocks + user
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": user},
        {"role": "assistant", "content": [{"text": _sentence(rng, 40, 300, ".")}]},
    ]
    if index % 4 == 1:  # a follow-up question
        messages += [
            {"role": "user", "content": [{"text": _sentence(rng, 5, 20, "?")}]},
            {"role": "assistant", "content": [{"text": _sentence(rng, 20, 120, ".")}]},
        ]
    return {"schemaVersion": "bedrock-conversation-2024", "system": [{"text": SYSTEM}], "messages": messages}


def write_dataset(path: Path, media: str, records: int = RECORDS, seed: int = 13) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(records):
            handle.write(json.dumps(nova_record(rng, index, media)) + "\n")


def run_child(code: str, path: Path) -> tuple[int, float, str, float]:
    """Run ``code`` in a fresh interpreter: records, validation seconds (as the child measured them), verdict, and
    the whole process's wall seconds."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(path), MODEL_ID], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, _ = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed with exit status {os.waitstatus_to_exitcode(status)}")
    records, seconds, verdict = output.split(maxsplit=2)
    return int(records), float(seconds), verdict.strip(), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per validator and file (default 7)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    validators = (("ours", OURS), ("AWS-approach baseline", AWS_APPROACH_BASELINE))
    worst = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        print(f"median of {args.repeat} runs each, interleaved, each in a fresh process")
        print(
            f"{'file':<24}{'MB':>6}{'validator':>23}{'records':>9}{'validation s':>14}{'ours/base':>10}"
            f"{'process s':>11}{'ours/base':>10}   verdict"
        )
        for media in ("image", "video"):
            path = Path(scratch) / f"nova_10k_{media}s.jsonl"
            write_dataset(path, media)
            runs: dict[str, list[tuple[int, float, str, float]]] = {label: [] for label, _ in validators}
            for _ in range(args.repeat):
                for label, code in validators:
                    runs[label].append(run_child(code, path))
            seconds = {label: statistics.median(run[1] for run in results) for label, results in runs.items()}
            walls = {label: statistics.median(run[3] for run in results) for label, results in runs.items()}
            for label, results in runs.items():
                records, _, verdict, _ = results[0]
                print(
                    f"{path.name:<24}{path.stat().st_size / 1e6:>6.1f}{label:>23}{records:>9,}{seconds[label]:>14.3f}"
                    f"{seconds[label] / seconds['AWS-approach baseline']:>9.2f}x{walls[label]:>11.3f}"
                    f"{walls[label] / walls['AWS-approach baseline']:>9.2f}x   {verdict}"
                )
            worst = max(worst, walls["ours"] / walls["AWS-approach baseline"])
    verdict = "met" if worst <= TARGET_RATIO else "NOT met"
    print(
        f"whole-process time, ours / AWS-approach baseline: {worst:.2f}x (the worse file); "
        f"target <= {TARGET_RATIO}x: {verdict}"
    )


if __name__ == "__main__":
    main()
