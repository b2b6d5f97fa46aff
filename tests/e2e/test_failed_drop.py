"""A drop whose trigger fails on every attempt is not lost: it ends in the dead-letter queue the template configures.

The harness invokes the trigger the way Lambda invokes it for EventBridge (``tuner/local/async_invoke.py``): the
retries and the on-failure destination come from the synthesized template's ``AWS::Lambda::EventInvokeConfig``, and
the record lands in the template's queue, created in moto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ON_DEMAND, TEST_ITEMS, qa_pairs
from tuner.local.harness import LocalRun, RunRequest

pytestmark = pytest.mark.e2e


def test_a_trigger_that_raises_every_time_leaves_the_drop_in_the_dead_letter_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dataset, and a trigger that fails after reading its settings (Step Functions refuses every start)
    dataset = tmp_path / "orbit_faq.jsonl"
    dataset.write_text("".join(json.dumps(ON_DEMAND.record(q, a)) + "\n" for q, a in qa_pairs(ON_DEMAND.records)))
    attempts: list[dict[str, Any]] = []

    def refuse(*_args: Any, **kwargs: Any) -> Any:
        attempts.append(kwargs)
        raise RuntimeError("StartExecution refused: the state machine is being updated")

    monkeypatch.setattr("lambdas.handlers.trigger.start_run", refuse)
    request = RunRequest(
        dataset=dataset,
        model_id=ON_DEMAND.model_id,
        out_dir=tmp_path / "out",
        settings_overrides={"evaluation": {"max_test_records": TEST_ITEMS}},
    )
    # When the dataset is dropped
    result = LocalRun(request).run()
    # Then no run started, Lambda tried three times (two retries), each time with the deployed settings...
    assert result.run_id is None
    assert len(attempts) == 3
    assert all(call["settings"].base_model_id == ON_DEMAND.model_id for call in attempts)
    # ...and the drop's event is in the dead-letter queue, in the record Lambda writes after the last attempt
    (record,) = result.dead_letters
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"]["detail-type"] == "Object Created"
    assert record["requestPayload"]["detail"]["object"]["key"] == "incoming/orbit_faq.jsonl"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert "StartExecution refused" in record["responsePayload"]["errorMessage"]
    assert any("on-failure destination" in note and "UndeliveredDrops" in note for note in result.notes)
    assert result.bedrock_calls == []  # nothing was paid for
