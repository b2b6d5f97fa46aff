"""An emulated account kept on disk (``--account DIR``): saved, restored, refused when it is something else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tuner.cli import main
from tuner.local.account import ACCOUNT_FILE, ACCOUNT_PAUSE, AccountError, SavedAccount, opened, save_account
from tuner.local.bedrock.emulator import EmulatedBedrock
from tuner.local.scenarios import Scenario
from tuner.local.simclock import SimulatedClock

BUCKET = "finetuningstack-data"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _saved(folder: Path) -> None:
    """An account as a session leaves it: two objects, a serving record, one emulated resource in the ledger."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="runs/r1/report.json", Body=b'{"status": "SUCCEEDED"}')
        s3.put_object(Bucket=BUCKET, Key="serving/history.jsonl", Body=b'{"action": "promote"}\n')
        ssm.put_parameter(Name="/FineTuningStack/serving", Value='{"champion": null}', Type="String")
        ssm.put_parameter(Name="/FineTuningStack/settings-not-kept", Value="{}", Type="String")
        emulator = EmulatedBedrock(SimulatedClock(T0), region="us-east-1", behaviour=Scenario.NONE.bedrock)
        emulator.ledger.created("custom-model", "arn:aws:bedrock:us-east-1:123456789012:custom-model/x", T0)
        save_account(
            folder,
            region="us-east-1",
            stack_name="FineTuningStack",
            bucket=BUCKET,
            now=T0,
            s3=s3,
            ssm=ssm,
            emulator=emulator,
        )


def test_an_account_round_trips_and_time_goes_on_between_commands(tmp_path: Path) -> None:
    folder = tmp_path / "acct"
    _saved(folder)
    # the bucket is a readable mirror; account.json holds the rest, and only the serving parameters
    assert (folder / "bucket" / "runs" / "r1" / "report.json").read_bytes() == b'{"status": "SUCCEEDED"}'
    document = json.loads((folder / ACCOUNT_FILE).read_text())
    assert document["parameters"] == {"/FineTuningStack/serving": '{"champion": null}'}
    with opened(folder) as account:
        assert account.clock.now() == T0 + ACCOUNT_PAUSE
        body = account.s3.get_object(Bucket=BUCKET, Key="serving/history.jsonl")["Body"].read()
        assert body == b'{"action": "promote"}\n'
        assert account.ssm.get_parameter(Name="/FineTuningStack/serving")["Parameter"]["Value"] == '{"champion": null}'
        assert [entry.type for entry in account.emulator.ledger.entries] == ["custom-model"]
        account.s3.delete_object(Bucket=BUCKET, Key="runs/r1/report.json")
    # what the command deleted is gone from the mirror; the clock moved on
    assert not (folder / "bucket" / "runs" / "r1" / "report.json").exists()
    again = SavedAccount.load(folder)
    assert again is not None
    assert again.now == T0 + ACCOUNT_PAUSE


def test_a_folder_that_is_not_an_account_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert SavedAccount.load(tmp_path / "new") is None  # a new account starts there
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(AccountError, match="not an emulated account folder"):
        SavedAccount.load(busy)
    assert main(["serving", "--account", str(tmp_path / "new")]) == 2
    assert "no emulated account in" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ACCOUNT_FILE).write_text('{"version": 99}')
    with pytest.raises(AccountError, match="version 99"):
        SavedAccount.load(broken)


@pytest.mark.parametrize(
    ("value", "reason"),
    [("eval/set.jsonl", "expected KEY=FILE"), ("eval/=x", "expected KEY=FILE"), ("eval/a.jsonl=nope", "nope does not")],
)
def test_put_options_are_checked_before_anything_runs(
    value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = Path(__file__).resolve().parents[3] / "dataset" / "sample_qa.jsonl"
    assert main(["run", str(sample), "--local", "--put", value]) == 2
    assert reason in capsys.readouterr().err
