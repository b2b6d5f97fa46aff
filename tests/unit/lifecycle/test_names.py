from __future__ import annotations

import pytest

from lambdas.lifecycle.names import (
    JOB_NAME_PATTERN,
    MAX_NAME_LENGTH,
    MODEL_NAME_PATTERN,
    TAG_SOURCE,
    TAG_STACK,
    TAG_VALUE_PATTERN,
    TOKEN_PATTERN,
    capacity_name,
    client_token,
    custom_model_name,
    job_name,
    resource_tags,
)
from tests.unit.lifecycle.factories import make_run

ODD_RUN_IDS = [
    "run-20260301-0900-abc123",
    "a" * 63,
    "A" * 63,  # differs from the one above only in case
    "b" * 200,
    "b" * 199 + "c",  # differs only beyond any truncation point
    "run_with_underscores.and.dots",
    "run-with-underscores-and-dots",  # what the one above sanitizes to
    "--leading-and-trailing--",
    "dóuble--dash  and spaces/ slash",
    "日本語",
    "x",
]


@pytest.mark.parametrize("run_id", ODD_RUN_IDS)
def test_names_are_valid_for_bedrock_whatever_the_run_id(run_id: str) -> None:
    # Given a run whose id may be long, odd or even have no usable character
    run = make_run(run_id)
    # When its Bedrock names are derived
    names = {"job": job_name(run), "model": custom_model_name(run), "capacity": capacity_name(run)}
    # Then each fits Bedrock's length and pattern rules (the model pattern is the stricter one)
    for name in names.values():
        assert 1 <= len(name) <= MAX_NAME_LENGTH, name
        assert JOB_NAME_PATTERN.match(name), name
        assert MODEL_NAME_PATTERN.match(name), name
    assert TOKEN_PATTERN.match(client_token(run, "job"))


def test_distinct_runs_never_share_a_name() -> None:
    # Given runs whose ids collapse to the same readable text once sanitized or truncated
    runs = [make_run(run_id) for run_id in ODD_RUN_IDS]
    # When names are derived
    job_names = {job_name(run) for run in runs}
    capacity_names = {capacity_name(run) for run in runs}
    tokens = {client_token(run, "job") for run in runs}
    # Then every run has its own
    assert len(job_names) == len(capacity_names) == len(tokens) == len(ODD_RUN_IDS)


def test_names_and_tokens_are_deterministic_and_readable() -> None:
    run = make_run("run-20260301-0900-abc123")
    assert job_name(run) == job_name(make_run("run-20260301-0900-abc123"))
    assert job_name(run).startswith("ft-job-run-20260301-0900-abc123-")
    assert custom_model_name(run).startswith("ft-model-run-20260301-0900-abc123-")
    assert client_token(run, "job") == client_token(make_run("run-20260301-0900-abc123"), "job")
    assert client_token(run, "job") != client_token(run, "throughput")
    # the same run id in another stack is another request
    assert client_token(run, "job") != client_token(make_run("run-20260301-0900-abc123", stack_name="Other"), "job")


def test_tags_carry_stack_run_and_a_sanitized_source_key() -> None:
    run = make_run(stack_name="FineTuningStack")
    tags = {tag["key"]: tag["value"] for tag in resource_tags(run)}
    assert tags[TAG_STACK] == "FineTuningStack"
    assert tags[TAG_SOURCE] == "incoming/faq _v2_.jsonl"  # parentheses are not allowed in tag values
    assert all(TAG_VALUE_PATTERN.match(value) for value in tags.values())
