"""Per-run settings carried by the drop (S3 metadata fine-tuning-settings), applied like `cdk synth -c`."""

from __future__ import annotations

import json

import pytest

from lambdas.runs.overrides import apply_overrides
from lambdas.settings import PipelineSettings

STACK = PipelineSettings(hyperparameters={"epochCount": 2}, evaluation={"max_test_records": 50, "concurrency": 4})


def test_run_level_overrides_replace_their_keys_and_are_recorded() -> None:
    raw = json.dumps({"hyperparameters": {"epochCount": 5}, "evaluation": {"max_test_records": 5}})
    settings, applied, refused = apply_overrides(STACK, raw)
    assert refused is None
    assert applied == {"hyperparameters": {"epochCount": 5}, "evaluation": {"max_test_records": 5}}
    assert settings.hyperparameters == {"epochCount": 5}
    # each key is replaced whole, as `cdk synth -c fine_tuning.evaluation=...` replaces it
    assert (settings.evaluation.max_test_records, settings.evaluation.concurrency) == (5, 4)
    assert settings.base_model_id == STACK.base_model_id


def test_no_metadata_leaves_the_stack_settings() -> None:
    assert apply_overrides(STACK, None) == (STACK, None, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "fine-tuning-settings metadata is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"base_model_id": "meta.llama3-1-8b-instruct-v1:0:128k"}', "base_model_id cannot change per run"),
        ('{"hyperparameters": {"epochCount": 99}}', "epochCount=99 is outside"),
        ('{"evaluation": {"max_test_records": 0}}', "fine_tuning.evaluation.max_test_records"),
    ],
    ids=["not-json", "not-an-object", "stack-level", "out-of-range", "invalid-nested"],
)
def test_invalid_overrides_are_refused_with_the_setting_named_and_change_nothing(raw: str, reason: str) -> None:
    settings, applied, refused = apply_overrides(STACK, raw)
    assert settings == STACK
    assert applied is None
    assert refused is not None
    assert reason in refused
