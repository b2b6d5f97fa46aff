"""The report's "What next": for every run that failed or did not end improved, what to do now, with the run's own
values and the command, in report.json, report.md, report.html and the notification; nothing for an improved run."""

from __future__ import annotations

import re
from datetime import date

import pytest

from lambdas.contracts import Reevaluation, RunState, RunStatus
from lambdas.evaluation.results import EvaluationResult
from lambdas.evaluation.verdict import MetricStatistics, Outcome, Verdict, decide
from lambdas.reporting.build import build_report
from lambdas.reporting.model import ExecutionEnd, NextStepKind, Report
from lambdas.reporting.publish import notification_message
from lambdas.reporting.render import render_html, render_markdown
from lambdas.settings import PipelineSettings, PriceSettings
from tests.unit.reporting.reporting_states import (
    RUN_ID,
    T0,
    evaluation_result,
    lambda_cause,
    run_config,
    succeeded_state,
    validated,
    with_updates,
)

MODEL_ARN = "arn:aws:bedrock:us-west-2:123456789012:custom-model/m1"
REEVALUATE = (
    f"python -m tuner evaluate --custom-model {MODEL_ARN} --run {RUN_ID} --bucket data-bucket --region us-west-2"
)
DELETE_MODEL = f"aws bedrock delete-custom-model --model-identifier {MODEL_ARN} --region us-west-2"
DROP_AGAIN = "aws s3 cp faq.jsonl s3://data-bucket/incoming/faq.jsonl"
JUDGE_ERROR = "AccessDeniedException: You don't have access to the model with the specified model ID."


# ------------------------------------------------------------------------------------------------------ givens


def stats(
    n: int,
    *,
    asked: int | None = None,
    mean: float,
    ci: tuple[float, float],
    sd: float = 1.0,
    first_error: str | None = None,
) -> MetricStatistics:
    asked = asked if asked is not None else n
    return MetricStatistics(
        name="judge_correctness",
        n=n,
        asked=asked,
        coverage=n / asked,
        mean_delta=mean,
        ci_low=ci[0],
        ci_high=ci[1],
        wins=n // 2,
        ties=0,
        losses=n - n // 2,
        p_value=0.5,
        sd_delta=sd,
        first_error=first_error,
    )


def verdict_of(metric: MetricStatistics) -> Verdict:
    """The verdict the evaluation step would write, by its own rules (judge correctness, min effect 0.5)."""
    return decide([metric], primary_metric="judge_correctness", min_effect=0.5)


IMPROVED = verdict_of(stats(40, mean=1.3, ci=(0.6, 2.0)))
REGRESSED = verdict_of(stats(40, mean=-1.2, ci=(-1.8, -0.6)))
JUDGE_OUTAGE = verdict_of(stats(4, asked=40, mean=0.5, ci=(-0.5, 1.5), first_error=JUDGE_ERROR))
TOO_FEW = verdict_of(stats(4, mean=1.0, ci=(-0.5, 2.5)))
NEEDS_MORE = verdict_of(stats(40, mean=0.2, ci=(-0.4, 0.8), sd=1.5))  # about 71 questions would show +0.5
NO_GAIN = verdict_of(stats(200, mean=0.02, ci=(-0.1, 0.15), sd=0.9))  # large enough: there is just no gain


def settings(**updates: object) -> PipelineSettings:
    return PipelineSettings.model_validate({"base_model_id": "anthropic.claude-3-haiku-20240307-v1:0:200k", **updates})


PRICED = settings(prices=PriceSettings(custom_model_storage_usd_per_month=1.95, as_of=date(2026, 9, 1)))


def evaluated(verdict: Verdict, *, state: RunState | None = None, **run_updates: object) -> tuple[RunState, Report]:
    """A run that reached its verdict; the state's summary carries the same outcome, as SummarizeEvaluation writes."""
    state = state or succeeded_state()
    summary = state.summarize_evaluation
    assert summary is not None
    state = state.model_copy(
        update={
            "run": state.run.model_copy(update=run_updates),
            "summarize_evaluation": summary.model_copy(
                update={"outcome": verdict.outcome.value, "reason": verdict.reason}
            ),
        }
    )
    result: EvaluationResult = evaluation_result().model_copy(update={"verdict": verdict})
    return state, build_report(state, now=T0, evaluation=result)


