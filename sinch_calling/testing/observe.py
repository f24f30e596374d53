"""Watching the emulator's traffic: one record per request served and callback sent.

    emu.observers.add(lambda x: print(f"{x.kind:8} {x.method} {x.target} "
                                      f"{x.status or '-'} {x.elapsed * 1000:.1f} ms"))

Every request the emulator answers (or drops) and every callback attempt it makes is
reported to each observer as one :class:`Exchange`, after the fact. This is the hook
the ``sinch-calling emulator`` command's per-request log line is built on; a test may
use it to watch traffic without reading the journals. Observers run synchronously on
the event loop: keep them quick. One that raises is logged (logger
``sinch_calling.testing``) and the emulator goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Literal

import attrs

__all__ = ["Exchange", "Observer", "Observers"]

_log = logging.getLogger("sinch_calling.testing")


@attrs.frozen(kw_only=True)
class Exchange:
    """One HTTP exchange the emulator took part in.

    ``kind``: ``"request"`` (a client called the emulator) or ``"callback"`` (the
    emulator POSTed an event to a backend). ``method``: the HTTP method. ``target``:
    the request's path as sent, without the query (``/calling/v1/callouts``), or the
    callback's URL. ``status``: the HTTP status answered (request) or received
    (callback); ``None`` when there was none (a fault dropped the connection, the
    backend was unreachable or timed out). ``elapsed``: seconds from the request's
    arrival until its response was handed over (request; a streamed download counts
    until its last byte), or from the POST until its answer was read (callback).
    ``error``: why there was no normal answer (``"client disconnected"``, ``"dropped by
    fault"``, a connection error), else ``None``. ``event``: the callback's event name
    (``ice``, ``ace``, ``pie``, ``dice``, ``notify``); ``None`` for requests.
    """

    kind: Literal["request", "callback"]
    method: str
    target: str
    status: int | None
    elapsed: float
    error: str | None = None
    event: str | None = None


Observer = Callable[[Exchange], None]


class Observers:
    """The emulator's observers, called in the order they were added."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []

    def add(self, observer: Observer) -> Observer:
        """Call ``observer`` with every :class:`Exchange` from now on; returns it (so
        ``add`` works as a decorator)."""
        self._observers.append(observer)
        return observer

    def remove(self, observer: Observer) -> None:
        """Stop calling ``observer`` (``ValueError`` if it was not added)."""
        self._observers.remove(observer)

    def __bool__(self) -> bool:
        return bool(self._observers)

    def __len__(self) -> int:
        return len(self._observers)

    def __iter__(self) -> Iterator[Observer]:
        return iter(list(self._observers))

    def notify(self, exchange: Exchange) -> None:
        """Report ``exchange`` to every observer; one that raises is logged and skipped."""
        for observer in list(self._observers):
            try:
                observer(exchange)
            except Exception:
                _log.exception("emulator observer %r failed", observer)
