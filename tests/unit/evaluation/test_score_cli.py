"""``python -m tuner score``: study-style files in, one clean JSON object (or a table) out, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from lambdas.evaluation.judge import CorrectnessJudge
from tuner.cli import main

DATA = Path(__file__).parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[3]


def score_args(*extra: str) -> list[str]:
    return ["score", "--labels", str(DATA / "labels.json"), "--predictions", str(DATA / "tuned.json"), *extra]


@pytest.mark.slow
def test_json_output_has_the_documented_shape(capsys, offline_minilm):
    code = main(score_args("--baseline", str(DATA / "base.json"), "--json"))
    captured = capsys.readouterr()
    assert code == 0
    document = json.loads(captured.out)  # stdout is exactly one JSON object
    assert document["bertscore_model"] == "all-MiniLM-L6-v2"
    assert set(document["predictions"]["mean"]) == {"precision", "recall", "f1", "judge"}
    assert document["predictions"]["mean"]["judge"] is None
    items = document["predictions"]["items"]
    # items follow the labels' order, matched by question although the predictions file lists them the other way round
    assert [item["question"] for item in items] == ["What does the sweeper delete?", "Where is the report written?"]
    assert items[1]["f1"] == pytest.approx(1.0, abs=1e-3)
    assert document["predictions"]["mean"]["f1"] > document["baseline"]["mean"]["f1"]
    assert "BERTScore model: all-MiniLM-L6-v2" in captured.err


@pytest.mark.slow
def test_judge_scores_join_the_json(capsys, offline_minilm, monkeypatch):
    import lambdas.evaluation.judge as judge_module

    def fake_judge(model_id, **_):
        replies = ["Right. [[9]]", "Right. [[10]]", "Wrong. [[2]]", "Wrong. [[1]]"]
        return CorrectnessJudge(FakeListChatModel(responses=replies), model_id=model_id, sleep=lambda _: None)

    monkeypatch.setattr(judge_module, "bedrock_judge", fake_judge)
    code = main(score_args("--baseline", str(DATA / "base.json"), "--judge", "--json"))
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["judge_model"] == "amazon.nova-pro-v1:0"
    assert sorted(item["judge"] for item in document["predictions"]["items"]) == [9, 10]
    assert document["predictions"]["mean"]["judge"] == 9.5
    assert document["baseline"]["mean"]["judge"] == 1.5


@pytest.mark.slow
def test_table_output_shows_both_models_side_by_side(capsys, offline_minilm):
    assert main(score_args("--baseline", str(DATA / "base.json"))) == 0
    out = capsys.readouterr().out
    assert "F1 predictions" in out
    assert "F1 baseline" in out
    assert "predictions mean: P " in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ('{"question": "q", "answer": "a"}', "must be a non-empty JSON list"),
        ('[{"question": "q"}]', 'item 1 needs string "question" and "answer"'),
        ('[{"question": "What does the sweeper delete?", "answer": "x"}]', "does not match the labels: 1 label"),
        # half a surrogate pair: the tokenizer raised a TypeError traceback from deep inside BERTScore
        ('[{"question": "q", "answer": "x \\ud800"}]', "item 1 holds a \\uD800-\\uDFFF escape that is half of"),
        ('[{"question": "q", "answer": ' + "1" * 5_000 + "}]", "is not JSON: a number has more than 4,300 digits"),
    ],
    ids=["not-json", "too-deep", "not-a-list", "missing-answer", "mismatch", "lone-surrogate", "huge-number"],
)
def test_bad_files_exit_2_with_one_line(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    code = main(["score", "--labels", str(DATA / "labels.json"), "--predictions", str(bad), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1


def test_missing_file_exits_2(capsys, tmp_path):
    assert main(["score", "--labels", str(tmp_path / "nope.json"), "--predictions", str(DATA / "tuned.json")]) == 2
    assert "labels file" in capsys.readouterr().err


@pytest.mark.slow
def test_reference_study_quality_bar_in_a_fresh_process(reference_run, tmp_path):
    # The documented command, as a user runs it: offline, stdout holds only the JSON
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuner",
            "score",
            "--predictions",
            str(reference_run / "fine-tuning-model_prediction.json"),
            "--baseline",
            str(reference_run / "base-model_prediction.json"),
            "--labels",
            str(reference_run / "label.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path)},
        check=False,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["bertscore_model"] == "all-MiniLM-L6-v2"
    assert document["predictions"]["mean"]["f1"] > document["baseline"]["mean"]["f1"]
    assert len(document["predictions"]["items"]) == 4