def failed_in_generation(**run_updates: object) -> RunState:
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
    return state.model_copy(update={"run": state.run.model_copy(update=run_updates)})


def reevaluation_state(**run_updates: object) -> RunState:
    """A re-evaluation of the model run ``faq-source`` trained: no job, no training metrics; its own run id."""
    state = succeeded_state()
    run = state.run.model_copy(
        update={
            "run_id": "m1-again-0123456789ab",
            "source_key": "reevaluate/m1-again.json",
            "reevaluation": Reevaluation(
                custom_model_arn=MODEL_ARN, source_run_id="faq-source", request_key="reevaluate/m1-again.json"
            ),
            **run_updates,
        }
    )
    dataset = validated().model_copy(
        update={"records": 0, "train_records": 0, "validation_records": 0, "test_records": 0}
    )
    return state.model_copy(
        update={
            "run": run,
            "validate_dataset": dataset,
            "start_customization_job": None,
            "poll_customization_job": None,
            "read_training_metrics": None,
        }
    )


def kinds(report: Report) -> list[NextStepKind]:
    return [step.kind for step in report.next_steps]


def what_next(markdown: str) -> str:
    assert markdown.count("## What next") == 1
    return markdown[markdown.index("## What next") :]


# ------------------------------------------------------------------------- a custom model exists: re-evaluate it


def test_a_run_that_failed_after_training_says_the_model_exists_what_it_costs_and_how_to_evaluate_it_again():
    # Given a run whose answers could not all be generated after its custom model was trained, storage priced
    report = build_report(failed_in_generation(settings=PRICED), now=T0)
    # Then What next: evaluate the model again (no retraining), what keeping it costs, how to delete it
    assert report.status is RunStatus.FAILED
    assert kinds(report) == [NextStepKind.REEVALUATE, NextStepKind.KEEP_MODEL, NextStepKind.DELETE_MODEL]
    first, keep, delete = report.next_steps
    assert first.text == (
        "The run failed at GenerateAnswers after training had completed, so the custom model need not be trained "
        "again. Once the cause above is fixed, evaluate it again:"
    )
    assert first.command == REEVALUATE
    assert keep.text == (
        f"Custom model {MODEL_ARN} still exists: keeping it costs $1.95 per month "
        "(estimated, prices set in fine_tuning.prices as of 2026-09-01)."
    )
    assert keep.command is None
    assert (delete.text, delete.command) == ("If you do not want it, delete it:", DELETE_MODEL)
    assert report.custom_model is not None
    assert report.custom_model.storage_usd_per_month == 1.95
    assert report.custom_model.trained_by_run == RUN_ID
    # And report.md ends with it, each command in its own block
    markdown = render_markdown(report)
    assert markdown.rstrip().endswith(f"   {DELETE_MODEL}\n   ```")
    assert f"1. {first.text}\n\n   ```sh\n   {REEVALUATE}\n   ```" in what_next(markdown)


def test_without_a_storage_price_the_report_says_so_instead_of_inventing_one():
    report = build_report(failed_in_generation(), now=T0)  # no list price of storage for this model, none set
    keep = next(step for step in report.next_steps if step.kind is NextStepKind.KEEP_MODEL)
    assert keep.text == (
        f"Custom model {MODEL_ARN} still exists and is billed for storage every month until you delete it "
        "(storage price unknown)."
    )
    assert report.custom_model is not None
    assert report.custom_model.storage_usd_per_month is None
    assert "$" not in keep.text


def test_a_local_rehearsal_labels_the_storage_price_emulated():
    state = failed_in_generation(settings=PRICED, emulated=True)
    keep = next(step for step in build_report(state, now=T0).next_steps if step.kind is NextStepKind.KEEP_MODEL)
    assert keep.text.endswith("(EMULATED: estimated, prices set in fine_tuning.prices as of 2026-09-01).")


