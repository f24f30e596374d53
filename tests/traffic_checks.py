"""Assertions shared by the traffic tests (callouts, calls, conferences)."""

from __future__ import annotations

from typing import Any

from sinch_calling.auth import CallbackVerifier
from sinch_calling.testing import Emulator, RecordedRequest

JSON_TYPE = "application/json; charset=UTF-8"


def only_request(emulator: Emulator) -> RecordedRequest:
    """The one request the emulator received."""
    assert len(emulator.requests) == 1, [(r.method, r.path) for r in emulator.requests]
    return emulator.requests[0]


def assert_signed(emulator: Emulator, request: RecordedRequest) -> None:
    """The request carries a valid Application signature over what was sent."""
    assert request.headers["Authorization"].startswith("Application ")
    CallbackVerifier(emulator.application_key, emulator.application_secret).verify(
        request.method, request.path, request.headers, request.body)


def assert_sent(emulator: Emulator, method: str, path: str, body: Any = None) -> RecordedRequest:
    """Exactly one request went out: ``method path``, signed, with this JSON ``body``
    (``None``: no body and no Content-Type)."""
    request = only_request(emulator)
    assert (request.method, request.path) == (method, path)
    assert_signed(emulator, request)
    if body is None:
        assert request.body == b""
    else:
        assert request.headers["Content-Type"] == JSON_TYPE
        assert request.json() == body
    return request


async def settle(emulator: Emulator) -> None:
    """Let the emulator's scheduled call progress run, when it has any."""
    settle_ = getattr(emulator, "settle", None)
    if settle_ is not None:
        await settle_()
