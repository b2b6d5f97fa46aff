"""Report status rules, failure explanations, and the training-metrics reading."""

from __future__ import annotations

import pytest

from lambdas.contracts import RunState, RunStatus
from lambdas.lifecycle.metrics import parse_loss_csv
from lambdas.reporting.build import build_report, parse_training_metrics, run_status
from tests.unit.reporting.reporting_states import (
    PT_ARN,
    T0,
    empty_summary,
    evaluation_result,
    lambda_cause,
    run_config,
    succeeded_state,
    validated,
    with_updates,
)


def test_a_complete_run_succeeds_with_scores_and_cost_in_the_headline():
    report = build_report(succeeded_state(), now=T0, evaluation=evaluation_result())
    assert report.status is RunStatus.SUCCEEDED
    assert report.failure is None
    # the verdict leads (here: too few questions for one), then the estimated cost: a lower bound, since this run's
    # training, judge and storage prices are not known (the capacity is the delete step's estimate)
    assert report.headline == (
        "inconclusive: only 2 questions were scored on both models; at least 10 are needed; est. cost at least $132.00"
    )
    assert report.capacity is not None
    assert report.capacity.lifetime_seconds == 1800.0
    assert report.hyperparameters == {"epochCount": "10", "batchSize": "8"}


def test_an_invalid_dataset_is_rejected_with_its_first_errors():
    state = RunState(run=run_config(), validate_dataset=validated(valid=False))
    report = build_report(state, now=T0)
    assert report.status is RunStatus.REJECTED
    assert report.headline == 'dataset rejected: 2 error(s) (first: line 4: message 1 must have role "user")'
    assert report.failure is not None
    assert report.failure.failures[0].error == "DatasetRejected"
    assert "No customization job was started: nothing was billed for training." in report.failure.cleanup
    assert "No inference capacity was bought." in report.failure.cleanup


@pytest.mark.parametrize(
    ("updates", "step"),
    [
        ({"errors": {"StartCustomizationJob": {"Error": "QuotaExceededError", "Cause": "x"}}}, "StartCustomizationJob"),
        (
            {
                "poll_customization_job": {
                    **succeeded_state().poll_customization_job.model_dump(mode="json"),
                    "status": "Failed",
                    "failure_message": "bad data",
                }
            },
            "PollCustomizationJob",
        ),
        (
            {
                "poll_customization_job": {
                    **succeeded_state().poll_customization_job.model_dump(mode="json"),
                    "status": "Stopped",
                }
            },
            "PollCustomizationJob",
        ),
        (
            {
                "poll_inference_capacity": {
                    **succeeded_state().poll_inference_capacity.model_dump(mode="json"),
                    "status": "Failed",
                    "ready": False,
                    "failed": True,
                }
            },
            "PollInferenceCapacity",
        ),
    ],
    ids=["step-error", "job-failed", "job-stopped", "capacity-failed"],
)
def test_failures_make_the_run_failed_and_name_the_step(updates, step):
    state = with_updates(succeeded_state(), **updates)
    report = build_report(state, now=T0)
    assert run_status(state) is RunStatus.FAILED
    assert report.failure is not None
    assert report.failure.failures[0].step == step
    assert report.headline.startswith(f"failed at {step}: ")


def test_a_lambda_error_cause_is_reduced_to_its_message_and_cleanup_is_reported():
    # Given an evaluation that crashed and a capacity the delete step removed
    state = with_updates(
        succeeded_state(),
        summarize_evaluation=None,
        errors={
            "GenerateAnswers": {
                "Error": "TransientServiceError",
                "Cause": lambda_cause("TransientServiceError", "3 of 8 answers are still missing"),
            }
        },
    )
    report = build_report(state, now=T0)
    assert report.status is RunStatus.FAILED
    failure = report.failure.failures[0]
    assert (failure.step, failure.error, failure.message) == (
        "GenerateAnswers",
        "TransientServiceError",
        "3 of 8 answers are still missing",
    )
    assert f"Deleted provisioned-throughput {PT_ARN}." in report.failure.cleanup


def test_a_capacity_that_could_not_be_deleted_is_shouted_about():
    state = with_updates(
        succeeded_state(),
        delete_inference_capacity=None,
        errors={"DeleteInferenceCapacity": {"Error": "AccessDeniedException", "Cause": "not allowed"}},
    )
    report = build_report(state, now=T0)
    assert report.status is RunStatus.FAILED
    line = next(line for line in report.failure.cleanup if line.startswith("NOT DELETED"))
    assert PT_ARN in line
    assert "(not allowed)" in line
    assert f"--provisioned-model-id {PT_ARN}" in line


def test_a_run_that_never_reached_evaluation_is_not_a_success():
    state = with_updates(succeeded_state(), summarize_evaluation=None)
    assert run_status(state) is RunStatus.FAILED


def test_evaluation_summary_from_the_state_is_used_when_evaluation_json_is_missing():
    state = with_updates(succeeded_state())
    report = build_report(state, now=T0, evaluation=None)
    assert report.evaluation is not None
    assert report.evaluation.items == []
    assert report.evaluation.fine_tuned.bertscore_f1 == pytest.approx(0.72)
    assert report.evaluation.fine_tuned_model_id == PT_ARN
    assert empty_summary().items == 0


def test_training_metrics_in_the_lifecycle_shape_and_a_looser_shape_are_both_read(reference_run):
    # Given the reference study's CSVs as the lifecycle step stores them
    training = parse_loss_csv((reference_run / "step_wise_training_metrics.csv").read_text())
    validation = parse_loss_csv((reference_run / "validation_metrics.csv").read_text())
    loose = {
        "training": [p.model_dump() for p in training] + [{"step": "x", "epoch": 1, "loss": 1.0}],
        "validation": [p.model_dump() for p in validation],
    }
    # When read leniently (one bad point among them)
    metrics = parse_training_metrics(loose)
    # Then the per-epoch means are those the study plotted: 7 epochs, training loss falling from 1.32 to 0.35
    assert metrics is not None
    assert [e.epoch for e in metrics.training_epoch_means] == [1, 2, 3, 4, 5, 6, 7]
    assert metrics.training_epoch_means[0].mean_loss == pytest.approx(1.3181, abs=1e-4)
    assert metrics.training_epoch_means[-1].mean_loss == pytest.approx(0.3533, abs=1e-4)
    assert metrics.validation_epoch_means[0].mean_loss == pytest.approx(2.5327, abs=1e-4)
    assert len(metrics.training) == 21
    assert parse_training_metrics("not an object") is None


def test_an_undeleted_on_demand_deployment_gets_its_own_delete_command():
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/d1"
    created = succeeded_state().create_inference_capacity.model_dump(mode="json")
    state = with_updates(
        succeeded_state(),
        create_inference_capacity={
            **created,
            "kind": "custom-model-deployment",
            "arn": deployment,
            "model_units": None,
        },
        delete_inference_capacity=None,
        errors={"DeleteInferenceCapacity": {"Error": "States.Timeout", "Cause": ""}},
    )
    line = next(line for line in build_report(state, now=T0).failure.cleanup if line.startswith("NOT DELETED"))
    assert line.endswith(
        f"aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {deployment}"
    )


def test_the_headline_and_the_notification_lead_with_the_verdict_even_without_evaluation_json():
    # Given a succeeded run whose evaluation.json the notification does not read (it builds from the state alone)
    report = build_report(succeeded_state(), now=T0, evaluation=None)
    # Then the headline is the verdict the SummarizeEvaluation step carried in the state, with its reason
    assert report.headline.startswith("inconclusive: only 2 questions were scored on both models")
