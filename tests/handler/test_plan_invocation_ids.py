"""PlanEvaluation resolves, in its own region, the id that invokes the base model and the judge, before any spend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas import aws, clock
from lambdas.errors import ConfigurationError
from lambdas.settings import EvaluationSettings, PipelineSettings
from tests.unit.reporting.reporting_states import RUN_ID, run_config, succeeded_state

BUCKET = "data-bucket"


def _record(question: str, answer: str) -> str:
    return json.dumps(
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": [{"text": question}]},
                {"role": "assistant", "content": [{"text": answer}]},
            ],
        }
    )


def _state(base_model_id: str, **evaluation: Any) -> dict[str, Any]:
    settings = PipelineSettings(
        base_model_id=base_model_id, evaluation=EvaluationSettings(max_test_records=5, **evaluation)
    )
    state = succeeded_state().model_dump(mode="json")
    state["run"] = {**run_config().model_dump(mode="json"), "settings": settings.model_dump(mode="json")}
    return state


@pytest.fixture
def in_us_west_2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("DATA_BUCKET", BUCKET)
    clock.use_clock(lambda: datetime(2026, 12, 3, tzinfo=UTC))
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        for split, body in (("test", _record("Which port?", "7000.")), ("train", _record("Other?", "Yes."))):
            s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/data/{split}.jsonl", Body=body.encode())
        s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN_ID}/data/validation.jsonl", Body=b"")
        aws.reset_clients()
        yield
        aws.reset_clients()
    clock.use_system_clock()


def test_llama_3_2_is_asked_through_its_inference_profile(in_us_west_2: None, lambda_context: Any) -> None:
    from lambdas.handlers import plan_evaluation

    plan = plan_evaluation.handler(_state("meta.llama3-2-11b-instruct-v1:0:128k"), lambda_context)
    assert plan["base_invocation_id"] == "us.meta.llama3-2-11b-instruct-v1:0"
    assert plan["judge_invocation_id"] == "us.amazon.nova-pro-v1:0"


def test_a_judge_past_its_end_of_life_fails_the_plan_before_the_job(in_us_west_2: None, lambda_context: Any) -> None:
    from lambdas.handlers import plan_evaluation

    state = _state("meta.llama3-2-11b-instruct-v1:0:128k", judge_model_id="amazon.nova-premier-v1:0")
    with pytest.raises(ConfigurationError, match=r"evaluation.judge_model_id: judge Amazon Nova Premier .* 2026-09-14"):
        plan_evaluation.handler(state, lambda_context)
