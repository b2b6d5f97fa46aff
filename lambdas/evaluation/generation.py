"""Ask the base and the fine-tuned model every test question through the Bedrock Converse API.

Evaluation runs while a Provisioned Throughput bills by the hour, so it is built to be quick and to never do work
twice: questions go out concurrently (a bounded thread pool), every answer is saved to S3 the moment it exists, and a
re-run of the step (the state machine retries it, or a person re-drives the execution) reuses every saved answer.

Two layers of retry: the boto3 client's adaptive mode absorbs short throttling bursts; this module adds a longer
exponential backoff with full jitter for throttling, ``ModelNotReadyException`` (a fresh custom model warming up)
and 5xx answers. When those retries are exhausted for some questions, the others still finish and are saved, and
the step raises ``TransientServiceError`` so the state machine retries it and only the missing answers are asked.
A question the service refuses outright (a ``ValidationException``, say) is recorded as an unanswered item.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from lambdas.clock import utc_now
from lambdas.dataset.formats import EvaluationItem, Turn
from lambdas.errors import TransientServiceError
from lambdas.evaluation.results import GeneratedAnswer, InferenceParameters, ModelRole, question_fingerprint

RETRYABLE_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "ModelNotReadyException",
        "InternalServerException",
        "ModelTimeoutException",
    }
)


@dataclass(frozen=True)
class Question:
    """One test item as it is put to both models."""

    index: int
    system: str | None
    turns: tuple[Turn, ...]
    reference: str

    @classmethod
    def from_item(cls, index: int, item: EvaluationItem) -> Question:
        return cls(index=index, system=item.system, turns=tuple(item.prompt_turns), reference=item.reference)

    @property
    def text(self) -> str:
        """The question as a person reads it: the user's message, or the whole exchange when there are several."""
        if len(self.turns) == 1:
            return self.turns[0].text
        return "\n\n".join(f"{turn.role.capitalize()}: {turn.text}" for turn in self.turns)

    @property
    def fingerprint(self) -> str:
        return question_fingerprint(self.text, self.system)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: a uniform wait up to the exponential cap, so parallel callers do not retry in lockstep."""
        cap = min(self.max_delay_seconds, self.base_delay_seconds * 2 ** (attempt - 1))
        return rng.uniform(0, cap)


class AnswerStore(Protocol):
    def load(self) -> list[GeneratedAnswer]: ...

    def save(self, answer: GeneratedAnswer) -> None: ...


class S3AnswerStore:
    """One small JSON object per answer under the run's ``answers/`` prefix: nothing finished is ever lost."""

    def __init__(self, s3: Any, bucket: str, prefix: str, *, indices: Iterable[int] | None = None) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self._indices = sorted(set(indices)) if indices is not None else None  # one shard's questions only

    def key(self, role: ModelRole, index: int) -> str:
        return f"{self._prefix}{role.value}/{index:05d}.json"

    def load(self) -> list[GeneratedAnswer]:
        if self._indices is not None:
            return self._load_keys(self.key(role, index) for role in ModelRole for index in self._indices)
        answers: list[GeneratedAnswer] = []
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
            for entry in page.get("Contents", []):
                body = self._s3.get_object(Bucket=self._bucket, Key=entry["Key"])["Body"].read()
                try:
                    answers.append(GeneratedAnswer.model_validate_json(body))
                except ValueError:
                    continue  # an object we do not recognise is simply asked again
        return answers

    def _load_keys(self, keys: Iterable[str]) -> list[GeneratedAnswer]:
        answers: list[GeneratedAnswer] = []
        for key in keys:
            try:
                body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            except self._s3.exceptions.NoSuchKey:
                continue
            try:
                answers.append(GeneratedAnswer.model_validate_json(body))
            except ValueError:
                continue  # an object we do not recognise is simply asked again
        return answers

    def save(self, answer: GeneratedAnswer) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.key(answer.role, answer.index),
            Body=answer.model_dump_json().encode(),
            ContentType="application/json",
        )


@dataclass
class GenerationOutcome:
    answers: dict[tuple[ModelRole, int], GeneratedAnswer]
    reused: int = 0
    generated: int = 0
    deferred: list[str] = field(default_factory=list)  # why some answers are still missing (transient)


class _Deferred(Exception):
    """Retries exhausted on a transient error, or time ran out: the question is asked again on the next run."""


