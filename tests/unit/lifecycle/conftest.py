from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from lambdas import clock
from tests.unit.lifecycle.factories import FixedClock


@pytest.fixture
def fixed_clock() -> Iterator[FixedClock]:
    fake = FixedClock()
    clock.use_clock(fake)
    yield fake
    clock.use_system_clock()


@pytest.fixture
def bedrock_stub() -> Iterator[tuple[object, Stubber]]:
    """A real bedrock client whose calls are checked against the service model and answered from a queue."""
    client = boto3.client("bedrock", region_name="us-west-2")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()
