"""Simulated time for a local run.

A training job takes hours and capacity is swept after hours; a rehearsal must take seconds. Every "wait" of the run
(Wait states, Step Functions retry intervals, boto3 retry back-off) advances this clock instead of sleeping, and the
handlers read it through ``lambdas.clock.utc_now``, so timestamps, lifetimes and cost estimates are all simulated.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimulatedClock:
    """A thread-safe clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime.now(UTC).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start time")
        self._start = start
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"time cannot go backwards ({seconds} s)")
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    @property
    def start(self) -> datetime:
        return self._start

    @property
    def elapsed_seconds(self) -> float:
        return (self.now() - self._start).total_seconds()


def iso(moment: datetime) -> str:
    """The timestamp form used in the ledger and the progress display."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
