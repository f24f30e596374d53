"""``sinch.conferences``: inspect conferences and control participants."""

from __future__ import annotations

from ..transport import Transport

__all__ = ["ConferencesApi"]


class ConferencesApi:
    """Conferences (traffic host): ``get``, ``mute``, ``unmute``, ``kick``, ``kick_all``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
