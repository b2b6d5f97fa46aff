"""The role Bedrock assumes to run customization jobs: read the prepared data, write the job output, nothing else.

The permissions are the documented ones for a model customization service role, scoped to this stack's bucket:
https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-iam-role.html (trust, S3, KMS), and, when
the job runs in a VPC, https://docs.aws.amazon.com/bedrock/latest/userguide/vpc-model-customization.html (EC2).
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.contracts import DATA_PREFIX_PATTERN, JOB_OUTPUT_PREFIX_PATTERN
from lambdas.settings import VpcSettings

# The tags Bedrock puts on the network interfaces it creates for a job in a VPC (vpc-model-customization.html).
_MANAGED_TAG = "BedrockManaged"
_JOB_TAG = "BedrockModelCustomizationJobArn"


class BedrockServiceRole(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        kms_key_arn: str | None = None,
        vpc: VpcSettings | None = None,
    ) -> None:
        super().__init__(scope, id_)
        stack = Stack.of(self)
        job_arns = f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}:model-customization-job/*"
        # Confused-deputy protection: only Bedrock acting for this account's customization jobs may assume it.
        principal = iam.ServicePrincipal("bedrock.amazonaws.com").with_conditions(
            {
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": job_arns},
            }
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=principal,
            description="Assumed by Amazon Bedrock to read prepared training data and write job output",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadPreparedTrainingData",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(DATA_PREFIX_PATTERN)],
            )
        )
        # The documented role may read back what it writes (GetObject on the output location, as on the data).
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteJobOutput",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[bucket.arn_for_objects(JOB_OUTPUT_PREFIX_PATTERN)],
            )
        )
        # ListBucket on this bucket, without an s3:prefix condition: the documented role has none, and S3 authorizes
        # HeadBucket (the usual "does the bucket exist, may I use it" check) through s3:ListBucket with no prefix in
        # the request, so a StringLike condition on s3:prefix would deny it (HeadBucket API reference). A
        # ...IfExists variant would not restrict anything (a listing that omits the prefix passes). What a listing
        # shows is key names; reading any object is limited by the statements above.
        self.role.add_to_policy(
            iam.PolicyStatement(sid="ListDataBucket", actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        if kms_key_arn:
            self.role.add_to_policy(kms_statement(stack, kms_key_arn, KMS_CREATE_ACTIONS, sid="EncryptCustomModel"))
        if vpc is not None:
            for statement in vpc_statements(stack, vpc, job_arns):
                self.role.add_to_policy(statement)


# What a role that creates the encrypted custom model, or capacity that serves it, may do with the key, and what a
# role that invokes it may do (https://docs.aws.amazon.com/nova/latest/userguide/customize-fine-tune-encrypt.html,
# statements PermissionsModelCustomization and PermissionsModelInvocation; Bedrock's encryption-custom-job.html).
KMS_CREATE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")
KMS_INVOKE_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")


def kms_statement(
    stack: Stack, key_arn: str, actions: tuple[str, ...], *, sid: str | None = None
) -> iam.PolicyStatement:
    """The key, used only through Bedrock in this region (the documented kms:ViaService condition)."""
    return iam.PolicyStatement(
        sid=sid,
        actions=list(actions),
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"bedrock.{stack.region}.{stack.url_suffix}"}},
    )


def vpc_statements(stack: Stack, vpc: VpcSettings, job_arns: str) -> list[iam.PolicyStatement]:
    """The EC2 permissions and conditions of "Attach VPC permissions to a model customization role"."""

    def ec2_arn(resource: str) -> str:
        return f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:{resource}"

    subnets = [ec2_arn(f"subnet/{subnet}") for subnet in vpc.subnet_ids]
    security_groups = [ec2_arn(f"security-group/{group}") for group in vpc.security_group_ids]
    network_interfaces = ec2_arn("network-interface/*")
    return [
        iam.PolicyStatement(
            sid="DescribeJobNetwork",
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],  # EC2 Describe* actions support no resource-level permissions
        ),
        iam.PolicyStatement(
            sid="CreateTaggedJobNetworkInterface",
            actions=["ec2:CreateNetworkInterface"],
            resources=[network_interfaces],
            conditions={
                "StringEquals": {f"aws:RequestTag/{_MANAGED_TAG}": ["true"]},
                "ArnEquals": {f"aws:RequestTag/{_JOB_TAG}": [job_arns]},
            },
        ),
        iam.PolicyStatement(
            sid="CreateNetworkInterfaceInJobSubnets",
            actions=["ec2:CreateNetworkInterface"],
            resources=[*subnets, *security_groups],
        ),
        iam.PolicyStatement(
            sid="ManageJobNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=["*"],
            conditions={
                "ArnEquals": {"ec2:Subnet": subnets, f"ec2:ResourceTag/{_JOB_TAG}": [job_arns]},
                "StringEquals": {f"ec2:ResourceTag/{_MANAGED_TAG}": "true"},
            },
        ),
        iam.PolicyStatement(
            sid="TagJobNetworkInterfaces",
            actions=["ec2:CreateTags"],
            resources=[network_interfaces],
            conditions={
                "StringEquals": {"ec2:CreateAction": ["CreateNetworkInterface"]},
                "ForAllValues:StringEquals": {"aws:TagKeys": [_MANAGED_TAG, _JOB_TAG]},
            },
        ),
    ]
