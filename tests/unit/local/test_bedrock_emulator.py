"""The local Bedrock emulator, called through real boto3 clients on its loopback endpoints.

Every response goes through botocore's parser (and the emulator's own check against the service model), so these
tests also prove the wire shapes. Time is simulated: the tests move the clock, not the wall.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.evaluation.judge import bedrock_pairwise_judge, parse_choice, parse_rating
from lambdas.evaluation.prompts import JUDGE_INSTRUCTIONS, PAIRWISE_INSTRUCTIONS
from lambdas.evaluation.results import Preference
from lambdas.lifecycle.metrics import load_job_metrics, parse_loss_csv
from tuner.local.bedrock import answers
from tuner.local.bedrock.emulator import EmulatedBedrock
from tuner.local.bedrock.protocol import RestJsonService, check_shape
from tuner.local.bedrock.server import EmulatorServers
from tuner.local.scenarios import BedrockBehaviour
from tuner.local.simclock import SimulatedClock

REGION = "us-east-1"
BUCKET = "emulator-test-bucket"
TRAIN_KEY = "runs/r1/data/train.jsonl"
ROLE = "arn:aws:iam::123456789012:role/bedrock"
NOVA = "amazon.nova-lite-v1:0:300k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA31 = "meta.llama3-1-8b-instruct-v1:0:128k"
REPO_ROOT = Path(__file__).resolve().parents[3]
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})

QA = [
    ("Which bucket prefix starts a run?", "Uploading a JSONL file under incoming/ starts a run."),
    ("How long may capacity live?", "Four hours by default; the sweeper deletes anything older."),
    ("What does the judge return?", "A rating from 1 to 10 in double square brackets."),
]


def _nova_record(question: str, answer: str) -> str:
    return json.dumps(
        {
            "schemaVersion": "bedrock-conversation-2024",
            "messages": [
                {"role": "user", "content": [{"text": question}]},
                {"role": "assistant", "content": [{"text": answer}]},
            ],
        }
    )


@dataclass
class Emulated:
    emulator: EmulatedBedrock
    clock: SimulatedClock
    bedrock: object
    runtime: object
    s3: object
    actor: list[str]

    def client(self, service: str, config: Config | None = None) -> object:
        return boto3.client(service, region_name=REGION, config=config)


def _start(behaviour: BedrockBehaviour, monkeypatch: pytest.MonkeyPatch, region: str = REGION) -> Iterator[Emulated]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=region)
        if region == "us-east-1":
            s3.create_bucket(Bucket=BUCKET)
        else:
            s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
        s3.put_object(Bucket=BUCKET, Key=TRAIN_KEY, Body="\n".join(_nova_record(q, a) for q, a in QA * 4))
        clock = SimulatedClock(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
        actor = ["state-machine"]
        emulator = EmulatedBedrock(clock, region=region, behaviour=behaviour, actor=lambda: actor[0])  # type: ignore[arg-type,return-value]
        with EmulatorServers(emulator.dispatch) as servers:
            for name, value in servers.environment.items():
                monkeypatch.setenv(name, value)
            yield Emulated(
                emulator=emulator,
                clock=clock,
                bedrock=boto3.client("bedrock", region_name=region),
                runtime=boto3.client("bedrock-runtime", region_name=region),
                s3=s3,
                actor=actor,
            )
            assert servers.failures == [], servers.failures


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulated]:
    yield from _start(BedrockBehaviour(), monkeypatch)


def _create_job(emulated: Emulated, name: str = "job-1", token: str | None = "token-1", epochs: str = "2") -> str:
    arn: str = emulated.bedrock.create_model_customization_job(  # type: ignore[attr-defined]
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=ROLE,
        baseModelIdentifier=NOVA,
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/runs/r1/job-output/"},
        hyperParameters={"epochCount": epochs},
        **({"clientRequestToken": token} if token else {}),
    )["jobArn"]
    return arn


def _finish_job(emulated: Emulated, arn: str) -> dict:  # type: ignore[type-arg]
    emulated.clock.advance(6 * 3600)
    job: dict = emulated.bedrock.get_model_customization_job(jobIdentifier=arn)  # type: ignore[attr-defined,type-arg]
    return job


def test_customization_job_runs_for_simulated_time_then_writes_metrics_where_bedrock_does(emulated: Emulated) -> None:
    # Given a job on 12 training records, 2 epochs
    arn = _create_job(emulated)
    job_id = arn.rsplit("/", 1)[-1]
    assert re.fullmatch(
        rf"arn:aws:bedrock:{REGION}:123456789012:model-customization-job/{re.escape(NOVA)}/[a-z0-9]{{12}}", arn
    )
    # Then it is InProgress, with no model yet
    job = emulated.bedrock.get_model_customization_job(jobIdentifier=arn)  # type: ignore[attr-defined]
    assert job["status"] == "InProgress"
    assert "outputModelArn" not in job
    # When 10 minutes + 8 s x 12 records x 2 epochs of simulated time pass
    emulated.clock.advance(600 + 8 * 12 * 2)
    job = emulated.bedrock.get_model_customization_job(jobIdentifier=arn)  # type: ignore[attr-defined]
    # Then it is Completed with a custom model and metrics
    assert job["status"] == "Completed"
    assert job["outputModelArn"].startswith(f"arn:aws:bedrock:{REGION}:123456789012:custom-model/{NOVA}/")
    assert (job["endTime"] - job["creationTime"]).total_seconds() == 600 + 8 * 12 * 2
    # And the CSVs are where Bedrock writes them, in its format, readable by the pipeline's own parser
    prefix = f"runs/r1/job-output/model-customization-job-{job_id}"
    training = (
        emulated.s3.get_object(  # type: ignore[attr-defined]
            Bucket=BUCKET, Key=f"{prefix}/training_artifacts/step_wise_training_metrics.csv"
        )["Body"]
        .read()
        .decode()
    )
    validation = (
        emulated.s3.get_object(  # type: ignore[attr-defined]
            Bucket=BUCKET,
            Key=f"{prefix}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
        )["Body"]
        .read()
        .decode()
    )
    assert training.splitlines()[0] == "step_number,epoch_number,training_loss"
    assert validation.splitlines()[0] == "step_number,epoch_number,validation_loss"
    points = parse_loss_csv(training)
    assert [point.step for point in points] == list(range(len(points)))  # steps from 0, one row each
    assert {point.epoch for point in points} == {1, 2}
    assert points[-1].loss < points[0].loss  # training loss goes down
    validation_points = parse_loss_csv(validation)
    assert [point.epoch for point in validation_points] == [1, 2]
    assert validation_points[1].loss < validation_points[0].loss
    metrics = load_job_metrics(emulated.s3, BUCKET, "runs/r1/job-output/", arn)
    assert len(metrics.training) == len(points)
    # And the ledger has the job and the model, at simulated times
    kinds = [entry.type for entry in emulated.emulator.ledger.entries]
    assert kinds == ["customization-job", "custom-model"]


def test_metrics_match_the_reference_runs_column_layout(emulated: Emulated, reference_run: Path) -> None:
    arn = _create_job(emulated)
    _finish_job(emulated, arn)
    job_id = arn.rsplit("/", 1)[-1]
    prefix = f"runs/r1/job-output/model-customization-job-{job_id}"
    ours = (
        emulated.s3.get_object(  # type: ignore[attr-defined]
            Bucket=BUCKET, Key=f"{prefix}/training_artifacts/step_wise_training_metrics.csv"
        )["Body"]
        .read()
        .decode()
    )
    reference = (reference_run / "step_wise_training_metrics.csv").read_text()
    assert ours.splitlines()[0] == reference.splitlines()[0]
    assert len(ours.splitlines()[1].split(",")) == len(reference.splitlines()[1].split(","))


def test_client_request_token_makes_creation_idempotent_and_names_are_unique(emulated: Emulated) -> None:
    first = _create_job(emulated, token="same")
    assert _create_job(emulated, token="same") == first
    with pytest.raises(ClientError) as raised:
        _create_job(emulated, token="other")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert len(emulated.emulator.ledger.of_type("customization-job")) == 1


def test_missing_training_data_is_refused_before_a_job_exists(emulated: Emulated) -> None:
    with pytest.raises(ClientError) as raised:
        emulated.bedrock.create_model_customization_job(  # type: ignore[attr-defined]
            jobName="j",
            customModelName="m",
            roleArn=ROLE,
            baseModelIdentifier=NOVA,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/nothing-here.jsonl"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
        )
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "does not exist" in raised.value.response["Error"]["Message"]
    assert emulated.emulator.ledger.entries == []


def test_out_of_range_hyperparameter_is_refused(emulated: Emulated) -> None:
    with pytest.raises(ClientError) as raised:
        _create_job(emulated, epochs="9")  # Nova allows 1-5 epochs
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_stopped_job_goes_stopping_then_stopped(emulated: Emulated) -> None:
    arn = _create_job(emulated)
    emulated.bedrock.stop_model_customization_job(jobIdentifier=arn)  # type: ignore[attr-defined]
    assert emulated.bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "Stopping"  # type: ignore[attr-defined]
    emulated.clock.advance(300)
    assert emulated.bedrock.get_model_customization_job(jobIdentifier="job-1")["status"] == "Stopped"  # type: ignore[attr-defined]


def test_job_failure_scenario_fails_the_job_with_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    for emulated in _start(BedrockBehaviour(job_fails=True), monkeypatch):
        arn = _create_job(emulated)
        job = _finish_job(emulated, arn)
        assert job["status"] == "Failed"
        assert "job-failure" in job["failureMessage"]
        assert "outputModelArn" not in job
        assert emulated.emulator.ledger.of_type("custom-model") == []


def test_provisioned_throughput_is_in_service_after_twenty_minutes_and_deletion_is_ledgered(emulated: Emulated) -> None:
    model_arn = _finish_job(emulated, _create_job(emulated))["outputModelArn"]
    bedrock = emulated.bedrock
    arn = bedrock.create_provisioned_model_throughput(  # type: ignore[attr-defined]
        modelUnits=1, provisionedModelName="pt-1", modelId=model_arn, tags=[{"key": "fine-tuning:stack", "value": "S"}]
    )["provisionedModelArn"]
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"] == "Creating"  # type: ignore[attr-defined]
    emulated.clock.advance(19 * 60)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId="pt-1")["status"] == "Creating"  # type: ignore[attr-defined]
    emulated.clock.advance(60)
    described = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)  # type: ignore[attr-defined]
    assert described["status"] == "InService"
    assert described["modelArn"] == model_arn
    listed = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]  # type: ignore[attr-defined]
    assert [item["provisionedModelArn"] for item in listed] == [arn]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "fine-tuning:stack", "value": "S"}]  # type: ignore[attr-defined]
    # When the sweeper deletes it an hour later
    emulated.clock.advance(3600)
    emulated.actor[0] = "sweeper"
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)  # type: ignore[attr-defined]
    # Then it is gone and the ledger says when and by whom
    with pytest.raises(ClientError) as raised:
        bedrock.get_provisioned_model_throughput(provisionedModelId=arn)  # type: ignore[attr-defined]
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    (entry,) = emulated.emulator.ledger.of_type("provisioned-throughput")
    assert entry.deleted_by == "sweeper"
    assert entry.deleted_at is not None
    assert (entry.deleted_at - entry.created_at).total_seconds() == 20 * 60 + 3600


def test_no_commitment_throughput_quota_is_two(emulated: Emulated) -> None:
    model_arn = _finish_job(emulated, _create_job(emulated))["outputModelArn"]
    for name in ("pt-1", "pt-2"):
        emulated.bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName=name, modelId=model_arn)  # type: ignore[attr-defined]
    with pytest.raises(ClientError) as raised:
        emulated.bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="pt-3", modelId=model_arn
        )  # type: ignore[attr-defined]
    assert raised.value.response["Error"]["Code"] == "ServiceQuotaExceededException"


def test_deployment_goes_active_and_answers_with_the_closest_training_answer(emulated: Emulated) -> None:
    model_arn = _finish_job(emulated, _create_job(emulated))["outputModelArn"]
    arn = emulated.bedrock.create_custom_model_deployment(modelDeploymentName="d-1", modelArn=model_arn)[  # type: ignore[attr-defined]
        "customModelDeploymentArn"
    ]
    question = [{"role": "user", "content": [{"text": "How long can capacity live before it is swept?"}]}]
    # Not ready while Creating
    with pytest.raises(ClientError) as raised:
        emulated.runtime.converse(modelId=arn, messages=question)  # type: ignore[attr-defined]
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    emulated.clock.advance(600)
    assert emulated.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"] == "Active"  # type: ignore[attr-defined]
    reply = emulated.runtime.converse(modelId=arn, messages=question)  # type: ignore[attr-defined]
    assert reply["output"]["message"]["content"][0]["text"] == QA[1][1]
    assert reply["additionalModelResponseFields"] == {"emulated": True, "role": "fine-tuned"}
    assert reply["usage"]["totalTokens"] == reply["usage"]["inputTokens"] + reply["usage"]["outputTokens"]


def test_llama_models_cannot_be_deployed_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        arn = emulated.bedrock.create_model_customization_job(  # type: ignore[attr-defined]
            jobName="h",
            customModelName="h-model",
            roleArn=ROLE,
            baseModelIdentifier=LLAMA31,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
        )["jobArn"]
        model_arn = _finish_job(emulated, arn)["outputModelArn"]
        with pytest.raises(ClientError) as raised:
            emulated.bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model_arn)  # type: ignore[attr-defined]
        assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_a_job_on_a_legacy_base_model_is_refused_on_the_simulated_day(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given Claude 3 Haiku, Legacy since 2026-03-10 (the emulator's day is 2026-05-01)
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        with pytest.raises(ClientError) as raised:
            emulated.bedrock.create_model_customization_job(  # type: ignore[attr-defined]
                jobName="h",
                customModelName="h-model",
                roleArn=ROLE,
                baseModelIdentifier=HAIKU,
                trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{TRAIN_KEY}"},
                outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
            )
        # Then Bedrock's refusal names the Legacy date, and no job exists
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert "Legacy since 2026-03-10" in raised.value.response["Error"]["Message"]
        assert emulated.emulator.ledger.to_json() == {"resources": []}


def test_a_plain_id_is_refused_where_only_an_inference_profile_serves_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = [{"role": "user", "content": [{"text": "Which prefix starts a run?"}]}]
    for emulated in _start(BedrockBehaviour(), monkeypatch, region="us-west-2"):
        runtime = emulated.runtime
        # Llama 3.2 and Nova Pro are served on demand in us-west-2 only through the US profile
        for plain in ("meta.llama3-2-11b-instruct-v1:0", "amazon.nova-pro-v1:0"):
            with pytest.raises(ClientError) as raised:
                runtime.converse(modelId=plain, messages=message)  # type: ignore[attr-defined]
            assert raised.value.response["Error"]["Code"] == "ValidationException"
            assert "isn't supported" in raised.value.response["Error"]["Message"]
            assert runtime.converse(modelId=f"us.{plain}", messages=message)["stopReason"] == "end_turn"  # type: ignore[attr-defined]
        # while Llama 3.1 answers by its plain id there
        assert runtime.converse(modelId="meta.llama3-1-8b-instruct-v1:0", messages=message)["stopReason"] == "end_turn"  # type: ignore[attr-defined]


def test_base_model_answers_generically_and_the_judge_replies_in_the_judges_format(emulated: Emulated) -> None:
    question = "Which bucket prefix starts a run?"
    base = emulated.runtime.converse(  # type: ignore[attr-defined]
        modelId="amazon.nova-lite-v1:0", messages=[{"role": "user", "content": [{"text": question}]}]
    )["output"]["message"]["content"][0]["text"]
    assert "incoming/" not in base  # the base model does not know the pipeline
    prompt = JUDGE_INSTRUCTIONS.format(question=question, reference=QA[0][1], answer=QA[0][1])
    good = emulated.runtime.converse(  # type: ignore[attr-defined]
        modelId="amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [{"text": prompt}]}]
    )["output"]["message"]["content"][0]["text"]
    prompt = JUDGE_INSTRUCTIONS.format(question=question, reference=QA[0][1], answer=base)
    poor = emulated.runtime.converse(  # type: ignore[attr-defined]
        modelId="amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [{"text": prompt}]}]
    )["output"]["message"]["content"][0]["text"]
    # The pipeline's own parser reads the verdicts, and the right answer outscores the generic one
    assert parse_rating(good) == 10
    assert parse_rating(poor) < 5
    assert good.startswith("Emulated judge")


def _judge_says(emulated: Emulated, prompt: str) -> dict:  # type: ignore[type-arg]
    reply: dict = emulated.runtime.converse(  # type: ignore[attr-defined,type-arg]
        modelId="amazon.nova-pro-v1:0", messages=[{"role": "user", "content": [{"text": prompt}]}]
    )
    return reply


def _pairwise(question: str, reference: str, a: str, b: str) -> str:
    return PAIRWISE_INSTRUCTIONS.format(question=question, reference=reference, answer_a=a, answer_b=b)


def test_the_pairwise_judge_prefers_the_answer_closer_to_the_reference_in_either_order(emulated: Emulated) -> None:
    # Given the right answer and a generic one to the same question
    question, reference = QA[0]
    generic = answers.base_answer(question)
    # When the judge sees them in both orders
    right_first = _judge_says(emulated, _pairwise(question, reference, reference, generic))
    generic_first = _judge_says(emulated, _pairwise(question, reference, generic, reference))
    # Then it picks the right answer both times, in the pairwise judge's format, read by the pipeline's own parser
    first_text = right_first["output"]["message"]["content"][0]["text"]
    assert parse_choice(first_text) == "A"
    assert parse_choice(generic_first["output"]["message"]["content"][0]["text"]) == "B"
    assert first_text.startswith("Emulated judge")
    assert right_first["additionalModelResponseFields"] == {"emulated": True, "role": "pairwise judge", "choice": "A"}


def test_the_pairwise_judge_calls_answers_equally_close_a_tie(emulated: Emulated) -> None:
    question, reference = QA[1]
    reply = _judge_says(emulated, _pairwise(question, reference, reference, reference.upper()))
    assert parse_choice(reply["output"]["message"]["content"][0]["text"]) == "C"


def test_the_emulated_position_bias_picks_the_first_answer_when_the_two_are_close() -> None:
    # Given two answers whose overlaps with the reference differ by a little more than the tie margin
    reference = " ".join(f"term{n}" for n in range(20))
    closer = " ".join(f"term{n}" for n in range(10))
    less_close = " ".join(f"term{n}" for n in range(9)) + " unrelated"
    gap = answers.overlap_f1(closer, reference) - answers.overlap_f1(less_close, reference)
    assert answers.PAIRWISE_TIE_MARGIN < gap <= answers.PAIRWISE_TIE_MARGIN + answers.PAIRWISE_POSITION_BIAS_BAND
    # When the judge sees them in both orders
    text, closer_first = answers.pairwise_reply(_pairwise("q?", reference, closer, less_close))
    bias_text, less_close_first = answers.pairwise_reply(_pairwise("q?", reference, less_close, closer))
    # Then it picks A both times (position-inconsistent) and says the bias is emulated when it overrides the overlap
    assert (closer_first, less_close_first) == ("A", "A")
    assert "position bias" not in text
    assert "emulated position bias" in bias_text
    # And a clearer gap is decided by the overlap in either order
    clearly_less = " ".join(f"term{n}" for n in range(5))
    assert answers.pairwise_reply(_pairwise("q?", reference, clearly_less, closer))[1] == "B"


def test_the_two_judge_prompts_are_never_mistaken_for_each_other() -> None:
    # Given a pairwise prompt whose question and answers talk about ratings, and a pointwise one quoting [[A]]
    rating_talk = "A rating from 1 to 10 in double square brackets, such as [[6]]."
    pairwise = _pairwise("What does the judge return?", rating_talk, rating_talk, "No idea.")
    pointwise = JUDGE_INSTRUCTIONS.format(
        question="How is the pairwise verdict written?", reference="As [[A]] or [[B]].", answer="[[A]] or [[B]]."
    )
    # Then each is recognised for what it is, and only that
    assert answers.is_pairwise_prompt(pairwise)
    assert not answers.is_judge_prompt(pairwise)
    assert answers.is_judge_prompt(pointwise)
    assert not answers.is_pairwise_prompt(pointwise)
    # And MT-Bench's own layout counts as pairwise too
    mt_bench = (
        "Output your final verdict: [[A]] if assistant A is better, [[B]] if assistant B is better, [[C]] for a tie."
        "\n[The Start of Assistant A's Answer]\nyes\n[The End of Assistant A's Answer]"
        "\n[The Start of Assistant B's Answer]\nno\n[The End of Assistant B's Answer]"
    )
    assert answers.is_pairwise_prompt(mt_bench)


def test_the_pipelines_pairwise_judge_reaches_a_consistent_verdict_through_the_emulator(emulated: Emulated) -> None:
    # Given the pipeline's pairwise judge on the emulated Bedrock runtime
    judge = bedrock_pairwise_judge("amazon.nova-pro-v1:0", bedrock_runtime=emulated.runtime)
    question, reference = QA[0]
    # When it compares the right answer (as the fine-tuned model's) with a generic one
    verdict = judge.compare(
        question=question, reference=reference, fine_tuned=reference, base=answers.base_answer(question)
    )
    # Then both orders prefer the fine-tuned answer
    assert verdict.preference is Preference.FINE_TUNED
    assert verdict.consistent is True
    assert verdict.attempts == 2
    assert "Emulated judge" in verdict.reasoning


def test_eval_failure_scenario_fails_converse_on_the_fine_tuned_model_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for emulated in _start(BedrockBehaviour(fine_tuned_converse_fails=True), monkeypatch):
        model_arn = _finish_job(emulated, _create_job(emulated))["outputModelArn"]
        arn = emulated.bedrock.create_custom_model_deployment(modelDeploymentName="d", modelArn=model_arn)[  # type: ignore[attr-defined]
            "customModelDeploymentArn"
        ]
        emulated.clock.advance(600)
        runtime = emulated.client("bedrock-runtime", NO_RETRIES)
        message = [{"role": "user", "content": [{"text": "hello"}]}]
        with pytest.raises(ClientError) as raised:
            runtime.converse(modelId=arn, messages=message)  # type: ignore[attr-defined]
        assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
        assert runtime.converse(modelId="amazon.nova-lite-v1:0", messages=message)["stopReason"] == "end_turn"  # type: ignore[attr-defined]


def test_throttling_scenario_throttles_one_call_in_n_and_client_retries_carry_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for emulated in _start(BedrockBehaviour(throttle_one_in=2), monkeypatch):
        strict = emulated.client("bedrock", NO_RETRIES)
        for _ in range(2):
            strict.list_custom_model_deployments()  # type: ignore[attr-defined]  # call 1, 3: answered
            with pytest.raises(ClientError) as raised:
                strict.list_custom_model_deployments()  # type: ignore[attr-defined]  # call 2, 4: throttled
            assert raised.value.response["Error"]["Code"] == "ThrottlingException"
            assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        # a client with standard retries never sees them (its backoff sleeps for real here: keep this short)
        retrying = emulated.client("bedrock", Config(retries={"mode": "standard", "max_attempts": 3}))
        for _ in range(3):
            retrying.list_provisioned_model_throughputs()  # type: ignore[attr-defined]
        assert emulated.emulator.throttled >= 3


def test_every_bedrock_call_the_pipeline_makes_is_emulated() -> None:
    # Given every Bedrock operation the handlers' code calls (found in the source, so new calls are caught here)
    source = "\n".join(path.read_text() for path in (REPO_ROOT / "lambdas").rglob("*.py"))
    called = set(re.findall(r"\bbedrock(?:_runtime)?\.([a-z_]+)\(", source)) - {"get_paginator"}
    called |= set(re.findall(r'get_paginator\("([a-z_]+)"\)', source)) - {"list_objects_v2"}
    operations = {"bedrock": botocore.session.get_session().get_service_model("bedrock")}
    names = {
        snake: op
        for op in operations["bedrock"].operation_names
        for snake in [re.sub(r"(?<!^)(?=[A-Z])", "_", op).lower()]
    }
    names["converse"] = "Converse"
    # Then the emulator implements each of them
    missing = []
    for call in sorted(called):
        operation = names.get(call)
        service = "bedrock_runtime" if operation == "Converse" else "bedrock"
        if operation is None or not hasattr(EmulatedBedrock, f"_{service}_{operation}"):
            missing.append(call)
    assert called, "found no Bedrock calls in lambdas/: the scan is broken"
    assert missing == [], f"the local Bedrock emulator lacks operations the pipeline calls: {missing}"


def test_shape_check_rejects_what_botocore_would_misparse() -> None:
    model = RestJsonService("bedrock").model
    shape = model.operation_model("GetProvisionedModelThroughput").output_shape
    problems = check_shape(shape, {"status": "Running", "modelUnits": True, "colour": "blue"}, "out")
    assert "out.status='Running' is not one of ['Creating', 'InService', 'Updating', 'Failed']" in problems
    assert "out.modelUnits must be a integer, not bool" in problems
    assert "out.colour is not in the service model" in problems
    assert "out.provisionedModelArn is required" in problems


def test_requests_are_routed_by_the_service_models_uris() -> None:
    service = RestJsonService("bedrock")
    encoded = "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aprovisioned-model%2Fabc"
    assert service.parse_request("GET", f"/provisioned-model-throughput/{encoded}", b"") == (
        "GetProvisionedModelThroughput",
        {"provisionedModelId": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"},
    )
    assert service.parse_request("POST", "/model-customization-jobs/job-1/stop", b"") == (
        "StopModelCustomizationJob",
        {"jobIdentifier": "job-1"},
    )
    operation, params = service.parse_request(
        "GET", "/model-customization/custom-model-deployments?statusEquals=Active&maxResults=5", b""
    )
    assert (operation, params) == ("ListCustomModelDeployments", {"statusEquals": "Active", "maxResults": 5})
