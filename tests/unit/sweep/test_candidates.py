"""The sweep setting and its candidates: grid, seeded random draws, their product, limits, and the range check."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from pydantic import ValidationError

from lambdas.lifecycle.customization import hyperparameter_problem as job_check
from lambdas.registry import get_model
from lambdas.settings import PipelineSettings
from lambdas.sweep.candidates import (
    Candidate,
    SweepError,
    SweepSettings,
    candidates,
    max_concurrency,
)

NOVA = get_model("amazon.nova-lite-v1:0:300k")
LLAMA = get_model("meta.llama3-1-8b-instruct-v1:0:128k")
NOVA_DEFAULTS = NOVA.default_hyperparameters()  # epochCount 2, learningRate 1e-05, learningRateWarmupSteps 10
LOG_LR = {"min": 1e-6, "max": 1e-4, "scale": "log"}


def sweep(**fields: Any) -> SweepSettings:
    return SweepSettings.model_validate(fields)


def made(settings: SweepSettings, base: dict[str, str] | None = None) -> list[Candidate]:
    return candidates(settings, NOVA_DEFAULTS if base is None else base, NOVA)


# ------------------------------------------------------------------------------------------------------ grid
def test_a_list_is_a_grid_axis_and_each_candidate_takes_the_runs_other_hyperparameters() -> None:
    # Given the 3-candidate grid
    result = made(sweep(hyperparameters={"epochCount": [1, 2, 5]}))
    # Then there are three candidates, numbered, each with every hyperparameter as Bedrock's strings
    assert [(c.index, c.id, c.label) for c in result] == [
        (1, "c01", "epochCount=1"),
        (2, "c02", "epochCount=2"),
        (3, "c03", "epochCount=5"),
    ]
    assert result[2].hyperparameters == {"epochCount": "5", "learningRate": "1e-05", "learningRateWarmupSteps": "10"}
    assert result[2].swept == {"epochCount": "5"}


def test_the_runs_own_hyperparameters_are_kept_where_the_sweep_does_not_vary_them() -> None:
    # Given a run that sets its learning rate, and a sweep over epochs
    base = PipelineSettings(hyperparameters={"learningRate": 2e-5}).resolved_hyperparameters()
    result = made(sweep(hyperparameters={"epochCount": [1, 3]}), base)
    # Then every candidate keeps the run's learning rate
    assert [c.hyperparameters["learningRate"] for c in result] == ["2e-05", "2e-05"]
    assert [c.hyperparameters["epochCount"] for c in result] == ["1", "3"]


def test_two_lists_make_their_cartesian_product_first_axis_slowest() -> None:
    result = made(sweep(hyperparameters={"epochCount": [1, 5], "learningRate": [1e-5, 1e-4]}))
    assert [c.label for c in result] == [
        "epochCount=1, learningRate=1e-05",
        "epochCount=1, learningRate=0.0001",
        "epochCount=5, learningRate=1e-05",
        "epochCount=5, learningRate=0.0001",
    ]
    assert result[3].swept == {"epochCount": "5", "learningRate": "0.0001"}


def test_a_value_written_twice_is_tried_once() -> None:
    result = made(sweep(hyperparameters={"epochCount": [2, 1, 2.0, 1]}))
    assert [c.label for c in result] == ["epochCount=2", "epochCount=1"]
    assert [c.id for c in result] == ["c01", "c02"]


# ---------------------------------------------------------------------------------------------- random draws
def test_ranges_are_drawn_count_times_deterministically_for_a_seed() -> None:
    # Given a log-scale learning-rate range with 4 draws
    settings = sweep(hyperparameters={"learningRate": LOG_LR}, count=4, seed=7)
    # When the candidates are made twice
    first, again = made(settings), made(settings)
    # Then they are the same, 4 of them, within the range
    assert first == again
    assert len(first) == 4
    values = [float(c.swept["learningRate"]) for c in first]
    assert all(1e-6 <= value <= 1e-4 for value in values)
    # And another seed draws other values
    other = made(sweep(hyperparameters={"learningRate": LOG_LR}, count=4, seed=8))
    assert [c.swept for c in other] != [c.swept for c in first]


def test_non_integer_draws_are_rounded_to_three_significant_digits() -> None:
    result = made(sweep(hyperparameters={"learningRate": LOG_LR}, count=5))
    for candidate in result:
        value = float(candidate.swept["learningRate"])
        assert value == float(f"{value:.3g}")
        assert candidate.label == f"learningRate={candidate.swept['learningRate']}"


def test_a_log_scale_draws_evenly_across_orders_of_magnitude() -> None:
    # Given 40 draws from 1e-6..1e-4 (two decades)
    result = candidates(
        sweep(hyperparameters={"learningRate": LOG_LR}, count=40, max_candidates=50), NOVA_DEFAULTS, NOVA
    )
    below = sum(1 for c in result if float(c.swept["learningRate"]) < 1e-5)
    # Then about half fall in the lower decade (a linear scale would put about 9% there)
    assert 12 <= below <= 28


def test_an_integer_range_draws_whole_numbers_and_repeats_are_dropped() -> None:
    # Given 10 draws from the whole numbers 1..3
    result = made(sweep(hyperparameters={"epochCount": {"min": 1, "max": 3, "integer": True}}, count=10))
    # Then each whole number appears once, as an integer string
    assert sorted(c.swept["epochCount"] for c in result) == ["1", "2", "3"]
    assert [c.id for c in result] == ["c01", "c02", "c03"]


def test_grid_and_draws_combine_by_product_with_the_same_draws_for_every_grid_point() -> None:
    result = made(sweep(hyperparameters={"epochCount": [1, 2], "learningRate": LOG_LR}, count=2, seed=3))
    assert len(result) == 4
    assert [c.swept["epochCount"] for c in result] == ["1", "1", "2", "2"]
    draws_for_1 = [c.swept["learningRate"] for c in result[:2]]
    draws_for_2 = [c.swept["learningRate"] for c in result[2:]]
    assert draws_for_1 == draws_for_2
    assert len(set(draws_for_1)) == 2
    assert result[0].label == f"epochCount=1, learningRate={draws_for_1[0]}"


# ---------------------------------------------------------------------------------------------------- limits
def test_more_candidates_than_max_candidates_is_an_error_never_a_shorter_list() -> None:
    with pytest.raises(SweepError) as raised:
        made(sweep(hyperparameters={"epochCount": [1, 2, 3, 4, 5], "learningRate": [1e-5, 1e-4]}))
    assert str(raised.value) == (
        "the sweep makes 10 candidates (5 epochCount values x 2 learningRate values), more than max_candidates 8: "
        "remove values or raise sweep.max_candidates (at most 50)"
    )
    # And raising the limit runs them all
    assert (
        len(
            made(
                sweep(hyperparameters={"epochCount": [1, 2, 3, 4, 5], "learningRate": [1e-5, 1e-4]}, max_candidates=10)
            )
        )
        == 10
    )


def test_the_limit_counts_grid_points_times_draws() -> None:
    with pytest.raises(
        SweepError, match=r"makes 9 candidates \(3 epochCount values x 3 random draws of learningRate\)"
    ):
        made(sweep(hyperparameters={"epochCount": [1, 2, 3], "learningRate": LOG_LR}, count=3))


def test_a_grid_too_large_on_its_own_is_refused_before_anything_is_drawn() -> None:
    with pytest.raises(
        SweepError, match=r"the sweep grid alone makes 9 \(3 epochCount values x 3 learningRateWarmupSteps"
    ):
        made(
            sweep(
                hyperparameters={
                    "epochCount": [1, 2, 3],
                    "learningRateWarmupSteps": [0, 5, 10],
                    "learningRate": LOG_LR,
                },
                count=1,
            )
        )


@pytest.mark.parametrize("limit", [0, 51])
def test_max_candidates_is_between_1_and_50(limit: int) -> None:
    with pytest.raises(ValidationError, match="max_candidates"):
        sweep(hyperparameters={"epochCount": [1]}, max_candidates=limit)


# ----------------------------------------------------------------------------- every candidate checked first
def test_each_out_of_range_candidate_is_named_with_the_parameter_by_the_jobs_own_check() -> None:
    # Given a grid with two values Nova refuses
    with pytest.raises(SweepError) as raised:
        made(sweep(hyperparameters={"epochCount": [2, 7, 2.5], "learningRate": [1e-5]}))
    message = str(raised.value)
    # Then the error lists both, naming the candidate, its values and the parameter, in the job check's words
    assert message.startswith("sweep rejected before any job started: ")
    assert (
        "candidate c02 (epochCount=7, learningRate=1e-05): epochCount=7 is outside Amazon Nova Lite's range 1..5"
        in message
    )
    assert "candidate c03 (epochCount=2.5, learningRate=1e-05): epochCount=2.5 must be a whole number" in message
    the_jobs_words = job_check(NOVA, "epochCount", 7.0, "7")
    assert the_jobs_words is not None
    assert the_jobs_words in message
    assert "c01" not in message


def test_a_name_the_model_does_not_take_is_refused() -> None:
    with pytest.raises(
        SweepError,
        match=re.escape("sweep axis batchSize: amazon.nova-lite-v1:0:300k has no hyperparameter 'batchSize'"),
    ):
        made(sweep(hyperparameters={"batchSize": [8, 16]}))


def test_a_range_reaching_outside_the_models_range_is_refused_whatever_is_drawn() -> None:
    with pytest.raises(SweepError) as raised:
        made(sweep(hyperparameters={"learningRate": {"min": 1e-7, "max": 1e-3, "scale": "log"}}, count=1))
    message = str(raised.value)
    assert (
        "sweep range learningRate min: learningRate=1e-07 is outside Amazon Nova Lite's range 1e-06..0.0001" in message
    )
    assert "sweep range learningRate max: learningRate=0.001 is outside" in message


def test_a_whole_number_parameter_needs_an_integer_range() -> None:
    with pytest.raises(SweepError, match='takes epochCount as a whole number; add "integer": true'):
        made(sweep(hyperparameters={"epochCount": {"min": 1, "max": 5}}, count=2))


def test_the_other_models_ranges_apply() -> None:
    # Llama takes learning rates up to 0.1, which Nova refuses
    settings = sweep(hyperparameters={"learningRate": [1e-3, 1e-2]})
    result = candidates(settings, LLAMA.default_hyperparameters(), LLAMA)
    assert [c.label for c in result] == ["learningRate=0.001", "learningRate=0.01"]
    with pytest.raises(SweepError, match="outside Amazon Nova Lite's range"):
        made(settings)


def test_the_runs_own_hyperparameters_are_checked_too() -> None:
    with pytest.raises(SweepError, match="the run's hyperparameters: learningRateWarmupSteps=500 is outside"):
        made(sweep(hyperparameters={"epochCount": [1]}), {**NOVA_DEFAULTS, "learningRateWarmupSteps": "500"})


# ----------------------------------------------------------------------------------------- the setting itself
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"hyperparameters": {"epochCount": 3}}, "give a list of values (a grid axis) or a range"),
        ({"hyperparameters": {"epochCount": [True, 2]}}, "a grid takes numbers, not true or false"),
        ({"hyperparameters": {}}, "at least 1 item"),
        ({"hyperparameters": {"epochCount": []}}, "at least 1 item"),
        ({"hyperparameters": {"learningRate": LOG_LR}}, "count is needed"),
        ({"hyperparameters": {"epochCount": [1, 2]}, "count": 3}, "count applies to ranges only"),
        ({"hyperparameters": {"learningRate": {"min": 2e-5, "max": 1e-5}}, "count": 1}, "range min 2e-05 is above"),
        ({"hyperparameters": {"learningRate": {"min": 0, "max": 1e-5, "scale": "log"}}, "count": 1}, "needs min > 0"),
        (
            {"hyperparameters": {"epochCount": {"min": 1.2, "max": 1.8, "integer": True}}, "count": 1},
            "no whole number lies in the integer range 1.2..1.8",
        ),
        ({"hyperparameters": {"learningRate": {"min": 1e-6, "max": 1e-4, "step": 2}}, "count": 1}, "step"),
        ({"hyperparameters": {"epochCount": [1]}, "parallel": 2}, "parallel"),
        ({"hyperparameters": {"epochCount": [float("nan")]}}, "finite number"),
        ({"hyperparameters": {"epochCount": [1]}, "max_concurrent_jobs": 0}, "max_concurrent_jobs"),
    ],
)
def test_a_sweep_setting_that_cannot_mean_anything_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        SweepSettings.model_validate(fields)


def test_defaults() -> None:
    settings = sweep(hyperparameters={"epochCount": [1]})
    assert (settings.seed, settings.max_candidates, settings.max_concurrent_jobs, settings.count) == (0, 8, None, None)


# -------------------------------------------------------------------------------------------------- concurrency
@pytest.mark.parametrize(
    ("setting", "quota", "expected"),
    [
        (None, None, 2),  # nothing known: 2
        (None, 4.0, 4),  # the account's quota as Preflight read it
        (None, 3.7, 3),
        (3, None, 3),  # the setting
        (3, 5.0, 3),
        (5, 2.0, 2),  # never more than the account allows
        (None, 0.0, 1),  # never 0, which Step Functions reads as "no limit"
        (None, math.inf, 2),  # not a usable figure
    ],
)
def test_max_concurrency(setting: int | None, quota: float | None, expected: int) -> None:
    settings = sweep(hyperparameters={"epochCount": [1]}, max_concurrent_jobs=setting)
    assert max_concurrency(settings, quota) == expected
