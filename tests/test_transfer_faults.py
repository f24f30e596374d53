"""Issue 9's failure kinds, each against a real server that misbehaves on purpose.

A file under its final name, a manifest line or a DELETE happens only for a
byte-exact copy of one version of a recording; everything else is refused or
retried. Servers are raw asyncio peers (tests/hostile_http.py) or the emulator.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sinch_calling import RetryPolicy, SinchCalling
from sinch_calling.errors import (
    ClientClosedError,
    InvalidResponseError,
    NotFoundError,
    SinchError,
    TransportError,
)
from sinch_calling.testing import Emulator
from sinch_calling.transfer import MANIFEST_NAME, read_manifest
from sinch_calling.transfer.directory import LOCK_NAME
from sinch_calling.transfer.names import name_fold
from sinch_calling.transfer.sink import part_paths
from sinch_calling.transfer.store import MAX_STALE_PAGES
from tests.hostile_http import Reply, Request, hostile, ranged

KEY = "k.mp3"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _names(directory: Path) -> list[str]:
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_NAME)


def _listing(*keys: str) -> list[dict[str, str]]:
    return [{"key": key, "createdOn": "2024-01-01T00:00:00Z"} for key in keys]


def _data(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# -- 1. a 206 to a plain GET; the total comes from Content-Range ------------------------


async def test_a_206_slice_to_a_plain_get_is_never_a_whole_file(tmp_path: Path) -> None:
    """The issue's server: any GET gets 206 ``bytes 0-999/100000`` and 1,000 bytes."""
    data = _data(100_000)

    def respond(request: Request) -> Reply:
        if request.path == "/calling/v1/recording":
            return Reply.json(_listing(KEY) if request.query.get("page") == "1" else [])
        if request.method == "DELETE":
            return Reply(200)
        return Reply(206, {"Content-Range": "bytes 0-999/100000", "ETag": '"v1"'}, data[:1000])

    async with hostile(respond) as (server, sinch):
        with pytest.raises(InvalidResponseError, match="asked for bytes from 1000"):
            await sinch.recordings.download(KEY, tmp_path / "one")
        assert _names(tmp_path) == []
        # it asked for the rest of that version, and refused the repeated first slice
        assert [(r.header("Range"), r.header("If-Range")) for r in server.gets()] == [
            (None, None), ("bytes=1000-", '"v1"')]
        report = await sinch.recordings.export(tmp_path / "out", delete_after=True)
    assert (report.downloaded, report.deleted, report.failed) == (0, 0, 1)
    assert "asked for bytes from 1000" in report.failures[0].error
    assert read_manifest(tmp_path / "out" / MANIFEST_NAME) == {}
    assert _names(tmp_path / "out") == []
    assert not [r for r in server.requests if r.method == "DELETE"]


async def test_a_206_first_slice_is_kept_and_the_rest_asked_for(tmp_path: Path) -> None:
    """A server that answers a plain GET with its first 64 KiB as a 206 (some CDNs do)."""
    data = _data(300_000, 1)

    def respond(request: Request) -> Reply:
        if request.header("Range") is None:
            return Reply(206, {"Content-Range": f"bytes 0-65535/{len(data)}", "ETag": '"v"'},
                         data[:65536])
        return ranged(data, request, {"ETag": '"v"'})

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == data
    assert [r.header("Range") for r in server.gets()] == [None, "bytes=65536-"]


@pytest.mark.parametrize(("content_range", "rule"), [
    ("bytes 0-999/*", "no complete length"),
    ("bytes 0-999", "single-range Content-Range"),
    (None, "single-range Content-Range"),
    ("bytes 0-999/500", "not a range of the recording"),
    ("bytes 5-1004/100000", "asked for bytes from 0"),
])
async def test_a_206_that_does_not_answer_what_was_asked_is_refused(
    tmp_path: Path, content_range: str | None, rule: str
) -> None:
    headers = {"ETag": '"v"'} | ({"Content-Range": content_range} if content_range else {})

    async with hostile(lambda r: Reply(206, headers, bytes(1000))) as (_, sinch):
        with pytest.raises(InvalidResponseError, match=rule):
            await sinch.recordings.download(KEY, tmp_path / "f")
    assert _names(tmp_path) == []


