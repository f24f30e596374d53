"""Shared fixtures: a running emulator and a client pointed at it."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.testing import Emulator

# A copy of ../shared/fixtures (Apache-2.0, see its NOTICE.md), so a fresh clone can test.
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sinch-sdk-java-voice-v1"

FAST_RETRY = RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.002, max_retry_after=0.05)


def fixture_json(relative: str) -> Any:
    """Load one of the Java SDK's JSON fixtures."""
    return json.loads((FIXTURES / relative).read_text())


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """A fresh emulator, serving on a free loopback port."""
    async with Emulator() as emu:
        yield emu


@pytest.fixture
async def sinch(emulator: Emulator) -> AsyncIterator[SinchCalling]:
    """A signed client of ``emulator`` with near-instant retries."""
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url, retry=FAST_RETRY) as client:
        yield client


@pytest.fixture
def held_fsync(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """``os.fsync`` that signals ``entered`` and then waits for ``release``."""
    entered, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        entered.set()
        release.wait(30)  # a safety net only: the test releases it
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    yield entered, release
    release.set()


# Real PostgreSQL/Redis/RabbitMQ for the fleet tests (skipped, or failed under
# SINCH_CALLING_REQUIRE_SERVICES=1, when a service does not answer).
from .services import postgres_schema, redis_prefix  # noqa: E402, F401
