"""The role Bedrock assumes to run customization jobs: read the prepared data, write the job output, nothing else."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.contracts import DATA_PREFIX_PATTERN, JOB_OUTPUT_PREFIX_PATTERN, RUNS_PREFIX


class BedrockServiceRole(Construct):
    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, kms_key_arn: str | None = None) -> None:
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
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteJobOutput",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(JOB_OUTPUT_PREFIX_PATTERN)],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListRunPrefixes",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{RUNS_PREFIX}*"]}},
            )
        )
        if kms_key_arn:
            self.role.add_to_policy(
                iam.PolicyStatement(
                    sid="EncryptCustomModel",
                    actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                    resources=[kms_key_arn],
                )
            )
