"""The report's cost section: what the run cost, estimated from list prices and what the run used.

Training: the validator's billed tokens (training tokens x epochs). Capacity: Provisioned Throughput's model units x
started hours, or an on-demand deployment's tokens (the fine-tuned model's answers, counted by Converse).
Evaluation: the base model's answers (counted) and the judge's calls (estimated from characters: approximate).
Storage: the custom model's monthly price while it exists. Prices and the arithmetic are ``lambdas.pricing``'s;
the token counts come from evaluation.json, so the report function (a zip Lambda) needs nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable

from lambdas.contracts import RunState
from lambdas.evaluation.results import EvaluatedItem, EvaluationResult, ScoredAnswer
from lambdas.pricing import (
    CHARACTERS_PER_TOKEN,
    CostEstimate,
    CostPart,
    ModelPrices,
    Price,
    combine_parts,
    epochs_of,
    estimate_provisioned_throughput_cost,
    estimate_storage_cost,
    estimate_token_cost,
    estimate_training_cost,
    judge_call_tokens,
    judge_prices,
    list_prices,
    no_cost,
    run_region,
    total_cost,
)
from lambdas.registry import Serving
from lambdas.reporting.model import CapacitySection, CostSection

EMULATED_COSTS = (
    "EMULATED: the token counts and times are the local emulator's; the prices are real list prices, so these "
    "figures show what such a run would cost, not what this one did"
)
ENDED_EARLY = ("Failed", "Stopped", "Stopping")


def run_costs(state: RunState, evaluation: EvaluationResult | None, capacity: CapacitySection | None) -> CostSection:
    """Every part of the run's cost that can be estimated from the state and evaluation.json, with its label."""
    run = state.run
    settings = run.settings
    spec = settings.model
    job = state.start_customization_job
    reevaluated = run.reevaluation.custom_model_arn if run.reevaluation else None
    region = run_region(spec, reevaluated, job.job_arn if job else None, capacity.arn if capacity else None)
    prices = list_prices(spec.model_id, region, settings.prices)
    estimate = total_cost(
        model_id=spec.model_id,
        region=region,
        training=_training(state, prices),
        capacity=_capacity(state, evaluation, capacity, prices),
        evaluation=_evaluation(state, evaluation, prices, region),
        storage_per_month=_storage(state, prices),
        when="after-run",
    )
    return CostSection(
        **estimate.model_dump(), label=cost_label(estimate, emulated=run.emulated), emulated=run.emulated
    )


def cost_label(estimate: CostEstimate, *, emulated: bool) -> str:
    """How to read every figure of the estimate: its prices' date, and EMULATED for a local rehearsal."""
    if estimate.sources:
        label = prices_label(price for part in estimate.parts for price in part.prices)
    elif estimate.total_usd == 0:
        label = "estimated: no billed step ran"
    else:
        label = "not estimated: no prices known"
    return f"{EMULATED_COSTS}; {label}" if emulated else label


def part_label(part: CostPart) -> str:
    """One part's label: ``estimated, list prices as of 2026-09-01``, or why it has no figure."""
    if part.usd is None:
        return "not estimated: no " + ("; no ".join(part.missing) if part.missing else "figures to estimate it from")
    if not part.prices:
        return "nothing billed" if part.usd == 0 else "estimated (see how)"
    label = prices_label(part.prices)
    return f"{label}; at least (no {'; no '.join(part.missing)})" if part.missing else label


def prices_label(prices: Iterable[Price]) -> str:
    """``estimated, list prices as of 2026-09-01`` (the oldest used), naming configured prices when there are any."""
    used = list(prices)
    listed = [price.as_of for price in used if not price.configured]
    configured = [price.as_of for price in used if price.configured]
    words = []
    if listed:
        oldest = min((day for day in listed if day is not None), default=None)
        words.append(f"list prices as of {oldest}" if oldest else "list prices")
    if configured:
        day = min((day for day in configured if day is not None), default=None)
        words.append("prices set in fine_tuning.prices" + (f" as of {day}" if day else ""))
    return "estimated, " + " and ".join(words) if words else "estimated"


# ---------------------------------------------------------------------------------------------------- the parts


NO_TRAINING = "no training: a re-evaluation of an existing custom model"


def storage_per_month(state: RunState, custom_model_arn: str) -> CostPart:
    """What keeping ``custom_model_arn`` costs per month, whether or not this run created it (a re-evaluation's
    model was created by its source run); ``usd`` None when no storage price is known."""
    settings = state.run.settings
    job = state.start_customization_job
    region = run_region(settings.model, custom_model_arn, job.job_arn if job else None)
    return estimate_storage_cost(list_prices(settings.model.model_id, region, settings.prices))


def _training(state: RunState, prices: ModelPrices) -> CostPart:
    if state.run.is_reevaluation:
        return no_cost("training", NO_TRAINING)
    job = state.start_customization_job
    if job is None:
        return no_cost("training", "no customization job was started")
    dataset = state.validate_dataset
    epochs_text = job.hyperparameters.get("epochCount")
    epochs = int(float(epochs_text)) if epochs_text else epochs_of(state.run.settings)
    part = estimate_training_cost(
        prices, billed_tokens=dataset.estimated_training_tokens if dataset else None, epochs=epochs
    )
    poll = state.poll_customization_job
    if poll is not None and poll.status in ENDED_EARLY:
        part = part.model_copy(
            update={"basis": f"{part.basis} (the job ended {poll.status}: Bedrock bills the tokens it processed)"}
        )
    return part


