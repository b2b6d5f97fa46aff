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
    bedrock_name,
    capacity_name,
    client_token,
    custom_model_name,
    job_name,
    resource_tags,
    tag_value,
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


def test_bedrocks_name_limit_is_63_characters() -> None:
    # Bedrock's documented maximum for job, custom model, throughput and deployment names; a larger constant would
    # let a create call be refused after the training was paid for
    assert MAX_NAME_LENGTH == 63


# Names of capacity (and jobs, models) bought by released versions. Cleanup and the sweeper find a run's resources by
# these names alone: if a prefix, the hash or the cut changed, a retry would buy a second throughput and the
# execution cleanup would miss the one already billing. Change them only with a migration for what is alive.
GOLDEN_NAMES = [
    (
        "run-20260301-0900-abc123",
        "ft-job-run-20260301-0900-abc123-12bdcfca",
        "ft-model-run-20260301-0900-abc123-7783eb78",
        "ft-serve-run-20260301-0900-abc123-dca8ed3a",
    ),
    (  # the cut lands on a dash: it is dropped, never doubled with the dash before the hash
        "a" * 44 + "-" + "b" * 20,
        "ft-job-" + "a" * 44 + "-bb-72cd1544",
        "ft-model-" + "a" * 44 + "-023a4b3a",
        "ft-serve-" + "a" * 44 + "-0452c22f",
    ),
    (  # cut at Bedrock's 63 characters, on a letter the cut must keep
        "X" * 60,
        "ft-job-" + "X" * 47 + "-866b31a8",
        "ft-model-" + "X" * 45 + "-f9755096",
        "ft-serve-" + "X" * 45 + "-d6508614",
    ),
    ("X-run-X", "ft-job-X-run-X-5d5af677", "ft-model-X-run-X-5217157f", "ft-serve-X-run-X-c7bde37a"),
    (
        "--leading-and-trailing--",
        "ft-job-leading-and-trailing-10ae9405",
        "ft-model-leading-and-trailing-51a8b7b4",
        "ft-serve-leading-and-trailing-48551a0c",
    ),
]


@pytest.mark.parametrize(("run_id", "job", "model", "capacity"), GOLDEN_NAMES, ids=lambda value: str(value)[:12])
def test_names_stay_those_earlier_versions_gave(run_id: str, job: str, model: str, capacity: str) -> None:
    # Given a run id, When its names are derived, Then they are exactly those a released version gave it
    run = make_run(run_id)
    assert (job_name(run), custom_model_name(run), capacity_name(run)) == (job, model, capacity)


def test_a_long_run_id_fills_the_name_to_exactly_63_characters() -> None:
    run = make_run("r" * 100)
    assert [len(job_name(run)), len(custom_model_name(run)), len(capacity_name(run))] == [63, 63, 63]


def test_idempotency_tokens_stay_those_earlier_versions_sent() -> None:
    # Given the same run retried by a newer version, When it creates again, Then Bedrock sees the same token (no-op)
    run = make_run("run-20260301-0900-abc123")
    assert client_token(run, "job") == "job-aac43ef8a7fbbccdf02bbd28c2270b108fb3c97f"
    assert client_token(run, "throughput") == "throughput-4abed20b5a0bd00872c3bd334eb703a2aacfb51e"
    assert client_token(run, "deployment") == "deployment-35e54224a9dc5aa8f31859451dbcfa289a71e58a"


@pytest.mark.parametrize(
    ("prefix", "run_id", "expected"),
    [
        ("", "日本語", "0afff06a"),  # nothing readable is left: the hash alone
        ("_ft", "run", "ft-run-f1c43e78"),  # a name starts with a letter or digit
        ("-x-", "-y-", "x-y-75c7250c"),
    ],
)
def test_any_prefix_and_run_id_give_a_valid_name(prefix: str, run_id: str, expected: str) -> None:
    name = bedrock_name(prefix, run_id)
    assert name == expected
    assert MODEL_NAME_PATTERN.match(name)
    assert JOB_NAME_PATTERN.match(name)


def test_tags_name_the_stack_the_run_and_the_source_in_that_order() -> None:
    run = make_run("run-20260301-0900-abc123", stack_name="FineTuningStack")
    assert resource_tags(run) == [
        {"key": "fine-tuning:stack", "value": "FineTuningStack"},
        {"key": "fine-tuning:run-id", "value": "run-20260301-0900-abc123"},
        {"key": "fine-tuning:source", "value": "incoming/faq _v2_.jsonl"},
    ]
    assert tag_value("x" * 300) == "x" * 256  # Bedrock's limit on a tag value
