"""Test doubles for evaluation: a Converse client that answers, sleeps and fails on demand, and an answer store."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from botocore.exceptions import ClientError

from lambdas.evaluation.results import GeneratedAnswer


class FakeConverseClient:
    """Answers ``answer to <question> from <modelId>``; ``failures`` maps a question to error codes to raise first."""

    def __init__(self, *, latency_seconds: float = 0.0, failures: dict[str, list[str]] | None = None) -> None:
        self.latency_seconds = latency_seconds
        self.failures = {question: list(codes) for question, codes in (failures or {}).items()}
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def converse(self, **request: Any) -> dict[str, Any]:
        question = request["messages"][-1]["content"][0]["text"]
        with self._lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            pending = self.failures.get(question)
            code = pending.pop(0) if pending else None
        try:
            if self.latency_seconds:
                time.sleep(self.latency_seconds)
            if code is not None:
                raise ClientError({"Error": {"Code": code, "Message": f"{code} for test"}}, "Converse")
            return {
                "output": {
                    "message": {
                        "role": "assistant",
                        "content": [{"text": f"answer to {question} from {request['modelId']}"}],
                    }
                },
                "stopReason": "end_turn",
                "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
                "metrics": {"latencyMs": int(self.latency_seconds * 1000)},
            }
        finally:
            with self._lock:
                self.in_flight -= 1

    def calls_for(self, model_id: str) -> int:
        return sum(1 for request in self.requests if request["modelId"] == model_id)


class MemoryAnswerStore:
    def __init__(self, answers: list[GeneratedAnswer] | None = None) -> None:
        self.saved: dict[tuple[str, int], GeneratedAnswer] = {}
        self.save_count: dict[tuple[str, int], int] = defaultdict(int)
        for answer in answers or []:
            self.saved[(answer.role.value, answer.index)] = answer

    def load(self) -> list[GeneratedAnswer]:
        return list(self.saved.values())

    def save(self, answer: GeneratedAnswer) -> None:
        self.saved[(answer.role.value, answer.index)] = answer
        self.save_count[(answer.role.value, answer.index)] += 1
