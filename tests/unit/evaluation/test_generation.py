"""Generation: bounded concurrency, retries with backoff on transient errors, answers saved at once and reused."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from lambdas.dataset.formats import Turn
from lambdas.errors import TransientServiceError
from lambdas.evaluation.generation import Question, RetryPolicy, S3AnswerStore, converse_request, generate_answers
from lambdas.evaluation.results import GeneratedAnswer, InferenceParameters, ModelRole
from tests.unit.evaluation.evaluation_fakes import FakeConverseClient, MemoryAnswerStore

BASE_ID = "amazon.nova-lite-v1:0"
TUNED_ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
MODELS = {ModelRole.BASE: BASE_ID, ModelRole.FINE_TUNED: TUNED_ARN}
INFERENCE = InferenceParameters(max_tokens=256, temperature=0.0, top_p=0.9)
NO_RETRY_WAIT = RetryPolicy(max_attempts=4, base_delay_seconds=0.0, max_delay_seconds=0.0)


def questions(count: int, system: str | None = "Answer briefly.") -> list[Question]:
    return [
        Question(index=i, system=system, turns=(Turn(role="user", text=f"q{i}"),), reference=f"r{i}")
        for i in range(count)
    ]


def test_every_question_goes_to_both_models_with_the_training_system_prompt():
    # Given two questions and a fake Converse
    client = FakeConverseClient()
    store = MemoryAnswerStore()
    # When answers are generated
    outcome = generate_answers(
        questions(2), MODELS, bedrock_runtime=client, store=store, inference=INFERENCE, concurrency=2
    )
    # Then each model answered each question, with the system prompt and inference settings of the run
    assert outcome.generated == 4
    assert outcome.answers[(ModelRole.FINE_TUNED, 1)].text == f"answer to q1 from {TUNED_ARN}"
    assert client.calls_for(BASE_ID) == 2
    assert client.calls_for(TUNED_ARN) == 2
    request = client.requests[0]
    assert request["system"] == [{"text": "Answer briefly."}]
    assert request["inferenceConfig"] == {"maxTokens": 256, "temperature": 0.0, "topP": 0.9}
    assert outcome.answers[(ModelRole.BASE, 0)].output_tokens == 5


def test_concurrency_bound_is_respected():
    # Given a slow model and a concurrency of 3
    client = FakeConverseClient(latency_seconds=0.05)
    # When 20 answers are generated
    generate_answers(
        questions(10), MODELS, bedrock_runtime=client, store=MemoryAnswerStore(), inference=INFERENCE, concurrency=3
    )
    # Then never more than 3 calls were in flight, and the pool was actually used in parallel
    assert client.max_in_flight == 3
    assert len(client.requests) == 20


def test_throttling_is_retried_with_jittered_exponential_backoff():
    # Given a question throttled twice and then not-ready once before it is answered
    client = FakeConverseClient(
        failures={"q0": ["ThrottlingException", "ThrottlingException", "ModelNotReadyException"]}
    )
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=5, base_delay_seconds=1.0, max_delay_seconds=30.0)
    # When generated with one model only
    outcome = generate_answers(
        questions(1),
        {ModelRole.BASE: BASE_ID},
        bedrock_runtime=client,
        store=MemoryAnswerStore(),
        inference=INFERENCE,
        concurrency=1,
        retry=policy,
        sleep=waits.append,
        rng=random.Random(7),
    )
    # Then it took 4 attempts, waiting within 0..1, 0..2, 0..4 seconds between them
    answer = outcome.answers[(ModelRole.BASE, 0)]
    assert answer.attempts == 4
    assert answer.text == f"answer to q0 from {BASE_ID}"
    assert len(waits) == 3
    assert all(0 <= wait <= cap for wait, cap in zip(waits, [1, 2, 4], strict=True))
    assert len(set(waits)) == 3  # jittered, not a fixed schedule


def test_exhausted_retries_keep_finished_answers_and_raise_a_retryable_error():
    # Given one question that stays throttled on both models
    client = FakeConverseClient(failures={"q1": ["ThrottlingException"] * 10})
    store = MemoryAnswerStore()
    # When generated
    with pytest.raises(TransientServiceError, match=r"2 of 4 answers are still missing .*Throttling.*after 4 attempts"):
        generate_answers(
            questions(2),
            MODELS,
            bedrock_runtime=client,
            store=store,
            inference=INFERENCE,
            concurrency=2,
            retry=NO_RETRY_WAIT,
            sleep=lambda _: None,
        )
    # Then the two finished answers are saved for the retry, the throttled ones are not
    assert set(store.saved) == {("base", 0), ("fine_tuned", 0)}
    assert len(client.requests) == 2 + 2 * 4


def test_a_refused_question_is_recorded_not_retried():
    # Given a question the service refuses (not a transient error)
    client = FakeConverseClient(failures={"q0": ["ValidationException"]})
    # When generated
    outcome = generate_answers(
        questions(1),
        {ModelRole.BASE: BASE_ID},
        bedrock_runtime=client,
        store=MemoryAnswerStore(),
        inference=INFERENCE,
        concurrency=1,
        retry=NO_RETRY_WAIT,
        sleep=lambda _: None,
    )
    # Then it was asked once and the answer records why it is missing
    answer = outcome.answers[(ModelRole.BASE, 0)]
    assert len(client.requests) == 1
    assert answer.text is None
    assert answer.error == "ValidationException: ValidationException for test"


def test_a_rerun_reuses_saved_answers_and_asks_only_the_missing_ones():
    # Given answers saved by an earlier attempt: one matching, one for a question that has since changed
    now = datetime(2026, 1, 1, tzinfo=UTC)
    qs = questions(2)
    kept = GeneratedAnswer(
        index=0, role=ModelRole.BASE, model_id=BASE_ID, fingerprint=qs[0].fingerprint, text="saved", generated_at=now
    )
    stale = GeneratedAnswer(
        index=1, role=ModelRole.BASE, model_id=BASE_ID, fingerprint="0" * 16, text="stale", generated_at=now
    )
    client = FakeConverseClient()
    store = MemoryAnswerStore([kept, stale])
    # When generated again
    outcome = generate_answers(qs, MODELS, bedrock_runtime=client, store=store, inference=INFERENCE, concurrency=2)
    # Then the matching answer is reused and the other three are asked
    assert outcome.reused == 1
    assert outcome.generated == 3
    assert outcome.answers[(ModelRole.BASE, 0)].text == "saved"
    assert outcome.answers[(ModelRole.BASE, 1)].text == f"answer to q1 from {BASE_ID}"
    assert {
        request["messages"][0]["content"][0]["text"] for request in client.requests if request["modelId"] == BASE_ID
    } == {"q1"}


def test_running_out_of_time_defers_the_rest():
    # Given a caller whose time is up
    client = FakeConverseClient()
    # When generating
    with pytest.raises(TransientServiceError, match="4 of 4 answers are still missing"):
        generate_answers(
            questions(2),
            MODELS,
            bedrock_runtime=client,
            store=MemoryAnswerStore(),
            inference=INFERENCE,
            concurrency=2,
            out_of_time=lambda: True,
        )
    # Then nothing was asked
    assert client.requests == []


@mock_aws
def test_s3_store_saves_one_object_per_answer_and_loads_them_back():
    # Given a bucket
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="data")
    store = S3AnswerStore(s3, "data", "runs/r1/answers/")
    # When a run generates answers
    generate_answers(
        questions(2), MODELS, bedrock_runtime=FakeConverseClient(), store=store, inference=INFERENCE, concurrency=2
    )
    # Then each answer is its own object, and a second run asks nothing
    keys = sorted(obj["Key"] for obj in s3.list_objects_v2(Bucket="data", Prefix="runs/r1/answers/")["Contents"])
    assert keys == [
        "runs/r1/answers/base/00000.json",
        "runs/r1/answers/base/00001.json",
        "runs/r1/answers/fine_tuned/00000.json",
        "runs/r1/answers/fine_tuned/00001.json",
    ]
    second = FakeConverseClient()
    outcome = generate_answers(
        questions(2), MODELS, bedrock_runtime=second, store=store, inference=INFERENCE, concurrency=2
    )
    assert outcome.reused == 4
    assert second.requests == []


def test_converse_request_is_valid_for_the_real_service_model():
    # Given a real bedrock-runtime client under Stubber, which validates the request against the service model
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    question = Question(
        index=0,
        system="Be brief.",
        turns=(
            Turn(role="user", text="Hi"),
            Turn(role="assistant", text="Hello"),
            Turn(role="user", text="What is S3?"),
        ),
        reference="Storage.",
    )
    request = converse_request(TUNED_ARN, question, INFERENCE)
    with Stubber(client) as stubber:
        stubber.add_response(
            "converse",
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "Object storage."}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 3, "outputTokens": 2, "totalTokens": 5},
                "metrics": {"latencyMs": 12},
            },
            request,
        )
        # When the fine-tuned model is asked through the client
        outcome = generate_answers(
            [question],
            {ModelRole.FINE_TUNED: TUNED_ARN},
            bedrock_runtime=client,
            store=MemoryAnswerStore(),
            inference=INFERENCE,
            concurrency=1,
        )
        stubber.assert_no_pending_responses()
    # Then the whole conversation went out and the answer came back
    assert outcome.answers[(ModelRole.FINE_TUNED, 0)].text == "Object storage."
    assert outcome.answers[(ModelRole.FINE_TUNED, 0)].latency_ms == 12
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]
