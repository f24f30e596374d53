"""What the emulator received and sent, for assertions in tests."""

from __future__ import annotations

import json
from typing import Any

import attrs
from multidict import CIMultiDictProxy

__all__ = ["RecordedRequest"]


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as the emulator saw it: raw path (as sent), query, headers, body."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)
