"""The transfer invariant against issue 9's second review (break9): each kind of break
with its minimal input, against raw local servers (tests/hostile_http.py).

A file under its final name, a manifest line or a DELETE happens only for a
byte-exact copy of one version of one recording.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import random
import time
import zlib
from pathlib import Path

import pytest

from sinch_calling.errors import InvalidResponseError
from sinch_calling.transfer import MANIFEST_NAME, read_manifest
from sinch_calling.transfer.directory import LOCK_NAME, BusyError
from sinch_calling.transfer.manifest import parse_manifest
from sinch_calling.transfer.sink import Validator, part_paths
from tests.hostile_http import Reply, Request, hostile, ranged

LISTING = "/calling/v1/recording"
PREFIX = "/calling/v1/recording/"


def _data(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_NAME)


def _page(request: Request, keys: list[str]) -> Reply:
    size = int(request.query.get("pageSize", "100"))
    number = int(request.query.get("page", "1"))
    chosen = keys[(number - 1) * size:number * size]
    return Reply.json([{"key": k, "createdOn": "2024-05-02T00:00:00Z"} for k in chosen])


def _key(request: Request) -> str:
    return request.path.removeprefix(PREFIX)


def _deleted(requests: list[Request]) -> list[str]:
    return [_key(r) for r in requests if r.method == "DELETE"]


def _check_manifest(directory: Path, bodies: dict[str, bytes]) -> None:
    """Every manifest line names its own file holding exactly that key's bytes."""
    entries = read_manifest(directory / MANIFEST_NAME)
    paths = [entry.path.casefold() for entry in entries.values()]
    assert len(paths) == len(set(paths))
    for key, entry in entries.items():
        data = (directory / entry.path).read_bytes()
        assert data == bodies[key]
        assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())


# -- 1. two keys never share a file -----------------------------------------------------


async def test_a_key_spelled_like_another_keys_hashed_name_gets_its_own_file(
    tmp_path: Path,
) -> None:
    hashed = f"a-{hashlib.sha256(b'a.mp3').hexdigest()[:12]}.mp3"  # a.mp3's fallback name
    keys = [hashed, "A.mp3", "a.mp3"]
    bodies = {k: (k * 1000).encode() for k in keys}

    async def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, keys)
        if request.method == "DELETE":
            return Reply(204)
        if _key(request) == "a.mp3":
            await asyncio.sleep(0.05)  # arrives last
        return Reply(200, {"ETag": '"x"'}, bodies[_key(request)])

    async with hostile(respond) as (_, sinch):
        report = await sinch.recordings.export(tmp_path, delete_after=True, concurrency=1)
        assert (report.downloaded, report.deleted, report.failed) == (3, 3, 0)
        _check_manifest(tmp_path, bodies)
        assert sorted(read_manifest(tmp_path / MANIFEST_NAME)) == sorted(keys)
        assert len(_names(tmp_path)) == 4  # three files and the manifest
        # a rerun finds each key's file through the manifest, whatever the order
        keys.reverse()
        again = await sinch.recordings.export(tmp_path, concurrency=1)
    assert (again.downloaded, again.skipped) == (0, 3)
    _check_manifest(tmp_path, bodies)


# -- 2. two runs into one directory -------------------------------------------------------


async def test_a_second_export_into_the_same_directory_fails_fast(tmp_path: Path) -> None:
    data = _data(300_000)
    started, release = asyncio.Event(), asyncio.Event()

    async def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, ["k"])
        if request.method == "DELETE":
            return Reply(204)
        if not started.is_set():  # the first export's GET waits
            started.set()
            await release.wait()
        return Reply(200, {"ETag": '"v1"'}, data)

    async with hostile(respond) as (server, sinch):
        first = asyncio.create_task(sinch.recordings.export(tmp_path, delete_after=True))
        await started.wait()
        with pytest.raises(BusyError, match="in use by another run"):
            await sinch.recordings.export(tmp_path, delete_after=True)
        # a single download of the same key meanwhile: its own complete copy, or BusyError
        assert (await sinch.recordings.download("k", tmp_path)).read_bytes() == data
        release.set()
        report = await first
        assert (report.downloaded, report.deleted) == (1, 1)
        assert _deleted(server.requests) == ["k"]
        # once it has finished, the directory is free again
        again = await sinch.recordings.export(tmp_path)
        assert again.skipped == 1
    assert (tmp_path / "k").read_bytes() == data
    assert _names(tmp_path) == ["k", MANIFEST_NAME]


