"""What the emulator received and sent, for assertions in tests."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from typing import Any

import attrs
from multidict import CIMultiDictProxy

__all__ = ["RecordedRequest", "SentEvent", "matching_requests"]


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


@attrs.frozen(kw_only=True)
class SentEvent:
    """One callback the emulator POSTed to a backend, and what came back.

    ``status`` is ``None`` when no HTTP answer arrived (``error`` says why: connection
    refused, timeout, ...); ``svaml`` is the SVAML document the backend answered
    (``None`` for DiCE/notify or an unusable answer); ``fallback`` tells the attempt
    went to the application's fallback URL.
    """

    url: str
    event: dict[str, Any]
    status: int | None
    svaml: dict[str, Any] | None = None
    error: str | None = None
    fallback: bool = False

    @property
    def name(self) -> str:
        """``ice``, ``ace``, ``pie``, ``dice`` or ``notify``."""
        return str(self.event.get("event", ""))

    @property
    def call_id(self) -> str:
        """The call the event is about."""
        return str(self.event.get("callid", ""))

    @property
    def ok(self) -> bool:
        """Did the backend answer 2xx?"""
        return self.status is not None and 200 <= self.status < 300


def matching_requests(requests: Iterable[RecordedRequest], path: str,
                      method: str | None = None) -> list[RecordedRequest]:
    """Requests whose raw path matches the glob ``path`` (and ``method``, if given)."""
    wanted = method.upper() if method else None
    return [r for r in requests
            if (wanted is None or r.method == wanted)
            and (r.path == path or fnmatch.fnmatchcase(r.path, path))]
