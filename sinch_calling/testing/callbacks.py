"""Callbacks the emulator sends: signed ICE/ACE/PIE/DiCE/notify POSTs to a backend.

Each event is signed as Sinch signs its callbacks (``Authorization: Application
key:signature``, ``x-timestamp``, ``Content-Type: application/json``, over the
callback URL's path). When the primary URL fails (connection error, timeout, 5xx) the
next URL (the application's fallback) gets the same event. Every attempt is journaled
as a :class:`~sinch_calling.testing.SentEvent`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from yarl import URL

from ..auth import Credentials, sign_request
from .journal import Journal, SentEvent
from .observe import Exchange, Observers

__all__ = ["CONTENT_TYPE", "CallbackSender", "parse_svaml"]

CONTENT_TYPE = "application/json"


def parse_svaml(body: bytes | str) -> dict[str, Any] | None:
    """A SVAML document (a JSON object) from a backend's answer; ``None`` if it is not one."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def signed_callback_headers(credentials: Credentials, url: str, body: bytes) -> dict[str, str]:
    """The headers Sinch sends with a callback ``body`` POSTed to ``url``."""
    headers = sign_request(credentials, method="POST", path=URL(url).raw_path,
                           content_type=CONTENT_TYPE, body=body)
    headers["Content-Type"] = CONTENT_TYPE
    return headers


class CallbackSender:
    """Owns the one client session callbacks go through (opened by :meth:`start`,
    closed by :meth:`close`); journals every attempt and reports it to ``observers``."""

    def __init__(self, journal: Journal[SentEvent], *, timeout: float = 5.0,
                 observers: Observers | None = None) -> None:
        self._journal = journal
        self._observers = observers if observers is not None else Observers()
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session (in the running loop)."""
        if self._session is None:
            # No connection limit: Sinch has none, and the timeout must not count time
            # spent queueing for a pooled connection (a busy backend would look dead).
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout, connect=self.timeout),
                connector=aiohttp.TCPConnector(limit=0),
                headers={"User-Agent": "sinch_calling-emulator"},
            )

    async def close(self) -> None:
        """Close the session; idempotent."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def send(self, credentials: Credentials, urls: Sequence[str], event: dict[str, Any],
                   ) -> SentEvent | None:
        """POST ``event`` to the first URL that works; the journal entry of the attempt
        that got an answer (or of the last failure); ``None`` without URLs."""
        if self._session is None:
            raise RuntimeError("the emulator is not running")
        body = json.dumps(event, separators=(",", ":")).encode()
        last: SentEvent | None = None
        for index, url in enumerate(urls):
            started = time.perf_counter()
            last = await self._post(self._session, credentials, url, body, event, index > 0)
            self._journal.append(last)
            if self._observers:
                self._observers.notify(Exchange(
                    kind="callback", method="POST", target=url, status=last.status,
                    elapsed=time.perf_counter() - started, error=last.error, event=last.name))
            if last.status is not None and last.status < 500:
                return last
        return last

    async def _post(self, session: aiohttp.ClientSession, credentials: Credentials, url: str,
                    body: bytes, event: dict[str, Any], fallback: bool) -> SentEvent:
        headers = signed_callback_headers(credentials, url, body)
        try:
            async with session.post(url, data=body, headers=headers,
                                    allow_redirects=False) as response:
                answer = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return SentEvent(url=url, event=event, status=None, fallback=fallback,
                             error=f"{type(exc).__name__}: {exc}".rstrip(": "))
        svaml = parse_svaml(answer) if 200 <= status < 300 else None
        return SentEvent(url=url, event=event, status=status, svaml=svaml, fallback=fallback)
