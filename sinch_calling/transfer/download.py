"""One recording to disk (resumable, atomic, byte-exact), and a recording body to pipe.

:func:`download_file` writes to ``.{name}.part`` beside the target (see
:mod:`.sink`) and renames it into place only once it holds exactly the recording's
total length. The rules that make the file one version's exact bytes, and where
they come from:

- **The total** is the ``Content-Range`` complete length (``bytes a-b/TOTAL``) when
  there is one, else ``Content-Length`` (RFC 9110 14.4, 8.6). Without either, a body
  is accepted only when its framing proves its end (``Transfer-Encoding: chunked``);
  a body delimited by closing the connection is refused, since a cut would look
  like the end.
- **A 206** must answer what was asked: its ``Content-Range`` starts at the offset
  asked for (0 for a plain GET), states its complete length, and ends before it;
  otherwise it is refused with :class:`~sinch_calling.errors.InvalidResponseError`.
  A 206 that ends before the total (a short slice, even to a plain GET) is kept and
  the rest asked for with ``Range``.
- **A 200** is the whole body only when nothing says otherwise: a 200 carrying a
  ``Content-Range`` other than ``bytes 0-(N-1)/N`` is refused.
- **Resuming** happens only with a validator of the version being resumed:
  ``Range: bytes={have}-`` goes with ``If-Range`` and the strong ``ETag`` or, failing
  that, the ``Last-Modified`` date of that version. Bytes without a validator are
  never resumed (within one run as across runs): the download starts over. A 206
  naming another version than the one asked for, or another total than before,
  starts over too; a 200 to a ranged request is the whole (new) body.
- Anything a server sends past the end it announced is refused.

A refused response raises :class:`~sinch_calling.errors.InvalidResponseError` and
deletes the part file. An interruption (the body stops early, a short slice, a 416
to a ranged request, a start-over) is retried at once when it brought new bytes and
otherwise after :meth:`~sinch_calling.retry.RetryPolicy.delay_after_failures`; when
the policy gives up, :class:`~sinch_calling.errors.TransportError` is raised and a
resumable part file stays for a later call.

Recording GETs send ``Accept-Encoding: identity``. A body compressed anyway (any
``Content-Encoding`` but ``identity``) is refused before anything is written: its
end could not be proven (aiohttp does not check a gzip trailer) nor its lengths
trusted. So is a response repeating ``Content-Length``, ``Content-Range``,
``ETag``, ``Last-Modified`` or ``Date`` (:func:`check_headers`).

A download is resumed only from the URL asked for: a response that was redirected
elsewhere is never resumed (a resume that gets redirected starts over), since a
``Range`` of another resource would splice its bytes onto ours.

Each attempt holds one of the transport's download slots
(:meth:`~sinch_calling.transport.Transport.download_slot`), never an API call's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import attrs
from yarl import URL

from ..errors import ApiError, ClientClosedError, InvalidResponseError, TransportError
from ..transport import Transport
from .directory import Directory
from .names import RESERVED_NAMES, file_name_for_key, name_fold
from .sink import DEFAULT_FLUSH_SIZE, FileSink, Validator, claim_part

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "RECORDING_HEADERS",
    "Answer",
    "Downloaded",
    "RecordingBody",
    "check_headers",
    "commit_file",
    "download_file",
    "open_body",
    "open_sink",
    "read_answer",
    "receive_file",
    "resolve_destination",
]

DOWNLOAD_TIMEOUT: aiohttp.ClientTimeout = aiohttp.ClientTimeout(
    total=None, connect=10, sock_connect=10, sock_read=60)
"""No bound on a whole download; 60 s without a byte counts as a stall."""

RECORDING_HEADERS = {"Accept": "*/*", "Accept-Encoding": "identity"}
"""Headers of a recording GET: any media type, the bytes as stored."""

_INTERRUPTED = (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, TimeoutError)
_CONTENT_RANGE = re.compile(r"bytes[ \t]+([0-9]+)-([0-9]+)/([0-9]+|\*)", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class Downloaded:
    """A completed download: where it is, its size, its SHA-256 (when asked for) and
    how many bytes came over the wire this time."""

    path: Path
    size: int
    sha256: str | None
    received: int


@attrs.frozen(kw_only=True)
class Answer:
    """What one response to a recording GET carries, by the rules of the module
    docstring: its bytes belong at ``[start, end)`` of the recording (``end`` is
    ``None`` when only the framing tells the end), the recording is ``total`` bytes
    long (``None``: unknown) and ``validator`` names its version (``None``: not
    resumable)."""

    start: int
    end: int | None
    total: int | None
    validator: Validator | None


class _StartOver(Exception):
    """The response cannot continue the bytes held: drop them and ask again."""


class _Interrupted(Exception):
    """The body stopped before the total; ``cause`` says why."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


