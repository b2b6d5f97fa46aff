"""An emulated account that outlives one command: ``--account DIR``.

A local rehearsal normally starts from an empty account and forgets it at the end. With ``--account DIR`` the
account is kept on disk instead, so that what happens across runs can be rehearsed the way it happens on AWS: a
first run is promoted, a later run is compared with that champion, ``tuner serving`` / ``promote`` / ``rollback``
act on the same record, a re-evaluation finds the model a run trained.

``DIR`` holds:

* ``account.json``: the region, stack name and bucket, the simulated time, the stack's serving parameters (SSM) and
  the emulated Bedrock's resources and ledger (``EmulatedBedrock.snapshot``);
* ``bucket/``: every object of the data bucket, one file per key (readable with any tool).

What the deployed stack itself is (state machine, functions, settings parameter) is not kept: each ``tuner run``
synthesizes it again from its own settings, as a redeploy would, over the kept data. Time goes on between commands:
each starts one simulated hour after the account was last saved (a deployment update started by one command has
finished by the next).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ACCOUNT_PAUSE = timedelta(hours=1)  # simulated time between two commands on a kept account
ACCOUNT_FILE = "account.json"
BUCKET_DIR = "bucket"
VERSION = 1


class AccountError(Exception):
    """The folder is not an emulated account this version can read: one line for the user."""


def emulated_environment(region: str) -> dict[str, str | None]:
    """The process environment every emulated command runs in: fake credentials, no profile, no real endpoint."""
    values: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL") or name.endswith("_PROFILE")
    }
    values.update(
        {
            "AWS_ACCESS_KEY_ID": "local-harness",
            "AWS_SECRET_ACCESS_KEY": "local-harness",
            "AWS_SESSION_TOKEN": "local-harness",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "BEDROCK_EMULATED": "true",
        }
    )
    return values


@contextmanager
def process_environment(values: Mapping[str, str | None]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class SavedAccount:
    """What ``account.json`` holds (the bucket's objects are files beside it)."""

    folder: Path
    region: str
    stack_name: str
    bucket: str
    now: datetime
    parameters: dict[str, str] = field(default_factory=dict)
    emulator: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> SavedAccount | None:
        """The account kept in ``folder``; None when there is none yet (a new account starts there)."""
        path = folder / ACCOUNT_FILE
        if not path.is_file():
            if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
                raise AccountError(f"{folder} is not an emulated account folder (no {ACCOUNT_FILE}) and not empty")
            return None
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("version") != VERSION:
                raise AccountError(f"{path} is version {document.get('version')!r}; this tuner reads {VERSION}")
            return cls(
                folder=folder,
                region=document["region"],
                stack_name=document["stack_name"],
                bucket=document["bucket"],
                now=datetime.fromisoformat(document["now"].replace("Z", "+00:00")),
                parameters=dict(document.get("parameters", {})),
                emulator=dict(document.get("emulator", {})),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise AccountError(f"{path} cannot be read ({type(error).__name__}: {error})") from None

    def objects(self) -> Iterator[tuple[str, bytes]]:
        root = self.folder / BUCKET_DIR
        if not root.is_dir():
            return
        for path in sorted(root.rglob("*")):
            if path.is_file():
                yield path.relative_to(root).as_posix(), path.read_bytes()

    def restore(self, *, s3: Any, ssm: Any, emulator: Any) -> None:
        """Put the kept data back into a fresh moto account (whose bucket exists) and emulator."""
        for key, body in self.objects():
            s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        for name, value in self.parameters.items():
            ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)
        if self.emulator:
            emulator.restore(self.emulator)


def save_account(
    folder: Path, *, region: str, stack_name: str, bucket: str, now: datetime, s3: Any, ssm: Any, emulator: Any
) -> None:
    """Write the account to ``folder``: the bucket mirrored object by object, the rest in ``account.json`` (written
    last, so a folder with an ``account.json`` always has its objects)."""
    from tuner.local.simclock import iso

    root = folder / BUCKET_DIR
    root.mkdir(parents=True, exist_ok=True)
    kept: set[Path] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/") or ".." in key.split("/"):
                continue  # folder markers; a key that would leave the folder is not mirrored
            target = root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            kept.add(target)
    for path in root.rglob("*"):
        if path.is_file() and path not in kept:
            path.unlink()  # deleted from the bucket since the last save
    parameters: dict[str, str] = {}
    prefix = f"/{stack_name}/"
    for page in ssm.get_paginator("describe_parameters").paginate():
        for item in page.get("Parameters", []):
            name = item["Name"]
            if name.startswith(f"{prefix}serving"):
                parameters[name] = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    document = {
        "version": VERSION,
        "region": region,
        "stack_name": stack_name,
        "bucket": bucket,
        "now": iso(now),
        "parameters": parameters,
        "emulator": emulator.snapshot(),
    }
    partial = folder / f".{ACCOUNT_FILE}.partial"
    partial.write_text(json.dumps(document, indent=2), encoding="utf-8")
    partial.replace(folder / ACCOUNT_FILE)


@dataclass
class OpenAccount:
    """A kept account, restored and running, for a command that is not a run (``tuner serving --account DIR``)."""

    saved: SavedAccount
    s3: Any
    ssm: Any
    bedrock: Any
    sns: Any
    emulator: Any
    clock: Any


@contextmanager
def opened(folder: Path) -> Iterator[OpenAccount]:
    """The account in ``folder``, live on moto and the emulator for the duration; saved back on a clean exit."""
    saved = SavedAccount.load(folder)
    if saved is None:
        raise AccountError(
            f"no emulated account in {folder}: create one with python -m tuner run FILE --local --account {folder}"
        )
    import boto3
    from moto import mock_aws

    from lambdas import aws
    from lambdas import clock as lambdas_clock
    from tuner.local.bedrock.emulator import EmulatedBedrock
    from tuner.local.bedrock.server import EmulatorServers
    from tuner.local.scenarios import Scenario
    from tuner.local.simclock import SimulatedClock

    clock = SimulatedClock(saved.now + ACCOUNT_PAUSE)
    with ExitStack() as stack:
        stack.enter_context(process_environment(emulated_environment(saved.region)))
        stack.enter_context(mock_aws())
        emulator = EmulatedBedrock(clock, region=saved.region, behaviour=Scenario.NONE.bedrock)
        servers = stack.enter_context(EmulatorServers(emulator.dispatch))
        stack.enter_context(process_environment(servers.environment))
        lambdas_clock.use_clock(clock.now)
        stack.callback(lambdas_clock.use_system_clock)
        aws.reset_clients()
        stack.callback(aws.reset_clients)
        s3 = boto3.client("s3", region_name=saved.region)
        ssm = boto3.client("ssm", region_name=saved.region)
        if saved.region == "us-east-1":
            s3.create_bucket(Bucket=saved.bucket)
        else:
            s3.create_bucket(Bucket=saved.bucket, CreateBucketConfiguration={"LocationConstraint": saved.region})
        saved.restore(s3=s3, ssm=ssm, emulator=emulator)
        account = OpenAccount(
            saved=saved,
            s3=s3,
            ssm=ssm,
            bedrock=boto3.client("bedrock", region_name=saved.region),
            sns=None,  # no topic is kept: a local change is printed, not notified
            emulator=emulator,
            clock=clock,
        )
        yield account
        save_account(
            folder,
            region=saved.region,
            stack_name=saved.stack_name,
            bucket=saved.bucket,
            now=clock.now(),
            s3=s3,
            ssm=ssm,
            emulator=emulator,
        )
