"""Validator throughput and peak memory, each run in a fresh process.

Generates (in a temporary directory) a 10,000-record Claude 3 Haiku file and a ~250 MB file, then validates each
with this project's streaming validator and two baselines written here for comparison (neither is AWS's code):

- AWS-style baseline: what AWS's sample Claude 3 Haiku ``data_validation.py`` does per line, rewritten: text-mode
  line iteration, ``json.loads``, one pydantic model per record (roles, at least 2 messages, order), characters // 3
  tokens, record count. (Like the original it raises on a line without "messages".)
- naive baseline: the same checks in plain Python with no pydantic (plus reserved strings): a lower bound for any
  validator that parses every line with ``json.loads``.

Each validator runs ``--repeat`` times per file, interleaved with the others so that load on a shared machine
falls on all of them alike; the table shows the median time and the largest peak, and the last column compares
this project's median with the AWS-style baseline's measured in the same run, for the validation alone and for the
whole process (interpreter start and imports included).
Peak memory is the child process's ``ru_maxrss`` (from ``os.wait4``, so each figure is that child's alone).
Run: ``.venv/bin/python benchmarks/validate_throughput.py [--big-mb 250] [--repeat 5]``.
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

REPO = Path(__file__).resolve().parent.parent
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0:200k"

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

NAIVE_BASELINE = """
import json, sys, time
RESERVED = ("\\nHuman:", "\\nAssistant:")
start = time.perf_counter()
errors = []
records = 0
with open(sys.argv[1], encoding="utf-8") as handle:
    for number, line in enumerate(handle, start=1):
        records += 1
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append((number, "invalid json"))
            continue
        if set(data) - {"system", "messages"}:
            errors.append((number, "extra keys"))
        messages = data.get("messages", [])
        text = data.get("system", "")
        if any(r in text for r in RESERVED):
            errors.append((number, "reserved"))
        previous = None
        for message in messages:
            if message.get("role") not in ("user", "assistant") or message.get("role") == previous:
                errors.append((number, "roles"))
            previous = message.get("role")
            content = message.get("content", "")
            if any(r in content for r in RESERVED):
                errors.append((number, "reserved"))
            text += content
        if not messages or messages[0].get("role") != "user" or messages[-1].get("role") != "assistant":
            errors.append((number, "first/last role"))
        if len(text) // 3 > 32000:
            errors.append((number, "too many tokens"))
if not 32 <= records <= 10000:
    errors.append((None, "record count"))
elapsed = time.perf_counter() - start
print(f"{records} {elapsed:.3f} {'valid' if not errors else 'invalid:' + str(len(errors))}")
"""

AWS_STYLE_BASELINE = """
import json, sys, time
from typing import Literal
from pydantic import BaseModel, Field, ValidationError, model_validator

class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str

class Entry(BaseModel):
    system: str | None = None
    messages: list[Turn] = Field(min_length=2)

    @model_validator(mode="after")
    def _order(self):
        roles = [turn.role for turn in self.messages]
        if roles[0] != "user" or roles[-1] != "assistant":
            raise ValueError("must start with user and end with assistant")
        if any(a == b for a, b in zip(roles, roles[1:])):
            raise ValueError("roles must alternate")
        return self

start = time.perf_counter()
errors = []
records = 0
with open(sys.argv[1], encoding="utf-8") as handle:
    for number, line in enumerate(handle, start=1):
        records += 1
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            errors.append(number)
            continue
        try:
            Entry(**data)
        except ValidationError:
            errors.append(number)
        tokens = len(data.get("system", "")) // 3 + sum(len(m["content"]) // 3 for m in data["messages"])
        if tokens > 32000:
            errors.append(number)
if not 32 <= records <= 10000:
    errors.append(None)
