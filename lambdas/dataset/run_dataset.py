"""The ValidateDataset step: validate (and prepare) a run's dropped object, and write what Bedrock will read.

Reads ``s3://{run.bucket}/{run.source_key}`` as a stream, twice (validation, then the split), pinned to the same
object version (or ETag), writes the split files under ``RunPaths`` and the full report last. The key's name says how
the bytes are read (``lambdas.dataset.sources``): JSON Lines, a JSON array, gzip around either; any other format ends
the run REJECTED unread, the report saying what to upload instead. No Bedrock call happens here: bad data ends the
run before anything is billed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lambdas.contracts import RunConfig, ValidateDatasetOutput
from lambdas.dataset.prepare import PreparationOptions, PreparedDataset, prepare_dataset
from lambdas.dataset.report import Problem, WarningCode
from lambdas.dataset.validator import epochs_for, s3_chunks
from lambdas.runs.overrides import INVALID_OVERRIDE
from lambdas.settings import PipelineSettings

FIRST_ERRORS = 10


def preparation_options(run: RunConfig) -> PreparationOptions:
    return options_for(run.settings)


def options_for(settings: PipelineSettings) -> PreparationOptions:
    """How a drop is prepared under these settings: the one code path ``tuner validate`` shares with the step."""
    return PreparationOptions(
        qa_keys=settings.qa_keys,
        system_prompt=settings.system_prompt,
        split=settings.split,
        epochs=epochs_for(settings),
        price_per_1k_tokens=settings.prices.training_usd_per_1k_tokens,
    )


def validate_run_dataset(s3: Any, run: RunConfig, work_dir: Path | None = None) -> ValidateDatasetOutput:
    """Validate the run's source object; when valid, upload train / validation / test; always upload the report."""
    if run.overrides_error is not None:  # the drop's own settings are invalid: nothing is read, nothing is bought
        return ValidateDatasetOutput(
            valid=False,
            records=0,
            error_count=1,
            warning_count=0,
            first_errors=[Problem(line=None, code=INVALID_OVERRIDE, message=run.overrides_error)],
            report_key=run.paths.validation_report,
        )
    spec = run.settings.model
    paths = run.paths
    head = s3.head_object(**_source_request(run, None))
    pinned = None if run.source_version else head["ETag"]  # the second read must see the same bytes

    def read_source() -> Iterator[bytes]:
        return s3_chunks(s3.get_object(**_source_request(run, pinned))["Body"])

    with tempfile.TemporaryDirectory(dir=work_dir) as scratch:
        prepared = prepare_dataset(
            read_source,
            spec,
            Path(scratch),
            preparation_options(run),
            name=run.source_key,
            size_bytes=int(head["ContentLength"]),
        )
        keys = {"train": paths.train, "validation": paths.validation, "test": paths.test}
        for split, path in prepared.files.items():
            # upload_file switches to multipart for large files: the object appears only once it is complete.
            s3.upload_file(str(path), run.bucket, keys[split], ExtraArgs={"ContentType": "application/jsonl"})
    report = prepared.report
    s3.put_object(
        Bucket=run.bucket,
        Key=paths.validation_report,
        Body=report.model_dump_json(indent=2).encode(),
        ContentType="application/json",
    )
    return _output(prepared, run)


def _source_request(run: RunConfig, if_match: str | None) -> dict[str, str]:
    request = {"Bucket": run.bucket, "Key": run.source_key}
    if run.source_version:
        request["VersionId"] = run.source_version
    if if_match:
        request["IfMatch"] = if_match
    return request


def _output(prepared: PreparedDataset, run: RunConfig) -> ValidateDatasetOutput:
    report = prepared.report
    split = report.stats.split
    paths = run.paths
    return ValidateDatasetOutput(
        valid=report.valid,
        records=report.records,
        error_count=sum(report.stats.error_counts.values()),
        warning_count=sum(report.stats.warning_counts.values()),
        first_errors=report.errors[:FIRST_ERRORS],
        report_key=paths.validation_report,
        prepared_from_raw_qa=report.stats.prepared_from_raw_qa,
        read_as=report.stats.read_as,
        gzip=report.stats.gzip,
        train_key=paths.train if "train" in prepared.files else None,
        validation_key=paths.validation if "validation" in prepared.files else None,
        test_key=paths.test if "test" in prepared.files else None,
        train_records=split.train if split and report.valid else 0,
        validation_records=split.validation if split and report.valid else 0,
        test_records=split.test if split and report.valid else 0,
        estimated_training_tokens=report.stats.estimated_billed_tokens if report.valid else None,
        validation_dropped=next(
            (w.message for w in report.warnings if w.code == WarningCode.VALIDATION_SPLIT_DROPPED), None
        ),
    )
