"""The data bucket: drops under ``incoming/``, everything a run produces under ``runs/<run-id>/``."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

S3_ACCESS_LOGS_USE_BUCKET_POLICY = "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy"  # the CDK feature flag


class DataBucket(Construct):
    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        # Log delivery by bucket policy, whatever context the app is synthesized with: `python app.py` and the tests
        # do not read cdk.json's feature flags, and without this one CDK would fall back to the LogDeliveryWrite ACL,
        # which BucketOwnerEnforced (ACLs off) forbids.
        self.node.set_context(S3_ACCESS_LOGS_USE_BUCKET_POLICY, True)
        # Server access logs: who read or wrote training data and reports, kept a year for audit. Versioned, so a log
        # object that is overwritten or deleted stays recoverable for 90 days (a delete leaves a marker, not a gap).
        # BucketOwnerEnforced switches ACLs off: S3 delivers the logs under the bucket policy CDK writes (the flag
        # above), which works with ACLs disabled
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html).
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(365),
                    noncurrent_version_expiration=Duration.days(90),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,  # a run names the exact object version it trained on
            event_bridge_enabled=True,  # Object Created events start runs
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=Duration.days(90)),
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(7)),
            ],
            # Training data and run reports are the audit trail: never deleted with the stack.
            removal_policy=RemovalPolicy.RETAIN,
        )
