"""Regions, the origins and path prefixes of the two API hosts, and URL path segments."""

from __future__ import annotations

import enum
import ipaddress
import re
from urllib.parse import quote

from yarl import URL

from .errors import ValidationError

__all__ = [
    "CONFIGURATION_ORIGIN",
    "CONFIGURATION_PREFIX",
    "SINCH_TRAFFIC_HOSTS",
    "TRAFFIC_PREFIX",
    "Region",
    "encode_segment",
    "origins",
]

CONFIGURATION_ORIGIN = URL("https://callingapi.sinch.com")
CONFIGURATION_PREFIX = "/v1"
TRAFFIC_PREFIX = "/calling/v1"


class Region(enum.StrEnum):
    """Where traffic (calls, conferences, recordings) is sent.

    ``GLOBAL`` lets Sinch route to a region; the others pin one. Configuration calls
    always go to the global configuration host, whatever the region.
    """

    GLOBAL = "global"
    EUC1 = "euc1"
    USE1 = "use1"
    SAE1 = "sae1"
    APSE1 = "apse1"
    APSE2 = "apse2"

    @property
    def traffic_origin(self) -> URL:
        """The ``https://`` origin of this region's traffic host."""
        if self is Region.GLOBAL:
            return URL("https://calling.api.sinch.com")
        return URL(f"https://calling-{self.value}.api.sinch.com")

    @classmethod
    def parse(cls, value: Region | str) -> Region:
        """Accept a :class:`Region` or its name (any case); raise ``ValidationError``."""
        if isinstance(value, Region):
            return value
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                pass
        allowed = ", ".join(r.value for r in cls)
        raise ValidationError("region", f"must be one of {allowed}; got {value!r}")


SINCH_TRAFFIC_HOSTS: frozenset[str] = frozenset(r.traffic_origin.host or "" for r in Region)


def origins(region: Region, base_url: str | URL | None) -> tuple[URL, URL]:
    """Return ``(traffic_origin, configuration_origin)``.

    ``base_url``, when given, is an origin (``scheme://host[:port]``) that replaces
    both; paths keep their real prefixes. Its host is a DNS name or an IP address (no
    IPv6 zone), its port 1 to 65535; anything else is a :class:`ValidationError`
    naming ``base_url``.
    """
    if base_url is None:
        return region.traffic_origin, CONFIGURATION_ORIGIN
    if not isinstance(base_url, str | URL):
        raise ValidationError("base_url", f"must be a string or a yarl.URL; "
                                          f"got {type(base_url).__name__}")
    try:
        url = URL(base_url)
        host, _ = url.host, url.port
    except (ValueError, TypeError, UnicodeError):
        raise ValidationError("base_url", "must be an http(s) origin like https://host:port; "
                                          f"got {str(base_url)[:80]!r}") from None
    if url.scheme not in ("http", "https") or not host:
        raise ValidationError("base_url", f"must be an http(s) origin like https://host:port; "
                                          f"got {str(base_url)!r}")
    if not _host_ok(url.raw_host or ""):
        raise ValidationError("base_url", "must name a host by DNS name (letters, digits, '-', "
                                          "'_' and dots) or IP address (no IPv6 zone); "
                                          f"got {str(base_url)[:80]!r}")
    port = url.explicit_port
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError("base_url", f"must have a port from 1 to 65535; got {port}")
    if url.user is not None or url.password is not None:
        raise ValidationError("base_url", "must not carry user info (credentials go in the "
                                          "application key and secret)")
    if url.path not in ("", "/") or url.query_string or url.fragment:
        raise ValidationError("base_url", "must be an origin only (no path, query or fragment); "
                                          f"got {str(base_url)!r}")
    origin = url.origin()
    return origin, origin


_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")


def _host_ok(raw_host: str) -> bool:
    """A DNS name (IDNA already applied by yarl) or an IP address without a zone."""
    try:
        address = ipaddress.ip_address(raw_host)
    except ValueError:
        pass
    else:
        return getattr(address, "scope_id", None) is None
    labels = raw_host.rstrip(".").split(".")
    return len(raw_host) <= 253 and all(_LABEL.fullmatch(label) for label in labels)


def encode_segment(value: str, field: str) -> str:
    """Percent-encode one path segment; ``+`` stays as is, ``/`` and dot-segments cannot
    escape. Raises :class:`ValidationError` naming ``field`` for anything but a
    non-empty string of valid Unicode text. (Ids are checked before, by
    :func:`~sinch_calling.validation.identifier`; this is the URL's own last guard.)"""
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a non-empty string")
    try:
        encoded = quote(value, safe="+")
    except UnicodeEncodeError:
        raise ValidationError(field, "must be valid Unicode text (no lone surrogates)") from None
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    return encoded
