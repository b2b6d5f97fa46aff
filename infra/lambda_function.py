"""A Lambda function running code from ``lambdas/``, with its own role, log group and tracing.

Zip functions ship only this repository's ``lambdas`` package; pydantic and Powertools come from the AWS-published
Powertools v3 layer (built from ``aws-lambda-powertools[all]``, which includes pydantic v2), boto3 from the runtime.
Packaging is a plain copy at synth time (local bundling), so synthesis needs no Docker engine.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, Duration, ILocalBundling, RemovalPolicy, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"

# Powertools for AWS Lambda (Python) v3, Python 3.11, x86_64: published by AWS in every commercial region.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python311-x86_64"
POWERTOOLS_LAYER_VERSION = 23

_PACKAGE_IGNORE = ("__pycache__", "*.pyc", "Dockerfile*", ".mypy_cache")


@jsii.implements(ILocalBundling)
class _CopyLambdasPackage:
    """Copies ``lambdas/`` into the asset as the ``lambdas`` package: the handler string is ``lambdas.handlers.X``."""

    def try_bundle(self, output_dir: str, options: Any) -> bool:  # noqa: ARG002 - jsii interface signature
        shutil.copytree(LAMBDAS_DIR, Path(output_dir) / "lambdas", ignore=shutil.ignore_patterns(*_PACKAGE_IGNORE))
        return True


def lambdas_package_code() -> lambda_.Code:
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=list(_PACKAGE_IGNORE),
        bundling=BundlingOptions(
            # Never used: local bundling always succeeds. CDK requires an image for the Docker fallback.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.11"),
            local=_CopyLambdasPackage(),
        ),
    )


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    region = Stack.of(scope).region
    arn = f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:{POWERTOOLS_LAYER_NAME}:{POWERTOOLS_LAYER_VERSION}"
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


class PipelineFunction(Construct):
    """One step's function: least-privilege role (logs only until grants are added), retained logs, X-Ray."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        handler_module: str,
        description: str,
        code: lambda_.Code | None = None,
        layers: list[lambda_.ILayerVersion] | None = None,
        image_code: lambda_.DockerImageCode | None = None,
        timeout: Duration | None = None,
        memory_size: int = 512,
        ephemeral_storage_mib: int = 512,
        environment: dict[str, str] | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, id_)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {id_} step of the fine-tuning pipeline",
        )
        # Only this function's own log group, instead of the managed AWSLambdaBasicExecutionRole (any log group).
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                # CloudFormation's LogGroup Arn attribute already ends in ":*", which covers the group's streams.
                resources=[self.log_group.log_group_arn],
            )
        )
        env = {
            "POWERTOOLS_SERVICE_NAME": "fine-tuning-pipeline",
            "POWERTOOLS_METRICS_NAMESPACE": "FineTuningPipeline",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **(environment or {}),
        }
        common: dict[str, Any] = {
            "description": description,
            "role": self.role,
            "timeout": timeout or Duration.minutes(1),
            "memory_size": memory_size,
            "ephemeral_storage_size": Size.mebibytes(ephemeral_storage_mib),
            "environment": env,
            "tracing": lambda_.Tracing.ACTIVE,
            "log_group": self.log_group,
            "architecture": lambda_.Architecture.X86_64,
        }
        self.function: lambda_.Function
        if image_code is not None:
            self.function = lambda_.DockerImageFunction(self, "Function", code=image_code, **common)
        else:
            self.function = lambda_.Function(
                self,
                "Function",
                runtime=lambda_.Runtime.PYTHON_3_11,
                handler=f"lambdas.handlers.{handler_module}.handler",
                code=code or lambdas_package_code(),
                layers=layers or [],
                **common,
            )
        self.handler_module = handler_module

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        self.role.add_to_policy(statement)
