"""The report's cost section: each part from what the run used, rendered with its label (EMULATED when local)."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from lambdas.contracts import (
    CreateInferenceCapacityOutput,
    DeleteInferenceCapacityOutput,
    GenerateAnswersShardOutput,
    PollCustomizationJobOutput,
    RunState,
    StartCustomizationJobOutput,
    SummarizeEvaluationOutput,
    WriteReportOutput,
)
from lambdas.evaluation.results import (
    EvaluatedItem,
    EvaluationResult,
    InferenceParameters,
    JudgeVerdict,
    ModelRole,
    ScoredAnswer,
    summarize,
)
from lambdas.pricing import CORRECTNESS_PROMPT_CHARS
from lambdas.registry import Serving
from lambdas.reporting.build import build_report
from lambdas.reporting.publish import notification_message
from lambdas.reporting.render import render_html, render_markdown
from lambdas.settings import PipelineSettings, PriceSettings
from tests.unit.reporting.reporting_states import RUN_ID, T0, run_config, validated

REGION_ARN = "arn:aws:bedrock:us-east-1:123456789012"
JOB_ARN = f"{REGION_ARN}:model-customization-job/amazon.nova-lite-v1:0:300k/abc"
DEPLOYMENT_ARN = f"{REGION_ARN}:custom-model-deployment/dep1"
QUESTION, REFERENCE = "Q?", "R."
BASE_ANSWER, TUNED_ANSWER = "base", "tuned"


def nova_state(*, emulated: bool = False) -> RunState:
    """Nova Lite served on demand; training and storage priced by the setting, tokens by the list prices."""
    settings = PipelineSettings(
        base_model_id="amazon.nova-lite-v1:0:300k",
        prices=PriceSettings(training_usd_per_1k_tokens=0.002, custom_model_storage_usd_per_month=1.95),
    )
    run = run_config(emulated=emulated).model_copy(
        update={"settings": settings, "serving": Serving.CUSTOM_MODEL_DEPLOYMENT}
    )
    result = evaluation()
    return RunState(
        run=run,
        validate_dataset=validated().model_copy(update={"estimated_training_tokens": 52_000}),
        start_customization_job=StartCustomizationJobOutput(
            job_arn=JOB_ARN,
            job_name=f"ft-{RUN_ID}",
            custom_model_name=f"ft-model-{RUN_ID}",
            output_s3_uri=f"s3://data-bucket/runs/{RUN_ID}/job-output/",
            hyperparameters={"epochCount": "2"},
            started_at=T0,
        ),
        poll_customization_job=PollCustomizationJobOutput(
            status="Completed",
            polls=5,
            wait_seconds=60,
            custom_model_arn=f"{REGION_ARN}:custom-model/m1",
            checked_at=T0 + timedelta(minutes=45),
            ended_at=T0 + timedelta(minutes=40),
        ),
        create_inference_capacity=CreateInferenceCapacityOutput(
            kind=Serving.CUSTOM_MODEL_DEPLOYMENT, arn=DEPLOYMENT_ARN, name="dep", created_at=T0 + timedelta(hours=1)
        ),
        generate_answers=[
            GenerateAnswersShardOutput(
                shard=0, questions=1, answered_base=1, answered_fine_tuned=1, reused=0, generated=2
            )
        ],
        summarize_evaluation=SummarizeEvaluationOutput(
            evaluation_key=f"runs/{RUN_ID}/evaluation.json",
            items=1,
            base=result.base,
            fine_tuned=result.fine_tuned,
            bertscore_model="all-MiniLM-L6-v2",
            judge_model_id="amazon.nova-pro-v1:0",
            outcome="inconclusive",
            reason="one question",
        ),
        delete_inference_capacity=DeleteInferenceCapacityOutput(
            kind=Serving.CUSTOM_MODEL_DEPLOYMENT,
            arn=DEPLOYMENT_ARN,
            deleted=True,
            already_gone=False,
            deleted_at=T0 + timedelta(hours=1, minutes=10),
            lifetime_seconds=600.0,
        ),
    )


def evaluation() -> EvaluationResult:
    items = [
        EvaluatedItem(
            index=0,
            question=QUESTION,
            reference=REFERENCE,
            base=ScoredAnswer(
                answer=BASE_ANSWER,
                judge=JudgeVerdict(score=3, reasoning="ok", attempts=1),
                input_tokens=1_000,
                output_tokens=2_000,
            ),
            fine_tuned=ScoredAnswer(
                answer=TUNED_ANSWER,
                judge=JudgeVerdict(score=8, reasoning="good", attempts=1),
                input_tokens=1_000,
                output_tokens=3_000,
            ),
        )
    ]
    return EvaluationResult(
        run_id=RUN_ID,
        base_model_id="amazon.nova-lite-v1:0",
        fine_tuned_model_id=DEPLOYMENT_ARN,
        bertscore_model="all-MiniLM-L6-v2",
        bertscore_num_layers=6,
        judge_model_id="amazon.nova-pro-v1:0",
        inference=InferenceParameters(max_tokens=512, temperature=0.0, top_p=0.9),
        items=items,
        base=summarize(items, ModelRole.BASE),
        fine_tuned=summarize(items, ModelRole.FINE_TUNED),
        evaluated_at=T0 + timedelta(hours=2),
    )


def _judge_tokens_in() -> int:
    facts = len(QUESTION) + len(REFERENCE)
    return sum(
        math.ceil((CORRECTNESS_PROMPT_CHARS + facts + len(answer)) / 4) for answer in (BASE_ANSWER, TUNED_ANSWER)
    )


def test_each_part_is_computed_from_what_the_run_used() -> None:
    report = build_report(nova_state(), now=T0, evaluation=evaluation())
    cost = report.cost
    assert cost is not None
    # training: 52,000 billed tokens (x 2 epochs) x the configured $0.002 per 1,000
    assert cost.training.usd == pytest.approx(0.104)
    assert "(training tokens x 2 epochs)" in cost.training.basis
    # capacity (on-demand deployment): the fine-tuned answers' 1,000 tokens in x $0.00006 + 3,000 out x $0.00024
    assert cost.capacity.usd == pytest.approx(0.00006 + 0.00072)
    # evaluation: the base answers (1,000 in, 2,000 out, Nova Lite) + the judge's two calls, estimated from
    # characters / 4 (the reasoning "ok" and "good": one token each), at Nova Pro's $0.0008 / $0.0032
    judge = (_judge_tokens_in() * 0.0008 + 2 * 0.0032) / 1000
    assert cost.evaluation.usd == pytest.approx(0.00006 + 0.00048 + judge, abs=1e-6)
    assert cost.evaluation.approximate
    assert "judge amazon.nova-pro-v1:0, 2 calls" in cost.evaluation.basis
    # storage: the configured $1.95 a month; total: all four, every price known
    assert cost.storage_per_month.usd == 1.95
    assert cost.total_usd == pytest.approx(0.104 + 0.00078 + 0.00054 + judge + 1.95, abs=1e-5)
    assert cost.complete
    assert (cost.region, cost.when, cost.emulated) == ("us-east-1", "after-run", False)
    assert cost.label == "estimated, list prices as of 2026-09-01 and prices set in fine_tuning.prices"
    # and the job's end and duration
    assert report.job is not None
    assert (report.job.ended_at, report.job.duration_seconds) == (T0 + timedelta(minutes=40), 2400.0)
    assert report.dataset is not None
    assert report.dataset.epochs == 2


def test_a_run_that_bought_nothing_cost_nothing_and_says_why() -> None:
    state = RunState(run=run_config(), validate_dataset=validated(valid=False))
    cost = build_report(state, now=T0).cost
    assert cost is not None
    assert (cost.total_usd, cost.complete, cost.label) == (0.0, True, "estimated: no billed step ran")
    assert cost.training.basis == "no customization job was started"
    assert cost.capacity.basis == "no inference capacity was bought"


def test_without_evaluation_json_the_answers_tokens_are_named_as_missing() -> None:
    # The Notify step builds the report from the state alone: it has no token counts
    cost = build_report(nova_state(), now=T0).cost
    assert cost is not None
    assert cost.evaluation.usd is None
    assert cost.evaluation.missing == ("the answers' token counts (evaluation.json could not be read)",)
    assert cost.complete is False


def test_the_cost_table_is_rendered_with_its_labels_in_markdown_and_html() -> None:
    report = build_report(nova_state(), now=T0, evaluation=evaluation())
    markdown = render_markdown(report)
    section = markdown[markdown.index("## Inference capacity and cost") :]
    assert "**estimated, list prices as of 2026-09-01 and prices set in fine_tuning.prices.**" in section
    assert (
        "| Training | ~$0.10 | 52,000 billed tokens (training tokens x 2 epochs) x $0.002 per 1,000 tokens | "
        "estimated, prices set in fine_tuning.prices |"
    ) in section
    assert "| Inference capacity | $0.00078 | on-demand deployment, 1 fine-tuned answers:" in section
    assert "| estimated, list prices as of 2026-09-01 |" in section
    assert "| Custom model storage, per month | $1.95 | one custom model x $1.95 per month |" in section
    assert "| Total (training + capacity + evaluation + one month of storage) | ~$2.06 |" in section
    # the overview leads with the total; the dataset says the billed tokens count every epoch; the job its end
    assert "| Estimated cost | $2.06 in total; estimated, list prices as of 2026-09-01" in markdown
    assert "| est. billed training tokens (x 2 epochs) |" in markdown
    assert "| Ended | 2026-03-01T09:40:00+00:00 |" in markdown
    assert "| Duration | 40 min 00 s |" in markdown
    page = render_html(report)
    assert '<h2 id="cost">Inference capacity and cost</h2>' in page
    assert '<table class="cost">' in page
    assert '<th>Training</th><td class="num">~$0.10</td>' in page
    assert "estimated, prices set in fine_tuning.prices" in page


def test_a_local_run_labels_its_costs_emulated() -> None:
    report = build_report(nova_state(emulated=True), now=T0, evaluation=evaluation())
    assert report.cost is not None
    assert report.cost.emulated
    assert report.cost.label.startswith("EMULATED: the token counts and times are the local emulator's")
    assert report.cost.total_usd is not None
    markdown = render_markdown(report)
    assert "## Inference capacity and cost (EMULATED)" in markdown
    assert "**EMULATED: the token counts and times are the local emulator's;" in markdown
    assert '<p class="emulated">EMULATED: the token counts' in render_html(report)


def test_the_notification_has_one_cost_line_from_the_written_report() -> None:
    report = build_report(nova_state(), now=T0)  # as Notify builds it: no evaluation.json
    message = notification_message(report, bucket="b", output=None)
    assert "Estimated cost: at least $2.05 in total (not priced: capacity, evaluation);" in message
    written = WriteReportOutput(
        status=report.status, report_key="k", markdown_key="m", html_key="h", summary="s", cost="$2.06 in total; x"
    )
    assert "Estimated cost: $2.06 in total; x" in notification_message(report, bucket="b", output=written)
