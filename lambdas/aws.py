"""boto3 clients with the retry behaviour every step relies on.

Where a client points (AWS, or the local emulator) is decided by standard AWS configuration only: credentials,
region and ``AWS_ENDPOINT_URL_<SERVICE>`` variables. Nothing here knows whether it runs locally.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Adaptive mode backs off on throttling (ThrottlingException, TooManyRequests) and transient 5xx errors.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=10, read_timeout=120)


@cache
def client(service: str) -> Any:
    """One client per service per process (Lambda reuses it across invocations)."""
    return boto3.client(service, config=RETRY_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (the local harness calls this when it changes endpoints or credentials)."""
    client.cache_clear()
