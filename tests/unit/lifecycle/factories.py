"""Builders for the runs and state the lifecycle tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lambdas.contracts import RunConfig, ValidateDatasetOutput
from lambdas.registry import REFERENCE_STUDY_MODEL_ID, Serving
from lambdas.settings import PipelineSettings

BUCKET = "fine-tuning-data-123456789012"
STACK = "FineTuningStack"
ROLE_ARN = "arn:aws:iam::123456789012:role/BedrockFineTuning"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
CUSTOM_MODEL_ARN = f"arn:aws:bedrock:us-west-2:123456789012:custom-model/{HAIKU}/abcdef123456"
NOVA_MODEL_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdef123456"
PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/pt0000000001"
DEPLOYMENT_ARN = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/dep000000001"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def make_run(
    run_id: str = "run-20260301-0900-abc123",
    *,
    settings: PipelineSettings | None = None,
    serving: Serving = Serving.PROVISIONED_THROUGHPUT,
    stack_name: str = STACK,
    **settings_values: Any,
) -> RunConfig:
    if settings is None:
        settings_values.setdefault("base_model_id", REFERENCE_STUDY_MODEL_ID)
        settings = PipelineSettings(**settings_values)
    return RunConfig.model_construct(
        run_id=run_id,
        bucket=BUCKET,
        source_key="incoming/faq (v2).jsonl",
        source_version=None,
        source_etag=None,
        received_at=T0,
        stack_name=stack_name,
        settings=settings,
        serving=serving,
        emulated=False,
    )


def valid_dataset(run: RunConfig, *, with_validation: bool = True) -> ValidateDatasetOutput:
    return ValidateDatasetOutput(
        valid=True,
        records=117,
        error_count=0,
        warning_count=0,
        report_key=run.paths.validation_report,
        train_key=run.paths.train,
        validation_key=run.paths.validation if with_validation else None,
        test_key=run.paths.test,
        train_records=85,
        validation_records=32 if with_validation else 0,
    )


class FixedClock:
    """A settable clock for ``lambdas.clock.use_clock``."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class ListsThroughputsAsGiven:
    """A bedrock client whose throughput listing returns ``summaries`` as given; every other call goes to ``client``.

    The Stubber refuses a summary without the fields Bedrock's model marks as required (``creationTime``,
    ``modelUnits``); the code must still not delete, or misprice, what an SDK or the service lists without them.
    """

    def __init__(self, client: Any, summaries: list[dict[str, Any]]) -> None:
        self._client = client
        self._summaries = summaries

    def get_paginator(self, operation: str) -> Any:
        if operation != "list_provisioned_model_throughputs":
            return self._client.get_paginator(operation)
        return _OnePage({"provisionedModelSummaries": self._summaries})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _OnePage:
    def __init__(self, page: dict[str, Any]) -> None:
        self._page = page

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [self._page]
