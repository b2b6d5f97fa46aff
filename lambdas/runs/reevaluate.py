"""Evaluating an existing custom model again, without retraining: a JSON request dropped under ``reevaluate/``.

``tuner evaluate --custom-model ARN --run RUN_ID`` uploads one; a person can write it by hand too::

    {"custom_model_arn": "arn:aws:bedrock:us-east-1:111122223333:custom-model/...",
     "run_id": "my-data-0123456789ab",          # the run that trained it: its test split (and, for the leakage
                                                #   check, its training data) are reused
     "test_set": "eval/questions.jsonl",        # or/and a fixed evaluation set under eval/
     "settings": {"evaluation": {...}}}         # optional run-level settings, as the fine-tuning-settings metadata

The request becomes a run like any other (same id scheme, same report, same notification) whose ValidateDataset
step reads the source run's splits instead of validating a new drop, and whose state machine path skips the job:
Preflight -> CreateInferenceCapacity -> ... -> DeleteInferenceCapacity -> scoring -> report. A request that cannot be
used (not JSON, no model ARN, neither a run nor a test set, a run with no test split) still gets a run: it ends
REJECTED with the reason in the report and the notification, before anything is bought.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lambdas.contracts import (
    REEVALUATE_PREFIX,
    ChampionAtStart,
    Reevaluation,
    RunConfig,
    RunPaths,
    ValidateDatasetOutput,
)
from lambdas.dataset.report import Problem
from lambdas.runs.start import DroppedObject, StartRunResult, build_run_config, execute
from lambdas.settings import PipelineSettings

MAX_REQUEST_BYTES = 64 * 1024
INVALID_REQUEST = "invalid_reevaluation_request"
NO_SOURCE_SPLIT = "reevaluation_source_missing"
CUSTOM_MODEL_ARN_PATTERN = r"^arn:aws(-[a-z]+)*:bedrock:[a-z0-9-]+:[0-9]{12}:custom-model/\S+$"
EXAMPLE = (
    '{"custom_model_arn": "arn:aws:bedrock:REGION:ACCOUNT:custom-model/...", "run_id": "RUN_ID"} '
    '(or "test_set": "eval/FILE.jsonl" instead of run_id)'
)


class ReevaluationRequest(BaseModel):
    """What a ``reevaluate/*.json`` object holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    custom_model_arn: str = Field(pattern=CUSTOM_MODEL_ARN_PATTERN, max_length=2048)
    run_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    test_set: str | None = Field(default=None, pattern=r"^eval/\S+$", max_length=1_024)
    settings: dict[str, Any] | None = None

    def document(self) -> bytes:
        return (self.model_dump_json(exclude_none=True, indent=2) + "\n").encode()

    def overrides(self) -> str | None:
        """The run-level settings the run applies, as the ``fine-tuning-settings`` metadata would carry them."""
        settings = dict(self.settings or {})
        if self.test_set is not None:
            evaluation = dict(settings.get("evaluation") or {})
            evaluation["test_set"] = self.test_set
            settings["evaluation"] = evaluation
        return json.dumps(settings) if settings else None


def request_key(name: str) -> str:
    return f"{REEVALUATE_PREFIX}{name}.json"


def parse_request(body: bytes) -> ReevaluationRequest:
    """The request, or ``ValueError`` with one sentence a person can act on."""
    if len(body) > MAX_REQUEST_BYTES:
        raise ValueError(f"the request is {len(body):,} bytes; a re-evaluation request is a small JSON object")
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the request is not JSON ({error}); upload {EXAMPLE}") from None
    if not isinstance(document, dict):
        raise ValueError(f"the request must be a JSON object: {EXAMPLE}")
    try:
        request = ReevaluationRequest.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "request"
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "string_pattern_mismatch" and where == "custom_model_arn":
            message = "must be a custom model ARN (arn:aws:bedrock:REGION:ACCOUNT:custom-model/...)"
        raise ValueError(f"{where}: {message}; expected {EXAMPLE}") from None
    if request.run_id is None and request.test_set is None and not _names_test_set(request.settings):
        raise ValueError(
            "name the questions: run_id (the run that trained the model: its test split is reused) or test_set "
            "(a fixed evaluation set under eval/)"
        )
    return request


def _names_test_set(settings: dict[str, Any] | None) -> bool:
    evaluation = (settings or {}).get("evaluation")
    return isinstance(evaluation, dict) and bool(evaluation.get("test_set"))


def read_request(s3: Any, bucket: str, key: str, version_id: str | None) -> tuple[ReevaluationRequest | None, str]:
    """(the request, "") or (None, why it cannot be used)."""
    kwargs = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    try:
        response = s3.get_object(**kwargs, Range=f"bytes=0-{MAX_REQUEST_BYTES}")
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        return None, f"s3://{bucket}/{key} could not be read ({code})"
    try:
        return parse_request(response["Body"].read()), ""
    except ValueError as error:
        return None, str(error)


def reevaluation_of(key: str, request: ReevaluationRequest | None, error: str) -> Reevaluation:
    if request is None:
        return Reevaluation(request_key=key, request_error=error or "the request could not be read")
    return Reevaluation(custom_model_arn=request.custom_model_arn, source_run_id=request.run_id, request_key=key)


def reevaluation_dataset(s3: Any, run: RunConfig) -> ValidateDatasetOutput:
    """The ValidateDataset step of a re-evaluation: the source run's splits, checked to exist; nothing is written.

    Without a source run, the fixed evaluation set (``evaluation.test_set``) is the only source of questions and
    PlanEvaluation reads it; the leakage check then has no training data to compare with (the report says so).
    """
    reevaluation = run.reevaluation
    assert reevaluation is not None
    problem = _request_problem(run)
    source = RunPaths(run_id=reevaluation.source_run_id) if reevaluation.source_run_id else None
    if problem is None and source is not None:
        present = {key: _exists(s3, run.bucket, key) for key in (source.train, source.validation, source.test)}
        if not present[source.test] and run.settings.evaluation.test_set is None:
            problem = Problem(
                line=None,
                code=NO_SOURCE_SPLIT,
                message=f"run {reevaluation.source_run_id} has no test split in this bucket ({source.test}): name a "
                "fixed evaluation set instead (tuner evaluate --test-set eval/FILE.jsonl)",
            )
    if problem is not None:
        return ValidateDatasetOutput(
            valid=False,
            records=0,
            error_count=1,
            warning_count=0,
            first_errors=[problem],
            report_key=run.paths.validation_report,
        )
    keys = present if source is not None else {}
    return ValidateDatasetOutput(
        valid=True,
        records=0,
        error_count=0,
        warning_count=0,
        report_key=source.validation_report if source is not None else run.paths.validation_report,
        train_key=source.train if source is not None and keys[source.train] else None,
        validation_key=source.validation if source is not None and keys[source.validation] else None,
        test_key=source.test if source is not None and keys[source.test] else None,
        estimated_training_tokens=0,
    )


def _request_problem(run: RunConfig) -> Problem | None:
    reevaluation = run.reevaluation
    assert reevaluation is not None
    if reevaluation.request_error is not None:
        return Problem(
            line=None, code=INVALID_REQUEST, message=f"{reevaluation.request_key}: {reevaluation.request_error}"
        )
    if run.overrides_error is not None:
        return Problem(line=None, code=INVALID_REQUEST, message=run.overrides_error)
    return None


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound", "403"):
            return False
        raise
    return True


def start_reevaluation(
    obj: DroppedObject,
    *,
    s3: Any,
    settings: PipelineSettings,
    stack_name: str,
    state_machine_arn: str,
    emulated: bool,
    stepfunctions: Any,
    champion: ChampionAtStart | None = None,
) -> StartRunResult:
    """A run for a ``reevaluate/`` request: usable or not, the request gets a run, a report and a notification."""
    if obj.key.endswith("/"):
        return StartRunResult(run_id="", started=False, reason=f"{obj.key!r} is a folder marker, not a request")
    request, error = read_request(s3, obj.bucket, obj.key, obj.version_id)
    run = build_run_config(
        obj,
        settings=settings,
        stack_name=stack_name,
        emulated=emulated,
        overrides=request.overrides() if request is not None else None,
        champion=champion,
    )
    run = run.model_copy(update={"reevaluation": reevaluation_of(obj.key, request, error)})
    return execute(run, state_machine_arn=state_machine_arn, stepfunctions=stepfunctions)
