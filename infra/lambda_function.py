"""A Lambda function running code from ``lambdas/``, with its own role, log group and tracing.

Zip functions run on ``RUNTIME`` and ship this repository's ``lambdas`` package plus a pinned boto3/botocore
(``requirements-lambda.txt``); pydantic and Powertools come from the AWS-published Powertools v3 layer built for the
same runtime (``aws-lambda-powertools[all]``, which includes pydantic v2 and aws-xray-sdk).

Packaging happens at synth time without Docker (CDK local bundling): pip installs the pinned wheels for the
functions' runtime and architecture once into ``.cache/lambda-dependencies/<hash of the pins>/`` (the only step that
needs PyPI), and every synthesis copies that folder and ``lambdas/`` into the asset.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Size,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"
LAMBDA_REQUIREMENTS = REPO_ROOT / "requirements-lambda.txt"
DEPENDENCY_CACHE = REPO_ROOT / ".cache" / "lambda-dependencies"

# Python 3.12: supported until 2028-10-31 (cfn-lint's LmbdRuntimeLifecycle data; tests/infra fail once it is marked
# deprecated), and the evaluation image's Python (lambdas/Dockerfile.evaluation: public.ecr.aws/lambda/python:3.12).
RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURE = lambda_.Architecture.X86_64
# What pip installs for: CPython wheels for the runtime's version and architecture (nothing is built on this machine).
_PIP_TARGET = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    RUNTIME.name.removeprefix("python"),
)

# Powertools for AWS Lambda (Python) v3 for python3.12 on x86_64, published by AWS in every commercial region:
# arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:23 is the ARN the
# Powertools documentation lists (docs/index.md, "Lambda Layer", aws-powertools/powertools-lambda-python#7354).
# The layer's Python version must be the runtime's: its pydantic-core is a compiled extension.
POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python312-x86_64"
POWERTOOLS_LAYER_VERSION = 23

_PACKAGE_IGNORE = ("__pycache__", "*.pyc", "Dockerfile*", ".mypy_cache")


class LambdaDependenciesError(RuntimeError):
    """pip could not install the pinned Lambda dependencies (synthesis needs PyPI once, then uses the cache)."""


def lambda_dependencies(requirements: Path = LAMBDA_REQUIREMENTS, cache: Path = DEPENDENCY_CACHE) -> Path:
    """The folder holding the pinned dependencies, installed for the runtime; built once per set of pins."""
    key = hashlib.sha256(requirements.read_bytes() + " ".join(_PIP_TARGET).encode()).hexdigest()[:16]
    installed = cache / key
    if installed.is_dir():
        return installed
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=cache))
    try:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",  # every package is pinned in the file: nothing is resolved, nothing floats
            "--no-compile",  # no __pycache__ in the asset; the runtime compiles what it imports
            "--only-binary=:all:",
            *_PIP_TARGET,
            "--target",
            str(staging),
            "-r",
            str(requirements),
        ]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise LambdaDependenciesError(
                f"could not install {requirements.name} for the Lambda runtime (synthesis needs PyPI the first "
                f"time; then {cache} holds them): {completed.stderr.strip() or completed.stdout.strip()}"
            )
        shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts (jp.py): nothing runs them
        try:
            staging.rename(installed)  # atomic: a parallel synthesis sees the folder whole or not at all
        except OSError:
            if not installed.is_dir():  # not "another synthesis finished first with the same pins"
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return installed


@jsii.implements(ILocalBundling)
class _LambdaPackageBundler:
    """The asset: the pinned dependencies at the root and ``lambdas/`` as a package (handler ``lambdas.handlers.X``)."""

    def __init__(self, dependencies: Path) -> None:
        self._dependencies = dependencies

    def try_bundle(self, output_dir: str, options: Any) -> bool:  # noqa: ARG002 - jsii interface signature
        shutil.copytree(self._dependencies, output_dir, dirs_exist_ok=True)
        shutil.copytree(LAMBDAS_DIR, Path(output_dir) / "lambdas", ignore=shutil.ignore_patterns(*_PACKAGE_IGNORE))
        return True


def lambdas_package_code() -> lambda_.Code:
    # Installed here, before CDK calls the bundler, so that a pip failure is a Python error with pip's message.
    dependencies = lambda_dependencies()
    return lambda_.Code.from_asset(
        str(LAMBDAS_DIR),
        exclude=list(_PACKAGE_IGNORE),
        # The hash of what is shipped: a change of pins changes the asset even though lambdas/ did not change.
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Never used: local bundling always succeeds. CDK requires an image for the Docker fallback.
            image=DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=_LambdaPackageBundler(dependencies),
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
            "architecture": ARCHITECTURE,
        }
        self.function: lambda_.Function
        if image_code is not None:
            self.function = lambda_.DockerImageFunction(self, "Function", code=image_code, **common)
        else:
            self.function = lambda_.Function(
                self,
                "Function",
                runtime=RUNTIME,
                handler=f"lambdas.handlers.{handler_module}.handler",
                code=code or lambdas_package_code(),
                layers=layers or [],
                **common,
            )
        self.handler_module = handler_module
        self.is_zip = image_code is None

    def add_to_role_policy(self, statement: iam.PolicyStatement) -> None:
        self.role.add_to_policy(statement)
