"""The state machine: one Lambda per step, and no path that leaves inference capacity running.

    ValidateDataset -> DatasetValid? -(invalid)-> WriteReport (REJECTED; no Bedrock call was made)
    PlanEvaluation                         (the questions, leaked ones left out, and the judge: before any spend)
    Preflight -> PreflightPassed? -(no)-> WriteReport (REJECTED: access, quota, budget or concurrent runs)
    TrainsAModel? -(a re-evaluation of an existing custom model)-> CreateInferenceCapacity
    StartCustomizationJob -> PollCustomizationJob <-> WaitForCustomizationJob   (waits grow geometrically)
    ReadTrainingMetrics -> CreateInferenceCapacity -> PollInferenceCapacity <-> WaitForInferenceCapacity
    GenerateAnswers (Map over shards: GenerateAnswersShard)      <- the only evaluation work that needs capacity
    DeleteInferenceCapacity -> AnswersGenerated? -(no)-> WriteReport
    ScoreAnswers (Map over shards: ScoreAnswersShard) -> SummarizeEvaluation    (capacity is gone by now)
    WriteReport -> Promote -> ApplyRetention -> Notify -> RunOutcome? -> Succeeded | Failed | Rejected

Nothing before StartCustomizationJob creates anything in Bedrock: ValidateDataset, PlanEvaluation and Preflight only
read, and a problem any of them finds ends the run REJECTED (invalid data, a failed preflight check) or FAILED (a
step's own error), with the reason in the report.

Every state that runs while capacity may exist (``POST_PURCHASE_STATES``) catches every error into
DeleteInferenceCapacity. States before the purchase, and the scoring after the delete, catch into WriteReport. Each
Catch stores the error under ``$.errors.<StateName>`` so the report can say which step failed and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.lambda_function import REPO_ROOT, PipelineFunction, lambdas_package_code, powertools_layer
from infra.service_role import KMS_CREATE_ACTIONS, KMS_INVOKE_ACTIONS, kms_statement
from lambdas.contracts import POST_PURCHASE_STATES, StateName
from lambdas.errors import RETRYABLE_ERRORS
from lambdas.settings import PipelineSettings

LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


@dataclass(frozen=True)
class StepSpec:
    state: StateName
    description: str
    timeout: Duration
    memory_size: int = 512
    ephemeral_storage_mib: int = 512


STEPS = (
    # Splits are staged in /tmp before upload: room for the largest training file Bedrock accepts (10 GB).
    StepSpec(
        StateName.VALIDATE_DATASET, "Validates and prepares the dropped dataset", Duration.minutes(15), 1769, 10240
    ),
    StepSpec(
        StateName.PLAN_EVALUATION, "Chooses the evaluation questions and finds leaked ones", Duration.minutes(5), 1769
    ),
    StepSpec(
        StateName.PREFLIGHT,
        "Checks model access, lifecycle, quotas, budget and concurrent runs before any spend",
        Duration.minutes(2),
    ),
    StepSpec(StateName.START_CUSTOMIZATION_JOB, "Starts the Bedrock model customization job", Duration.minutes(2)),
    StepSpec(StateName.POLL_CUSTOMIZATION_JOB, "Reads the customization job's status", Duration.minutes(1)),
    StepSpec(StateName.READ_TRAINING_METRICS, "Reads the job's training and validation loss", Duration.minutes(2)),
    StepSpec(StateName.CREATE_INFERENCE_CAPACITY, "Buys provisioned throughput or deploys", Duration.minutes(2)),
    StepSpec(StateName.POLL_INFERENCE_CAPACITY, "Reads the inference capacity's status", Duration.minutes(1)),
    StepSpec(
        StateName.GENERATE_ANSWERS, "Asks base and fine-tuned model one shard of questions", Duration.minutes(15), 1024
    ),
    StepSpec(StateName.DELETE_INFERENCE_CAPACITY, "Deletes the run's inference capacity", Duration.minutes(2)),
    StepSpec(StateName.WRITE_REPORT, "Writes report.json, report.md and report.html", Duration.minutes(2), 1024),
    StepSpec(
        StateName.PROMOTE, "Serves the run's model when it is eligible and promotion is auto", Duration.minutes(2)
    ),
    StepSpec(StateName.APPLY_RETENTION, "Keeps or deletes the run's custom model", Duration.minutes(1)),
    StepSpec(StateName.NOTIFY, "Publishes the run's outcome", Duration.minutes(1)),
)
# torch and the BERTScore model do not fit a zip package: these steps run in the evaluation image.
IMAGE_STEPS = (
    StepSpec(
        StateName.SCORE_ANSWERS, "Scores one shard of answers: BERTScore and the LLM judges", Duration.minutes(15), 4096
    ),
    StepSpec(
        StateName.SUMMARIZE_EVALUATION, "Paired statistics and the verdict over every shard", Duration.minutes(5), 2048
    ),
)


class FineTuningWorkflow(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: PipelineSettings,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, id_)
        code = lambdas_package_code()
        layer = powertools_layer(self)
        functions = Construct(self, "Functions")  # state names are construct ids in the workflow itself
        self.steps: dict[StateName, PipelineFunction] = {
            spec.state: PipelineFunction(
                functions,
                spec.state.value,
                handler_module=spec.state.result_key,
                description=spec.description,
                code=code,
                layers=[layer],
                timeout=spec.timeout,
                memory_size=spec.memory_size,
                ephemeral_storage_mib=spec.ephemeral_storage_mib,
                environment=environment,
            )
            for spec in STEPS
        }
        # Synthesis only stages the image's build context; the image is built by `cdk deploy` on a machine with Docker.
        image = lambda_.DockerImageCode.from_image_asset
        for spec in IMAGE_STEPS:
            self.steps[spec.state] = PipelineFunction(
                functions,
                spec.state.value,
                handler_module=spec.state.result_key,
                description=spec.description,
                image_code=image(
                    str(REPO_ROOT),
                    file="lambdas/Dockerfile.evaluation",
                    cmd=[f"lambdas.handlers.{spec.state.result_key}.handler"],
                    exclude=["*", "!lambdas", "!lambdas/**", "!requirements-eval.txt", "**/__pycache__"],
                    build_args={"BERTSCORE_MODEL": settings.evaluation.bertscore_model},
                ),
                timeout=spec.timeout,
                memory_size=spec.memory_size,
                environment={**environment, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
            )

        definition = self._definition(settings)
        self.log_group = logs.LogGroup(
            self,
            "ExecutionLogs",
            # Under /aws/vendedlogs/: Step Functions adds a log group to the account's CloudWatch Logs resource policy
            # (5,120 characters at most); near that limit only groups under this prefix are still enabled, and any
            # other fails the deploy with InvalidLoggingConfiguration (step-functions/latest/dg/bp-cwl.html).
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-{id_}",
            retention=logs.RetentionDays.SIX_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.days(7),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment="Bedrock fine-tuning run: validate, train, buy capacity, evaluate, delete capacity, report",
        )
        # Preflight counts this state machine's running executions (max_concurrent_runs). A policy of its own: the
        # function depends on its role's default policy, and the state machine on the function, so naming the
        # state machine there would be a dependency cycle.
        self.preflight_lists_executions = iam.Policy(
            self,
            "PreflightListsExecutions",
            roles=[self.steps[StateName.PREFLIGHT].role],
            statements=[
                iam.PolicyStatement(actions=["states:ListExecutions"], resources=[self.state_machine.state_machine_arn])
            ],
        )

    def function(self, state: StateName) -> PipelineFunction:
        return self.steps[state]

    def _task(
        self,
        state: StateName,
        *,
        retry_everything: bool = False,
        shard: bool = False,
        payload: sfn.TaskInput | None = None,
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            f"{state.value}Shard" if shard else state.value,
            lambda_function=self.steps[state].function,
            payload=payload,  # None: the whole run document
            payload_response_only=True,  # the handler's return value is the result, stored under result_key
            retry_on_service_exceptions=False,  # retries are declared below, explicitly
            # A shard's result is the iteration's whole output; the Map collects them under result_key.
            result_path="$" if shard else f"$.{state.result_key}",
        )
        task.add_retry(
            errors=[*LAMBDA_SERVICE_ERRORS, *RETRYABLE_ERRORS],
            interval=Duration.seconds(5),
            backoff_rate=2,
            max_attempts=6,
            jitter_strategy=sfn.JitterType.FULL,
        )
        if retry_everything:
            # Deleting capacity must not give up on a transient error: it is what stops the bill.
            task.add_retry(
                errors=["States.ALL"],
                interval=Duration.seconds(10),
                backoff_rate=2,
                max_attempts=8,
                jitter_strategy=sfn.JitterType.FULL,
            )
        return task

    @staticmethod
    def _catch_into(task: tasks.LambdaInvoke | sfn.Map, state: StateName, handler: sfn.IChainable) -> None:
        task.add_catch(handler, errors=["States.ALL"], result_path=f"$.errors.{state.value}")

    def _shard_map(self, state: StateName, *, timeout_retries: int) -> sfn.Map:
        """A Map over the plan's shard numbers; each iteration runs the state's function on one shard.

        Only the shard number and the parts of the run document a shard needs travel into an iteration; what a shard
        produces lives in S3, and the Map keeps each shard's small summary under ``$.<result_key>``.
        """
        shard = self._task(state, shard=True)
        shard.add_retry(
            # A Lambda timeout mid-shard: what was saved is reused, so a retry makes progress.
            errors=["Sandbox.Timedout", "States.Timeout"],
            interval=Duration.seconds(5),
            max_attempts=timeout_retries,
        )
        mapped = sfn.Map(
            self,
            state.value,
            items_path="$.plan_evaluation.shards",
            max_concurrency_path="$.run.settings.evaluation.max_concurrent_shards",
            item_selector={
                "run.$": "$.run",
                "plan_evaluation.$": "$.plan_evaluation",
                "create_inference_capacity.$": "$.create_inference_capacity",
                "shard.$": "$$.Map.Item.Value",
            },
            result_path=f"$.{state.result_key}",
        )
        mapped.item_processor(shard)
        return mapped

    def _definition(self, settings: PipelineSettings) -> sfn.IChainable:  # noqa: ARG002 - settings are per run
        validate = self._task(StateName.VALIDATE_DATASET)
        plan = self._task(StateName.PLAN_EVALUATION)
        # Preflight counts this state machine's running executions: it is told its own execution and state machine
        # by the context object (an environment variable naming the state machine would be a dependency cycle).
        preflight = self._task(
            StateName.PREFLIGHT,
            payload=sfn.TaskInput.from_object(
                {
                    "state": sfn.JsonPath.entire_payload,
                    "execution": {
                        "execution_arn": sfn.JsonPath.execution_id,
                        "state_machine_arn": sfn.JsonPath.state_machine_id,
                        "started_at": sfn.JsonPath.execution_start_time,
                    },
                }
            ),
        )
        start_job = self._task(StateName.START_CUSTOMIZATION_JOB)
        poll_job = self._task(StateName.POLL_CUSTOMIZATION_JOB)
        read_metrics = self._task(StateName.READ_TRAINING_METRICS)
        create_capacity = self._task(StateName.CREATE_INFERENCE_CAPACITY)
        poll_capacity = self._task(StateName.POLL_INFERENCE_CAPACITY)
        generate = self._shard_map(StateName.GENERATE_ANSWERS, timeout_retries=2)
        delete_capacity = self._task(StateName.DELETE_INFERENCE_CAPACITY, retry_everything=True)
        score = self._shard_map(StateName.SCORE_ANSWERS, timeout_retries=3)
        summarize = self._task(StateName.SUMMARIZE_EVALUATION)
        write_report = self._task(StateName.WRITE_REPORT)
        promote = self._task(StateName.PROMOTE)
        retention = self._task(StateName.APPLY_RETENTION)
        notify = self._task(StateName.NOTIFY)

        succeeded = sfn.Succeed(self, "Succeeded", comment="The run succeeded; the report is under runs/<run-id>/")
        failed = sfn.Fail(
            self,
            "Failed",
            error="RunFailed",
            cause="The run failed; report.json under runs/<run-id>/ says which step failed, why, and what was deleted",
        )
        rejected = sfn.Fail(
            self,
            "Rejected",
            error="RunRejected",
            cause="The run was rejected before any Bedrock create call (an invalid dataset, or a preflight check: "
            "model access, quota, budget, concurrent runs); runs/<run-id>/report.json says why and what to do",
        )

        # No report status (WriteReport itself failed) is a failed run, not a runtime error of the Choice.
        def report_status_is(status: str) -> sfn.Condition:
            return sfn.Condition.and_(
                sfn.Condition.is_present("$.write_report.status"),
                sfn.Condition.string_equals("$.write_report.status", status),
            )

        outcome = (
            sfn.Choice(self, "RunOutcome?")
            .when(report_status_is("SUCCEEDED"), succeeded)
            .when(report_status_is("REJECTED"), rejected)
            .otherwise(failed)
        )
        notify.next(outcome)
        self._catch_into(notify, StateName.NOTIFY, outcome)
        # After the report (which states both decisions), the model may be promoted to serve, then it is kept or
        # deleted (never when it serves); then the owner is told.
        write_report.next(promote)
        self._catch_into(write_report, StateName.WRITE_REPORT, notify)
        promote.next(retention)
        self._catch_into(promote, StateName.PROMOTE, retention)
        retention.next(notify)
        self._catch_into(retention, StateName.APPLY_RETENTION, notify)

        # Before any capacity exists: failures go straight to the report.
        for task, state in (
            (validate, StateName.VALIDATE_DATASET),
            (plan, StateName.PLAN_EVALUATION),
            (preflight, StateName.PREFLIGHT),
            (start_job, StateName.START_CUSTOMIZATION_JOB),
            (poll_job, StateName.POLL_CUSTOMIZATION_JOB),
            (read_metrics, StateName.READ_TRAINING_METRICS),
        ):
            self._catch_into(task, state, write_report)
        # While capacity may exist: every failure goes through the delete.
        post_purchase: dict[StateName, tasks.LambdaInvoke | sfn.Map] = {
            StateName.CREATE_INFERENCE_CAPACITY: create_capacity,
            StateName.POLL_INFERENCE_CAPACITY: poll_capacity,
            StateName.GENERATE_ANSWERS: generate,
        }
        assert set(post_purchase) == set(POST_PURCHASE_STATES)
        for state, task in post_purchase.items():
            self._catch_into(task, state, delete_capacity)
        self._catch_into(delete_capacity, StateName.DELETE_INFERENCE_CAPACITY, write_report)
        # After the delete nothing bills by the hour: scoring failures go to the report.
        self._catch_into(score, StateName.SCORE_ANSWERS, write_report)
        self._catch_into(summarize, StateName.SUMMARIZE_EVALUATION, write_report)

        wait_for_job = sfn.Wait(
            self,
            "WaitForCustomizationJob",
            time=sfn.WaitTime.seconds_path("$.poll_customization_job.wait_seconds"),
        )
        wait_for_capacity = sfn.Wait(
            self,
            "WaitForInferenceCapacity",
            time=sfn.WaitTime.seconds_path("$.poll_inference_capacity.wait_seconds"),
        )
        job_status = (
            sfn.Choice(self, "JobStatus?")
            .when(sfn.Condition.string_equals("$.poll_customization_job.status", "Completed"), read_metrics)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.poll_customization_job.status", "Failed"),
                    sfn.Condition.string_equals("$.poll_customization_job.status", "Stopped"),
                ),
                write_report,
            )
            .otherwise(wait_for_job)
        )
        capacity_status = (
            sfn.Choice(self, "CapacityReady?")
            .when(sfn.Condition.boolean_equals("$.poll_inference_capacity.ready", True), generate)
            .when(sfn.Condition.boolean_equals("$.poll_inference_capacity.failed", True), delete_capacity)
            .otherwise(wait_for_capacity)
        )
        # A re-evaluation of an existing custom model skips the job: its model is bought capacity for at once.
        trains = (
            sfn.Choice(self, "TrainsAModel?")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.run.reevaluation"), sfn.Condition.is_not_null("$.run.reevaluation")
                ),
                create_capacity,
            )
            .otherwise(start_job)
        )
        preflight_passed = (
            sfn.Choice(self, "PreflightPassed?")
            .when(sfn.Condition.boolean_equals("$.preflight.passed", True), trains)
            .otherwise(write_report)
        )
        dataset_valid = (
            sfn.Choice(self, "DatasetValid?")
            .when(sfn.Condition.boolean_equals("$.validate_dataset.valid", True), plan)
            .otherwise(write_report)
        )

        # Scoring only runs on answers that were all generated (a failed generation went through the delete).
        answers_generated = (
            sfn.Choice(self, "AnswersGenerated?")
            .when(sfn.Condition.is_present("$.generate_answers"), score)
            .otherwise(write_report)
        )

        validate.next(dataset_valid)
        plan.next(preflight)
        preflight.next(preflight_passed)
        start_job.next(poll_job)
        poll_job.next(job_status)
        wait_for_job.next(poll_job)
        read_metrics.next(create_capacity)
        create_capacity.next(poll_capacity)
        poll_capacity.next(capacity_status)
        wait_for_capacity.next(poll_capacity)
        generate.next(delete_capacity)
        delete_capacity.next(answers_generated)
        score.next(summarize)
        summarize.next(write_report)
        return validate

    def grant_bedrock(self, *, service_role: iam.IRole, base_model_id: str, kms_key_arn: str | None) -> None:
        """Each step gets exactly the Bedrock actions it calls, on the resources known at synth where they are."""
        stack = Stack.of(self)
        prefix = f"arn:{stack.partition}:bedrock:{stack.region}:{stack.account}"
        jobs = f"{prefix}:model-customization-job/*"
        custom_models = f"{prefix}:custom-model/*"
        throughputs = f"{prefix}:provisioned-model/*"
        deployments = f"{prefix}:custom-model-deployment/*"
        foundation_models = f"arn:{stack.partition}:bedrock:*::foundation-model/*"
        inference_profiles = f"{prefix}:inference-profile/*"

        def allow(state: StateName, actions: list[str], resources: list[str]) -> None:
            self.steps[state].add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))

        # The run's custom model is named at run time (custom-model/<base>/<id>): the retention step may delete one.
        allow(StateName.APPLY_RETENTION, ["bedrock:DeleteCustomModel"], [custom_models])
        # Promotion creates the stack's one serving deployment, or switches the model behind it.
        allow(
            StateName.PROMOTE,
            [
                "bedrock:GetCustomModel",
                "bedrock:CreateCustomModelDeployment",
                "bedrock:UpdateCustomModelDeployment",
                "bedrock:GetCustomModelDeployment",
                "bedrock:TagResource",
            ],
            [custom_models, deployments],
        )
        allow(StateName.PROMOTE, ["bedrock:ListCustomModelDeployments"], ["*"])

        # The job customizes the configured base model (its customizable variant, e.g. amazon.nova-lite-v1:0:300k),
        # in the stack's region: that one foundation model, not foundation-model/*.
        base_model = f"arn:{stack.partition}:bedrock:{stack.region}::foundation-model/{base_model_id}"
        allow(
            StateName.START_CUSTOMIZATION_JOB,
            ["bedrock:CreateModelCustomizationJob", "bedrock:GetModelCustomizationJob", "bedrock:TagResource"],
            [jobs, custom_models, base_model],
        )
        self.steps[StateName.START_CUSTOMIZATION_JOB].add_to_role_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[service_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
            )
        )
        if kms_key_arn:
            # Every role that touches the encrypted custom model: the job's creator, the capacity's creator, and the
            # step that invokes it (the service role gets its own statement in infra/service_role.py).
            for state, actions in (
                (StateName.START_CUSTOMIZATION_JOB, KMS_CREATE_ACTIONS),
                (StateName.CREATE_INFERENCE_CAPACITY, KMS_CREATE_ACTIONS),
                (StateName.GENERATE_ANSWERS, KMS_INVOKE_ACTIONS),
            ):
                self.steps[state].add_to_role_policy(kms_statement(stack, kms_key_arn, actions))
        allow(StateName.POLL_CUSTOMIZATION_JOB, ["bedrock:GetModelCustomizationJob"], [jobs])
        # Preflight reads model access and the account's Bedrock quotas. Neither GetFoundationModelAvailability nor
        # ListServiceQuotas supports resource-level permissions: both require "*".
        allow(StateName.PREFLIGHT, ["bedrock:GetFoundationModelAvailability"], ["*"])
        allow(StateName.PREFLIGHT, ["servicequotas:ListServiceQuotas"], ["*"])
        # A re-evaluation's model must exist, be Active and come from the stack's base model.
        allow(StateName.PREFLIGHT, ["bedrock:GetCustomModel"], [custom_models])
        allow(
            StateName.CREATE_INFERENCE_CAPACITY,
            [
                "bedrock:CreateProvisionedModelThroughput",
                "bedrock:GetProvisionedModelThroughput",
                "bedrock:CreateCustomModelDeployment",
                "bedrock:GetCustomModelDeployment",
                "bedrock:GetCustomModel",
                "bedrock:TagResource",
            ],
            [custom_models, throughputs, deployments],
        )
        capacity_lookups = ["bedrock:ListProvisionedModelThroughputs", "bedrock:ListCustomModelDeployments"]
        for state in (StateName.CREATE_INFERENCE_CAPACITY, StateName.DELETE_INFERENCE_CAPACITY):
            # List actions support no resource-level permissions: Bedrock requires "*".
            allow(state, capacity_lookups, ["*"])
        allow(
            StateName.POLL_INFERENCE_CAPACITY,
            ["bedrock:GetProvisionedModelThroughput", "bedrock:GetCustomModelDeployment"],
            [throughputs, deployments],
        )
        invoke = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        # The base model (plain id or inference profile) and the run's capacity answer the questions.
        allow(StateName.GENERATE_ANSWERS, invoke, [foundation_models, inference_profiles, throughputs, deployments])
        # Only the judge is invoked after the capacity is deleted.
        allow(StateName.SCORE_ANSWERS, invoke, [foundation_models, inference_profiles])
        allow(
            StateName.DELETE_INFERENCE_CAPACITY,
            [
                "bedrock:DeleteProvisionedModelThroughput",
                "bedrock:GetProvisionedModelThroughput",
                "bedrock:DeleteCustomModelDeployment",
                "bedrock:GetCustomModelDeployment",
            ],
            [throughputs, deployments],
        )
