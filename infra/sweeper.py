"""The safety nets behind the state machine's own delete step.

- The sweeper runs on a schedule and deletes any provisioned throughput or custom model deployment tagged with this
  stack that is older than the configured maximum lifetime (an execution stopped by hand mid-flight, a delete that
  kept failing), then notifies.
- The execution cleanup reacts to an execution that was aborted, timed out or failed: it stops the run's
  customization job if it is still training and deletes the run's capacity at once, without waiting for the sweeper.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.lambda_function import PipelineFunction, lambdas_package_code, powertools_layer


class CapacitySweeper(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        interval: Duration,
        environment: dict[str, str],
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, id_)
        code = lambdas_package_code()
        layer = powertools_layer(self)
        self.sweeper = PipelineFunction(
            self,
            "Sweeper",
            handler_module="sweeper",
            description="Deletes this stack's inference capacity that outlived its maximum lifetime",
            code=code,
            layers=[layer],
            timeout=Duration.minutes(5),
            environment=environment,
        )
        self.schedule = events.Rule(
            self,
            "SweepSchedule",
            description="Looks for leaked provisioned throughput and deployments",
            schedule=events.Schedule.rate(interval),
        )
        self.schedule.add_target(targets.LambdaFunction(self.sweeper.function, retry_attempts=2))

        self.cleanup = PipelineFunction(
            self,
            "ExecutionCleanup",
            handler_module="execution_cleanup",
            description="Stops the job and deletes capacity of an aborted, timed-out or failed run",
            code=code,
            layers=[layer],
            timeout=Duration.minutes(2),
            environment=environment,
        )
        self.on_execution_ended = events.Rule(
            self,
            "OnExecutionEnded",
            description="An execution that ended abnormally gets its job stopped and its capacity deleted",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "stateMachineArn": [state_machine.state_machine_arn],
                    "status": ["ABORTED", "TIMED_OUT", "FAILED"],
                },
            ),
        )
        self.on_execution_ended.add_target(targets.LambdaFunction(self.cleanup.function, retry_attempts=8))

    def grant_bedrock(self, *, state_machine: sfn.IStateMachine) -> None:
        stack = Stack.of(self)
        prefix = f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}"
        capacity = [f"{prefix}:provisioned-model/*", f"{prefix}:custom-model-deployment/*"]
        delete_actions = [
            "bedrock:DeleteProvisionedModelThroughput",
            "bedrock:GetProvisionedModelThroughput",
            "bedrock:DeleteCustomModelDeployment",
            "bedrock:GetCustomModelDeployment",
            "bedrock:ListTagsForResource",
        ]
        # List actions support no resource-level permissions: Bedrock requires "*".
        list_actions = ["bedrock:ListProvisionedModelThroughputs", "bedrock:ListCustomModelDeployments"]
        for function in (self.sweeper, self.cleanup):
            function.add_to_role_policy(iam.PolicyStatement(actions=delete_actions, resources=capacity))
            function.add_to_role_policy(iam.PolicyStatement(actions=list_actions, resources=["*"]))
        self.cleanup.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:GetModelCustomizationJob", "bedrock:StopModelCustomizationJob"],
                resources=[f"{prefix}:model-customization-job/*"],
            )
        )
        # Executions of this state machine only: the cleanup reads the run's input to know what to clean.
        execution_arns = (
            f"arn:{stack.partition}:states:{stack.region}:{stack.account}:execution:"
            f"{state_machine.state_machine_name}:*"
        )
        # ...and its history: the state it was in, and the run document the ABORTED report is written from.
        self.cleanup.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:GetExecutionHistory"], resources=[execution_arns]
            )
        )
