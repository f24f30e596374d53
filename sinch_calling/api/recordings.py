"""``sinch.recordings``: list, stream, download, delete and export recordings.

Arguments are checked here, before any request; the work is done by
:mod:`sinch_calling.transfer` (listing, one download, bulk export). Recording
bodies are never held in memory: :meth:`RecordingsApi.stream` hands out chunks,
:meth:`RecordingsApi.download` and :meth:`RecordingsApi.export` write them to disk
off the event loop.

Bodies (streams, downloads) use the transport's download slots and API calls
(listing, deleting, everything else on the client) a budget of their own, so an
API call never waits for a download (see
:meth:`~sinch_calling.transport.Transport.download_slot`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import aiohttp

from .._time import format_timestamp
from ..errors import ValidationError
from ..models import Recording
from ..transfer import (
    DOWNLOAD_TIMEOUT,
    MANIFEST_NAME,
    ExportProgress,
    ExportReport,
    RecordingBody,
    download_file,
    run_export,
)
from ..transfer.download import open_body, resolve_destination
from ..transfer.export import check_manifest_name
from ..transfer.store import delete_recording, list_entries, list_recordings, recording_url
from ..transport import Transport
from ..validation import moment, whole_number

__all__ = ["RecordingBody", "RecordingsApi"]

DEFAULT_PAGE_SIZE = 100


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
    return whole_number("page_size", value, minimum=1)


def _timeout(value: aiohttp.ClientTimeout | None) -> aiohttp.ClientTimeout:
    if value is None:
        return DOWNLOAD_TIMEOUT
    if not isinstance(value, aiohttp.ClientTimeout):
        raise ValidationError("timeout", "must be an aiohttp.ClientTimeout")
    return value


def _path(field: str, value: object) -> str:
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ValidationError(field, f"must be a non-empty path (str or os.PathLike); "
                                     f"got {type(value).__name__}")
    text = os.fspath(value)
    if not isinstance(text, str) or "\x00" in text:
        raise ValidationError(field, "must be a text path without NUL characters")
    return text


class RecordingsApi:
    """Recordings in Sinch's storage (traffic host)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def list(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncIterator[Recording]:
        """Recordings created between ``start`` and ``end`` (timezone-aware), fetched
        a page at a time as you iterate: ``async for rec in sinch.recordings.list(...)``.

        Arguments are checked now, before any request. The API gives no total, so
        the listing ends at the first empty page (not at a short one: a server may
        cap ``pageSize``). Each key is yielded once, even when pages shift because
        recordings are created or deleted meanwhile (an export with
        ``delete_after`` deletes only once the listing is complete for that
        reason). :data:`~sinch_calling.transfer.store.MAX_STALE_PAGES` pages in a
        row bringing no new key raise
        :class:`~sinch_calling.errors.InvalidResponseError` (a server ignoring
        ``page`` would repeat itself forever), and so does an item that is not a
        valid recording (an export reports such an item as one failed recording
        instead, ``stage="list"``). See :mod:`sinch_calling.transfer.store`.
        """
        params = _window_params(start, end)
        params["pageSize"] = str(_page_size(page_size))
        return list_recordings(self._transport, params)

    @asynccontextmanager
    async def stream(
        self, key: str, *, timeout: aiohttp.ClientTimeout | None = None
    ) -> AsyncIterator[RecordingBody]:
        """The body of a recording, in chunks, for piping anywhere::

            async with sinch.recordings.stream(rec.key) as body:
                async for chunk in body:
                    ...

        The connection is released when the block exits, whatever happens; reading
        the body after that raises :class:`~sinch_calling.errors.ClientClosedError`,
        a body cut short :class:`~sinch_calling.errors.TransportError`. A response
        that is not the whole recording (a 206, a 200 carrying a slice) raises
        :class:`~sinch_calling.errors.InvalidResponseError`. ``timeout`` defaults to
        :data:`~sinch_calling.transfer.DOWNLOAD_TIMEOUT`. The body is asked for
        uncompressed (``Accept-Encoding: identity``); one compressed anyway is
        decoded. Other calls on the client (even deleting this recording) do not
        wait for the stream.
        """
        url, limits = recording_url(self._transport, key), _timeout(timeout)
        async with open_body(self._transport, url, timeout=limits) as body:
            yield body

    async def download(
        self,
        key: str,
        destination: str | os.PathLike[str],
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        durable: bool = False,
    ) -> Path:
        """Stream a recording to ``destination`` (a file path, or a directory where
        the file is named after the key, made safe, never the export manifest's
        name) and return the file's path.

        The file appears under its name only when it holds exactly the recording's
        bytes, one version of them (see :mod:`sinch_calling.transfer.download`); an
        interrupted download resumes with ``Range`` and ``If-Range`` (also on the
        next call); ``durable`` fsyncs the file (and its directory) so that it survives
        a power cut once this returns.
        Raises :class:`~sinch_calling.errors.InvalidResponseError` for a response
        that breaks HTTP's range rules, :class:`~sinch_calling.errors.TransportError`
        when retries are spent.
        """
        url, limits = recording_url(self._transport, key), _timeout(timeout)
        if not isinstance(durable, bool):
            raise ValidationError("durable", "must be True or False")
        target = await asyncio.to_thread(resolve_destination,
                                         _path("destination", destination), key)
        result = await download_file(self._transport, url, target, timeout=limits,
                                     durable=durable)
        return result.path

    async def delete(self, key: str) -> None:
        """Delete a recording from Sinch's storage."""
        await delete_recording(self._transport, key)

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
        durable: bool | None = None,
    ) -> ExportReport:
        """Download every recording of a time window into ``directory``.

        Files already exported (per the manifest) are skipped, so running it again
        only fetches what is new or was interrupted. Each completed file adds a JSON
        line to ``directory/manifest`` (``key, path, size, sha256, created_on``).
        Failures of single recordings do not stop the export: they are reported in
        the returned :class:`~sinch_calling.transfer.ExportReport`. ``delete_after``
        deletes each recording from Sinch once a byte-exact copy of it is on disk
        under its final name, but never before the whole listing has been read
        (deleting shifts pages). ``progress`` is called after each recording.
        ``concurrency`` is capped to the client's download slots
        (:attr:`~sinch_calling.transport.Transport.max_downloads`). Nothing is
        created on disk before the server has answered the first listing request.
        ``durable`` (by default, the same as ``delete_after``) fsyncs each file and its
        directory before its manifest line is written and before any delete, so the
        copy survives a power cut once the server's is gone.
        See :mod:`sinch_calling.transfer.export`.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError("concurrency", f"must be an integer >= 1; got {concurrency!r}")
        if not isinstance(delete_after, bool):
            raise ValidationError("delete_after", "must be True or False")
        if durable is None:
            durable = delete_after  # the file is about to be the only copy
        if not isinstance(durable, bool):
            raise ValidationError("durable", "must be True, False or None")
        if progress is not None and not callable(progress):
            raise ValidationError("progress", "must be callable")
        check_manifest_name(manifest)
        folder = _path("directory", directory)
        params = _window_params(start, end)
        params["pageSize"] = str(_page_size(page_size))
        recordings = list_entries(self._transport, params)
        limit = self._transport.max_downloads
        return await run_export(
            self._transport, Path(folder), recordings,
            delete_after=delete_after,
            concurrency=min(concurrency, limit) if limit > 0 else concurrency,
            manifest_name=manifest, progress=progress, timeout=_timeout(timeout),
            durable=durable,
        )
