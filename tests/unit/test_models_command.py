"""``tuner models``: which models can be fine-tuned in a region, how they are served and invoked there."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from lambdas import clock
from tuner import cli


@pytest.fixture(autouse=True)
def _today() -> Iterator[None]:
    clock.use_clock(lambda: datetime(2026, 12, 3, 12, tzinfo=UTC))
    yield
    clock.use_system_clock()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["models", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_us_west_2_lists_each_models_invocation_id_with_llama_3_2_through_its_profile(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "--region", "us-west-2", "--json")
    assert code == 0
    view = json.loads(out)
    models = {model["model_id"]: model for model in view["models"]}
    assert view["region"] == "us-west-2"
    llama32 = models["meta.llama3-2-11b-instruct-v1:0:128k"]
    assert (llama32["invocation_id"], llama32["invocation"]) == (
        "us.meta.llama3-2-11b-instruct-v1:0",
        "inference-profile",
    )
    llama31 = models["meta.llama3-1-8b-instruct-v1:0:128k"]
    assert (llama31["invocation_id"], llama31["invocation"]) == ("meta.llama3-1-8b-instruct-v1:0", "foundation-model")
    assert llama31["serving"] == ["provisioned"]
    # models past their end of life are listed, marked, and not fine-tunable; the fine-tunable ones come first
    assert (llama32["lifecycle"], llama32["end_of_life"], llama32["fine_tunable"]) == (
        "end-of-life",
        "2026-07-07",
        False,
    )
    assert [model["fine_tunable"] for model in view["models"]] == sorted(
        (model["fine_tunable"] for model in view["models"]), reverse=True
    )
    assert models["anthropic.claude-3-haiku-20240307-v1:0:200k"]["why_not"].startswith("Anthropic Claude 3 Haiku")
    # a price no dated source gave is None, with the reason, rather than a guess; the others name their source
    assert llama31["prices"]["training_per_1k_tokens"] is None
    assert "no dated copy of the pricing page gave them" in llama31["prices"]["note"]
    assert llama31["prices"]["on_demand_input_per_1k_tokens"]["usd"] == 0.00022
    assert llama31["prices"]["on_demand_input_per_1k_tokens"]["source"]["checked"] == "2025-07-20"
    # the judges invocable from us-west-2 go through their US profiles; the ones past end of life are refused
    judges = {judge["model_id"]: judge for judge in view["judges"]}
    assert judges["amazon.nova-pro-v1:0"]["invocation_id"] == "us.amazon.nova-pro-v1:0"
    assert judges["anthropic.claude-sonnet-4-20250514-v1:0"]["invocable"] is False


def test_us_east_1_serves_nova_on_demand_first(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--region", "us-east-1")
    assert code == 0
    lite = next(line for line in out.splitlines() if "amazon.nova-lite-v1:0:300k" in line)
    assert "on-demand/provisioned" in lite
    assert "base model as amazon.nova-lite-v1:0 " in lite
    assert "fine-tunable" in lite
    assert "amazon.nova-pro-v1:0 as amazon.nova-pro-v1:0" in out  # the judge by its plain id in us-east-1


def test_without_a_region_every_customization_region_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--json")
    assert code == 0
    assert [view["region"] for view in json.loads(out)["regions"]] == ["us-east-1", "us-west-2"]


@pytest.mark.parametrize(
    ("region", "message"),
    [
        (
            "eu-west-1",
            "error: no registry model can be fine-tuned in eu-west-1; Bedrock customizes them in us-east-1, ",
        ),
        ("mars", "error: --region 'mars' is not an AWS Region name"),
    ],
)
def test_an_unknown_region_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], region: str, message: str
) -> None:
    code, out, err = _run(capsys, "--region", region)
    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1
