"""Evaluation at any size: the synthesized workflow, run locally on an N-question evaluation set.

    .venv/bin/python -m benchmarks.evaluation_scale --questions 1000 [--latency 0.05]

What runs is the deployed definition on the local harness (moto's Step Functions engine, the real handlers, the
Bedrock emulator): PlanEvaluation splits the N questions into shards, GenerateAnswers (a Map, at most
``max_concurrent_shards`` shards at once, ``concurrency`` calls in flight per shard) asks both models, the capacity
is deleted, then ScoreAnswers (a Map) runs BERTScore for real and the emulated judges (pointwise and pairwise, both
orders) and SummarizeEvaluation computes the statistics and the verdict. Every emulated Converse call (answers and
judge verdicts) takes ``--latency`` real seconds. The questions are a fixed evaluation set under ``eval/`` (so N is
not bounded by a dataset's test split) with a small training set beside it.

Figures are EMULATED model calls on this machine; BERTScore is real. ``capacity_seconds`` is how long the capacity
existed: its simulated creation wait (the clock the harness compresses) plus the real seconds from the first question
to the end of the delete, i.e. the generation at the simulated latency. The last line is the summary.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

TOPICS = ("billing", "storage", "network", "identity", "logging", "backup", "scaling", "pricing", "quota", "region")


def _training_records(count: int) -> list[dict[str, Any]]:
    records = []
    for i in range(count):
        topic = TOPICS[i % len(TOPICS)]
        records.append(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "You answer questions about the Example Cloud."}],
                "messages": [
                    {"role": "user", "content": [{"text": f"Which team owns {topic} runbook chapter {i}?"}]},
                    {"role": "assistant", "content": [{"text": f"The {topic} team owns chapter {i} of its runbook."}]},
                ],
            }
        )
    return records


def _evaluation_set(count: int) -> list[dict[str, str]]:
    return [
        {
            "question": f"What is the {TOPICS[i % len(TOPICS)]} limit number {i} for account tier {i % 7}?",
            "answer": f"Limit {i} of the {TOPICS[i % len(TOPICS)]} service is {i * 3} units on tier {i % 7}.",
        }
        for i in range(count)
    ]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=int, default=1000, help="size of the evaluation set (1..5000)")
    parser.add_argument("--latency", type=float, default=0.05, help="real seconds per emulated Converse call")
    parser.add_argument("--shard-size", type=int, default=25)
    parser.add_argument("--max-concurrent-shards", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4, help="calls in flight per shard")
    args = parser.parse_args()
    if not 1 <= args.questions <= 5000:
        parser.error("--questions must be between 1 and 5000 (evaluation.max_test_records)")

    from tuner.local.harness import LocalRun, RunRequest

    with tempfile.TemporaryDirectory(prefix="evaluation-scale-") as folder:
        root = Path(folder)
        dataset = root / "scale_train.jsonl"
        dataset.write_text("\n".join(json.dumps(r) for r in _training_records(120)) + "\n")
        eval_file = root / "scale_eval.jsonl"
        eval_file.write_text("\n".join(json.dumps(r) for r in _evaluation_set(args.questions)) + "\n")
        request = RunRequest(
            dataset=dataset,
            out_dir=root / "out",
            bucket_files={"eval/scale.jsonl": eval_file},
            converse_latency_seconds=args.latency,
            execution_limit_seconds=3 * 3600,  # 5,000 questions take many minutes of real BERTScore on 2 cores
            settings_overrides={
                "base_model_id": "amazon.nova-lite-v1:0:300k",
                "evaluation": {
                    "test_set": "eval/scale.jsonl",
                    "max_test_records": args.questions,
                    "shard_size": args.shard_size,
                    "max_concurrent_shards": args.max_concurrent_shards,
                    "concurrency": args.concurrency,
                },
            },
        )
        started = time.monotonic()
        result = LocalRun(request).run()
        wall = time.monotonic() - started
        execution = json.loads((result.out_dir / "execution.json").read_text())
        evaluation_path = result.out_dir / "report.json"
        report = json.loads(evaluation_path.read_text()) if evaluation_path.is_file() else {}

    items = (report.get("evaluation") or {}).get("items") or []
    answered = sum(
        1 for item in items if item["base"]["answer"] is not None and item["fine_tuned"]["answer"] is not None
    )
    verdict = report.get("verdict") or {}
    primary = next((m for m in verdict.get("metrics", []) if m["name"] == verdict.get("primary_metric")), None)
    scored = primary["n"] if primary else 0

    marks: dict[str, datetime] = {}
    for event in execution["events"]:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        key = f"{event['type']}:{details.get('name')}"
        marks.setdefault(key, _parse_time(event["timestamp"]))
    generation_real = (
        marks["TaskStateExited:DeleteInferenceCapacity"] - marks["MapStateEntered:GenerateAnswers"]
    ).total_seconds()
    scoring_real = (
        marks["TaskStateExited:SummarizeEvaluation"] - marks["MapStateEntered:ScoreAnswers"]
    ).total_seconds()
    capacity = next(
        r for r in result.ledger["resources"] if r["type"] in ("custom-model-deployment", "provisioned-throughput")
    )
    creation_simulated = (_parse_time(capacity["deleted_at"]) - _parse_time(capacity["created_at"])).total_seconds()
    capacity_seconds = creation_simulated + generation_real

    print(f"execution {result.execution_status}, report {result.report_status}; EMULATED models, real BERTScore")
    print(
        f"questions {args.questions}, shards of {args.shard_size}, {args.max_concurrent_shards} shards at once, "
        f"{args.concurrency} calls per shard, {args.latency:g} s per emulated call"
    )
    print(
        f"generation (capacity billing) {generation_real:.1f} s real; "
        f"scoring after the delete {scoring_real:.1f} s real"
    )
    print(f"capacity creation wait {creation_simulated:.0f} s simulated")
    print(f"verdict: {verdict.get('outcome')}: {verdict.get('reason')}")
    print(
        f"answered {answered}/{args.questions}, scored {scored}/{args.questions}, "
        f"capacity_seconds {capacity_seconds:.0f}, wall_seconds {wall:.0f}"
    )


if __name__ == "__main__":
    main()
