"""Model access, read with ``GetFoundationModelAvailability`` (botocore ``bedrock`` 2023-04-20).

The response carries four gates: ``authorizationStatus`` (AUTHORIZED | NOT_AUTHORIZED: IAM or an SCP denies the
model), ``entitlementAvailability`` (AVAILABLE | NOT_AVAILABLE: model access has not been granted to the account),
``regionAvailability`` (AVAILABLE | NOT_AVAILABLE: the model is not offered in this region) and
``agreementAvailability.status`` (AVAILABLE | PENDING | NOT_AVAILABLE | ERROR). Public code reads AVAILABLE and
NOT_AVAILABLE of the agreement in opposite ways ("access exists" vs "an offer still has to be accepted"), so only
PENDING and ERROR, which every reading takes as "not usable yet", fail the check; the status is reported either way.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.contracts import CheckStatus, PreflightCheck
from lambdas.lifecycle.service_errors import error_code, error_message, is_not_found, service_call
from lambdas.registry import is_inference_profile

CHECK = "model-access"
_ACCESS_PAGE = "https://console.aws.amazon.com/bedrock/home#/modelaccess"


def foundation_model_of(model_id: str) -> str | None:
    """The foundation-model id behind a Converse ``modelId``: a plain id as is, a system inference profile without
    its geography prefix (us.amazon.nova-pro-v1:0 -> amazon.nova-pro-v1:0), an ARN by its last path part; None when
    the id names no foundation model (an application inference profile's ARN ends in an opaque id)."""
    bare = model_id.rsplit("/", 1)[-1]
    if is_inference_profile(bare):
        bare = bare.split(".", 1)[1]
    return bare if "." in bare else None


def check_model_access(bedrock: Any, *, model_id: str, role: str, through_profile: bool = False) -> PreflightCheck:
    """Whether ``model_id`` (the base model or the judge, named by ``role``) can be used by this account here.

    ``through_profile``: the model is invoked from this region through a cross-Region inference profile, so its
    plain id not being offered in this region is expected, not a problem.
    """
    subject = f"{role} {model_id}"
    try:
        with service_call(f"reading the availability of {model_id}"):
            answer = bedrock.get_foundation_model_availability(modelId=model_id)
    except ClientError as error:
        if is_not_found(error) or error_code(error) == "ValidationException":
            return PreflightCheck(
                check=CHECK,
                subject=subject,
                status=CheckStatus.FAILED,
                message=f"Bedrock does not know {model_id} in this region ({error_message(error)})",
                fix="choose a model this region offers (python -m tuner models lists the registry's)",
            )
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.WARNING,
            message=f"model access could not be read ({error_code(error)}: {error_message(error)}); the first call "
            "that needs it will tell",
            fix="allow bedrock:GetFoundationModelAvailability to the Preflight function's role",
        )
    agreement = answer.get("agreementAvailability") or {}
    agreement_status = str(agreement.get("status", "?"))
    problems: list[str] = []
    fixes: list[str] = []
    if answer.get("authorizationStatus") != "AUTHORIZED":
        problems.append("not authorized (authorizationStatus NOT_AUTHORIZED: an IAM policy or SCP denies it)")
        fixes.append("allow the model to this account's roles (IAM, SCPs)")
    if answer.get("entitlementAvailability") != "AVAILABLE":
        problems.append("no model access (entitlementAvailability NOT_AVAILABLE)")
        fixes.append(f"request access to {model_id} on the Bedrock console's Model access page ({_ACCESS_PAGE})")
    if agreement_status == "PENDING":
        problems.append("its agreement is still being accepted (agreementAvailability PENDING)")
        fixes.append("wait a few minutes and drop the dataset again")
    elif agreement_status == "ERROR":
        problems.append(f"its agreement failed (agreementAvailability ERROR: {agreement.get('errorMessage') or '-'})")
        fixes.append("accept the model's offer again on the Model access page")
    region_offered = answer.get("regionAvailability") == "AVAILABLE"
    if not region_offered and not through_profile:
        problems.append("not offered in this region (regionAvailability NOT_AVAILABLE)")
        fixes.append("deploy the stack to a region that offers it (python -m tuner models)")
    if problems:
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"{role} {model_id} cannot be used by this account: " + "; ".join(problems),
            fix="; ".join(fixes),
        )
    where = "offered here" if region_offered else "invoked through an inference profile"
    return PreflightCheck(
        check=CHECK,
        subject=subject,
        status=CheckStatus.PASSED,
        message=f"authorized, entitled, {where} (agreement {agreement_status})",
    )
