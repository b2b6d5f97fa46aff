"""One complete local run: the deployed stack's template on moto, the real handlers, the Bedrock emulator.

Order of a run, as on AWS:

1. synthesize the stack (cached) and create its bucket, topic, roles, settings parameter and state machine in moto,
   the state machine from the template's own ``DefinitionString``;
2. upload the dataset to ``incoming/`` and hand EventBridge's "Object Created" event to the rule's target (the real
   trigger handler), which starts the execution;
3. moto's Step Functions engine runs the definition; each Lambda task runs its real handler in-process
   (``lambda_adapter``), Wait states advance the simulated clock (``time_compression``), Bedrock is the emulator;
4. when the execution ends, its "Execution Status Change" event goes to the matching rule's target (the real
   execution-cleanup handler); then simulated time moves past the capacity lifetime and the real sweeper runs, the
   check that nothing was left billing;
5. the report files the run wrote to S3, the execution history and the emulator's ledger are copied to ``out_dir``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lambdas.contracts import INCOMING_PREFIX, RunPaths
from lambdas.registry import UnknownModelError, get_model
from lambdas.settings import PipelineSettings
from tuner.local import events
from tuner.local.account import (
    ACCOUNT_PAUSE,
    AccountError,
    SavedAccount,
    emulated_environment,
    process_environment,
    save_account,
)
from tuner.local.async_invoke import RETRY_DELAYS_SECONDS, AsyncInvokeConfig, async_configs_of, failure_record
from tuner.local.bedrock.emulator import EmulatedBedrock, Ledger
from tuner.local.bedrock.server import EmulatorServers
from tuner.local.lambda_adapter import LocalFunction, LocalFunctionError, LocalLambdas, installed
from tuner.local.scenarios import Scenario
from tuner.local.simclock import SimulatedClock, iso
from tuner.local.template import ACCOUNT_ID, REPO_ROOT, TemplateResolver, synthesize
from tuner.local.time_compression import compressed_time

STACK_NAME = "FineTuningStack"
CONTEXT_KEY = "fine_tuning"
EXECUTION_LIMIT_SECONDS = 480.0  # real seconds; a run that takes longer is stuck, not slow
POLL_SECONDS = 0.05
CLEANUP_HANDLERS = {"sweeper": "sweeper", "execution_cleanup": "execution-cleanup"}


class LocalRunError(Exception):
    """A problem with how the run was asked for (settings, model, file): one line for the user, exit 2."""


@dataclass(frozen=True)
class Drop:
    """One more thing dropped into the same emulated account after the request's dataset, in order."""

    file: Path | None = None  # uploaded under incoming/ with its own name
    # A reevaluate/ request for the custom model the previous run trained (what `tuner evaluate` uploads)
    reevaluate_previous: bool = False


@dataclass(frozen=True)
class RunRequest:
    dataset: Path
    model_id: str | None = None
    scenario: Scenario = Scenario.NONE
    out_dir: Path | None = None
    settings_overrides: Mapping[str, Any] = field(default_factory=dict)  # deep-merged into cdk.json's fine_tuning
    clock_start: datetime | None = None
    # Objects put in the bucket before the drop: {"eval/set.jsonl": Path} for evaluation.test_set.
    bucket_files: Mapping[str, Path] = field(default_factory=dict)
    converse_latency_seconds: float = 0.0  # real seconds each emulated Converse call takes (benchmarks)
    # `-c fine_tuning.<key>=<value>` pairs, applied last and exactly as `cdk synth -c` applies them
    context: Mapping[str, str] = field(default_factory=dict)
    # S3 user metadata of the drop itself, e.g. {"fine-tuning-settings": '{"hyperparameters": {"epochCount": 3}}'}
    drop_metadata: Mapping[str, str] = field(default_factory=dict)
    execution_limit_seconds: float = EXECUTION_LIMIT_SECONDS  # real seconds before a run is declared stuck
    # More drops after ``dataset``, one run each, in the same session (one account, one simulated clock). With more
    # than one run, each run's artefacts go to <out_dir or runs/>/<run-id>/.
    then: tuple[Drop, ...] = ()
    # An emulated account kept on disk (tuner/local/account.py): the session starts from it and saves it at the end.
    account: Path | None = None

    @property
    def drops(self) -> tuple[Drop, ...]:
        return (Drop(file=self.dataset), *self.then)


