"""Recordings API: list, download (with Range), delete (prefix ``/calling/v1``).

Downloads are streamed in chunks (large generated recordings never sit in memory),
with ``Content-Length``, a strong ``ETag``, ``Accept-Ranges: bytes``, single-range
``Range`` requests (206, or 416 when unsatisfiable) and ``If-Range``. The ``cut_after``
fault sends the full headers, that many body bytes, then drops the connection.
"""

from __future__ import annotations

import re
from datetime import datetime

from aiohttp import web

from ...auth import parse_timestamp
from ..keys import CUT_AFTER, DROPPED
from ..responses import bad_request, not_found
from ..state import RecordingStore, StoredRecording

__all__ = ["RecordingRoutes"]

_DEFAULT_PAGE_SIZE = 100
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _timestamp(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        return parse_timestamp(text)
    except ValueError:
        raise bad_request(f"'{name}' must be a timestamp") from None


def _positive(request: web.Request, name: str, default: int, message: str) -> int:
    text = request.query.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_request(message) from None
    if value <= 0:
        raise bad_request(message)
    return value


class _Unsatisfiable(Exception):
    """The Range starts past the end of the recording."""


def _byte_range(request: web.Request, recording: StoredRecording,
                ignore_range: bool) -> tuple[int, int] | None:
    """The ``[start, end)`` a Range header asks for; ``None`` for the whole body.

    Raises :class:`_Unsatisfiable` (answered with 416) for a range past the end.
    Multi-range and malformed headers are ignored (the whole body), as RFC 9110 allows.
    """
    header = request.headers.get("Range")
    if not header or ignore_range:
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range != recording.etag:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None
    size = recording.size
    if match[1]:
        start = int(match[1])
        end = min(size, int(match[2]) + 1) if match[2] else size
        if match[2] and int(match[2]) < start:
            return None
    else:
        start, end = max(0, size - int(match[2])), size
    if start >= size or start >= end:
        raise _Unsatisfiable
    return start, end


class RecordingRoutes:
    """The recordings API's handlers, over the store they are handed."""

    def __init__(self, store: RecordingStore) -> None:
        self._store = store

    def table(self) -> list[web.RouteDef]:
        """Every route, for ``app.add_routes``."""
        one = r"/calling/v1/recording/{key:[\s\S]+}"
        return [
            web.get("/calling/v1/recording", self.list_recordings),
            web.get(one, self.download_recording),
            web.delete(one, self.delete_recording),
        ]

    async def list_recordings(self, request: web.Request) -> web.Response:
        """``GET /calling/v1/recording?from=&to=&page=&pageSize=``: a page of
        RecordingFileInfo, whose ``url`` is on the origin the request came to."""
        page = _positive(request, "page", 1, "'pageNumber' must be greater than 0")
        size = _positive(request, "pageSize", _DEFAULT_PAGE_SIZE,
                         "'pageSize' must be a positive integer")
        start, end = _timestamp(request, "from"), _timestamp(request, "to")
        if start is not None and end is not None and end <= start:
            raise bad_request("'to' must be greater than 'from'")
        store = self._store
        found = store.window(start, end)[(page - 1) * size:page * size]
        origin = str(request.url.origin())
        infos = [r.info(origin) for r in found]
        return web.json_response({store.list_wrapper: infos} if store.list_wrapper else infos)

    def _recording(self, request: web.Request) -> StoredRecording:
        key = request.match_info["key"]
        recording = self._store.get(key)
        if recording is None:
            raise not_found(f"Recording not found: {key}")
        return recording

    async def download_recording(self, request: web.Request) -> web.StreamResponse:
        """``GET /calling/v1/recording/{key}``: the binary body, streamed."""
        recording = self._recording(request)
        try:
            span = _byte_range(request, recording, self._store.ignore_range)
        except _Unsatisfiable:
            return web.Response(status=416,
                                headers={"Content-Range": f"bytes */{recording.size}"})
        start, end = span if span is not None else (0, recording.size)
        response = web.StreamResponse(status=200 if span is None else 206)
        response.headers["Content-Type"] = recording.content_type
        response.headers["ETag"] = recording.etag
        response.headers["Accept-Ranges"] = "bytes"
        if span is not None:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{recording.size}"
        response.content_length = end - start
        await response.prepare(request)
        budget = request.get(CUT_AFTER)  # set by a ``cut_after`` fault
        try:
            async for chunk in recording.chunks(start, end):
                if budget is not None and len(chunk) >= budget:
                    await response.write(chunk[:budget])
                    request[DROPPED] = "cut by fault mid-body"
                    if request.transport is not None:
                        request.transport.close()
                    return response
                await response.write(chunk)
                if budget is not None:
                    budget -= len(chunk)
            await response.write_eof()
        except ConnectionError:  # the client stopped reading and hung up: its choice
            request[DROPPED] = "client disconnected"
        return response

    async def delete_recording(self, request: web.Request) -> web.Response:
        """``DELETE /calling/v1/recording/{key}``."""
        recording = self._recording(request)
        self._store.delete(recording.key)
        return web.Response(status=200)
