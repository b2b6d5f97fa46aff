"""The evaluation's handlers in order (PlanEvaluation, GenerateAnswers, ScoreAnswers, SummarizeEvaluation): S3 from
moto, Converse through the real client checked by botocore's Stubber against the service model."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from lambdas import aws
from lambdas.settings import EvaluationSettings, PipelineSettings
from tests.unit.reporting.reporting_states import PT_ARN, RUN_ID, run_config, succeeded_state

BUCKET = "data-bucket"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
JUDGE_IN_US_WEST_2 = "us.amazon.nova-pro-v1:0"  # Nova Pro needs its US inference profile outside us-east-1
SYSTEM = "You are a concise QA assistant."


def record(question: str, answer: str) -> dict[str, Any]:
    return {
        "system": SYSTEM,
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
    }


TEST_RECORDS = [record(f"Question {i}?", f"Answer {i}.") for i in range(3)]
# The training split holds test question 2 again, in other case and punctuation: a leak.
TRAIN_RECORDS = [record("  QUESTION   2 !", "Answer 2."), record("Something else entirely?", "Yes.")]


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


JUDGE_REQUEST = {"modelId": JUDGE_IN_US_WEST_2, "messages": ANY, "system": ANY, "inferenceConfig": ANY}


def evaluation_state(**evaluation: Any) -> dict[str, Any]:
    settings = PipelineSettings(
        base_model_id=f"{HAIKU}:200k",
        evaluation=EvaluationSettings(max_test_records=5, concurrency=1, max_tokens=128, min_items=2, **evaluation),
    )
    state = succeeded_state().model_dump(mode="json")
    state["run"] = {**run_config().model_dump(mode="json"), "settings": settings.model_dump(mode="json")}
    for later in ("summarize_evaluation", "delete_inference_capacity"):
        state.pop(later)
    return state


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode()


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/data/test.jsonl", Body=jsonl(TEST_RECORDS))
        s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/data/train.jsonl", Body=jsonl(TRAIN_RECORDS))
        s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/data/validation.jsonl", Body=b"")
        monkeypatch.setenv("DATA_BUCKET", BUCKET)
        aws.reset_clients()
        yield s3
        aws.reset_clients()


def planned(state: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
    from lambdas.handlers import plan_evaluation

    return {**state, "plan_evaluation": plan_evaluation.handler(state, lambda_context)}


def test_plan_leaves_leaked_questions_out_and_resolves_the_judge_for_the_region(bucket, lambda_context):
    # Given a test split whose third question is also in the training split
    state = planned(evaluation_state(), lambda_context)
    plan = state["plan_evaluation"]
    # Then the plan asks the two others, counts the leak, and invokes Nova Pro through its profile in us-west-2
    assert (plan["questions"], plan["considered"], plan["leaked"]) == (2, 3, 1)
    assert plan["shards"] == [0]
    assert plan["judge_invocation_id"] == JUDGE_IN_US_WEST_2
    leaked = json.loads(bucket.get_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/evaluation/leaked.json")["Body"].read())
    assert leaked[0]["kind"] == "exact"
    assert leaked[0]["split"] == "train"
    assert leaked[0]["question"] == "Question 2?"


def test_a_missing_fixed_evaluation_set_fails_before_any_spend(bucket, lambda_context):
    from lambdas.errors import ConfigurationError
    from lambdas.handlers import plan_evaluation

    with pytest.raises(ConfigurationError, match=r"eval/missing\.jsonl does not exist"):
        plan_evaluation.handler(evaluation_state(test_set="eval/missing.jsonl"), lambda_context)


def test_a_fixed_evaluation_set_is_named_by_its_hash(bucket, lambda_context):
    # Given raw question/answer lines under eval/
    body = b'{"question": "Fixed question?", "answer": "Fixed answer."}\n'
    bucket.put_object(Bucket=BUCKET, Key="eval/golden.jsonl", Body=body)
    plan = planned(evaluation_state(test_set="eval/golden.jsonl"), lambda_context)["plan_evaluation"]
    import hashlib

    assert (plan["source"], plan["source_key"], plan["questions"]) == ("test_set", "eval/golden.jsonl", 1)
    assert plan["source_sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.slow
def test_generate_score_and_summarize_write_statistics_and_a_verdict(bucket, lambda_context, monkeypatch):
    from lambdas.handlers import generate_answers, score_answers, summarize_evaluation

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    state = planned(evaluation_state(), lambda_context)
    runtime = aws.client("bedrock-runtime")
    # Given Converse answers from both models for the 2 planned questions
    with Stubber(runtime) as stubber:
        for i in range(2):
            stubber.add_response(
                "converse", converse_reply("I am not sure."), expected_request(HAIKU, f"Question {i}?")
            )
            stubber.add_response("converse", converse_reply(f"Answer {i}."), expected_request(PT_ARN, f"Question {i}?"))
        shard = generate_answers.handler({**state, "shard": 0}, lambda_context)
        stubber.assert_no_pending_responses()
    assert (shard["answered_base"], shard["answered_fine_tuned"], shard["generated"]) == (2, 2, 4)
    state["generate_answers"] = [shard]
    # And the judge's replies: pointwise (base 0, fine-tuned 0, base 1, fine-tuned 1), then pairwise in both orders
    judge_replies = ["Rating: [[2]]", "Rating: [[9]]", "Rating: [[3]]", "Rating: [[10]]"]
    judge_replies += ["A is right. [[A]]", "B is right. [[B]]", "A. [[A]]", "A. [[A]]"]
    with Stubber(runtime) as stubber:
        for reply in judge_replies:
            stubber.add_response("converse", converse_reply(reply), JUDGE_REQUEST)
        scored = score_answers.handler({**state, "shard": 0}, lambda_context)
        stubber.assert_no_pending_responses()
    assert (scored["items"], scored["judge_asked"], scored["judge_scored"]) == (2, 6, 6)
    state["score_answers"] = [scored]
    output = summarize_evaluation.handler(state, lambda_context)
    # Then evaluation.json holds the per-question scores, the paired statistics and the verdict
    result = json.loads(bucket.get_object(Bucket=BUCKET, Key=output["evaluation_key"])["Body"].read())
    metrics = {m["name"]: m for m in result["verdict"]["metrics"]}
    assert metrics["judge_correctness"]["n"] == 2
    assert metrics["judge_correctness"]["mean_delta"] == pytest.approx(7.0)
    assert (metrics["judge_correctness"]["wins"], metrics["judge_correctness"]["losses"]) == (2, 0)
    # the second question's pairwise orders disagree (A both times): a position-inconsistent tie
    assert (metrics["pairwise_preference"]["wins"], metrics["pairwise_preference"]["ties"]) == (1, 1)
    assert result["pairwise"]["position_consistency"] == pytest.approx(0.5)
    assert output["outcome"] in {"improved", "no_clear_difference"}
    assert "on 2 questions" in output["reason"]
    assert "1 leaked question excluded" in output["reason"]
    assert result["evaluation_set"]["leaked"] == 1
    assert result["judge_prompt_version"]
    assert any("own family" in warning for warning in result["warnings"]) is False  # Nova judge, Claude tuned

    # When the scoring shard is retried, every verdict is reused: no Converse call is stubbed, any call would fail
    with Stubber(runtime):
        again = score_answers.handler({**state, "shard": 0}, lambda_context)
    assert again["judge_scored"] == 6


def test_generation_without_capacity_is_a_configuration_error(bucket, lambda_context):
    from lambdas.errors import ConfigurationError
    from lambdas.handlers import generate_answers

    state = planned(evaluation_state(judge_enabled=False, primary_metric="bertscore_f1"), lambda_context)
    state.pop("create_inference_capacity")
    with pytest.raises(ConfigurationError, match="no inference capacity"):
        generate_answers.handler({**state, "shard": 0}, lambda_context)