elapsed = time.perf_counter() - start
print(f"{records} {elapsed:.3f} {'valid' if not errors else 'invalid:' + str(len(errors))}")
"""

WORDS = [
    *[
        "amazon",
        "bedrock",
        "model",
        "fine",
        "tuning",
        "dataset",
        "record",
        "answer",
        "question",
        "token",
        "throughput",
        "provisioned",
        "custom",
    ],
    *[
        "validation",
        "training",
        "epoch",
        "batch",
        "learning",
        "rate",
        "haiku",
        "nova",
        "llama",
        "titan",
        "service",
        "account",
        "region",
        "bucket",
    ],
]


def write_dataset(path: Path, *, records: int | None = None, target_bytes: int | None = None, seed: int = 7) -> int:
    rng = random.Random(seed)
    written = 0
    with path.open("w", encoding="utf-8") as handle:
        while (records is not None and written < records) or (
            target_bytes is not None and handle.tell() < target_bytes
        ):
            question = " ".join(rng.choices(WORDS, k=rng.randint(8, 40))) + "?"
            answer = " ".join(rng.choices(WORDS, k=rng.randint(40, 300))) + "."
            if rng.random() < 0.5:  # real answers have paragraphs and quotes: JSON escapes, as in real files
                middle = len(answer) // 2
                answer = f'{answer[:middle]}.\n\nThe "{rng.choice(WORDS)}" step{answer[middle:]}'
            record = {
                "system": "You are a concise, accurate assistant.",
                "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
            }
            handle.write(json.dumps(record) + "\n")
            written += 1
    return written


def run_child(code: str, path: Path) -> tuple[int, float, str, float, float]:
    """Run ``code`` in a fresh interpreter.

    Returns records, validation seconds (as the child measured them), verdict, peak MB and the whole process's wall
    seconds (interpreter start and imports included).
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(path), MODEL_ID], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child failed with exit code {process.returncode}")
    records, seconds, verdict = output.split(maxsplit=2)
    return int(records), float(seconds), verdict.strip(), usage.ru_maxrss / 1024, wall  # ru_maxrss is KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mb", type=int, default=250, help="size of the large file in MB (default 250)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per validator and file (default 5)")
    args = parser.parse_args()
    if args.repeat < 1 or args.big_mb < 1:
        parser.error("--repeat and --big-mb must be at least 1")
    validators = (
        ("ours (streaming)", OURS),
        ("AWS-style baseline", AWS_STYLE_BASELINE),
        ("naive baseline", NAIVE_BASELINE),
    )
    with tempfile.TemporaryDirectory() as scratch:
        small = Path(scratch) / "haiku_10k.jsonl"
        big = Path(scratch) / f"haiku_{args.big_mb}mb.jsonl"
        write_dataset(small, records=10_000)
        write_dataset(big, target_bytes=args.big_mb * 1_000_000)
        print(f"median of {args.repeat} runs each, interleaved; peak = largest of the runs")
        header = f"{'file':<22}{'MB':>8}{'validator':>21}{'records':>10}{'seconds':>9}{'records/s':>11}{'MB/s':>7}"
        print(f"{header}{'peak MB':>9}{'vs AWS-style':>14}{'process s':>11}{'vs AWS-style':>14}")
        for path in (small, big):
            size_mb = path.stat().st_size / 1_000_000
            runs: dict[str, list[tuple[int, float, str, float, float]]] = {label: [] for label, _ in validators}
            for _ in range(args.repeat):
                for label, code in validators:
                    runs[label].append(run_child(code, path))
            medians = {label: statistics.median(run[1] for run in results) for label, results in runs.items()}
            walls = {label: statistics.median(run[4] for run in results) for label, results in runs.items()}
            for label, results in runs.items():
                records, _, verdict, _, _ = results[0]
                seconds = medians[label]
                peak = max(run[3] for run in results)
                speed = medians["AWS-style baseline"] / seconds
                wall_speed = walls["AWS-style baseline"] / walls[label]
                print(
                    f"{path.name:<22}{size_mb:>8.1f}{label:>21}{records:>10,}{seconds:>9.3f}"
                    f"{records / seconds:>11,.0f}{size_mb / seconds:>7.1f}{peak:>9.1f}{speed:>13.2f}x"
                    f"{walls[label]:>11.3f}{wall_speed:>13.2f}x   {verdict}"
                )


if __name__ == "__main__":
    main()
