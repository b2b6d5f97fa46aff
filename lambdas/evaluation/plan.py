"""The PlanEvaluation step: which questions the evaluation asks, in which shards, before anything is billed.

It runs right after the dataset is accepted and before the customization job starts, so every problem it can find
costs nothing: a fixed evaluation set that is missing or unreadable, a test split with no readable question, a judge
that cannot be invoked from this region or has reached its end of life. It resolves the base model's invocation id
for this region (its plain id, or the inference profile where the plain id is not served on demand). It

1. reads the questions: the run's own test split, or the fixed evaluation set ``evaluation.test_set`` (an object
   under ``eval/`` in the data bucket, in the base model's format or as raw question/answer lines) whose SHA-256 the
   report names, so that runs on different datasets are compared on the very same questions;
2. leaves out every test question that also appears in the training or validation data, exactly or nearly
   (``lambdas.evaluation.leakage``): a model that saw the answer in training would inflate the verdict;
3. keeps the first ``max_test_records`` of the rest and writes them to ``runs/<id>/evaluation/questions.jsonl``,
   which every shard of GenerateAnswers and ScoreAnswers reads (only shard numbers travel in the state).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from lambdas.clock import utc_now
from lambdas.contracts import PlanEvaluationOutput, RunState
from lambdas.dataset.formats import FormatError, Turn, evaluation_item, parse_json
from lambdas.dataset.prepare import qa_to_record
from lambdas.errors import ConfigurationError, EvaluationFailedError
from lambdas.evaluation.generation import Question
from lambdas.evaluation.leakage import LeakageIndex, questions_of_jsonl
from lambdas.evaluation.results import LeakedQuestion
from lambdas.registry import JudgeNotInvocableError, ModelNotInRegionError, ModelSpec, resolve_judge_invocation_id
from lambdas.settings import QaKeys


def question_to_json(question: Question) -> str:
    return json.dumps(
        {
            "index": question.index,
            "system": question.system,
            "turns": [{"role": turn.role, "text": turn.text} for turn in question.turns],
            "reference": question.reference,
        },
        ensure_ascii=False,
    )


def question_from_json(line: str) -> Question:
    document = json.loads(line)
    turns = tuple(Turn(role=turn["role"], text=turn["text"]) for turn in document["turns"])
    return Question(index=document["index"], system=document["system"], turns=turns, reference=document["reference"])


def load_questions(s3: Any, bucket: str, key: str, *, start: int = 0, end: int | None = None) -> list[Question]:
    """Questions ``start`` (inclusive) to ``end`` (exclusive) of the plan's question file."""
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    lines = [line for line in body.splitlines() if line.strip()]
    return [question_from_json(line) for line in lines[start:end]]


def shard_bounds(shard: int, shard_size: int) -> tuple[int, int]:
    return shard * shard_size, (shard + 1) * shard_size


def _lines(body: Any) -> Iterator[str]:
    for raw in body.iter_lines():
        yield raw.decode("utf-8", errors="replace")


def read_test_items(
    lines: Iterable[str], spec: ModelSpec, qa_keys: QaKeys, system_prompt: str | None
) -> Iterator[tuple[str | None, list[Turn], str]]:
    """(system, prompt turns, reference) of each readable record: the model's format, or a raw question/answer line."""
    for line in lines:
        if not line.strip():
            continue
        try:
            record = parse_json(line)
            if isinstance(record, dict) and qa_keys.question in record and qa_keys.answer in record:
                converted = qa_to_record(record, qa_keys, system_prompt, spec)
                if not isinstance(converted, dict):
                    continue
                record = converted
            item = evaluation_item(record, spec)
        except (ValueError, FormatError, TypeError):
            continue
        yield item.system, list(item.prompt_turns), item.reference


def plan_evaluation(state: RunState, *, bucket: str, s3: Any, region: str | None) -> PlanEvaluationOutput:
    run = state.run
    settings = run.settings
    evaluation = settings.evaluation
    spec = settings.model
    dataset = state.validate_dataset
    if dataset is None or not dataset.valid:
        raise ConfigurationError("the run has no accepted dataset to plan an evaluation for")

    try:
        base_invocation_id = spec.base_invocation_id(region)
    except ModelNotInRegionError as error:
        raise ConfigurationError(f"base_model_id: {error}") from None
    judge_invocation_id: str | None = None
    if evaluation.judge_enabled:
        try:
            judge_invocation_id = resolve_judge_invocation_id(evaluation.judge_model_id, region, today=utc_now().date())
        except JudgeNotInvocableError as error:
            raise ConfigurationError(f"evaluation.judge_model_id: {error}") from None

    sha256: str | None = None
    if evaluation.test_set is not None:
        source, source_key = "test_set", evaluation.test_set
        try:
            body = s3.get_object(Bucket=bucket, Key=source_key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            raise ConfigurationError(
                f"evaluation.test_set: s3://{bucket}/{source_key} does not exist; upload the evaluation set there "
                "(JSONL in the base model's format, or question/answer lines) or unset evaluation.test_set"
            ) from None
        sha256 = hashlib.sha256(body).hexdigest()
        test_lines: Iterable[str] = body.decode("utf-8", errors="replace").splitlines()
    else:
        if not dataset.test_key:
            raise EvaluationFailedError(
                "the dataset left no test split to evaluate on (set split.test_fraction, or evaluation.test_set)"
            )
        source, source_key = "test_split", dataset.test_key
        test_lines = _lines(s3.get_object(Bucket=bucket, Key=source_key)["Body"])

    index = LeakageIndex(_training_questions(s3, bucket, state, spec))
    questions: list[Question] = []
    leaked: list[LeakedQuestion] = []
    considered = 0
    for system, turns, reference in read_test_items(test_lines, spec, settings.qa_keys, settings.system_prompt):
        if len(questions) >= evaluation.max_test_records:
            break
        considered += 1
        candidate = Question(index=len(questions), system=system, turns=tuple(turns), reference=reference)
        match = index.find(candidate.text, index=considered - 1)
        if match is not None:
            leaked.append(match)
            continue
        questions.append(candidate)
    if not questions:
        raise EvaluationFailedError(
            f"{source_key} has no readable test question to evaluate"
            + (f" that is not also in the training data ({len(leaked)} leaked)" if leaked else "")
        )

    paths = run.paths
    s3.put_object(
        Bucket=bucket,
        Key=paths.evaluation_questions,
        Body=("\n".join(question_to_json(question) for question in questions) + "\n").encode(),
        ContentType="application/x-ndjson",
    )
    s3.put_object(
        Bucket=bucket,
        Key=paths.leaked_questions,
        Body=json.dumps([item.model_dump(mode="json") for item in leaked], indent=2).encode(),
        ContentType="application/json",
    )
    shards = math.ceil(len(questions) / evaluation.shard_size)
    return PlanEvaluationOutput(
        questions_key=paths.evaluation_questions,
        questions=len(questions),
        shard_size=evaluation.shard_size,
        shards=list(range(shards)),
        source=source,
        source_key=source_key,
        source_sha256=sha256,
        considered=considered,
        leaked=len(leaked),
        base_invocation_id=base_invocation_id,
        judge_invocation_id=judge_invocation_id,
    )


def _training_questions(s3: Any, bucket: str, state: RunState, spec: ModelSpec) -> Iterator[tuple[str, str]]:
    dataset = state.validate_dataset
    assert dataset is not None
    for split, key in (("train", dataset.train_key), ("validation", dataset.validation_key)):
        if not key:
            continue
        for question in questions_of_jsonl(_lines(s3.get_object(Bucket=bucket, Key=key)["Body"]), spec):
            yield split, question