def test_a_run_that_used_a_fixed_test_set_is_evaluated_again_on_the_same_set():
    fixed = settings(evaluation={"test_set": "eval/support-v2.jsonl"})
    report = build_report(failed_in_generation(settings=fixed), now=T0)
    assert report.next_steps[0].command == f"{REEVALUATE} --test-set eval/support-v2.jsonl"


def test_capacity_that_could_not_be_deleted_comes_first_with_its_delete_command():
    state = with_updates(
        failed_in_generation(),
        delete_inference_capacity=None,
        errors={"DeleteInferenceCapacity": {"Error": "AccessDeniedException", "Cause": "not allowed"}},
    )
    report = build_report(state, now=T0)
    first = report.next_steps[0]
    assert first.kind is NextStepKind.DELETE_CAPACITY
    assert first.command == (
        "aws bedrock delete-provisioned-model-throughput --provisioned-model-id "
        "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt123"
    )
    # the clean-up list says the same thing with the same command (one function makes both)
    assert any(line.endswith(first.command) for line in report.failure.cleanup)


# ------------------------------------------------------------------------------------ inconclusive and why


def test_inconclusive_for_the_judge_names_the_judge_and_says_fixing_access_and_evaluating_again_is_enough():
    _, report = evaluated(JUDGE_OUTAGE)
    assert report.verdict is not None
    assert report.verdict.outcome is Outcome.INCONCLUSIVE
    assert kinds(report) == [NextStepKind.FIX_JUDGE, NextStepKind.KEEP_MODEL, NextStepKind.DELETE_MODEL]
    step = report.next_steps[0]
    assert step.text == (
        "The judge amazon.nova-pro-v1:0 scored only 4 of 40 questions (first error: AccessDeniedException: You don't "
        "have access to the model with the specified model ID): fix access to that judge. Then evaluating the same "
        "custom model again is enough, without training:"
    )
    assert step.command == REEVALUATE


def test_inconclusive_for_too_few_questions_asks_for_a_larger_fixed_set():
    _, report = evaluated(TOO_FEW)
    step = report.next_steps[0]
    assert step.kind is NextStepKind.MORE_QUESTIONS
    assert step.text == (
        "Only 4 questions were scored on both models; a verdict needs at least 10. Upload at least 10 questions "
        "to s3://data-bucket/eval/FILE.jsonl, then evaluate the same custom model on them, without training:"
    )
    assert step.command == f"{REEVALUATE} --test-set eval/FILE.jsonl"


def test_no_clear_difference_on_too_small_a_set_says_how_many_questions_are_needed():
    _, report = evaluated(NEEDS_MORE)
    assert report.verdict is not None
    assert report.verdict.outcome is Outcome.NO_CLEAR_DIFFERENCE
    assert report.verdict.questions_needed == 71
    step = report.next_steps[0]
    assert step.kind is NextStepKind.MORE_QUESTIONS
    # 71 is above the evaluation's cap of 50 questions: the cap must be raised too, or 50 is all that is asked
    assert step.text == (
        "40 questions are too few to show a difference: about 71 are needed. Upload at least 71 questions to "
        "s3://data-bucket/eval/FILE.jsonl (and raise evaluation.max_test_records, now 50, to at least 71), then "
        "evaluate "
        "the same custom model on them, without training:"
    )
    assert step.command == f"{REEVALUATE} --test-set eval/FILE.jsonl"


def test_no_clear_difference_on_a_large_enough_set_says_what_to_change_before_training_again():
    _, report = evaluated(NO_GAIN)
    assert kinds(report) == [NextStepKind.CHANGE_TRAINING, NextStepKind.KEEP_MODEL, NextStepKind.DELETE_MODEL]
    assert report.next_steps[0].text.startswith("Fine-tuning made no clear difference on 200 questions.")
    assert all(step.command != REEVALUATE for step in report.next_steps)