_SINGLE_HEADERS = ("Content-Length", "Content-Range", "Content-Encoding", "ETag",
                   "Last-Modified", "Date")


def check_headers(response: aiohttp.ClientResponse) -> None:
    """Refuse, with :class:`~sinch_calling.errors.InvalidResponseError`, a response
    whose body would not provably be the recording's bytes:

    - a ``Content-Encoding`` other than ``identity`` (what every recording GET asks
      for): decoding would leave its end unproven (aiohttp does not check a gzip
      trailer) and its lengths and ranges count other bytes;
    - a header the rules rest on given twice (which one would be the truth?).
    """
    where = f"{response.method} {response.url.with_query(None)}"
    for name in _SINGLE_HEADERS:
        if len(response.headers.getall(name, ())) > 1:
            raise InvalidResponseError(f"{where}: {name} given more than once",
                                       status=response.status)
    coding = response.headers.get("Content-Encoding", "").strip().lower()
    if coding not in ("", "identity"):
        raise InvalidResponseError(
            f"{where}: Content-Encoding {coding[:40]!r} although identity was asked for "
            "(a compressed body's end and length cannot be verified)", status=response.status)


def _length(headers: Mapping[str, str]) -> int | None:
    text = headers.get("Content-Length", "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _chunked(headers: Mapping[str, str]) -> bool:
    return "chunked" in headers.get("Transfer-Encoding", "").lower()


def read_answer(
    status: int,
    headers: Mapping[str, str],
    *,
    offset: int,
    asked: Validator | None,
    known_total: int | None,
) -> Answer:
    """Judge a successful response to a GET of the recording from byte ``offset``
    (ranged, with ``If-Range: asked``, when ``offset > 0``). Pure.

    ``known_total`` is the total an earlier answer for the same version gave.
    Raises :class:`~sinch_calling.errors.InvalidResponseError` for a response that
    breaks the rules (the message says which), and ``_StartOver`` for one that
    cannot continue the bytes held.
    """

    def refuse(rule: str) -> InvalidResponseError:
        return InvalidResponseError(f"recording download: {rule}", status=status)

    content_range = headers.get("Content-Range")
    length = _length(headers)
    if length is None and not _chunked(headers):
        raise refuse("neither Content-Length nor chunked framing: a cut body could not be "
                     "told from a complete one")
    if status == 200:
        total = length
        if content_range is not None:
            match = _CONTENT_RANGE.fullmatch(content_range.strip())
            whole = (match is not None and match[3] != "*" and int(match[1]) == 0
                     and int(match[2]) + 1 == int(match[3]))
            if match is None or not whole or (total is not None and total != int(match[3])):
                raise refuse(f"a 200 carrying Content-Range {content_range[:80]!r} is not the "
                             "whole body")
            total = int(match[3])
        validator = Validator.from_headers(headers)
        return Answer(start=0, end=total, total=total, validator=validator)
    if status != 206:
        raise refuse(f"unexpected status {status} to a recording GET")
    match = _CONTENT_RANGE.fullmatch((content_range or "").strip())
    if match is None:
        raise refuse(f"a 206 without a single-range Content-Range ({content_range!r:.80})")
    first, last, complete = int(match[1]), int(match[2]), match[3]
    if complete == "*":
        raise refuse(f"a 206 whose Content-Range {content_range!r:.80} has no complete length")
    total = int(complete)
    if first != offset:
        raise refuse(f"asked for bytes from {offset}, got Content-Range {content_range!r:.80}")
    if last < first or last >= total:
        raise refuse(f"Content-Range {content_range!r:.80} is not a range of the recording")
    if length is not None and length != last - first + 1:
        raise refuse(f"Content-Length {length} does not match Content-Range "
                     f"{content_range!r:.80}")
    validator = Validator.from_headers(headers)
    if offset:
        if asked is None or not asked.matches(headers):
            raise _StartOver("the 206 names another version than the one asked for")
        if known_total is not None and total != known_total:
            raise _StartOver(f"the total changed from {known_total} to {total}")
        validator = asked
    return Answer(start=first, end=last + 1, total=total, validator=validator)


async def open_sink(
    target: Path | str,
    *,
    directory: Directory | None = None,
    hashing: bool = False,
    resume: bool = True,
    durable: bool = False,
    flush_size: int = DEFAULT_FLUSH_SIZE,
) -> FileSink:
    """The part file for ``target`` (a path, or a name in ``directory``), open and
    locked, continuing a resumable one an earlier run left unless ``resume`` is
    false (see :class:`~.sink.FileSink` for the options). Raises
    :class:`~.directory.BusyError` while another run downloads to the same file.

    In an open ``directory`` without ``resume`` (an export that saw no part file
    for it), the part file is claimed by the sink's first write instead, in the
    same thread hop (a small file costs one hop, not two).
    """
    if directory is not None and not resume:
        return FileSink(directory, str(target), None, hashing=hashing, durable=durable,
                        flush_size=flush_size)

    def claim() -> FileSink:
        folder, owned = directory, directory is None
        if folder is None:
            folder = Directory(Path(target).parent)
        try:
            name = Path(target).name if owned else str(target)
            handle, partial = claim_part(folder, name, hashing=hashing, resume=resume)
        except BaseException:
            if owned:
                folder.close()
            raise
        return FileSink(folder, name, handle, partial=partial, owns_directory=owned,
                        hashing=hashing, durable=durable, flush_size=flush_size)

    opening = asyncio.ensure_future(asyncio.to_thread(claim))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        # the thread finishes regardless: close what it opened, releasing the lock
        with contextlib.suppress(Exception):
            await (await opening).abandon()
        raise


async def receive_file(
    transport: Transport,
    url: URL,
    sink: FileSink,
    *,
    timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT,
) -> int | None:
    """Fetch ``url`` into ``sink`` until it holds the whole recording (see the
    module docstring); returns the total to :meth:`~.sink.FileSink.commit` with
    (``None`` when only the framing proved the end).

    On an error or a cancellation the part file is kept for a resume (or deleted,
    for a refused response) and the exception propagates.
    """
    failures, high_water = 0, sink.position
    try:
        while True:
            try:
                await _attempt(transport, url, sink, timeout)
                if sink.total is None or sink.position == sink.total:
                    return sink.total
                raise _Interrupted(EOFError(f"the body ended at byte {sink.position} "
                                            f"of {sink.total}"))
            except _Interrupted as interrupted:
                total = sink.total  # for the message: a reset forgets it
                if sink.validator is None and sink.position:
                    await sink.reset()  # no validator: these bytes can't be resumed
                if sink.position > high_water:
                    high_water, failures = sink.position, 0
                    continue
                failures += 1
                delay = transport.retry.delay_after_failures(failures)
                if delay is None:
                    of = f" of {total}" if total is not None else ""
                    raise TransportError(
                        f"GET {url.with_query(None)} interrupted at byte {sink.position}{of}: "
                        f"{interrupted.cause!r}"
                    ) from interrupted.cause
                await asyncio.sleep(delay)
    except InvalidResponseError:
        await sink.discard()
        raise
    except BaseException:
        await sink.abandon()
        raise


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
) -> Downloaded:
    """Download ``url`` to ``target`` (see the module docstring): the part file
    (:func:`open_sink`) is filled by :func:`receive_file`, then renamed into place.
    ``hashing`` computes the file's SHA-256; ``durable`` fsyncs it before the rename;
    ``resume=False`` skips looking for a part file of an earlier run."""
    sink = await open_sink(target, hashing=hashing, resume=resume, durable=durable,
                           flush_size=flush_size)
    total = await receive_file(transport, url, sink, timeout=timeout)
    size, sha256 = await commit_file(sink, total)
    return Downloaded(path=target, size=size, sha256=sha256, received=sink.received)


