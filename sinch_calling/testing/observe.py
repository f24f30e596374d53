"""Watching the emulator's traffic: one record per request served and callback sent.

    emu.observers.add(lambda x: print(f"{x.kind:8} {x.method} {x.target} "
                                      f"{x.status or '-'} {x.elapsed * 1000:.1f} ms"))

Every request the emulator answers (or drops) and every callback attempt it makes is
reported to each observer as one :class:`Exchange`, after the fact. This is the hook
the ``sinch-calling emulator`` command's per-request log line is built on; a test may
use it to watch traffic without reading the journals.

Observers are plain functions, called synchronously on the event loop: keep them quick.
``async def`` observers are refused (``TypeError`` from :meth:`Observers.add`): nothing
would await them; to do asynchronous work, hand the exchange over
(``queue.put_nowait(x)``) and await it in the test.

Whatever an observer raises (an ``assert``, ``pytest.fail()``, even ``SystemExit``) never
reaches the server: the request is answered (the callback sent) as if nothing happened,
the exception is logged (logger ``sinch_calling.testing``) and recorded, and the next
observers still run. The emulator records it with its background errors:
``emu.settle()`` / ``emu.advance()`` raise the first one, and so does the pytest plugin's
``sinch_emulator`` fixture after the test, so an observer's failed ``assert`` fails the
test that exposed it. (An observer is called synchronously, so nothing it raises can be
the cancellation of the server itself.)
"""

from __future__ import annotations

import inspect
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


def _is_async(observer: object) -> bool:
    """Is ``observer`` an ``async def`` function (or a callable whose ``__call__`` is)?"""
    return (inspect.iscoroutinefunction(observer)
            or inspect.iscoroutinefunction(getattr(observer, "__call__", None)))  # noqa: B004


class Observers:
    """The emulator's observers, called in the order they were added.

    ``on_error``: what to do with an exception an observer raised (the emulator records
    it with its background errors); without one it is only logged.
    """

    def __init__(self, on_error: Callable[[BaseException], None] | None = None) -> None:
        self._observers: list[Observer] = []
        self._on_error = on_error

    def add(self, observer: Observer) -> Observer:
        """Call ``observer`` with every :class:`Exchange` from now on; returns it (so
        ``add`` works as a decorator).

        Raises ``TypeError`` for anything not callable and for an ``async def``
        function (it would never be awaited)."""
        if not callable(observer):
            raise TypeError(f"an observer must be a function taking an Exchange; got "
                            f"{type(observer).__name__}")
        if _is_async(observer):
            raise TypeError(f"observer {observer!r} is an async function: observers are "
                            "called synchronously and nothing would await it; pass a plain "
                            "function (hand the Exchange to a queue with put_nowait to do "
                            "async work)")
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
        """Report ``exchange`` to every observer. Never raises: whatever an observer
        raises (any ``BaseException``), and an awaitable one returns, is logged, handed
        to ``on_error`` and the next observer runs."""
        for observer in list(self._observers):
            try:
                result = observer(exchange)
                if inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()  # never awaited: close it rather than warn later
                    raise TypeError(f"observer {observer!r} returned an awaitable, which "
                                    "nothing awaits: observers must be plain functions")
            except BaseException as exc:  # an observer's failure is its test's, not ours
                _log.error("emulator observer %r failed on %s %s %s", observer,
                           exchange.kind, exchange.method, exchange.target, exc_info=exc)
                if self._on_error is not None:
                    self._on_error(exc)
