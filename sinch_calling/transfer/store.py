"""The recordings on the server: a key's URL, the paged listing, deleting one.

The listing API (``GET /calling/v1/recording?from=&to=&page=&pageSize=``) gives no
total and no cursor, so :func:`list_recordings` reads pages by number until one is
empty. It does not stop at a short page: a server may cap ``pageSize`` below the
size asked for, and ending early would silently leave recordings out of an export
(one more request is cheap; a missing recording is not). A page that brings no key
not already listed is not an error by itself: when calls are recorded meanwhile,
a newest-first listing shifts by whole pages, so page 2 can repeat page 1. Only
:data:`MAX_STALE_PAGES` such pages in a row end the listing with
:class:`~sinch_calling.errors.InvalidResponseError` (a server ignoring ``page``
would otherwise be read forever). Keys listed twice are yielded once.

An item that does not decode as a RecordingFileInfo (say ``createdOn: 12345``, or
an empty ``key``): :func:`list_recordings` raises
:class:`~sinch_calling.errors.InvalidResponseError` for it (there is no recording
to yield); :func:`list_entries` yields it as a :class:`BadEntry` and goes on, so
that an export reports it as one failed recording.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
from yarl import URL

from ..errors import InvalidResponseError, ValidationError
from ..models import Recording
from ..transport import Transport, decode, encode_segment

__all__ = [
    "MAX_STALE_PAGES",
    "BadEntry",
    "delete_recording",
    "list_entries",
    "list_recordings",
    "recording_url",
]

_LIST_WRAPPERS = ("recordings", "items", "files")

MAX_STALE_PAGES = 5
"""Pages in a row bringing no new key before the listing is taken for a loop."""


@attrs.frozen
class BadEntry:
    """A listing item that is not a valid recording: its ``key`` if it had a usable
    one (else a description of the item) and the decoding ``error``."""

    key: str
    error: InvalidResponseError


def recording_url(transport: Transport, key: object) -> URL:
    """``.../calling/v1/recording/{key}``, the key percent-encoded as one segment.

    Raises :class:`~sinch_calling.errors.ValidationError` (field ``key``) for a key
    that is not a non-empty string of valid Unicode.
    """
    if not isinstance(key, str) or not key:
        raise ValidationError("key", f"must be a non-empty string; got {key!r:.80}")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("key", "must be valid Unicode text (no lone surrogates)") from None
    return transport.traffic_url("recording", encode_segment(key, "key"))


def _page_items(data: Any) -> list[Any]:
    """The RecordingFileInfo array of a list response.

    The spec answers a bare JSON array; an object wrapping it under ``recordings``,
    ``items`` or ``files`` is accepted too, and an empty body is an empty page.
    """
    if data is None:
        return []
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for name in _LIST_WRAPPERS:
            if isinstance(data.get(name), list):
                return list(data[name])
    raise InvalidResponseError("recording list is neither an array nor wraps one", status=200,
                               body=repr(data)[:200].encode())


async def list_entries(
    transport: Transport, params: Mapping[str, str]
) -> AsyncIterator[Recording | BadEntry]:
    """Every recording the listing gives for ``params`` (the window and ``pageSize``,
    already checked), page by page as iterated, and a :class:`BadEntry` for each
    item that does not decode (see the module docstring)."""
    url = transport.traffic_url("recording")
    seen: set[str] = set()
    page, stale = 1, 0
    while True:
        items = _page_items(await transport.request("GET", url,
                                                    params={**params, "page": str(page)}))
        if not items:
            return
        fresh = 0
        for item in items:
            entry = _entry(item)
            if entry.key in seen:
                continue
            seen.add(entry.key)
            fresh += 1
            yield entry
        stale = 0 if fresh else stale + 1
        if stale >= MAX_STALE_PAGES:
            raise InvalidResponseError(
                f"recording list pages {page - stale + 1} to {page} bring no new key (the "
                "server seems to ignore 'page'): the listing would never end", status=200)
        page += 1


def _entry(item: Any) -> Recording | BadEntry:
    try:
        recording = decode(item, Recording)
        if not isinstance(recording.key, str) or not recording.key:
            raise InvalidResponseError("cannot decode Recording: empty key", status=200,
                                       body=repr(item)[:200].encode())
    except InvalidResponseError as exc:
        key = item.get("key") if isinstance(item, dict) else None
        name = key if isinstance(key, str) and key else f"<invalid item {item!r:.60}>"
        return BadEntry(name, exc)
    return recording


async def list_recordings(
    transport: Transport, params: Mapping[str, str]
) -> AsyncIterator[Recording]:
    """:func:`list_entries`, raising the decoding error of an item that is not a
    valid recording (:class:`~sinch_calling.errors.InvalidResponseError`)."""
    async for entry in list_entries(transport, params):
        if isinstance(entry, BadEntry):
            raise entry.error
        yield entry


async def delete_recording(transport: Transport, key: str) -> None:
    """``DELETE`` the recording ``key`` from Sinch's storage (an API call: it never
    waits for a download slot)."""
    await transport.request("DELETE", recording_url(transport, key))
