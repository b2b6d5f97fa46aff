"""Promotion at the end of a run: the decision (a pure function of the run's state, so the report states it) and the
Promote step that carries it out after the report.

The decision reads the eligibility rule of ``lambdas.serving.promotion`` with the run's comparisons (against the base
model, and against the champion when the champion answered the same questions) and the ``promotion`` policy. The
step promotes only when the decision is ``promote`` *and* the champion is still the one the run was compared with: a
champion that changed while the run was evaluated (another run promoted, a rollback) makes the comparison stale, and
the run is then left for a person to promote by hand.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from lambdas.clock import utc_now
from lambdas.contracts import ChampionAtStart, PrimaryComparison, PromoteOutput, RunState
from lambdas.evaluation.verdict import Outcome
from lambdas.observability import logger
from lambdas.serving.actions import promote
from lambdas.serving.promotion import Comparison, Decision, Eligibility, decide, eligibility
from lambdas.serving.record import Champion, Score, ServingKind
from lambdas.serving.store import read_record


class PromotionDecision(NamedTuple):
    decision: Decision
    eligibility: Eligibility
    command: str | None  # the command a person runs to promote by hand (manual policy, or a stale champion)


def promote_command(run_id: str, stack_name: str) -> str:
    return f"python -m tuner promote {run_id} --stack {stack_name}"


def _comparison(value: PrimaryComparison) -> Comparison:
    return Comparison(
        outcome=Outcome(value.outcome), primary_metric=value.primary_metric, n=value.n, mean_delta=value.mean_delta
    )


def promotion_decision(state: RunState) -> PromotionDecision:
    run = state.run
    policy = run.settings.promotion
    summary = state.summarize_evaluation
    if state.custom_model_arn is None or summary is None or summary.versus_base is None:
        nothing = Eligibility(eligible=False, reason="the run has no evaluated custom model")
        return PromotionDecision("skip", nothing, None)
    if run.champion is not None and run.champion.custom_model_arn == state.custom_model_arn:
        return PromotionDecision("skip", Eligibility(eligible=False, reason="this model already serves"), None)
    versus_champion = _comparison(summary.versus_champion) if summary.versus_champion else None
    result = eligibility(_comparison(summary.versus_base), versus_champion, has_champion=run.champion is not None)
    if run.champion is not None and versus_champion is None and run.champion.deployment_arn is None:
        result = Eligibility(
            eligible=False,
            reason=f"{result.reason}; the champion needs Provisioned Throughput to answer, so it was not asked the "
            "same questions: compare the two runs' reports (tuner compare) and promote by hand",
        )
    decision = decide(policy, result)
    if policy == "off":
        result = Eligibility(eligible=result.eligible, reason=f"{result.reason}; promotion is off")
    command = promote_command(run.run_id, run.stack_name) if decision == "recommend" else None
    return PromotionDecision(decision, result, command)


def champion_of(state: RunState) -> Champion:
    """The run's model as the champion it becomes, with the figures it won on."""
    run = state.run
    summary = state.summarize_evaluation
    assert summary is not None
    assert state.custom_model_arn is not None
    scores: dict[str, Score] = {}
    if summary.versus_base is not None:
        scores = {
            "metric": summary.versus_base.primary_metric,
            "outcome": summary.versus_base.outcome,
            "mean_delta": summary.versus_base.mean_delta,
            "ci_low": summary.versus_base.ci_low,
            "ci_high": summary.versus_base.ci_high,
            "n": summary.versus_base.n,
        }
        own = {"judge_correctness": summary.fine_tuned.judge_mean, "bertscore_f1": summary.fine_tuned.bertscore_f1}
        if own.get(summary.versus_base.primary_metric) is not None:
            scores["mean"] = own[summary.versus_base.primary_metric]
    plan = state.plan_evaluation
    return Champion(
        custom_model_arn=state.custom_model_arn,
        base_model_id=run.settings.base_model_id,
        run_id=run.run_id,
        promoted_at=utc_now(),
        scores=scores,
        evaluation_set_sha256=plan.source_sha256 if plan else None,
    )


def apply_promotion(
    state: RunState, *, bedrock: Any, ssm: Any, s3: Any, sns: Any = None, topic_arn: str | None = None
) -> PromoteOutput:
    """Carry out the decision. A promotion that fails changes nothing and is reported, never raised: the report and
    the notification still go out, and the message gives the command to retry by hand."""
    run = state.run
    decided = promotion_decision(state)
    output = PromoteOutput(
        decision=decided.decision, eligible=decided.eligibility.eligible, reason=decided.eligibility.reason
    )
    if decided.decision == "recommend":
        return output.model_copy(update={"message": f"eligible to serve: {decided.command}"})
    if decided.decision != "promote":
        return output
    retry = promote_command(run.run_id, run.stack_name)
    try:
        record = read_record(ssm, run.stack_name)
        serving_now = record.champion.custom_model_arn if record is not None and record.champion else None
        compared_with = run.champion.custom_model_arn if run.champion else None
        if serving_now != compared_with:
            return output.model_copy(
                update={
                    "decision": "recommend",
                    "message": f"not promoted: the champion changed while this run was evaluated (it was compared "
                    f"with {compared_with or 'no champion'}, {serving_now or 'none'} serves now); to promote it "
                    f"anyway: {retry}",
                }
            )
        change = promote(
            bedrock,
            ssm,
            s3,
            stack_name=run.stack_name,
            bucket=run.bucket,
            champion=champion_of(state),
            by="state-machine",
            reason=decided.eligibility.reason,
            sns=sns,
            topic_arn=topic_arn,
        )
    except Exception as error:  # any failure is reported in the notification, never raised
        return output.model_copy(
            update={"error": f"{type(error).__name__}: {error}"[:1000], "message": f"promotion failed; retry: {retry}"}
        )
    return output.model_copy(
        update={"promoted": True, "deployment_arn": change.deployment_arn, "message": change.message}
    )


def champion_at_start(ssm: Any, stack_name: str) -> ChampionAtStart | None:
    """The champion a new run is compared with: what the serving record names when the run starts. A record that
    cannot be read is logged and treated as no champion: the run still evaluates against the base model, and its
    promotion (which reads the record again) is then refused as stale rather than made blind."""
    try:
        record = read_record(ssm, stack_name)
    except Exception:  # logged; never stops a run
        logger.exception("the serving record could not be read; the run is compared with the base model only")
        return None
    if record is None or record.champion is None:
        return None
    champion = record.champion
    return ChampionAtStart(
        custom_model_arn=champion.custom_model_arn,
        run_id=champion.run_id,
        deployment_arn=record.deployment_arn if record.serving_kind is ServingKind.ON_DEMAND_DEPLOYMENT else None,
        scores=dict(champion.scores),
        evaluation_set_sha256=champion.evaluation_set_sha256,
    )
