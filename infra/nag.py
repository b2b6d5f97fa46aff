"""Every cdk-nag finding this stack accepts, each acknowledged where it arises, with the reason it is right.

cdk-nag v3 needs each finding acknowledged by its exact id (``AwsSolutions-IAM5[Resource::...]``); ids that name a
resource embed its logical id, so they are computed from the constructs rather than written out by hand.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from infra.lambda_function import PipelineFunction
from infra.stack import FineTuningStack

_BEDROCK = "arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>"
_BEDROCK_WILDCARDS = {
    f"{_BEDROCK}:model-customization-job/*": "Job ARNs end in an id Bedrock assigns at creation; the statement is "
    "limited to this account and region, and the job name is checked by the step itself.",
    f"{_BEDROCK}:custom-model/*": "Custom model ARNs end in an id Bedrock assigns when training completes; limited "
    "to this account and region.",
    f"{_BEDROCK}:provisioned-model/*": "Provisioned throughput ARNs end in an id Bedrock assigns at purchase; "
    "limited to this account and region. Narrowing by tag is avoided on purpose: a denied delete would leak "
    "capacity billed by the hour.",
    f"{_BEDROCK}:custom-model-deployment/*": "Deployment ARNs end in an id Bedrock assigns at creation; limited to "
    "this account and region. Narrowing by tag is avoided on purpose: a denied delete would leak capacity.",
    f"{_BEDROCK}:inference-profile/*": "The base and judge models may be configured as cross-region inference "
    "profiles, whose ids are chosen per deployment in cdk.json.",
    "arn:<AWS::Partition>:bedrock:*::foundation-model/*": "The base model and the judge model are configuration; "
    "a cross-region inference profile routes to the foundation model in other regions, so the region is open.",
}
_LIST_AND_TRACE_REASON = (
    "Only actions that support no resource-level permissions use '*': X-Ray PutTraceSegments/PutTelemetryRecords "
    "(active tracing) and, for the capacity steps, bedrock:ListProvisionedModelThroughputs/"
    "ListCustomModelDeployments (finding a run's capacity by its deterministic name)."
)


def _ack(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{finding}", reason=reason))


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    child = construct.node.default_child
    assert child is not None, f"{construct.node.path} has no CloudFormation resource"
    return str(stack.resolve(stack.get_logical_id(child)))  # type: ignore[arg-type]


def acknowledge_findings(stack: FineTuningStack) -> None:
    bucket_id = _logical_id(stack, stack.data.bucket)
    functions = [c for c in stack.node.find_all() if isinstance(c, PipelineFunction)]
    for function in functions:
        _ack(
            function,
            "L1",
            "Python 3.11 is the runtime this project pins and tests (requirements, CI, the Powertools "
            "python311 layer); moving all functions to a newer runtime is one change in infra/lambda_function.py.",
        )
        _ack(function, "IAM5[Resource::*]", _LIST_AND_TRACE_REASON)
        for pattern, reason in _BEDROCK_WILDCARDS.items():
            if pattern in _granted_resources(stack, function):
                _ack(function, f"IAM5[Resource::{pattern}]", reason)
        for pattern in (f"<{bucket_id}.Arn>/runs/*", f"<{bucket_id}.Arn>/incoming/*"):
            if pattern in _granted_resources(stack, function):
                _ack(
                    function,
                    f"IAM5[Resource::{pattern}]",
                    "Run folders are named by run id at run time (runs/<run-id>/) and datasets by the user "
                    "(incoming/<name>.jsonl); the grant is limited to that prefix of this stack's bucket.",
                )

    for pattern, reason in (
        (
            f"<{bucket_id}.Arn>/runs/*/data/*",
            "Bedrock reads only the prepared train/validation splits under runs/<run-id>/data/; the run id is known "
            "only at run time.",
        ),
        (
            f"<{bucket_id}.Arn>/runs/*/job-output/*",
            "Bedrock writes only into runs/<run-id>/job-output/ (model artefacts and metric CSVs); the run id is known "
            "only at run time.",
        ),
    ):
        _ack(stack.service_role.role, f"IAM5[Resource::{pattern}]", reason)

    state_machine_role = stack.workflow.state_machine.role
    for function in functions:
        if function.node.scope is not None and function.node.scope.node.id == "Functions":
            function_id = _logical_id(stack, function.function)
            _ack(
                state_machine_role,
                f"IAM5[Resource::<{function_id}.Arn>:*]",
                "Step Functions' Lambda integration may invoke any version or alias of the step's own function.",
            )
    _ack(
        state_machine_role,
        "IAM5[Resource::*]",
        "Step Functions' log delivery (logs:*LogDelivery*) and X-Ray tracing actions support only '*'.",
    )

    state_machine_id = _logical_id(stack, stack.workflow.state_machine)
    _ack(
        stack.sweeper.cleanup.role,
        f"IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:"
        f"<{state_machine_id}.Name>:*]",
        "The cleanup reads the input of whichever execution of this state machine ended abnormally.",
    )
    _ack(
        stack.trigger.dead_letters,
        "SQS3",
        "This queue is itself the dead-letter queue of the trigger rule's target.",
    )

    # The function CDK adds to switch on the bucket's EventBridge notifications (a CloudFormation custom resource).
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            _ack(
                child,
                "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                "CDK's own custom resource that enables the bucket's EventBridge notifications; runs only during "
                "deployment and needs only basic logging.",
            )
            _ack(
                child,
                "IAM5[Resource::*]",
                "CDK's bucket-notifications custom resource: s3:PutBucketNotification is granted on '*' by CDK "
                "itself; it runs only during deployment.",
            )


def _granted_resources(stack: Stack, function: PipelineFunction) -> set[str]:
    """The resource strings of the function's role policy, in cdk-nag's notation (``<LogicalId.Arn>``)."""
    policy = function.role.node.try_find_child("DefaultPolicy")
    if policy is None:
        return set()
    document = stack.resolve(policy.document)  # type: ignore[attr-defined]
    found: set[str] = set()
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            found.add(_nag_notation(resource))
    return found


def _nag_notation(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{resource}.{attribute}>"
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return str(delimiter).join(_nag_notation(part) for part in parts)
    return str(value)
