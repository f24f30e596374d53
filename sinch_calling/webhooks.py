"""Receive Sinch's signed callbacks in a web backend and answer them with SVAML.

::

    router = CallbackRouter(application_key, application_secret)

    @router.ice
    async def incoming(event: IncomingCallEvent) -> Svaml:
        return Svaml([Say("Welcome")], ConnectConf("room-1"))

    app = web.Application()
    app.router.add_post("/sinch/callbacks", router.handle)

Every request is checked before any handler runs: a missing, stale or wrong signature
gets 401, a body that is not a Sinch event 400. ICE, ACE and PIE are answered 200 with
the handler's SVAML; DiCE and notify with an empty 200. With no handler registered,
the answer is :data:`DEFAULT_ANSWERS` (ICE and PIE hang up, ACE continues). A handler
that raises gets 500 (logged on the ``sinch_calling.webhooks`` logger, details never
sent), one slower than ``handler_timeout`` 503, so Sinch falls back to your fallback URL.

:meth:`CallbackRouter.dispatch` is the same logic as a plain coroutine on (method, path,
headers, body) for other frameworks; :meth:`CallbackRouter.asgi` wraps it as an ASGI app.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import timedelta
from itertools import product
from types import MappingProxyType
from typing import Any, Final, NamedTuple, TypeVar
from urllib.parse import quote

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ._fast_unstructure import dumps_svaml
from .auth import Credentials, max_age_seconds, verify_request
from .errors import EventParseError, SignatureError, ValidationError
from .events import (
    AnsweredCallEvent,
    DisconnectedCallEvent,
    EventType,
    IncomingCallEvent,
    NotificationEvent,
    PromptInputEvent,
    UnknownEvent,
    parse,
)
from .models.events import EVENT_CLASSES
from .serialization import dumps
from .svaml import Continue, Hangup, Svaml, check_answer
from .validation import positive_seconds

__all__ = [
    "DEFAULT_ANSWERS",
    "CallbackResponse",
    "CallbackRouter",
    "path_spellings",
]

logger = logging.getLogger("sinch_calling.webhooks")

IceHandler = TypeVar("IceHandler", bound=Callable[[IncomingCallEvent], Awaitable[Svaml]])
AceHandler = TypeVar("AceHandler", bound=Callable[[AnsweredCallEvent], Awaitable[Svaml]])
PieHandler = TypeVar("PieHandler", bound=Callable[[PromptInputEvent], Awaitable[Svaml]])
DiceHandler = TypeVar("DiceHandler", bound=Callable[[DisconnectedCallEvent], Awaitable[None]])
NotifyHandler = TypeVar("NotifyHandler", bound=Callable[[NotificationEvent], Awaitable[None]])
_Handler = TypeVar("_Handler", bound=Callable[[Any], Awaitable[Any]])

DEFAULT_ANSWERS: Final[Mapping[EventType, Svaml]] = MappingProxyType({
    # An incoming call nobody handles must not be connected anywhere.
    EventType.ICE: Svaml(action=Hangup()),
    # A callout's own plan (its TTS text, its conference) goes on, as with enableAce off.
    EventType.ACE: Svaml(action=Continue()),
    # A menu answer nobody handles has nowhere to go.
    EventType.PIE: Svaml(action=Hangup()),
})
"""The SVAML sent for ICE, ACE and PIE when no handler is registered for them."""

# Sinch's rules for where an action may appear (protocol notes, "SVAML"); actions not
# listed (hangup, connectConf, runMenu, unknown ones) may appear everywhere.
# Read-only, and what aiohttp copies fastest into a response.
_JSON: Final = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json"}))
_TEXT: Final = CIMultiDictProxy(CIMultiDict({"Content-Type": "text/plain; charset=utf-8"}))
_NO_HEADERS: Final[Mapping[str, str]] = CIMultiDictProxy(CIMultiDict())
_MAX_ASGI_BODY: Final = 1024 * 1024


class CallbackResponse(NamedTuple):
    """What to answer a callback with: ``status, headers, body = await router.dispatch(...)``."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def _plain(status: int, text: str) -> CallbackResponse:
    return CallbackResponse(status, _TEXT, text.encode())


