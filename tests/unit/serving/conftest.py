"""The emulated account the serving tests act on: the local Bedrock emulator behind real boto3 clients, moto's SSM
and S3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.local.test_bedrock_emulator import Emulated, _start
from tests.unit.serving.test_actions import Account
from tuner.local.scenarios import BedrockBehaviour


@pytest.fixture
def emulated(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulated]:
    yield from _start(BedrockBehaviour(), monkeypatch)


@pytest.fixture
def account(emulated: Emulated) -> Account:
    return Account(emulated)