async def commit_file(sink: FileSink, total: int | None) -> tuple[int, str | None]:
    """Rename the part file :func:`receive_file` filled into place: (size, sha256).

    A part file whose length on disk is not ``total`` (something else wrote to it)
    raises :class:`OSError` and is deleted; any other failure keeps it for a resume.
    """
    try:
        return await sink.commit(total)
    except ValueError as exc:
        await sink.discard()
        raise OSError(f"{sink.part}: {exc} (was it written to meanwhile?)") from None
    except BaseException:
        await sink.abandon()
        raise


async def _attempt(
    transport: Transport, url: URL, sink: FileSink, timeout: aiohttp.ClientTimeout
) -> None:
    """One GET (ranged when the sink holds resumable bytes) written into ``sink``,
    which then knows the total (if the response said). Raises ``_Interrupted`` when
    the body stopped early or has to start over.
    """
    offset, asked = sink.position, sink.validator
    headers = dict(RECORDING_HEADERS)
    if offset and asked is not None:
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = asked.if_range
    try:
        async with transport.download_slot(), transport.stream(
            "GET", url, headers=headers, timeout=timeout
        ) as response:
            check_headers(response)
            moved = response.url != url  # redirected: another resource's bytes
            try:
                if moved and offset:
                    raise _StartOver(f"redirected to {response.url.with_query(None)}: its "
                                     "bytes do not continue those of the URL asked for")
                answer = read_answer(response.status, response.headers, offset=offset,
                                     asked=asked, known_total=sink.total)
            except _StartOver as exc:
                await sink.reset()
                raise _Interrupted(exc) from None
            if answer.start == 0 and offset:
                await sink.reset()  # the whole body again (a new version, or no Range)
            # a redirected body is never resumed: a Range would go to the original URL
            sink.remember(None if moved else answer.validator, answer.total)
            await _pump(response, sink, answer.end)
    except ApiError as exc:
        if exc.status == 416 and offset:
            await sink.reset()  # our prefix is longer than the recording: start over
            raise _Interrupted(exc) from exc
        raise


