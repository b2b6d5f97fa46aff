"""``python -m tuner score``: BERTScore (and optionally the LLM judge) for answer files, baseline side by side.

Files are lists of ``{"question": str, "answer": str}``, the shape of the reference study's label and prediction
files; items are matched by question. With ``--baseline`` each metric is also compared question by question
(predictions minus baseline: mean delta, 95% bootstrap CI, wins / ties / losses, sign test) and a verdict is drawn
on the primary metric by the rules of ``lambdas.evaluation.verdict``. With ``--json`` stdout carries exactly one
JSON object; everything else (progress, warnings) goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from pathlib import Path
from statistics import fmean
from typing import Any

from lambdas.dataset.formats import lone_surrogate_in, parse_json
from lambdas.evaluation.results import PairwiseVerdict
from lambdas.evaluation.verdict import MetricName, Verdict, decide, describe
from tuner.cli import EXIT_OK, UsageError

DEFAULT_JUDGE_CONCURRENCY = 4
DEFAULT_MIN_ITEMS = 10


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lambdas.settings import EvaluationSettings

    defaults = EvaluationSettings()
    parser = subparsers.add_parser(
        "score",
        help="score answers against reference answers (BERTScore, optional LLM judge)",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument("--predictions", required=True, type=Path, help='JSON list of {"question","answer"}')
    parser.add_argument("--labels", required=True, type=Path, help="JSON list of reference answers, same shape")
    parser.add_argument("--baseline", type=Path, help="another model's answers to compare with (e.g. the base model)")
    parser.add_argument("--judge", action="store_true", help="also grade correctness 1-10 with an LLM judge on Bedrock")
    parser.add_argument("--judge-model", default=defaults.judge_model_id, help="Bedrock model id of the judge")
    parser.add_argument(
        "--no-pairwise",
        action="store_true",
        help="with --judge and --baseline, skip the pairwise preference judge (asked in both orders)",
    )
    parser.add_argument(
        "--bertscore-model",
        default=defaults.bertscore_model,
        help=f"BERTScore model: {defaults.bertscore_model!r} (offline, packaged), a local folder or a hub name",
    )
    parser.add_argument("--num-layers", type=int, default=defaults.bertscore_num_layers, help="BERTScore layer")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    verdict = parser.add_argument_group("verdict (with --baseline: did the predictions beat the baseline?)")
    verdict.add_argument(
        "--primary-metric",
        choices=[
            m.value for m in (MetricName.JUDGE_CORRECTNESS, MetricName.PAIRWISE_PREFERENCE, MetricName.BERTSCORE_F1)
        ],
        help="metric the verdict is drawn on (default: judge_correctness with --judge, else bertscore_f1)",
    )
    verdict.add_argument(
        "--min-effect",
        type=float,
        help="smallest mean gain worth calling an improvement, in the metric's unit (default 0)",
    )
    verdict.add_argument(
        "--min-items",
        type=int,
        help=f"fewest questions scored on both models for a verdict (default {DEFAULT_MIN_ITEMS})",
    )
    parser.set_defaults(run=run)


def load_answers(path: Path, what: str) -> dict[str, str]:
    """``{question: answer}`` from a study-style file; any problem is a usage error naming the file."""
    try:
        document = parse_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {what} file {path}: {error}") from None
    except ValueError as error:
        raise UsageError(f"{what} file {path} is not JSON: {error}") from None
    if not isinstance(document, list) or not document:
        raise UsageError(f'{what} file {path} must be a non-empty JSON list of {{"question", "answer"}} objects')
    answers: dict[str, str] = {}
    for position, entry in enumerate(document, start=1):
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("question"), str)
            or not isinstance(entry.get("answer"), str)
        ):
            raise UsageError(f'{what} file {path}: item {position} needs string "question" and "answer" fields')
        if lone_surrogate_in([entry["question"], entry["answer"]]):  # no tokenizer (nor UTF-8) can take it
            raise UsageError(
                f"{what} file {path}: item {position} holds a \\uD800-\\uDFFF escape that is half of a UTF-16 "
                "surrogate pair, not a character"
            )
        question = entry["question"].strip()
        if question in answers:
            raise UsageError(f"{what} file {path}: item {position} repeats the question {question[:60]!r}")
        answers[question] = entry["answer"]
    return answers


def match(labels: dict[str, str], answers: dict[str, str], what: str, path: Path) -> list[str]:
    """The label questions in order, after checking ``answers`` covers exactly the same questions."""
    missing = [q for q in labels if q not in answers]
    extra = [q for q in answers if q not in labels]
    if missing or extra:
        details = []
        if missing:
            details.append(f"{len(missing)} label question(s) unanswered, e.g. {missing[0][:60]!r}")
        if extra:
            details.append(f"{len(extra)} question(s) not in the labels, e.g. {extra[0][:60]!r}")
        raise UsageError(f"{what} file {path} does not match the labels: {'; '.join(details)}")
    return list(labels)


def score_set(
    questions: list[str],
    labels: dict[str, str],
    answers: dict[str, str],
    *,
    model: str,
    num_layers: int,
    judge: Any | None,
) -> dict[str, Any]:
    from lambdas.evaluation.bertscore import score_pairs

    values = score_pairs(
        [answers[q] for q in questions], [labels[q] for q in questions], model=model, num_layers=num_layers
    )
    verdicts = (
        judge.grade_many([(q, labels[q], answers[q]) for q in questions], concurrency=DEFAULT_JUDGE_CONCURRENCY)
        if judge is not None
        else [None] * len(questions)
    )
    items = []
    for question, value, verdict in zip(questions, values, verdicts, strict=True):
        items.append(
            {
                "question": question,
                "answer": answers[question],
                "precision": value.precision,
                "recall": value.recall,
                "f1": value.f1,
                "judge": verdict.score if verdict is not None else None,
                "judge_reasoning": verdict.reasoning if verdict is not None else None,
                "judge_error": verdict.error if verdict is not None else None,
            }
        )
    scores = [item["judge"] for item in items if item["judge"] is not None]
    return {
        "mean": {
            "precision": fmean(v.precision for v in values),
            "recall": fmean(v.recall for v in values),
            "f1": fmean(v.f1 for v in values),
            "judge": fmean(scores) if scores else None,
        },
        "items": items,
    }


def verdict_options(args: argparse.Namespace) -> tuple[str, float, int]:
    """Primary metric, minimum effect and minimum items, checked before any scoring starts."""
    flags = {"--primary-metric": args.primary_metric, "--min-effect": args.min_effect, "--min-items": args.min_items}
    given = [flag for flag, value in flags.items() if value is not None]
    if given and args.baseline is None:
        raise UsageError(f"{given[0]} needs --baseline: the verdict compares the predictions with a baseline")
    primary = args.primary_metric or (
        MetricName.JUDGE_CORRECTNESS.value if args.judge else MetricName.BERTSCORE_F1.value
    )
    if primary == MetricName.JUDGE_CORRECTNESS and not args.judge:
        raise UsageError("--primary-metric judge_correctness needs --judge")
    if primary == MetricName.PAIRWISE_PREFERENCE and (not args.judge or args.no_pairwise):
        raise UsageError("--primary-metric pairwise_preference needs --judge (and no --no-pairwise)")
    min_effect = 0.0 if args.min_effect is None else args.min_effect
    if not math.isfinite(min_effect) or min_effect < 0:
        raise UsageError(f"--min-effect must be a finite number >= 0, not {args.min_effect}")
    min_items = DEFAULT_MIN_ITEMS if args.min_items is None else args.min_items
    if min_items < 1:
        raise UsageError(f"--min-items must be at least 1, not {min_items}")
    return primary, min_effect, min_items


def compare(
    predictions: dict[str, Any],
    baseline: dict[str, Any],
    *,
    judged: bool,
    primary_metric: str,
    min_effect: float,
    min_items: int,
    pairwise: list[PairwiseVerdict] | None = None,
) -> Verdict:
    """Per-question deltas (predictions minus baseline) for each metric, and the verdict on the primary one."""
    from lambdas.evaluation.statistics import paired_statistics

    pairs = list(zip(predictions["items"], baseline["items"], strict=True))
    metrics = [
        paired_statistics(
            MetricName.BERTSCORE_F1, [tuned["f1"] - base["f1"] for tuned, base in pairs], asked=len(pairs)
        )
    ]
    if judged:
        # An item either model's judge could not score has no delta; the first error says why.
        deltas = [
            tuned["judge"] - base["judge"] if tuned["judge"] is not None and base["judge"] is not None else None
            for tuned, base in pairs
        ]
        errors = [item["judge_error"] for pair in pairs for item in pair if item["judge_error"]]
        metrics.append(
            paired_statistics(
                MetricName.JUDGE_CORRECTNESS,
                deltas,
                asked=len(pairs),
                first_error=errors[0] if errors else None,
            )
        )
    if pairwise is not None:
        errors = [verdict.error for verdict in pairwise if verdict.error]
        metrics.append(
            paired_statistics(
                MetricName.PAIRWISE_PREFERENCE,
                [v.preference.delta if v.preference is not None else None for v in pairwise],
                asked=len(pairwise),
                first_error=errors[0] if errors else None,
            )
        )
    return decide(metrics, primary_metric=primary_metric, min_effect=min_effect, min_items=min_items)


def require_aws_for_judge(judge_model: str) -> None:
    """The judge runs on Bedrock: say in one line what is missing, before any scoring starts."""
    import boto3

    session = boto3.Session()
    if not session.region_name:
        raise UsageError(
            f"--judge calls {judge_model} on Amazon Bedrock and needs a region: "
            "set AWS_DEFAULT_REGION (or a profile's region)"
        )
    if session.get_credentials() is None:
        raise UsageError(
            f"--judge calls {judge_model} on Amazon Bedrock and needs AWS credentials: none were found (environment, "
            "profile or instance role)"
        )


def run(args: argparse.Namespace) -> int:
    primary_metric, min_effect, min_items = verdict_options(args)
    labels = load_answers(args.labels, "labels")
    predictions = load_answers(args.predictions, "predictions")
    questions = match(labels, predictions, "predictions", args.predictions)
    baseline = load_answers(args.baseline, "baseline") if args.baseline else None
    if baseline is not None:
        match(labels, baseline, "baseline", args.baseline)

    from lambdas.evaluation.bertscore import OFFLINE_MINILM, BertScoreModelError, resolve_model_path

    if args.bertscore_model == OFFLINE_MINILM:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the packaged model never needs the hub
    judge = None
    pairwise_judge = None
    if args.judge:
        require_aws_for_judge(args.judge_model)
        from lambdas import aws
        from lambdas.evaluation.judge import bedrock_judge, bedrock_pairwise_judge

        judge = bedrock_judge(args.judge_model, bedrock_runtime=aws.client("bedrock-runtime"))
        if baseline is not None and not args.no_pairwise:
            pairwise_judge = bedrock_pairwise_judge(args.judge_model, bedrock_runtime=aws.client("bedrock-runtime"))

    # Libraries print to stdout at times; keep it for our output only.
    with contextlib.redirect_stdout(sys.stderr):
        print(f"BERTScore model: {args.bertscore_model} ({resolve_model_path(args.bertscore_model)})")
        try:
            result = {
                "bertscore_model": args.bertscore_model,
                "bertscore_num_layers": args.num_layers,
                "judge_model": args.judge_model if judge is not None else None,
                "predictions": score_set(
                    questions,
                    labels,
                    predictions,
                    model=args.bertscore_model,
                    num_layers=args.num_layers,
                    judge=judge,
                ),
                "baseline": score_set(
                    questions, labels, baseline, model=args.bertscore_model, num_layers=args.num_layers, judge=judge
                )
                if baseline is not None
                else None,
            }
        except BertScoreModelError as error:
            raise UsageError(str(error)) from None
        preferences = (
            pairwise_judge.compare_many(
                [(q, labels[q], predictions[q], baseline[q]) for q in questions], concurrency=DEFAULT_JUDGE_CONCURRENCY
            )
            if pairwise_judge is not None and baseline is not None
            else None
        )
        result["pairwise"] = (
            [verdict.model_dump(mode="json") for verdict in preferences] if preferences is not None else None
        )
        verdict = (
            compare(
                result["predictions"],
                result["baseline"],
                judged=judge is not None,
                primary_metric=primary_metric,
                min_effect=min_effect,
                min_items=min_items,
                pairwise=preferences,
            )
            if result["baseline"] is not None
            else None
        )
    result["verdict"] = verdict.model_dump(mode="json") if verdict is not None else None

    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        print_table(result, questions)
    return EXIT_OK


def print_table(result: dict[str, Any], questions: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    predictions, baseline = result["predictions"], result["baseline"]
    judged = result["judge_model"] is not None
    table = Table(title=f"BERTScore ({result['bertscore_model']}, layer {result['bertscore_num_layers']})")
    table.add_column("#", justify="right")
    table.add_column("question", overflow="fold", max_width=48)
    table.add_column("F1 predictions", justify="right")
    if baseline is not None:
        table.add_column("F1 baseline", justify="right")
    if judged:
        table.add_column("judge predictions", justify="right")
        if baseline is not None:
            table.add_column("judge baseline", justify="right")

    def judge_cell(item: dict[str, Any]) -> str:
        return str(item["judge"]) if item["judge"] is not None else "unscored"

    for index, question in enumerate(questions):
        row = [str(index + 1), question, f"{predictions['items'][index]['f1']:.3f}"]
        if baseline is not None:
            row.append(f"{baseline['items'][index]['f1']:.3f}")
        if judged:
            row.append(judge_cell(predictions["items"][index]))
            if baseline is not None:
                row.append(judge_cell(baseline["items"][index]))
        table.add_row(*row)

    def mean_row(name: str, block: dict[str, Any]) -> str:
        mean = block["mean"]
        judge = f", judge {mean['judge']:.2f}" if mean["judge"] is not None else ""
        return f"{name}: P {mean['precision']:.3f} / R {mean['recall']:.3f} / F1 {mean['f1']:.3f}{judge}"

    console = Console()
    console.print(table)
    console.print(mean_row("predictions mean", predictions))
    if baseline is not None:
        console.print(mean_row("baseline mean   ", baseline))
    if result["verdict"] is not None:
        verdict = Verdict.model_validate(result["verdict"])
        # Plain text ("[95% CI ...]" is no rich markup), one line each, so the lines can be grepped and pasted.
        plain = {"markup": False, "highlight": False, "soft_wrap": True}
        console.print("predictions minus baseline, per question:", **plain)
        for stats in verdict.metrics:
            console.print(f"  {describe(stats, confidence=verdict.confidence)}", **plain)
        console.print(f"verdict: {verdict.outcome.value.replace('_', ' ')}: {verdict.reason}", **plain)