async def test_a_download_holding_its_part_file_keeps_others_out(tmp_path: Path) -> None:
    data = _data(300_000, 5)
    started, release = asyncio.Event(), asyncio.Event()

    async def respond(request: Request) -> Reply:
        if not started.is_set():
            started.set()
            await release.wait()
        return Reply(200, {"ETag": '"v1"'}, data)

    async with hostile(respond) as (server, sinch):
        first = asyncio.create_task(sinch.recordings.download("k", tmp_path))
        await started.wait()  # it holds .k.part (a download claims it before asking)
        with pytest.raises(BusyError, match=r"\.k\.part"):
            await sinch.recordings.download("k", tmp_path)
        with pytest.raises(BusyError, match=r"\.k\.part"):
            await sinch.recordings.download("k", tmp_path / "k")
        release.set()
        assert (await first).read_bytes() == data
    assert len(server.gets()) == 1
    assert _names(tmp_path) == ["k"]


async def test_a_part_file_replaced_under_a_download_is_never_renamed_into_place(
    tmp_path: Path,
) -> None:
    """Someone not taking the lock replaces the part file mid-download: the run's
    rename refuses (the name no longer is the file it wrote); nothing is vouched."""
    data = _data(3 * 1024 * 1024, 1)
    part = part_paths(tmp_path / "k")[0]

    def written() -> None:
        """Until the download's first batch is in its part file (so it holds it)."""
        for _ in range(1000):
            if part.exists() and part.stat().st_size >= 1024 * 1024:
                return
            time.sleep(0.005)

    async def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, ["k"])
        if request.method == "DELETE":
            return Reply(204)
        if len(server.gets()) == 1:  # cut after 2 MiB: the first MiB goes to the part file
            return Reply(200, {"ETag": '"v1"'}, data, cut=2 * 1024 * 1024)
        await asyncio.to_thread(written)
        # before the resume: another file takes the part file's name
        intruder = tmp_path / "intruder"
        intruder.write_bytes(b"x" * len(data))
        os.replace(intruder, part)
        return ranged(data, request, {"ETag": '"v1"'})

    async with hostile(respond) as (server, sinch):
        report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.downloaded, report.deleted, report.failed) == (0, 0, 1)
    assert "no longer the file this download wrote" in report.failures[0].error
    assert not (tmp_path / "k").exists()
    assert read_manifest(tmp_path / MANIFEST_NAME) == {}
    assert _deleted(server.requests) == []


# -- 3. a compressed body is refused --------------------------------------------------------


async def test_a_gzip_body_without_its_trailer_is_refused(tmp_path: Path) -> None:
    data = _data(200_000, 2)
    squeeze = zlib.compressobj(6, zlib.DEFLATED, 31)
    cut = squeeze.compress(data[:100_000]) + squeeze.flush(zlib.Z_SYNC_FLUSH)  # no trailer

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, ["k.mp3"])
        if request.method == "DELETE":
            return Reply(204)
        return Reply(200, {"Content-Encoding": "gzip", "ETag": '"v"'}, cut)

    async with hostile(respond) as (server, sinch):
        with pytest.raises(InvalidResponseError, match="Content-Encoding 'gzip'"):
            await sinch.recordings.download("k.mp3", tmp_path / "single.mp3")
        assert _names(tmp_path) == []
        report = await sinch.recordings.export(tmp_path / "exp", delete_after=True)
    assert (report.downloaded, report.deleted, report.failed) == (0, 0, 1)
    assert _names(tmp_path / "exp") == []
    assert _deleted(server.requests) == []
    assert {r.header("Accept-Encoding") for r in server.gets()} == {"identity"}


async def test_a_whole_gzip_body_is_refused_too(tmp_path: Path) -> None:
    def respond(request: Request) -> Reply:
        return Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(b"abc"))

    async with hostile(respond) as (_, sinch):
        with pytest.raises(InvalidResponseError, match="identity was asked for"):
            await sinch.recordings.download("k", tmp_path)
    assert _names(tmp_path) == []


# -- 4. a Last-Modified date is a validator only when strong --------------------------------

STAMP = "Wed, 01 May 2024 10:00:00 GMT"


async def test_a_last_modified_equal_to_date_is_never_used_to_resume(tmp_path: Path) -> None:
    v1, v2 = b"1" * 200_000, b"2" * 200_000

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, ["k"])
        if request.method == "DELETE":
            return Reply(204)
        headers = {"Last-Modified": STAMP, "Date": STAMP}
        if len(server.gets()) == 1:
            return Reply(200, headers, v1, cut=100_000)
        # rewritten within the same second: an honest server answers the equal date
        return ranged(v2, request, headers)

    async with hostile(respond) as (server, sinch):
        report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.downloaded, report.deleted) == (1, 1)
    assert (tmp_path / "k").read_bytes() == v2
    assert [(r.header("Range"), r.header("If-Range")) for r in server.gets()] == [
        (None, None), (None, None)]