@dataclass
class StepView:
    """One state entered by the execution, for the progress display."""

    name: str
    kind: str
    status: str = "running"  # running | done | failed | caught | retrying
    attempts: int = 1
    error: str | None = None


@dataclass
class RunResult:
    run_id: str | None
    execution_arn: str | None
    execution_status: str | None
    report_status: str | None
    out_dir: Path
    report: dict[str, Any] | None
    ledger: dict[str, Any]
    steps: list[StepView]
    simulated_seconds: float
    real_seconds: float
    notes: list[str] = field(default_factory=list)
    emulator_failures: list[str] = field(default_factory=list)
    bedrock_calls: list[tuple[str, str]] = field(default_factory=list)  # (operation, caller) of every request
    judge_calls: list[int] = field(default_factory=list)  # positions in bedrock_calls of the judge's requests
    bedrock_throttled: int = 0  # requests the emulator answered with ThrottlingException
    # What Lambda sent to an on-failure destination (the trigger's dead-letter queue) after every attempt failed.
    dead_letters: list[dict[str, Any]] = field(default_factory=list)
    # ``ledger`` is the session's whole account; its entries from this index on were created during this run.
    ledger_start: int = 0

    @property
    def own_resources(self) -> list[dict[str, Any]]:
        return list(self.ledger.get("resources", []))[self.ledger_start :]


@dataclass(frozen=True)
class _Account:
    """The emulated account's stack, as a drop needs it."""

    bucket: str
    rules: list[events.Rule]
    s3: Any
    sfn: Any


class Observer:
    """What the progress display (or a test) hears about a run; every method is optional."""

    def message(self, text: str) -> None: ...

    def steps(self, steps: list[StepView], simulated_now: datetime) -> None: ...


