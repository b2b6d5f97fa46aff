"""How fast evaluation is, since it runs while a Provisioned Throughput bills.

1. BERTScore pairs per second on CPU with the offline model (median of several runs, after a warm-up).
2. Generation wall time for N test questions (each asked of both models) at concurrency 1 and at the default,
   against a fake Converse client that sleeps for a simulated model latency.

    .venv/bin/python -m benchmarks.eval_throughput              # 100 questions, 1 s latency, 64 pairs x 5 runs
    .venv/bin/python -m benchmarks.eval_throughput --questions 20 --latency 0.2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from lambdas.dataset.formats import Turn
from lambdas.evaluation.bertscore import load_scorer, score_pairs
from lambdas.evaluation.generation import Question, generate_answers
from lambdas.evaluation.results import GeneratedAnswer, InferenceParameters, ModelRole
from lambdas.settings import EvaluationSettings

SENTENCE = (
    "the pipeline validates every record before any job starts and deletes provisioned throughput after evaluation "
    "so that nobody pays for capacity they forgot while the report explains scores costs and failures"
)
WORDS = tuple(SENTENCE.split(" "))


def sentence(seed: int, length: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(length))


class SleepingConverse:
    """A Converse stand-in with a fixed latency (threads sleep, as they would wait on the network)."""

    def __init__(self, latency: float) -> None:
        self.latency = latency

    def converse(self, **_request: Any) -> dict[str, Any]:
        time.sleep(self.latency)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": "simulated answer"}]}},
            "usage": {"inputTokens": 20, "outputTokens": 40, "totalTokens": 60},
            "metrics": {"latencyMs": int(self.latency * 1000)},
        }


class NullStore:
    def load(self) -> list[GeneratedAnswer]:
        return []

    def save(self, answer: GeneratedAnswer) -> None:
        pass


def bench_bertscore(model: str, num_layers: int, pairs: int, runs: int) -> None:
    started = time.perf_counter()
    load_scorer(model, num_layers)
    load_seconds = time.perf_counter() - started
    candidates = [sentence(i, 40 + i % 60) for i in range(pairs)]  # 40-100 words, like short answers
    references = [sentence(i + 1, 40 + (i * 5) % 60) for i in range(pairs)]
    score_pairs(candidates[:4], references[:4], model=model, num_layers=num_layers)  # warm-up
    rates = []
    for _ in range(runs):
        started = time.perf_counter()
        score_pairs(candidates, references, model=model, num_layers=num_layers)
        rates.append(pairs / (time.perf_counter() - started))
    print(f"BERTScore model {model!r} ({num_layers} layers), CPU threads: {_torch_threads()}")
    print(f"  model load (first, in-process): {load_seconds:.2f} s")
    print(
        f"  {pairs} pairs x {runs} runs: median {statistics.median(rates):.1f} pairs/s "
        f"(min {min(rates):.1f}, max {max(rates):.1f})"
    )


def bench_generation(questions: int, latency: float, concurrencies: list[int]) -> None:
    items = [
        Question(index=i, system="Answer briefly.", turns=(Turn(role="user", text=f"question {i}"),), reference="x")
        for i in range(questions)
    ]
    models = {ModelRole.BASE: "base-model", ModelRole.FINE_TUNED: "arn:aws:bedrock:::provisioned-model/x"}
    inference = InferenceParameters(max_tokens=256, temperature=0.0, top_p=0.9)
    print(f"Generation: {questions} questions x 2 models = {2 * questions} Converse calls, {latency:g} s each")
    baseline = None
    for concurrency in concurrencies:
        started = time.perf_counter()
        outcome = generate_answers(
            items,
            models,
            bedrock_runtime=SleepingConverse(latency),
            store=NullStore(),
            inference=inference,
            concurrency=concurrency,
        )
        elapsed = time.perf_counter() - started
        baseline = baseline or elapsed
        print(
            f"  concurrency {concurrency:>2}: {elapsed:7.1f} s wall, {outcome.generated} answers, "
            f"{baseline / elapsed:4.1f}x faster than concurrency {concurrencies[0]}"
        )


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def main() -> None:
    defaults = EvaluationSettings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--model", default=defaults.bertscore_model)
    parser.add_argument("--num-layers", type=int, default=defaults.bertscore_num_layers)
    parser.add_argument("--skip-generation", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the benchmark must never download a model
    bench_bertscore(args.model, args.num_layers, args.pairs, args.runs)
    if not args.skip_generation:
        concurrencies = sorted({1, defaults.concurrency, 16})
        bench_generation(args.questions, args.latency, concurrencies)


if __name__ == "__main__":
    main()
