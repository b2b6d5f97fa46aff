"""Starts a run when an object lands under ``incoming/``.

Every object created there is a drop, whatever its name, so none goes unanswered: a format the pipeline cannot read
(``.csv``, ``.parquet``...) still starts a run, which ValidateDataset ends REJECTED with the reason and what to upload
instead, and the notification says so. Only folder markers (keys ending in "/", which the S3 console's "Create
folder" makes) start nothing: the function returns ``started=False`` with the reason and logs it.

EventBridge cannot name a Step Functions execution, and S3 delivers events at least once. The trigger function names
the execution after the object (key + version/etag), so a duplicate delivery is refused by Step Functions instead of
starting (and paying for) a second run.

No drop is lost silently. A drop can fail in two places, and both end in the same dead-letter queue, whose depth
raises an alarm:

- EventBridge cannot deliver the event to the function (after the target's retries): the target's dead-letter queue;
- the function accepted the event (an asynchronous invocation) and failed on every attempt: Lambda sends the
  invocation record, with the original event under ``requestPayload``, to the function's on-failure destination
  (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).

A message in the queue is a drop that started no run: fix the cause, then copy the object again (a new version is a
new run) or replay the event to the function.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.lambda_function import PipelineFunction, lambdas_package_code, powertools_layer
from lambdas.contracts import INCOMING_PREFIX, REEVALUATE_PREFIX

# Key prefixes whose objects start a run; each is one EventBridge prefix filter (the rule matches any of them).
DROP_PREFIXES = (INCOMING_PREFIX, REEVALUATE_PREFIX)


class RunTrigger(Construct):
    def __init__(self, scope: Construct, id_: str, *, bucket: s3.IBucket, environment: dict[str, str]) -> None:
        super().__init__(scope, id_)
        self.handler = PipelineFunction(
            self,
            "StartRun",
            handler_module="trigger",
            description="Starts one fine-tuning run per object version dropped under incoming/",
            code=lambdas_package_code(),
            layers=[powertools_layer(self)],
            timeout=Duration.seconds(30),
            environment=environment,
        )
        # Drops that started no run, kept for 14 days (the most SQS keeps a message).
        self.dead_letters = sqs.Queue(
            self,
            "UndeliveredDrops",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        # The function's asynchronous failures: 2 retries (the most Lambda allows) and then the queue, instead of
        # Lambda discarding the event.
        self.handler.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dead_letters),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        # One message is one lost run: alarm on the first. No action is attached: the notification topic is
        # encrypted with the AWS managed key aws/sns, whose policy cannot let CloudWatch publish
        # (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services).
        self.dead_letters_alarm = cloudwatch.Alarm(
            self,
            "UndeliveredDropsAlarm",
            alarm_description="A dropped dataset started no run: its event is in the UndeliveredDrops queue",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.rule = events.Rule(
            self,
            "OnDatasetDropped",
            description="Every object created under incoming/ starts a fine-tuning run (or a REJECTED one, with why); "
            "one under reevaluate/ evaluates an existing custom model again",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [bucket.bucket_name]},
                    "object": {"key": [{"prefix": prefix} for prefix in DROP_PREFIXES]},
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
