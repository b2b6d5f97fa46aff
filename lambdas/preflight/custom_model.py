"""A re-evaluation's model: it must still exist, be ready, and come from the base model the stack evaluates against.

GetCustomModel answers ``baseModelArn`` (the customizable variant the job trained from, e.g.
``.../foundation-model/amazon.nova-lite-v1:0:300k``) and ``modelStatus`` (Active | Creating | Failed); both are
in the botocore service model's GetCustomModelResponse.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.contracts import CheckStatus, PreflightCheck
from lambdas.registry import ModelSpec

CHECK = "custom-model"


def check_custom_model(bedrock: Any, arn: str, spec: ModelSpec) -> PreflightCheck:
    subject = f"custom model {arn}"
    try:
        model = bedrock.get_custom_model(modelIdentifier=arn)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("ResourceNotFoundException", "ValidationException"):
            message, fix = (
                f"Bedrock has no such custom model ({code}): it was deleted, or belongs to another account or region",
                "check the ARN (aws bedrock list-custom-models), or train it again by dropping its dataset",
            )
        else:
            message, fix = (
                f"GetCustomModel failed ({code}: {error.response.get('Error', {}).get('Message', '')})",
                "allow bedrock:GetCustomModel on custom-model/* to the Preflight function's role",
            )
        return PreflightCheck(check=CHECK, subject=subject, status=CheckStatus.FAILED, message=message, fix=fix)
    status = model.get("modelStatus", "Active")
    base = str(model.get("baseModelArn", "")).rsplit("/", 1)[-1]
    if status != "Active":
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"the model is {status}, not Active: it cannot be deployed or served",
            fix="wait for its customization job to finish, or re-evaluate another model",
        )
    if base and base not in (spec.model_id, spec.foundation_model_id):
        return PreflightCheck(
            check=CHECK,
            subject=subject,
            status=CheckStatus.FAILED,
            message=f"the model was trained from {base}; this stack evaluates against {spec.model_id}, so the "
            "comparison with the base model would be meaningless",
            fix="re-evaluate it with a stack whose base_model_id is the model's base model",
        )
    return PreflightCheck(
        check=CHECK,
        subject=subject,
        status=CheckStatus.PASSED,
        message=f"{model.get('modelName', arn)} exists, is Active, and was trained from {base or spec.model_id}",
    )
