"""Shared pieces of the end-to-end runs: small datasets written here, the two serving paths, and one runner.

The two paths also cover both record families: the Provisioned-Throughput path is Meta Llama 3.1 8B Instruct
(prompt/completion, us-west-2), the on-demand path Amazon Nova Lite (bedrock-conversation, us-east-1). Claude 3
Haiku, the reference study's model, is past its end of life: synth and the harness refuse a run with it.

Each run executes the synthesized state machine on moto with the real handlers and the emulated Bedrock. The
template is synthesized once per settings combination and cached on disk; the BERTScore model loads once per
process, so after the first run each scenario takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lambdas.registry import DataFormat, get_model
from tuner.local.harness import LocalRun, RunRequest, RunResult
from tuner.local.scenarios import Scenario

TEST_ITEMS = 5
SYSTEM = "You answer questions about the Orbit build service precisely."
SERVICES = [
    "atlas", "borealis", "cinder", "dynamo", "ember", "fjord", "glacier", "harbor", "iris", "juniper",
    "kestrel", "lumen", "meridian", "nimbus", "onyx", "pylon", "quasar", "rivet", "sable", "tundra",
]  # fmt: skip


@dataclass(frozen=True)
class ServingPath:
    """One way a customized model is served, with the model that takes it."""

    id: str
    model_id: str
    inference_mode: str
    capacity_type: str  # the ledger type of the capacity this path buys
    records: int

    def record(self, question: str, answer: str) -> dict[str, Any]:
        if get_model(self.model_id).data_format is DataFormat.PROMPT_COMPLETION:
            return {"prompt": question, "completion": answer}
        return {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": SYSTEM}],
            "messages": [
                {"role": "user", "content": [{"text": question}]},
                {"role": "assistant", "content": [{"text": answer}]},
            ],
        }


PROVISIONED = ServingPath(
    id="llama-3-1-8b-provisioned",
    model_id="meta.llama3-1-8b-instruct-v1:0:128k",
    inference_mode="provisioned",
    capacity_type="provisioned-throughput",
    records=120,  # Llama takes 100-10,000 training + validation records; 10% of these go to the test split
)
ON_DEMAND = ServingPath(
    id="nova-lite-on-demand",
    model_id="amazon.nova-lite-v1:0:300k",
    inference_mode="auto",
    capacity_type="custom-model-deployment",
    records=40,
)
SERVING_PATHS = [PROVISIONED, ON_DEMAND]


def qa_pairs(count: int) -> list[tuple[str, str]]:
    pairs = []
    for index in range(count):
        service = SERVICES[index % len(SERVICES)]
        generation = index // len(SERVICES) + 1
        port = 7000 + index * 7
        pairs.append(
            (
                f"Which port does the {service} service of generation {generation} listen on?",
                f"The {service} service of generation {generation} listens on port {port} behind the Orbit gateway.",
            )
        )
    return pairs


@pytest.fixture(params=SERVING_PATHS, ids=lambda path: path.id)
def serving(request: pytest.FixtureRequest) -> ServingPath:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def valid_dataset(tmp_path: Path, serving: ServingPath) -> Path:
    path = tmp_path / "orbit_faq.jsonl"
    path.write_text("".join(json.dumps(serving.record(q, a)) + "\n" for q, a in qa_pairs(serving.records)))
    return path


@pytest.fixture
def invalid_dataset(tmp_path: Path, serving: ServingPath) -> Path:
    lines = [json.dumps(serving.record(q, a)) for q, a in qa_pairs(serving.records)]
    lines[3] = '{"messages": [{"role": "user", "content": '  # truncated JSON
    lines[7] = json.dumps({"messages": [{"role": "assistant", "content": "an answer with no question"}]})
    path = tmp_path / "orbit_broken.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


Runner = Callable[..., RunResult]


@pytest.fixture
def run_local(tmp_path: Path, serving: ServingPath) -> Runner:
    def run(dataset: Path, scenario: Scenario = Scenario.NONE) -> RunResult:
        request = RunRequest(
            dataset=dataset,
            model_id=serving.model_id,
            scenario=scenario,
            out_dir=tmp_path / "out",
            settings_overrides={
                "inference_mode": serving.inference_mode,
                "evaluation": {"max_test_records": TEST_ITEMS, "concurrency": 2},
            },
        )
        return LocalRun(request).run()

    return run


def read_out(result: RunResult, name: str) -> Any:
    return json.loads((result.out_dir / name).read_text())


def capacity_entries(result: RunResult) -> list[dict[str, Any]]:
    """The run capacity in the session's ledger (the stack's serving deployment is not run capacity)."""
    return [
        entry
        for entry in result.ledger["resources"]
        if entry["type"] in ("provisioned-throughput", "custom-model-deployment") and entry.get("role") != "serving"
    ]


def state_names(result: RunResult) -> list[str]:
    return [step["name"] for step in read_out(result, "execution.json")["states"]]