def test_regressed_gives_one_line_on_what_to_change_with_this_runs_own_settings():
    _, report = evaluated(REGRESSED)
    assert kinds(report) == [NextStepKind.CHANGE_TRAINING, NextStepKind.KEEP_MODEL, NextStepKind.DELETE_MODEL]
    step = report.next_steps[0]
    assert step.text == (
        "The fine-tuned model did worse than its base model. Before training again, try more (or more varied) "
        "training data, fewer epochs (this run: 10) or a lower learning rate."
    )
    assert step.command is None


def test_an_improved_run_has_no_what_next():
    _, report = evaluated(IMPROVED)
    assert report.status is RunStatus.SUCCEEDED
    assert report.next_steps == []
    assert "What next" not in render_markdown(report)
    assert "What next" not in render_html(report)
    assert "What next" not in notification_message(report, bucket="data-bucket", output=None)


# ----------------------------------------------------------------------------------- retention deletes the model


def test_when_retention_deletes_the_model_nothing_offers_to_evaluate_it_again():
    # Given delete-unless-improved and an inconclusive verdict: ApplyRetention deletes the model after the report
    _, report = evaluated(JUDGE_OUTAGE, settings=settings(custom_model_retention="delete-unless-improved"))
    assert report.custom_model is not None
    assert report.custom_model.deleted_after_report is True
    assert kinds(report) == [NextStepKind.FIX_JUDGE, NextStepKind.MODEL_DELETED]
    fix, deleted = report.next_steps
    assert fix.text.endswith(
        "The custom model is deleted after this report, so evaluating again means training again: drop the "
        "dataset again:"
    )
    assert fix.command == DROP_AGAIN
    assert deleted.text == (
        f"Custom model {MODEL_ARN} is deleted right after this report: the verdict is inconclusive "
        "(custom_model_retention delete-unless-improved); evaluating it again would mean training again."
    )
    assert all("tuner evaluate" not in (step.command or "") for step in report.next_steps)
    assert all("delete-custom-model" not in (step.command or "") for step in report.next_steps)


# -------------------------------------------------------------------------------------- before any custom model


def test_a_failed_training_job_gives_its_failure_message_and_the_command_to_drop_again():
    poll = succeeded_state().poll_customization_job.model_dump(mode="json")
    state = with_updates(
        succeeded_state(),
        poll_customization_job={
            **poll,
            "status": "Failed",
            "custom_model_arn": None,
            "failure_message": "Training data has 3 records longer than 32,000 tokens.",
        },
        read_training_metrics=None,
        create_inference_capacity=None,
        poll_inference_capacity=None,
        delete_inference_capacity=None,
        summarize_evaluation=None,
    )
    report = build_report(state, now=T0)
    assert report.custom_model is None
    assert kinds(report) == [NextStepKind.FIX_AND_DROP_AGAIN]
    step = report.next_steps[0]
    assert step.text == (
        "The customization job ended Failed: Training data has 3 records longer than 32,000 tokens. Fix that in "
        "the dataset or the settings, then drop the dataset again:"
    )
    assert step.command == DROP_AGAIN


def test_a_step_that_failed_before_training_points_at_it_and_to_dropping_again():
    state = RunState(
        run=run_config(),
        validate_dataset=validated(),
        errors={"StartCustomizationJob": {"Error": "ServiceQuotaExceededException", "Cause": "too many jobs"}},
    )
    report = build_report(state, now=T0)
    assert [(s.kind, s.text, s.command) for s in report.next_steps] == [
        (
            NextStepKind.FIX_AND_DROP_AGAIN,
            "No custom model was created. Fix what went wrong at StartCustomizationJob, then drop the dataset again:",
            DROP_AGAIN,
        )
    ]


def test_a_rejected_dataset_points_at_its_problems_instead_of_repeating_them():
    report = build_report(RunState(run=run_config(), validate_dataset=validated(valid=False)), now=T0)
    assert [(s.kind, s.text, s.command) for s in report.next_steps] == [
        (
            NextStepKind.FIX_AND_DROP_AGAIN,
            "Nothing was bought. Fix the 2 problem(s) in the dataset (listed under Dataset; every one, with its "
            f"line, in s3://data-bucket/runs/{RUN_ID}/validation.json), then drop the dataset again:",
            DROP_AGAIN,
        )
    ]
    assert "role_order" not in report.next_steps[0].text  # the problems are listed once, under Dataset


