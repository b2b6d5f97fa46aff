"""The budget gate, on lambdas.pricing's estimate: over the budget, or unable to price it, is a rejection."""

from __future__ import annotations

from lambdas.contracts import CheckStatus
from lambdas.preflight.budget import RunSize, check_budget
from lambdas.pricing import estimate_run_cost
from lambdas.settings import PipelineSettings
from tests.unit.preflight.conftest import LLAMA, NOVA

SIZE = RunSize(training_tokens=200_000, train_records=400, validation_records=50, questions=20)
# Every price the Nova on-demand estimate needs that the registry has no dated figure for
NOVA_PRICES = {"training_usd_per_1k_tokens": 0.002, "custom_model_storage_usd_per_month": 1.95}


def _nova(**values: object) -> PipelineSettings:
    return PipelineSettings(base_model_id=NOVA, **values)  # type: ignore[arg-type]


def _estimate(settings: PipelineSettings) -> float:
    total = estimate_run_cost(
        settings, "us-east-1", estimated_training_tokens=200_000, training_records=400, evaluation_questions=20
    ).total_usd
    assert total is not None
    return total


def test_no_budget_is_no_gate_but_the_estimate_is_reported() -> None:
    check = check_budget(_nova(), region="us-east-1", size=SIZE)
    assert check.status is CheckStatus.PASSED
    assert check.message.startswith("no budget set (max_run_cost_usd); estimated $")
    assert "or more" in check.message  # training and storage have no list price: a lower bound


def test_a_complete_estimate_within_the_budget_passes() -> None:
    settings = _nova(prices=NOVA_PRICES)
    total = _estimate(settings)
    check = check_budget(_nova(prices=NOVA_PRICES, max_run_cost_usd=total + 0.01), region="us-east-1", size=SIZE)
    assert check.status is CheckStatus.PASSED
    assert "within" in check.message


def test_an_estimate_over_the_budget_is_rejected_with_its_breakdown() -> None:
    settings = _nova(prices=NOVA_PRICES)
    total = _estimate(settings)
    check = check_budget(_nova(prices=NOVA_PRICES, max_run_cost_usd=total / 2), region="us-east-1", size=SIZE)
    assert check.status is CheckStatus.FAILED
    assert "is over the budget of" in check.message
    for part in ("training $", "capacity $", "evaluation $", "storage per month $"):
        assert part in check.message
    assert check.fix is not None
    assert "raise max_run_cost_usd" in check.fix


def test_the_priced_part_alone_over_the_budget_is_rejected_even_with_prices_missing() -> None:
    # Llama 3.1 has no dated training, throughput or storage price: what can be priced (the answers) is a lower bound
    check = check_budget(PipelineSettings(base_model_id=LLAMA, max_run_cost_usd=0.0001), region="us-west-2", size=SIZE)
    assert check.status is CheckStatus.FAILED
    assert "or more, is over the budget of $0.0001" in check.message
    assert "not priced: " in check.message


def test_a_budget_that_cannot_be_checked_is_rejected_rather_than_waved_through() -> None:
    # A large budget, but no throughput or training price: the estimate could be anything above its priced part
    check = check_budget(PipelineSettings(base_model_id=LLAMA, max_run_cost_usd=500), region="us-west-2", size=SIZE)
    assert check.status is CheckStatus.FAILED
    assert check.message.startswith("the budget cannot be checked")
    assert "Provisioned Throughput per model unit hour" in check.message
    assert check.fix is not None
    assert "provisioned_throughput_usd_per_hour" in check.fix
    assert "or unset max_run_cost_usd" in check.fix
