"""How many Step Functions state transitions the polling loops use, and how late they notice completion.

Each loop iteration is three transitions (poll task, status choice, wait); the last iteration has no wait. The job
wait grows geometrically (``PollingSettings`` defaults) because a training job takes hours and nothing is billed
while we wait for it; the capacity wait stays short and steady because a throughput bills from the moment it exists.
Compared with a fixed 60 s loop. Run from the repository root: ``.venv/bin/python -m benchmarks.polling_transitions``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lambdas.lifecycle.customization import job_wait_seconds
from lambdas.settings import PollingSettings

TRANSITIONS_PER_ITERATION = 3  # poll task + choice + wait
PT_USD_PER_HOUR = 132.0  # the reference study's no-commitment Provisioned Throughput


@dataclass(frozen=True)
class LoopFigures:
    polls: int
    transitions: int
    detected_after_seconds: int  # when the poll that saw the terminal status ran
    latency_seconds: int  # detected - finished


def simulate(duration_seconds: int, wait_after_poll: Callable[[int], int]) -> LoopFigures:
    """The first poll runs as the resource is created (t = 0); then wait, poll, ... until one sees it finished."""
    now, polls = 0, 1
    while now < duration_seconds:
        now += wait_after_poll(polls)
        polls += 1
    return LoopFigures(
        polls=polls,
        transitions=polls * TRANSITIONS_PER_ITERATION - 1,
        detected_after_seconds=now,
        latency_seconds=now - duration_seconds,
    )


def worst_latency(duration_seconds: int, wait_after_poll: Callable[[int], int], *, window: int = 3600) -> int:
    """The largest detection delay for any finish time within ``window`` seconds around ``duration_seconds``."""
    start = max(1, duration_seconds - window // 2)
    return max(simulate(d, wait_after_poll).latency_seconds for d in range(start, duration_seconds + window // 2, 7))


def main() -> None:
    polling = PollingSettings()
    geometric = lambda polls: job_wait_seconds(polls, polling)  # noqa: E731 - a named curve reads better inline
    fixed_60 = lambda _polls: 60  # noqa: E731
    steady = lambda _polls: polling.capacity_wait_seconds  # noqa: E731

    print(
        f"PollingSettings defaults: job first wait {polling.job_first_wait_seconds} s x{polling.job_wait_growth} "
        f"up to {polling.job_max_wait_seconds} s; capacity every {polling.capacity_wait_seconds} s"
    )
    print()
    print("customization job wait (nothing is billed yet: latency delays the purchase, it costs no capacity)")
    print(
        f"{'job length':>10} | {'geometric polls':>15} {'transitions':>11} {'latency s':>9} | "
        f"{'fixed-60s polls':>15} {'transitions':>11} {'latency s':>9}"
    )
    for minutes in (30, 60, 120, 240, 480):
        g = simulate(minutes * 60, geometric)
        f = simulate(minutes * 60, fixed_60)
        print(
            f"{minutes:>7} min | {g.polls:>15} {g.transitions:>11} {g.latency_seconds:>9} | "
            f"{f.polls:>15} {f.transitions:>11} {f.latency_seconds:>9}"
        )
    two_hours = 2 * 3600
    g2, f2 = simulate(two_hours, geometric), simulate(two_hours, fixed_60)
    print()
    print(
        f"2-hour job: {g2.transitions} transitions with the growing wait (target <= 60), "
        f"{f2.transitions} with a fixed 60 s loop ({f2.transitions / g2.transitions:.1f}x more)"
    )
    print(
        f"2-hour job: worst-case detection latency after completion {worst_latency(two_hours, geometric)} s "
        f"(growing wait, capped at {polling.job_max_wait_seconds} s) vs {worst_latency(two_hours, fixed_60)} s "
        "(fixed 60 s)"
    )

    print()
    print("inference capacity wait (billing runs: a steady short wait)")
    twenty_minutes = 20 * 60
    c = simulate(twenty_minutes, steady)
    worst = worst_latency(twenty_minutes, steady, window=600)
    print(
        f"20-minute throughput creation: {c.polls} polls, {c.transitions} transitions, "
        f"worst-case detection latency {worst} s (= ${PT_USD_PER_HOUR * worst / 3600:.2f} of idle "
        f"throughput at ${PT_USD_PER_HOUR:g}/h)"
    )
    growing_capacity = simulate(twenty_minutes, geometric)
    worst_growing = worst_latency(twenty_minutes, geometric, window=600)
    print(
        f"  (the job's growing wait here would use {growing_capacity.transitions} transitions but could idle "
        f"{worst_growing} s = ${PT_USD_PER_HOUR * worst_growing / 3600:.2f}: steady is cheaper)"
    )
    total = g2.transitions + c.transitions
    print()
    print(
        f"both loops for the reference run (2 h job + 20 min throughput): {total} transitions "
        f"= ${total * 0.025 / 1000:.4f} at $0.025 per 1,000 Standard-workflow transitions"
    )


if __name__ == "__main__":
    main()
