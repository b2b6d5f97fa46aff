"""report.md and a self-contained report.html (inline CSS, inline SVG), both rendered from ``Report`` alone.

Every piece of text that comes from a user, a dataset or a model is escaped: answers can hold anything.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable

from lambdas.contracts import CheckStatus, PreflightOutput, ScoreSummary
from lambdas.evaluation.results import EvaluatedItem, ScoredAnswer
from lambdas.evaluation.verdict import Verdict, format_delta, format_p_value
from lambdas.pricing import fmt_usd
from lambdas.registry import Serving
from lambdas.reporting.costs import EMULATED_COSTS, part_label
from lambdas.reporting.model import (
    CapacitySection,
    CostSection,
    DatasetSection,
    EvaluationSection,
    LossSection,
    NextStep,
    Report,
    RunSection,
)
from lambdas.reporting.svg import loss_curve_svg, step_loss_svg

EMULATED_NOTICE = (
    "EMULATED: Bedrock was the local emulator. Every figure below (losses, answers, scores, cost) comes from the "
    "emulator, not from a real customization job."
)
_MD_CELL_LIMIT = 300
NO_TRAINING_NOTE = "No training: re-evaluation. This run evaluated an existing custom model; it trained nothing."


# ----------------------------------------------------------------------------------------------- shared wording


def fmt_score(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):  # NaN / Infinity only from a hand-edited report.json
        return "unknown"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def cost_line(capacity: CapacitySection | None) -> str:
    if capacity is None:
        return "No inference capacity was bought: no throughput cost."
    kind = capacity.kind.value if capacity.kind else "capacity"
    lifetime = fmt_duration(capacity.lifetime_seconds)
    if capacity.deleted is None:
        state = "deletion not recorded"
    elif capacity.already_gone:
        state = "already gone when deleted"
    elif capacity.deleted:
        state = "deleted"
    else:
        state = "NOT DELETED"
    if capacity.estimated_cost_usd is not None:
        cost = f"estimated cost ${capacity.estimated_cost_usd:,.2f}"
    elif capacity.kind is Serving.CUSTOM_MODEL_DEPLOYMENT:
        cost = "billed per token, not per hour (see the cost table)"
    else:
        cost = "cost not estimated (no price per model unit hour known)"
    return f"{kind} {capacity.arn or ''}: lived {lifetime}, {state}; {cost}."


# The parts of a run's cost, in the order a reader adds them up.
COST_PARTS = (
    ("training", "Training"),
    ("capacity", "Inference capacity"),
    ("evaluation", "Evaluation inference (base model and judge)"),
    ("storage_per_month", "Custom model storage, per month"),
)
COST_TOTAL = "Total (training + capacity + evaluation + one month of storage)"


def _amount(usd: float | None, *, at_least: bool, approximate: bool) -> str:
    if usd is None:
        return "not estimated"
    return ("at least " if at_least else "") + ("~" if approximate and usd else "") + fmt_usd(usd)


def cost_rows(cost: CostSection) -> list[list[str]]:
    """[what, estimate, how it was computed, label] for each part and the total."""
    rows = []
    for attr, title in COST_PARTS:
        part = getattr(cost, attr)
        amount = _amount(part.usd, at_least=bool(part.missing), approximate=part.approximate)
        rows.append([title, amount, part.basis, part_label(part)])
    approximate = any(part.approximate for part in cost.parts)
    total = _amount(cost.total_usd, at_least=not cost.complete, approximate=approximate)
    rows.append([COST_TOTAL, total, "", cost.label.removeprefix(f"{EMULATED_COSTS}; ")])
    return rows


def cost_summary(cost: CostSection | None) -> str:
    """One line: the total, what it lacks, and how to read it (list prices' date; EMULATED in a rehearsal)."""
    if cost is None:
        return "not estimated (this report predates cost estimates)"
    if cost.total_usd is None:
        return f"not estimated ({cost.label})"
    unpriced = [attr.split("_")[0] for attr, _ in COST_PARTS if getattr(cost, attr).missing]
    lacking = f" (not priced: {', '.join(unpriced)})" if unpriced else ""
    total = _amount(cost.total_usd, at_least=not cost.complete, approximate=False)
    return f"{total} in total{lacking}; {cost.label}"


def reevaluation_line(run: RunSection) -> str | None:
    """``Re-evaluation of <ARN> (trained by run <id>)``: the first thing a re-evaluation's report says."""
    reevaluation = run.reevaluation
    if reevaluation is None:
        return None
    if not reevaluation.custom_model_arn:
        return f"Re-evaluation requested by {reevaluation.request_key}"
    source = f"trained by run {reevaluation.source_run_id}" if reevaluation.source_run_id else "training run not named"
    return f"Re-evaluation of {reevaluation.custom_model_arn} ({source})"


def next_step_lines(steps: list[NextStep]) -> list[str]:
    """What next as plain text (the notification): each step, its command indented under it."""
    lines: list[str] = []
    for number, step in enumerate(steps, start=1):
        lines.append(f"  {number}. {step.text}")
        if step.command:
            lines.append(f"     {step.command}")
    return lines


def how_read(data: DatasetSection) -> str | None:
    """How the dropped file was read, when it was not plain JSONL in the model's own format."""
    words = []
    if data.gzip:
        words.append("decompressed (gzip)")
    if data.read_as == "json-array":
        words.append("read as a JSON array")
    if data.prepared_from_raw_qa:
        words.append("converted from question/answer pairs to the model's training format")
    return f"The drop was {', '.join(words)}." if words else None


def billed_tokens_header(epochs: int | None) -> str:
    """The validator's estimate already counts every epoch: say so."""
    return f"est. billed training tokens (x {epochs} epochs)" if epochs else "est. billed training tokens"


def _summary_cells(summary: ScoreSummary) -> list[str]:
    return [
        fmt_score(summary.judge_mean, 1),
        f"{fmt_score(summary.bertscore_precision)} / {fmt_score(summary.bertscore_recall)} / "
        f"{fmt_score(summary.bertscore_f1)}",
        f"{summary.scored_items} of {summary.items}",
    ]


def _judge_cell(answer: ScoredAnswer) -> str:
    if answer.judge is None:
        return "-"
    return str(answer.judge.score) if answer.judge.score is not None else "unscored"


def _f1_cell(answer: ScoredAnswer) -> str:
    return fmt_score(answer.bertscore.f1) if answer.bertscore else "-"


def _answer_text(answer: ScoredAnswer) -> str:
    if answer.answer is not None:
        return answer.answer
    return f"(no answer: {answer.error or 'unknown'})"


# ------------------------------------------------------------------------------------------------------ Markdown


def _md(text: str, limit: int | None = _MD_CELL_LIMIT) -> str:
    """Text safe for one Markdown table cell: no newlines or pipes, HTML disarmed, long text shortened."""
    flat = " ".join(text.split())
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return html.escape(flat, quote=False).replace("|", "\\|")


def _md_table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return lines


def render_markdown(report: Report) -> str:
    run = report.run
    out: list[str] = [f"# Fine-tuning run {_md(run.run_id)}: {report.status.value}", ""]
    if run.emulated:
        out += [f"> **{EMULATED_NOTICE}**", ""]
    reevaluation = reevaluation_line(run)
    if reevaluation is not None:
        out += [f"**{_md(reevaluation, None)}**", ""]
    out += [f"**{_md(report.headline, None)}**", ""]
    out += _md_table(
        ["", ""],
        [
            ["Source", f"`{_md(run.source)}`"],
            ["Base model", f"{_md(run.base_model_name)} (`{_md(run.base_model_id)}`)"],
            ["Serving", run.serving.value],
            ["Received", run.received_at.isoformat()],
            ["Report generated", report.generated_at.isoformat()],
            ["Estimated cost", _md(cost_summary(report.cost), None)],
        ],
    )
    out.append("")

    if report.verdict is not None:
        out += _md_verdict(report.verdict, emulated=run.emulated)
    out += _md_serving(report)

    if report.failure is not None:
        out += ["## What went wrong", ""]
        out += [f"- **{_md(f.step)}** ({_md(f.error)}): {_md(f.message, None)}" for f in report.failure.failures]
        out += ["", "### Clean-up", ""] + [f"- {_md(line, None)}" for line in report.failure.cleanup] + [""]

    if report.preflight is not None:
        out += _md_preflight(report.preflight)

    if run.reevaluation is not None:
        out += ["## Training", "", NO_TRAINING_NOTE, ""]
        if report.custom_model is not None:
            out += [f"Custom model after this report: {_md(report.custom_model.retention, None)}.", ""]
    if report.dataset is not None and (run.reevaluation is None or not report.dataset.valid):
        data = report.dataset
        out += ["## Dataset", ""]
        out += _md_table(
            ["records", "errors", "warnings", "train", "validation", "test", billed_tokens_header(data.epochs)],
            [
                [
                    str(data.records),
                    str(data.error_count),
                    str(data.warning_count),
                    str(data.train_records),
                    str(data.validation_records),
                    str(data.test_records),
                    str(data.estimated_training_tokens or "n/a"),
                ]
            ],
        )
        if data.first_errors:
            out += ["", "First problems:", ""]
            out += [
                f"- line {p.line if p.line is not None else '-'}: `{_md(p.code)}` {_md(p.message, None)}"
                for p in data.first_errors
            ]
        read = how_read(data)
        if read:
            out += ["", _md(read, None)]
        if data.validation_dropped:
            out += ["", f"> {_md(data.validation_dropped, None)}"]
        out += ["", f"Full validation report: `{_md(_s3_uri(run.source, data.validation_report_key))}`", ""]

    if report.job is not None:
        job = report.job
        out += ["## Customization job", ""]
        rows = [
            ["Name", f"`{_md(job.name)}`"],
            ["ARN", f"`{_md(job.arn)}`"],
            ["Status", _md(job.status or "unknown")],
            ["Custom model", f"`{_md(job.custom_model_arn or job.custom_model_name)}`"],
            ["Started", job.started_at.isoformat()],
            ["Ended", job.ended_at.isoformat() if job.ended_at else "not recorded"],
            ["Duration", fmt_duration(job.duration_seconds)],
        ]
        if job.failure_message:
            rows.append(["Failure", _md(job.failure_message, None)])
        if job.retention:
            rows.append(["Custom model after this report", _md(job.retention, None)])
        out += [*_md_table(["", ""], rows), ""]
    if report.hyperparameters:
        out += ["### Hyperparameters", ""]
        out += _md_table(["name", "value"], [[_md(k), _md(v)] for k, v in sorted(report.hyperparameters.items())])
        out.append("")

    if not report.loss.empty:
        label = " (EMULATED)" if run.emulated else ""
        out += [f"## Loss per epoch{label}", "", "Mean of each epoch's step losses (plotted in report.html).", ""]
        validation = {e.epoch: e.mean_loss for e in report.loss.validation_epoch_means}
        training = {e.epoch: e.mean_loss for e in report.loss.training_epoch_means}
        epochs = sorted(set(training) | set(validation))
        out += _md_table(
            ["epoch", "training loss", "validation loss"],
            [[str(e), fmt_score(training.get(e), 4), fmt_score(validation.get(e), 4)] for e in epochs],
        )
        out += [""] + [f"> {_md(note, None)}" for note in _loss_notes(report.loss)]
        out.append("")

    if report.evaluation is not None:
        out += _md_evaluation(report.evaluation, emulated=run.emulated)

    out += ["## Inference capacity and cost" + (" (EMULATED)" if run.emulated else ""), ""]
    out += [_md(cost_line(report.capacity), None), ""]
    if report.cost is not None:
        out += [f"**{_md(report.cost.label, None)}.** Nothing here is read from a bill.", ""]
        out += _md_table(
            ["", "estimate", "how", "label"], [[_md(cell, None) for cell in row] for row in cost_rows(report.cost)]
        )
        out.append("")
    if report.next_steps:
        out += _md_next_steps(report.next_steps)
    return "\n".join(out)


def _md_next_steps(steps: list[NextStep]) -> list[str]:
    out = ["## What next", ""]
    for number, step in enumerate(steps, start=1):
        out.append(f"{number}. {_md(step.text, None)}")
        if step.command:  # a fenced block: copied as is, never escaped
            out += ["", "   ```sh", f"   {step.command}", "   ```"]
        out.append("")
    return out


def _loss_notes(loss: LossSection) -> list[str]:
    diagnosis = loss.diagnosis
    notes = []
    if diagnosis.best_validation_epoch is not None and diagnosis.best_validation_loss is not None:
        notes.append(
            f"Best validation loss: {diagnosis.best_validation_loss:.4f} at epoch {diagnosis.best_validation_epoch} "
            f"(step {diagnosis.best_validation_step})."
        )
    if diagnosis.overfitting:
        notes.append(diagnosis.overfitting)
    return notes


def _verdict_rows(verdict: Verdict) -> list[list[str]]:
    rows = []
    for stats in verdict.metrics:
        primary = " (primary)" if stats.name == verdict.primary_metric else ""
        ci = (
            f"[{format_delta(stats.name, stats.ci_low)}, {format_delta(stats.name, stats.ci_high)}]"
            if stats.ci_low is not None and stats.ci_high is not None
            else "n/a"
        )
        rows.append(
            [
                f"{stats.name}{primary}",
                str(stats.n),
                f"{stats.coverage:.0%}",
                format_delta(stats.name, stats.mean_delta) if stats.mean_delta is not None else "n/a",
                ci,
                f"{stats.wins} / {stats.ties} / {stats.losses}",
                format_p_value(stats.p_value) if stats.p_value is not None else "n/a",
            ]
        )
    return rows


_VERDICT_HEADER = ["metric", "n", "coverage", "mean delta (fine-tuned - base)", "95% CI", "wins / ties / losses", "p"]


_PROMOTION_WORDS = {
    "promote": "promoted: it serves now",
    "recommend": "eligible to serve (promotion is manual)",
    "skip": "not promoted",
}


def promotion_lines(report: Report) -> list[tuple[str, str | None]]:
    """(sentence, command) lines of the Serving section: the champion comparison and the promotion decision."""
    lines: list[tuple[str, str | None]] = []
    evaluation = report.evaluation
    champion = evaluation.champion if evaluation is not None else None
    if champion is not None:
        verdict = champion.verdict
        lines.append(
            (
                f"Against the champion (run {champion.run_id}, {champion.custom_model_arn}), on the same "
                f"questions: {verdict.outcome.value.replace('_', ' ')}: {verdict.reason}",
                None,
            )
        )
    promotion = report.promotion
    if promotion is not None:
        lines.append(
            (
                f"Promotion ({promotion.policy}): {_PROMOTION_WORDS.get(promotion.decision, promotion.decision)}: "
                f"{promotion.reason}.",
                promotion.command,
            )
        )
    return lines


def _md_serving(report: Report) -> list[str]:
    lines = promotion_lines(report)
    if not lines:
        return []
    out = ["## Serving", ""]
    for sentence, command in lines:
        out.append(f"- {_md(sentence, None)}" + (f" `{_md(command, None)}`" if command else ""))
    champion = report.evaluation.champion if report.evaluation is not None else None
    if champion is not None:
        out += ["", "Challenger against the champion, question by question:", ""]
        header = [cell.replace("fine-tuned - base", "fine-tuned - champion") for cell in _VERDICT_HEADER]
        out += _md_table(header, _verdict_rows(champion.verdict))
    return [*out, ""]


def _html_serving(report: Report) -> str:
    lines = promotion_lines(report)
    if not lines:
        return ""
    items = "".join(
        f"<li>{_e(sentence)}" + (f'<pre class="command"><code>{_e(command)}</code></pre>' if command else "") + "</li>"
        for sentence, command in lines
    )
    table = ""
    champion = report.evaluation.champion if report.evaluation is not None else None
    if champion is not None:
        header = "".join(
            f"<th>{_e(cell.replace('fine-tuned - base', 'fine-tuned - champion'))}</th>" for cell in _VERDICT_HEADER
        )
        rows = "".join(
            "<tr>" + "".join(f'<td class="num">{_e(cell)}</td>' for cell in row) + "</tr>"
            for row in _verdict_rows(champion.verdict)
        )
        table = f'<div class="scroll"><table><tr>{header}</tr>{rows}</table></div>'
    return f'<h2 id="serving">Serving</h2><ul>{items}</ul>{table}'


def _md_verdict(verdict: Verdict, *, emulated: bool) -> list[str]:
    label = " (EMULATED)" if emulated else ""
    out = [f"## Verdict: {verdict.outcome.value.replace('_', ' ')}{label}", "", _md(verdict.reason, None), ""]
    out += _md_table(_VERDICT_HEADER, _verdict_rows(verdict))
    out += [
        "",
        f"Rule: improved when the 95% CI of the primary metric's mean delta lies above 0 and the mean delta is at "
        f"least {format_delta(verdict.primary_metric, verdict.min_effect)}; regressed when the CI lies below 0.",
        "",
    ]
    return out


def _md_evaluation(evaluation: EvaluationSection, *, emulated: bool) -> list[str]:
    label = " (EMULATED)" if emulated else ""
    judge = evaluation.judge_model_id or "disabled"
    out = [
        f"## Evaluation: base vs fine-tuned{' vs champion' if evaluation.champion else ''}{label}",
        "",
        f"BERTScore model: `{_md(evaluation.bertscore_model)}`"
        + (f" ({evaluation.bertscore_num_layers} layers)" if evaluation.bertscore_num_layers else "")
        + f". Judge: `{_md(judge)}` (correctness 1-10 against the reference answer).",
        "",
    ]
    out += _md_table(
        ["model", "LLM-as-a-judge correctness (1-10)", "BERTScore P / R / F1", "scored"],
        [
            ["fine-tuned", *_summary_cells(evaluation.fine_tuned)],
            ["base", *_summary_cells(evaluation.base)],
            *(
                [[f"champion (run {_md(evaluation.champion.run_id)})", *_summary_cells(evaluation.champion.summary)]]
                if evaluation.champion
                else []
            ),
        ],
    )
    out += [""] + [f"- {_md(line, None)}" for line in _evaluation_notes(evaluation)]
    if evaluation.items:
        out += ["", "### Per question", ""]
        out += _md_table(
            [
                "#",
                "question",
                "reference",
                "base answer",
                "fine-tuned answer",
                "judge base / ft",
                "judge delta",
                "F1 base / ft",
                "F1 delta",
                "preferred",
            ],
            [
                [
                    str(item.index + 1),
                    _md(item.question),
                    _md(item.reference),
                    _md(_answer_text(item.base)),
                    _md(_answer_text(item.fine_tuned)),
                    f"{_judge_cell(item.base)} / {_judge_cell(item.fine_tuned)}",
                    _judge_delta(item),
                    f"{_f1_cell(item.base)} / {_f1_cell(item.fine_tuned)}",
                    _f1_delta(item),
                    _preferred(item),
                ]
                for item in evaluation.items
            ],
        )
    out.append("")
    return out


# ---------------------------------------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#111827;background:#f9fafb}
main{max-width:1100px;margin:0 auto;padding:24px 16px}
h1{font-size:1.6rem;margin:0 0 8px;overflow-wrap:anywhere}
h2{margin-top:32px;border-bottom:1px solid #e5e7eb;padding-bottom:4px}
.status{display:inline-block;padding:2px 10px;border-radius:999px;font-weight:700;color:#fff}
.SUCCEEDED{background:#15803d}.FAILED{background:#b91c1c}.REJECTED{background:#a16207}.ABORTED{background:#6b21a8}
.emulated{background:#fef3c7;border:2px solid #b45309;color:#78350f;padding:12px 16px;font-weight:700;margin:12px 0}
.label-emulated{color:#b45309;font-weight:700}
.headline{font-size:1.1rem;margin:12px 0}
.verdict-box{background:#fff;border:1px solid #e5e7eb;border-left:6px solid #4b5563;padding:8px 16px;margin:12px 0}
.verdict-box h2{margin-top:4px;border:0}
.verdict{padding:2px 10px;border-radius:999px;color:#fff}.improved{background:#15803d}.regressed{background:#b91c1c}
.no_clear_difference{background:#4b5563}.inconclusive{background:#a16207}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:8px 0;background:#fff;width:100%}
th,td{border:1px solid #e5e7eb;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6} td.num{text-align:right;white-space:nowrap}
th[data-sort]{cursor:pointer} th[data-sort]::after{content:" \\2195";color:#9ca3af}
.answer{white-space:pre-wrap;font-size:.9rem;overflow-wrap:anywhere}
details{font-size:.85rem;color:#374151} code{font-size:.85rem;overflow-wrap:anywhere}
.failure{background:#fef2f2;border-left:4px solid #b91c1c;padding:8px 16px}
.notdeleted{color:#b91c1c;font-weight:700}
figure{margin:8px 0;background:#fff;border:1px solid #e5e7eb;display:block;max-width:100%}
figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#4b5563;padding:4px 8px}
.questions{min-width:760px} .questions td:nth-child(2){width:22%}
.questions td:nth-child(3),.questions td:nth-child(4){width:30%}
.warning{background:#fffbeb;border-left:4px solid #b45309;padding:6px 12px}
.reevaluation{font-weight:700;overflow-wrap:anywhere}
.next{background:#fff;border:1px solid #e5e7eb;border-left:6px solid #1d4ed8;padding:8px 16px 8px 36px}
.next li{margin:8px 0;overflow-wrap:anywhere}
pre.command{white-space:pre-wrap;overflow-wrap:anywhere;background:#f3f4f6;border:1px solid #e5e7eb;padding:6px 8px;
margin:4px 0;max-width:100%;box-sizing:border-box}
"""

# Sorting and the regression filter for the per-question table. The table is complete and readable without it.
_SCRIPT = """
(function(){
  var table=document.getElementById('questions'); if(!table){return;}
  var body=table.tBodies[0];
  table.querySelectorAll('th[data-sort]').forEach(function(th){
    th.tabIndex=0;
    function sort(){
      var col=th.cellIndex, up=th.getAttribute('aria-sort')!=='ascending';
      table.querySelectorAll('th[data-sort]').forEach(function(o){o.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort', up?'ascending':'descending');
      var rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=parseFloat(a.cells[col].getAttribute('data-v')), y=parseFloat(b.cells[col].getAttribute('data-v'));
        if(isNaN(x)){x=up?Infinity:-Infinity;} if(isNaN(y)){y=up?Infinity:-Infinity;}
        return up?x-y:y-x;
      });
      rows.forEach(function(r){body.appendChild(r);});
    }
    th.addEventListener('click',sort);
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){e.preventDefault();sort();}});
  });
  var only=document.getElementById('only-regressions');
  if(only){
    only.disabled=false;
    only.addEventListener('change',function(){
      Array.prototype.forEach.call(body.rows,function(r){
        r.hidden=only.checked && r.getAttribute('data-regressed')!=='1';
      });
    });
  }
})();
"""


# What the local harness writes beside the report (``tuner run --local --out DIR``), each linked relatively.
LOCAL_ARTEFACTS = (
    ("report.json", "the report as data"),
    ("report.md", "the report in Markdown"),
    ("execution.json", "the execution's state-by-state history"),
    ("ledger.json", "every emulated Bedrock resource created and deleted"),
    ("lambda-logs.jsonl", "the handlers' structured logs"),
)


def _s3_uri(source: str, key: str) -> str:
    """``s3://bucket/key`` for a key of the run's bucket (``source`` is the dropped object's ``s3://`` URI)."""
    bucket = source.removeprefix("s3://").split("/", 1)[0]
    return f"s3://{bucket}/{key}"


def _s3_link(source: str, key: str) -> str:
    uri = _s3_uri(source, key)
    return f'<a href="{_e(uri)}"><code>{_e(uri)}</code></a>'


def _artefact_links(report: Report) -> list[str]:
    run = report.run
    prefix = f"runs/{run.run_id}/"
    if run.emulated:
        local = [f'<a href="{name}">{name}</a>: {_e(what)}' for name, what in LOCAL_ARTEFACTS]
        return [*local, f"in the emulated bucket: <code>{_e(_s3_uri(run.source, prefix))}</code>"]
    return [
        f"{_s3_link(run.source, prefix + name)}: {_e(what)}"
        for name, what in (
            ("report.json", "the report as data"),
            ("validation.json", "every dataset problem, statistics and estimates"),
            ("evaluation.json", "per-question answers, scores, statistics and the verdict"),
            ("answers/", "each answer as it was produced"),
            ("judgements/", "each judge verdict as it was produced"),
            ("job-output/", "Bedrock's job output and loss CSVs"),
        )
    ]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def render_html(report: Report) -> str:
    run = report.run
    emulated_label = ' <span class="label-emulated">(EMULATED)</span>' if run.emulated else ""
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Run {_e(run.run_id)}: {_e(report.status.value)}{' (EMULATED)' if run.emulated else ''}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f'<h1>Fine-tuning run <code>{_e(run.run_id)}</code> <span class="status {report.status.value}">'
        f"{_e(report.status.value)}</span></h1>",
    ]
    if run.emulated:
        parts.append(f'<div class="emulated" role="alert">{_e(EMULATED_NOTICE)}</div>')
    reevaluation = reevaluation_line(run)
    if reevaluation is not None:
        parts.append(f'<p class="reevaluation">{_e(reevaluation)}</p>')
    if report.verdict is not None:
        parts.append(_html_verdict(report.verdict, emulated_label))
    else:
        parts.append(f'<p class="headline">{_e(report.headline)}</p>')
    parts.append(
        _kv_table(
            [
                ("Source", f"<code>{_e(run.source)}</code>"),
                ("Base model", f"{_e(run.base_model_name)} (<code>{_e(run.base_model_id)}</code>)"),
                ("Serving", _e(run.serving.value)),
                ("Received", _e(run.received_at.isoformat())),
                ("Report generated", _e(report.generated_at.isoformat())),
                ("Estimated cost", _e(cost_summary(report.cost))),
                *([("What next", '<a href="#what-next">at the end of this report</a>')] if report.next_steps else []),
            ]
        )
    )

    serving = _html_serving(report)
    if serving:
        parts.append(serving)

    if report.failure is not None:
        items = "".join(
            f"<li><strong>{_e(f.step)}</strong> ({_e(f.error)}): {_e(f.message)}</li>" for f in report.failure.failures
        )
        cleanup = "".join(
            f'<li class="{"notdeleted" if line.startswith("NOT DELETED") else ""}">{_e(line)}</li>'
            for line in report.failure.cleanup
        )
        parts.append(
            f'<h2>What went wrong</h2><div class="failure"><ul>{items}</ul><h3>Clean-up</h3><ul>{cleanup}</ul></div>'
        )

    if report.preflight is not None:
        parts.append(_html_preflight(report.preflight))

    if run.reevaluation is not None:
        kept = (
            f"<p>Custom model after this report: {_e(report.custom_model.retention)}.</p>"
            if report.custom_model
            else ""
        )
        parts.append(f"<h2>Training</h2><p>{_e(NO_TRAINING_NOTE)}</p>{kept}")
    if report.dataset is not None and (run.reevaluation is None or not report.dataset.valid):
        data = report.dataset
        parts.append("<h2>Dataset</h2>")
        parts.append(
            "<table><tr><th>records</th><th>errors</th><th>warnings</th><th>train</th><th>validation</th>"
            f"<th>test</th><th>{_e(billed_tokens_header(data.epochs))}</th></tr><tr>"
            + "".join(
                f'<td class="num">{_e(v)}</td>'
                for v in (
                    data.records,
                    data.error_count,
                    data.warning_count,
                    data.train_records,
                    data.validation_records,
                    data.test_records,
                    data.estimated_training_tokens if data.estimated_training_tokens is not None else "n/a",
                )
            )
            + "</tr></table>"
        )
        if data.first_errors:
            rows = "".join(
                f"<tr><td class='num'>{_e(p.line if p.line is not None else '-')}</td><td><code>{_e(p.code)}</code>"
                f"</td><td>{_e(p.message)}</td></tr>"
                for p in data.first_errors
            )
            parts.append(
                f"<h3>First problems</h3><table><tr><th>line</th><th>code</th><th>problem</th></tr>{rows}</table>"
            )
        read = how_read(data)
        if read:
            parts.append(f"<p>{_e(read)}</p>")
        if data.validation_dropped:
            parts.append(f'<p class="warning">{_e(data.validation_dropped)}</p>')
        parts.append(f"<p>Full validation report: {_s3_link(run.source, data.validation_report_key)}</p>")

    if report.job is not None:
        job = report.job
        rows_kv = [
            ("Name", f"<code>{_e(job.name)}</code>"),
            ("ARN", f"<code>{_e(job.arn)}</code>"),
            ("Status", _e(job.status or "unknown")),
            ("Custom model", f"<code>{_e(job.custom_model_arn or job.custom_model_name)}</code>"),
            ("Started", _e(job.started_at.isoformat())),
            ("Ended", _e(job.ended_at.isoformat() if job.ended_at else "not recorded")),
            ("Duration", _e(fmt_duration(job.duration_seconds))),
        ]
        if job.failure_message:
            rows_kv.append(("Failure", _e(job.failure_message)))
        if job.retention:
            rows_kv.append(("Custom model after this report", _e(job.retention)))
        parts.append("<h2>Customization job</h2>" + _kv_table(rows_kv))
    if report.hyperparameters:
        parts.append(
            "<h3>Hyperparameters</h3>"
            + _kv_table([(k, f"<code>{_e(v)}</code>") for k, v in sorted(report.hyperparameters.items())])
        )

    if not report.loss.empty:
        loss = report.loss
        diagnosis = loss.diagnosis
        steps = step_loss_svg(
            loss.training, loss.validation, emulated=run.emulated, best_step=diagnosis.best_validation_step
        )
        epochs = loss_curve_svg(
            loss.training_epoch_means,
            loss.validation_epoch_means,
            emulated=run.emulated,
            best_epoch=diagnosis.best_validation_epoch,
        )
        notes = "".join(f'<p class="warning">{_e(line)}</p>' for line in _loss_notes(loss))
        parts.append(
            f"<h2>Loss{emulated_label}</h2>{notes}<figure>{steps}<figcaption>Training loss at every recorded step and "
            "validation loss at every evaluation; dashed lines mark where each epoch begins"
            f"{' (EMULATED)' if run.emulated else ''}.</figcaption></figure>"
            f"<details><summary>mean of each epoch</summary><figure>{epochs}</figure></details>"
        )

    if report.evaluation is not None:
        parts.append(_html_evaluation(report.evaluation, emulated_label))

    capacity = report.capacity
    line_class = "notdeleted" if capacity is not None and capacity.deleted is False else ""
    parts.append(f'<h2 id="cost">Inference capacity and cost{emulated_label}</h2>')
    parts.append(f'<p class="{line_class}">{_e(cost_line(capacity))}</p>')
    if report.cost is not None:
        parts.append(_html_cost(report.cost))
    parts.append("<h2>Artefacts</h2><ul>" + "".join(f"<li>{link}</li>" for link in _artefact_links(report)) + "</ul>")
    settings = json.dumps(run.settings, indent=2, sort_keys=True)
    parts.append(
        f"<h2>Settings</h2><details><summary>the settings this run used</summary><pre>{_e(settings)}</pre></details>"
    )
    if report.next_steps:
        parts.append(_html_next_steps(report.next_steps))
    parts.append(f"<script>{_SCRIPT}</script></main></body></html>")
    # Every table scrolls inside its own box, so a phone-wide page never scrolls sideways.
    return "\n".join(parts).replace("<table", '<div class="scroll"><table').replace("</table>", "</table></div>")


def _html_next_steps(steps: list[NextStep]) -> str:
    items = "".join(
        f"<li>{_e(step.text)}"
        + (f'<pre class="command"><code>{_e(step.command)}</code></pre>' if step.command else "")
        + "</li>"
        for step in steps
    )
    return f'<h2 id="what-next">What next</h2><ol class="next">{items}</ol>'


def _html_cost(cost: CostSection) -> str:
    rows = "".join(
        f'<tr><th>{_e(what)}</th><td class="num">{_e(amount)}</td><td>{_e(how)}</td><td>{_e(label)}</td></tr>'
        for what, amount, how, label in cost_rows(cost)
    )
    label_class = "emulated" if cost.emulated else "headline"
    return (
        f'<p class="{label_class}">{_e(cost.label)}. Nothing here is read from a bill.</p>'
        f'<table class="cost"><tr><th></th><th>estimate</th><th>how</th><th>label</th></tr>{rows}</table>'
    )


def _html_verdict(verdict: Verdict, emulated_label: str) -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in _VERDICT_HEADER)
    rows = "".join(
        "<tr>" + "".join(f'<td class="num">{_e(cell)}</td>' for cell in row) + "</tr>" for row in _verdict_rows(verdict)
    )
    return (
        f'<section class="verdict-box" id="verdict"><h2>Verdict: <span class="verdict {verdict.outcome.value}">'
        f"{_e(verdict.outcome.value.replace('_', ' '))}</span>{emulated_label}</h2>"
        f'<p class="headline">{_e(verdict.reason)}</p><table><tr>{head}</tr>{rows}</table>'
        f"<details><summary>how the verdict is decided</summary><p>Improved when the 95% confidence interval of the "
        f"primary metric's mean delta (fine-tuned minus base, paired by question) lies above 0 and the mean delta is "
        f"at least {_e(format_delta(verdict.primary_metric, verdict.min_effect))}; regressed when it lies below 0; "
        "inconclusive when the judge scored too few questions or too few were scored on both models.</p></details>"
        "</section>"
    )


def _evaluation_notes(evaluation: EvaluationSection) -> list[str]:
    notes = list(evaluation.warnings)
    if evaluation.judge_prompt_version:
        notes.append(f"Judge prompts version {evaluation.judge_prompt_version}.")
    if evaluation.pairwise is not None and evaluation.pairwise.judged:
        pair = evaluation.pairwise
        notes.append(
            f"Pairwise judge (both orders; a preference counts only when both agree): fine-tuned preferred on "
            f"{pair.fine_tuned_preferred}, base on {pair.base_preferred}, ties {pair.ties} of {pair.judged} "
            f"(win rate {pair.win_rate or 0:.0%}, position consistency {pair.position_consistency or 0:.0%})."
        )
    data = evaluation.evaluation_set
    if data is not None:
        where = (
            f"fixed evaluation set {data.key} (SHA-256 {data.sha256})"
            if data.source == "test_set"
            else f"test split {data.key}"
        )
        notes.append(f"Questions: {data.questions} from the {where}.")
        if data.leaked:
            notes.append(
                f"{data.leaked} test question(s) also appear in the training or validation data and were left out "
                "of the evaluation (leakage would inflate the verdict)."
            )
    return notes


def _judge_value(item: EvaluatedItem) -> float | None:
    tuned, base = item.fine_tuned.judge, item.base.judge
    if tuned is None or base is None or tuned.score is None or base.score is None:
        return None
    return float(tuned.score - base.score)


def _f1_value(item: EvaluatedItem) -> float | None:
    tuned, base = item.fine_tuned.bertscore, item.base.bertscore
    return tuned.f1 - base.f1 if tuned is not None and base is not None else None


def _preferred_value(item: EvaluatedItem) -> float | None:
    verdict = item.pairwise
    if verdict is None or verdict.preference is None:
        return None
    return verdict.preference.delta


def _regressed(item: EvaluatedItem) -> bool:
    """The fine-tuned answer did worse on the judge, or the pairwise judge preferred the base answer."""
    judge, preferred = _judge_value(item), _preferred_value(item)
    return (judge is not None and judge < 0) or (preferred is not None and preferred < 0)


def _sort_value(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _judge_delta(item: EvaluatedItem) -> str:
    tuned, base = item.fine_tuned.judge, item.base.judge
    if tuned is None or base is None or tuned.score is None or base.score is None:
        return "n/a"
    return f"{tuned.score - base.score:+d}"


def _f1_delta(item: EvaluatedItem) -> str:
    tuned, base = item.fine_tuned.bertscore, item.base.bertscore
    return f"{tuned.f1 - base.f1:+.3f}" if tuned is not None and base is not None else "n/a"


def _preferred(item: EvaluatedItem) -> str:
    verdict = item.pairwise
    if verdict is None:
        return "n/a"
    if verdict.preference is None:
        return "unscored"
    return verdict.preference.value.replace("_", "-")


def _html_evaluation(evaluation: EvaluationSection, emulated_label: str) -> str:
    layers = f" ({evaluation.bertscore_num_layers} layers)" if evaluation.bertscore_num_layers else ""
    judge_name = evaluation.judge_model_id or "disabled"
    out = [
        f"<h2>Evaluation: base vs fine-tuned{' vs champion' if evaluation.champion else ''}{emulated_label}</h2>",
        f"<p>BERTScore model: <code>{_e(evaluation.bertscore_model)}</code>{_e(layers)}. "
        f"Judge: <code>{_e(judge_name)}</code> (correctness 1-10 against the reference answer).</p>",
        "<table><tr><th>model</th><th>LLM-as-a-judge correctness (1-10)</th><th>BERTScore P / R / F1</th>"
        "<th>scored</th></tr>",
    ]
    contestants = [("fine-tuned", evaluation.fine_tuned), ("base", evaluation.base)]
    if evaluation.champion is not None:
        contestants.append((f"champion (run {evaluation.champion.run_id})", evaluation.champion.summary))
    for name, summary in contestants:
        cells = "".join(f'<td class="num">{_e(cell)}</td>' for cell in _summary_cells(summary))
        out.append(f"<tr><th>{_e(name)}</th>{cells}</tr>")
    out.append("</table>")
    notes = _evaluation_notes(evaluation)
    if notes:
        out.append("<ul>" + "".join(f"<li>{_e(note)}</li>" for note in notes) + "</ul>")
    if evaluation.items:
        regressions = sum(1 for item in evaluation.items if _regressed(item))
        out.append(
            f"<h3>Per question{emulated_label}</h3>"
            f'<p><label><input type="checkbox" id="only-regressions" disabled> show only the {regressions} '
            "question(s) where the fine-tuned model did worse</label> &middot; click a column heading to sort</p>"
            '<table class="questions" id="questions"><thead><tr>'
            '<th data-sort="index">#</th><th>question and reference</th><th>base answer</th>'
            '<th>fine-tuned answer</th><th data-sort="judge">judge delta</th><th data-sort="f1">F1 delta</th>'
            '<th data-sort="preferred">preferred</th></tr></thead><tbody>'
        )
        for item in evaluation.items:
            judge, f1, preferred = _judge_value(item), _f1_value(item), _preferred_value(item)
            out.append(
                f'<tr data-regressed="{int(_regressed(item))}"><td class="num" data-v="{item.index + 1}">'
                f"{item.index + 1}</td>"
                f'<td><div class="answer"><strong>{_e(item.question)}</strong></div>'
                f'<details><summary>reference</summary><div class="answer">{_e(item.reference)}</div></details></td>'
                f"<td>{_html_answer(item.base)}</td><td>{_html_answer(item.fine_tuned)}</td>"
                f'<td class="num" data-v="{_sort_value(judge)}">{_e(_judge_delta(item))}</td>'
                f'<td class="num" data-v="{_sort_value(f1)}">{_e(_f1_delta(item))}</td>'
                f'<td data-v="{_sort_value(preferred)}">{_e(_preferred(item))}</td></tr>'
            )
        out.append("</tbody></table>")
    return "".join(out)


def _html_answer(answer: ScoredAnswer) -> str:
    scores = f"judge {_e(_judge_cell(answer))} · BERTScore F1 {_e(_f1_cell(answer))}"
    reasoning = ""
    if answer.judge is not None:
        note = f" ({answer.judge.error})" if answer.judge.error else ""
        reasoning = (
            f"<details><summary>judge reasoning{_e(note)}</summary>"
            f'<div class="answer">{_e(answer.judge.reasoning)}</div></details>'
        )
    return f'<div class="answer">{_e(_answer_text(answer))}</div><p><strong>{scores}</strong></p>{reasoning}'


def _md_preflight(preflight: PreflightOutput) -> list[str]:
    """Every check made before any spend: what failed or warned first, with its fix."""
    order = {CheckStatus.FAILED: 0, CheckStatus.WARNING: 1, CheckStatus.PASSED: 2}
    checks = sorted(preflight.checks, key=lambda check: order[check.status])
    out = [
        "## Preflight",
        "",
        "Checked before any Bedrock create call" + (f" in {preflight.region}" if preflight.region else "") + ".",
        "",
    ]
    out += _md_table(
        ["", "check", "what", "finding", "fix"],
        [
            [
                check.status.value.upper(),
                _md(check.check),
                _md(check.subject),
                _md(check.message, None),
                _md(check.fix or "", None),
            ]
            for check in checks
        ],
    )
    return [*out, ""]


def _html_preflight(preflight: PreflightOutput) -> str:
    order = {CheckStatus.FAILED: 0, CheckStatus.WARNING: 1, CheckStatus.PASSED: 2}
    rows = "".join(
        f'<tr class="preflight-{check.status.value}"><td>{_e(check.status.value.upper())}</td>'
        f"<td>{_e(check.check)}</td><td>{_e(check.subject)}</td><td>{_e(check.message)}</td>"
        f"<td>{_e(check.fix or '')}</td></tr>"
        for check in sorted(preflight.checks, key=lambda check: order[check.status])
    )
    where = f" in {_e(preflight.region)}" if preflight.region else ""
    return (
        f"<h2>Preflight</h2><p>Checked before any Bedrock create call{where}.</p>"
        "<table><tr><th></th><th>check</th><th>what</th><th>finding</th><th>fix</th></tr>"
        f"{rows}</table>"
    )
