"""recordings.export: bounded concurrency, manifest, idempotency, failures, delete_after."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from sinch_calling import SinchCalling
from sinch_calling.errors import BadRequestError, ValidationError
from sinch_calling.testing import Emulator, pattern_bytes
from sinch_calling.transfer import ExportProgress, read_manifest
from sinch_calling.transfer.directory import LOCK_NAME
from sinch_calling.transfer.names import file_name_for_key
from sinch_calling.transfer.sink import part_paths
from tests.conftest import FAST_RETRY
from tests.test_transfer import serve

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MiB = 1024 * 1024


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_NAME)


def _fill(emulator: Emulator, count: int) -> dict[str, bytes]:
    bodies = {f"calls/{i:03d}.mp3": f"recording {i}".encode() * (i + 1) for i in range(count)}
    for key, body in bodies.items():
        emulator.recordings.add(key, body)
    return bodies


def _gets(emulator: Emulator) -> list[str]:
    return [r.path for r in emulator.requests
            if r.method == "GET" and r.path.startswith("/calling/v1/recording/")]


async def test_export_downloads_everything_and_writes_the_manifest(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    bodies = _fill(emulator, 25)
    report = await sinch.recordings.export(tmp_path, page_size=10, concurrency=4)
    assert report.ok
    assert (report.listed, report.downloaded, report.skipped, report.failed) == (25, 25, 0, 0)
    assert report.bytes_downloaded == sum(len(b) for b in bodies.values())
    assert report.concurrency == 4
    lines = [json.loads(line) for line in report.manifest.read_text().splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(bodies)
    for line in lines:
        body = bodies[line["key"]]
        assert set(line) == {"key", "path", "size", "sha256", "created_on"}
        assert line["path"] == file_name_for_key(line["key"])
        assert (tmp_path / line["path"]).read_bytes() == body
        assert line["size"] == len(body)
        assert line["sha256"] == hashlib.sha256(body).hexdigest()
        assert line["created_on"].endswith("Z")
    names = set(_names(tmp_path))
    assert names == {"manifest.jsonl", *(file_name_for_key(k) for k in bodies)}


async def test_second_run_downloads_nothing(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 12)
    await sinch.recordings.export(tmp_path, page_size=5)
    emulator.requests.clear()
    report = await sinch.recordings.export(tmp_path, page_size=5)
    assert (report.downloaded, report.skipped, report.bytes_downloaded) == (0, 12, 0)
    assert _gets(emulator) == []
    assert len(report.manifest.read_text().splitlines()) == 12


async def test_new_and_missing_files_are_fetched_on_the_next_run(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 3)
    await sinch.recordings.export(tmp_path)
    (tmp_path / file_name_for_key("calls/001.mp3")).unlink()
    emulator.recordings.add("calls/new.mp3", b"new")
    emulator.requests.clear()
    report = await sinch.recordings.export(tmp_path)
    assert (report.downloaded, report.skipped) == (2, 2)
    assert sorted(_gets(emulator)) == ["/calling/v1/recording/calls%2F001.mp3",
                                       "/calling/v1/recording/calls%2Fnew.mp3"]
    assert set(read_manifest(report.manifest)) == {"calls/000.mp3", "calls/001.mp3",
                                                   "calls/002.mp3", "calls/new.mp3"}


async def test_only_the_window_is_exported(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    for day in range(4):
        emulator.recordings.add(f"d{day}", b"x", created_on=T0 + timedelta(days=day))
    report = await sinch.recordings.export(tmp_path, start=T0 + timedelta(days=1),
                                           end=T0 + timedelta(days=3))
    assert set(read_manifest(report.manifest)) == {"d1", "d2"}


async def test_failures_are_reported_not_raised(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 6)
    emulator.faults.add("GET", "/calling/v1/recording/calls/003.mp3", status=500, times=None)
    emulator.faults.add("GET", "/calling/v1/recording/calls/004.mp3", status=404, times=None)
    report = await sinch.recordings.export(tmp_path, concurrency=3)
    assert not report.ok
    assert (report.downloaded, report.failed) == (4, 2)
    assert sorted(f.key for f in report.failures) == ["calls/003.mp3", "calls/004.mp3"]
    assert {f.stage for f in report.failures} == {"download"}
    assert all(f.error for f in report.failures)
    assert not (tmp_path / file_name_for_key("calls/003.mp3")).exists()
    assert "calls/003.mp3" not in read_manifest(report.manifest)
    emulator.faults.clear()
    again = await sinch.recordings.export(tmp_path)
    assert (again.downloaded, again.skipped, again.failed) == (2, 4, 0), again.failures


async def test_delete_after_deletes_only_verified_files(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    bodies = _fill(emulator, 5)
    emulator.recordings.ignore_range = True
    emulator.faults.add("GET", "/calling/v1/recording/calls/002.mp3", cut_after=3, times=None)
    report = await sinch.recordings.export(tmp_path, delete_after=True, concurrency=2)
    assert (report.downloaded, report.deleted, report.failed) == (4, 4, 1)
    assert list(emulator.recordings.items) == ["calls/002.mp3"]
    deleted = [r.path for r in emulator.requests if r.method == "DELETE"]
    gets = [r.path for r in emulator.requests if r.method == "GET"]
    for key in bodies.keys() - {"calls/002.mp3"}:
        path = "/calling/v1/recording/" + key.replace("/", "%2F")
        assert path in deleted
        # deleted after its (single) download completed
        assert emulator.requests.index(next(r for r in emulator.requests
                                            if r.method == "DELETE" and r.path == path)) > \
            emulator.requests.index(next(r for r in emulator.requests
                                         if r.method == "GET" and r.path == path))
    assert "/calling/v1/recording/calls%2F002.mp3" in gets
    assert "/calling/v1/recording/calls%2F002.mp3" not in deleted


async def test_delete_after_also_deletes_files_exported_earlier(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 3)
    await sinch.recordings.export(tmp_path)
    report = await sinch.recordings.export(tmp_path, delete_after=True)
    assert (report.skipped, report.deleted) == (3, 3)
    assert emulator.recordings.items == {}


async def test_a_failed_delete_is_reported(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 2)
    emulator.faults.add("DELETE", "/calling/v1/recording/calls/000.mp3", status=400)
    report = await sinch.recordings.export(tmp_path, delete_after=True, concurrency=1)
    assert (report.downloaded, report.deleted) == (2, 1)
    [failure] = report.failures
    assert (failure.key, failure.stage) == ("calls/000.mp3", "delete")
    assert isinstance(failure.exception, BadRequestError)


async def test_progress_is_reported_for_each_recording(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 4)
    emulator.faults.add("GET", "/calling/v1/recording/calls/001.mp3", status=404)
    await sinch.recordings.export(tmp_path, page_size=2)
    seen: list[ExportProgress] = []
    emulator.recordings.add("calls/late.mp3", b"late")
    (tmp_path / file_name_for_key("calls/000.mp3")).unlink()
    await sinch.recordings.export(tmp_path, progress=seen.append, concurrency=1)
    outcomes = {p.key: p.outcome for p in seen}
    assert outcomes == {"calls/000.mp3": "downloaded", "calls/001.mp3": "downloaded",
                        "calls/002.mp3": "skipped", "calls/003.mp3": "skipped",
                        "calls/late.mp3": "downloaded"}
    assert [p.completed for p in seen] == [1, 2, 3, 4, 5]
    assert seen[-1].listed == 5
    late = seen[-1]
    assert late.path == tmp_path / file_name_for_key("calls/late.mp3")
    assert late.size == 4
    assert seen[-1].bytes_downloaded == 4 + len(b"recording 0") + len(b"recording 1") * 2


async def test_interrupted_export_resumes_part_files(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    stored = emulator.recordings.add_generated("big.mp3", 3 * MiB, seed=3)
    emulator.recordings.ignore_range = True
    emulator.faults.add("GET", "/calling/v1/recording/*", cut_after=2 * MiB, times=None)
    first = await sinch.recordings.export(tmp_path)
    assert first.failed == 1
    assert part_paths(tmp_path / "big.mp3")[0].stat().st_size == 2 * MiB
    emulator.faults.clear()
    emulator.recordings.ignore_range = False
    emulator.requests.clear()
    second = await sinch.recordings.export(tmp_path)
    assert (second.downloaded, second.bytes_downloaded) == (1, MiB)
    [get] = [r for r in emulator.requests if r.path == "/calling/v1/recording/big.mp3"]
    assert (get.headers["Range"], get.headers["If-Range"]) == (f"bytes={2 * MiB}-", stored.etag)
    assert (tmp_path / "big.mp3").read_bytes() == pattern_bytes(3, 0, 3 * MiB)
    [entry] = read_manifest(second.manifest).values()
    assert entry.sha256 == hashlib.sha256(pattern_bytes(3, 0, 3 * MiB)).hexdigest()


async def test_a_key_named_like_the_manifest_does_not_clobber_it(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.recordings.add("manifest.jsonl", b"not a manifest")
    report = await sinch.recordings.export(tmp_path)
    [entry] = read_manifest(report.manifest).values()
    assert entry.path != "manifest.jsonl"
    assert (tmp_path / entry.path).read_bytes() == b"not a manifest"


async def test_listing_errors_propagate(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 3)
    emulator.faults.add("GET", "/calling/v1/recording", status=400)
    with pytest.raises(BadRequestError):
        await sinch.recordings.export(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"page_size": 0}, "page_size"),
        ({"start": datetime(2024, 1, 1)}, "start"),
        ({"manifest": "../m.jsonl"}, "manifest"),
        ({"manifest": ".hidden"}, "manifest"),
        ({"delete_after": "yes"}, "delete_after"),
        ({"progress": 5}, "progress"),
        ({"durable": "no"}, "durable"),
        ({"manifest": ""}, "manifest"),
    ],
)
async def test_bad_arguments_fail_before_any_request(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path, kwargs: dict[str, object],
    field: str,
) -> None:
    with pytest.raises(ValidationError) as caught:
        await sinch.recordings.export(tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert emulator.requests == []
    assert not (tmp_path / "out").exists()


async def test_concurrency_leaves_connections_for_other_calls(
    emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 3)
    async with SinchCalling(emulator.application_key, emulator.application_secret,
                            base_url=emulator.url, retry=FAST_RETRY, max_connections=5) as c:
        report = await c.recordings.export(tmp_path, concurrency=50)
    assert report.concurrency == 5  # the download budget (max_downloads)
    assert report.downloaded == 3


async def test_delete_after_exports_every_page_and_deletes_only_after_the_listing(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    """Deleting while pages are still being read would shift recordings into pages
    already read; none may be missed."""
    bodies = _fill(emulator, 25)
    # slow pages: downloads complete while the listing is still being read
    emulator.faults.add("GET", "/calling/v1/recording", delay=0.02, times=None)
    seen: list[ExportProgress] = []
    report = await sinch.recordings.export(tmp_path, page_size=10, concurrency=2,
                                           delete_after=True, progress=seen.append)
    assert report.ok
    assert (report.listed, report.downloaded, report.deleted) == (25, 25, 25)
    assert emulator.recordings.items == {}
    for key, body in bodies.items():
        assert (tmp_path / file_name_for_key(key)).read_bytes() == body
    assert sorted(p.key for p in seen) == sorted(bodies)
    assert all(p.deleted for p in seen)
    kinds = [(r.method, r.path) for r in emulator.requests]
    last_list = max(i for i, (m, p) in enumerate(kinds) if p == "/calling/v1/recording")
    first_delete = min(i for i, (m, _) in enumerate(kinds) if m == "DELETE")
    first_download = min(i for i, (m, p) in enumerate(kinds) if m == "GET" and p.count("/") == 4)
    assert first_download < last_list < first_delete
    assert len(_list_queries(emulator)) == 4  # the last one empty


def _list_queries(emulator: Emulator) -> list[dict[str, str]]:
    return [r.query for r in emulator.requests if r.path == "/calling/v1/recording"]


async def test_a_listing_error_deletes_nothing(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 15)
    emulator.faults.add("GET", "/calling/v1/recording", delay=0.001)  # the first page passes
    emulator.faults.add("GET", "/calling/v1/recording", status=400)
    with pytest.raises(BadRequestError):
        await sinch.recordings.export(tmp_path, page_size=10, delete_after=True)
    assert [r for r in emulator.requests if r.method == "DELETE"] == []
    assert len(emulator.recordings.items) == 15
    for entry in read_manifest(tmp_path / "manifest.jsonl").values():
        assert (tmp_path / entry.path).stat().st_size == entry.size


# -- cancellation (a real aiohttp server that stalls some bodies) ------------------------


async def test_a_cancelled_export_leaves_only_complete_files_and_resumes(
    tmp_path: Path,
) -> None:
    bodies = {f"quick-{i}": f"quick {i}".encode() * 1000 for i in range(3)}
    bodies |= {f"stall-{i}": bytes([i]) * (3 * MiB) for i in range(2)}
    stalled, release = asyncio.Event(), asyncio.Event()
    half_sent: set[str] = set()
    ranges: list[tuple[str, str | None]] = []

    async def listing(request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        return web.json_response([{"key": key} for key in bodies] if page == 1 else [])

    async def body(request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        data, start = bodies[key], 0
        ranges.append((key, request.headers.get("Range")))
        if request.headers.get("Range"):
            start = int(request.headers["Range"][6:-1])
        response = web.StreamResponse(status=206 if start else 200, headers={"ETag": '"e"'})
        if start:
            response.headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response.content_length = len(data) - start
        await response.prepare(request)
        if key.startswith("stall") and not start:
            await response.write(data[:2 * MiB])
            half_sent.add(key)
            if len(half_sent) == 2:
                stalled.set()
            await release.wait()
        await response.write(data[start:])
        return response

    finished: set[str] = set()

    def progress(update: ExportProgress) -> None:
        finished.add(update.key)

    async with serve(web.get("/calling/v1/recording", listing),
                     web.get("/calling/v1/recording/{key}", body)) as client:
        try:
            task = asyncio.create_task(client.recordings.export(
                tmp_path, concurrency=4, progress=progress))
            await asyncio.wait([task, asyncio.ensure_future(stalled.wait())],
                               return_when=asyncio.FIRST_COMPLETED)
            assert not task.done()
            while len(finished) < 3:  # noqa: ASYNC110 - the quick ones, via progress
                await asyncio.sleep(0.001)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            entries = read_manifest(tmp_path / "manifest.jsonl")
            assert sorted(entries) == sorted(k for k in bodies if k.startswith("quick"))
            for entry in entries.values():
                assert (tmp_path / entry.path).read_bytes() == bodies[entry.key]
            assert not (tmp_path / "stall-0").exists()
            assert not (tmp_path / "stall-1").exists()
            ranges.clear()
            report = await client.recordings.export(tmp_path)
        finally:
            release.set()
    assert (report.downloaded, report.skipped, report.failed) == (2, 3, 0)
    for key, data in bodies.items():
        assert (tmp_path / key).read_bytes() == data
    assert all(header is not None for _, header in ranges)  # both resumed their part files
    assert _names(tmp_path) == sorted([*bodies, "manifest.jsonl"])


async def test_cancelling_an_export_mid_commit_keeps_the_manifest_line(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path,
    held_fsync: tuple[threading.Event, threading.Event],
) -> None:
    """The manifest is closed only after the commit in flight has appended to it."""
    entered, release = held_fsync
    emulator.recordings.add("r.mp3", b"abc" * 1000)
    task = asyncio.create_task(sinch.recordings.export(tmp_path, durable=True))
    await asyncio.to_thread(entered.wait)
    task.cancel()
    for _ in range(20):  # let the cancellation reach the export's clean-up
        await asyncio.sleep(0)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    [entry] = read_manifest(tmp_path / "manifest.jsonl").values()
    assert (tmp_path / entry.path).read_bytes() == b"abc" * 1000
    assert _names(tmp_path) == ["manifest.jsonl", "r.mp3"]


async def test_a_symlinked_manifest_is_refused(
    sinch: SinchCalling, emulator: Emulator, tmp_path: Path
) -> None:
    _fill(emulator, 1)
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "manifest.jsonl").symlink_to(victim)
    with pytest.raises(OSError, match=r"manifest\.jsonl"):
        await sinch.recordings.export(tmp_path / "out")
    assert victim.read_bytes() == b"precious"


@pytest.mark.parametrize(("call", "field"), [
    ("export", "directory"), ("download", "destination")])
@pytest.mark.parametrize("where", [None, b"out", "", "a\x00b", 5])
async def test_bad_paths_fail_before_any_request(
    sinch: SinchCalling, emulator: Emulator, call: str, field: str, where: object
) -> None:
    attempt = (sinch.recordings.export(where) if call == "export"  # type: ignore[arg-type]
               else sinch.recordings.download("k", where))  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as caught:
        await attempt
    assert caught.value.field == field
    assert emulator.requests == []