def test_a_preflight_rejection_reuses_the_checks_fix_instead_of_a_second_copy():
    from lambdas.contracts import CheckStatus, PreflightCheck, PreflightOutput

    fix = "request a quota increase for custom model jobs in us-west-2"
    preflight = PreflightOutput(
        passed=False,
        region="us-west-2",
        checks=[
            PreflightCheck(
                check="quota",
                subject="concurrent customization jobs",
                status=CheckStatus.FAILED,
                message="2 of 2 in use",
                fix=fix,
            )
        ],
        checked_at=T0,
    )
    report = build_report(RunState(run=run_config(), validate_dataset=validated(), preflight=preflight), now=T0)
    step = report.next_steps[0]
    assert step.text == (
        "Nothing was bought. Do what the failed preflight check (quota) says under What went wrong, then drop the "
        "dataset again:"
    )
    assert fix not in step.text
    assert fix in report.failure.failures[0].message  # where the fix is said, once


# --------------------------------------------------------------------------------------------- stopped by hand


def stopped(state: RunState) -> Report:
    ended = ExecutionEnd(status="ABORTED", step="GenerateAnswers", cleanup=["The cleanup deleted capacity."])
    return build_report(state, now=T0, ended=ended)


def test_a_run_stopped_before_training_ended_has_no_what_next():
    state = RunState(run=run_config(), validate_dataset=validated())
    report = stopped(state)
    assert report.status is RunStatus.ABORTED
    assert report.next_steps == []
    assert "What next" not in render_markdown(report)


def test_a_run_stopped_after_training_keeps_its_model_and_says_how_to_finish_the_evaluation():
    # Given delete: but a stopped execution never reaches ApplyRetention, so the model stays
    report = stopped(
        failed_in_generation(settings=settings(custom_model_retention="delete")).model_copy(update={"errors": {}})
    )
    assert report.custom_model is not None
    assert report.custom_model.deleted_after_report is False
    assert report.custom_model.retention == (
        "kept: the run was stopped before its retention step (which would have deleted it: "
        "custom_model_retention is delete)"
    )
    assert report.job is not None
    assert report.job.retention == report.custom_model.retention
    assert kinds(report) == [NextStepKind.REEVALUATE, NextStepKind.KEEP_MODEL, NextStepKind.DELETE_MODEL]
    assert report.next_steps[0].text == (
        "The run was stopped after training had completed, so the custom model need not be trained again. To "
        "finish the evaluation, evaluate it again:"
    )
    assert report.next_steps[0].command == REEVALUATE


# ----------------------------------------------------------------------------------------------- re-evaluation


def test_a_re_evaluation_says_so_first_and_shows_no_training_sections():
    _, report = evaluated(REGRESSED, state=reevaluation_state())
    markdown = render_markdown(report)
    lines = markdown.splitlines()
    assert lines[2] == f"**Re-evaluation of {MODEL_ARN} (trained by run faq-source)**"
    assert "No training: re-evaluation." in markdown
    for section in ("## Customization job", "## Dataset", "### Hyperparameters", "## Loss"):
        assert section not in markdown
    page = render_html(report)
    assert f'<p class="reevaluation">Re-evaluation of {MODEL_ARN} (trained by run faq-source)</p>' in page
    assert page.index('class="reevaluation"') < page.index("<h2")  # at the top, before any section
    assert "<h2>Customization job</h2>" not in page
    assert "<h2>Training</h2><p>No training: re-evaluation." in page
    # the cost table says why nothing was trained or stored
    assert report.cost is not None
    assert report.cost.training.basis == "no training: a re-evaluation of an existing custom model"
    assert report.cost.storage_per_month.usd == 0