async def test_a_206_whose_length_disagrees_with_its_range_is_refused(tmp_path: Path) -> None:
    reply = Reply(206, {"Content-Range": "bytes 0-999/1000", "Content-Length": "10"}, bytes(10))
    async with hostile(lambda r: reply) as (_, sinch):
        with pytest.raises(InvalidResponseError, match="does not match Content-Range"):
            await sinch.recordings.download(KEY, tmp_path / "f")
    assert _names(tmp_path) == []


async def test_bytes_past_the_announced_end_are_refused(tmp_path: Path) -> None:
    """Chunked framing lets a server send more than its Content-Range said."""
    reply = Reply(206, {"Content-Range": "bytes 0-999/1000"}, bytes(1500), framing="chunked")
    async with hostile(lambda r: reply) as (_, sinch):
        with pytest.raises(InvalidResponseError, match="runs past byte 1000"):
            await sinch.recordings.download(KEY, tmp_path / "f")
    assert _names(tmp_path) == []


async def test_a_body_whose_end_cannot_be_proven_is_refused(tmp_path: Path) -> None:
    """No Content-Length, not chunked: a cut would look exactly like the end."""
    async with hostile(lambda r: Reply(200, {}, bytes(5000), framing="close")) as (_, sinch):
        with pytest.raises(InvalidResponseError, match="neither Content-Length nor chunked"):
            await sinch.recordings.download(KEY, tmp_path / "f")
        with pytest.raises(InvalidResponseError, match="neither Content-Length nor chunked"):
            async with sinch.recordings.stream(KEY):
                pass
    assert _names(tmp_path) == []