_OK_EMPTY: Final = CallbackResponse(200, _NO_HEADERS, b"")
_UNAUTHORIZED: Final = _plain(401, "invalid or missing callback signature")
_MALFORMED: Final = _plain(400, "malformed callback body")
_FAILED: Final = _plain(500, "callback handler failed")
_TOO_SLOW: Final = _plain(503, "callback handler timed out")


_DEFAULT_RESPONSES: Final = {
    kind: CallbackResponse(200, _JSON, dumps(answer)) for kind, answer in DEFAULT_ANSWERS.items()
}
"""Answers whose encoding a router keeps (the same immutable document answered again)."""


class _Route(NamedTuple):
    """How one event class is answered: its handler, and whether it answers SVAML."""

    kind: EventType
    handler: Callable[[Any], Awaitable[Any]]
    svaml: bool
    event: str
    """``kind.value``, what :func:`check_answer` is told."""


class _HandlerError(Exception):
    """A handler broke its contract (wrong return type, SVAML Sinch would refuse)."""


class CallbackRouter:
    """Verifies, decodes and routes Sinch callbacks to ``async`` handlers.

    ``max_age`` bounds the ``x-timestamp`` skew accepted (default 5 minutes; ``None``
    turns the check off, to replay stored callbacks in tests); ``handler_timeout``
    (seconds, default none) cancels a slower handler and answers 503.

    ``public_path_prefix`` is for a reverse proxy that rewrites paths: Sinch signs the
    path of the callback URL it was given (``/voice/sinch/cb``), the app sees what the
    proxy forwards (``/sinch/cb``); ``public_path_prefix="/voice"`` puts the prefix back
    before verifying. Register at most one handler per event type with the decorators
    :meth:`ice`, :meth:`ace`, :meth:`pie` (returning :class:`~sinch_calling.svaml.Svaml`),
    :meth:`dice` and :meth:`notify` (returning ``None``).
    """

    __slots__ = ("_credentials", "_handler_timeout", "_handlers", "_max_age", "_prefix",
                 "_routes")

    def __init__(
        self,
        application_key: str,
        application_secret: str,
        *,
        max_age: timedelta | float | None = timedelta(minutes=5),
        handler_timeout: float | None = None,
        public_path_prefix: str = "",
    ) -> None:
        self._credentials = Credentials(application_key, application_secret)
        self._max_age = max_age_seconds(max_age)
        self._handler_timeout = (None if handler_timeout is None
                                 else positive_seconds("handler_timeout", handler_timeout))
        self._prefix = _path_prefix(public_path_prefix)
        self._handlers: dict[EventType, Callable[[Any], Awaitable[Any]]] = {}
        # By the class parse() returns: a type hashes faster than an EventType.
        self._routes: dict[type[Any], _Route] = {}

    def __repr__(self) -> str:
        names = ", ".join(sorted(kind.value for kind in self._handlers))
        age = None if self._max_age is None else timedelta(seconds=self._max_age)
        return (f"CallbackRouter(application_key={self._credentials.application_key!r}, "
                f"max_age={age!r}, public_path_prefix={self._prefix!r}, handlers=[{names}])")

    # -- registration --------------------------------------------------------------

    def ice(self, handler: IceHandler) -> IceHandler:
        """Register the ICE handler: ``async def f(event: IncomingCallEvent) -> Svaml``."""
        return self._register(EventType.ICE, handler)

    def ace(self, handler: AceHandler) -> AceHandler:
        """Register the ACE handler: ``async def f(event: AnsweredCallEvent) -> Svaml``."""
        return self._register(EventType.ACE, handler)

    def pie(self, handler: PieHandler) -> PieHandler:
        """Register the PIE handler: ``async def f(event: PromptInputEvent) -> Svaml``."""
        return self._register(EventType.PIE, handler)

    def dice(self, handler: DiceHandler) -> DiceHandler:
        """Register the DiCE handler: ``async def f(event: DisconnectedCallEvent) -> None``."""
        return self._register(EventType.DICE, handler)

    def notify(self, handler: NotifyHandler) -> NotifyHandler:
        """Register the notify handler: ``async def f(event: NotificationEvent) -> None``."""
        return self._register(EventType.NOTIFY, handler)

    def _register(self, kind: EventType, handler: _Handler) -> _Handler:
        if not _is_async(handler):
            raise ValidationError(f"{kind.value} handler", "must be an async function")
        if kind in self._handlers:
            raise ValidationError(f"{kind.value} handler", "is already registered")
        self._handlers[kind] = handler
        self._routes[EVENT_CLASSES[kind]] = _Route(kind, handler, kind in DEFAULT_ANSWERS,
                                                   kind.value)
        return handler

    # -- serving -------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        """The aiohttp.web handler: ``app.router.add_post(path, router.handle)``."""
        body = await request.read()
        status, headers, payload = await self._dispatch(
            request.method, request.rel_url.raw_path, request.headers, body
        )
        return web.Response(status=status, headers=headers, body=payload)

    async def dispatch(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> CallbackResponse:
        """Verify, decode and route one callback; never raises for anything it is sent.

        ``path`` is the raw request path as received (percent-encoding intact, no query);
        ``headers`` a mapping (case-insensitive or not) of the request's headers, with
        ``Content-Type`` exactly as sent; ``body`` the raw bytes. A framework that only
        gives the decoded path: pass ``decoded_path(path)``'s spellings through
        :meth:`dispatch_decoded` instead.
        """
        return await self._dispatch(method, path if type(path) is str else (path,), headers,
                                    body)

    async def dispatch_decoded(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> CallbackResponse:
        """:meth:`dispatch` for a framework that gives only the percent-decoded path.

        The signature covers the path as Sinch sent it, and decoding lost its spelling:
        every spelling Sinch could have signed for that same path is tried
        (:func:`path_spellings`: reserved characters such as ``:`` kept or encoded, hex
        in either case, ``~`` kept or ``%7E``, a ``/`` inside a segment as ``%2F``).
        """
        return await self._dispatch(method, path_spellings(path), headers, body)

    async def _dispatch(
        self, method: str, path: str | tuple[str, ...], headers: Mapping[str, str],
        body: bytes,
    ) -> CallbackResponse:
        try:
            verify_request(self._credentials, method,
                           _prefixed(self._prefix, path) if self._prefix else path,
                           headers, body, max_age=self._max_age)
        except SignatureError as exc:
            logger.warning("rejected a callback to %r: %s", _where(path), exc)
            return _UNAUTHORIZED
        except Exception:  # nothing a request sends may make the router answer 500
            logger.exception("rejected a callback to %r: malformed request", _where(path))
            return _UNAUTHORIZED
        try:
            event = parse(body)
        except EventParseError as exc:
            logger.warning("rejected a malformed callback to %r: %s", _where(path), exc)
            return _MALFORMED
        route = self._routes.get(type(event))
        if route is None:
            if isinstance(event, UnknownEvent):
                logger.info("ignored callback event %r (call %s)", event.event, event.call_id)
                return _OK_EMPTY
            return _DEFAULT_RESPONSES.get(event.event, _OK_EMPTY)
        # The handler is awaited here, not in a helper coroutine: one layer fewer per call.
        kind = route.kind
        deadline = None if self._handler_timeout is None \
            else asyncio.timeout(self._handler_timeout)
        try:
            if deadline is None:  # no timeout: no timer to arm and cancel per callback
                answer = await route.handler(event)
            else:
                async with deadline:
                    answer = await route.handler(event)
            if not route.svaml:
                return _OK_EMPTY
            return self._answer(_checked(route.event, answer))
        except TimeoutError:
            if deadline is None or not deadline.expired():  # the handler's own, not ours
                logger.exception("%s handler for call %s failed", kind.value, event.call_id)
                return _FAILED
            logger.error("%s handler for call %s did not answer within %ss",
                         kind.value, event.call_id, self._handler_timeout)
            return _TOO_SLOW
        except Exception:
            logger.exception("%s handler for call %s failed", kind.value, event.call_id)
            return _FAILED

    def _answer(self, document: Svaml) -> CallbackResponse:
        """The 200 carrying ``document`` (checked already), encoded afresh each time."""
        return CallbackResponse(200, _JSON, dumps_svaml(document))

    async def asgi(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        """An ASGI 3 application answering every POST it is given as a callback.

        Mount it at your callback URL's path in any ASGI framework or server. Bodies
        over 1 MiB get 413, other methods 405.
        """
        if scope["type"] != "http":
            raise ValueError(f"CallbackRouter.asgi serves HTTP only, not {scope['type']!r}")
        if scope["method"] != "POST":
            await _asgi_send(send, _plain(405, "method not allowed"), allow="POST")
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > _MAX_ASGI_BODY:
                await _asgi_send(send, _plain(413, "callback body too large"))
                return
            if not message.get("more_body", False):
                break
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            key = name.decode("latin-1").lower()
            # Keep the first value: a repeated Authorization must not be merged.
            headers.setdefault(key, value.decode("latin-1"))
        raw_path = scope.get("raw_path")
        if raw_path:
            answer = await self.dispatch("POST", raw_path.decode("latin-1").partition("?")[0],
                                         headers, bytes(body))
        else:  # only the decoded path: try the spellings Sinch could have signed
            answer = await self.dispatch_decoded("POST", scope.get("path", ""), headers,
                                                 bytes(body))
        await _asgi_send(send, answer)


_SUB_DELIMS = "!$&'()*+,;="
_SPELLINGS = ("/:@" + _SUB_DELIMS + "-._~", "/-._~")
_MAX_SPELLINGS = 64
_MAX_SLASH_CHOICES = 5


def path_spellings(path: str) -> tuple[str, ...]:
    """The raw paths a percent-decoded ``path`` could have been sent as, most likely
    first, at most 64: reserved characters kept or percent-encoded (RFC 3986 2.2; hex
    upper or lower case), ``~`` kept or ``%7E``, and each ``/`` after the first few
    kept or ``%2F`` (a decoded path cannot tell a separator from an encoded slash)."""
    if not isinstance(path, str):
        return ()
    try:
        encoded = [quote(path, safe=safe) for safe in _SPELLINGS]
        encoded.append(encoded[-1].replace("~", "%7E"))  # quote() never encodes "~"
    except UnicodeEncodeError:
        return (path,)
    bases: list[str] = []
    for spelling in encoded:
        for variant in (spelling, _lower_hex(spelling)):
            if variant not in bases:
                bases.append(variant)
    result: list[str] = list(bases)
    slashes = [i for i, c in enumerate(path) if c == "/"][1:]
    if slashes and len(slashes) <= _MAX_SLASH_CHOICES:
        for base in bases:
            for choice in product((False, True), repeat=len(slashes)):
                if not any(choice):
                    continue
                candidate = _encode_slashes(base, choice)
                if candidate not in result:
                    result.append(candidate)
                if len(result) >= _MAX_SPELLINGS:
                    return tuple(result)
    return tuple(result[:_MAX_SPELLINGS])


def _lower_hex(text: str) -> str:
    parts = text.split("%")
    return parts[0] + "".join("%" + p[:2].lower() + p[2:] for p in parts[1:])


def _encode_slashes(encoded: str, choice: tuple[bool, ...]) -> str:
    # The encoded path keeps "/" as is in every spelling; skip the leading one.
    pieces = encoded.split("/")
    out = pieces[0] + "/" + pieces[1]
    for encode, piece in zip(choice, pieces[2:], strict=True):
        out += ("%2F" if encode else "/") + piece
    return out


def _path_prefix(value: object) -> str:
    if not isinstance(value, str):
        raise ValidationError("public_path_prefix", "must be a string such as '/voice'")
    prefix = value.rstrip("/")
    if prefix and (not prefix.startswith("/") or not prefix.isascii() or "?" in prefix
                   or "#" in prefix or any(c.isspace() or not c.isprintable() for c in prefix)):
        raise ValidationError("public_path_prefix", "must be a raw URL path starting with "
                                                    "'/', such as '/voice' (printable ASCII; "
                                                    f"no space, '?' or '#'); got {value!r}")
    return prefix


def _prefixed(prefix: str, path: str | tuple[str, ...]) -> str | list[str]:
    return prefix + path if type(path) is str else [prefix + p for p in path]


def _where(path: str | tuple[str, ...]) -> str:
    """The path to name in a log line: the first spelling, at most 200 characters."""
    first = path if type(path) is str else (path[0] if path else "")
    return first[:200]




def _checked(event: str, answer: object) -> Svaml:
    try:
        return check_answer(answer, event, field="answer")
    except ValidationError as exc:
        raise _HandlerError(f"returned SVAML Sinch would refuse: {exc}") from None


def _is_async(handler: object) -> bool:
    call = getattr(handler, "__call__", None)  # noqa: B004 -- async callable objects count too
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(call)


async def _asgi_send(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    response: CallbackResponse,
    **extra_headers: str,
) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in {**response.headers, **extra_headers}.items()]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