@pytest.mark.parametrize(("modified", "date", "strong"), [
    (STAMP, "Wed, 01 May 2024 10:00:01 GMT", True),
    (STAMP, STAMP, False),
    (STAMP, "Wed, 01 May 2024 09:00:00 GMT", False),  # dated before it was modified
    (STAMP, None, False),
    ("yesterday", "Wed, 01 May 2024 10:00:01 GMT", False),
    (STAMP, "-0000", False),
])
def test_last_modified_is_strong_only_a_second_before_date(
    modified: str, date: str | None, strong: bool
) -> None:
    headers = {"Last-Modified": modified} | ({"Date": date} if date else {})
    validator = Validator.from_headers(headers)
    assert (validator == Validator(None, modified)) is strong
    assert strong or validator is None


# -- 5, 7. the manifest: torn lines, hand-edited lines ----------------------------------------


async def test_a_torn_manifest_line_never_hides_a_deleted_recording(tmp_path: Path) -> None:
    keys = ["a", "b"]

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, [k for k in keys if k not in _deleted(server.requests)])
        if request.method == "DELETE":
            return Reply(204)
        return Reply(200, {"ETag": '"e"'}, b"hello")

    # an earlier run crashed mid-line (no newline)
    (tmp_path / MANIFEST_NAME).write_text('{"key":"zzz","path":"zzz","si')
    async with hostile(respond) as (server, sinch):
        report = await sinch.recordings.export(tmp_path, delete_after=True, concurrency=1)
    assert report.deleted == 2
    entries = read_manifest(tmp_path / MANIFEST_NAME)
    assert set(_deleted(server.requests)) <= set(entries)
    assert sorted(entries) == ["a", "b"]
    assert (tmp_path / MANIFEST_NAME).read_bytes().startswith(
        b'{"key":"zzz","path":"zzz","si\n{"key":"a"')


def test_only_the_broken_line_is_skipped() -> None:
    good = b'{"key":"a","path":"a","size":1,"sha256":null,"created_on":null}'
    other = b'{"key":"b","path":"b","size":2,"sha256":null,"created_on":null}'
    assert sorted(parse_manifest(good + b"\n{\"key\":\"x\n" + other + b"\n")) == ["a", "b"]


BAD_LINES = [
    '{"key":"x","path":5,"size":1}',
    '{"key":"x","path":"x","size":1e999}',
    '{"key":"x","path":"x","size":-1}',
    '{"key":"x","path":"x","size":true}',
    '{"key":"x","path":"x","size":"1"}',
    '{"key":"x","path":"../x","size":1}',
    '{"key":"x","path":"x","size":1,"sha256":5}',
    '{"key":5,"path":"x","size":1}',
    '[1, 2]',
    '5',
]


@pytest.mark.parametrize("line", BAD_LINES)
async def test_a_hand_edited_manifest_line_is_not_trusted(tmp_path: Path, line: str) -> None:
    (tmp_path / MANIFEST_NAME).write_text(line + "\n")
    (tmp_path / "x").write_bytes(b"y")  # what the edited line would vouch for

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, ["x"])
        if request.method == "DELETE":
            return Reply(204)
        return Reply(200, {"ETag": '"e"'}, b"z")

    assert parse_manifest((line + "\n").encode()) == {}
    async with hostile(respond) as (_, sinch):
        report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.downloaded, report.skipped, report.deleted) == (1, 0, 1)
    assert (tmp_path / "x").read_bytes() == b"z"


# -- 6. the export directory swapped for a symbolic link mid-run --------------------------------


async def test_a_directory_swapped_for_a_symlink_mid_run_gets_no_write(tmp_path: Path) -> None:
    keys = [f"r{i}" for i in range(6)]
    directory, moved, other = tmp_path / "exp", tmp_path / "exp_old", tmp_path / "other"
    other.mkdir()

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, keys)
        if request.method == "DELETE":
            return Reply(204)
        if not moved.exists():  # mid-run: the export has opened its directory
            directory.rename(moved)
            directory.symlink_to(other)
        return Reply(200, {"ETag": '"e"'}, b"hello")

    async with hostile(respond) as (_, sinch):
        report = await sinch.recordings.export(directory, delete_after=True, concurrency=6)
    assert (report.downloaded, report.deleted, report.failed) == (6, 6, 0)
    assert os.listdir(other) == []
    assert _names(moved) == sorted([MANIFEST_NAME, *keys])


# -- 8. a single download never takes a manifest's name ----------------------------------------


