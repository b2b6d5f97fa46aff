"""Regenerate the formatted sample datasets from ``sample_qa_raw.json`` so they never drift from it.

Usage: ``python dataset/build_formats.py`` (from anywhere). Writes, beside this script:

- ``sample_qa.jsonl``: Amazon Nova (``bedrock-conversation-2024``), the default base model's training format;
- ``sample_qa_claude3_haiku.jsonl``: Claude 3 Haiku's messages format (the reference study's model, past its end of
  life: kept for validation only);
- ``sample_qa_llama3_1.jsonl``: Meta Llama 3.1's ``{"prompt", "completion"}`` format (no system prompt), the
  Provisioned-Throughput path in us-west-2.

The output is deterministic (input order, fixed key order, UTF-8, ``\\n`` line ends). The script refuses raw data that
either model would reject (empty text, duplicate questions, reserved strings), naming the pair. It is self-contained
on purpose: it runs with the standard library alone, before the project's virtual environment exists.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RAW = HERE / "sample_qa_raw.json"
NOVA_OUT = HERE / "sample_qa.jsonl"
CLAUDE_OUT = HERE / "sample_qa_claude3_haiku.jsonl"
LLAMA_OUT = HERE / "sample_qa_llama3_1.jsonl"

SYSTEM_PROMPT = (
    "You are the operations assistant for the Bedrock fine-tuning pipeline. Answer concisely and accurately."
)
NOVA_SCHEMA = "bedrock-conversation-2024"
# The same strings lambdas/registry.py lists; repeated here so this script needs nothing outside the standard library.
NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
CLAUDE_RESERVED = ("\nHuman:", "\nAssistant:")

QaPair = tuple[str, str]


class RawDataError(ValueError):
    """The raw file holds a pair that the formatted datasets must not contain."""


def load_pairs(path: Path) -> list[QaPair]:
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list):
        raise RawDataError(f"{path.name} must hold a JSON array of question/answer objects")
    pairs: list[QaPair] = []
    seen: set[str] = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or set(item) != {"question", "answer"}:
            raise RawDataError(f"pair {number}: expected exactly the keys 'question' and 'answer'")
        question, answer = item["question"], item["answer"]
        for name, text in (("question", question), ("answer", answer)):
            if not isinstance(text, str) or not text.strip():
                raise RawDataError(f"pair {number}: {name} must be a non-empty string")
            for reserved in (*NOVA_RESERVED, *CLAUDE_RESERVED):
                if reserved in text:
                    raise RawDataError(f"pair {number}: {name} contains the reserved string {reserved!r}")
        if question in seen:
            raise RawDataError(f"pair {number}: duplicate question {question!r}")
        seen.add(question)
        pairs.append((question, answer))
    if SYSTEM_PROMPT.strip() == "" or any(r in SYSTEM_PROMPT for r in (*NOVA_RESERVED, *CLAUDE_RESERVED)):
        raise RawDataError("the system prompt is empty or holds a reserved string")
    return pairs


def nova_record(question: str, answer: str) -> dict[str, Any]:
    return {
        "schemaVersion": NOVA_SCHEMA,
        "system": [{"text": SYSTEM_PROMPT}],
        "messages": [
            {"role": "user", "content": [{"text": question}]},
            {"role": "assistant", "content": [{"text": answer}]},
        ],
    }


def claude_record(question: str, answer: str) -> dict[str, Any]:
    return {
        "system": SYSTEM_PROMPT,
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
    }


def llama_record(question: str, answer: str) -> dict[str, Any]:
    return {"prompt": question, "completion": answer}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Write to a temporary name, then rename: a reader never sees a half-written file."""
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8", newline="\n")
    partial.replace(path)


def main() -> int:
    try:
        pairs = load_pairs(RAW)
    except (OSError, json.JSONDecodeError, RawDataError) as error:
        print(f"error: {RAW.name}: {error}", file=sys.stderr)
        return 1
    write_jsonl(NOVA_OUT, [nova_record(q, a) for q, a in pairs])
    write_jsonl(CLAUDE_OUT, [claude_record(q, a) for q, a in pairs])
    write_jsonl(LLAMA_OUT, [llama_record(q, a) for q, a in pairs])
    print(f"wrote {len(pairs)} records to {NOVA_OUT.name}, {CLAUDE_OUT.name} and {LLAMA_OUT.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
