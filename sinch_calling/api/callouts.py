"""``sinch.callouts``: place text-to-speech, conference and custom callouts."""

from __future__ import annotations

from ..transport import Transport

__all__ = ["CalloutsApi"]


class CalloutsApi:
    """Callouts (traffic host): ``tts``, ``conference``, ``custom``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
