"""``python -m tuner compare RUN_A RUN_B``: two runs' reports side by side, as a table and an HTML page.

Warns when the two runs were not evaluated on the same questions (a different fixed set, or each run's own test
split): their verdicts then answer different questions and their deltas are not comparable.
"""

from __future__ import annotations

import argparse
import html
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tuner.cli import EXIT_OK

if TYPE_CHECKING:
    from lambdas.reporting.model import Report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare", help="two runs' reports side by side", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="a run's folder or report.json")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="another run's folder or report.json")
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the comparison as an HTML page")
    parser.set_defaults(run=run)


def same_questions(a: Report, b: Report) -> str | None:
    """None when both runs asked the same questions; otherwise why their verdicts are not comparable."""
    set_a = a.evaluation.evaluation_set if a.evaluation else None
    set_b = b.evaluation.evaluation_set if b.evaluation else None
    if set_a is None or set_b is None:
        return "at least one run has no evaluation to compare"
    if set_a.source == "test_set" and set_b.source == "test_set" and set_a.sha256 == set_b.sha256:
        return None
    if set_a.source == "test_set" and set_b.source == "test_set":
        return f"the runs used different evaluation sets ({set_a.key} {set_a.sha256} vs {set_b.key} {set_b.sha256})"
    questions_a = [item.question for item in a.evaluation.items] if a.evaluation else []
    questions_b = [item.question for item in b.evaluation.items] if b.evaluation else []
    if questions_a and questions_a == questions_b:
        return None
    return "the runs were not evaluated on the same questions (each on its own test split); set evaluation.test_set"


def rows(a: Report, b: Report) -> list[tuple[str, str, str]]:
    def metric(report: Report, name: str) -> str:
        verdict = report.verdict
        stats = next((m for m in verdict.metrics if m.name == name), None) if verdict else None
        if stats is None or stats.mean_delta is None or stats.ci_low is None or stats.ci_high is None:
            return "n/a"
        return f"{stats.mean_delta:+.3g} [{stats.ci_low:+.3g}, {stats.ci_high:+.3g}] on {stats.n}"

    def cost(report: Report) -> str:
        from lambdas.pricing import fmt_usd

        if report.cost is not None and report.cost.total_usd is not None:
            return ("at least " if not report.cost.complete else "") + fmt_usd(report.cost.total_usd)
        value = report.capacity.estimated_cost_usd if report.capacity else None
        return f"capacity ${value:,.2f}" if value is not None else "n/a"

    def loss(report: Report) -> str:
        means = report.loss.validation_epoch_means or report.loss.training_epoch_means
        return f"{means[-1].mean_loss:.4f}" if means else "n/a"

    names = sorted({m.name for r in (a, b) if r.verdict for m in r.verdict.metrics})
    out = [
        ("run", a.run.run_id, b.run.run_id),
        ("status", a.status.value, b.status.value),
        ("model", a.run.base_model_id, b.run.base_model_id),
        ("emulated", str(a.run.emulated), str(b.run.emulated)),
        ("verdict", a.verdict.outcome.value if a.verdict else "-", b.verdict.outcome.value if b.verdict else "-"),
    ]
    out += [(f"{name} delta [95% CI]", metric(a, name), metric(b, name)) for name in names]
    hyper = sorted(set(a.hyperparameters) | set(b.hyperparameters))
    out += [(f"hyperparameter {h}", a.hyperparameters.get(h, "-"), b.hyperparameters.get(h, "-")) for h in hyper]
    out += [
        ("final loss (validation, else training)", loss(a), loss(b)),
        ("total cost (estimated, list prices)", cost(a), cost(b)),
    ]
    return out


def render_html(a: Report, b: Report, warning: str | None) -> str:
    e = html.escape
    body = "".join(f"<tr><th>{e(k)}</th><td>{e(x)}</td><td>{e(y)}</td></tr>" for k, x, y in rows(a, b))
    note = f'<p class="warning">Warning: {e(warning)}.</p>' if warning else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Compare {e(a.run.run_id)} and {e(b.run.run_id)}</title><style>"
        "body{font-family:Helvetica,Arial,sans-serif;margin:16px}.scroll{overflow-x:auto}"
        "table{border-collapse:collapse}th,td{border:1px solid #e5e7eb;padding:6px 8px;text-align:left}"
        ".warning{background:#fffbeb;border-left:4px solid #b45309;padding:6px 12px}</style></head><body>"
        f"<h1>{e(a.run.run_id)} vs {e(b.run.run_id)}</h1>{note}"
        f'<div class="scroll"><table><tr><th></th><th>A</th><th>B</th></tr>{body}</table></div></body></html>'
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from tuner.commands.report import load_report, write_atomically

    a, b = load_report(args.run_a), load_report(args.run_b)
    warning = same_questions(a, b)
    table = Table(title=f"{a.run.run_id} vs {b.run.run_id}")
    for column in ("", "A", "B"):
        table.add_column(column, overflow="fold")
    for row in rows(a, b):
        table.add_row(*row)
    Console().print(table)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    if args.html:
        write_atomically(args.html, render_html(a, b, warning))
        print(f"wrote {args.html}")
    return EXIT_OK
