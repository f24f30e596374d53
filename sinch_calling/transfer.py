"""Streaming a recording to disk: chunked, off the event loop, resumable, atomic.

:func:`download_file` writes to ``.{name}.part`` beside the target and renames it
into place only once the body is complete and its length matches
``Content-Length``. When the connection drops mid-body it asks for the rest with
``Range: bytes={have}-`` and ``If-Range: {ETag}``; a ``200`` instead of ``206`` (the
server ignored the range, or the recording changed) starts the file over. A part
file left by an earlier run is resumed the same way when its ETag was recorded.

Interruptions that make no progress are retried per the client's
:class:`~sinch_calling.retry.RetryPolicy`; after that the part file stays for a later
resume and :class:`~sinch_calling.errors.TransportError` is raised.

Recording GETs send ``Accept-Encoding: identity``: the file is the recording's bytes,
``Content-Length`` counts them and ``Range`` offsets index them. A server that
compresses anyway (``Content-Encoding`` gzip, deflate, br or zstd) gets its body
decoded by aiohttp, so the file still holds the recording itself; but then
``Content-Length`` (aiohttp checks it against the bytes on the wire) and ``Range``
offsets count encoded bytes, so such a body is not resumed: no ETag is recorded, an
interruption starts it over and a ranged answer that is encoded is thrown away. A
coding aiohttp cannot decode raises :class:`~sinch_calling.errors.InvalidResponseError`
before anything is written.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import attrs
from yarl import URL

from .errors import ApiError, InvalidResponseError, TransportError
from .sinks import DEFAULT_FLUSH_SIZE, FileSink, Partial, part_paths, read_partial
from .transport import Transport

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "RECORDING_HEADERS",
    "Downloaded",
    "content_decoded",
    "download_file",
]

DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10, sock_connect=10, sock_read=60)
"""No bound on a whole download; 60 s without a byte counts as a stall."""

_INTERRUPTED = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
RECORDING_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity"}
"""Headers of a recording GET: any media type, the bytes as stored."""
_DECODED_CODINGS = frozenset({"gzip", "deflate", "br", "zstd"})


@attrs.frozen(kw_only=True)
class Downloaded:
    """A completed download: where it is, its size, its SHA-256 (when asked for) and
    how many bytes came over the wire this time."""

    path: Path
    size: int
    sha256: str | None
    received: int


class _Interrupted(Exception):
    """The body stopped early; ``cause`` says why."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def content_decoded(response: aiohttp.ClientResponse) -> bool:
    """Whether aiohttp decoded a ``Content-Encoding`` (so lengths and ranges on the
    wire do not count the bytes read); raises
    :class:`~sinch_calling.errors.InvalidResponseError` for a coding it passes through
    undecoded (the bytes would not be the recording)."""
    coding = response.headers.get("Content-Encoding", "").strip().lower()
    if coding in ("", "identity"):
        return False
    if coding in _DECODED_CODINGS:
        return True
    raise InvalidResponseError(
        f"{response.method} {response.url.with_query(None)}: "
        f"unsupported Content-Encoding {coding[:40]!r}", status=response.status)


def _content_range(header: str | None, offset: int) -> int | None:
    """The total length from a 206's ``Content-Range``, if it starts at ``offset``."""
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None or int(match[1]) != offset:
        return None
    return int(match[3]) if match[3] != "*" else -1


async def download_file(
    transport: Transport,
    url: URL,
    target: Path,
    *,
    hashing: bool = False,
    resume: bool = True,
    timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT,
    durable: bool = False,
    flush_size: int = DEFAULT_FLUSH_SIZE,
    then: Callable[[int, str | None], None] | None = None,
) -> Downloaded:
    """Download ``url`` to ``target`` (see the module docstring).

    ``resume=False`` skips looking for a part file of an earlier run (the export
    knows there is none). ``then(size, sha256)`` runs in the writer thread once the
    file is in place.
    """
    partial = Partial()
    if resume:
        part, state = part_paths(target)
        partial = await asyncio.to_thread(read_partial, part, state, hashing=hashing)
    sink = FileSink(target, partial=partial, hashing=hashing, durable=durable,
                    flush_size=flush_size)
    attempt = 1
    high_water = sink.position
    try:
        while True:
            try:
                expected = await _fetch_into(transport, url, sink, timeout)
            except _Interrupted as interrupted:
                if sink.position > high_water:
                    high_water, attempt = sink.position, 1
                else:
                    attempt += 1
                delay = transport.retry.delay(attempt - 1, None) if attempt > 1 else 0.0
                if delay is None:
                    raise TransportError(
                        f"GET {url.with_query(None)} interrupted at byte {sink.position}: "
                        f"{interrupted.cause!r}"
                    ) from interrupted.cause
                await asyncio.sleep(delay)
                continue
            break
        try:
            size, sha256 = await sink.commit(expected, then)
        except ValueError as exc:
            await sink.discard()
            raise InvalidResponseError(f"GET {url.with_query(None)}: {exc}", status=200) from None
    except BaseException:
        await sink.abandon()
        raise
    return Downloaded(path=target, size=size, sha256=sha256, received=sink.received)


async def _fetch_into(
    transport: Transport, url: URL, sink: FileSink, timeout: aiohttp.ClientTimeout
) -> int | None:
    """One GET (ranged when the sink holds a prefix) written into ``sink``.

    Returns the full length the server announced (``None`` when it did not say);
    raises :class:`_Interrupted` when the body stops early.
    """
    offset = sink.position
    headers = dict(RECORDING_HEADERS)
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if sink.etag:
            headers["If-Range"] = sink.etag
    try:
        async with transport.stream("GET", url, headers=headers, timeout=timeout) as response:
            encoded = content_decoded(response)
            if response.status == 206 and offset:
                if encoded:
                    # its offsets count encoded bytes: start over, unranged
                    await sink.reset()
                    raise _Interrupted(InvalidResponseError(
                        f"GET {url.with_query(None)}: ranged response is content-encoded",
                        status=206))
                total = _content_range(response.headers.get("Content-Range"), offset)
                if total is None:
                    raise InvalidResponseError(
                        f"GET {url.with_query(None)}: Content-Range "
                        f"{response.headers.get('Content-Range')!r} does not start at {offset}",
                        status=206,
                    )
                expected: int | None = total if total >= 0 else None
            else:
                if offset:
                    await sink.reset()  # the server sent the whole body again
                expected = None if encoded else response.content_length
                sink.remember_etag(None if encoded else response.headers.get("ETag"))
            try:
                await _pump(response, sink.write)
            except _Interrupted:
                if encoded:
                    await sink.reset()  # not resumable with Range: start over
                raise
            return expected
    except ApiError as exc:
        if exc.status == 416 and offset:
            await sink.reset()  # our prefix is longer than the recording: start over
            raise _Interrupted(exc) from exc
        raise


async def _pump(
    response: aiohttp.ClientResponse, write: Callable[[bytes], Awaitable[None]]
) -> None:
    try:
        async for chunk in response.content.iter_any():
            await write(chunk)
    except _INTERRUPTED as exc:
        raise _Interrupted(exc) from exc
