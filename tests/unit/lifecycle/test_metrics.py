from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from lambdas.lifecycle.metrics import (
    TRAINING_CSV_SUFFIX,
    VALIDATION_CSV_SUFFIX,
    MetricsFormatError,
    TrainingMetrics,
    job_id_from_arn,
    parse_loss_csv,
    read_training_metrics,
)
from tests.unit.lifecycle.factories import BUCKET, HAIKU, make_run

DATA = Path(__file__).parent / "data"
JOB_ARN = f"arn:aws:bedrock:us-west-2:123456789012:model-customization-job/{HAIKU}/abcdef123456"


def test_small_csv_parses_skipping_blank_lines_and_non_finite_losses() -> None:
    points = parse_loss_csv((DATA / "small_training_metrics.csv").read_text())
    assert [(p.step, p.epoch, p.loss) for p in points] == [(0, 1, 2.0), (1, 1, 1.0), (2, 2, 0.75), (3, 2, 0.25)]
    metrics = TrainingMetrics.from_series(points, parse_loss_csv((DATA / "small_validation_metrics.csv").read_text()))
    assert [(m.epoch, m.mean_loss, m.points) for m in metrics.training_epoch_means] == [(1, 1.5, 2), (2, 0.5, 2)]
    assert metrics.final_training_loss == 0.25
    assert metrics.final_validation_loss == 1.25


def test_reference_run_csvs_parse(reference_run: Path) -> None:
    # Given the real CSVs of the reference Claude 3 Haiku job (early stopping at epoch 7 of 10)
    training = parse_loss_csv((reference_run / "step_wise_training_metrics.csv").read_text())
    validation = parse_loss_csv((reference_run / "validation_metrics.csv").read_text())
    # Then every row is read, in step order, with the epochs Bedrock wrote
    assert len(training) == 21
    assert len(validation) == 7
    assert (training[0].step, training[0].epoch) == (0, 1)
    assert training[0].loss == pytest.approx(1.4531256934883257)
    assert [point.epoch for point in validation] == [1, 2, 3, 4, 5, 6, 7]
    assert validation[0].loss == pytest.approx(2.5327150328587718)
    means = TrainingMetrics.from_series(training, validation).training_epoch_means
    assert means[0].epoch == 1
    assert means[0].mean_loss == pytest.approx((1.4531256934883257 + 1.3701882225826447 + 1.130999644334069) / 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("step,epoch,loss\n1,1,0.5\n", "line 1: expected columns"),
        ("step_number,epoch_number,training_loss\n1,1,0.5\n2,one,0.4\n", "line 3: not a metrics row"),
        ("step_number,epoch_number,training_loss\n1,1\n", "line 2: not a metrics row"),
    ],
)
def test_malformed_csv_names_the_line(text: str, message: str) -> None:
    with pytest.raises(MetricsFormatError, match=message):
        parse_loss_csv(text, source="metrics.csv")


def test_empty_file_is_an_empty_series() -> None:
    assert parse_loss_csv("") == []


def test_job_id_is_the_last_arn_segment() -> None:
    assert job_id_from_arn(JOB_ARN) == "abcdef123456"


def _put(s3: object, key: str, path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())  # type: ignore[attr-defined]


def test_reads_this_jobs_csvs_and_writes_the_metrics_document() -> None:
    with mock_aws():
        # Given the job output of this job, plus a stale folder of an older job under the same prefix
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        run = make_run()
        folder = f"{run.paths.job_output}model-customization-job-abcdef123456/"
        _put(s3, folder + TRAINING_CSV_SUFFIX, DATA / "small_training_metrics.csv")
        _put(s3, folder + VALIDATION_CSV_SUFFIX, DATA / "small_validation_metrics.csv")
        stale = f"{run.paths.job_output}model-customization-job-000000000000/{TRAINING_CSV_SUFFIX}"
        s3.put_object(Bucket=BUCKET, Key=stale, Body=b"step_number,epoch_number,training_loss\n0,1,9.9\n")
        # When the metrics are read
        output = read_training_metrics(s3, run, JOB_ARN)
        # Then the output counts this job's points and the document is stored under the run
        assert output.metrics_key == f"runs/{run.run_id}/training_metrics.json"
        assert (output.training_points, output.validation_points) == (4, 2)
        assert (output.final_training_loss, output.final_validation_loss) == (0.25, 1.25)
        stored = json.loads(s3.get_object(Bucket=BUCKET, Key=output.metrics_key)["Body"].read())
        document = TrainingMetrics.model_validate(stored)
        assert document.training_source_key == folder + TRAINING_CSV_SUFFIX
        assert stored["training"][0] == {"step": 0, "epoch": 1, "loss": 2.0}
        assert stored["validation_epoch_means"] == [
            {"epoch": 1, "mean_loss": 1.5, "points": 1},
            {"epoch": 2, "mean_loss": 1.25, "points": 1},
        ]


def test_missing_validation_csv_gives_an_empty_series() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        run = make_run()
        folder = f"{run.paths.job_output}model-customization-job-abcdef123456/"
        _put(s3, folder + TRAINING_CSV_SUFFIX, DATA / "small_training_metrics.csv")
        output = read_training_metrics(s3, run, JOB_ARN)
        assert (output.training_points, output.validation_points) == (4, 0)
        assert output.final_validation_loss is None


def test_no_csvs_at_all_gives_empty_series() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        output = read_training_metrics(s3, make_run(), JOB_ARN)
        assert (output.training_points, output.validation_points) == (0, 0)
