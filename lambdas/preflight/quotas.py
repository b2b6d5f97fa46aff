"""The Service Quotas a run needs (service code ``bedrock``), found by name, compared with what the run will ask.

``ListServiceQuotas`` answers the quotas applied to this account; a quota it does not list (Service Quotas leaves
out a quota whose applied value it cannot give) or whose name no longer matches is reported as "could not be read",
a warning: the create call that needs it will still tell. Quota codes are not used: names are what the console and
the documentation show, and a name pattern survives a quota being reissued under a new code.

Usage is not subtracted: Preflight's role may not list the account's throughputs or jobs (least privilege), so a
quota of N allows a run that needs N even if other workloads hold some of it; ``max_concurrent_runs`` bounds what
this stack itself holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from lambdas.contracts import CheckStatus, PreflightCheck
from lambdas.lifecycle.service_errors import error_code, error_message, service_call
from lambdas.registry import ModelSpec, Serving
from lambdas.settings import PipelineSettings

SERVICE_CODE = "bedrock"
CHECK = "quota"
_REQUEST_INCREASE = "request an increase in the Service Quotas console (Amazon Bedrock, this region)"


@dataclass(frozen=True)
class QuotaNeed:
    """A quota this run needs at least ``needed`` of, and how to recognise it by name."""

    label: str  # what the quota limits, in words
    matches: Callable[[str], bool]  # on the quota's name
    needed: int
    why: str  # what in this run needs it

    def find(self, quotas: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
        """The most restrictive of the quotas whose name matches (several may, e.g. one per customization type)."""
        found = [quota for quota in quotas if self.matches(str(quota.get("QuotaName", "")))]
        return min(found, key=lambda quota: float(quota.get("Value", 0))) if found else None


def _named(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern, re.IGNORECASE)
    return lambda name: compiled.search(name) is not None


# "Model units no-commitment Provisioned Throughputs across custom models" (L-BE77399C) and "Model units per
# provisioned model for <model>" are the names the Bedrock user guide's model-import and knowledge-base evaluation
# prerequisites tell users to check (both 0 until raised). The customization-job and deployment quotas' names are not
# in the documentation this project could read: their patterns are broad on purpose, and an unmatched one is a
# warning, never a rejection.
NO_COMMITMENT_PT_UNITS = _named(r"^model units no-commitment provisioned throughputs across custom models$")
CUSTOMIZATION_JOBS = _named(r"\b(concurrent|scheduled|in[ -]progress)\b.*\bcustomization jobs?\b")
CUSTOM_MODEL_DEPLOYMENTS = _named(r"^(?!.*\b(tokens?|requests?)\b).*\bcustom model deployments?\b")  # not rates


def units_per_provisioned_model(spec: ModelSpec) -> Callable[[str], bool]:
    return _named(rf"^model units per provisioned model for {re.escape(spec.display_name)}\b")


def needs_of(settings: PipelineSettings, serving: Serving, *, trains: bool = True) -> list[QuotaNeed]:
    """What this run will ask of the account's quotas: one job (unless it re-evaluates an existing model), and the
    capacity its serving path buys."""
    spec = settings.model
    needs = []
    if trains:
        needs.append(
            QuotaNeed(
                label="concurrent model customization jobs",
                matches=CUSTOMIZATION_JOBS,
                needed=1,
                why="the run starts one fine-tuning job",
            )
        )
    if serving is Serving.PROVISIONED_THROUGHPUT:
        units = settings.provisioned_model_units
        needs += [
            QuotaNeed(
                label="no-commitment Provisioned Throughput model units for custom models",
                matches=NO_COMMITMENT_PT_UNITS,
                needed=units,
                why=f"the run buys a no-commitment throughput of {units} model unit(s) for the fine-tuned model",
            ),
            QuotaNeed(
                label=f"model units per provisioned model for {spec.display_name}",
                matches=units_per_provisioned_model(spec),
                needed=units,
                why=f"the throughput has {units} model unit(s) of {spec.display_name}",
            ),
        ]
    else:
        needs.append(
            QuotaNeed(
                label="custom model deployments",
                matches=CUSTOM_MODEL_DEPLOYMENTS,
                needed=1,
                why="the run deploys the fine-tuned model on demand",
            )
        )
    return needs


def list_bedrock_quotas(service_quotas: Any) -> list[dict[str, Any]]:
    quotas: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"ServiceCode": SERVICE_CODE, "MaxResults": 100}
    while True:
        with service_call("listing the Amazon Bedrock service quotas"):
            page = service_quotas.list_service_quotas(**kwargs)
        quotas.extend(page.get("Quotas", []))
        if not page.get("NextToken"):
            return quotas
        kwargs["NextToken"] = page["NextToken"]


def check_quotas(service_quotas: Any, needs: list[QuotaNeed]) -> list[PreflightCheck]:
    """One check per need: failed when the quota is below what the run needs, a warning when it cannot be read."""
    try:
        quotas = list_bedrock_quotas(service_quotas)
    except ClientError as error:
        reason = f"the Bedrock quotas could not be listed ({error_code(error)}: {error_message(error)})"
        return [
            PreflightCheck(
                check=CHECK,
                subject=need.label,
                status=CheckStatus.WARNING,
                message=f"could not be read: {reason}",
                fix="allow servicequotas:ListServiceQuotas to the Preflight function's role",
            )
            for need in needs
        ]
    return [_judge(need, need.find(quotas), total=len(quotas)) for need in needs]


def _judge(need: QuotaNeed, quota: dict[str, Any] | None, *, total: int) -> PreflightCheck:
    if quota is None:
        return PreflightCheck(
            check=CHECK,
            subject=need.label,
            status=CheckStatus.WARNING,
            message=f"could not be read: no quota named like it among the {total} applied Amazon Bedrock quota(s) "
            f"this account lists ({need.why})",
            fix="check it in the Service Quotas console (Amazon Bedrock) before the run reaches that step",
        )
    name, code = str(quota.get("QuotaName")), str(quota.get("QuotaCode", "?"))
    value = float(quota.get("Value", 0))
    shown = f"{value:g}"
    subject = f"{name} ({code})"
    if value < need.needed:
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"{name} ({code}) is {shown}, but {need.why}: it needs {need.needed}",
            fix=f"{_REQUEST_INCREASE}: {name} ({code}) to at least {need.needed}",
        )
    return PreflightCheck(
        check=CHECK,
        subject=subject,
        status=CheckStatus.PASSED,
        message=f"{shown} (the run needs {need.needed}: {need.why}; other workloads' use is not counted)",
    )
