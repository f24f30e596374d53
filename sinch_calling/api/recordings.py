"""``sinch.recordings``: list, stream, download, delete and export recordings.

Recording bodies are never held in memory: :meth:`RecordingsApi.stream` hands out
chunks, :meth:`RecordingsApi.download` and :meth:`RecordingsApi.export` write them to
disk off the event loop (see :mod:`sinch_calling.transfer`).

Downloads and streams share a pool of connection slots smaller than the client's
connection limit (:func:`download_slots`), so a big export never starves callouts
or other API calls made through the same client.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from ..auth import format_timestamp
from ..errors import InvalidResponseError, ValidationError
from ..export import MANIFEST_NAME, ExportProgress, ExportReport, run_export
from ..filenames import file_name_for_key
from ..models import Recording
from ..transfer import DOWNLOAD_TIMEOUT, RECORDING_HEADERS, content_decoded, download_file
from ..transport import Transport, decode, encode_segment
from ..validation import moment

__all__ = ["RecordingBody", "RecordingsApi", "download_slots"]

DEFAULT_PAGE_SIZE = 100
_LIST_WRAPPERS = ("recordings", "items", "files")


def download_slots(max_connections: int) -> int:
    """How many downloads may run at once: a fifth of the pool (at least one
    connection) stays free for other calls. 0 means unlimited, as in aiohttp."""
    if max_connections <= 0:
        return 1_000_000
    return max(1, max_connections - max(1, max_connections // 5))


def _segment(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise ValidationError("key", f"must be a non-empty string; got {key!r}")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("key", "must be valid Unicode text (no lone surrogates)") from None
    return encode_segment(key, "key")


_moment = moment  # aware, and within the years UTC can express


def _window_params(start: object, end: object) -> dict[str, str]:
    params: dict[str, str] = {}
    begin, finish = _moment("start", start), _moment("end", end)
    if begin is not None:
        params["from"] = format_timestamp(begin)
    if finish is not None:
        params["to"] = format_timestamp(finish)
    if begin is not None and finish is not None and params["to"] <= params["from"]:
        raise ValidationError("end", "must be at least 1 ms later than start")
    return params


def _page_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValidationError("page_size", f"must be a positive integer; got {value!r}")
    return value


def _timeout(value: aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout:
    if value is None:
        return DOWNLOAD_TIMEOUT
    if not isinstance(value, aiohttp.ClientTimeout):
        raise ValidationError("timeout", "must be an aiohttp.ClientTimeout")
    return value


def _page_items(data: Any) -> Any:
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
                return data[name]
    raise InvalidResponseError("recording list is neither an array nor wraps one", status=200,
                               body=repr(data)[:200].encode())


def _resolve_destination(destination: str | os.PathLike[str], key: str) -> Path:
    """The file to write (blocking: run in a thread). A directory (existing, or
    spelled with a trailing separator) gets the file name derived from the key."""
    text = os.fspath(destination)
    path = Path(text)
    separators = tuple(s for s in (os.sep, os.altsep) if s)
    if text.endswith(separators) or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        return path / file_name_for_key(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class RecordingBody:
    """A recording's body as it arrives: ``async for chunk in body`` gives ``bytes``."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._decoded = content_decoded(response)

    @property
    def content_length(self) -> int | None:
        """Length announced by the server, if any. ``None`` when the server
        compressed the body anyway (the announced length counts compressed bytes;
        the chunks are decoded)."""
        return None if self._decoded else self._response.content_length

    @property
    def content_type(self) -> str:
        """The media type, such as ``audio/mpeg``."""
        return self._response.content_type

    @property
    def etag(self) -> str | None:
        """The server's validator for this content, if any."""
        return self._response.headers.get("ETag")

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._response.content.iter_any().__aiter__()