def test_a_re_evaluation_never_offers_to_retrain_and_evaluates_the_named_model_again():
    source_command = REEVALUATE.replace(f"--run {RUN_ID}", "--run faq-source")
    # regressed: nothing about training (it trained nothing); the model's cost and delete command remain
    _, regressed = evaluated(REGRESSED, state=reevaluation_state())
    assert kinds(regressed) == [NextStepKind.KEEP_MODEL, NextStepKind.DELETE_MODEL]
    assert regressed.custom_model is not None
    assert regressed.custom_model.arn == MODEL_ARN
    assert regressed.custom_model.trained_by_run == "faq-source"
    assert regressed.custom_model.deleted_after_report is False
    assert regressed.custom_model.retention.startswith("kept: a re-evaluation never deletes the model it evaluates")
    # too few questions: the same model on a larger set, its source run's test split as the leakage reference
    _, too_few = evaluated(TOO_FEW, state=reevaluation_state())
    assert too_few.next_steps[0].command == f"{source_command} --test-set eval/FILE.jsonl"
    # failed: run the re-evaluation again
    failed = build_report(failed_in_generation().model_copy(update={"run": reevaluation_state().run}), now=T0)
    assert failed.next_steps[0].text == (
        "The re-evaluation failed at GenerateAnswers. Once the cause above is fixed, run it again:"
    )
    assert failed.next_steps[0].command == source_command
    for report in (regressed, too_few, failed):
        texts = " ".join(step.text for step in report.next_steps).lower()
        assert "training again" not in texts
        assert "drop the dataset" not in texts
        assert all(step.kind is not NextStepKind.CHANGE_TRAINING for step in report.next_steps)


def test_a_re_evaluation_on_a_fixed_set_without_a_source_run_names_the_set_again():
    state = reevaluation_state(settings=settings(evaluation={"test_set": "eval/support-v2.jsonl"}))
    reevaluation = state.run.reevaluation.model_copy(update={"source_run_id": None})
    state = state.model_copy(update={"run": state.run.model_copy(update={"reevaluation": reevaluation})})
    _, report = evaluated(JUDGE_OUTAGE, state=state)
    assert report.next_steps[0].command == (
        f"python -m tuner evaluate --custom-model {MODEL_ARN} --bucket data-bucket --region us-west-2 "
        "--test-set eval/support-v2.jsonl"
    )
    assert render_markdown(report).splitlines()[2] == f"**Re-evaluation of {MODEL_ARN} (training run not named)**"


def test_a_rejected_re_evaluation_request_says_to_send_it_again():
    state = reevaluation_state().model_copy(
        update={
            "validate_dataset": validated(valid=False),
            "create_inference_capacity": None,
            "poll_inference_capacity": None,
            "delete_inference_capacity": None,
            "summarize_evaluation": None,
        }
    )
    report = build_report(state, now=T0)
    assert report.status is RunStatus.REJECTED
    assert report.headline.startswith("re-evaluation request rejected: ")
    assert [(s.kind, s.text) for s in report.next_steps] == [
        (
            NextStepKind.FIX_REQUEST,
            "Nothing was bought. Fix the re-evaluation request as What went wrong says, then send it again:",
        )
    ]
    assert report.next_steps[0].command == REEVALUATE.replace(f"--run {RUN_ID}", "--run faq-source")


# ------------------------------------------------------------------------------------ renderings and the message


def test_report_json_carries_the_steps_as_data():
    _, report = evaluated(TOO_FEW)
    document = Report.model_validate_json(report.model_dump_json())
    assert document.next_steps == report.next_steps
    assert document.model_dump(mode="json")["next_steps"][0] == {
        "kind": "more-questions",
        "text": report.next_steps[0].text,
        "command": f"{REEVALUATE} --test-set eval/FILE.jsonl",
    }


def test_an_older_report_json_without_steps_still_reads():
    _, report = evaluated(TOO_FEW)
    document = report.model_dump(mode="json")
    for key in ("next_steps", "custom_model"):
        document.pop(key)
    document["run"].pop("reevaluation")
    assert Report.model_validate(document).next_steps == []


