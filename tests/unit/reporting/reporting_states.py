"""State documents at the ends of a run (succeeded, failed at each kind of step, rejected), built from the contracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lambdas.contracts import (
    CreateInferenceCapacityOutput,
    DeleteInferenceCapacityOutput,
    PollCustomizationJobOutput,
    PollInferenceCapacityOutput,
    Problem,
    ReadTrainingMetricsOutput,
    RunConfig,
    RunState,
    ScoreSummary,
    StartCustomizationJobOutput,
    SummarizeEvaluationOutput,
    ValidateDatasetOutput,
)
from lambdas.evaluation.results import (
    BertScoreValue,
    EvaluatedItem,
    EvaluationResult,
    InferenceParameters,
    JudgeVerdict,
    ModelRole,
    ScoredAnswer,
    summarize,
)
from lambdas.registry import Serving
from lambdas.settings import PipelineSettings

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RUN_ID = "faq-20260301-0900"
JOB_ARN = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/abc123"
PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt123"


def run_config(*, emulated: bool = False) -> RunConfig:
    return RunConfig(
        run_id=RUN_ID,
        bucket="data-bucket",
        source_key="incoming/faq.jsonl",
        received_at=T0,
        stack_name="FineTuningStack",
        settings=PipelineSettings(base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k"),
        serving=Serving.PROVISIONED_THROUGHPUT,
        emulated=emulated,
    )


def validated(valid: bool = True) -> ValidateDatasetOutput:
    if not valid:
        return ValidateDatasetOutput(
            valid=False,
            records=40,
            error_count=2,
            warning_count=0,
            first_errors=[
                Problem(line=4, code="role_order", message='message 1 must have role "user"'),
                Problem(line=17, code="empty_content", message="message 2 has empty content"),
            ],
            report_key=f"runs/{RUN_ID}/validation.json",
        )
    return ValidateDatasetOutput(
        valid=True,
        records=117,
        error_count=0,
        warning_count=1,
        report_key=f"runs/{RUN_ID}/validation.json",
        train_key=f"runs/{RUN_ID}/data/train.jsonl",
        validation_key=f"runs/{RUN_ID}/data/validation.jsonl",
        test_key=f"runs/{RUN_ID}/data/test.jsonl",
        train_records=85,
        validation_records=32,
        test_records=4,
    )


def evaluation_result() -> EvaluationResult:
    items = [
        EvaluatedItem(
            index=0,
            question="What is <b>Bedrock</b> & why?",
            reference="A managed service | for FMs.",
            base=ScoredAnswer(
                answer="A <script>alert('x')</script> platform.",
                bertscore=BertScoreValue(precision=0.6, recall=0.7, f1=0.65),
                judge=JudgeVerdict(score=3, reasoning="Vague. Rating: [[3]]", attempts=1),
            ),
            fine_tuned=ScoredAnswer(
                answer="A fully managed service\nfor foundation models.",
                bertscore=BertScoreValue(precision=0.8, recall=0.8, f1=0.8),
                judge=JudgeVerdict(score=8, reasoning="Matches. Rating: [[8]]", attempts=1),
            ),
        ),
        EvaluatedItem(
            index=1,
            question="What are Agents?",
            reference="Agents run multistep tasks.",
            base=ScoredAnswer(answer=None, error="ValidationException: too long"),
            fine_tuned=ScoredAnswer(
                answer="They run tasks.",
                bertscore=BertScoreValue(precision=0.7, recall=0.6, f1=0.64),
                judge=JudgeVerdict(score=None, reasoning="garbage", attempts=3, error="it has no rating"),
            ),
        ),
    ]
    return EvaluationResult(
        run_id=RUN_ID,
        base_model_id="anthropic.claude-3-haiku-20240307-v1:0",
        fine_tuned_model_id=PT_ARN,
        bertscore_model="all-MiniLM-L6-v2",
        bertscore_num_layers=6,
        judge_model_id="amazon.nova-pro-v1:0",
        inference=InferenceParameters(max_tokens=512, temperature=0.0, top_p=0.9),
        items=items,
        base=summarize(items, ModelRole.BASE),
        fine_tuned=summarize(items, ModelRole.FINE_TUNED),
        evaluated_at=T0 + timedelta(hours=3),
    )


def succeeded_state(*, emulated: bool = False) -> RunState:
    result = evaluation_result()
    return RunState(
        run=run_config(emulated=emulated),
        validate_dataset=validated(),
        start_customization_job=StartCustomizationJobOutput(
            job_arn=JOB_ARN,
            job_name=f"ft-{RUN_ID}",
            custom_model_name=f"ft-model-{RUN_ID}",
            output_s3_uri=f"s3://data-bucket/runs/{RUN_ID}/job-output/",
            hyperparameters={"epochCount": "10", "batchSize": "8"},
            started_at=T0,
        ),
        poll_customization_job=PollCustomizationJobOutput(
            status="Completed",
            polls=12,
            wait_seconds=900,
            custom_model_arn="arn:aws:bedrock:us-west-2:123456789012:custom-model/m1",
            checked_at=T0 + timedelta(hours=2),
        ),
        read_training_metrics=ReadTrainingMetricsOutput(
            metrics_key=f"runs/{RUN_ID}/training_metrics.json", training_points=21, validation_points=7
        ),
        create_inference_capacity=CreateInferenceCapacityOutput(
            kind=Serving.PROVISIONED_THROUGHPUT,
            arn=PT_ARN,
            name=f"pt-{RUN_ID}",
            model_units=1,
            created_at=T0 + timedelta(hours=2),
        ),
        poll_inference_capacity=PollInferenceCapacityOutput(
            status="InService",
            ready=True,
            failed=False,
            polls=20,
            wait_seconds=60,
            checked_at=T0 + timedelta(hours=2.4),
        ),
        summarize_evaluation=SummarizeEvaluationOutput(
            evaluation_key=f"runs/{RUN_ID}/evaluation.json",
            items=2,
            base=result.base,
            fine_tuned=result.fine_tuned,
            bertscore_model="all-MiniLM-L6-v2",
            judge_model_id="amazon.nova-pro-v1:0",
            outcome="inconclusive",
            reason="only 2 questions were scored on both models; at least 10 are needed",
        ),
        delete_inference_capacity=DeleteInferenceCapacityOutput(
            kind=Serving.PROVISIONED_THROUGHPUT,
            arn=PT_ARN,
            deleted=True,
            already_gone=False,
            deleted_at=T0 + timedelta(hours=2.5),
            lifetime_seconds=1800.0,
            estimated_cost_usd=132.0,
        ),
    )


def with_updates(state: RunState, **updates: Any) -> RunState:
    return RunState.model_validate({**state.model_dump(mode="json", by_alias=True), **updates})


def lambda_cause(error_type: str, message: str) -> str:
    return f'{{"errorMessage": "{message}", "errorType": "{error_type}", "stackTrace": ["  File x"]}}'


def empty_summary() -> ScoreSummary:
    return ScoreSummary(items=0, scored_items=0)
