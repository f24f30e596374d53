"""``sinch.callbacks``: where Sinch sends an application's callback events."""

from __future__ import annotations

from yarl import URL

from ..models import CallbackUrls
from ..models.wire import CallbackUrlsEnvelope
from ..regions import encode_segment
from ..serialization import dumps
from ..transport import Transport, decode
from ..validation import http_url, identifier

__all__ = ["CallbacksApi"]


class CallbacksApi:
    """Get and set an application's primary and fallback callback URLs."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _url(self, application_key: str | None) -> URL:
        t = self._transport
        key = t.credentials.application_key if application_key is None else application_key
        segment = encode_segment(identifier("application_key", key), "application_key")
        return t.configuration_url("configuration", "callbacks", "applications", segment)

    async def get(self, application_key: str | None = None) -> CallbackUrls:
        """The callback URLs of an application (default: this client's)."""
        t = self._transport
        envelope = decode(await t.request("GET", self._url(application_key)),
                          CallbackUrlsEnvelope)
        return envelope.url

    async def update(
        self, primary: str, fallback: str | None = None, application_key: str | None = None
    ) -> None:
        """Set the callback URLs of an application (default: this client's)."""
        urls = CallbackUrls(
            primary=http_url("primary", primary),
            fallback=None if fallback is None else http_url("fallback", fallback),
        )
        t = self._transport
        await t.request("POST", self._url(application_key),
                        body=dumps(CallbackUrlsEnvelope(url=urls)), idempotent=True)