def test_html_ends_with_what_next_and_each_command_wraps_inside_its_own_box():
    report = build_report(failed_in_generation(settings=PRICED), now=T0)
    page = render_html(report)
    assert page.count('<h2 id="what-next">What next</h2>') == 1
    # the last section of the page, linked from the summary at the top
    assert page.index('id="what-next"') > page.index("<h2>Settings</h2>")
    assert '<a href="#what-next">at the end of this report</a>' in page
    assert f'<pre class="command"><code>{REEVALUATE}</code></pre>' in page
    # long ARNs and commands wrap inside their box on a phone instead of widening the page
    css = re.search(r"pre\.command\{[^}]*\}", page)
    assert css is not None
    assert "white-space:pre-wrap" in css.group(0)
    assert "overflow-wrap:anywhere" in css.group(0)


def test_commands_are_escaped_in_html_and_quoted_for_the_shell():
    state = failed_in_generation()
    state = state.model_copy(update={"run": state.run.model_copy(update={"source_key": "incoming/my <data>.jsonl"})})
    state = with_updates(
        state,
        poll_customization_job={
            **state.poll_customization_job.model_dump(mode="json"),
            "status": "Failed",
            "custom_model_arn": None,
        },
        errors={},
        create_inference_capacity=None,
        poll_inference_capacity=None,
        delete_inference_capacity=None,
    )
    report = build_report(state, now=T0)
    assert report.next_steps[0].command == "aws s3 cp 'my <data>.jsonl' 's3://data-bucket/incoming/my <data>.jsonl'"
    page = render_html(report)
    assert "aws s3 cp &#x27;my &lt;data&gt;.jsonl&#x27;" in page
    assert "<data>" not in page


@pytest.mark.parametrize("emulated", [False, True])
def test_the_notification_lists_the_same_steps_briefly(emulated):
    report = build_report(failed_in_generation(settings=PRICED, emulated=emulated), now=T0)
    message = notification_message(report, bucket="data-bucket", output=None)
    tail = message[message.index("What next:") :]
    assert tail.splitlines()[1:5] == [
        f"  1. {report.next_steps[0].text}",
        f"     {REEVALUATE}",
        f"  2. {report.next_steps[1].text}",
        "  3. If you do not want it, delete it:",
    ]
    assert ("EMULATED: estimated" in tail) is emulated


def test_the_notification_built_from_the_state_alone_still_says_what_to_do():
    # Given the notification's view of an inconclusive run: no evaluation.json, so no verdict figures
    state, _ = evaluated(JUDGE_OUTAGE)
    report = build_report(state, now=T0)  # as notify builds it
    assert report.verdict is None
    step = report.next_steps[0]
    assert step.kind is NextStepKind.REEVALUATE
    assert step.text == (
        "The verdict is inconclusive: its reason above says why. Evaluate the same custom model again, without "
        "training:"
    )
    assert step.command == REEVALUATE
    message = notification_message(report, bucket="data-bucket", output=None)
    assert "judge scored 4 of 40 questions" in message  # the reason, in the headline
    assert f"     {REEVALUATE}" in message


def test_a_re_evaluation_notification_names_the_model_and_its_request():
    _, report = evaluated(TOO_FEW, state=reevaluation_state())
    message = notification_message(report, bucket="data-bucket", output=None)
    assert f"Re-evaluation of {MODEL_ARN} (trained by run faq-source): no training." in message
    assert "Request: s3://data-bucket/reevaluate/m1-again.json" in message


def test_the_report_and_the_notification_say_how_a_drop_was_read() -> None:
    base = succeeded_state()
    assert base.validate_dataset is not None
    converted = with_updates(
        base,
        validate_dataset=base.validate_dataset.model_copy(
            update={"read_as": "json-array", "gzip": True, "prepared_from_raw_qa": True}
        ).model_dump(mode="json"),
    )
    sentence = (
        "The drop was decompressed (gzip), read as a JSON array, converted from question/answer pairs to the "
        "model's training format."
    )
    report = build_report(converted, now=T0)
    assert sentence in render_markdown(report)
    assert sentence in notification_message(report, bucket="data-bucket", output=None)
    plain = build_report(base.model_copy(), now=T0)
    assert "The drop was" not in render_markdown(plain)
