"""Every cdk-nag finding this stack accepts, each acknowledged where it arises, with the reason it is right.

cdk-nag v3 needs each finding acknowledged by its exact id (``AwsSolutions-IAM5[Resource::...]``); ids that name a
resource embed its logical id, so they are computed from the constructs rather than written out by hand.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from infra.lambda_function import RUNTIME, PipelineFunction
from infra.stack import FineTuningStack

# Wildcard resources this stack grants, by how the resource string ends. The rest of each string is whatever the
# stack resolves to: tokens (<AWS::Region>) for an environment-agnostic synth, literals when an account and region
# are set (as `cdk deploy` does), so acknowledgement ids are derived from the synthesized policies, not hand-written.
_WILDCARD_REASONS: tuple[tuple[str, str], ...] = (
    (
        ":model-customization-job/*",
        "Job ARNs end in an id Bedrock assigns at creation; the statement is limited to this account and region, "
        "and the job name is checked by the step itself.",
    ),
    (
        ":custom-model/*",
        "Custom model ARNs end in an id Bedrock assigns when training completes; limited to this account and region.",
    ),
    (
        ":provisioned-model/*",
        "Provisioned throughput ARNs end in an id Bedrock assigns at purchase; limited to this account and region. "
        "Narrowing by tag is avoided on purpose: a denied delete would leak capacity billed by the hour.",
    ),
    (
        ":custom-model-deployment/*",
        "Deployment ARNs end in an id Bedrock assigns at creation; limited to this account and region. Narrowing by "
        "tag is avoided on purpose: a denied delete would leak capacity.",
    ),
    (
        ":inference-profile/*",
        "Which inference profile answers is resolved per region at run time: the registry maps a base model or judge "
        "that has no on-demand plain id in the region to a geography-prefixed system profile (us.meta.llama3-2-..., "
        "us.amazon.nova-pro-v1:0), and evaluation.judge_model_id may name any profile; limited to this account and "
        "region.",
    ),
    (
        "::foundation-model/*",
        "Only the steps that invoke the base model and the judge: a cross-region inference profile routes each "
        "request to the foundation model in another region of its geography, so the region is open "
        "(StartCustomizationJob is limited to the configured base model).",
    ),
    (
        "/runs/*/data/*",
        "Bedrock reads only the prepared train/validation splits under runs/<run-id>/data/; the run id is known "
        "only at run time.",
    ),
    (
        "/runs/*/job-output/*",
        "Bedrock writes (and may read back) only runs/<run-id>/job-output/ (model artefacts and metric CSVs); the run "
        "id is known only at run time.",
    ),
    (
        ":network-interface/*",
        "With vpc set, Bedrock creates and tags the job's network interfaces, whose ids exist only once created; the "
        "statements require the BedrockManaged and BedrockModelCustomizationJobArn tags the VPC documentation gives.",
    ),
    (
        "/runs/*",
        "Run folders are named by run id at run time (runs/<run-id>/); the grant is limited to that prefix of this "
        "stack's bucket.",
    ),
    (
        "/incoming/*",
        "Datasets are named by the user (incoming/<name>.jsonl); the grant is limited to that prefix of this stack's "
        "bucket.",
    ),
    (
        "/reevaluate/*",
        "Re-evaluation requests are named by the user or tuner evaluate (reevaluate/<name>.json); only the trigger "
        "reads them, and the grant is limited to that prefix of this stack's bucket.",
    ),
    (
        "/serving/*",
        "The Promote step reads and appends serving/history.jsonl (and lists that prefix so a missing file reads as "
        "404); the grant is limited to that prefix of this stack's bucket.",
    ),
    (
        "/eval/*",
        "Fixed evaluation sets are named by the user (eval/<name>.jsonl, evaluation.test_set) and read by "
        "PlanEvaluation only; the grant is limited to that prefix of this stack's bucket.",
    ),
    (
        ".Name>:*",
        "The cleanup reads the input of whichever execution of this state machine ended abnormally.",
    ),
    (
        ".Arn>:*",
        "Step Functions' Lambda integration may invoke any version or alias of the step's own function.",
    ),
)
_SERVICE_ROLE_VPC_REASON = (
    "With vpc set, the documented VPC permissions of a model customization role: EC2 Describe* actions support no "
    "resource-level permissions, and CreateNetworkInterfacePermission/DeleteNetworkInterface(Permission) are limited "
    "by conditions to the configured subnets and to interfaces tagged BedrockManaged for this account's jobs."
)
_LIST_AND_TRACE_REASON = (
    "Only actions that support no resource-level permissions use '*': X-Ray PutTraceSegments/PutTelemetryRecords "
    "(active tracing); for the capacity steps, bedrock:ListProvisionedModelThroughputs/"
    "ListCustomModelDeployments (finding a run's capacity by its deterministic name); for Preflight, the read-only "
    "bedrock:GetFoundationModelAvailability (model access of the base model and the judge) and "
    "servicequotas:ListServiceQuotas (the account's Amazon Bedrock quotas); for Promote, "
    "bedrock:ListCustomModelDeployments (finding the stack's serving deployment by name)."
)


def _ack(scope: IConstruct, finding: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::AwsSolutions-{finding}", reason=reason))


def _logical_id(stack: Stack, construct: IConstruct) -> str:
    child = construct.node.default_child
    assert child is not None, f"{construct.node.path} has no CloudFormation resource"
    return str(stack.resolve(stack.get_logical_id(child)))  # type: ignore[arg-type]


def _acknowledge_wildcards(stack: Stack, role: IConstruct, star_reason: str | None) -> None:
    """Acknowledges each wildcard resource the role is granted whose kind has a known reason; others stay findings."""
    for resource in sorted(_granted_resources(stack, role)):
        if resource == "*":
            if star_reason:
                _ack(role, "IAM5[Resource::*]", star_reason)
            continue
        if "*" not in resource:
            continue
        for suffix, reason in _WILDCARD_REASONS:
            if resource.endswith(suffix):
                _ack(role, f"IAM5[Resource::{resource}]", reason)
                break


def acknowledge_findings(stack: FineTuningStack) -> None:
    functions = [c for c in stack.node.find_all() if isinstance(c, PipelineFunction)]
    for function in functions:
        if function.is_zip:
            _ack(
                function,
                "L1",
                f"{RUNTIME.name} is a supported runtime (tests/infra fail once cfn-lint's runtime lifecycle data "
                "marks it deprecated), the evaluation image's Python and the Python of the Powertools layer the "
                "functions use. L1 asks for the newest runtime; moving is RUNTIME and the layer name in "
                "infra/lambda_function.py.",
            )
        _acknowledge_wildcards(stack, function.role, _LIST_AND_TRACE_REASON)
    _acknowledge_wildcards(stack, stack.service_role.role, _SERVICE_ROLE_VPC_REASON)
    _acknowledge_wildcards(
        stack,
        stack.workflow.state_machine.role,
        "Step Functions' log delivery (logs:*LogDelivery*) and X-Ray tracing actions support only '*'.",
    )
    _ack(
        stack.trigger.dead_letters,
        "SQS3",
        "This queue is itself the dead-letter queue: of the trigger rule's target and of the trigger function's "
        "asynchronous invocations (on-failure destination).",
    )

    # The function CDK adds to switch on the bucket's EventBridge notifications (a CloudFormation custom resource).
    for child in stack.node.children:
        if child.node.id.startswith("BucketNotificationsHandler"):
            role = child.node.find_child("Role")
            for policy_arn in stack.resolve(role.node.find_child("Resource").managed_policy_arns) or []:  # type: ignore[attr-defined]
                _ack(
                    child,
                    f"IAM4[Policy::{_nag_notation(policy_arn)}]",
                    "CDK's own custom resource that enables the bucket's EventBridge notifications; runs only during "
                    "deployment and needs only basic logging (AWSLambdaBasicExecutionRole).",
                )
            _ack(
                child,
                "IAM5[Resource::*]",
                "CDK's bucket-notifications custom resource: s3:PutBucketNotification is granted on '*' by CDK "
                "itself; it runs only during deployment.",
            )


def _granted_resources(stack: Stack, role: IConstruct) -> set[str]:
    """The resource strings of the role's policy, in cdk-nag's notation (``<LogicalId.Arn>``)."""
    policy = role.node.try_find_child("DefaultPolicy")
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
