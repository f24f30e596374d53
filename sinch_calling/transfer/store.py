"""The recordings on the server: a key's URL, the paged listing, deleting one.

The listing API (``GET /calling/v1/recording?from=&to=&page=&pageSize=``) gives no
total and no cursor, so :func:`list_recordings` reads pages by number until one is
empty. It does not stop at a short page: a server may cap ``pageSize`` below the
size asked for, and ending early would silently leave recordings out of an export
(one more request is cheap; a missing recording is not). A page that brings no key
not already listed ends the listing with
:class:`~sinch_calling.errors.InvalidResponseError` (a server ignoring ``page``
would otherwise be read forever). Keys listed twice (pages shift when recordings
are created or deleted meanwhile) are yielded once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from yarl import URL

from ..errors import InvalidResponseError, ValidationError
from ..models import Recording
from ..transport import Transport, decode, encode_segment

__all__ = ["delete_recording", "list_recordings", "recording_url"]

_LIST_WRAPPERS = ("recordings", "items", "files")


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


async def list_recordings(
    transport: Transport, params: Mapping[str, str]
) -> AsyncIterator[Recording]:
    """Every recording the listing gives for ``params`` (the window and ``pageSize``,
    already checked), page by page as iterated (see the module docstring)."""
    url = transport.traffic_url("recording")
    seen: set[str] = set()
    page = 1
    while True:
        items = _page_items(await transport.request("GET", url,
                                                    params={**params, "page": str(page)}))
        if not items:
            return
        recordings = [decode(item, Recording) for item in items]
        fresh = [r for r in recordings if r.key not in seen]
        if not fresh:
            raise InvalidResponseError(
                f"recording list page {page} brings no new key (the server seems to ignore "
                "'page'): the listing would never end", status=200)
        for recording in fresh:
            if recording.key not in seen:
                seen.add(recording.key)
                yield recording
        page += 1


async def delete_recording(transport: Transport, key: str) -> None:
    """``DELETE`` the recording ``key`` from Sinch's storage (an API call: it never
    waits for a download slot)."""
    await transport.request("DELETE", recording_url(transport, key))
