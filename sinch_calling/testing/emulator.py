"""``Emulator``: a local Sinch Calling API server, in-process, for tests and demos.

It is assembled from parts that each do one job: the state (:mod:`.state`), the call
life cycle (:mod:`.lifecycle`), the routes (:mod:`.routes`) behind one middleware
(:mod:`.app`), the callback sender (:mod:`.callbacks`), emulated time (:mod:`.clock`)
and the TCP server (:mod:`.server`); each is handed the parts it uses.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any, Self

from ..errors import ValidationError
from ..models import Destination
from . import options
from .app import Gateway, build_app
from .callbacks import CallbackSender
from .clock import Clock
from .faults import Faults
from .journal import Journal, RecordedRequest, SentEvent, matching_requests
from .lifecycle import CallLifecycle, CallProgress
from .observe import Observers
from .outcomes import Mix, Outcome, Outcomes, OutcomeSource
from .routes.configuration import ConfigurationRoutes
from .routes.recordings import RecordingRoutes
from .routes.traffic import TrafficRoutes
from .server import Server
from .state import (
    ConfigurationState,
    EmulatedCall,
    EmulatorState,
    RecordingStore,
    TrafficState,
)

__all__ = ["DEFAULT_KEY", "DEFAULT_MAX_JOURNAL", "DEFAULT_MAX_LIVE_CALLS", "DEFAULT_SECRET",
           "Emulator"]

DEFAULT_KEY = "emulator-application-key"
DEFAULT_SECRET = "ZW11bGF0b3Itc2VjcmV0LXNlY3JldA=="  # base64 of b"emulator-secret-secret"

DEFAULT_NUMBERS = ("+46000000000", "+46000000001", "+14045001000")
DEFAULT_MAX_JOURNAL = 10_000
"""Requests, callbacks and finished calls an emulator remembers unless told otherwise."""
DEFAULT_MAX_LIVE_CALLS = 10_000
"""Calls that may be ONGOING at once unless told otherwise (the oldest ends first)."""


def _bound(field: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < 1):
        raise ValidationError(field, "must be a positive integer, or None")
    return value


class Emulator:
    """A faithful local Calling API: ``async with Emulator() as emu:``, then give
    ``emu.url`` to ``SinchCalling(..., base_url=emu.url)``.

    It verifies signatures as Sinch does (or Basic), keeps state (numbers, callback
    URLs, calls, conferences, recordings), answers errors with Sinch's bodies, plays
    calls out according to :attr:`outcomes`, POSTs signed callbacks to the
    application's callback URLs, records every request in :attr:`requests` and every
    callback in :attr:`events`, follows the scripted failures in :attr:`faults` and
    reports every exchange to :attr:`observers`.

    ``outcomes``: what callees do: an :class:`Outcomes`, or the default for every call
    (an :class:`Outcome`, a :class:`Mix`, or a name: ``"answered"``, ``"busy"``,
    ``"noanswer"``, ``"failed"``); ``auth_window``: seconds ``x-timestamp`` may differ
    from now (``None``: no check);
    ``realtime=False``: emulated time stands still except through :meth:`advance`;
    ``callback_timeout``: seconds a backend gets to answer a callback.

    Memory stays bounded however long it runs: ``max_journal`` (default 10,000) keeps
    only the newest that many entries in :attr:`requests` and :attr:`events`, and only
    that many finished calls (older ones are forgotten: their ``GET`` answers 404);
    ``max_live_calls`` (default 10,000) bounds the calls ONGOING at once: a new call
    beyond it first ends the oldest ongoing one (reason ``TIMEOUT``, as if it reached
    its ``maxDuration``: result ``ANSWERED``, or ``NOANSWER`` if it was still ringing;
    its DiCE is sent as usual). ``None`` lifts either bound.

    Every option is checked (a :class:`~sinch_calling.errors.ValidationError`, a
    ``ValueError``, naming it): ``realtime`` is a ``bool``; ``auth_window`` and
    ``callback_timeout`` are finite seconds above zero (``auth_window`` may be
    ``None``); ``port`` is 0 to 65535; the bounds are positive integers or ``None``.
    """

    def __init__(
        self,
        application_key: str = DEFAULT_KEY,
        application_secret: str = DEFAULT_SECRET,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        outcomes: Outcomes | OutcomeSource | str | None = None,
        auth_window: float | None = 300.0,
        realtime: bool = True,
        callback_timeout: float = 5.0,
        max_journal: int | None = DEFAULT_MAX_JOURNAL,
        max_live_calls: int | None = DEFAULT_MAX_LIVE_CALLS,
    ) -> None:
        auth_window = options.seconds("auth_window", auth_window, none=True)
        callback_timeout = options.seconds("callback_timeout", callback_timeout)
        realtime = options.flag("realtime", realtime)
        host = options.text("host", host)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValidationError("port", f"must be a TCP port, 0 to 65535 (0: any free "
                                          f"port); got {port!r}")
        if not isinstance(outcomes, Outcomes | Outcome | Mix | str | None):
            raise ValidationError("outcomes", "must be an Outcomes, an Outcome, a Mix or an "
                                              f"outcome's name; got {outcomes!r}")
        self.max_journal = _bound("max_journal", max_journal)
        self.max_live_calls = _bound("max_live_calls", max_live_calls)
        self.application_key = application_key
        self.application_secret = application_secret
        self.clock = Clock(realtime=realtime)
        configuration = ConfigurationState(auth_window=auth_window)
        configuration.add_application(application_key, application_secret)
        for number in DEFAULT_NUMBERS:
            configuration.add_number(number)
        self.state = EmulatorState(
            configuration=configuration,
            traffic=TrafficState(max_live=max_live_calls, max_finished=max_journal),
            recordings=RecordingStore(now=self.clock.utcnow),
            outcomes=outcomes if isinstance(outcomes, Outcomes) else Outcomes(
                outcomes if outcomes is not None else Outcome()),
            faults=Faults(),
            requests=Journal(maxlen=max_journal),
            events=Journal(maxlen=max_journal),
        )
        self.observers = Observers(on_error=self.clock.add_error)
        self.callbacks = CallbackSender(self.state.events, timeout=callback_timeout,
                                        observers=self.observers)
        self.lifecycle = CallLifecycle(
            traffic=self.state.traffic, applications=configuration.applications,
            outcomes=self.state.outcomes, clock=self.clock, callbacks=self.callbacks,
            origin=lambda: self.url)
        gateway = Gateway(requests=self.state.requests, faults=self.state.faults,
                          configuration=configuration, observers=self.observers)
        self.app = build_app(gateway, [
            *ConfigurationRoutes(configuration).table(),
            *TrafficRoutes(self.state.traffic, self.lifecycle, self.clock.utcnow).table(),
            *RecordingRoutes(self.state.recordings).table(),
        ])
        self._server = Server(self.app, host=host, port=port)

    # -- the state's parts ----------------------------------------------------------------

    @property
    def configuration(self) -> ConfigurationState:
        """Applications, numbers, callback URLs."""
        return self.state.configuration

    @property
    def traffic(self) -> TrafficState:
        """Calls and conferences."""
        return self.state.traffic

    @property
    def recordings(self) -> RecordingStore:
        """Recordings served: ``add(key, data)``, ``add_file``, ``add_generated``."""
        return self.state.recordings

    @property
    def outcomes(self) -> Outcomes:
        """What callees do (``outcomes.set(number_or_glob, Outcome.busy())``)."""
        return self.state.outcomes

    @property
    def faults(self) -> Faults:
        """Scripted failures (``faults.add(method, path_glob, status=503, ...)``)."""
        return self.state.faults

    @property
    def requests(self) -> Journal[RecordedRequest]:
        """Requests received, oldest first (the newest ``max_journal``)."""
        return self.state.requests

    @property
    def events(self) -> Journal[SentEvent]:
        """Callback attempts made, oldest first (the newest ``max_journal``)."""
        return self.state.events

    @property
    def auth_window(self) -> float | None:
        """Seconds a signed request's ``x-timestamp`` may differ from now (``None``: any)."""
        return self.state.configuration.auth_window

    @auth_window.setter
    def auth_window(self, seconds: float | None) -> None:
        self.state.configuration.auth_window = options.seconds("auth_window", seconds,
                                                               none=True)

    # -- serving ------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """The interface it binds."""
        return self._server.host

    @property
    def port(self) -> int:
        """The port it serves on (0 until started, when asked for any free port)."""
        return self._server.port

    @property
    def url(self) -> str:
        """The origin to pass as ``base_url`` (``http://127.0.0.1:PORT``)."""
        return self._server.url

    async def start(self) -> None:
        """Bind and serve (``port=0`` picks a free port)."""
        if self._server.running:
            return
        self.clock.open()
        await self.callbacks.start()
        try:
            await self._server.start()
        except BaseException:
            await self.callbacks.close()
            raise

    async def stop(self) -> None:
        """Stop serving (requests in flight get a moment to finish, then are cut off),
        then cancel pending calls' steps and callbacks; idempotent."""
        await self._server.stop()  # first: no request can start work after the clock stops
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
        letting emulated time pass (re-raises an error a background step hit, or an
        observer raised: see :mod:`~sinch_calling.testing.observe`)."""
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
        callback URL and its SVAML drives the call (needs a running loop).

        ``cli`` and ``to`` are E.164 numbers (as the emulator's routes require: ``+46``
        alone is not one); raises :class:`~sinch_calling.errors.ValidationError` naming
        ``cli``, ``to``, ``custom`` or ``application_key`` otherwise."""
        options.number("cli", cli)
        options.number("to", to)
        if custom is not None and not isinstance(custom, str):
            raise ValidationError("custom", f"must be a string, or None; got {custom!r}")
        key = self.application_key if application_key is None else application_key
        if key not in self.configuration.applications:
            raise ValidationError("application_key", "must be a registered application; "
                                                     f"got {key!r}")
        call = EmulatedCall(call_id=uuid.uuid4().hex, application_key=key, method="incoming",
                            to=Destination.number(to), cli=cli, custom=custom,
                            clock=self.clock.utcnow)
        self.lifecycle.admit(call)
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
        where = self.url if self._server.running else "stopped"
        return f"Emulator({where}, application_key={self.application_key!r})"
