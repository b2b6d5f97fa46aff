"""Translate what survives the clients' own (adaptive) retries into the errors the state machine acts on.

``TransientServiceError`` is retried by the workflow with backoff; ``QuotaExceededError`` never is (retrying cannot
raise a quota). Everything else propagates unchanged and lands in the run's Catch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from lambdas.errors import QuotaExceededError, TransientServiceError

TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalServerException",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
QUOTA_CODES = frozenset({"ServiceQuotaExceededException", "LimitExceededException"})
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "ResourceNotFound"})


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", "")) or error_code(error)


def is_not_found(error: ClientError) -> bool:
    return error_code(error) in NOT_FOUND_CODES


def _http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


@contextmanager
def service_call(action: str, *, quota_hint: str = "", extra_transient: frozenset[str] = frozenset()) -> Iterator[None]:
    """Run one AWS call; ``action`` says what was being done, ``quota_hint`` what a person can do about a quota."""
    try:
        yield
    except ClientError as error:
        code = error_code(error)
        if code in QUOTA_CODES:
            hint = f"; {quota_hint}" if quota_hint else ""
            raise QuotaExceededError(f"{action}: quota exceeded ({error_message(error)}){hint}") from error
        if code in TRANSIENT_CODES or code in extra_transient or _http_status(error) >= 500:
            raise TransientServiceError(f"{action}: {code}: {error_message(error)}") from error
        raise
    except (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError) as error:
        raise TransientServiceError(f"{action}: {error}") from error