async def test_a_chunked_body_without_a_length_is_whole_when_its_framing_ends(
    tmp_path: Path,
) -> None:
    data = _data(200_000, 2)
    async with hostile(lambda r: Reply(200, {}, data, framing="chunked")) as (_, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == data


# -- 2. resume only with a validator ----------------------------------------------------


async def test_without_a_validator_a_cut_download_starts_over(tmp_path: Path) -> None:
    """The issue's case: no ETag, cut at 50,000 bytes, and the recording changes."""
    versions = [_data(120_000, 3), _data(120_000, 4)]

    def respond(request: Request) -> Reply:
        if len(server.requests) == 1:
            return Reply(200, {}, versions[0], cut=50_000)
        return ranged(versions[1], request)  # a server that would honour a blind Range

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == versions[1]
    assert [r.header("Range") for r in server.gets()] == [None, None]
    assert _names(tmp_path) == [KEY]


@pytest.mark.parametrize("etag", [None, 'W/"weak"'])
async def test_last_modified_is_the_validator_when_there_is_no_strong_etag(
    tmp_path: Path, etag: str | None
) -> None:
    data = _data(120_000, 5)
    stamp = "Wed, 21 Oct 2015 07:28:00 GMT"
    headers = {"Last-Modified": stamp, "Date": "Wed, 21 Oct 2015 07:28:01 GMT"} | (
        {"ETag": etag} if etag else {})

    def respond(request: Request) -> Reply:
        reply = ranged(data, request, headers)
        if len(server.requests) == 1:
            reply.cut = 50_000
        return reply

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == data
    assert [(r.header("Range"), r.header("If-Range")) for r in server.gets()] == [
        (None, None), ("bytes=50000-", stamp)]


async def test_a_206_naming_another_version_starts_over(tmp_path: Path) -> None:
    old, new = _data(120_000, 6), _data(120_000, 7)

    def respond(request: Request) -> Reply:
        if len(server.requests) == 1:
            return Reply(200, {"ETag": '"old"'}, old, cut=50_000)
        return ranged(new, request, {"ETag": '"new"'})  # ignores If-Range: a lie

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == new
    assert [r.header("Range") for r in server.gets()] == [None, "bytes=50000-", None]


async def test_a_206_changing_the_total_starts_over(tmp_path: Path) -> None:
    data = _data(120_000, 8)

    def respond(request: Request) -> Reply:
        turn = len(server.requests)
        if turn == 1:
            return Reply(206, {"Content-Range": "bytes 0-49999/120000", "ETag": '"v"'},
                         data[:50_000])
        if turn == 2:  # same version, other total: cannot both be true
            return Reply(206, {"Content-Range": "bytes 50000-59999/130000", "ETag": '"v"'},
                         bytes(10_000))
        return ranged(data, request, {"ETag": '"v"'})

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == data
    assert [r.header("Range") for r in server.gets()] == [None, "bytes=50000-", None]


# -- 3. a 200 carrying a slice -----------------------------------------------------------


async def test_a_200_carrying_a_slice_is_refused(tmp_path: Path) -> None:
    """The issue's case: resume answered 200 ``bytes 100000-299999/300000``."""
    data = _data(300_000, 9)

    def respond(request: Request) -> Reply:
        if len(server.requests) == 1:
            return Reply(200, {"ETag": '"v"'}, data, cut=100_000)
        return Reply(200, {"ETag": '"v"', "Content-Range": "bytes 100000-299999/300000"},
                     data[100_000:])

    async with hostile(respond) as (server, sinch):
        with pytest.raises(InvalidResponseError, match="200 carrying Content-Range"):
            await sinch.recordings.download(KEY, tmp_path)
    assert _names(tmp_path) == []  # nor a part file: the server lied about its bytes


async def test_a_200_with_a_whole_content_range_is_the_whole_body(tmp_path: Path) -> None:
    data = _data(1000, 10)
    reply = Reply(200, {"Content-Range": "bytes 0-999/1000"}, data)
    async with hostile(lambda r: reply) as (_, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == data


# -- 4. a listing that never ends, and a capped page size --------------------------------


async def test_a_listing_that_ignores_page_ends_with_an_error(tmp_path: Path) -> None:
    def respond(request: Request) -> Reply:
        if request.path == "/calling/v1/recording":
            return Reply.json(_listing("a", "b"))  # the same two, whatever the page
        return ranged(b"body", request)

    async with hostile(respond) as (server, sinch):
        listing = sinch.recordings.list(page_size=2)
        seen = [(await anext(listing)).key, (await anext(listing)).key]
        with pytest.raises(InvalidResponseError, match=f"pages 2 to {1 + MAX_STALE_PAGES} "
                                                       "bring no new key"):
            await anext(listing)
        assert seen == ["a", "b"]
        server.requests.clear()
        with pytest.raises(InvalidResponseError, match="no new key"):
            await sinch.recordings.export(tmp_path, delete_after=True, page_size=2)
    assert len([r for r in server.requests if r.path == "/calling/v1/recording"]) == (
        1 + MAX_STALE_PAGES)
    assert not [r for r in server.requests if r.method == "DELETE"]


async def test_a_server_capping_page_size_does_not_cut_an_export_short(
    tmp_path: Path,
) -> None:
    keys = [f"r{i:02d}" for i in range(7)]

    def respond(request: Request) -> Reply:
        if request.path == "/calling/v1/recording":
            page = int(request.query["page"])
            return Reply.json(_listing(*keys[(page - 1) * 2:page * 2]))  # caps at 2
        return ranged(request.path.rsplit("/", 1)[1].encode(), request)

    async with hostile(respond) as (server, client):
        report = await client.recordings.export(tmp_path, page_size=100)
        assert [r.query["page"] for r in server.requests
                if r.path == "/calling/v1/recording"] == ["1", "2", "3", "4", "5"]
    assert report.downloaded == 7
    assert sorted(read_manifest(tmp_path / MANIFEST_NAME)) == keys


# -- 5. downloads never starve API calls -------------------------------------------------


async def test_api_calls_do_not_wait_for_downloads_with_one_connection(tmp_path: Path) -> None:
    release = asyncio.Event()
    body_started = asyncio.Event()

    async def respond(request: Request) -> Reply:
        if request.path.startswith("/calling/v1/recording/"):
            if request.method == "DELETE":
                return Reply(200)
            body_started.set()
            await release.wait()
            return ranged(b"x" * 1000, request)
        return Reply.json({"numbers": []})

    async with hostile(respond, max_connections=1) as (_, sinch):
        download = asyncio.create_task(sinch.recordings.download(KEY, tmp_path))
        await body_started.wait()
        # a hang guard, not a timing assertion: a starved call would wait for ever
        assert await asyncio.wait_for(sinch.numbers.list(), 20) == []
        await asyncio.wait_for(sinch.recordings.delete("other"), 20)
        assert not download.done()
        release.set()
        assert (await download).read_bytes() == b"x" * 1000


async def test_deleting_inside_a_stream_with_one_connection(
    emulator: Emulator,
) -> None:
    emulator.recordings.add(KEY, b"abc" * 100_000)
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url, max_connections=1) as sinch, \
            sinch.recordings.stream(KEY) as body:
            await asyncio.wait_for(sinch.recordings.delete(KEY), 20)  # hang guard
            received = b"".join([chunk async for chunk in body])
    assert received == b"abc" * 100_000
    assert emulator.recordings.items == {}


# -- 6. the smaller ones -----------------------------------------------------------------


async def test_a_short_206_keeps_its_bytes_for_the_next_range(tmp_path: Path) -> None:
    """A 206 whose body ends (cleanly) before its range does: resume from there."""
    data = _data(200_000, 11)

    def respond(request: Request) -> Reply:
        reply = ranged(data, request, {"ETag": '"v"'})
        if len(server.requests) == 1:
            reply.cut = 60_000
        elif len(server.requests) == 2:  # the range says 60000-199999; 40,000 bytes come
            reply = Reply(206, reply.headers, reply.body[:40_000], framing="chunked")
        return reply

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == data
    assert [r.header("Range") for r in server.gets()] == [
        None, "bytes=60000-", "bytes=100000-"]


async def test_a_download_that_never_completes_reports_its_206(tmp_path: Path) -> None:
    reply = Reply(206, {"Content-Range": "bytes 0-999/5000"}, bytes(1000))  # no validator
    async with hostile(lambda r: reply) as (server, sinch):
        with pytest.raises(TransportError, match="interrupted at byte 0 of 5000"):
            await sinch.recordings.download(KEY, tmp_path / "f")
    assert _names(tmp_path) == []
    assert all(r.header("Range") is None for r in server.gets())


async def test_a_body_read_after_its_block_raises_a_sinch_error(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    emulator.recordings.add(KEY, bytes(3 * 1024 * 1024))
    async with sinch.recordings.stream(KEY) as body:
        pass
    with pytest.raises(ClientClosedError, match="read it inside"):
        async for _ in body:
            pass
    async with sinch.recordings.stream(KEY) as body:
        chunks = aiter(body)
        await anext(chunks)
    with pytest.raises(SinchError):
        await anext(chunks)


async def test_a_single_download_never_replaces_an_export_manifest(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add("a.mp3", b"a")
    emulator.recordings.add(MANIFEST_NAME, b"not a manifest")
    await sinch.recordings.export(tmp_path)
    before = (tmp_path / MANIFEST_NAME).read_bytes()
    path = await sinch.recordings.download(MANIFEST_NAME, tmp_path)
    assert path.name != MANIFEST_NAME
    assert path.read_bytes() == b"not a manifest"
    assert (tmp_path / MANIFEST_NAME).read_bytes() == before
    assert set(read_manifest(tmp_path / MANIFEST_NAME)) == {"a.mp3", MANIFEST_NAME}


async def test_export_creates_nothing_before_the_server_answers(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.faults.add("GET", "/calling/v1/recording", status=401, times=None)
    with pytest.raises(SinchError):
        await sinch.recordings.export(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    emulator.faults.clear()
    report = await sinch.recordings.export(tmp_path / "out", start=T0,
                                           end=T0 + timedelta(days=1))
    assert report.listed == 0
    assert _names(tmp_path / "out") == []  # no empty manifest either


async def test_a_refused_answer_leaves_no_part_file_and_no_state(tmp_path: Path) -> None:
    data = _data(3 * 1024 * 1024, 12)

    def respond(request: Request) -> Reply:
        if len(server.requests) == 1:
            return Reply(200, {"ETag": '"v"'}, data, cut=2 * 1024 * 1024 + 10)
        return Reply(206, {"ETag": '"v"', "Content-Range": f"bytes 0-99/{len(data)}"},
                     data[:100])

    async with hostile(respond) as (server, sinch):
        with pytest.raises(InvalidResponseError):
            await sinch.recordings.download(KEY, tmp_path / "f")
    assert _names(tmp_path) == []
    assert not part_paths(tmp_path / "f")[0].exists()


async def test_an_error_claiming_a_huge_body_is_read_only_in_part(tmp_path: Path) -> None:
    """A 404 announcing 1 GiB: typed by its status from an excerpt, never read whole
    (this server sends 256 KiB and hangs up; reading on would fail as a cut body)."""
    reply = Reply(404, {"Content-Length": str(2**30), "Content-Type": "text/html"},
                  b"<html>" + bytes(256 * 1024))
    async with hostile(lambda r: reply) as (_, sinch):
        with pytest.raises(NotFoundError):
            await sinch.recordings.download(KEY, tmp_path / "f")
        with pytest.raises(NotFoundError):
            async with sinch.recordings.stream(KEY):
                pass
    assert _names(tmp_path) == []


async def test_a_stream_refuses_anything_but_the_whole_body() -> None:
    reply = Reply(206, {"Content-Range": "bytes 0-999/100000", "ETag": '"v"'}, bytes(1000))
    async with hostile(lambda r: reply) as (_, sinch):
        with pytest.raises(InvalidResponseError, match="not the whole recording"):
            async with sinch.recordings.stream(KEY):
                pass


async def test_a_file_changed_since_its_export_is_fetched_again_before_a_delete(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add("a.mp3", b"the recording")
    await sinch.recordings.export(tmp_path)
    (tmp_path / "a.mp3").write_bytes(b"THE RECORDING")  # same size, other bytes
    emulator.requests.clear()
    report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.skipped, report.downloaded, report.deleted) == (0, 1, 1)
    assert (tmp_path / "a.mp3").read_bytes() == b"the recording"


def test_the_resume_loop_asks_the_retry_policy() -> None:
    policy = RetryPolicy(attempts=3, backoff=0.5, max_backoff=1.0)
    assert 0 <= policy.delay_after_failures(1) <= 0.5  # type: ignore[operator]
    assert 0 <= policy.delay_after_failures(2) <= 1.0  # type: ignore[operator]
    assert policy.delay_after_failures(3) is None
    assert RetryPolicy.never().delay_after_failures(1) is None


async def test_a_new_version_cut_short_is_resumed_with_its_own_total(tmp_path: Path) -> None:
    old, new = _data(100_000, 13), _data(150_000, 14)

    def respond(request: Request) -> Reply:
        turn = len(server.requests)
        if turn == 1:  # a first slice: the total (of the old version) is known
            return Reply(206, {"ETag": '"old"', "Content-Range": "bytes 0-39999/100000"},
                         old[:40_000])
        if request.header("If-Range") == '"old"':  # the version changed: 200, whole
            return Reply(200, {"ETag": '"new"'}, new, cut=70_000)
        return ranged(new, request, {"ETag": '"new"'})

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download(KEY, tmp_path)
    assert path.read_bytes() == new
    assert [(r.header("Range"), r.header("If-Range")) for r in server.gets()] == [
        (None, None), ("bytes=40000-", '"old"'), ("bytes=70000-", '"new"')]


async def test_keys_differing_only_in_case_never_share_a_file(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    """On macOS or Windows "A.mp3" and "a.mp3" are one file: the second download would
    replace the first, whose manifest line (and delete) would then vouch for the
    wrong bytes."""
    bodies = {"Call.mp3": b"first", "call.mp3": b"second", "CALL.MP3": b"third",
              "MANIFEST.JSONL": b"fourth"}
    for key, body in bodies.items():
        emulator.recordings.add(key, body)
    report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert report.ok
    entries = read_manifest(tmp_path / MANIFEST_NAME)
    folded = [name_fold(entry.path) for entry in entries.values()]
    assert len(set(folded)) == 4
    assert name_fold(MANIFEST_NAME) not in folded
    for key, entry in entries.items():
        assert (tmp_path / entry.path).read_bytes() == bodies[key]
    again = await sinch.recordings.export(tmp_path)  # names are stable across runs
    assert again.listed == 0
    emulator.recordings.add("call.mp3", b"second")
    emulator.recordings.add("Call.mp3", b"first")
    third = await sinch.recordings.export(tmp_path)
    assert (third.skipped, third.downloaded) == (2, 0)



async def test_delete_after_makes_each_copy_durable_before_the_delete(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is about to be the only copy: fsynced (file, then directory) first."""
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    emulator.recordings.add("a.mp3", b"a" * 100)
    emulator.recordings.add("b.mp3", b"b" * 100)
    await sinch.recordings.export(tmp_path, delete_after=False)
    assert synced == []  # not asked for: no disk flushes
    emulator.recordings.add("c.mp3", b"c" * 100)
    report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.skipped, report.downloaded, report.deleted) == (2, 1, 3)
    assert len(synced) == 2 + 2  # two skipped files re-read, one new file and its directory
