"""``python -m tuner score``: study-style files in, one clean JSON object (or a table) out, exit 2 on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from lambdas.evaluation.judge import CorrectnessJudge, PairwiseJudge
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

    def fake_pairwise(model_id, **_):
        # question 1: fine-tuned first says A, base first says B (consistent); question 2: A both times (a tie)
        replies = ["A. [[A]]", "B. [[B]]", "A. [[A]]", "A. [[A]]"]
        return PairwiseJudge(FakeListChatModel(responses=replies), model_id=model_id, sleep=lambda _: None)

    monkeypatch.setattr(judge_module, "bedrock_judge", fake_judge)
    monkeypatch.setattr(judge_module, "bedrock_pairwise_judge", fake_pairwise)
    code = main(score_args("--baseline", str(DATA / "base.json"), "--judge", "--json"))
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["judge_model"] == "amazon.nova-pro-v1:0"
    assert sorted(item["judge"] for item in document["predictions"]["items"]) == [9, 10]
    assert document["predictions"]["mean"]["judge"] == 9.5
    assert document["baseline"]["mean"]["judge"] == 1.5
    # the pairwise judge, asked in both orders, joins the verdict's metrics
    assert [v["preference"] for v in document["pairwise"]] == ["fine_tuned", "tie"]
    assert [v["consistent"] for v in document["pairwise"]] == [True, False]
    metrics = {metric["name"]: metric for metric in document["verdict"]["metrics"]}
    assert (metrics["pairwise_preference"]["wins"], metrics["pairwise_preference"]["ties"]) == (1, 1)


@pytest.mark.slow
def test_table_output_shows_both_models_side_by_side(capsys, offline_minilm):
    assert main(score_args("--baseline", str(DATA / "base.json"))) == 0
    out = capsys.readouterr().out
    assert "F1 predictions" in out
    assert "F1 baseline" in out
    assert "predictions mean: P " in out
    # the paired statistics, one line per metric, and the verdict (2 questions: too few for one)
    assert "BERTScore F1 +0." in out
    assert "[95% CI +0." in out  # printed as text, not swallowed as rich markup
    assert "on 2 questions: 2 wins, 0 ties, 0 losses (sign test p=0.5)" in out
    assert "verdict: inconclusive: only 2 questions were scored on both models; at least 10 are needed" in out


@pytest.mark.slow
def test_verdict_joins_the_json_with_paired_statistics(capsys, offline_minilm):
    # Given two questions the predictions answer better than the baseline
    # When scored with the default minimum of 10 questions
    assert main(score_args("--baseline", str(DATA / "base.json"), "--json")) == 0
    verdict = json.loads(capsys.readouterr().out)["verdict"]
    # Then the verdict is honest about the sample size, and the statistics are there all the same
    assert verdict["outcome"] == "inconclusive"
    assert verdict["primary_metric"] == "bertscore_f1"
    assert "only 2 questions were scored on both models" in verdict["reason"]
    (bert,) = verdict["metrics"]
    assert (bert["name"], bert["n"], bert["asked"], bert["coverage"]) == ("bertscore_f1", 2, 2, 1.0)
    assert (bert["wins"], bert["ties"], bert["losses"], bert["p_value"]) == (2, 0, 0, 0.5)
    assert 0 < bert["ci_low"] <= bert["mean_delta"] <= bert["ci_high"]

    # When the minimum is lowered to what the set holds
    assert main(score_args("--baseline", str(DATA / "base.json"), "--min-items", "2", "--json")) == 0
    # Then both questions improving is a clear (if tiny-sample) improvement
    assert json.loads(capsys.readouterr().out)["verdict"]["outcome"] == "improved"


@pytest.mark.slow
def test_without_a_baseline_there_is_no_verdict(capsys, offline_minilm):
    assert main(score_args("--json")) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] is None


@pytest.mark.slow
def test_a_judge_outage_makes_the_verdict_inconclusive(capsys, offline_minilm, monkeypatch):
    import lambdas.evaluation.judge as judge_module

    def broken_judge(model_id, **_):
        # Given a judge whose every reply lacks a rating
        replies = ["I would rather not say."]
        return CorrectnessJudge(FakeListChatModel(responses=replies), model_id=model_id, sleep=lambda _: None)

    monkeypatch.setattr(judge_module, "bedrock_judge", broken_judge)
    # When the answers are scored with the judge as the primary metric (its default with --judge)
    code = main(
        score_args("--baseline", str(DATA / "base.json"), "--judge", "--no-pairwise", "--min-items", "1", "--json")
    )
    verdict = json.loads(capsys.readouterr().out)["verdict"]
    # Then no outcome but inconclusive, saying the coverage and why, with BERTScore still reported
    assert code == 0
    assert verdict["outcome"] == "inconclusive"
    assert verdict["primary_metric"] == "judge_correctness"
    assert "judge scored 0 of 2 questions (coverage 0%, below 90%); first error: " in verdict["reason"]
    judged = next(metric for metric in verdict["metrics"] if metric["name"] == "judge_correctness")
    assert (judged["n"], judged["mean_delta"]) == (0, None)
    assert judged["first_error"]
    assert judged["first_error"] in verdict["reason"]
    assert [metric["name"] for metric in verdict["metrics"]] == ["bertscore_f1", "judge_correctness"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--baseline", str(DATA / "base.json"), "--min-effect=-1"], "--min-effect must be a finite number >= 0"),
        (["--baseline", str(DATA / "base.json"), "--min-effect", "nan"], "--min-effect must be a finite number"),
        (["--baseline", str(DATA / "base.json"), "--min-items", "0"], "--min-items must be at least 1"),
        (
            ["--baseline", str(DATA / "base.json"), "--primary-metric", "judge_correctness"],
            "--primary-metric judge_correctness needs --judge",
        ),
        (["--min-effect", "0.5"], "--min-effect needs --baseline"),
    ],
    ids=["negative-effect", "nan-effect", "no-items", "judge-without-judge", "verdict-without-baseline"],
)
def test_bad_verdict_options_exit_2_before_scoring(capsys, options, message):
    code = main(score_args(*options, "--json"))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert message in captured.err
    assert len(captured.err.strip().splitlines()) == 1


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
    # Four questions cannot carry a verdict, and it says so, with the paired statistics all the same
    verdict = document["verdict"]
    assert verdict["outcome"] == "inconclusive"
    assert verdict["reason"].startswith("only 4 questions were scored on both models; at least 10 are needed")
    (bert,) = verdict["metrics"]
    assert (bert["name"], bert["n"], bert["wins"] + bert["ties"] + bert["losses"]) == ("bertscore_f1", 4, 4)
    assert bert["ci_low"] <= bert["mean_delta"] <= bert["ci_high"]


@pytest.mark.parametrize(
    ("unset", "message"),
    [
        (("AWS_DEFAULT_REGION", "AWS_REGION"), "needs a region: set AWS_DEFAULT_REGION"),
        (("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"), "needs AWS credentials"),
    ],
    ids=["no-region", "no-credentials"],
)
def test_judge_without_region_or_credentials_is_one_line_exit_2(capsys, monkeypatch, tmp_path, unset, message):
    # Given no region, or no credentials anywhere boto3 looks
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # When the judge is asked for
    code = main(score_args("--judge", "--json"))
    # Then one line says what is missing, before anything is scored
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert message in captured.err
    assert captured.err.count("\n") == 1
