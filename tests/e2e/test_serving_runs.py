"""Serving the winner, end to end, in one emulated account kept on disk (``--account``).

Three drops in one session with ``promotion`` auto, all evaluated on the same fixed set of 20 questions (which port
each of 20 services listens on). The emulated fine-tuned model answers with its nearest training answer, so a model
knows exactly the services its dataset paraphrases:

1. covers 10 of the 20 services: better than the base model, no champion yet -> promoted, the serving deployment is
   created;
2. covers all 20: compared with the base model *and* the champion (three contestants) -> better than both, promoted:
   the same deployment now serves it;
3. covers 5: better than the base model but worse than the champion -> not promoted, and its report says why.

Then ``tuner serving --json`` names the champion (run 2) and ``tuner rollback`` serves run 1 again, through the same
deployment ARN; every run's own capacity was deleted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SERVICES
from tuner.cli import main
from tuner.local.harness import Drop, LocalRun, RunRequest

pytestmark = pytest.mark.e2e

OWNERS = ["falcon", "heron", "otter", "lynx", "badger", "marten", "puffin", "stoat", "wren", "ibis"]
CITIES = ["Lisbon", "Oslo", "Quito", "Hanoi", "Lagos", "Perth", "Denver", "Riga", "Cusco", "Turin"]
COLOURS = ["red", "green", "blue", "amber", "violet", "teal", "ochre", "grey"]


def _fact(index: int) -> str:
    service = SERVICES[index]
    return f"{service} listens on port {7100 + index * 3}, owned by {OWNERS[index % 10]} in {CITIES[(index * 3) % 10]}."


def _dataset(path: Path, covered: range, records: int = 48) -> Path:
    """Paraphrased questions for the covered services (never the evaluation's wording), then unrelated filler."""
    lines = [
        {"question": f"Which network port is assigned to {SERVICES[index]}?", "answer": _fact(index)}
        for index in covered
    ]
    filler = 0
    while len(lines) < records:
        lines.append(
            {
                "question": f"What colour is badge number {filler}?",
                "answer": f"Badge number {filler} is {COLOURS[filler % len(COLOURS)]}.",
            }
        )
        filler += 1
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _serving(account: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["serving", "--account", str(account), "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_the_best_model_so_far_serves_through_one_stable_deployment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "ports.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"question": f"What port does the {SERVICES[i]} service listen on?", "answer": _fact(i)}) + "\n"
            for i in range(20)
        )
    )
    account = tmp_path / "account"
    first, second, third = LocalRun(
        RunRequest(
            dataset=_dataset(tmp_path / "half.jsonl", range(10)),
            then=(
                Drop(file=_dataset(tmp_path / "all.jsonl", range(20))),
                Drop(file=_dataset(tmp_path / "few.jsonl", range(5))),
            ),
            out_dir=tmp_path / "out",
            bucket_files={"eval/ports.jsonl": questions},
            settings_overrides={"promotion": "auto", "evaluation": {"test_set": "eval/ports.jsonl", "concurrency": 4}},
            account=account,
        )
    ).run_all()
    reports = [result.report or {} for result in (first, second, third)]
    assert [report.get("status") for report in reports] == ["SUCCEEDED"] * 3, [r.get("headline") for r in reports]

    # 1: better than the base model, no champion: promoted, and the serving deployment is created
    assert reports[0]["verdict"]["outcome"] == "improved"
    assert reports[0]["evaluation"]["champion"] is None
    assert reports[0]["promotion"]["decision"] == "promote"
    serving_deployments = [e for e in third.ledger["resources"] if e.get("role") == "serving"]
    assert len(serving_deployments) == 1, "one stable deployment for the stack, ever"
    (deployment,) = serving_deployments
    assert deployment["deleted_at"] is None

    # 2: three contestants on the same questions; better than the champion too: promoted through the same deployment
    champion = reports[1]["evaluation"]["champion"]
    assert champion is not None
    assert champion["run_id"] == first.run_id
    assert champion["invoked_as"] == deployment["arn"]
    assert all(item["champion"] is not None for item in reports[1]["evaluation"]["items"])
    assert champion["verdict"]["outcome"] in {"improved", "no_clear_difference"}
    assert champion["verdict"]["metrics"][0]["mean_delta"] > 0
    assert reports[1]["promotion"]["decision"] == "promote"
    assert [update["model_arn"] for update in deployment["model_updates"]] == [reports[1]["job"]["custom_model_arn"]]

    # 3: better than the base model but worse than the champion: not promoted, and the report says why
    assert reports[2]["verdict"]["outcome"] == "improved"
    assert reports[2]["evaluation"]["champion"]["run_id"] == second.run_id
    assert reports[2]["evaluation"]["champion"]["verdict"]["outcome"] == "regressed"
    assert reports[2]["promotion"]["decision"] == "skip"
    assert "worse than the champion" in reports[2]["promotion"]["reason"]
    assert "worse than the champion" in (third.out_dir / "report.md").read_text()

    # Every run's own capacity was deleted; the serving deployment is not run capacity
    for result in (first, second, third):
        capacity = [e for e in result.own_resources if e["type"] == "custom-model-deployment" and e.get("role") is None]
        assert capacity, f"run {result.run_id} bought no capacity"
        assert all(entry["deleted_at"] is not None for entry in capacity)

    # The account kept on disk answers the serving commands: run 2 serves, rollback brings back run 1
    document = _serving(account, capsys)
    assert document["record"]["champion"]["run_id"] == second.run_id
    assert document["record"]["deployment_arn"] == deployment["arn"]
    assert [entry["action"] for entry in document["history"]] == ["promote", "promote"]
    capsys.readouterr()
    assert main(["rollback", "--account", str(account), "--json"]) == 0
    rolled = json.loads(capsys.readouterr().out)
    assert rolled["deployment_arn"] == deployment["arn"]
    after = _serving(account, capsys)
    assert after["record"]["champion"]["run_id"] == first.run_id
    assert after["record"]["deployment_arn"] == deployment["arn"]
    assert [entry["action"] for entry in after["history"]] == ["promote", "promote", "rollback"]
