"""What stops a deploy or a run from starting: checked on a day and in a region, each problem with its setting."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from lambdas import clock
from lambdas.settings import EvaluationSettings, PipelineSettings

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA_32 = "meta.llama3-2-11b-instruct-v1:0:128k"
LLAMA_31 = "meta.llama3-1-8b-instruct-v1:0:128k"


def _problems(settings: PipelineSettings, region: str | None, day: date) -> list[tuple[str, str]]:
    return [tuple(problem) for problem in settings.problems_starting(region=region, today=day)]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 9), []),  # the reference study's days: still Active
        (date(2026, 6, 1), ["is Legacy since 2026-03-10 (end of life 2026-09-10): Bedrock creates no new fine-tuning"]),
        (date(2026, 12, 3), ["reached its end of life on 2026-09-10"]),
    ],
)
def test_a_model_past_its_legacy_or_end_of_life_date_is_refused_naming_the_date(day: date, expected: list[str]) -> None:
    problems = _problems(PipelineSettings(base_model_id=HAIKU), "us-west-2", day)
    assert [setting for setting, _ in problems] == ["base_model_id"] * len(expected)
    for (_, message), fragment in zip(problems, expected, strict=True):
        assert fragment in message


def test_the_check_reads_the_injected_clock_when_no_day_is_given() -> None:
    settings = PipelineSettings(base_model_id=LLAMA_32)
    clock.use_clock(lambda: datetime(2026, 1, 6, tzinfo=UTC))
    try:
        assert settings.problems_starting(region="us-west-2") == []
        clock.use_clock(lambda: datetime(2026, 7, 7, tzinfo=UTC))
        (problem,) = settings.problems_starting(region="us-west-2")
        assert "end of life on 2026-07-07" in problem.message
    finally:
        clock.use_system_clock()


def test_parsing_never_checks_dates_so_a_running_stack_keeps_reading_its_settings() -> None:
    # The sweeper and the capacity delete parse these settings again long after the deploy
    assert PipelineSettings(base_model_id=HAIKU).base_model_id == HAIKU


def test_a_region_that_does_not_customize_the_model_is_refused() -> None:
    ((setting, message),) = _problems(PipelineSettings(base_model_id=LLAMA_31), "us-east-1", date(2026, 12, 3))
    assert setting == "base_model_id"
    assert message.endswith("can be fine-tuned only in us-west-2, but the stack is being deployed to us-east-1")


def test_a_judge_past_its_end_of_life_or_not_invocable_in_the_region_is_refused() -> None:
    day = date(2026, 12, 3)
    premier = PipelineSettings(evaluation=EvaluationSettings(judge_model_id="amazon.nova-premier-v1:0"))
    ((setting, message),) = _problems(premier, "us-east-1", day)
    assert setting == "evaluation.judge_model_id"
    assert "reached its end of life on 2026-09-14" in message
    # Nova Pro answers by its plain id only in us-east-1: from eu-west-1 it cannot be invoked at all
    problems = _problems(PipelineSettings(), "eu-west-1", day)
    assert [setting for setting, _ in problems] == ["base_model_id", "evaluation.judge_model_id"]
    # and with no region known (an environment-agnostic synth) only the day matters
    assert _problems(PipelineSettings(), None, day) == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("arn:aws:kms:us-east-1:123456789012:alias/my-key", "an alias, alias ARN or bare key id is not taken"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "is not a KMS key ARN"),
        ("arn:aws:kms:us-east-1:12345:key/1234abcd-12ab-34cd-56ef-1234567890ab", "is not a KMS key ARN"),
        ("arn:aws:kms:us-east-1:123456789012:key/short", "is not a KMS key ARN"),
        ("arn:aws:s3:::bucket:kms:key", "is not a KMS key ARN"),
    ],
)
def test_a_kms_key_the_api_or_the_grants_would_refuse_is_refused(value: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match="customization_kms_key_arn") as raised:
        PipelineSettings(customization_kms_key_arn=value)
    assert fragment in str(raised.value)
