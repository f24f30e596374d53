"""recordings.download: to a file or a directory, resume, atomic rename, hostile keys."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import random
import tempfile
import threading
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.errors import (
    InvalidResponseError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from sinch_calling.testing import Emulator, pattern_bytes, pattern_sha256
from sinch_calling.transfer.directory import LOCK_NAME
from sinch_calling.transfer.names import MAX_NAME_BYTES, file_name_for_key
from sinch_calling.transfer.sink import part_paths
from tests.conftest import FAST_RETRY

MiB = 1024 * 1024


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_NAME)
RECORDING_GETS = "/calling/v1/recording/*"


def _downloads(emulator: Emulator) -> list[tuple[str | None, str | None]]:
    return [(r.headers.get("Range"), r.headers.get("If-Range"))
            for r in emulator.requests if r.method == "GET" and r.path.count("/") == 4]


async def test_download_to_a_file_path(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add("call.mp3", b"ID3" + bytes(5000))
    path = await sinch.recordings.download("call.mp3", tmp_path / "sub" / "mine.mp3")
    assert path == tmp_path / "sub" / "mine.mp3"
    assert path.read_bytes() == b"ID3" + bytes(5000)
    assert _names(path.parent) == ["mine.mp3"]


@pytest.mark.parametrize("trailing", [True, False])
async def test_download_to_a_directory_names_the_file_after_the_key(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path, trailing: bool
) -> None:
    emulator.recordings.add("a/b.mp3", b"x" * 10)
    if trailing:
        destination: str | Path = f"{tmp_path / 'new'}{os.sep}"
        directory = tmp_path / "new"
    else:
        destination = directory = tmp_path
    path = await sinch.recordings.download("a/b.mp3", destination)
    assert path.parent == directory
    assert path.name == file_name_for_key("a/b.mp3")
    assert path.read_bytes() == b"x" * 10


async def test_large_download_is_exact(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add_generated("big", 5 * MiB + 3, seed=9)
    path = await sinch.recordings.download("big", tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pattern_sha256(9, 5 * MiB + 3)
    assert not part_paths(path)[0].exists()
    assert not part_paths(path)[1].exists()


async def test_empty_recording(sinch: SinchCalling, emulator: Emulator, tmp_path: Path) -> None:
    emulator.recordings.add("empty", b"")
    path = await sinch.recordings.download("empty", tmp_path)
    assert path.read_bytes() == b""


@pytest.mark.parametrize("cut_after", [0, 1, 1000, 2 * MiB + 5])
async def test_resumes_after_a_dropped_connection_with_range_and_if_range(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path, cut_after: int
) -> None:
    stored = emulator.recordings.add_generated("r.mp3", 3 * MiB, seed=4)
    emulator.faults.add("GET", RECORDING_GETS, cut_after=cut_after)
    path = await sinch.recordings.download("r.mp3", tmp_path)
    assert path.read_bytes() == pattern_bytes(4, 0, 3 * MiB)
    first, second = _downloads(emulator)
    assert first == (None, None)
    if cut_after:
        assert second == (f"bytes={cut_after}-", stored.etag)
    else:
        assert second == (None, None)  # nothing to resume from


async def test_resumes_through_several_cuts(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add_generated("r", 1 * MiB, seed=2)
    emulator.faults.add("GET", RECORDING_GETS, cut_after=100_000, times=5)
    path = await sinch.recordings.download("r", tmp_path)
    assert path.read_bytes() == pattern_bytes(2, 0, MiB)
    ranges = [r for r, _ in _downloads(emulator)]
    assert ranges == [None, *(f"bytes={n * 100_000}-" for n in range(1, 6))]


async def test_server_ignoring_range_starts_over(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add_generated("r", 2 * MiB, seed=5)
    emulator.recordings.ignore_range = True
    emulator.faults.add("GET", RECORDING_GETS, cut_after=1_500_000)
    path = await sinch.recordings.download("r", tmp_path)
    assert path.read_bytes() == pattern_bytes(5, 0, 2 * MiB)
    assert [r for r, _ in _downloads(emulator)] == [None, "bytes=1500000-"]


async def test_changed_recording_starts_over(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    """If-Range with a stale ETag: the server sends the new content whole."""
    emulator.recordings.add_generated("r", 2 * MiB, seed=1)
    emulator.recordings.ignore_range = True
    emulator.faults.add("GET", RECORDING_GETS, cut_after=MiB + 1, times=None)
    with pytest.raises(TransportError):
        await sinch.recordings.download("r", tmp_path / "r")
    emulator.faults.clear()
    emulator.recordings.ignore_range = False
    assert part_paths(tmp_path / "r")[0].stat().st_size == MiB + 1
    emulator.recordings.add_generated("r", 2 * MiB, seed=2)  # new content, new ETag
    emulator.requests.clear()
    path = await sinch.recordings.download("r", tmp_path / "r")
    assert path.read_bytes() == pattern_bytes(2, 0, 2 * MiB)
    [(range_header, if_range)] = _downloads(emulator)
    assert range_header == f"bytes={MiB + 1}-"
    assert if_range is not None


async def test_truncated_body_fails_without_a_file_under_the_final_name(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add_generated("r", MiB)
    emulator.recordings.ignore_range = True  # every attempt restarts: no progress
    emulator.faults.add("GET", RECORDING_GETS, cut_after=1000, times=None)
    with pytest.raises(TransportError, match="interrupted at byte 1000"):
        await sinch.recordings.download("r", tmp_path / "out.mp3")
    assert not (tmp_path / "out.mp3").exists()
    assert len(_downloads(emulator)) == FAST_RETRY.attempts + 1


async def test_a_later_call_resumes_an_interrupted_download(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    stored = emulator.recordings.add_generated("r", 3 * MiB, seed=8)
    emulator.faults.add("GET", RECORDING_GETS, cut_after=2 * MiB, times=None)
    emulator.recordings.ignore_range = True
    with pytest.raises(TransportError):
        await sinch.recordings.download("r", tmp_path / "r")
    part, state = part_paths(tmp_path / "r")
    assert part.stat().st_size == 2 * MiB
    assert json.loads(state.read_text()) == {"etag": stored.etag}
    emulator.faults.clear()
    emulator.recordings.ignore_range = False
    emulator.requests.clear()
    path = await sinch.recordings.download("r", tmp_path / "r")
    assert path.read_bytes() == pattern_bytes(8, 0, 3 * MiB)
    assert _downloads(emulator) == [(f"bytes={2 * MiB}-", stored.etag)]
    assert not part.exists()
    assert not state.exists()


async def test_a_part_file_without_etag_is_not_trusted(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add("r", b"new content")
    part, _ = part_paths(tmp_path / "r")
    part.write_bytes(b"stale bytes from who knows where")
    path = await sinch.recordings.download("r", tmp_path / "r")
    assert path.read_bytes() == b"new content"
    assert _downloads(emulator) == [(None, None)]


async def test_a_part_longer_than_the_recording_starts_over(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    stored = emulator.recordings.add("r", b"short")
    part, state = part_paths(tmp_path / "r")
    part.write_bytes(b"much longer than the recording")
    state.write_text(json.dumps({"etag": stored.etag}))
    path = await sinch.recordings.download("r", tmp_path / "r")
    assert path.read_bytes() == b"short"
    assert [r for r, _ in _downloads(emulator)] == ["bytes=30-", None]


async def test_unknown_recording(sinch: SinchCalling, emulator: Emulator, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        await sinch.recordings.download("missing", tmp_path)
    assert _names(tmp_path) == []


async def test_bad_key_fails_before_any_request(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError):
        await sinch.recordings.download("", tmp_path)
    assert emulator.requests == []


HOSTILE_KEYS = ["../../x", "..", ".", "a/b.mp3", "/etc/passwd", "..\\..\\x", "C:\\x",
                "con", "NUL.mp3", "x\x00y", " ", "...", ".hidden", "a?b*c", "é/../é",
                "%2e%2e%2fx", "x" * 600, "manifest.jsonl", "\n", "a\r\nb"]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
async def test_hostile_keys_stay_inside_the_directory(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path, key: str
) -> None:
    emulator.recordings.add(key, b"payload")
    inside = tmp_path / "inside"
    inside.mkdir()
    path = await sinch.recordings.download(key, inside)
    assert path.parent == inside
    assert _names(tmp_path) == ["inside"]
    assert _names(inside) == [path.name]
    assert path.read_bytes() == b"payload"


# -- the file name mapping, property-based -----------------------------------------


keys = st.text(min_size=1, max_size=300)


@given(keys)
def test_file_name_is_one_safe_component(key: str) -> None:
    name = file_name_for_key(key)
    assert name not in ("", ".", "..")
    assert not name.startswith(".")
    assert not name.endswith((".", " "))
    assert not any(c in name for c in '/\\<>:"|?*\x00')
    assert all(ord(c) >= 32 and c != "\x7f" for c in name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    base = Path("/srv/export")
    assert (base / name).parent == base
    assert os.path.normpath(base / name) == str(base / name)


@given(keys, keys)
def test_different_keys_get_different_names(a: str, b: str) -> None:
    if a != b:
        assert file_name_for_key(a) != file_name_for_key(b)


@given(keys)
def test_reserved_names_are_never_returned(key: str) -> None:
    assert file_name_for_key(key, reserved={"manifest.jsonl"}) != "manifest.jsonl"


plain_keys = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,250}", fullmatch=True)


@given(st.one_of(keys, plain_keys, st.sampled_from(["CON.mp3", "nul", "a.", "b ", "x" * 201,
                                                    "manifest.jsonl"])))
def test_the_fast_path_agrees_with_the_general_one(key: str) -> None:
    from sinch_calling.transfer.names import _cleaned_name

    reserved = {"manifest.jsonl"}
    assert file_name_for_key(key, reserved=reserved) == _cleaned_name(key, reserved)


@pytest.mark.parametrize("key", ["call-123.mp3", "2024-01-01_a.wav", "Ünïcode.mp3"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert file_name_for_key(key) == key


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(min_size=1, max_size=80))
def test_any_key_downloads_inside_the_directory(key: str) -> None:
    async def scenario(root: Path) -> None:
        async with Emulator() as emu, SinchCalling(
            emu.application_key, emu.application_secret, base_url=emu.url, retry=FAST_RETRY
        ) as client:
            emu.recordings.add(key, b"data")
            path = await client.recordings.download(key, root / "inside")
            assert path.parent == root / "inside"
            assert path.read_bytes() == b"data"

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "inside").mkdir()
        asyncio.run(scenario(root))
        written = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
        assert written[0] == "inside"
        assert len(written) == 2
        assert Path(written[1]).parent == Path("inside")


# -- servers that compress, stall or misbehave (real aiohttp servers on loopback) ---

RECORDING_PATH = "/calling/v1/recording/{key}"


@asynccontextmanager
async def serve(*routes: web.RouteDef) -> AsyncIterator[SinchCalling]:
    """A client of a real aiohttp server on 127.0.0.1 answering ``routes``."""
    app = web.Application()
    app.add_routes(routes)
    async with TestServer(app, host="127.0.0.1") as server, SinchCalling(
        "key", "c2VjcmV0", base_url=f"http://127.0.0.1:{server.port}", retry=FAST_RETRY
    ) as client:
        yield client


def _seen(requests: list[web.Request], name: str) -> list[str | None]:
    return [r.headers.get(name) for r in requests]


async def test_download_asks_for_the_bytes_as_stored(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add("r", b"abc")
    await sinch.recordings.download("r", tmp_path)
    [get] = [r for r in emulator.requests if r.method == "GET"]
    assert get.headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "compress"])
async def test_a_compressed_body_is_refused_and_nothing_written(
    tmp_path: Path, coding: str
) -> None:
    data = random.Random(1).randbytes(MiB)
    requests: list[web.Request] = []

    async def compressing(request: web.Request) -> web.Response:
        requests.append(request)
        body = gzip.compress(data) if coding == "gzip" else zlib.compress(data)
        return web.Response(body=body, headers={"Content-Encoding": coding, "ETag": '"e1"'})

    async with serve(web.get(RECORDING_PATH, compressing)) as client:
        with pytest.raises(InvalidResponseError, match=f"Content-Encoding '{coding}'"):
            await client.recordings.download("r.wav", tmp_path)
    assert _names(tmp_path) == []
    assert _seen(requests, "Accept-Encoding") == ["identity"]


# -- cancellation ---------------------------------------------------------------------


async def test_a_cancelled_download_leaves_a_resumable_part_and_no_file(
    tmp_path: Path,
) -> None:
    data = random.Random(4).randbytes(3 * MiB)
    half_sent, release = asyncio.Event(), asyncio.Event()
    requests: list[web.Request] = []

    async def stalling(request: web.Request) -> web.StreamResponse:
        requests.append(request)
        start = int(request.headers.get("Range", "bytes=0-")[6:-1])
        response = web.StreamResponse(status=206 if start else 200, headers={"ETag": '"e1"'})
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response.content_length = len(data) - start
        await response.prepare(request)
        if not start:
            await response.write(data[:2 * MiB])
            half_sent.set()
            await release.wait()
        await response.write(data[start:])
        return response

    target = tmp_path / "r"
    part, state = part_paths(target)
    async with serve(web.get(RECORDING_PATH, stalling)) as client:
        try:
            task = asyncio.create_task(client.recordings.download("r", target))
            await half_sent.wait()
            # a state file means a batch reached the disk: the download is mid-body
            while not state.exists():  # noqa: ASYNC110 - the writer thread has no event
                await asyncio.sleep(0.001)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert not target.exists()
            kept = part.read_bytes()
            assert kept == data[:len(kept)]
            assert json.loads(state.read_text()) == {"etag": '"e1"'}
            path = await client.recordings.download("r", target)
        finally:
            release.set()
    assert path.read_bytes() == data
    assert _seen(requests, "Range") == [None, f"bytes={len(kept)}-"]
    assert _names(tmp_path) == ["r"]


async def test_cancelling_during_the_commit_waits_for_it(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path,
    held_fsync: tuple[threading.Event, threading.Event],
) -> None:
    """abandon() must not touch the file while the commit's thread still owns it."""
    entered, release = held_fsync
    emulator.recordings.add("r", b"abc" * 1000)
    task = asyncio.create_task(sinch.recordings.download("r", tmp_path, durable=True))
    await asyncio.to_thread(entered.wait)
    task.cancel()
    for _ in range(20):  # let the cancellation reach abandon()
        await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (tmp_path / "r").read_bytes() == b"abc" * 1000
    assert _names(tmp_path) == ["r"]  # no stale .r.part.json written beside it