class RecordingsApi:
    """Recordings in Sinch's storage (traffic host)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._slots: asyncio.Semaphore | None = None

    def _url(self, key: str) -> Any:
        return self._transport.traffic_url("recording", _segment(key))

    def _download_slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            connector = self._transport.session.connector
            limit = connector.limit if connector is not None else 0
            self._slots = asyncio.Semaphore(download_slots(limit))
        return self._slots

    def list(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Recording]:
        """Recordings created between ``start`` and ``end`` (timezone-aware), fetched
        a page at a time as you iterate: ``async for rec in sinch.recordings.list(...)``.

        Arguments are checked now, before any request. The API gives no total, so a
        page shorter than ``page_size`` is taken as the last one: a server that
        capped the page size below ``page_size`` would end the listing after its
        first page (the spec documents no cap). Pages are read by number as you go:
        recordings created or deleted meanwhile can shift later ones into pages
        already read (an export with ``delete_after`` deletes only once the listing
        is complete for that reason).
        """
        params = _window_params(start, end)
        params["pageSize"] = str(_page_size(page_size))
        return self._pages(params, page_size)

    async def _pages(self, params: dict[str, str], page_size: int) -> AsyncIterator[Recording]:
        t = self._transport
        url = t.traffic_url("recording")
        page = 1
        while True:
            data = await t.request("GET", url, params={**params, "page": str(page)})
            items = _page_items(data)
            for item in items:
                yield decode(item, Recording)
            if len(items) < page_size:
                return
            page += 1

    @asynccontextmanager
    async def stream(
        self, key: str, *, timeout: aiohttp.ClientTimeout | None = None
    ) -> AsyncIterator[RecordingBody]:
        """The body of a recording, in chunks, for piping anywhere::

            async with sinch.recordings.stream(rec.key) as body:
                async for chunk in body:
                    ...

        The connection is released when the block exits, whatever happens.
        ``timeout`` defaults to :data:`~sinch_calling.transfer.DOWNLOAD_TIMEOUT`.
        The body is asked for uncompressed (``Accept-Encoding: identity``); one
        compressed anyway is decoded (see :mod:`sinch_calling.transfer`).
        """
        url, limits = self._url(key), _timeout(timeout)
        async with self._download_slots(), self._transport.stream(
            "GET", url, headers=RECORDING_HEADERS, timeout=limits
        ) as response:
            yield RecordingBody(response)

    async def download(
        self,
        key: str,
        destination: str | os.PathLike[str],
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        durable: bool = False,
    ) -> Path:
        """Stream a recording to ``destination`` (a file path, or a directory where
        the file is named after the key, made safe) and return the file's path.

        The file appears under its name only when complete; an interrupted
        download resumes with ``Range`` (also on the next call); ``durable`` fsyncs
        the file before it is renamed into place.
        """
        url, limits = self._url(key), _timeout(timeout)
        target = await asyncio.to_thread(_resolve_destination, destination, key)
        async with self._download_slots():
            result = await download_file(self._transport, url, target, timeout=limits,
                                         durable=durable)
        return result.path

    async def delete(self, key: str) -> None:
        """Delete a recording from Sinch's storage."""
        await self._transport.request("DELETE", self._url(key))

    async def export(
        self,
        directory: str | os.PathLike[str],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        concurrency: int = 8,
        delete_after: bool = False,
        manifest: str = MANIFEST_NAME,
        progress: Callable[[ExportProgress], None] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        durable: bool = False,
    ) -> ExportReport:
        """Download every recording of a time window into ``directory``.

        Files already exported (per the manifest) are skipped, so running it again
        only fetches what is new or was interrupted. Each completed file adds a JSON
        line to ``directory/manifest`` (``key, path, size, sha256, created_on``).
        Failures of single recordings do not stop the export: they are reported in
        the returned :class:`~sinch_calling.export.ExportReport`. ``delete_after``
        deletes each recording from Sinch once its file is complete and verified,
        but never before the whole listing has been read (deleting shifts pages).
        ``progress`` is called after each recording. ``concurrency`` is capped to
        the client's download slots (see :func:`download_slots`).
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError("concurrency", f"must be an integer >= 1; got {concurrency!r}")
        if not isinstance(delete_after, bool):
            raise ValidationError("delete_after", "must be True or False")
        if progress is not None and not callable(progress):
            raise ValidationError("progress", "must be callable")
        recordings = self.list(start=start, end=end, page_size=page_size)
        limits = _timeout(timeout)
        slots = self._download_slots()
        transport = self._transport

        async def fetch(
            key: str, target: Path, resume: bool, then: Callable[[int, str | None], None]
        ) -> int:
            async with slots:
                done = await download_file(transport, self._url(key), target, hashing=True,
                                           resume=resume, timeout=limits, durable=durable,
                                           then=then)
            return done.received

        return await run_export(
            Path(os.fspath(directory)),
            recordings,
            fetch=fetch,
            delete=self.delete if delete_after else None,
            concurrency=min(concurrency, download_slots(self._connection_limit())),
            manifest_name=manifest,
            progress=progress,
        )

    def _connection_limit(self) -> int:
        connector = self._transport.session.connector
        return connector.limit if connector is not None else 0
