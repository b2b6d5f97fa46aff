"""The CloudFormation template the CDK app deploys, synthesized offline, cached, and resolved for moto.

The local run executes the state machine definition from the app's own synthesis (``infra.app.synthesize_template``)
so that what is rehearsed is what ``cdk deploy`` ships. Synthesis runs in a child process (it starts a jsii/node
runtime and prints its banners there) and is cached on disk, keyed by a hash of everything that shapes the template:
``infra/``, ``lambdas/``, ``app.py``, ``cdk.json``, ``requirements-lambda.txt`` and the context.

``TemplateResolver`` gives each resource of the template a physical name or ARN, as CloudFormation would, and
resolves the intrinsic functions the template uses (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``,
``Fn::Select``, ``Fn::Split``) against them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
CACHE_DIR = REPO_ROOT / "cdk.out" / "local-harness"
HASHED_PATHS = ("infra", "lambdas", "app.py", "cdk.json", "requirements-lambda.txt")
ACCOUNT_ID = "123456789012"


class SynthesisError(RuntimeError):
    """The CDK app refused to synthesize (usually invalid settings); the message is the app's own."""


def source_fingerprint(root: Path = REPO_ROOT) -> str:
    digest = hashlib.sha256()
    for relative in HASHED_PATHS:
        path = root / relative
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if not file.is_file() or "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def synthesize(context: Mapping[str, Any], *, cache_dir: Path = CACHE_DIR) -> dict[str, Any]:
    """The stack's template for ``context``: from the cache when the sources have not changed."""
    key_material = json.dumps({"context": context, "sources": source_fingerprint()}, sort_keys=True)
    key = hashlib.sha256(key_material.encode()).hexdigest()[:24]
    cached = cache_dir / f"template-{key}.json"
    if cached.is_file():
        template: dict[str, Any] = json.loads(cached.read_text())
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(".partial")
    # An environment-agnostic template (region and account stay pseudo parameters, resolved by TemplateResolver):
    # the same template whatever account the user's shell points at.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("CDK_DEFAULT_")}
    environment["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = "1"
    completed = subprocess.run(
        [sys.executable, "-m", "tuner.local.template", str(partial), json.dumps(context)],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0 or not partial.is_file():
        message = _last_error_line(completed.stderr) or f"synthesis exited with {completed.returncode}"
        raise SynthesisError(message)
    partial.replace(cached)  # only a complete template ever carries the final name
    synthesized: dict[str, Any] = json.loads(cached.read_text())
    return synthesized


def _last_error_line(stderr: str) -> str:
    for marker in ("SettingsError:", "ValidationError:", "Error:"):
        index = stderr.rfind(marker)
        if index >= 0:
            return stderr[index:].strip()
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _synthesize_into(path: str, context_json: str) -> None:
    from infra.app import synthesize_template

    template = synthesize_template(json.loads(context_json))
    Path(path).write_text(json.dumps(template))


# ------------------------------------------------------------------------------------------------------ resolver
@dataclass(frozen=True)
class PhysicalResource:
    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str]


def _suffix(logical_id: str) -> str:
    return hashlib.sha256(logical_id.encode()).hexdigest()[:8]


class TemplateResolver:
    """Physical ids for the template's resources (as CloudFormation would name them) and intrinsic resolution."""

    def __init__(self, template: Mapping[str, Any], *, stack_name: str, region: str, account: str = ACCOUNT_ID):
        self.template = template
        self.stack_name = stack_name
        self.region = region
        self.account = account
        self.resources: dict[str, PhysicalResource] = {
            logical_id: self._physical(logical_id, resource)
            for logical_id, resource in template.get("Resources", {}).items()
        }

    def of_type(self, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
        return [
            (logical_id, resource.get("Properties", {}))
            for logical_id, resource in self.template.get("Resources", {}).items()
            if resource["Type"] == resource_type
        ]

    def _physical(self, logical_id: str, resource: Mapping[str, Any]) -> PhysicalResource:
        kind = resource["Type"]
        props = resource.get("Properties", {})
        region, account = self.region, self.account
        generated = f"{self.stack_name}-{logical_id}-{_suffix(logical_id)}"
        if kind == "AWS::S3::Bucket":
            name = props.get("BucketName") or re.sub(r"[^a-z0-9-]", "", generated.lower())[:63].rstrip("-")
            return PhysicalResource(logical_id, kind, name, {"Arn": f"arn:aws:s3:::{name}", "BucketName": name})
        if kind == "AWS::SNS::Topic":
            name = props.get("TopicName") or generated[:256]
            arn = f"arn:aws:sns:{region}:{account}:{name}"
            return PhysicalResource(logical_id, kind, arn, {"TopicArn": arn, "TopicName": name})
        if kind == "AWS::IAM::Role":
            name = props.get("RoleName") or generated[:64]
            arn = f"arn:aws:iam::{account}:role/{name}"
            return PhysicalResource(logical_id, kind, name, {"Arn": arn, "RoleId": f"AROA{_suffix(name).upper()}"})
        if kind == "AWS::Lambda::Function":
            name = props.get("FunctionName") or generated[:64]
            arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
            return PhysicalResource(logical_id, kind, name, {"Arn": arn})
        if kind == "AWS::StepFunctions::StateMachine":
            name = props.get("StateMachineName") or f"{logical_id}-{_suffix(logical_id)}"
            arn = f"arn:aws:states:{region}:{account}:stateMachine:{name}"
            return PhysicalResource(logical_id, kind, arn, {"Arn": arn, "Name": name})
        if kind == "AWS::SQS::Queue":
            name = props.get("QueueName") or generated[:80]
            url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            return PhysicalResource(logical_id, kind, url, {"Arn": f"arn:aws:sqs:{region}:{account}:{name}"})
        if kind == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName") or f"/aws/{generated}"
            return PhysicalResource(
                logical_id, kind, name, {"Arn": f"arn:aws:logs:{region}:{account}:log-group:{name}:*"}
            )
        if kind == "AWS::SSM::Parameter":
            name = props.get("Name") or generated
            arn = f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"
            return PhysicalResource(logical_id, kind, name, {"Type": props.get("Type", "String"), "Arn": arn})
        if kind == "AWS::Events::Rule":
            name = props.get("Name") or generated[:64]
            return PhysicalResource(logical_id, kind, name, {"Arn": f"arn:aws:events:{region}:{account}:rule/{name}"})
        return PhysicalResource(logical_id, kind, generated, {})

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/local",
        }
        if name not in values:
            raise KeyError(f"unsupported pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name not in self.resources:
            raise KeyError(f"Ref to {name!r}, which is not a resource of the template")
        return self.resources[name].ref

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise KeyError(f"Fn::GetAtt of {logical_id!r}, which is not a resource of the template")
        if attribute not in resource.attributes:
            raise KeyError(f"Fn::GetAtt {logical_id}.{attribute} is not known to the local harness ({resource.type})")
        return resource.attributes[attribute]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (function, argument), *_ = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if function == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if function.startswith("Fn::") or function == "Condition":
                raise KeyError(f"the local harness cannot resolve {function}")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        resolved_variables = {name: str(self.resolve(item)) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_variables:
                return resolved_variables[name]
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


if __name__ == "__main__":
    _synthesize_into(sys.argv[1], sys.argv[2])
