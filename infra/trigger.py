"""Starts a run when a JSONL lands under ``incoming/``.

EventBridge cannot name a Step Functions execution, and S3 delivers events at least once. The trigger function names
the execution after the object (key + version/etag), so a duplicate delivery is refused by Step Functions instead of
starting (and paying for) a second run.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_function import PipelineFunction, lambdas_package_code, powertools_layer
from lambdas.contracts import INCOMING_PREFIX


class RunTrigger(Construct):
    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, environment: dict[str, str]) -> None:
        super().__init__(scope, id_)
        self.handler = PipelineFunction(
            self,
            "StartRun",
            handler_module="trigger",
            description="Starts one fine-tuning run per dropped JSONL object version",
            code=lambdas_package_code(),
            layers=[powertools_layer(self)],
            timeout=Duration.seconds(30),
            environment=environment,
        )
        # Events that could not be delivered after retries are kept for 14 days: a drop is never silently lost.
        self.dead_letters = sqs.Queue(
            self,
            "UndeliveredDrops",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.rule = events.Rule(
            self,
            "OnDatasetDropped",
            description="A .jsonl object created under incoming/ starts a fine-tuning run",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"wildcard": f"{INCOMING_PREFIX}*.jsonl"}]},
                },
            ),
        )
        self.rule.add_target(
            targets.LambdaFunction(
                self.handler.function,
                dead_letter_queue=self.dead_letters,
                retry_attempts=8,
                max_event_age=Duration.hours(2),
            )
        )
