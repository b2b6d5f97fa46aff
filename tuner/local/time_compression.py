"""Waits that advance the simulated clock instead of sleeping.

Three places sleep during a run, and each is patched for the duration of a local run only:

* moto's ASL engine, ``WaitFunction._wait_interval`` (every Wait state): advances the clock by the waited seconds.
  While a run is held (the ``stop`` scenario parks the execution in a Wait state so the harness can stop it), the
  patched wait blocks until the execution is no longer running, exactly as a real Wait is interrupted by a stop.
* moto's retrier, ``retrier_decl.time.sleep`` (Retry intervals of Task states).
* botocore's ``endpoint.time.sleep`` (client-side retry back-off after throttling or 5xx answers).
* botocore's adaptive retry mode rate limiter (``botocore.retries.bucket.Clock`` and ``TokenBucket``, looked up by
  ``botocore.retries.adaptive.register_retry_handler`` when a client is created): after a throttle it makes
  requests wait for tokens; here it measures simulated time and its waits advance the clock.

``tests/unit/local/test_moto_internals.py`` fails, naming the internal, if a moto or botocore upgrade moves any of them.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tuner.local.simclock import SimulatedClock

WAIT_FUNCTION_MODULE = "moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function"
RETRIER_MODULE = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
BOTOCORE_ENDPOINT_MODULE = "botocore.endpoint"
BOTOCORE_BUCKET_MODULE = "botocore.retries.bucket"

HOLD_POLL_SECONDS = 0.05
HOLD_LIMIT_SECONDS = 60.0


class TimeCompression:
    """Installed for one run; ``hold`` makes the next Wait state block until the execution stops."""

    def __init__(self, clock: SimulatedClock) -> None:
        self.clock = clock
        self.waits: list[int] = []  # every Wait state's seconds, in order (for tests and the progress display)
        self.hold: Callable[[], bool] = lambda: False
        self.holding = threading.Event()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.clock.advance(seconds)

    def wait_state(self, env: Any, wait_seconds: int) -> None:
        self.waits.append(wait_seconds)
        self.sleep(wait_seconds)
        if not self.hold():
            return
        self.holding.set()
        waited = 0.0
        while env.is_running() and waited < HOLD_LIMIT_SECONDS:
            env.program_state_event.wait(HOLD_POLL_SECONDS)
            waited += HOLD_POLL_SECONDS
        self.holding.clear()


def _sleeping_time_module(compression: TimeCompression) -> types.SimpleNamespace:
    """Stands in for the ``time`` module inside a module that only calls ``time.sleep``."""
    return types.SimpleNamespace(sleep=compression.sleep)


class _SimulatedBucketClock:
    """``botocore.retries.bucket.Clock`` on the simulated clock."""

    def __init__(self, compression: TimeCompression) -> None:
        self._compression = compression

    def sleep(self, amount: float) -> None:
        self._compression.sleep(amount)

    def current_time(self) -> float:
        return self._compression.clock.now().timestamp()


def _simulated_token_bucket(compression: TimeCompression, token_bucket: type) -> type:
    class SimulatedTokenBucket(token_bucket):  # type: ignore[misc]
        """Waits for a token by advancing the simulated clock instead of blocking the thread."""

        def _acquire(self, amount: float, block: bool) -> bool:
            self._refill()
            if amount > self._current_capacity:
                if not block:
                    return bool(super()._acquire(amount, block))  # raises CapacityNotAvailableError
                compression.sleep(self._sleep_amount(amount))
                self._refill()
            self._current_capacity -= amount
            return True

    return SimulatedTokenBucket


@contextmanager
def compressed_time(clock: SimulatedClock) -> Iterator[TimeCompression]:
    import importlib

    wait_module = importlib.import_module(WAIT_FUNCTION_MODULE)
    retrier_module = importlib.import_module(RETRIER_MODULE)
    endpoint_module = importlib.import_module(BOTOCORE_ENDPOINT_MODULE)
    bucket_module = importlib.import_module(BOTOCORE_BUCKET_MODULE)
    wait_function = wait_module.WaitFunction

    compression = TimeCompression(clock)
    original_wait = wait_function._wait_interval
    original_retrier_time = getattr(retrier_module, "time")  # noqa: B009
    original_endpoint_time = getattr(endpoint_module, "time")  # noqa: B009
    original_clock, original_bucket = getattr(bucket_module, "Clock"), getattr(bucket_module, "TokenBucket")  # noqa: B009

    def _wait_interval(_self: Any, env: Any, wait_seconds: int) -> None:
        compression.wait_state(env, wait_seconds)

    wait_function._wait_interval = _wait_interval
    setattr(retrier_module, "time", _sleeping_time_module(compression))  # noqa: B010
    setattr(endpoint_module, "time", _sleeping_time_module(compression))  # noqa: B010
    setattr(bucket_module, "Clock", lambda: _SimulatedBucketClock(compression))  # noqa: B010
    setattr(bucket_module, "TokenBucket", _simulated_token_bucket(compression, original_bucket))  # noqa: B010
    try:
        yield compression
    finally:
        wait_function._wait_interval = original_wait
        setattr(retrier_module, "time", original_retrier_time)  # noqa: B010
        setattr(endpoint_module, "time", original_endpoint_time)  # noqa: B010
        setattr(bucket_module, "Clock", original_clock)  # noqa: B010
        setattr(bucket_module, "TokenBucket", original_bucket)  # noqa: B010
