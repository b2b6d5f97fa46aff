"""A local Amazon Bedrock for rehearsals: customization jobs, custom models, capacity and Converse, in simulated time.

moto 5.2.5 has customization jobs that never change status and nothing else the pipeline needs, so this emulator
answers both Bedrock endpoints itself (``server.py`` serves it on loopback). Resources move through their real
lifecycles as the simulated clock advances; statuses are computed when read:

* customization job: InProgress for ~10 minutes plus a few seconds per training record and epoch (the reference
  study's 85 records x 10 epochs take about two hours), then Completed with the training-metric CSVs written to the
  job's output prefix in Bedrock's format, and a custom model; or Failed (``job-failure``); Stopping -> Stopped.
  What a job learns depends on its hyperparameters and record count, deterministically (``training_model``): more
  epochs lower the training loss, too many raise the validation loss again, and the custom model's answers match
  (too little training: some answers like the base model's; too much: some memorised, wrong ones). At the registry
  defaults it always answers with the nearest training answer.
* provisioned throughput: Creating for 20 minutes, then InService (or Failed); at most 2 no-commitment throughputs.
* custom model deployment: Creating for 10 minutes, then Active (or Failed). ``UpdateCustomModelDeployment``
  switches the model behind an Active deployment: its ``status`` stays Active (the botocore service model's
  ``CustomModelDeploymentStatus`` has only Creating | Active | Failed), ``updateDetails`` reports the new model with
  ``updateStatus`` Updating for 10 minutes, then UpdateCompleted, when ``modelArn`` becomes the new model; the
  deployment's ARN never changes, and it answers with the old model until the update completes.
* what Preflight reads: ``GetFoundationModelAvailability`` (the registry's models and judges; no access to the base
  models in ``no-model-access``) and the Amazon Bedrock quotas of ``service-quotas`` ``ListServiceQuotas``, which the
  create calls also enforce (capacity quotas 0 in ``no-capacity-quota``).

Every resource created and deleted is written to the ledger with simulated timestamps and who deleted it (and a
deployment's model updates). ``snapshot()`` / ``restore()`` carry the account's resources and ledger between
processes, so a local "emulated account" can outlive one command.
"""

from __future__ import annotations

import csv
import io
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import boto3

from lambdas.registry import JUDGES, MODELS
from tuner.local.bedrock import answers
from tuner.local.bedrock.protocol import ServiceError
from tuner.local.bedrock.training_model import TrainedModel
from tuner.local.scenarios import BedrockBehaviour
from tuner.local.simclock import SimulatedClock, iso

ACCOUNT_ID = "123456789012"  # moto's default account

JOB_SETUP = timedelta(minutes=10)
JOB_SECONDS_PER_RECORD_EPOCH = 8
JOB_FAILS_AFTER = timedelta(minutes=25)
JOB_STOPPING = timedelta(minutes=2)
THROUGHPUT_CREATING = timedelta(minutes=20)
DEPLOYMENT_CREATING = timedelta(minutes=10)
# No published figure for how long an update takes; assumed as long as creating a deployment.
DEPLOYMENT_UPDATING = timedelta(minutes=10)
CAPACITY_FAILS_AFTER = timedelta(minutes=12)
NO_COMMITMENT_THROUGHPUT_QUOTA = 2  # model units (1 per no-commitment throughput)
CUSTOM_MODEL_DEPLOYMENT_QUOTA = 2
CUSTOMIZATION_JOB_QUOTA = 2
# The account's applied Amazon Bedrock quotas, as ListServiceQuotas names them. The throughput quotas' names (and
# L-BE77399C) are the documented ones; the jobs' and deployments' names are assumptions, as in lambdas/preflight/quotas.
PT_UNITS_QUOTA = ("L-BE77399C", "Model units no-commitment Provisioned Throughputs across custom models")
JOBS_QUOTA = ("L-EMU0JOBS", "Concurrent model customization jobs")
DEPLOYMENTS_QUOTA = ("L-EMU0DEPL", "Custom model deployments")
DEFAULT_BATCH_SIZE = 8
SERVING_ROLE_TAG = "fine-tuning:role"  # lambdas.serving.actions.TAG_ROLE: "serving" marks the stack's stable deployment

ResourceType = Literal["customization-job", "custom-model", "provisioned-throughput", "custom-model-deployment"]
Actor = Literal["state-machine", "sweeper", "cli"]  # who made a request (the ledger says who deleted)


@dataclass
class LedgerEntry:
    type: ResourceType
    arn: str
    created_at: datetime
    deleted_at: datetime | None = None
    deleted_by: Actor | None = None
    # UpdateCustomModelDeployment calls on a deployment: (when, the model it switched to)
    model_updates: list[tuple[datetime, str]] = field(default_factory=list)
    # "serving": the stack's stable deployment (tagged fine-tuning:role=serving), which outlives runs on purpose
    role: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "type": self.type,
            "arn": self.arn,
            "created_at": iso(self.created_at),
            "deleted_at": iso(self.deleted_at) if self.deleted_at else None,
            "deleted_by": self.deleted_by,
        }
        if self.model_updates:
            entry["model_updates"] = [{"at": iso(at), "model_arn": arn} for at, arn in self.model_updates]
        if self.role:
            entry["role"] = self.role
        return entry

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> LedgerEntry:
        return cls(
            type=entry["type"],
            arn=entry["arn"],
            created_at=_parse_time(entry["created_at"]),
            deleted_at=_parse_time(entry["deleted_at"]) if entry.get("deleted_at") else None,
            deleted_by=entry.get("deleted_by"),
            model_updates=[(_parse_time(item["at"]), item["model_arn"]) for item in entry.get("model_updates", [])],
            role=entry.get("role"),
        )


@dataclass
class _Job:
    arn: str
    job_id: str
    name: str
    custom_model_name: str
    base_model_id: str
    role_arn: str
    client_token: str | None
    hyperparameters: dict[str, str]
    training_uri: str
    validation_uris: list[str]
    output_uri: str
    created_at: datetime
    duration: timedelta
    training_records: int
    custom_model_tags: list[dict[str, str]]
    fails: bool
    vpc: dict[str, Any] | None = None
    kms_key: str | None = None
    stop_requested_at: datetime | None = None
    finished: bool = False
    custom_model_arn: str | None = None
    final_training_loss: float | None = None
    final_validation_loss: float | None = None