async def _pump(response: aiohttp.ClientResponse, sink: FileSink, end: int | None) -> None:
    """Write the body into ``sink``, refusing bytes past ``end``."""
    try:
        async for chunk in response.content.iter_any():
            if end is not None and sink.position + len(chunk) > end:
                raise InvalidResponseError(
                    f"GET {response.url.with_query(None)}: the body runs past byte {end}, "
                    "the end its headers announced", status=response.status)
            await sink.write(chunk)
    except _INTERRUPTED as exc:
        raise _Interrupted(exc) from exc


def resolve_destination(
    destination: str | os.PathLike[str], key: str, *, reserved: Collection[str] = RESERVED_NAMES
) -> Path:
    """The file to write (blocking: run it in a thread). A directory (existing, or
    spelled with a trailing separator) gets the file name derived from the key
    (:func:`~.names.file_name_for_key`), never one of the ``reserved`` names (folded)
    nor a manifest name an export recorded for that directory (its lock file, see
    :mod:`.directory`; any manifest name, not only the default); a file path is
    taken as given. Missing parent directories are created."""
    text = os.fspath(destination)
    path = Path(text)
    separators = tuple(s for s in (os.sep, os.altsep) if s)
    if text.endswith(separators) or path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        folder = Directory(path)
        try:
            used = {name_fold(name) for name in folder.manifest_names()}
        finally:
            folder.close()
        return path / file_name_for_key(key, reserved={*reserved, *used})
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class RecordingBody:
    """A recording's body as it arrives: ``async for chunk in body`` gives ``bytes``.

    Valid inside its ``async with sinch.recordings.stream(...)`` block only: reading
    it afterwards raises :class:`~sinch_calling.errors.ClientClosedError`; a body
    cut short raises :class:`~sinch_calling.errors.TransportError`.
    """

    def __init__(self, response: aiohttp.ClientResponse, answer: Answer) -> None:
        self._response = response
        self._answer = answer
        self._open = True

    @property
    def content_length(self) -> int | None:
        """The recording's length in bytes, if the server said (``None``: it did not;
        the end of the body is then proven by its chunked framing)."""
        return self._answer.total

    @property
    def content_type(self) -> str:
        """The media type, such as ``audio/mpeg``."""
        return self._response.content_type

    @property
    def etag(self) -> str | None:
        """The server's validator for this content, if any."""
        return self._response.headers.get("ETag")

    def close(self) -> None:
        """Mark the body unreadable (its ``async with`` block has ended)."""
        self._open = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    def _closed(self) -> ClientClosedError:
        return ClientClosedError(f"the body of {self._response.url.with_query(None)} is "
                                 "closed: read it inside its 'async with ...stream(...)' block")

    async def _chunks(self) -> AsyncIterator[bytes]:
        if not self._open:
            raise self._closed()
        try:
            async for chunk in self._response.content.iter_any():
                if not self._open:
                    raise self._closed()
                yield chunk
        except _INTERRUPTED as exc:
            if not self._open:
                raise self._closed() from None
            raise TransportError(f"GET {self._response.url.with_query(None)} failed: "
                                 f"{type(exc).__name__}: {exc}") from None
        if not self._open:  # released mid-body: its end is not the recording's
            raise self._closed()


@asynccontextmanager
async def open_body(
    transport: Transport, url: URL, *, timeout: aiohttp.ClientTimeout = DOWNLOAD_TIMEOUT
) -> AsyncIterator[RecordingBody]:
    """The whole body of the recording at ``url``, for streaming (holds a download
    slot). A response that is not the whole body (a 206, a 200 carrying a slice) or
    whose end could not be proven is refused with
    :class:`~sinch_calling.errors.InvalidResponseError`."""
    async with transport.download_slot(), transport.stream(
        "GET", url, headers=RECORDING_HEADERS, timeout=timeout
    ) as response:
        check_headers(response)
        answer = read_answer(response.status, response.headers, offset=0, asked=None,
                             known_total=None)
        if answer.start != 0 or answer.end != answer.total:
            raise InvalidResponseError(
                f"GET {url.with_query(None)}: a 206 for bytes {answer.start}-"
                f"{answer.end} of {answer.total} is not the whole recording",
                status=response.status)
        body = RecordingBody(response, answer)
        try:
            yield body
        finally:
            body.close()
