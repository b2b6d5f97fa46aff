"""The emulator's training model: hyperparameters decide the losses and the answers, deterministically."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from lambdas.lifecycle.metrics import parse_loss_csv
from lambdas.registry import MODELS, PIPELINE_CUSTOMIZATION_TYPE, get_model
from tuner.local.bedrock import answers
from tuner.local.bedrock.answers import TrainingPair, base_answer, fine_tuned_answer
from tuner.local.bedrock.emulator import EmulatedBedrock
from tuner.local.bedrock.training_model import (
    LEARNED_FROM,
    OVERFIT_FROM,
    TrainedModel,
    learned_share,
    memorised_share,
    passes,
    sweet_spot,
    training_loss,
    validation_loss,
)
from tuner.local.simclock import SimulatedClock

NOVA = get_model("amazon.nova-lite-v1:0:300k")
LLAMA = get_model("meta.llama3-1-8b-instruct-v1:0:128k")
RECORDS = 32  # the on-demand e2e path's training split
BUCKET = "training-model-test"


def nova(epochs: int, **others: str) -> TrainedModel:
    return TrainedModel.of(NOVA, {"epochCount": str(epochs), **others}, RECORDS)


# ------------------------------------------------------------------------------------------- the defaults
@pytest.mark.parametrize("spec", [s for s in MODELS.values() if PIPELINE_CUSTOMIZATION_TYPE in s.customization_types])
@pytest.mark.parametrize("records", [8, 32, 100, 1_000, 20_000])
def test_the_registry_defaults_train_well_for_every_model_and_dataset_size(spec: object, records: int) -> None:
    # The defaults answer every question from training, as the emulator did before sweeps
    model = TrainedModel.of(spec, {}, records)  # type: ignore[arg-type]
    assert model.passes == pytest.approx(1.0)
    assert LEARNED_FROM <= model.fit <= OVERFIT_FROM
    assert (learned_share(model.fit), memorised_share(model.fit)) == (1.0, 0.0)


def test_default_training_loss_is_the_old_curve() -> None:
    # 0.12 + 1.35 exp(-3 t): from 1.47 to about 0.19
    assert training_loss(1.0, 0.0) == pytest.approx(1.47)
    assert training_loss(1.0, 1.0) == pytest.approx(0.12 + 1.35 * 2.718281828459045**-3)


# ------------------------------------------------------------------------------------------------ passes
def test_learning_rate_and_batch_size_count_by_their_square_root() -> None:
    assert passes({"epochCount": "2", "learningRate": "4e-05"}, NOVA) == pytest.approx(2.0)
    assert passes({"epochCount": "4", "learningRate": "2.5e-06"}, NOVA) == pytest.approx(1.0)
    haiku = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
    assert passes({"epochCount": "2", "batchSize": "128", "learningRateMultiplier": "1"}, haiku) == pytest.approx(0.5)
    assert passes({"epochCount": "10"}, LLAMA) == pytest.approx(2.0)  # Llama's fixed batch size changes nothing


def test_small_datasets_need_more_passes_within_bounds() -> None:
    spots = [sweet_spot(records) for records in (8, 100, 500, 1_000, 5_000, 20_000)]
    assert spots == sorted(spots, reverse=True)
    assert (spots[0], spots[3], spots[-1]) == (1.25, 1.0, 0.8)


# ------------------------------------------------------------------------------------------------ losses
def test_training_loss_falls_with_epochs() -> None:
    finals = [nova(epochs).training_curve(steps_per_epoch=4)[-1][2] for epochs in (1, 2, 5)]
    assert finals[0] > finals[1] > finals[2]
    noise_free = [training_loss(nova(epochs).passes, 1.0) for epochs in range(1, 6)]
    assert noise_free == sorted(noise_free, reverse=True)
    assert len(set(noise_free)) == 5
    # and within one job
    curve = nova(2).training_curve(steps_per_epoch=4)
    assert [(step, epoch) for step, epoch, _ in curve] == [(s, s // 4 + 1) for s in range(8)]
    assert curve[-1][2] < curve[0][2]


def test_validation_loss_is_lowest_at_the_sweet_spot_and_rises_beyond_it() -> None:
    fits = [index / 20 for index in range(1, 61)]
    losses = [validation_loss(fit) for fit in fits]
    assert fits[losses.index(min(losses))] == 1.0
    assert validation_loss(0.5) > validation_loss(1.0) < validation_loss(2.0)
    # Llama on 96 records: the sweet spot is 5 x 1.25 = 6.25 epochs; a 10-epoch job's best epoch is 6 (noise-free) and
    # its validation curve turns up after it
    model = TrainedModel.of(LLAMA, {"epochCount": "10"}, 96)
    noise_free = [validation_loss(model.fit * epoch / model.epochs) for epoch in range(1, 11)]
    assert noise_free.index(min(noise_free)) + 1 == 6
    curve = [loss for _, _, loss in model.validation_curve(steps_per_epoch=12)]
    assert curve.index(min(curve)) + 1 in (6, 7)
    assert curve[-1] > min(curve) + 0.3


def test_the_issues_grid_shows_a_choice_in_its_final_validation_losses() -> None:
    # epochCount 1, 2, 5 on a small dataset: under, about right, overfit
    final = {epochs: nova(epochs).validation_curve(steps_per_epoch=4)[-1][2] for epochs in (1, 2, 5)}
    assert final[2] < final[1]
    assert final[2] < final[5]


def test_curves_are_deterministic() -> None:
    assert nova(3).training_curve(4) == nova(3).training_curve(4)
    assert nova(3).validation_curve(4) == nova(3).validation_curve(4)
    assert nova(3).training_curve(4) != TrainedModel.of(NOVA, {"epochCount": "3"}, RECORDS + 1).training_curve(4)


# ----------------------------------------------------------------------------------------------- answers
# 40 services, each trained with one wording and asked with another (never word for word)
PAIRS = [
    TrainingPair(f"Which port does service-{i} use?", f"service-{i} listens on {7000 + i * 7}, run by team-{i % 7}.")
    for i in range(40)
]
QUESTIONS = [f"What port is service-{i} listening on?" for i in range(40)]


def right_answers(model: TrainedModel | None) -> list[bool]:
    """For each (never trained on) question: does the model give the right fact?"""
    return [fine_tuned_answer(q, PAIRS, model) == PAIRS[i].answer for i, q in enumerate(QUESTIONS)]


def test_answer_quality_is_lowest_undertrained_best_at_the_sweet_spot_and_falls_when_overfit() -> None:
    assert all(right_answers(None))  # the nearest training answer is the right one for every question
    quality = {epochs: sum(right_answers(nova(epochs))) / len(QUESTIONS) for epochs in (1, 2, 5)}
    assert quality[1] < quality[2] > quality[5]
    assert quality[2] == 1.0
    assert 0.3 < quality[1] < 0.8  # learned_share 0.53
    assert 0.3 < quality[5] < 0.8  # memorised_share 0.5
    # and far too little (1 epoch at the lowest learning rate) is worse still
    assert sum(right_answers(nova(1, learningRate="1e-06"))) / len(QUESTIONS) < quality[1]


def test_what_an_undertrained_and_an_overfit_model_say_instead() -> None:
    undertrained = [fine_tuned_answer(q, PAIRS, nova(1)) for q in QUESTIONS]
    wrong = [(q, a) for q, a, right in zip(QUESTIONS, undertrained, right_answers(nova(1)), strict=True) if not right]
    assert wrong
    assert all(answer == base_answer(question) for question, answer in wrong)
    overfit = [fine_tuned_answer(q, PAIRS, nova(5)) for q in QUESTIONS]
    recited = [a for a, right in zip(overfit, right_answers(nova(5)), strict=True) if not right]
    training_answers = {pair.answer for pair in PAIRS}
    assert recited
    assert all(answer in training_answers for answer in recited)


def test_an_overfit_model_still_answers_its_training_questions() -> None:
    assert all(fine_tuned_answer(pair.question, PAIRS, nova(5)) == pair.answer for pair in PAIRS)


def test_answers_are_deterministic_and_more_training_learns_a_superset() -> None:
    assert right_answers(nova(1)) == right_answers(nova(1))
    less, more = right_answers(nova(1, learningRate="2e-06")), right_answers(nova(1))
    assert sum(less) < sum(more)
    assert all(learned_more for learned_less, learned_more in zip(less, more, strict=True) if learned_less)


# ---------------------------------------------------------------------------------------- in the emulator
@pytest.fixture
def emulator() -> Iterator[EmulatedBedrock]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        body = "\n".join(
            json.dumps(
                {
                    "schemaVersion": "bedrock-conversation-2024",
                    "messages": [
                        {"role": "user", "content": [{"text": pair.question}]},
                        {"role": "assistant", "content": [{"text": pair.answer}]},
                    ],
                }
            )
            for pair in PAIRS[:RECORDS]
        )
        s3.put_object(Bucket=BUCKET, Key="train.jsonl", Body=body)
        yield EmulatedBedrock(SimulatedClock(datetime(2026, 5, 1, 12, tzinfo=UTC)), region="us-east-1")


def _train(emulator: EmulatedBedrock, epochs: int) -> tuple[dict[str, object], str]:
    arn = emulator.dispatch(
        "bedrock",
        "CreateModelCustomizationJob",
        {
            "jobName": f"job-{epochs}",
            "customModelName": f"model-{epochs}",
            "roleArn": "arn:aws:iam::123456789012:role/bedrock",
            "baseModelIdentifier": NOVA.model_id,
            "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/train.jsonl"},
            "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/out-{epochs}/"},
            "hyperParameters": {"epochCount": str(epochs)},
        },
    )["jobArn"]
    emulator.clock.advance(6 * 3600)
    job = emulator.dispatch("bedrock", "GetModelCustomizationJob", {"jobIdentifier": arn})
    deployment = emulator.dispatch(
        "bedrock",
        "CreateCustomModelDeployment",
        {"modelDeploymentName": f"d-{epochs}", "modelArn": job["outputModelArn"]},
    )["customModelDeploymentArn"]
    emulator.clock.advance(3600)
    return job, deployment


def test_the_emulator_trains_and_answers_by_the_hyperparameters(emulator: EmulatedBedrock) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    finals: dict[int, tuple[float, float]] = {}
    quality: dict[int, int] = {}
    for epochs in (1, 2, 5):
        job, deployment = _train(emulator, epochs)
        assert job["status"] == "Completed"
        job_id = str(job["jobArn"]).rsplit("/", 1)[-1]
        prefix = f"out-{epochs}/model-customization-job-{job_id}"
        training = s3.get_object(Bucket=BUCKET, Key=f"{prefix}/training_artifacts/step_wise_training_metrics.csv")
        validation = s3.get_object(
            Bucket=BUCKET,
            Key=f"{prefix}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
        )
        finals[epochs] = (
            parse_loss_csv(training["Body"].read().decode())[-1].loss,
            parse_loss_csv(validation["Body"].read().decode())[-1].loss,
        )
        quality[epochs] = sum(
            answers.fine_tuned_answer(q, PAIRS)
            == emulator.dispatch(
                "bedrock-runtime",
                "Converse",
                {"modelId": deployment, "messages": [{"role": "user", "content": [{"text": q}]}]},
            )["output"]["message"]["content"][0]["text"]
            for q in QUESTIONS[:RECORDS]
        )
        emulator.dispatch(  # the account's deployment quota is 2
            "bedrock", "DeleteCustomModelDeployment", {"customModelDeploymentIdentifier": deployment}
        )
    # More epochs: lower training loss; the validation loss is lowest at 2 epochs; the answers match
    assert finals[1][0] > finals[2][0] > finals[5][0]
    assert finals[2][1] < min(finals[1][1], finals[5][1])
    assert quality[1] < quality[2] > quality[5]
    assert quality[2] == RECORDS
