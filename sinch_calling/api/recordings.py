"""``sinch.recordings``: list, stream, download, delete and export recordings."""

from __future__ import annotations

from ..transport import Transport

__all__ = ["RecordingsApi"]


class RecordingsApi:
    """Recordings (traffic host)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