def converse_request(model_id: str, question: Question, inference: InferenceParameters) -> dict[str, Any]:
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": [{"role": turn.role, "content": [{"text": turn.text}]} for turn in question.turns],
        "inferenceConfig": {
            "maxTokens": inference.max_tokens,
            "temperature": inference.temperature,
            "topP": inference.top_p,
        },
    }
    if question.system:
        request["system"] = [{"text": question.system}]
    return request


def generate_answers(
    questions: Iterable[Question],
    models: Mapping[ModelRole, str],
    *,
    bedrock_runtime: Any,
    store: AnswerStore,
    inference: InferenceParameters,
    concurrency: int,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    out_of_time: Callable[[], bool] = lambda: False,
) -> GenerationOutcome:
    """Answers for every (model, question) pair; raises ``TransientServiceError`` when some are still missing.

    ``models`` maps each role to the modelId Converse is called with (a base model id; a provisioned-throughput or
    deployment ARN for the fine-tuned model). ``out_of_time`` lets the caller stop asking new questions before the
    Lambda's time limit; what is finished is saved either way.
    """
    questions = list(questions)
    retry = retry or RetryPolicy()
    rng = rng or random.Random()
    rng_lock = threading.Lock()

    saved = {(answer.role, answer.index): answer for answer in store.load()}
    outcome = GenerationOutcome(answers={})
    pending: list[tuple[ModelRole, Question]] = []
    for question in questions:
        for role in models:
            previous = saved.get((role, question.index))
            if previous is not None and previous.fingerprint == question.fingerprint:
                outcome.answers[(role, question.index)] = previous
                outcome.reused += 1
            else:
                pending.append((role, question))

    def backoff(attempt: int) -> float:
        with rng_lock:
            return retry.delay(attempt, rng)

    def ask(role: ModelRole, question: Question) -> GeneratedAnswer:
        if out_of_time():
            raise _Deferred("stopped before the time limit")
        model_id = models[role]
        request = converse_request(model_id, question, inference)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = bedrock_runtime.converse(**request)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "ClientError")
                message = error.response.get("Error", {}).get("Message", "")
                if code not in RETRYABLE_ERROR_CODES:
                    return _answer(question, role, model_id, attempt, error=f"{code}: {message}".strip())
                last = f"{code}: {message}".strip()
            except (ConnectionError, ReadTimeoutError) as error:
                last = f"{type(error).__name__}: {error}"
            else:
                return _answer(question, role, model_id, attempt, response=response)
            if attempt >= retry.max_attempts or out_of_time():
                raise _Deferred(f"{role.label} #{question.index}: {last} (after {attempt} attempts)")
            sleep(backoff(attempt))

    def run(task: tuple[ModelRole, Question]) -> tuple[ModelRole, int, GeneratedAnswer | str]:
        role, question = task
        try:
            answer = ask(role, question)
        except _Deferred as deferred:
            return role, question.index, str(deferred)
        store.save(answer)  # saved as soon as produced: a later failure never loses it
        return role, question.index, answer

    if pending:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(pending))) as pool:
            for role, index, result in pool.map(run, pending):
                if isinstance(result, GeneratedAnswer):
                    outcome.answers[(role, index)] = result
                    outcome.generated += 1
                else:
                    outcome.deferred.append(result)

    if outcome.deferred:
        done = len(outcome.answers)
        raise TransientServiceError(
            f"{len(outcome.deferred)} of {done + len(outcome.deferred)} answers are still missing "
            f"(first: {outcome.deferred[0]}); the {done} finished answers are saved and a retry reuses them"
        )
    return outcome


def _answer(
    question: Question,
    role: ModelRole,
    model_id: str,
    attempts: int,
    *,
    response: Mapping[str, Any] | None = None,
    error: str | None = None,
) -> GeneratedAnswer:
    text: str | None = None
    usage: Mapping[str, Any] = {}
    latency: int | None = None
    if response is not None:
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block["text"] for block in content if isinstance(block, dict) and "text" in block)
        usage = response.get("usage", {})
        latency = response.get("metrics", {}).get("latencyMs")
    return GeneratedAnswer(
        index=question.index,
        role=role,
        model_id=model_id,
        fingerprint=question.fingerprint,
        text=text,
        error=error,
        attempts=attempts,
        latency_ms=latency,
        input_tokens=usage.get("inputTokens"),
        output_tokens=usage.get("outputTokens"),
        generated_at=utc_now(),
    )
