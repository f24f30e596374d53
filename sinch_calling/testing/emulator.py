"""``Emulator``: a local Sinch Calling API server, in-process, for tests and demos."""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from ..errors import ValidationError
from ..models import Destination
from .app import build_app
from .callbacks import CallbackSender
from .clock import Clock
from .faults import Faults
from .journal import Journal, RecordedRequest, SentEvent, matching_requests
from .lifecycle import CallLifecycle, CallProgress
from .outcomes import Outcome, Outcomes, OutcomeSource
from .recordings_state import RecordingStore
from .state import ConfigurationState
from .traffic_state import EmulatedCall, TrafficState

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "Emulator"]

DEFAULT_KEY = "emulator-application-key"
DEFAULT_SECRET = "ZW11bGF0b3Itc2VjcmV0LXNlY3JldA=="  # base64 of b"emulator-secret-secret"

DEFAULT_NUMBERS = ("+46000000000", "+46000000001", "+14045001000")
# Seconds in-flight requests get to finish when the emulator stops; aiohttp waits this
# long twice (to finish, then after cancelling), so stop() takes half a second at most.
SHUTDOWN_TIMEOUT = 0.25


class Emulator:
    """A faithful local Calling API: ``async with Emulator() as emu:``, then give
    ``emu.url`` to ``SinchCalling(..., base_url=emu.url)``.

    It verifies signatures as Sinch does (or Basic), keeps state (numbers, callback
    URLs, calls, conferences, recordings), answers errors with Sinch's bodies, plays
    calls out according to :attr:`outcomes`, POSTs signed callbacks to the
    application's callback URLs, records every request in :attr:`requests` and every
    callback in :attr:`events`, and follows the scripted failures in :attr:`faults`.

    ``auth_window``: seconds ``x-timestamp`` may differ from now (``None``: no check);
    ``realtime=False``: emulated time stands still except through :meth:`advance`;
    ``callback_timeout``: seconds a backend gets to answer a callback;
    ``max_journal``: keep only the newest that many entries in :attr:`requests` and
    :attr:`events`, and only that many finished calls (older ones are forgotten: their
    ``GET`` answers 404) -- for long runs; ``None`` (the default) keeps everything.
    """

    def __init__(
        self,
        application_key: str = DEFAULT_KEY,
        application_secret: str = DEFAULT_SECRET,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        outcomes: Outcomes | OutcomeSource | None = None,
        auth_window: float | None = 300.0,
        realtime: bool = True,
        callback_timeout: float = 5.0,
        max_journal: int | None = None,
    ) -> None:
        if auth_window is not None and auth_window <= 0:
            raise ValidationError("auth_window", "must be positive seconds, or None")
        if callback_timeout <= 0:
            raise ValidationError("callback_timeout", "must be positive seconds")
        if max_journal is not None and (isinstance(max_journal, bool)
                                        or not isinstance(max_journal, int) or max_journal < 1):
            raise ValidationError("max_journal", "must be a positive integer, or None")
        self.application_key = application_key
        self.application_secret = application_secret
        self.host = host
        self.port = port
        self.auth_window = auth_window
        self.configuration = ConfigurationState()
        self.configuration.add_application(application_key, application_secret)
        for number in DEFAULT_NUMBERS:
            self.configuration.add_number(number)
        self.outcomes = outcomes if isinstance(outcomes, Outcomes) else Outcomes(
            outcomes if outcomes is not None else Outcome())
        self.clock = Clock(realtime=realtime)
        self.traffic = TrafficState(max_finished=max_journal)
        self.lifecycle = CallLifecycle(self)
        self.recordings = RecordingStore()
        self.faults = Faults()
        self.max_journal = max_journal
        self.requests: Journal[RecordedRequest] = Journal(maxlen=max_journal)
        self.events: Journal[SentEvent] = Journal(maxlen=max_journal)
        self.callbacks = CallbackSender(self.events, timeout=callback_timeout)
        self.app = build_app(self)
        self._runner: web.AppRunner | None = None

    # -- serving ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The origin to pass as ``base_url`` (``http://127.0.0.1:PORT``)."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve (``port=0`` picks a free port)."""
        if self._runner is not None:
            return
        self.clock.open()
        await self.callbacks.start()
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_TIMEOUT)
        try:
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            await self.callbacks.close()
            raise
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving (requests in flight get a moment to finish, then are cut off),
        then cancel pending calls' steps and callbacks; idempotent."""
        runner = self._runner
        if runner is not None:
            await runner.cleanup()  # first: no request can start work after the clock stops
            self._runner = None
        await self.clock.close()
        await self.callbacks.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- time ---------------------------------------------------------------------------

    async def settle(self) -> None:
        """Wait until every callback due now is delivered and its SVAML applied, without
        letting emulated time pass (re-raises an error a background step hit)."""
        await self.clock.settle()

    async def advance(self, seconds: float | None = None) -> None:
        """Move emulated time forward ``seconds`` (``None``: until nothing is scheduled),
        running rings, answers, hang-ups and their callbacks in order."""
        await self.clock.advance(seconds)

    # -- driving calls ------------------------------------------------------------------

    def call(self, call_id: str) -> EmulatedCall:
        """The emulated call ``call_id`` (``KeyError`` if unknown)."""
        return self.traffic.calls[call_id]

    def progress(self, call_id: str) -> CallProgress:
        """What happened on ``call_id`` beyond its REST view: prompts, menus, cookies."""
        return self.lifecycle.progress(call_id)

    def press(self, call_id: str, *inputs: str) -> None:
        """Script the keys the callee of ``call_id`` presses at its next menus."""
        self.lifecycle.press(call_id, *inputs)

    def incoming_call(self, cli: str, to: str, *, application_key: str | None = None,
                      custom: str | None = None) -> EmulatedCall:
        """Simulate a PSTN call from ``cli`` to ``to``: ICE goes to the application's
        callback URL and its SVAML drives the call (needs a running loop)."""
        key = application_key or self.application_key
        if key not in self.configuration.applications:
            raise ValidationError("application_key", "must be a registered application")
        call = EmulatedCall(call_id=uuid.uuid4().hex, application_key=key, method="incoming",
                            to=Destination.number(to), cli=cli, custom=custom,
                            clock=self.clock.utcnow)
        self.traffic.calls[call.call_id] = call
        self.lifecycle.started(call)
        return call

    async def notify(self, call_id: str, event_type: str, **fields: Any) -> SentEvent | None:
        """Send a ``notify`` event about ``call_id`` (``recording_available``, ``amd``,
        ...) to the application's callback URL; the journal entry, if one was sent."""
        return await self.lifecycle.notify(self.call(call_id), event_type, **fields)

    # -- inspection -----------------------------------------------------------------------

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Requests whose path matches the glob ``path`` (and ``method``, if given); the
        path may be written as sent (``/calling/v1/recording/a%20b%2Fc``) or decoded
        (``/calling/v1/recording/a b/c``), as for :attr:`faults`."""
        return matching_requests(self.requests, path, method)

    def events_named(self, name: str, call_id: str | None = None) -> list[SentEvent]:
        """Callbacks sent of one kind (``ice``, ``ace``, ``pie``, ``dice``, ``notify``),
        optionally for one call."""
        return [e for e in self.events
                if e.name == name and (call_id is None or e.call_id == call_id)]

    def clear(self) -> None:
        """Forget the journals (:attr:`requests`, :attr:`events`); state stays."""
        self.requests.clear()
        self.events.clear()

    def __repr__(self) -> str:
        where = self.url if self._runner else "stopped"
        return f"Emulator({where}, application_key={self.application_key!r})"
