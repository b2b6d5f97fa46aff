"""The training and validation loss a customization job writes, parsed into one typed document.

Bedrock writes, under ``<job output>/model-customization-job-<job id>/``:
``training_artifacts/step_wise_training_metrics.csv`` (``step_number,epoch_number,training_loss``) and
``validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv``
(``step_number,epoch_number,validation_loss``). The report plots per-epoch means of the step-wise series, so those
are computed here once.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

from lambdas.contracts import ReadTrainingMetricsOutput, RunConfig
from lambdas.errors import PipelineError
from lambdas.lifecycle.service_errors import service_call

TRAINING_CSV_SUFFIX = "training_artifacts/step_wise_training_metrics.csv"
VALIDATION_CSV_SUFFIX = "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"

S3Client = Any


class MetricsFormatError(PipelineError):
    """A metrics CSV does not have the columns or numbers Bedrock writes."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LossPoint(_Frozen):
    step: int
    epoch: int
    loss: float


class EpochLoss(_Frozen):
    epoch: int
    mean_loss: float
    points: int


class TrainingMetrics(_Frozen):
    """What ``RunPaths.training_metrics`` holds. Empty series mean Bedrock wrote no such file (e.g. no validation)."""

    training: list[LossPoint]
    validation: list[LossPoint]
    training_epoch_means: list[EpochLoss]
    validation_epoch_means: list[EpochLoss]
    training_source_key: str | None = None
    validation_source_key: str | None = None

    @classmethod
    def from_series(
        cls,
        training: list[LossPoint],
        validation: list[LossPoint],
        *,
        training_source_key: str | None = None,
        validation_source_key: str | None = None,
    ) -> TrainingMetrics:
        return cls(
            training=training,
            validation=validation,
            training_epoch_means=epoch_means(training),
            validation_epoch_means=epoch_means(validation),
            training_source_key=training_source_key,
            validation_source_key=validation_source_key,
        )

    @property
    def final_training_loss(self) -> float | None:
        return self.training[-1].loss if self.training else None

    @property
    def final_validation_loss(self) -> float | None:
        return self.validation[-1].loss if self.validation else None


def epoch_means(points: Iterable[LossPoint]) -> list[EpochLoss]:
    sums: dict[int, tuple[float, int]] = {}
    for point in points:
        total, count = sums.get(point.epoch, (0.0, 0))
        sums[point.epoch] = (total + point.loss, count + 1)
    return [
        EpochLoss(epoch=epoch, mean_loss=total / count, points=count) for epoch, (total, count) in sorted(sums.items())
    ]


def parse_loss_csv(text: str, *, source: str = "metrics CSV") -> list[LossPoint]:
    """Parse ``step_number,epoch_number,<x>_loss`` rows, sorted by step.

    Rows whose loss is not finite (``nan``, ``inf``) are left out: they cannot be plotted or stored as JSON numbers.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        return []
    columns = [name.strip() for name in header]
    loss_columns = [index for index, name in enumerate(columns) if name.endswith("_loss")]
    if "step_number" not in columns or "epoch_number" not in columns or len(loss_columns) != 1:
        raise MetricsFormatError(
            f"{source}: line 1: expected columns step_number,epoch_number,<name>_loss, found {','.join(columns)}"
        )
    step_at, epoch_at, loss_at = columns.index("step_number"), columns.index("epoch_number"), loss_columns[0]
    points: list[LossPoint] = []
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        try:
            step = int(float(row[step_at]))
            epoch = int(float(row[epoch_at]))
            loss = float(row[loss_at])
        except (IndexError, ValueError):
            raise MetricsFormatError(f"{source}: line {line_number}: not a metrics row: {','.join(row)}") from None
        if math.isfinite(loss):
            points.append(LossPoint(step=step, epoch=epoch, loss=loss))
    return sorted(points, key=lambda point: point.step)


def job_id_from_arn(job_arn: str) -> str:
    """The job id is the last path segment of the job ARN."""
    return job_arn.rstrip("/").rsplit("/", 1)[-1]


def _list_keys(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    with service_call(f"listing s3://{bucket}/{prefix}"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.extend(str(item["Key"]) for item in page.get("Contents", []))
    return keys


def _pick(keys: list[str], suffix: str, job_folder: str) -> str | None:
    """Prefer the file in this job's own folder; fall back to the only match under the prefix."""
    matches = [key for key in keys if key.endswith(suffix)]
    own = [key for key in matches if f"/{job_folder}/" in f"/{key}"]
    if own:
        return sorted(own)[0]
    return matches[0] if len(matches) == 1 else None


def _read_text(s3: S3Client, bucket: str, key: str) -> str:
    with service_call(f"reading s3://{bucket}/{key}"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return bytes(body).decode("utf-8")


def load_job_metrics(s3: S3Client, bucket: str, job_output_prefix: str, job_arn: str) -> TrainingMetrics:
    keys = _list_keys(s3, bucket, job_output_prefix)
    job_folder = f"model-customization-job-{job_id_from_arn(job_arn)}"
    training_key = _pick(keys, TRAINING_CSV_SUFFIX, job_folder)
    validation_key = _pick(keys, VALIDATION_CSV_SUFFIX, job_folder)
    training = parse_loss_csv(_read_text(s3, bucket, training_key), source=training_key) if training_key else []
    validation = parse_loss_csv(_read_text(s3, bucket, validation_key), source=validation_key) if validation_key else []
    return TrainingMetrics.from_series(
        training, validation, training_source_key=training_key, validation_source_key=validation_key
    )


def read_training_metrics(s3: S3Client, run: RunConfig, job_arn: str) -> ReadTrainingMetricsOutput:
    """Read the job's CSVs and write ``RunPaths.training_metrics`` once, as JSON."""
    metrics = load_job_metrics(s3, run.bucket, run.paths.job_output, job_arn)
    key = run.paths.training_metrics
    with service_call(f"writing s3://{run.bucket}/{key}"):
        s3.put_object(
            Bucket=run.bucket,
            Key=key,
            Body=metrics.model_dump_json(indent=2).encode(),
            ContentType="application/json",
        )
    return ReadTrainingMetricsOutput(
        metrics_key=key,
        training_points=len(metrics.training),
        validation_points=len(metrics.validation),
        final_training_loss=metrics.final_training_loss,
        final_validation_loss=metrics.final_validation_loss,
    )
