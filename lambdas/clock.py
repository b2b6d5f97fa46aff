"""The one source of "now" for domain code.

On AWS it is the system clock. The local harness replaces ``CLOCK`` with its simulated clock, so that a two-hour
training job and its capacity lifetime are measured in simulated time; no code branches on where it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


CLOCK: list[Callable[[], datetime]] = [_system_now]


def utc_now() -> datetime:
    return CLOCK[0]()


def use_clock(now: Callable[[], datetime]) -> None:
    CLOCK[0] = now


def use_system_clock() -> None:
    CLOCK[0] = _system_now