def _capacity(
    state: RunState, evaluation: EvaluationResult | None, capacity: CapacitySection | None, prices: ModelPrices
) -> CostPart:
    if capacity is None or capacity.arn is None:
        return no_cost("capacity", "no inference capacity was bought")
    if capacity.kind is Serving.PROVISIONED_THROUGHPUT:
        part = estimate_provisioned_throughput_cost(
            prices,
            model_units=capacity.model_units or state.run.settings.provisioned_model_units,
            lifetime_seconds=capacity.lifetime_seconds,
        )
        if part.usd is None and capacity.estimated_cost_usd is not None:
            # The delete step priced it (with the prices of its day): better than nothing, and it says so.
            return CostPart(
                name="capacity",
                usd=capacity.estimated_cost_usd,
                basis=f"{part.basis.split(';')[0]}, as DeleteInferenceCapacity estimated it",
            )
        return part
    # An on-demand deployment bills the tokens the fine-tuned model used, nothing for the time it existed.
    if evaluation is None:
        if not state.generate_answers:
            return no_cost("capacity", "on-demand deployment: no question was asked of it")
        return _unread("capacity", "the fine-tuned model's token counts (evaluation.json could not be read)")
    tokens_in, tokens_out, estimated = _answer_tokens(evaluation.items, "fine_tuned")
    return estimate_token_cost(
        prices,
        name="capacity",
        what=f"on-demand deployment, {_answered(evaluation.items, 'fine_tuned')} fine-tuned answers",
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        approximate=estimated,
    )


def _evaluation(
    state: RunState, evaluation: EvaluationResult | None, prices: ModelPrices, region: str | None
) -> CostPart:
    if evaluation is None:
        if not state.generate_answers:
            return no_cost("evaluation", "no question was asked")
        return _unread("evaluation", "the answers' token counts (evaluation.json could not be read)")
    tokens_in, tokens_out, estimated = _answer_tokens(evaluation.items, "base")
    pieces = [
        estimate_token_cost(
            prices,
            name="base answers",
            what=f"base model, {_answered(evaluation.items, 'base')} answers",
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            approximate=estimated,
        )
    ]
    if evaluation.judge_model_id:
        judge = judge_prices(evaluation.judge_model_id, region, state.run.settings.prices)
        calls, judge_in, judge_out = _judge_tokens(evaluation.items)
        pieces.append(
            estimate_token_cost(
                judge,
                name="judge",
                what=f"judge {evaluation.judge_model_id}, {calls} calls (tokens from characters / "
                f"{CHARACTERS_PER_TOKEN}: approximate)",
                input_tokens=judge_in,
                output_tokens=judge_out,
                approximate=True,
            )
        )
    return combine_parts(pieces, name="evaluation")


def _storage(state: RunState, prices: ModelPrices) -> CostPart:
    if state.run.is_reevaluation:  # the model is stored whether or not it is evaluated again
        return no_cost("storage_per_month", f"{NO_TRAINING}: it adds no stored model")
    poll = state.poll_customization_job
    if poll is None or not poll.custom_model_arn:
        return no_cost("storage_per_month", "no custom model was created")
    return estimate_storage_cost(prices)


def _unread(name: str, what: str) -> CostPart:
    return CostPart(name=name, usd=None, basis=f"not estimated: no {what}", missing=(what,))


# ------------------------------------------------------------------------------------------------- token counts


def _role(item: EvaluatedItem, role: str) -> ScoredAnswer:
    return item.base if role == "base" else item.fine_tuned


def _answered(items: list[EvaluatedItem], role: str) -> int:
    return sum(1 for item in items if _role(item, role).answer is not None)


def _answer_tokens(items: list[EvaluatedItem], role: str) -> tuple[int, int, bool]:
    """(input, output, estimated): Converse's counts; characters / 4 for an answer whose counts were not kept."""
    tokens_in = tokens_out = 0
    estimated = False
    for item in items:
        answer = _role(item, role)
        if answer.answer is None:
            continue  # a failed call bills nothing
        if answer.input_tokens is None or answer.output_tokens is None:
            estimated = True
        tokens_in += answer.input_tokens if answer.input_tokens is not None else _chars(item.question)
        tokens_out += answer.output_tokens if answer.output_tokens is not None else _chars(answer.answer)
    return tokens_in, tokens_out, estimated


def _judge_tokens(items: list[EvaluatedItem]) -> tuple[int, int, int]:
    """(calls, input, output) of the judges over the items, estimated from the texts they were given and wrote.

    Every attempt sends the whole prompt again; the reply kept is the last one, counted once per attempt.
    """
    calls = tokens_in = tokens_out = 0
    for item in items:
        facts = len(item.question) + len(item.reference)
        for answer in (item.base, item.fine_tuned):
            verdict = answer.judge
            if verdict is None or answer.answer is None:
                continue
            attempts = max(verdict.attempts, 1)
            one_in, one_out = judge_call_tokens("correctness", facts + len(answer.answer), len(verdict.reasoning))
            calls += attempts
            tokens_in += attempts * one_in
            tokens_out += attempts * one_out
        pairwise = item.pairwise
        if pairwise is not None and pairwise.attempts and item.base.answer and item.fine_tuned.answer:
            texts = facts + len(item.base.answer) + len(item.fine_tuned.answer)
            one_in, _ = judge_call_tokens("pairwise", texts, 0)
            _, reply_out = judge_call_tokens("pairwise", 0, len(pairwise.reasoning))  # both orders' replies, kept
            calls += pairwise.attempts
            tokens_in += pairwise.attempts * one_in
            tokens_out += reply_out * max(pairwise.attempts // 2, 1)
    return calls, tokens_in, tokens_out


def _chars(text: str) -> int:
    return -(-len(text) // CHARACTERS_PER_TOKEN)
