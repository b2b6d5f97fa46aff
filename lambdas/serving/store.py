"""Where the serving record is kept: the SSM String parameter ``/<stack>/serving`` (the current state, read by the
state machine and the CLI alike) and ``serving/history.jsonl`` in the data bucket (one line per change, for people).

The parameter is written by code, not by the CDK stack, so ``cdk destroy`` does not take the record of what serves
with it (nor the deployment it names).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from lambdas.errors import PipelineError
from lambdas.lifecycle.service_errors import error_code, service_call
from lambdas.serving.record import HistoryEntry, ServingRecord, parameter_name

SsmClient = Any
S3Client = Any

HISTORY_KEY = "serving/history.jsonl"
MAX_PARAMETER_CHARS = 4096  # a Standard-tier SSM parameter's value


class ServingRecordError(PipelineError):
    """The serving record cannot be used as it is: a person has to look at it."""


class CorruptServingRecordError(ServingRecordError):
    """The parameter (or a history line) holds something that is not a serving record."""


class ServingRecordTooLargeError(ServingRecordError):
    """The record no longer fits a Standard SSM parameter."""


def read_record(ssm: SsmClient, stack_name: str) -> ServingRecord | None:
    """The stack's serving record; None when the parameter does not exist (nothing was ever promoted)."""
    name = parameter_name(stack_name)
    try:
        with service_call(f"reading the serving record {name}"):
            value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as error:
        if error_code(error) == "ParameterNotFound":
            return None
        raise
    try:
        record = ServingRecord.model_validate_json(value)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'value'}: {item['msg']}" for item in error.errors()
        )
        raise CorruptServingRecordError(
            f"the SSM parameter {name} is not a serving record ({problems}); fix or delete it "
            "(aws ssm delete-parameter --name " + name + ") and promote again"
        ) from None
    if record.stack_name != stack_name:
        raise CorruptServingRecordError(f"the SSM parameter {name} holds the record of stack {record.stack_name}")
    return record


def write_record(ssm: SsmClient, record: ServingRecord) -> None:
    name = parameter_name(record.stack_name)
    value = record.model_dump_json(exclude_none=False)
    if len(value) > MAX_PARAMETER_CHARS:
        raise ServingRecordTooLargeError(
            f"the serving record is {len(value)} characters, more than the {MAX_PARAMETER_CHARS} of the SSM "
            f"parameter {name}"
        )
    with service_call(f"writing the serving record {name}"):
        ssm.put_parameter(
            Name=name,
            Value=value,
            Type="String",
            Overwrite=True,
            Description="The model this fine-tuning stack serves (python -m tuner serving)",
        )


def _history_text(s3: S3Client, bucket: str) -> str:
    try:
        with service_call(f"reading s3://{bucket}/{HISTORY_KEY}"):
            body: bytes = s3.get_object(Bucket=bucket, Key=HISTORY_KEY)["Body"].read()
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            return ""
        raise
    return body.decode("utf-8")


def append_history(s3: S3Client, bucket: str, entry: HistoryEntry) -> None:
    """Append one line, rewriting the whole object (S3 has no append; changes are rare and made one at a time)."""
    text = _history_text(s3, bucket)
    if text and not text.endswith("\n"):
        text += "\n"
    text += entry.model_dump_json() + "\n"
    with service_call(f"writing s3://{bucket}/{HISTORY_KEY}"):
        s3.put_object(Bucket=bucket, Key=HISTORY_KEY, Body=text.encode("utf-8"), ContentType="application/x-ndjson")


def read_history(s3: S3Client, bucket: str) -> list[HistoryEntry]:
    """Every change, oldest first; an unreadable line is an error naming its line number."""
    entries: list[HistoryEntry] = []
    for number, line in enumerate(_history_text(s3, bucket).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(HistoryEntry.model_validate_json(line))
        except ValidationError:
            raise CorruptServingRecordError(
                f"s3://{bucket}/{HISTORY_KEY} line {number} is not a serving history entry"
            ) from None
    return entries
