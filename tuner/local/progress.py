"""The local run's progress display (rich): each state as it runs, the simulated clock, and the final score table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tuner.local.harness import Observer, RunResult, StepView
from tuner.local.simclock import iso

_STATUS_STYLE = {
    "running": "yellow",
    "done": "green",
    "retrying": "yellow",
    "caught": "red",
    "failed": "bold red",
    "aborted": "bold red",
    "timedout": "bold red",
}


class ConsoleObserver(Observer):
    def __init__(self, *, quiet: bool = False, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        self.quiet = quiet
        self._steps: list[StepView] = []
        self._now: datetime | None = None
        self._messages: list[str] = []
        self._after: list[str] = []  # what happens once the execution has ended (cleanup, sweeper), in order
        self._ended = False
        self._live: Live | None = None

    def __enter__(self) -> ConsoleObserver:
        if not self.quiet:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None
            self.console.print()

    def message(self, text: str) -> None:
        (self._after if self._ended else self._messages).append(text)
        self._refresh()

    def steps(self, steps: list[StepView], simulated_now: datetime) -> None:
        self._steps, self._now = steps, simulated_now
        self._ended = self._ended or any(step.kind in ("Succeed", "Fail") for step in steps)
        self._refresh()

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Group:
        table = Table(title="Local run (EMULATED Bedrock, simulated time)", title_justify="left", expand=False)
        table.add_column("#", justify="right", style="dim")
        table.add_column("state")
        table.add_column("type", style="dim")
        table.add_column("status")
        table.add_column("note", style="dim")
        collapsed = _collapse_polls(self._steps)
        for index, (step, repeats) in enumerate(collapsed, start=1):
            note = []
            if step.name.endswith("Shard"):
                done = sum(1 for other in self._steps if other.name == step.name and other.status == "done")
                note.append(f"{done} of {repeats} shard(s) done")
            elif repeats > 1:
                note.append(f"entered {repeats} times")
            if step.attempts > 1:
                note.append(f"{step.attempts} attempts")
            if step.error:
                note.append(step.error)
            table.add_row(
                str(index),
                step.name,
                step.kind,
                Text(step.status, style=_STATUS_STYLE.get(step.status, "")),
                " ".join(note),
            )
        clock = Text(f"simulated clock: {iso(self._now)}" if self._now else "simulated clock: -", style="cyan")
        messages = [Text(f"- {message}", style="dim") for message in self._messages[-6:]]
        after = [Text(f"- {message}", style="dim") for message in self._after]
        return Group(*messages, table, clock, *after)


def _collapse_polls(steps: list[StepView]) -> list[tuple[StepView, int]]:
    """Poll/Wait loops repeat many times in a long job: show each state once, in first-entered order, with how
    many times it was entered and its latest status."""
    latest: dict[str, tuple[StepView, int]] = {}
    for step in steps:
        count = latest[step.name][1] + 1 if step.name in latest else 1
        latest[step.name] = (step, count)
    return list(latest.values())


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _score(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_summary(result: RunResult, console: Console) -> None:
    simulated_hours = result.simulated_seconds / 3600
    console.print(
        f"run {result.run_id or '-'}: execution {result.execution_status or '-'}, "
        f"report {result.report_status or 'none'}; {simulated_hours:.1f} simulated hours in "
        f"{result.real_seconds:.1f} s"
    )
    for note in result.notes:
        console.print(f"note: {note}")
    for failure in result.emulator_failures:
        console.print(f"[bold red]emulator error:[/] {failure}")
    report = result.report or {}
    evaluation = report.get("evaluation")
    if evaluation:
        table = Table(title="Scores (EMULATED models: rehearsal figures, not a measurement)", title_justify="left")
        table.add_column("model")
        table.add_column("judge mean (1-10)", justify="right")
        table.add_column("BERTScore F1", justify="right")
        table.add_column("scored items", justify="right")
        for label, key in (("base", "base"), ("fine-tuned", "fine_tuned")):
            summary = evaluation.get(key) or {}
            table.add_row(
                f"{label} (emulated)",
                _score(summary.get("judge_mean"), 2),
                _score(summary.get("bertscore_f1"), 3),
                f"{summary.get('scored_items', 0)}/{summary.get('items', 0)}",
            )
        console.print(table)
    if report.get("headline"):
        console.print(f"report: {report['headline']}")
    capacity = [
        entry
        for entry in result.own_resources
        if entry["type"] in ("provisioned-throughput", "custom-model-deployment")
    ]
    cost = (report.get("capacity") or {}).get("estimated_cost_usd")
    for entry in capacity:
        if entry.get("role") == "serving":
            state = "the stack's serving deployment: kept on purpose, billed per token (tuner serving --delete)"
        elif entry["deleted_at"]:
            lived = (_when(entry["deleted_at"]) - _when(entry["created_at"])).total_seconds()
            state = f"deleted {entry['deleted_at']} by {entry['deleted_by']}, lived {lived / 60:.0f} min (simulated)"
        else:
            state = "STILL EXISTS"
        priced = f"; estimated cost ${cost:,.2f} (EMULATED)" if cost is not None else ""
        console.print(f"capacity {entry['arn']}: created {entry['created_at']}, {state}{priced}")
    written = ", ".join(
        name
        for name in ("report.json", "report.md", "report.html", "execution.json", "ledger.json", "lambda-logs.jsonl")
        if (result.out_dir / name).is_file()
    )
    console.print(f"artefacts in {result.out_dir}/: {written}")