@dataclass
class _CustomModel:
    arn: str
    name: str
    job: _Job
    created_at: datetime


@dataclass
class _Update:
    """An UpdateCustomModelDeployment in progress or completed: the deployment serves ``model_arn`` once done."""

    model_arn: str
    requested_at: datetime


@dataclass
class _Capacity:
    kind: ResourceType
    arn: str
    name: str
    model_arn: str  # the model served before ``update`` (if any) completed
    created_at: datetime
    client_token: str | None
    fails: bool
    model_units: int = 1
    commitment: str | None = None
    description: str | None = None
    update: _Update | None = None  # the latest model update of a deployment


@dataclass
class Ledger:
    entries: list[LedgerEntry] = field(default_factory=list)

    def created(self, kind: ResourceType, arn: str, at: datetime) -> None:
        self.entries.append(LedgerEntry(type=kind, arn=arn, created_at=at))

    def deleted(self, arn: str, at: datetime, by: Actor) -> None:
        for entry in self.entries:
            if entry.arn == arn and entry.deleted_at is None:
                entry.deleted_at, entry.deleted_by = at, by

    def to_json(self) -> dict[str, Any]:
        return {"resources": [entry.to_json() for entry in self.entries]}

    def updated(self, arn: str, at: datetime, model_arn: str) -> None:
        for entry in self.entries:
            if entry.arn == arn and entry.deleted_at is None:
                entry.model_updates.append((at, model_arn))

    def of_type(self, *kinds: ResourceType) -> list[LedgerEntry]:
        return [entry for entry in self.entries if entry.type in kinds]


