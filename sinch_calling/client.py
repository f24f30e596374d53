"""``SinchCalling``: the async session factory and its resource groups."""

from __future__ import annotations

import functools
import os
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, get_args

import aiohttp
from yarl import URL

from .api.callbacks import CallbacksApi
from .api.callouts import CalloutsApi
from .api.calls import CallsApi
from .api.conferences import ConferencesApi
from .api.numbers import NumbersApi
from .auth import Credentials
from .errors import ValidationError
from .regions import Region, origins
from .retry import RetryPolicy
from .signer import AuthScheme
from .transport import Transport
from .validation import positive_seconds, whole_number

if TYPE_CHECKING:
    from .api.recordings import RecordingsApi

__all__ = ["DEFAULT_TIMEOUT", "SinchCalling"]

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
"""Per API call, retries included."""


def _timeout(value: float | aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, aiohttp.ClientTimeout):
        for name in ("total", "connect", "sock_read", "sock_connect"):
            part = getattr(value, name)
            if part is not None:
                positive_seconds(f"timeout.{name}", part)
        return value
    seconds = positive_seconds("timeout", value)
    return aiohttp.ClientTimeout(total=seconds, connect=min(10.0, seconds))


class SinchCalling:
    """An async client of the Sinch Calling API. Use it as ``async with SinchCalling(...)``.

    ``application_secret`` is the base64 text the Sinch dashboard shows. ``region``
    picks the traffic host (configuration calls always go to the global host);
    ``base_url`` (an origin such as the emulator's) replaces both hosts. ``auth`` is
    ``"signed"`` (Application signatures, the default) or ``"basic"``. ``timeout``
    bounds each call, retries included (seconds or an ``aiohttp.ClientTimeout``);
    ``retry`` is the :class:`RetryPolicy`; ``max_connections`` caps the connections
    of API calls, and recording bodies (downloads, streams) get as many again of their
    own, so API calls never wait for downloads
    (:meth:`~sinch_calling.transport.Transport.download_slot`).

    Resource groups: :attr:`numbers`, :attr:`callbacks` (configuration) and, for
    traffic, :attr:`callouts`, :attr:`calls`, :attr:`conferences`, :attr:`recordings`.
    """

    def __init__(
        self,
        application_key: str,
        application_secret: str,
        *,
        region: Region | str = Region.GLOBAL,
        auth: AuthScheme = "signed",
        base_url: str | URL | None = None,
        timeout: float | aiohttp.ClientTimeout | None = None,
        retry: RetryPolicy | None = None,
        max_connections: int = 100,
    ) -> None:
        credentials = Credentials(application_key, application_secret)
        if auth not in get_args(AuthScheme):
            raise ValidationError("auth", f"must be 'signed' or 'basic'; got {auth!r}")
        whole_number("max_connections", max_connections, minimum=1)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ValidationError("retry", "must be a RetryPolicy")
        self._region = Region.parse(region)
        traffic, configuration = origins(self._region, base_url)
        self._transport = Transport(
            credentials,
            auth=auth,
            traffic_origin=traffic,
            configuration_origin=configuration,
            timeout=_timeout(timeout),
            retry=retry or RetryPolicy(),
            max_connections=max_connections,
        )
        self.numbers = NumbersApi(self._transport)
        """Numbers the account owns: list, assign, unassign, query."""
        self.callbacks = CallbacksApi(self._transport)
        """An application's callback URLs: get, update."""
        self.callouts = CalloutsApi(self._transport)
        """Place calls: tts, conference, custom."""
        self.calls = CallsApi(self._transport)
        """Live calls: get, manage."""
        self.conferences = ConferencesApi(self._transport)
        """Conferences: get, mute, unmute, hold, resume, kick, kick_all."""

    @property
    def timeout(self) -> aiohttp.ClientTimeout:
        """The timeout of each API call, retries included: the ``timeout`` this client
        was made with, as an ``aiohttp.ClientTimeout`` (seconds: ``.total``, ``None``
        when unbounded), or :data:`DEFAULT_TIMEOUT`."""
        return self._transport.timeout

    @property
    def max_connections(self) -> int:
        """Connections this client opens for API calls at most (the ``max_connections``
        it was made with); more calls than this at once wait for a connection."""
        return self._transport.max_connections

    @functools.cached_property
    def recordings(self) -> RecordingsApi:
        """Recordings: list, stream, download, delete, export."""
        # Imported on first use: the transfer machinery is most of the import time.
        from .api.recordings import RecordingsApi

        return RecordingsApi(self._transport)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> SinchCalling:
        """Build a client from ``SINCH_APPLICATION_KEY``, ``SINCH_APPLICATION_SECRET``,
        ``SINCH_REGION`` and ``SINCH_BASE_URL``; keyword arguments override them."""
        env = os.environ if environ is None else environ
        missing = [name for name in ("SINCH_APPLICATION_KEY", "SINCH_APPLICATION_SECRET")
                   if not env.get(name)]
        if missing:
            raise ValidationError(missing[0], "environment variable is not set")
        options: dict[str, Any] = {}
        if env.get("SINCH_REGION"):
            options["region"] = env["SINCH_REGION"]
        if env.get("SINCH_BASE_URL"):
            options["base_url"] = env["SINCH_BASE_URL"]
        options.update(overrides)
        return cls(env["SINCH_APPLICATION_KEY"], env["SINCH_APPLICATION_SECRET"], **options)

    @property
    def application_key(self) -> str:
        """The application key requests are made with."""
        return self._transport.credentials.application_key

    @property
    def region(self) -> Region:
        """The traffic region."""
        return self._region

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._transport.closed

    async def __aenter__(self) -> Self:
        _ = self._transport.session  # open it now, in this loop
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session. Idempotent."""
        await self._transport.close()

    def __repr__(self) -> str:
        return (f"SinchCalling(application_key={self.application_key!r}, "
                f"region={self._region.value!r}, "
                f"traffic={str(self._transport.traffic_origin)!r})")
