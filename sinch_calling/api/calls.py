"""``sinch.calls``: read and steer live calls."""

from __future__ import annotations

from ..transport import Transport

__all__ = ["CallsApi"]


class CallsApi:
    """Calls (traffic host): ``get``, ``manage``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