def _new_id() -> str:
    return uuid.uuid4().hex[:12]


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ServiceError("ValidationException", f"{uri!r} is not an S3 URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    return bucket, key


def _base_model_id(identifier: str) -> str:
    return identifier.rsplit("foundation-model/", 1)[-1]


class EmulatedBedrock:
    """State and behaviour of the emulated service; ``dispatch`` is what the loopback servers call."""

    def __init__(
        self,
        clock: SimulatedClock,
        *,
        region: str,
        behaviour: BedrockBehaviour | None = None,
        actor: Callable[[], Actor] = lambda: "state-machine",
        converse_latency_seconds: float = 0.0,
    ) -> None:
        self.clock = clock
        self.converse_latency_seconds = converse_latency_seconds  # real seconds per Converse call (benchmarks)
        self.region = region
        self.behaviour = behaviour or BedrockBehaviour()
        self.actor = actor
        self.ledger = Ledger()
        self.calls: list[tuple[str, str]] = []  # (operation, actor) of every request, throttled ones included
        self.judge_calls: list[int] = []  # positions in ``calls`` of the requests that asked a judge
        self.throttled = 0
        self._burst_refused: dict[str, int] = {}
        self._jobs: dict[str, _Job] = {}
        self._models: dict[str, _CustomModel] = {}
        self._capacity: dict[str, _Capacity] = {}
        self._tags: dict[str, list[dict[str, str]]] = {}
        self._training_pairs: dict[str, list[answers.TrainingPair]] = {}
        self._lock = threading.RLock()
        self._s3 = boto3.client("s3", region_name=region)

    # ----------------------------------------------------------------------------------------------- dispatching
    def dispatch(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((operation, self.actor()))
            burst = dict(self.behaviour.throttle_bursts).get(operation, 0)
            refused = self._burst_refused.get(operation, 0)
            every = self.behaviour.throttle_one_in
            if refused < burst or (every and len(self.calls) % every == 0):
                self._burst_refused[operation] = refused + (refused < burst)
                self.throttled += 1
                raise ServiceError("ThrottlingException", "Too many requests, please wait before trying again.")
            self._advance()
            method = getattr(self, f"_{service.replace('-', '_')}_{operation}", None)
            if method is None:
                raise ServiceError(
                    "UnknownOperationException", f"the local Bedrock emulator does not implement {operation}", 501
                )
            result: dict[str, Any] = method(**params)
        if operation == "Converse" and self.converse_latency_seconds > 0:
            time.sleep(self.converse_latency_seconds)  # outside the lock: concurrent callers wait in parallel
        return result

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # ------------------------------------------------------------------------------------------ persistence
    def snapshot(self) -> dict[str, Any]:
        """The emulated account as JSON-ready data: jobs, custom models, throughputs and deployments (with model
        updates), tags and the ledger, plus the simulated time it was taken at (``restore`` leaves the clock to its
        owner). Request counters and throttling state are per process and not included."""
        with self._lock:
            return {
                "snapshot_version": SNAPSHOT_VERSION,
                "region": self.region,
                "taken_at": iso(self.now),
                "jobs": [_job_to_json(job) for job in self._jobs.values()],
                "custom_models": [
                    {
                        "arn": model.arn,
                        "name": model.name,
                        "job_arn": model.job.arn,
                        "created_at": iso(model.created_at),
                    }
                    for model in self._models.values()
                ],
                "capacity": [_capacity_to_json(capacity) for capacity in self._capacity.values()],
                "tags": {arn: [dict(tag) for tag in tags] for arn, tags in self._tags.items()},
                "training_pairs": {
                    uri: [[pair.question, pair.answer] for pair in pairs] for uri, pairs in self._training_pairs.items()
                },
                "ledger": [entry.to_json() for entry in self.ledger.entries],
            }

    def restore(self, snapshot: dict[str, Any]) -> None:
        """Replace this emulator's account with ``snapshot`` (from ``snapshot()``, possibly of another process)."""
        version = snapshot.get("snapshot_version")
        if version != SNAPSHOT_VERSION:
            raise ValueError(f"emulator snapshot version {version!r} is not {SNAPSHOT_VERSION}: start a new account")
        if snapshot["region"] != self.region:
            raise ValueError(f"the snapshot is of {snapshot['region']}, this emulator serves {self.region}")
        with self._lock:
            jobs = {item["arn"]: _job_from_json(item) for item in snapshot["jobs"]}
            self._jobs = jobs
            self._models = {
                item["arn"]: _CustomModel(
                    item["arn"], item["name"], jobs[item["job_arn"]], _parse_time(item["created_at"])
                )
                for item in snapshot["custom_models"]
            }
            self._capacity = {item["arn"]: _capacity_from_json(item) for item in snapshot["capacity"]}
            self._tags = {arn: [dict(tag) for tag in tags] for arn, tags in snapshot["tags"].items()}
            self._training_pairs = {
                uri: [answers.TrainingPair(question, answer) for question, answer in pairs]
                for uri, pairs in snapshot["training_pairs"].items()
            }
            self.ledger = Ledger([LedgerEntry.from_json(entry) for entry in snapshot["ledger"]])

    def _arn(self, resource: str) -> str:
        return f"arn:aws:bedrock:{self.region}:{ACCOUNT_ID}:{resource}"

    def _foundation_arn(self, model_id: str) -> str:
        return f"arn:aws:bedrock:{self.region}::foundation-model/{model_id}"

    # ------------------------------------------------------------------------------------- simulated lifecycles
    def _advance(self) -> None:
        """Materialise what simulated time has made true (finished jobs write metrics and create their model)."""
        for job in self._jobs.values():
            if job.finished or self._job_status(job) != "Completed":
                continue
            job.finished = True
            finished_at = job.created_at + job.duration
            self._write_training_metrics(job)
            model_id = _new_id()
            model_arn = self._arn(f"custom-model/{job.base_model_id}/{model_id}")
            job.custom_model_arn = model_arn
            self._models[model_arn] = _CustomModel(model_arn, job.custom_model_name, job, finished_at)
            self._tags[model_arn] = list(job.custom_model_tags)
            self.ledger.created("custom-model", model_arn, finished_at)

    def _job_status(self, job: _Job) -> str:
        now = self.now
        if job.stop_requested_at is not None:
            return "Stopped" if now >= job.stop_requested_at + JOB_STOPPING else "Stopping"
        if job.fails:
            return "Failed" if now >= job.created_at + JOB_FAILS_AFTER else "InProgress"
        return "Completed" if now >= job.created_at + job.duration else "InProgress"

    def _job_end(self, job: _Job) -> datetime | None:
        status = self._job_status(job)
        if status == "Completed":
            return job.created_at + job.duration
        if status == "Failed":
            return job.created_at + JOB_FAILS_AFTER
        if status == "Stopped" and job.stop_requested_at is not None:
            return job.stop_requested_at + JOB_STOPPING
        return None

    def _capacity_status(self, capacity: _Capacity) -> str:
        ready = "InService" if capacity.kind == "provisioned-throughput" else "Active"
        creating = THROUGHPUT_CREATING if capacity.kind == "provisioned-throughput" else DEPLOYMENT_CREATING
        if capacity.fails:
            return "Failed" if self.now >= capacity.created_at + CAPACITY_FAILS_AFTER else "Creating"
        return ready if self.now >= capacity.created_at + creating else "Creating"

    def _capacity_changed_at(self, capacity: _Capacity) -> datetime:
        status = self._capacity_status(capacity)
        if status == "Creating":
            return capacity.created_at
        if status == "Failed":
            return capacity.created_at + CAPACITY_FAILS_AFTER
        if capacity.update is not None:
            if self._update_status(capacity.update) == "Updating":
                return capacity.update.requested_at
            return capacity.update.requested_at + DEPLOYMENT_UPDATING
        creating = THROUGHPUT_CREATING if capacity.kind == "provisioned-throughput" else DEPLOYMENT_CREATING
        return capacity.created_at + creating

    def _update_status(self, update: _Update) -> str:
        return "UpdateCompleted" if self.now >= update.requested_at + DEPLOYMENT_UPDATING else "Updating"

    def _served_model_arn(self, capacity: _Capacity) -> str:
        """The model the capacity answers with now: the old one until an update completes."""
        update = capacity.update
        if update is not None and self._update_status(update) == "UpdateCompleted":
            return update.model_arn
        return capacity.model_arn

    def _models_in_use(self) -> set[str]:
        in_use = {capacity.model_arn for capacity in self._capacity.values()}
        return in_use | {capacity.update.model_arn for capacity in self._capacity.values() if capacity.update}

    # --------------------------------------------------------------------------------------- training metrics
    def _count_records(self, uri: str) -> int:
        bucket, key = _split_s3_uri(uri)
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except self._s3.exceptions.NoSuchKey:
            raise ServiceError("ValidationException", f"the training data {uri} does not exist") from None
        self._training_pairs[uri] = answers.training_pairs(body)
        return sum(1 for line in body.splitlines() if line.strip())

    def _trained_model(self, job: _Job) -> TrainedModel:
        """What the job learned, from its hyperparameters and data (``training_model`` has the formulas)."""
        return TrainedModel.of(MODELS[job.base_model_id], job.hyperparameters, job.training_records)

    def _write_training_metrics(self, job: _Job) -> None:
        batch = int(float(job.hyperparameters.get("batchSize", str(DEFAULT_BATCH_SIZE))))
        steps_per_epoch = max(1, math.ceil(job.training_records / batch))
        model = self._trained_model(job)
        training_points = model.training_curve(steps_per_epoch)
        validation_points = model.validation_curve(steps_per_epoch)
        training = io.StringIO()
        writer = csv.writer(training, lineterminator="\n")
        writer.writerow(["step_number", "epoch_number", "training_loss"])
        writer.writerows([step, epoch, repr(loss)] for step, epoch, loss in training_points)
        validation = io.StringIO()
        writer = csv.writer(validation, lineterminator="\n")
        writer.writerow(["step_number", "epoch_number", "validation_loss"])
        writer.writerows([step, epoch, repr(loss)] for step, epoch, loss in validation_points)
        bucket, prefix = _split_s3_uri(job.output_uri)
        base = f"{prefix.rstrip('/')}/model-customization-job-{job.job_id}".lstrip("/")
        self._s3.put_object(
            Bucket=bucket,
            Key=f"{base}/training_artifacts/step_wise_training_metrics.csv",
            Body=training.getvalue().encode(),
        )
        self._s3.put_object(
            Bucket=bucket,
            Key=f"{base}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
            Body=validation.getvalue().encode(),
        )
        job.final_training_loss, job.final_validation_loss = training_points[-1][2], validation_points[-1][2]

    # ------------------------------------------------------------------------------------ customization jobs
    def _find_job(self, identifier: str) -> _Job:
        for job in self._jobs.values():
            if identifier in (job.arn, job.name):
                return job
        raise ServiceError("ResourceNotFoundException", f"Model customization job {identifier} not found")

    def _bedrock_CreateModelCustomizationJob(
        self,
        *,
        jobName: str,
        customModelName: str,
        roleArn: str,
        baseModelIdentifier: str,
        trainingDataConfig: dict[str, Any],
        outputDataConfig: dict[str, Any],
        clientRequestToken: str | None = None,
        customizationType: str = "FINE_TUNING",
        hyperParameters: dict[str, str] | None = None,
        validationDataConfig: dict[str, Any] | None = None,
        jobTags: list[dict[str, str]] | None = None,
        customModelTags: list[dict[str, str]] | None = None,
        vpcConfig: dict[str, Any] | None = None,
        customModelKmsKeyId: str | None = None,
    ) -> dict[str, Any]:
        if clientRequestToken:
            for job in self._jobs.values():
                if job.client_token == clientRequestToken:
                    return {"jobArn": job.arn}
        if any(job.name == jobName for job in self._jobs.values()):
            raise ServiceError("ValidationException", f"A job with the name {jobName} already exists")
        if any(model.name == customModelName for model in self._models.values()):
            raise ServiceError("ValidationException", f"A custom model named {customModelName} already exists")
        base_model_id = _base_model_id(baseModelIdentifier)
        spec = MODELS.get(base_model_id)
        if spec is None:
            raise ServiceError("ValidationException", f"The provided model identifier {baseModelIdentifier} is invalid")
        if self.region not in spec.regions:
            raise ServiceError("ValidationException", f"{base_model_id} cannot be customized in {self.region}")
        if self._access_denied(spec.foundation_model_id):
            raise ServiceError(
                "AccessDeniedException",
                f"Emulated failure (--simulate no-model-access): You don't have access to the model with the "
                f"specified model ID {base_model_id}.",
            )
        refusal = spec.why_no_new_job(self.clock.now().date())  # Legacy or past end of life on the simulated day
        if refusal is not None:
            raise ServiceError("ValidationException", refusal)
        if customizationType != "FINE_TUNING":
            raise ServiceError("ValidationException", f"the emulator only fine-tunes, not {customizationType}")
        hyperparameters = dict(hyperParameters or {})
        for name, value in hyperparameters.items():
            try:
                hp = spec.hyperparameter(name)
            except ValueError as error:
                raise ServiceError("ValidationException", str(error)) from None
            if not hp.minimum <= float(value) <= hp.maximum:
                raise ServiceError("ValidationException", f"{name}={value} is out of range for {base_model_id}")
        if not roleArn.startswith("arn:aws:iam::"):
            raise ServiceError("ValidationException", f"{roleArn!r} is not a role ARN")
        training_uri = trainingDataConfig.get("s3Uri") or ""
        records = self._count_records(training_uri)
        validation_uris = [item["s3Uri"] for item in (validationDataConfig or {}).get("validators", [])]
        for uri in validation_uris:
            bucket, key = _split_s3_uri(uri)
            try:
                self._s3.head_object(Bucket=bucket, Key=key)
            except Exception:
                raise ServiceError("ValidationException", f"the validation data {uri} does not exist") from None
        epochs = int(float(hyperparameters.get("epochCount", spec.default_hyperparameters().get("epochCount", "2"))))
        hyperparameters.setdefault("epochCount", str(epochs))
        job_id = _new_id()
        job = _Job(
            arn=self._arn(f"model-customization-job/{base_model_id}/{job_id}"),
            job_id=job_id,
            name=jobName,
            custom_model_name=customModelName,
            base_model_id=base_model_id,
            role_arn=roleArn,
            client_token=clientRequestToken,
            hyperparameters=hyperparameters,
            training_uri=training_uri,
            validation_uris=validation_uris,
            output_uri=outputDataConfig["s3Uri"],
            created_at=self.now,
            duration=JOB_SETUP + timedelta(seconds=JOB_SECONDS_PER_RECORD_EPOCH * records * epochs),
            training_records=records,
            custom_model_tags=list(customModelTags or []),
            fails=self.behaviour.job_fails,
            vpc=vpcConfig,
            kms_key=customModelKmsKeyId,
        )
        self._jobs[job.arn] = job
        self._tags[job.arn] = list(jobTags or [])
        self.ledger.created("customization-job", job.arn, job.created_at)
        return {"jobArn": job.arn}

    def _job_output(self, job: _Job) -> dict[str, Any]:
        status = self._job_status(job)
        output: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": job.custom_model_name,
            "roleArn": job.role_arn,
            "status": status,
            "creationTime": job.created_at,
            "lastModifiedTime": self._job_end(job) or job.created_at,
            "baseModelArn": self._foundation_arn(job.base_model_id),
            "hyperParameters": job.hyperparameters,
            "trainingDataConfig": {"s3Uri": job.training_uri},
            "validationDataConfig": {"validators": [{"s3Uri": uri} for uri in job.validation_uris]},
            "outputDataConfig": {"s3Uri": job.output_uri},
            "customizationType": "FINE_TUNING",
        }
        if job.client_token:
            output["clientRequestToken"] = job.client_token
        end = self._job_end(job)
        if end is not None:
            output["endTime"] = end
        if status == "Completed" and job.custom_model_arn:
            output["outputModelArn"] = job.custom_model_arn
            output["trainingMetrics"] = {"trainingLoss": job.final_training_loss}
            output["validationMetrics"] = [{"validationLoss": job.final_validation_loss}]
        if status == "Failed":
            output["failureMessage"] = (
                "Emulated failure (--simulate job-failure): an internal error stopped training. "
                "No capacity should be bought for this job."
            )
        if job.vpc:
            output["vpcConfig"] = job.vpc
        if job.kms_key:
            output["outputModelKmsKeyArn"] = job.kms_key
        return output

    def _bedrock_GetModelCustomizationJob(self, jobIdentifier: str) -> dict[str, Any]:
        return self._job_output(self._find_job(jobIdentifier))

    def _bedrock_StopModelCustomizationJob(self, jobIdentifier: str) -> dict[str, Any]:
        job = self._find_job(jobIdentifier)
        if self._job_status(job) != "InProgress":
            raise ServiceError(
                "ValidationException", f"Job {job.name} is {self._job_status(job)} and cannot be stopped"
            )
        job.stop_requested_at = self.now
        return {}

    def _bedrock_ListModelCustomizationJobs(self, **filters: Any) -> dict[str, Any]:
        summaries = []
        for job in self._jobs.values():
            status = self._job_status(job)
            if filters.get("statusEquals") and status != filters["statusEquals"]:
                continue
            if filters.get("nameContains") and filters["nameContains"] not in job.name:
                continue
            summary: dict[str, Any] = {
                "jobArn": job.arn,
                "baseModelArn": self._foundation_arn(job.base_model_id),
                "jobName": job.name,
                "status": status,
                "creationTime": job.created_at,
                "lastModifiedTime": self._job_end(job) or job.created_at,
                "customModelName": job.custom_model_name,
                "customizationType": "FINE_TUNING",
            }
            if self._job_end(job):
                summary["endTime"] = self._job_end(job)
            if status == "Completed" and job.custom_model_arn:
                summary["customModelArn"] = job.custom_model_arn
            summaries.append(summary)
        return _page(summaries, "modelCustomizationJobSummaries", "creationTime", filters)

    # ----------------------------------------------------------------------------------------- custom models
    def _find_model(self, identifier: str) -> _CustomModel:
        for model in self._models.values():
            if identifier in (model.arn, model.name):
                return model
        raise ServiceError("ResourceNotFoundException", f"Custom model {identifier} not found")

    def _bedrock_GetCustomModel(self, modelIdentifier: str) -> dict[str, Any]:
        model = self._find_model(modelIdentifier)
        job = model.job
        return {
            "modelArn": model.arn,
            "modelName": model.name,
            "jobName": job.name,
            "jobArn": job.arn,
            "baseModelArn": self._foundation_arn(job.base_model_id),
            "customizationType": "FINE_TUNING",
            "hyperParameters": job.hyperparameters,
            "trainingDataConfig": {"s3Uri": job.training_uri},
            "validationDataConfig": {"validators": [{"s3Uri": uri} for uri in job.validation_uris]},
            "outputDataConfig": {"s3Uri": job.output_uri},
            "trainingMetrics": {"trainingLoss": job.final_training_loss},
            "validationMetrics": [{"validationLoss": job.final_validation_loss}],
            "creationTime": model.created_at,
            "modelStatus": "Active",
        }

    def _bedrock_ListCustomModels(self, **filters: Any) -> dict[str, Any]:
        summaries = [
            {
                "modelArn": model.arn,
                "modelName": model.name,
                "creationTime": model.created_at,
                "baseModelArn": self._foundation_arn(model.job.base_model_id),
                "baseModelName": model.job.base_model_id,
                "customizationType": "FINE_TUNING",
                "ownerAccountId": ACCOUNT_ID,
                "modelStatus": "Active",
            }
            for model in self._models.values()
            if not filters.get("nameContains") or filters["nameContains"] in model.name
        ]
        return _page(summaries, "modelSummaries", "creationTime", filters)

    def _bedrock_DeleteCustomModel(self, modelIdentifier: str) -> dict[str, Any]:
        model = self._find_model(modelIdentifier)
        if model.arn in self._models_in_use():
            raise ServiceError(
                "ValidationException", f"{model.name} is in use by provisioned throughput or a deployment"
            )
        del self._models[model.arn]
        self.ledger.deleted(model.arn, self.now, self.actor())
        return {}

    # ------------------------------------------------------------------------------------------------- capacity
    def _find_capacity(self, identifier: str, kind: ResourceType) -> _Capacity:
        for capacity in self._capacity.values():
            if capacity.kind == kind and identifier in (capacity.arn, capacity.name):
                return capacity
        noun = "Provisioned model" if kind == "provisioned-throughput" else "Custom model deployment"
        raise ServiceError("ResourceNotFoundException", f"{noun} {identifier} not found")

    def _create_capacity(self, kind: ResourceType, name: str, model_arn: str, token: str | None) -> _Capacity:
        if token:
            for capacity in self._capacity.values():
                if capacity.kind == kind and capacity.client_token == token:
                    return capacity
        if any(capacity.kind == kind and capacity.name == name for capacity in self._capacity.values()):
            raise ServiceError("ValidationException", f"{name} already exists")
        model = self._find_model(model_arn)
        resource = "provisioned-model" if kind == "provisioned-throughput" else "custom-model-deployment"
        capacity = _Capacity(
            kind=kind,
            arn=self._arn(f"{resource}/{_new_id()}"),
            name=name,
            model_arn=model.arn,
            created_at=self.now,
            client_token=token,
            fails=self.behaviour.capacity_fails,
        )
        self._capacity[capacity.arn] = capacity
        self.ledger.created(kind, capacity.arn, capacity.created_at)
        return capacity

    def _delete_capacity(self, capacity: _Capacity) -> dict[str, Any]:
        del self._capacity[capacity.arn]
        self.ledger.deleted(capacity.arn, self.now, self.actor())
        return {}

    def _bedrock_CreateProvisionedModelThroughput(
        self,
        *,
        modelUnits: int,
        provisionedModelName: str,
        modelId: str,
        clientRequestToken: str | None = None,
        commitmentDuration: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        if commitmentDuration is None:
            no_commitment = [
                capacity
                for capacity in self._capacity.values()
                if capacity.kind == "provisioned-throughput" and capacity.commitment is None
            ]
            retried = any(
                capacity.client_token == clientRequestToken for capacity in no_commitment if clientRequestToken
            )
            used = sum(capacity.model_units for capacity in no_commitment)
            quota = self._quota_value(PT_UNITS_QUOTA[1])
            if used + modelUnits > quota and not retried:
                raise ServiceError(
                    "ServiceQuotaExceededException",
                    f"The account already uses {used} of its {quota:g} no-commitment model units for custom models",
                )
            model = self._models.get(modelId) or next((m for m in self._models.values() if m.name == modelId), None)
            spec = MODELS.get(model.job.base_model_id) if model else None
            if spec is not None and modelUnits > self._quota_value(_units_per_model_quota(spec)[1]) and not retried:
                raise ServiceError(
                    "ServiceQuotaExceededException",
                    f"Your account does not currently have any no commitment model units reserved for {spec.model_id}.",
                )
            if modelUnits != 1:
                raise ServiceError("ValidationException", "No-commitment provisioned throughput takes 1 model unit")
        capacity = self._create_capacity("provisioned-throughput", provisionedModelName, modelId, clientRequestToken)
        capacity.model_units, capacity.commitment = modelUnits, commitmentDuration
        self._tags.setdefault(capacity.arn, list(tags or []))
        return {"provisionedModelArn": capacity.arn}

    def _throughput_output(self, capacity: _Capacity) -> dict[str, Any]:
        model = self._models.get(capacity.model_arn)
        output: dict[str, Any] = {
            "modelUnits": capacity.model_units,
            "desiredModelUnits": capacity.model_units,
            "provisionedModelName": capacity.name,
            "provisionedModelArn": capacity.arn,
            "modelArn": capacity.model_arn,
            "desiredModelArn": capacity.model_arn,
            "foundationModelArn": self._foundation_arn(model.job.base_model_id if model else "unknown"),
            "status": self._capacity_status(capacity),
            "creationTime": capacity.created_at,
            "lastModifiedTime": self._capacity_changed_at(capacity),
        }
        if capacity.commitment:
            output["commitmentDuration"] = capacity.commitment
        return output

    def _bedrock_GetProvisionedModelThroughput(self, provisionedModelId: str) -> dict[str, Any]:
        capacity = self._find_capacity(provisionedModelId, "provisioned-throughput")
        output = self._throughput_output(capacity)
        if output["status"] == "Failed":
            output["failureMessage"] = "Emulated failure (--simulate capacity-failure): capacity could not be allocated"
        return output

    def _bedrock_ListProvisionedModelThroughputs(self, **filters: Any) -> dict[str, Any]:
        summaries = []
        for capacity in self._capacity.values():
            if capacity.kind != "provisioned-throughput":
                continue
            summary = self._throughput_output(capacity)
            if filters.get("statusEquals") and summary["status"] != filters["statusEquals"]:
                continue
            if filters.get("nameContains") and filters["nameContains"] not in capacity.name:
                continue
            if filters.get("modelArnEquals") and filters["modelArnEquals"] != capacity.model_arn:
                continue
            summaries.append(summary)
        return _page(summaries, "provisionedModelSummaries", "creationTime", filters)

    def _bedrock_DeleteProvisionedModelThroughput(self, provisionedModelId: str) -> dict[str, Any]:
        return self._delete_capacity(self._find_capacity(provisionedModelId, "provisioned-throughput"))

    def _bedrock_CreateCustomModelDeployment(
        self,
        *,
        modelDeploymentName: str,
        modelArn: str,
        description: str | None = None,
        tags: list[dict[str, str]] | None = None,
        clientRequestToken: str | None = None,
    ) -> dict[str, Any]:
        model = self._find_model(modelArn)
        spec = MODELS.get(model.job.base_model_id)
        if spec is None or not spec.supports_on_demand:
            raise ServiceError("ValidationException", f"{model.job.base_model_id} models cannot be deployed on demand")
        deployments = [c for c in self._capacity.values() if c.kind == "custom-model-deployment"]
        retried = any(c.client_token == clientRequestToken for c in deployments if clientRequestToken)
        if len(deployments) >= self._quota_value(DEPLOYMENTS_QUOTA[1]) and not retried:
            raise ServiceError(
                "ServiceQuotaExceededException",
                f"The account already has {len(deployments)} custom model deployments, its quota",
            )
        capacity = self._create_capacity("custom-model-deployment", modelDeploymentName, modelArn, clientRequestToken)
        capacity.description = description
        self._tags.setdefault(capacity.arn, list(tags or []))
        if any(tag.get("key") == SERVING_ROLE_TAG and tag.get("value") == "serving" for tag in tags or []):
            for entry in self.ledger.entries:
                if entry.arn == capacity.arn:
                    entry.role = "serving"
        return {"customModelDeploymentArn": capacity.arn}

    def _deployment_output(self, capacity: _Capacity, *, summary: bool) -> dict[str, Any]:
        status = self._capacity_status(capacity)
        output: dict[str, Any] = {
            "customModelDeploymentArn": capacity.arn,
            ("customModelDeploymentName" if summary else "modelDeploymentName"): capacity.name,
            "modelArn": self._served_model_arn(capacity),
            "createdAt": capacity.created_at,
            "status": status,
            "lastUpdatedAt": self._capacity_changed_at(capacity),
        }
        if status == "Failed":
            output["failureMessage"] = "Emulated failure (--simulate capacity-failure): the deployment failed"
        if capacity.description and not summary:
            output["description"] = capacity.description
        if capacity.update is not None and not summary:  # the summary shape has no updateDetails
            output["updateDetails"] = {
                "modelArn": capacity.update.model_arn,
                "updateStatus": self._update_status(capacity.update),
            }
        return output

    def _bedrock_UpdateCustomModelDeployment(
        self, *, customModelDeploymentIdentifier: str, modelArn: str
    ) -> dict[str, Any]:
        """Switch the model behind a deployment, keeping its ARN.

        As the Bedrock API Reference (UpdateCustomModelDeployment, CustomModelDeploymentUpdateDetails) and botocore's
        service model (bedrock 2023-04-20, botocore 1.44.5) describe it: PATCH, answered 202 with the deployment's
        ARN; ``GetCustomModelDeployment`` then reports ``updateDetails`` {modelArn: the new model, updateStatus:
        Updating | UpdateCompleted | UpdateFailed} while ``status`` keeps to Creating | Active | Failed. Assumptions
        (no published source): an update takes ``DEPLOYMENT_UPDATING``; ``modelArn`` and the answers switch to the
        new model when it completes; a deployment that is not Active, or already updating, refuses another update
        with ValidationException (the operation's only client error besides ResourceNotFound and AccessDenied).
        """
        capacity = self._find_capacity(customModelDeploymentIdentifier, "custom-model-deployment")
        model = self._find_model(modelArn)
        spec = MODELS.get(model.job.base_model_id)
        if spec is None or not spec.supports_on_demand:
            raise ServiceError("ValidationException", f"{model.job.base_model_id} models cannot be deployed on demand")
        status = self._capacity_status(capacity)
        if status != "Active":
            raise ServiceError(
                "ValidationException", f"Custom model deployment {capacity.name} is {status} and cannot be updated"
            )
        if capacity.update is not None and self._update_status(capacity.update) == "Updating":
            raise ServiceError(
                "ValidationException", f"Custom model deployment {capacity.name} already has an update in progress"
            )
        capacity.model_arn = self._served_model_arn(capacity)
        capacity.update = _Update(model_arn=model.arn, requested_at=self.now)
        self.ledger.updated(capacity.arn, self.now, model.arn)
        return {"customModelDeploymentArn": capacity.arn}

    def _bedrock_GetCustomModelDeployment(self, customModelDeploymentIdentifier: str) -> dict[str, Any]:
        capacity = self._find_capacity(customModelDeploymentIdentifier, "custom-model-deployment")
        return self._deployment_output(capacity, summary=False)

    def _bedrock_ListCustomModelDeployments(self, **filters: Any) -> dict[str, Any]:
        summaries = []
        for capacity in self._capacity.values():
            if capacity.kind != "custom-model-deployment":
                continue
            summary = self._deployment_output(capacity, summary=True)
            if filters.get("statusEquals") and summary["status"] != filters["statusEquals"]:
                continue
            if filters.get("nameContains") and filters["nameContains"] not in capacity.name:
                continue
            if filters.get("modelArnEquals") and filters["modelArnEquals"] != summary["modelArn"]:
                continue
            summaries.append(summary)
        return _page(summaries, "modelDeploymentSummaries", "createdAt", filters)

    def _bedrock_DeleteCustomModelDeployment(self, customModelDeploymentIdentifier: str) -> dict[str, Any]:
        return self._delete_capacity(self._find_capacity(customModelDeploymentIdentifier, "custom-model-deployment"))

    # ------------------------------------------------------------------------- model access and quotas (Preflight)
    def _access_denied(self, model_id: str) -> bool:
        return self.behaviour.no_model_access and model_id in _BASE_FOUNDATION_MODELS and model_id not in JUDGES

    def _bedrock_GetFoundationModelAvailability(self, modelId: str) -> dict[str, Any]:
        invocation_ids = _INVOCATION_IDS.get(modelId)
        if invocation_ids is None:
            raise ServiceError("ResourceNotFoundException", f"The model {modelId} does not exist.")
        denied = self._access_denied(modelId)
        return {
            "modelId": modelId,
            "agreementAvailability": {"status": "AVAILABLE"},
            "authorizationStatus": "AUTHORIZED",
            "entitlementAvailability": "NOT_AVAILABLE" if denied else "AVAILABLE",
            # offered here by its plain id, or only through an inference profile (e.g. Llama 3.2 in us-west-2)
            "regionAvailability": "AVAILABLE" if invocation_ids.get(self.region) == modelId else "NOT_AVAILABLE",
        }

    def _quotas(self) -> list[tuple[str, str, float]]:
        """(code, name, applied value) of every Amazon Bedrock quota the emulated account has."""
        capacity = 0 if self.behaviour.no_capacity_quota else 1
        quotas = [
            (*PT_UNITS_QUOTA, float(capacity * NO_COMMITMENT_THROUGHPUT_QUOTA)),
            (*JOBS_QUOTA, float(CUSTOMIZATION_JOB_QUOTA)),
            (*DEPLOYMENTS_QUOTA, float(capacity * CUSTOM_MODEL_DEPLOYMENT_QUOTA)),
        ]
        quotas += [(*_units_per_model_quota(spec), float(capacity)) for spec in MODELS.values()]
        return quotas

    def _quota_value(self, name: str) -> float:
        return next(value for _code, quota_name, value in self._quotas() if quota_name == name)

    def _service_quotas_ListServiceQuotas(
        self,
        *,
        ServiceCode: str,
        NextToken: str | None = None,
        MaxResults: int | None = None,
        QuotaCode: str | None = None,
        QuotaAppliedAtLevel: str | None = None,  # noqa: ARG002 - every emulated quota is applied at account level
    ) -> dict[str, Any]:
        if ServiceCode != "bedrock":
            raise ServiceError("NoSuchResourceException", f"The emulator has no quotas of service {ServiceCode}")
        quotas = [
            {
                "ServiceCode": "bedrock",
                "ServiceName": "Amazon Bedrock",
                "QuotaArn": f"arn:aws:servicequotas:{self.region}:{ACCOUNT_ID}:bedrock/{code}",
                "QuotaCode": code,
                "QuotaName": name,
                "Value": value,
                "Unit": "None",
                "Adjustable": True,
                "GlobalQuota": False,
                "QuotaAppliedAtLevel": "ACCOUNT",
            }
            for code, name, value in self._quotas()
            if QuotaCode is None or code == QuotaCode
        ]
        start = int(NextToken or 0)
        size = MaxResults or 100
        output: dict[str, Any] = {"Quotas": quotas[start : start + size]}
        if start + size < len(quotas):
            output["NextToken"] = str(start + size)
        return output

    # ----------------------------------------------------------------------------------------------------- tags
    def _known_arn(self, arn: str) -> bool:
        return arn in self._jobs or arn in self._models or arn in self._capacity

    def _bedrock_TagResource(self, resourceARN: str, tags: list[dict[str, str]]) -> dict[str, Any]:
        if not self._known_arn(resourceARN):
            raise ServiceError("ResourceNotFoundException", f"{resourceARN} not found")
        current = {tag["key"]: tag["value"] for tag in self._tags.get(resourceARN, [])}
        current.update({tag["key"]: tag["value"] for tag in tags})
        self._tags[resourceARN] = [{"key": key, "value": value} for key, value in current.items()]
        return {}

    def _bedrock_ListTagsForResource(self, resourceARN: str) -> dict[str, Any]:
        if not self._known_arn(resourceARN):
            raise ServiceError("ResourceNotFoundException", f"{resourceARN} not found")
        return {"tags": list(self._tags.get(resourceARN, []))}

    # ------------------------------------------------------------------------------------------------ converse
    def _refuse_plain_id_where_a_profile_is_needed(self, model_id: str) -> None:
        """What Converse answers a model's plain id where the registry says only an inference profile serves it."""
        invocation_ids = _INVOCATION_IDS.get(model_id)
        required = invocation_ids.get(self.region) if invocation_ids else None
        if required is not None and required != model_id:
            raise ServiceError(
                "ValidationException",
                f"Invocation of model ID {model_id} with on-demand throughput isn't supported. Retry your request "
                "with the ID or ARN of an inference profile that contains this model.",
            )

    def _bedrock_runtime_Converse(
        self, *, modelId: str, messages: list[dict[str, Any]] | None = None, **request: Any
    ) -> dict[str, Any]:
        self._refuse_plain_id_where_a_profile_is_needed(modelId)
        question = answers.prompt_text(messages or [])
        system_text = " ".join(block.get("text", "") for block in request.get("system") or [])
        pairwise = answers.is_pairwise_prompt(question)
        judging = pairwise or answers.is_judge_prompt(question) or answers.is_judge_prompt(system_text)
        if judging:
            self.judge_calls.append(len(self.calls) - 1)
        if judging and self.behaviour.judge_denied:
            # What a judge without model access (or invoked by a plain id where it needs a profile) answers.
            raise ServiceError(
                "AccessDeniedException",
                f"Emulated failure (--simulate judge-outage): You don't have access to the model with the specified "
                f"model ID {modelId}.",
            )
        if pairwise:
            text, choice = answers.pairwise_reply(question)
            return _converse_output(question, text, {"emulated": True, "role": "pairwise judge", "choice": choice})
        if answers.is_judge_prompt(question) or answers.is_judge_prompt(system_text):
            text, rating = answers.judge_reply(question)
            return _converse_output(question, text, {"emulated": True, "role": "judge", "rating": rating})
        capacity = self._capacity.get(modelId) or next(
            (capacity for capacity in self._capacity.values() if capacity.name == modelId), None
        )
        if capacity is not None:
            return self._fine_tuned_converse(capacity, question)
        if modelId in self._models or ":custom-model/" in modelId:
            raise ServiceError(
                "ValidationException",
                "Invocation of a custom model requires provisioned throughput or a custom model deployment",
            )
        if ":provisioned-model/" in modelId or ":custom-model-deployment/" in modelId:
            raise ServiceError("ResourceNotFoundException", f"{modelId} does not exist (was it deleted?)")
        text = answers.base_answer(question)
        return _converse_output(question, text, {"emulated": True, "role": "base"})

    def _fine_tuned_converse(self, capacity: _Capacity, question: str) -> dict[str, Any]:
        status = self._capacity_status(capacity)
        if status not in ("InService", "Active"):
            raise ServiceError("ValidationException", f"{capacity.name} is {status}, not ready for inference")
        if self.behaviour.fine_tuned_converse_fails:
            # A persistent, non-retryable failure, as a missing bedrock:InvokeModel grant on the capacity gives.
            raise ServiceError(
                "AccessDeniedException",
                f"Emulated failure (--simulate eval-failure): not authorized to perform bedrock:InvokeModel on "
                f"resource {capacity.arn}",
            )
        model = self._models[self._served_model_arn(capacity)]
        pairs = self._training_pairs.get(model.job.training_uri)
        if pairs is None:
            self._count_records(model.job.training_uri)
            pairs = self._training_pairs[model.job.training_uri]
        text = answers.fine_tuned_answer(question, pairs, self._trained_model(model.job))
        return _converse_output(question, text, {"emulated": True, "role": "fine-tuned"})


SNAPSHOT_VERSION = 1
_JOB_TIMES = ("created_at", "stop_requested_at")


def _job_to_json(job: _Job) -> dict[str, Any]:
    data = asdict(job)
    for name in _JOB_TIMES:
        data[name] = iso(data[name]) if data[name] is not None else None
    data["duration"] = job.duration.total_seconds()
    return data


def _job_from_json(data: dict[str, Any]) -> _Job:
    values = dict(data)
    for name in _JOB_TIMES:
        values[name] = _parse_time(values[name]) if values[name] is not None else None
    values["duration"] = timedelta(seconds=values["duration"])
    return _Job(**values)


def _capacity_to_json(capacity: _Capacity) -> dict[str, Any]:
    data = asdict(capacity)
    data["created_at"] = iso(capacity.created_at)
    if capacity.update is not None:
        data["update"] = {"model_arn": capacity.update.model_arn, "requested_at": iso(capacity.update.requested_at)}
    return data


def _capacity_from_json(data: dict[str, Any]) -> _Capacity:
    values = dict(data)
    values["created_at"] = _parse_time(values["created_at"])
    update = values.get("update")
    values["update"] = _Update(update["model_arn"], _parse_time(update["requested_at"])) if update else None
    return _Capacity(**values)


# Plain foundation-model id -> the modelId the registry says Converse takes for it in each region (base models and
# judges): the emulated Converse refuses a plain id where only a profile serves the model, as Bedrock does.
_INVOCATION_IDS: dict[str, dict[str, str]] = {
    **{spec.foundation_model_id: spec.invocation_ids for spec in MODELS.values()},
    **{spec.model_id: spec.invocation_ids for spec in JUDGES.values()},
}


# The plain foundation-model ids of the customizable base models (access to these is what no-model-access takes away).
_BASE_FOUNDATION_MODELS = frozenset(spec.foundation_model_id for spec in MODELS.values())


def _units_per_model_quota(spec: Any) -> tuple[str, str]:
    """(code, name) of a model's "Model units per provisioned model for <model>" quota; codes are emulated."""
    index = list(MODELS).index(spec.model_id)
    return f"L-EMU{index:04d}PT", f"Model units per provisioned model for {spec.display_name}"


def _converse_output(question: str, text: str, labels: dict[str, Any]) -> dict[str, Any]:
    input_tokens, output_tokens = max(1, len(question) // 4), max(1, len(text) // 4)
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 5},
        "additionalModelResponseFields": labels,
    }


def _page(items: list[dict[str, Any]], key: str, time_key: str, filters: dict[str, Any]) -> dict[str, Any]:
    items.sort(key=lambda item: item[time_key], reverse=filters.get("sortOrder", "Descending") == "Descending")
    start = int(filters.get("nextToken") or 0)
    size = int(filters.get("maxResults") or 100)
    output: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        output["nextToken"] = str(start + size)
    return output
