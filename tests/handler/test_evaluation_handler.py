"""EvaluateModels handler: test split from S3, Converse through the real client (Stubber), answers and result in S3."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from lambdas import aws
from lambdas.contracts import RunState
from lambdas.settings import EvaluationSettings, PipelineSettings
from tests.unit.reporting.reporting_states import PT_ARN, RUN_ID, run_config, succeeded_state

BUCKET = "data-bucket"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SYSTEM = "You are a concise QA assistant."
RECORDS = [
    {
        "system": SYSTEM,
        "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}],
    }
    for i in range(3)
]


def converse_reply(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 9, "outputTokens": 4, "totalTokens": 13},
        "metrics": {"latencyMs": 50},
    }


def expected_request(model_id: str, question: str) -> dict[str, Any]:
    return {
        "modelId": model_id,
        "messages": [{"role": "user", "content": [{"text": question}]}],
        "system": [{"text": SYSTEM}],
        "inferenceConfig": {"maxTokens": 128, "temperature": 0.0, "topP": 0.9},
    }


def evaluation_state(*, judge_enabled: bool) -> dict[str, Any]:
    settings = PipelineSettings(
        base_model_id=f"{HAIKU}:200k",
        evaluation=EvaluationSettings(max_test_records=2, concurrency=1, max_tokens=128, judge_enabled=judge_enabled),
    )
    state = succeeded_state().model_dump(mode="json")
    state["run"] = {**run_config().model_dump(mode="json"), "settings": settings.model_dump(mode="json")}
    for later in ("evaluate_models", "delete_inference_capacity"):
        state.pop(later)
    return state


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(
            Bucket=BUCKET,
            Key=f"runs/{RUN_ID}/data/test.jsonl",
            Body="\n".join(json.dumps(record) for record in RECORDS).encode(),
        )
        monkeypatch.setenv("DATA_BUCKET", BUCKET)
        yield s3


@pytest.mark.slow
def test_evaluate_models_asks_both_models_scores_and_writes_the_result(bucket, lambda_context, monkeypatch):
    from lambdas.handlers import evaluate_models

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runtime = aws.client("bedrock-runtime")
    # Given Converse answers for 2 questions (the cap) from both models, then the judge's replies
    with Stubber(runtime) as stubber:
        for i in range(2):
            stubber.add_response(
                "converse", converse_reply("I am not sure."), expected_request(HAIKU, f"Question {i}?")
            )
            stubber.add_response("converse", converse_reply(f"Answer {i}."), expected_request(PT_ARN, f"Question {i}?"))
        for score in (2, 9, 3, 10):
            stubber.add_response(
                "converse",
                converse_reply(f"Reasoning. Rating: [[{score}]]"),
                {
                    "modelId": "amazon.nova-pro-v1:0",
                    "messages": ANY,
                    "system": ANY,
                    "inferenceConfig": ANY,
                },
            )
        # When the handler runs
        output = evaluate_models.handler(evaluation_state(judge_enabled=True), lambda_context)
        stubber.assert_no_pending_responses()
    # Then the fine-tuned model (which repeated the references) wins on both measures
    assert output["items"] == 2
    assert output["bertscore_model"] == "all-MiniLM-L6-v2"
    assert output["judge_model_id"] == "amazon.nova-pro-v1:0"
    assert output["fine_tuned"]["bertscore_f1"] == pytest.approx(1.0, abs=1e-3)
    assert output["fine_tuned"]["bertscore_f1"] > output["base"]["bertscore_f1"]
    assert (output["base"]["judge_mean"], output["fine_tuned"]["judge_mean"]) == (2.5, 9.5)
    # And every answer and the full result are in S3
    keys = {o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{RUN_ID}/answers/")["Contents"]}
    assert len(keys) == 4
    result = json.loads(bucket.get_object(Bucket=BUCKET, Key=output["evaluation_key"])["Body"].read())
    assert result["items"][1]["fine_tuned"]["judge"]["reasoning"] == "Reasoning. Rating: [[10]]"
    assert result["fine_tuned_model_id"] == PT_ARN


@pytest.mark.slow
def test_a_retried_evaluation_reuses_saved_answers(bucket, lambda_context, monkeypatch):
    from lambdas.handlers import evaluate_models

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    runtime = aws.client("bedrock-runtime")
    state = evaluation_state(judge_enabled=False)
    with Stubber(runtime) as stubber:
        for i in range(2):
            stubber.add_response("converse", converse_reply("Base."), expected_request(HAIKU, f"Question {i}?"))
            stubber.add_response("converse", converse_reply(f"Answer {i}."), expected_request(PT_ARN, f"Question {i}?"))
        first = evaluate_models.handler(state, lambda_context)
        stubber.assert_no_pending_responses()
    # When the step runs again (a Step Functions retry), no Converse call is stubbed: any call would fail the test
    with Stubber(runtime):
        second = evaluate_models.handler(state, lambda_context)
    assert second == first
    assert second["judge_model_id"] is None
    assert second["base"]["judge_mean"] is None


def test_evaluation_without_capacity_is_a_configuration_error(bucket, lambda_context):
    from lambdas.errors import ConfigurationError
    from lambdas.handlers import evaluate_models

    state = evaluation_state(judge_enabled=False)
    state.pop("create_inference_capacity")
    with pytest.raises(ConfigurationError, match="no inference capacity"):
        evaluate_models.handler(state, lambda_context)
    assert RunState.model_validate(state).create_inference_capacity is None
