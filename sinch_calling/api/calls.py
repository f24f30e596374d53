"""``sinch.calls``: read and steer live calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from yarl import URL

from ..errors import ValidationError
from ..models import Call
from ..regions import SINCH_TRAFFIC_HOSTS, TRAFFIC_PREFIX
from ..serialization import dumps
from ..transport import Transport, encode_segment
from ..validation import non_empty

if TYPE_CHECKING:
    from ..svaml import Svaml

__all__ = ["CallsApi"]


class CallsApi:
    """Calls (traffic host): ``get``, ``manage``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _url(self, call_id: str) -> URL:
        return self._transport.traffic_url(
            "calls", "id", encode_segment(non_empty("call_id", call_id), "call_id")
        )

    async def get(self, call_id: str) -> Call:
        """A call's parties, status, result and cost."""
        t = self._transport
        return await t.request_model(Call, "GET", self._url(call_id))

    async def manage(self, call_id: str, svaml: Svaml, *, resource_url: str | None = None) -> None:
        """Send SVAML to a live call: play or say something, hang up, or unpark it.

        The document needs exactly one action: ``Hangup()`` to end the call,
        ``Continue()`` to keep it going after the instructions, or (unparking) the
        action the ICE answer would have had.

        ``resource_url`` is the ``callResourceUrl`` of the call's ICE event: the request
        then goes to that regional host, which must be a Sinch traffic host over
        https (or this client's own ``base_url`` host), with the path of this call.
        Not repeated unless the server provably did not act on it.
        """
        from ..svaml import check_answer  # SVAML machinery loads on first use

        check_answer(svaml, "manage")
        url = self._url(call_id)
        if resource_url is not None:
            url = self._resource_origin(resource_url, url).with_path(url.raw_path,
                                                                      encoded=True)
        await self._transport.request("PATCH", url, body=dumps(svaml))

    def _resource_origin(self, resource_url: str, expected: URL) -> URL:
        """The origin of ``resource_url``, once it is known to be safe to sign for."""
        try:
            given = URL(non_empty("resource_url", resource_url))
        except (TypeError, ValueError):
            raise ValidationError("resource_url", "must be an absolute URL") from None
        host = (given.host or "").lower()
        if not given.absolute or given.scheme not in ("http", "https") or not host:
            raise ValidationError("resource_url", f"must be an absolute http(s) URL; "
                                                  f"got {resource_url!r}")
        own = (self._transport.traffic_origin.host or "").lower()
        if host in SINCH_TRAFFIC_HOSTS:
            if given.scheme != "https" or given.port != 443:
                raise ValidationError("resource_url", "must use https on the default port "
                                                      f"for a Sinch host; got {resource_url!r}")
        elif host != own:
            raise ValidationError("resource_url", "must be on a Sinch calling host or this "
                                                  f"client's base_url host; got {host!r}")
        if given.path.rstrip("/") != expected.path:
            raise ValidationError("resource_url", f"must be the URL of this call "
                                                  f"({TRAFFIC_PREFIX}/calls/id/<call_id>); "
                                                  f"got path {given.path!r}")
        return given.origin()