async def test_a_download_never_replaces_a_manifest_of_any_name(tmp_path: Path) -> None:
    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return _page(request, ["c"])
        return Reply(200, {"ETag": '"e"'}, b"x")

    async with hostile(respond) as (_, sinch):
        await sinch.recordings.export(tmp_path, manifest="index.jsonl")
        before = (tmp_path / "index.jsonl").read_bytes()
        path = await sinch.recordings.download("index.jsonl", tmp_path)
        again = await sinch.recordings.download("INDEX.JSONL", tmp_path)
    assert path.parent == tmp_path
    assert path.name != "index.jsonl"
    assert again.name.casefold() != "index.jsonl"
    assert (tmp_path / "index.jsonl").read_bytes() == before


# -- 9. a header the rules rest on, given twice --------------------------------------------------


@pytest.mark.parametrize(("name", "first", "second"), [
    ("Content-Range", "bytes 0-99/100", "bytes 0-99/102400"),
    ("ETag", '"a"', '"b"'),
    ("Last-Modified", STAMP, "Thu, 02 May 2024 10:00:00 GMT"),
    ("Date", STAMP, "Thu, 02 May 2024 10:00:00 GMT"),
])
async def test_a_repeated_header_is_refused(
    tmp_path: Path, name: str, first: str, second: str
) -> None:
    def respond(request: Request) -> Reply:
        return Reply(200, {name: first}, b"x" * 100, repeated=[(name, second)])

    async with hostile(respond) as (_, sinch):
        with pytest.raises(InvalidResponseError, match=f"{name} given more than once"):
            await sinch.recordings.download("k", tmp_path / "f")
        with pytest.raises(InvalidResponseError, match=f"{name} given more than once"):
            async with sinch.recordings.stream("k"):
                pass
    assert _names(tmp_path) == []


async def test_digits_are_ascii_digits(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4
    total = len(data)

    def respond(request: Request) -> Reply:
        return Reply(206, {"Content-Range": f"bytes \uff10-{total - 1}/{total}"}, data)

    async with hostile(respond) as (_, sinch):
        with pytest.raises(InvalidResponseError, match="single-range Content-Range"):
            await sinch.recordings.download("k", tmp_path / "f")
    assert _names(tmp_path) == []


# -- 10. listings: pages shifted by new calls, items that don't decode -------------------------


async def test_a_newest_first_listing_shifted_by_new_calls_is_not_a_loop(
    tmp_path: Path,
) -> None:
    store = ["c", "d", "e", "f"]

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            reply = _page(request, store)
            if request.query["page"] == "1":
                store[:0] = ["new1", "new2"]  # two calls recorded meanwhile, newest first
            return reply
        return Reply(200, {"ETag": '"e"'}, b"x")

    async with hostile(respond) as (_, sinch):
        listed = [r.key async for r in sinch.recordings.list(page_size=2)]
        assert listed == ["c", "d", "e", "f"]
        del store[:2]
        report = await sinch.recordings.export(tmp_path, page_size=2, concurrency=1)
    assert report.failed == 0
    assert sorted(read_manifest(tmp_path / MANIFEST_NAME)) == ["c", "d", "e", "f"]


async def test_an_undecodable_item_is_one_failed_recording_of_an_export(
    tmp_path: Path,
) -> None:
    items = [{"key": "good", "createdOn": "2024-05-02T00:00:00Z"},
             {"key": "bad", "createdOn": 12345}, {"key": ""}]

    def respond(request: Request) -> Reply:
        if request.path == LISTING:
            return Reply.json(items if request.query["page"] == "1" else [])
        if request.method == "DELETE":
            return Reply(204)
        return Reply(200, {"ETag": '"e"'}, b"x")

    async with hostile(respond) as (server, sinch):
        with pytest.raises(InvalidResponseError, match="cannot decode Recording"):
            [r async for r in sinch.recordings.list()]
        report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.listed, report.downloaded, report.deleted, report.failed) == (3, 1, 1, 2)
    assert {f.stage for f in report.failures} == {"list"}
    assert "bad" in [f.key for f in report.failures]
    assert _deleted(server.requests) == ["good"]


# -- 11. a resume redirected elsewhere --------------------------------------------------------


async def test_a_resume_redirected_to_another_resource_never_splices(tmp_path: Path) -> None:
    data, other = _data(102_400, 3), _data(102_400, 4)

    def respond(request: Request) -> Reply:
        if request.path == PREFIX + "OTHER":
            return ranged(other, request, {"ETag": '"a"'})  # same ETag: the trap
        if len(server.gets(PREFIX + "k")) == 1:
            return Reply(200, {"ETag": '"a"'}, data, cut=5000)
        return Reply(302, {"Location": PREFIX + "OTHER"})

    async with hostile(respond) as (server, sinch):
        path = await sinch.recordings.download("k", tmp_path / "f")
    assert path.read_bytes() == other  # one resource's bytes, whole
    assert [r.header("Range") for r in server.gets(PREFIX + "OTHER")][-1] is None