def deep_merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_settings(
    model_id: str | None, overrides: Mapping[str, Any], context: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """cdk.json's ``fine_tuning`` context with the run's overrides, validated the way synthesis validates it."""
    from infra.config import SettingsError, apply_dotted_context

    cdk_json = REPO_ROOT / "cdk.json"
    base = json.loads(cdk_json.read_text()).get("context", {}).get(CONTEXT_KEY, {}) if cdk_json.is_file() else {}
    try:
        merged = apply_dotted_context(deep_merge(base, overrides), context or {})
    except SettingsError as error:
        raise LocalRunError(str(error).replace("\n", " ")) from None
    if model_id is not None:
        try:
            get_model(model_id)
        except UnknownModelError as error:
            raise LocalRunError(str(error)) from None
        merged["base_model_id"] = model_id
    try:
        settings = PipelineSettings.model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise LocalRunError(f"invalid settings{f' ({where})' if where else ''}: {message}") from None
    # What `cdk synth` refuses for the region the rehearsal emulates (the model's first customization region):
    # a model past its Legacy or end-of-life date, a judge that region cannot invoke.
    problems = settings.problems_starting(region=settings.model.regions[0])
    if problems:
        raise LocalRunError("; ".join(f"{CONTEXT_KEY}.{problem.setting}: {problem.message}" for problem in problems))
    return merged


@contextmanager
def _quiet_logs(log_path: Path) -> Iterator[None]:
    """Handler logs (Powertools JSON) and moto's engine logs go to a file, not the user's terminal."""
    from lambdas.observability import logger as powertools_logger

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as stream:
        file_handler = logging.StreamHandler(stream)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        noisy = [logging.getLogger(name) for name in ("moto", "botocore", "urllib3", "tuner.local.bedrock")]
        saved_loggers = [(item, item.handlers[:], item.propagate, item.level) for item in noisy]
        for item in noisy:
            item.handlers = [file_handler]
            item.propagate = False
            item.setLevel(logging.WARNING)
        registered = getattr(powertools_logger, "registered_handler", None)
        handler = registered if isinstance(registered, logging.StreamHandler) else None
        saved_stream = handler.stream if handler is not None else None
        if handler is not None:
            handler.stream = stream  # not setStream: that flushes the old stream, which may be closed by now
        try:
            yield
        finally:
            if handler is not None:
                handler.stream = saved_stream
            for item, handlers, propagate, level in saved_loggers:
                item.handlers, item.propagate = handlers, propagate
                item.setLevel(level)


def _write_atomically(path: Path, content: str | bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content.encode() if isinstance(content, str) else content)
    partial.replace(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def steps_from_history(history: list[dict[str, Any]]) -> list[StepView]:
    """Each state entered, in order, with its attempts and how it ended (done, caught, failed, aborted)."""
    steps: list[StepView] = []
    for event in history:
        kind = event["type"]
        current = steps[-1] if steps else None
        if kind.endswith("StateEntered"):
            entered = event.get("stateEnteredEventDetails", {})
            steps.append(StepView(name=entered.get("name", "?"), kind=kind.removesuffix("StateEntered")))
        elif current is None:
            continue
        elif kind.endswith("StateExited"):
            # A Map exits after the states inside it: close the step that was entered under this name.
            name = event.get("stateExitedEventDetails", {}).get("name")
            exited = next((step for step in reversed(steps) if step.name == name), current)
            exited.status = "caught" if exited.status == "retrying" else "done"
        elif kind in ("LambdaFunctionFailed", "TaskFailed", "LambdaFunctionTimedOut"):
            failed: dict[str, Any] = next((value for key, value in event.items() if key.endswith("EventDetails")), {})
            current.error = failed.get("error")
            current.status = "retrying"
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled") and current.status == "retrying":
            current.attempts += 1
            current.status = "running"
        elif kind in ("ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut") and current.status in (
            "running",
            "retrying",
        ):
            current.status = "failed" if kind == "ExecutionFailed" else kind.removeprefix("Execution").lower()
    for step in steps[:-1]:
        if step.status == "retrying":
            step.status = "caught"  # it failed for good and a Catch moved on
    return steps


class LocalRun:
    """Runs one dataset through the whole stack, locally. ``run()`` returns a ``RunResult``; artefacts go to disk."""

    def __init__(self, request: RunRequest, observer: Observer | None = None) -> None:
        self.request = request
        self.observer = observer or Observer()
        for drop in request.drops:
            if drop.file is not None and not drop.file.is_file():
                raise LocalRunError(f"{drop.file} does not exist or is not a file")
        if request.drops[0].reevaluate_previous:
            raise LocalRunError("a re-evaluation needs an earlier run in the session to train the model")
        for key, path in request.bucket_files.items():
            if not path.is_file():
                raise LocalRunError(f"{path} (for s3 key {key}) does not exist or is not a file")
        # A scenario's own settings (over-budget's budget) go on top of the run's overrides.
        overrides = deep_merge(request.settings_overrides, request.scenario.settings_overrides)
        self.settings = resolve_settings(request.model_id, overrides, request.context)
        self.spec = get_model(self.settings["base_model_id"])
        self.region = self.spec.regions[0]
        self.saved = self._saved_account()
        # Time goes on in a kept account: the session starts a simulated hour after it was last saved.
        start = self.saved.now + ACCOUNT_PAUSE if self.saved is not None else request.clock_start
        self.clock = SimulatedClock(start)
        self.notes: list[str] = []
        self._async_configs: dict[str, AsyncInvokeConfig] = {}
        self._queues: dict[str, str] = {}  # queue ARN -> URL, in moto

    def _saved_account(self) -> SavedAccount | None:
        if self.request.account is None:
            return None
        try:
            saved = SavedAccount.load(self.request.account)
        except AccountError as error:
            raise LocalRunError(str(error)) from None
        if saved is not None and saved.region != self.region:
            raise LocalRunError(
                f"the account in {self.request.account} is in {saved.region}; {self.spec.display_name} is rehearsed "
                f"in {self.region}: use another --account folder"
            )
        return saved

    # ----------------------------------------------------------------------------------------------------- run
    def run(self) -> RunResult:
        """The request's single run (or, with ``then``, the last of the session's runs)."""
        return self.run_all()[-1]

    def run_all(self) -> list[RunResult]:
        """Every drop of the request, in order, in one emulated account: one ``RunResult`` per drop."""
        from tuner.local.template import SynthesisError

        self.observer.message(f"synthesizing the stack for {self.spec.display_name} in {self.region} (cached)")
        try:
            template = synthesize({CONTEXT_KEY: self.settings})
        except SynthesisError as error:
            raise LocalRunError(f"the CDK app refused these settings: {error}") from None
        resolver = TemplateResolver(template, stack_name=STACK_NAME, region=self.region)
        staging = self.request.out_dir or (REPO_ROOT / "runs" / "_pending")
        staging.mkdir(parents=True, exist_ok=True)
        results: list[RunResult] = []
        with ExitStack() as stack:
            stack.enter_context(process_environment(self._aws_environment()))
            stack.enter_context(_quiet_logs(staging / "lambda-logs.jsonl"))
            from moto import mock_aws

            stack.enter_context(mock_aws(config={"stepfunctions": {"execute_state_machine": True}}))
            compression = stack.enter_context(compressed_time(self.clock))
            functions = self._functions(resolver)
            lambdas = LocalLambdas(functions)
            emulator = EmulatedBedrock(
                self.clock,
                region=self.region,
                behaviour=self.request.scenario.bedrock,
                actor=self._actor(lambdas),
                converse_latency_seconds=self.request.converse_latency_seconds,
            )
            servers = stack.enter_context(EmulatorServers(emulator.dispatch))
            stack.enter_context(process_environment(servers.environment))
            stack.enter_context(installed(lambdas))
            stack.enter_context(_use_simulated_clock(self.clock))
            from lambdas import aws

            aws.reset_clients()
            stack.callback(aws.reset_clients)
            account = self._open_account(resolver, emulator)
            several = len(self.request.drops) > 1
            for drop in self.request.drops:
                started, simulated = time.monotonic(), self.clock.elapsed_seconds
                calls, failures, throttled = len(emulator.calls), len(servers.failures), emulator.throttled
                ledger_start = len(emulator.ledger.to_json().get("resources", []))
                self.notes = []
                outcome = self._drop(
                    drop,
                    account=account,
                    resolver=resolver,
                    lambdas=lambdas,
                    emulator=emulator,
                    compression=compression,
                    earlier=results,
                )
                outcome_dir = self._write_outputs(staging, outcome, emulator.ledger, nested=several)
                results.append(
                    RunResult(
                        run_id=outcome["run_id"],
                        execution_arn=outcome.get("execution_arn"),
                        execution_status=outcome.get("execution_status"),
                        report_status=(outcome.get("report") or {}).get("status"),
                        out_dir=outcome_dir,
                        report=outcome.get("report"),
                        ledger=emulator.ledger.to_json(),
                        steps=outcome.get("steps", []),
                        simulated_seconds=self.clock.elapsed_seconds - simulated,
                        real_seconds=time.monotonic() - started,
                        notes=self.notes,
                        emulator_failures=servers.failures[failures:],
                        bedrock_calls=list(emulator.calls[calls:]),
                        judge_calls=[index - calls for index in emulator.judge_calls if index >= calls],
                        bedrock_throttled=emulator.throttled - throttled,
                        dead_letters=outcome.get("dead_letters", []),
                        ledger_start=ledger_start,
                    )
                )
            if self.request.account is not None:
                save_account(
                    self.request.account,
                    region=self.region,
                    stack_name=STACK_NAME,
                    bucket=account.bucket,
                    now=self.clock.now(),
                    s3=account.s3,
                    ssm=boto3_client("ssm", self.region),
                    emulator=emulator,
                )
                self.observer.message(f"the emulated account is saved in {self.request.account}")
        self._settle_logs(staging, results)
        return results

    def _aws_environment(self) -> dict[str, str | None]:
        values = emulated_environment(self.region)
        values.update(
            {
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": None,
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TRANSFORMERS_VERBOSITY": "error",
                "TOKENIZERS_PARALLELISM": "false",
            }
        )
        return values

    def _functions(self, resolver: TemplateResolver) -> list[LocalFunction]:
        functions = []
        for logical_id, props in resolver.of_type("AWS::Lambda::Function"):
            handler = props.get("Handler") or (props.get("ImageConfig", {}).get("Command") or [None])[0]
            if not handler or not str(handler).startswith("lambdas."):
                continue  # CDK's own custom-resource handlers (bucket notifications) are not part of a run
            environment = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
            environment["BEDROCK_EMULATED"] = "true"
            functions.append(
                LocalFunction(
                    logical_id=logical_id,
                    name=resolver.resources[logical_id].ref,
                    arn=resolver.get_att(logical_id, "Arn"),
                    handler=str(handler),
                    environment={key: str(value) for key, value in environment.items()},
                    memory_mb=int(props.get("MemorySize", 128)),
                    timeout_seconds=int(props.get("Timeout", 3)),
                )
            )
        return functions

    @staticmethod
    def _actor(lambdas: LocalLambdas) -> Callable[[], Any]:
        def actor() -> str:
            current = lambdas.current
            if current is None:
                return "state-machine"
            module = current.handler.rsplit(".", 2)[-2]
            return CLEANUP_HANDLERS.get(module, "state-machine")

        return actor

    # ------------------------------------------------------------------------------------------ inside mock_aws
    def _open_account(self, resolver: TemplateResolver, emulator: EmulatedBedrock) -> _Account:
        """The deployed stack in moto (bucket, topic, queues, settings, state machine), the kept account's data
        (``--account``) and the files put before."""
        import boto3

        s3 = boto3.client("s3", region_name=self.region)
        sfn = boto3.client("stepfunctions", region_name=self.region)
        bucket = self._create_resources(resolver, s3, sfn)
        if self.saved is not None:
            if self.saved.bucket != bucket:
                raise LocalRunError(
                    f"the account in {self.request.account} has bucket {self.saved.bucket}, not {bucket}"
                )
            self.saved.restore(s3=s3, ssm=boto3.client("ssm", region_name=self.region), emulator=emulator)
            self.observer.message(f"restored the emulated account kept in {self.request.account}")
        self._async_configs = async_configs_of(resolver)
        for extra_key, path in self.request.bucket_files.items():
            s3.put_object(Bucket=bucket, Key=extra_key, Body=path.read_bytes())
            self.observer.message(f"uploaded {path} to s3://{bucket}/{extra_key}")
        return _Account(bucket=bucket, rules=events.rules_of(resolver), s3=s3, sfn=sfn)

    def _drop_object(self, drop: Drop, earlier: list[RunResult]) -> tuple[str, bytes, dict[str, str]]:
        """What the drop puts in the bucket: a file under incoming/ by its own name (as a person uploads it), or
        the re-evaluation request `tuner evaluate` would upload for the previous run's custom model."""
        if drop.file is not None:
            metadata = dict(self.request.drop_metadata) if not earlier else {}
            return f"{INCOMING_PREFIX}{drop.file.name}", drop.file.read_bytes(), metadata
        from lambdas.runs.reevaluate import ReevaluationRequest, request_key

        previous = earlier[-1]
        arn = ((previous.report or {}).get("job") or {}).get("custom_model_arn")
        if not arn or not previous.run_id:
            raise LocalRunError(f"run {previous.run_id or '(none started)'} reported no custom model to re-evaluate")
        request = ReevaluationRequest(custom_model_arn=arn, run_id=previous.run_id)
        return request_key(f"{previous.run_id}-again"), request.document(), {}

    def _drop(
        self,
        drop: Drop,
        *,
        account: _Account,
        resolver: TemplateResolver,
        lambdas: LocalLambdas,
        emulator: EmulatedBedrock,
        compression: Any,
        earlier: list[RunResult],
    ) -> dict[str, Any]:
        s3, sfn, bucket, rules = account.s3, account.sfn, account.bucket, account.rules
        key, body, metadata = self._drop_object(drop, earlier)
        put = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata)
        self.observer.message(f"uploaded {drop.file or 'a re-evaluation request'} to s3://{bucket}/{key}")
        dropped = events.object_created(
            bucket,
            key,
            size=len(body),
            etag=put["ETag"],
            version_id=put.get("VersionId"),
            region=self.region,
            account=ACCOUNT_ID,
            at=self.clock.now(),
        )
        started = [result for result in self._deliver(dropped, rules, lambdas) if isinstance(result, dict)]
        start = next((result for result in started if result.get("started")), None)
        if start is None:
            reasons = "; ".join(str(result.get("reason")) for result in started) or "no rule matched the upload"
            self.notes.append(f"no run started: {reasons}")
            return {"run_id": None, "steps": [], "dead_letters": self._dead_letters()}
        run_id, execution_arn = start["run_id"], start["execution_arn"]
        self.observer.message(f"run {run_id} started")

        hold = self.request.scenario.stops_execution
        compression.hold = lambda: (
            hold
            and any(
                entry.deleted_at is None and entry.role != "serving"
                for entry in emulator.ledger.of_type("provisioned-throughput", "custom-model-deployment")
            )
        )
        execution = self._follow(sfn, execution_arn, compression)
        history = _history(sfn, execution_arn)
        steps = steps_from_history(history)
        self.observer.steps(steps, self.clock.now())

        if self.request.scenario.delivers_execution_events:
            ended = events.execution_status_change(
                execution, region=self.region, account=ACCOUNT_ID, at=self.clock.now()
            )
            self._deliver(ended, rules, lambdas)
        else:
            self.notes.append("the Execution Status Change event was lost (scenario): no execution cleanup ran")
        self._sweep_after_lifetime(resolver, rules, lambdas)

        paths = RunPaths(run_id=run_id)
        files: dict[str, bytes] = {}
        for name, report_key in (
            ("report.json", paths.report_json),
            ("report.md", paths.report_md),
            ("report.html", paths.report_html),
        ):
            try:
                files[name] = s3.get_object(Bucket=bucket, Key=report_key)["Body"].read()
            except s3.exceptions.NoSuchKey:
                continue
        report = json.loads(files["report.json"]) if "report.json" in files else None
        if report is None:
            self.notes.append(
                f"the execution ended {execution['status']} before the report step wrote a report; none was invented"
            )
        return {
            "run_id": run_id,
            "execution_arn": execution_arn,
            "execution_status": execution["status"],
            "execution": execution,
            "history": history,
            "steps": steps,
            "files": files,
            "report": report,
            "dead_letters": self._dead_letters(),
        }

    def _create_resources(self, resolver: TemplateResolver, s3: Any, sfn: Any) -> str:
        import boto3

        iam = boto3.client("iam", region_name=self.region)
        sns = boto3.client("sns", region_name=self.region)
        trust = json.dumps({"Version": "2012-10-17", "Statement": []})
        for logical_id, props in resolver.of_type("AWS::IAM::Role"):
            document = (
                resolver.resolve(props.get("AssumeRolePolicyDocument"))
                if props.get("AssumeRolePolicyDocument")
                else None
            )
            iam.create_role(
                RoleName=resolver.resources[logical_id].ref,
                AssumeRolePolicyDocument=json.dumps(document) if document else trust,
            )
        for logical_id, props in resolver.of_type("AWS::S3::Bucket"):
            name = resolver.resources[logical_id].ref
            if self.region == "us-east-1":
                s3.create_bucket(Bucket=name)
            else:
                s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        for logical_id, _props in resolver.of_type("AWS::SNS::Topic"):
            sns.create_topic(Name=resolver.get_att(logical_id, "TopicName"))
        sqs = boto3.client("sqs", region_name=self.region)
        for logical_id, _props in resolver.of_type("AWS::SQS::Queue"):
            url = sqs.create_queue(QueueName=resolver.resources[logical_id].ref.rsplit("/", 1)[-1])["QueueUrl"]
            self._queues[resolver.get_att(logical_id, "Arn")] = url
        ssm = boto3.client("ssm", region_name=self.region)
        for logical_id, props in resolver.of_type("AWS::SSM::Parameter"):  # the settings the trigger reads
            ssm.put_parameter(
                Name=resolver.resources[logical_id].ref,
                Value=str(resolver.resolve(props["Value"])),
                Type=props.get("Type", "String"),
                Tier=props.get("Tier", "Standard"),
            )
        machines = resolver.of_type("AWS::StepFunctions::StateMachine")
        if len(machines) != 1:
            raise LocalRunError(f"the template has {len(machines)} state machines; the harness expects one")
        logical_id, props = machines[0]
        definition = resolver.resolve(props["DefinitionString"])
        sfn.create_state_machine(
            name=resolver.get_att(logical_id, "Name"),
            definition=definition,
            roleArn=str(resolver.resolve(props["RoleArn"])),
            type=props.get("StateMachineType", "STANDARD"),
        )
        environment_buckets = {
            str(resolver.resolve(props["Environment"]["Variables"]["DATA_BUCKET"]))
            for _function, props in resolver.of_type("AWS::Lambda::Function")
            if "DATA_BUCKET" in props.get("Environment", {}).get("Variables", {})
        }
        if len(environment_buckets) != 1:
            raise LocalRunError(f"the functions name {len(environment_buckets)} data buckets; expected one")
        return environment_buckets.pop()

    def _deliver(self, event: dict[str, Any], rules: list[events.Rule], lambdas: LocalLambdas) -> list[Any]:
        results = []
        for rule in rules:
            if rule.pattern is None or not events.matches(rule.pattern, event):
                continue
            for arn in rule.target_arns:
                try:
                    function = lambdas.find(arn)
                except LookupError:
                    continue
                results.append(self._invoke_async(lambdas, function, event))
        return results

    def _invoke_async(self, lambdas: LocalLambdas, function: LocalFunction, event: dict[str, Any]) -> Any:
        """Invoke as Lambda does for EventBridge: retries, then the on-failure destination (``async_invoke``)."""
        config = self._async_configs.get(function.name, AsyncInvokeConfig())
        attempts = config.retry_attempts + 1
        for attempt in range(attempts):
            try:
                return lambdas.call(function, event)
            except LocalFunctionError as error:
                if attempt + 1 < attempts:
                    self.clock.advance(RETRY_DELAYS_SECONDS[min(attempt, len(RETRY_DELAYS_SECONDS) - 1)])
                    continue
                if config.on_failure is None or config.on_failure not in self._queues:
                    raise  # Lambda would discard the event: the rehearsal fails loudly instead
                import boto3

                record = failure_record(
                    event,
                    function_arn=function.arn,
                    attempts=attempts,
                    error_type=error.error_type,
                    error_message=error.error_message,
                    at=self.clock.now(),
                )
                sqs = boto3.client("sqs", region_name=self.region)
                sqs.send_message(QueueUrl=self._queues[config.on_failure], MessageBody=json.dumps(record))
                self.notes.append(
                    f"{function.logical_id} failed {attempts} times ({error.error_type}: {error.error_message}); "
                    f"Lambda sent the event to its on-failure destination {config.on_failure.rsplit(':', 1)[-1]}"
                )
        return None

    def _dead_letters(self) -> list[dict[str, Any]]:
        """Every message in the stack's queues (only the trigger's dead-letter queue exists), read before moto ends."""
        import boto3

        sqs = boto3.client("sqs", region_name=self.region)
        letters: list[dict[str, Any]] = []
        for url in self._queues.values():
            while True:
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                letters.extend(json.loads(message["Body"]) for message in messages)
                for message in messages:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return letters

    def _follow(self, sfn: Any, execution_arn: str, compression: Any) -> dict[str, Any]:
        limit = self.request.execution_limit_seconds
        deadline = time.monotonic() + limit
        seen = 0
        stopped = False
        while True:
            execution: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if execution["status"] != "RUNNING":
                return execution
            if compression.holding.is_set() and not stopped:
                self.observer.message("capacity exists: stopping the execution (scenario)")
                sfn.stop_execution(
                    executionArn=execution_arn, error="StoppedByOperator", cause="stopped mid-run by --simulate stop"
                )
                stopped = True
            history = _history(sfn, execution_arn)
            if len(history) != seen:
                seen = len(history)
                self.observer.steps(steps_from_history(history), self.clock.now())
            if time.monotonic() > deadline:
                sfn.stop_execution(executionArn=execution_arn, error="LocalHarnessTimeout", cause="stuck")
                raise RuntimeError(f"the execution did not finish within {limit:.0f} s real time")
            time.sleep(POLL_SECONDS)

    def _sweep_after_lifetime(
        self, resolver: TemplateResolver, rules: list[events.Rule], lambdas: LocalLambdas
    ) -> None:
        settings = PipelineSettings.model_validate(self.settings)
        lifetime = settings.capacity_max_lifetime_hours * 3600 + settings.sweeper_interval_minutes * 60
        self.clock.advance(lifetime)
        for rule in rules:
            if rule.schedule is None:
                continue
            event = events.scheduled(
                resolver.get_att(rule.logical_id, "Arn"), region=self.region, account=ACCOUNT_ID, at=self.clock.now()
            )
            for arn in rule.target_arns:
                function = lambdas.find(arn)
                self.observer.message(
                    f"{settings.capacity_max_lifetime_hours:g} h later (simulated): scheduled {function.logical_id}"
                )
                result = lambdas.call(function, event)
                if isinstance(result, dict):
                    deleted = len(result.get("deleted") or [])
                    checked = result.get("checked", "?")
                    self.observer.message(
                        f"the sweeper looked at {checked} capacity resource(s) in the account and deleted {deleted}"
                    )
                    if deleted:
                        self.notes.append(f"the sweeper deleted {deleted} expired capacity resource(s)")

    # ---------------------------------------------------------------------------------------------- artefacts
    def _settle_logs(self, staging: Path, results: list[RunResult]) -> None:
        """Each run folder gets the handlers' whole log once the session is over; a staging folder the user did not
        name is removed."""
        log = staging / "lambda-logs.jsonl"
        if not log.is_file():
            return
        content = log.read_bytes()
        for result in results:
            if result.out_dir != staging:
                _write_atomically(result.out_dir / "lambda-logs.jsonl", content)
        if self.request.out_dir is None:
            log.unlink()
            if not any(staging.iterdir()):
                staging.rmdir()

    def _write_outputs(self, staging: Path, outcome: dict[str, Any], ledger: Ledger, *, nested: bool) -> Path:
        """The run's artefacts in its folder: ``out_dir`` for a single run, ``<out_dir or runs>/<run-id>/`` when the
        session has several; the handlers' log so far is copied there (the session's log is settled at its end)."""
        run_folder = outcome["run_id"] or "no-run"
        if self.request.out_dir is None:
            out_dir = REPO_ROOT / "runs" / run_folder
        else:
            out_dir = self.request.out_dir / run_folder if nested else self.request.out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        log = staging / "lambda-logs.jsonl"
        if staging != out_dir and log.is_file():
            _write_atomically(out_dir / "lambda-logs.jsonl", log.read_bytes())
        for stale in ("report.json", "report.md", "report.html"):
            (out_dir / stale).unlink(missing_ok=True)  # a report from an earlier run must not pass for this one
        for name, content in outcome.get("files", {}).items():
            _write_atomically(out_dir / name, content)
        execution = outcome.get("execution") or {}
        document = {
            "executionArn": outcome.get("execution_arn"),
            "status": execution.get("status"),
            "startDate": execution.get("startDate"),
            "stopDate": execution.get("stopDate"),
            "input": json.loads(execution["input"]) if execution.get("input") else None,
            "output": json.loads(execution["output"]) if execution.get("output") else None,
            "states": [step.__dict__ for step in outcome.get("steps", [])],
            "events": outcome.get("history", []),
        }
        _write_atomically(out_dir / "execution.json", json.dumps(document, indent=2, default=_json_default))
        _write_atomically(out_dir / "ledger.json", json.dumps(ledger.to_json(), indent=2))
        return out_dir


def boto3_client(service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events_: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events_.extend(page["events"])
        if not page.get("nextToken"):
            return events_
        kwargs["nextToken"] = page["nextToken"]


@contextmanager
def _use_simulated_clock(clock: SimulatedClock) -> Iterator[None]:
    from lambdas import clock as lambdas_clock

    lambdas_clock.use_clock(clock.now)
    try:
        yield
    finally:
        lambdas_clock.use_system_clock()
