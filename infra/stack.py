"""The one stack: composes the constructs and wires the grants between them."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.data_bucket import DataBucket
from infra.notifications import Notifications
from infra.service_role import BedrockServiceRole
from infra.settings_parameter import SettingsParameter
from infra.sweeper import CapacitySweeper
from infra.trigger import RunTrigger
from infra.workflow import FineTuningWorkflow
from lambdas.contracts import EVAL_PREFIX, INCOMING_PREFIX, REEVALUATE_PREFIX, RUNS_PREFIX, SERVING_PREFIX, StateName
from lambdas.settings import PipelineSettings


class FineTuningStack(Stack):
    def __init__(self, scope: Construct, id_: str, *, settings: PipelineSettings, **kwargs: Any) -> None:
        super().__init__(
            scope, id_, description="Bedrock fine-tuning pipeline (validate, train, evaluate, report)", **kwargs
        )
        data = DataBucket(self, "Data")
        bucket = data.bucket
        service_role = BedrockServiceRole(
            self,
            "BedrockServiceRole",
            bucket=bucket,
            kms_key_arn=settings.customization_kms_key_arn,
            vpc=settings.vpc,
        )
        notifications = Notifications(self, "Notifications", email=settings.notification_email)
        # The settings travel in each run's input, copied there by the trigger from this parameter: no environment
        # carries them (Lambda caps an environment at 4 KB; see infra/settings_parameter.py).
        settings_parameter = SettingsParameter(self, "Settings", settings=settings)

        environment = {
            "DATA_BUCKET": bucket.bucket_name,
            "STACK_NAME": self.stack_name,
            "BEDROCK_ROLE_ARN": service_role.role.role_arn,
            "NOTIFICATION_TOPIC_ARN": notifications.topic.topic_arn,
        }
        workflow = FineTuningWorkflow(self, "Workflow", settings=settings, environment=environment)
        workflow.grant_bedrock(
            service_role=service_role.role,
            base_model_id=settings.base_model_id,
            kms_key_arn=settings.customization_kms_key_arn,
        )

        # Exact S3 actions per step (not grant_read/grant_put, whose action wildcards these steps do not need).
        runs = f"{RUNS_PREFIX}*"
        incoming = f"{INCOMING_PREFIX}*"
        read_object = ["s3:GetObject", "s3:GetObjectVersion"]
        object_grants: dict[StateName, list[tuple[list[str], str]]] = {
            # A re-evaluation reads the splits of the run that trained its model (runs/<source>/data/).
            StateName.VALIDATE_DATASET: [(read_object, incoming), (read_object, runs), (["s3:PutObject"], runs)],
            StateName.READ_TRAINING_METRICS: [(read_object, runs), (["s3:PutObject"], runs)],
            StateName.PLAN_EVALUATION: [
                (read_object, runs),
                (read_object, f"{EVAL_PREFIX}*"),
                (["s3:PutObject"], runs),
            ],
            StateName.GENERATE_ANSWERS: [(read_object, runs), (["s3:PutObject"], runs)],
            StateName.SCORE_ANSWERS: [(read_object, runs), (["s3:PutObject"], runs)],
            StateName.SUMMARIZE_EVALUATION: [(read_object, runs), (["s3:PutObject"], runs)],
            StateName.WRITE_REPORT: [(read_object, runs), (["s3:PutObject"], runs)],
        }
        for state, grants in object_grants.items():
            function = workflow.function(state)
            for actions, pattern in grants:
                function.add_to_role_policy(
                    iam.PolicyStatement(actions=actions, resources=[bucket.arn_for_objects(pattern)])
                )
            prefixes = sorted({pattern for _, pattern in grants})
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": prefixes}},
                )
            )
        notifications.topic.grant_publish(workflow.function(StateName.NOTIFY).role)

        trigger = RunTrigger(
            self,
            "Trigger",
            bucket=bucket,
            environment={
                **environment,
                "STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn,
                "SETTINGS_PARAMETER": settings_parameter.name,
            },
        )
        workflow.state_machine.grant_start_execution(trigger.handler.role)
        settings_parameter.grant_read(trigger.handler.role)
        # HeadObject tells an URL-encoded key in the event from a key that really contains "+" or "%"; GetObject
        # reads a drop's metadata and a re-evaluation request (a small JSON object under reevaluate/).
        trigger.handler.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(incoming), bucket.arn_for_objects(f"{REEVALUATE_PREFIX}*")],
            )
        )

        sweeper = CapacitySweeper(
            self,
            "Sweeper",
            interval=Duration.minutes(settings.sweeper_interval_minutes),
            # The cleanup also checks the ended execution belongs to this state machine (besides the rule's filter).
            environment={
                **environment,
                "STATE_MACHINE_ARN": workflow.state_machine.state_machine_arn,
                "CAPACITY_MAX_LIFETIME_HOURS": str(settings.capacity_max_lifetime_hours),
            },
            state_machine=workflow.state_machine,
        )
        sweeper.grant_bedrock(state_machine=workflow.state_machine)
        notifications.topic.grant_publish(sweeper.sweeper.role)
        notifications.topic.grant_publish(sweeper.cleanup.role)
        # A stopped or timed-out run gets its report from the cleanup: it reads the run's artefacts, writes report.*
        sweeper.cleanup.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects(runs)])
        )
        # Without ListBucket a missing report.json answers 403, not 404: the cleanup must tell "none yet" apart.
        sweeper.cleanup.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [runs]}},
            )
        )

        # The serving record (/<stack>/serving, lambdas/serving) is written at the first promotion, not by
        # CloudFormation: `cdk destroy` must not take away what applications call (README: tuner serving --delete).
        serving_parameter = f"/{self.stack_name}/serving"
        serving_parameter_arn = self.format_arn(
            service="ssm", resource="parameter", resource_name=serving_parameter.lstrip("/")
        )
        history = bucket.arn_for_objects(f"{SERVING_PREFIX}*")
        promote = workflow.function(StateName.PROMOTE)
        promote.add_to_role_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[serving_parameter_arn])
        )
        promote.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[history]))
        promote.add_to_role_policy(  # a missing history.jsonl must answer 404, not 403
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{SERVING_PREFIX}*"]}},
            )
        )
        notifications.topic.grant_publish(promote.role)
        # The trigger reads the champion a run is compared with; retention never deletes a model the record names.
        for reader in (trigger.handler, workflow.function(StateName.APPLY_RETENTION)):
            reader.add_to_role_policy(
                iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[serving_parameter_arn])
            )

        self.data = data
        self.workflow = workflow
        self.trigger = trigger
        self.sweeper = sweeper
        self.notifications = notifications
        self.service_role = service_role
        self.settings_parameter = settings_parameter

        CfnOutput(self, "DataBucketName", value=bucket.bucket_name, description="Upload runs to incoming/")
        CfnOutput(
            self,
            "StartRunCommand",
            value=f"aws s3 cp my-dataset.jsonl s3://{bucket.bucket_name}/{INCOMING_PREFIX}my-dataset.jsonl",
            description="Starts a run",
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "NotificationTopicArn", value=notifications.topic.topic_arn)
        CfnOutput(
            self,
            "ServingParameterName",
            value=serving_parameter,
            description="The serving record: which custom model serves and through which deployment (tuner serving)",
        )
