"""Promotion at the end of a run: the decision the report states, and the step that refuses a stale comparison."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.contracts import ChampionAtStart, PlanEvaluationOutput, PrimaryComparison, RunState
from lambdas.serving.record import Champion, ServingKind, ServingRecord, parameter_name
from lambdas.serving.run_promotion import apply_promotion, champion_at_start, promotion_decision
from tests.unit.reporting.reporting_states import succeeded_state, with_updates

CHAMPION = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/champion"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/serving"


def _comparison(outcome: str, mean_delta: float = 1.0) -> dict[str, Any]:
    return PrimaryComparison(
        outcome=outcome, primary_metric="judge_correctness", n=40, mean_delta=mean_delta
    ).model_dump()


def _state(
    policy: str,
    versus_base: str = "improved",
    versus_champion: dict[str, Any] | None = None,
    champion: ChampionAtStart | None = None,
) -> RunState:
    state = succeeded_state()
    document = state.model_dump(mode="json", by_alias=True)
    document["run"]["settings"]["promotion"] = policy
    document["run"]["champion"] = champion.model_dump(mode="json") if champion else None
    document["summarize_evaluation"]["versus_base"] = _comparison(versus_base)
    document["summarize_evaluation"]["versus_champion"] = versus_champion
    return RunState.model_validate(document)


ON_DEMAND = ChampionAtStart(custom_model_arn=CHAMPION, run_id="first-run", deployment_arn=DEPLOYMENT)


@pytest.mark.parametrize(
    ("policy", "versus_base", "versus_champion", "champion", "decision", "words"),
    [
        ("auto", "improved", None, None, "promote", "no champion yet"),
        ("manual", "improved", None, None, "recommend", "no champion yet"),
        ("off", "improved", None, None, "skip", "promotion is off"),
        ("auto", "no_clear_difference", None, None, "skip", "not improved against the base model"),
        ("auto", "improved", _comparison("improved"), ON_DEMAND, "promote", "better than the champion"),
        ("auto", "improved", _comparison("no_clear_difference", 0.2), ON_DEMAND, "promote", "at least as high"),
        ("auto", "improved", _comparison("no_clear_difference", -0.2), ON_DEMAND, "skip", "not at least"),
        ("auto", "improved", _comparison("regressed", -2), ON_DEMAND, "skip", "worse than the champion"),
        (
            "auto",
            "improved",
            None,
            ChampionAtStart(custom_model_arn=CHAMPION, run_id="first-run"),
            "skip",
            "needs Provisioned Throughput",
        ),
    ],
    ids=[
        "first-auto",
        "first-manual",
        "off",
        "not-improved",
        "beats-champion",
        "tie-leaning-up",
        "tie-leaning-down",
        "worse-than-champion",
        "throughput-champion-not-asked",
    ],
)
def test_the_decision_table(
    policy: str,
    versus_base: str,
    versus_champion: dict[str, Any] | None,
    champion: ChampionAtStart | None,
    decision: str,
    words: str,
) -> None:
    decided = promotion_decision(_state(policy, versus_base, versus_champion, champion))
    assert decided.decision == decision
    assert words in decided.eligibility.reason
    if decision == "recommend":
        assert decided.command == f"python -m tuner promote {succeeded_state().run.run_id} --stack FineTuningStack"


def test_a_run_without_an_evaluated_model_is_never_promoted() -> None:
    state = with_updates(_state("auto"), summarize_evaluation=None)
    assert promotion_decision(state).decision == "skip"


def _record(champion_arn: str) -> ServingRecord:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return ServingRecord(
        stack_name="FineTuningStack",
        champion=Champion(
            custom_model_arn=champion_arn, base_model_id="amazon.nova-lite-v1:0:300k", run_id="r0", promoted_at=at
        ),
        deployment_arn=DEPLOYMENT,
        serving_kind=ServingKind.ON_DEMAND_DEPLOYMENT,
        updated_at=at,
    )


@mock_aws
def test_a_champion_that_changed_during_the_run_is_not_replaced_blind() -> None:
    # Given a run compared with no champion, while another run was promoted in the meantime
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name=parameter_name("FineTuningStack"), Value=_record(CHAMPION).model_dump_json(), Type="String")
    output = apply_promotion(_state("auto"), bedrock=None, ssm=ssm, s3=None)
    # Then nothing is promoted (no Bedrock call could be made: the client is None) and the command is given
    assert (output.promoted, output.decision, output.error) == (False, "recommend", None)
    assert output.message == (
        f"not promoted: the champion changed while this run was evaluated (it was compared with no champion, "
        f"{CHAMPION} serves now); to promote it anyway: python -m tuner promote {succeeded_state().run.run_id} "
        "--stack FineTuningStack"
    )


@mock_aws
def test_the_champion_a_run_starts_with_is_read_from_the_serving_record() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    assert champion_at_start(ssm, "FineTuningStack") is None
    ssm.put_parameter(Name=parameter_name("FineTuningStack"), Value=_record(CHAMPION).model_dump_json(), Type="String")
    champion = champion_at_start(ssm, "FineTuningStack")
    assert champion is not None
    assert (champion.custom_model_arn, champion.run_id, champion.deployment_arn) == (CHAMPION, "r0", DEPLOYMENT)
    ssm.put_parameter(Name=parameter_name("FineTuningStack"), Value="{not json", Type="String", Overwrite=True)
    assert champion_at_start(ssm, "FineTuningStack") is None  # an unreadable record never stops a run


def test_the_reasons_carry_the_figures_and_the_policy() -> None:
    decided = promotion_decision(_state("off"))
    assert decided.eligibility.reason == (
        "improved against the base model (improved, +1.0 on judge_correctness, n=40), and there is no champion yet; "
        "promotion is off"
    )
    throughput_champion = ChampionAtStart(custom_model_arn=CHAMPION, run_id="first-run")
    decided = promotion_decision(_state("manual", champion=throughput_champion))
    assert decided.eligibility.reason == (
        "improved against the base model (improved, +1.0 on judge_correctness, n=40), but it was not compared with "
        "the champion on the same questions; the champion needs Provisioned Throughput to answer, so it was not "
        "asked the same questions: compare the two runs' reports (tuner compare) and promote by hand"
    )
    assert (decided.decision, decided.command) == ("skip", None)
    same = ChampionAtStart(
        custom_model_arn=succeeded_state().custom_model_arn or "", run_id="r0", deployment_arn=DEPLOYMENT
    )
    assert promotion_decision(_state("auto", champion=same)).eligibility.reason == "this model already serves"


def test_the_champion_a_run_becomes_carries_what_it_won_on() -> None:
    from lambdas.serving.run_promotion import champion_of

    state = _state("auto")
    champion = champion_of(state)
    assert champion.custom_model_arn == state.custom_model_arn
    assert (champion.run_id, champion.base_model_id) == (state.run.run_id, state.run.settings.base_model_id)
    assert champion.scores == {
        "metric": "judge_correctness",
        "outcome": "improved",
        "mean_delta": 1.0,
        "ci_low": None,
        "ci_high": None,
        "n": 40,
        "mean": state.summarize_evaluation.fine_tuned.judge_mean,  # type: ignore[union-attr]
    }
    assert champion.evaluation_set_sha256 == (state.plan_evaluation.source_sha256 if state.plan_evaluation else None)


def test_a_recommended_or_skipped_run_changes_nothing() -> None:
    # No client may be used (they are None): nothing is read or written for these decisions
    manual = apply_promotion(_state("manual"), bedrock=None, ssm=None, s3=None)
    assert manual.model_dump() == {
        "decision": "recommend",
        "eligible": True,
        "reason": "improved against the base model (improved, +1.0 on judge_correctness, n=40), and there is no "
        "champion yet",
        "promoted": False,
        "deployment_arn": None,
        "message": f"eligible to serve: python -m tuner promote {succeeded_state().run.run_id} --stack FineTuningStack",
        "error": None,
    }
    skipped = apply_promotion(_state("auto", versus_base="regressed"), bedrock=None, ssm=None, s3=None)
    assert (skipped.decision, skipped.promoted, skipped.message, skipped.error) == ("skip", False, "", None)


@mock_aws
def test_a_promotion_that_fails_changes_nothing_and_gives_the_command() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    from botocore.stub import Stubber

    with Stubber(bedrock) as stubber:
        stubber.add_client_error("get_custom_model", "AccessDeniedException", "denied", 403)
        output = apply_promotion(_state("auto"), bedrock=bedrock, ssm=ssm, s3=None)
    run_id = succeeded_state().run.run_id
    assert (output.decision, output.promoted) == ("promote", False)
    assert output.error is not None
    assert output.error.startswith("AccessDeniedException: An error occurred (AccessDeniedException)")
    assert output.message == f"promotion failed; retry: python -m tuner promote {run_id} --stack FineTuningStack"
    assert ssm.describe_parameters()["Parameters"] == []  # no record was written


def test_an_eligible_run_with_promotion_auto_is_served_through_the_stacks_deployment(account: Any) -> None:
    from lambdas.serving.store import read_history, read_record
    from tests.unit.serving.test_actions import BUCKET, NOVA, STACK

    model = account.model("trained")
    document = _state("auto").model_dump(mode="json", by_alias=True)
    document["run"]["settings"]["base_model_id"] = NOVA
    document["run"]["bucket"] = BUCKET
    document["poll_customization_job"]["custom_model_arn"] = model
    state = RunState.model_validate(document)
    output = apply_promotion(state, bedrock=account.bedrock, ssm=account.ssm, s3=account.s3)
    assert (output.decision, output.promoted, output.error) == ("promote", True, None)
    assert output.deployment_arn is not None
    assert output.message.startswith(f"Promoted run {state.run.run_id} ({model}) to champion of {STACK}")
    record = read_record(account.ssm, STACK)
    assert record is not None
    assert record.champion is not None
    assert (record.champion.custom_model_arn, record.deployment_arn) == (model, output.deployment_arn)
    assert [entry.action for entry in read_history(account.s3, BUCKET)] == ["promote"]


def test_nothing_to_promote_and_a_model_that_already_serves_are_skipped_as_such() -> None:
    nothing = promotion_decision(with_updates(_state("auto"), summarize_evaluation=None))
    assert (nothing.decision, nothing.eligibility.eligible, nothing.command) == ("skip", False, None)
    assert nothing.eligibility.reason == "the run has no evaluated custom model"
    same = ChampionAtStart(custom_model_arn=succeeded_state().custom_model_arn or "", run_id="r0")
    serves = promotion_decision(_state("auto", champion=same))
    assert (serves.decision, serves.eligibility.eligible, serves.command) == ("skip", False, None)


@mock_aws
def test_the_stale_champion_message_names_both_champions() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    output = apply_promotion(
        _state("auto", versus_champion=_comparison("improved"), champion=ON_DEMAND), bedrock=None, ssm=ssm, s3=None
    )
    run_id = succeeded_state().run.run_id
    assert output.message == (
        f"not promoted: the champion changed while this run was evaluated (it was compared with {CHAMPION}, none "
        f"serves now); to promote it anyway: python -m tuner promote {run_id} --stack FineTuningStack"
    )


@mock_aws
def test_a_throughput_champion_is_not_asked_and_its_figures_travel_with_the_run() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    record = _record(CHAMPION).model_copy(
        update={
            "serving_kind": ServingKind.PROVISIONED_THROUGHPUT_NEEDED,
            # a deployment left from an earlier on-demand champion does not serve a throughput champion
            "deployment_arn": DEPLOYMENT,
            "champion": _record(CHAMPION).champion.model_copy(  # type: ignore[union-attr]
                update={"scores": {"metric": "judge_correctness", "mean": 7.5}, "evaluation_set_sha256": "ab" * 32}
            ),
        }
    )
    ssm.put_parameter(Name=parameter_name("FineTuningStack"), Value=record.model_dump_json(), Type="String")
    champion = champion_at_start(ssm, "FineTuningStack")
    assert champion == ChampionAtStart(
        custom_model_arn=CHAMPION,
        run_id="r0",
        deployment_arn=None,
        scores={"metric": "judge_correctness", "mean": 7.5},
        evaluation_set_sha256="ab" * 32,
    )
    # an on-demand record with a deployment that has no ARN yet (creation failed) is not asked either
    on_demand = _record(CHAMPION).model_copy(update={"deployment_arn": None})
    ssm.put_parameter(
        Name=parameter_name("FineTuningStack"), Value=on_demand.model_dump_json(), Type="String", Overwrite=True
    )
    assert champion_at_start(ssm, "FineTuningStack").deployment_arn is None  # type: ignore[union-attr]


def test_a_successful_promotion_is_notified(account: Any) -> None:
    from tests.unit.serving.test_actions import BUCKET, NOVA

    sns = boto3.client("sns", region_name="us-east-1")
    topic = sns.create_topic(Name="runs")["TopicArn"]
    model = account.model("notified")
    document = _state("auto").model_dump(mode="json", by_alias=True)
    document["run"]["settings"]["base_model_id"] = NOVA
    document["run"]["bucket"] = BUCKET
    document["poll_customization_job"]["custom_model_arn"] = model
    output = apply_promotion(
        RunState.model_validate(document),
        bedrock=account.bedrock,
        ssm=account.ssm,
        s3=account.s3,
        sns=sns,
        topic_arn=topic,
    )
    assert output.promoted
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns import sns_backends

    published = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].topics[topic].sent_notifications
    assert len(published) == 1
    assert model in published[0][1]


def test_a_champion_won_on_bertscore_and_a_fixed_set_carries_both() -> None:
    from lambdas.serving.run_promotion import champion_of

    document = _state("auto").model_dump(mode="json", by_alias=True)
    document["summarize_evaluation"]["versus_base"]["primary_metric"] = "bertscore_f1"
    document["plan_evaluation"] = PlanEvaluationOutput(
        questions_key="runs/r/evaluation/questions.jsonl",
        questions=40,
        shard_size=25,
        shards=[0, 1],
        source="test_set",
        source_key="eval/set.jsonl",
        source_sha256="cd" * 32,
        considered=40,
        leaked=0,
        base_invocation_id="anthropic.claude-3-haiku-20240307-v1:0",
        judge_invocation_id=None,
    ).model_dump(mode="json")
    state = RunState.model_validate(document)
    champion = champion_of(state)
    assert champion.scores["metric"] == "bertscore_f1"
    assert champion.scores["mean"] == state.summarize_evaluation.fine_tuned.bertscore_f1  # type: ignore[union-attr]
    assert champion.evaluation_set_sha256 == "cd" * 32
    without = with_updates(state, summarize_evaluation={**document["summarize_evaluation"], "versus_base": None})
    assert champion_of(without).scores == {}