# -- planted symlinks -------------------------------------------------------------------


async def test_planted_symlinks_are_replaced_not_followed(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add_generated("r", 2 * MiB + 1, seed=6)  # spans batches: state written
    outside = tmp_path / "outside"
    outside.mkdir()
    victims = [outside / "a", outside / "b"]
    for victim in victims:
        victim.write_bytes(b"precious")
    inside = tmp_path / "inside"
    inside.mkdir()
    part, state = part_paths(inside / "r")
    part.symlink_to(victims[0])
    state.symlink_to(victims[1])
    path = await sinch.recordings.download("r", inside)
    assert path.read_bytes() == pattern_bytes(6, 0, 2 * MiB + 1)
    assert [v.read_bytes() for v in victims] == [b"precious", b"precious"]
    assert _names(inside) == ["r"]
    assert [r for r, _ in _downloads(emulator)] == [None]


async def test_a_symlinked_part_is_not_resumed_through(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    stored = emulator.recordings.add_generated("r", MiB, seed=7)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    inside = tmp_path / "inside"
    inside.mkdir()
    part, state = part_paths(inside / "r")
    part.symlink_to(victim)
    state.write_text(json.dumps({"etag": stored.etag}))  # a valid-looking resume state
    path = await sinch.recordings.download("r", inside)
    assert path.read_bytes() == pattern_bytes(7, 0, MiB)
    assert victim.read_bytes() == b"precious"
    assert [r for r, _ in _downloads(emulator)] == [None]
    assert _names(inside) == ["r"]
