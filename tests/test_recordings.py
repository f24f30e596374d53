"""recordings.list / stream / delete against the emulator, and its recording routes."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from sinch_calling import SinchCalling
from sinch_calling.errors import (
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    TransportError,
    ValidationError,
)
from sinch_calling.testing import Emulator, pattern_bytes, pattern_sha256
from tests.test_transfer import serve

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2025, 1, 1, tzinfo=UTC)


def _add(emulator: Emulator, count: int) -> list[str]:
    keys = [f"rec-{i:03d}.mp3" for i in range(count)]
    for key in keys:
        emulator.recordings.add(key, key.encode())
    return keys


def _list_requests(emulator: Emulator) -> list[dict[str, str]]:
    return [r.query for r in emulator.requests if r.path == "/calling/v1/recording"]


@pytest.mark.parametrize(("count", "page_size", "pages"),
                         [(7, 3, 4), (6, 3, 3), (2, 5, 2), (0, 5, 1)])
async def test_list_pages_lazily_until_an_empty_page(
    sinch: SinchCalling, emulator: Emulator, count: int, page_size: int, pages: int
) -> None:
    keys = _add(emulator, count)
    found = [r.key async for r in sinch.recordings.list(start=T0, end=T1, page_size=page_size)]
    assert found == keys
    queries = _list_requests(emulator)
    assert [q["page"] for q in queries] == [str(p) for p in range(1, pages + 1)]
    assert all(q["pageSize"] == str(page_size) for q in queries)
    assert queries[0]["from"] == "2024-01-01T00:00:00.000Z"
    assert queries[0]["to"] == "2025-01-01T00:00:00.000Z"


async def test_list_is_lazy(sinch: SinchCalling, emulator: Emulator) -> None:
    _add(emulator, 10)
    iterator = sinch.recordings.list(page_size=2)
    assert _list_requests(emulator) == []
    first = await anext(iterator)
    assert first.key == "rec-000.mp3"
    assert len(_list_requests(emulator)) == 1
    await iterator.aclose()  # type: ignore[attr-defined]


async def test_list_decodes_recording_file_info(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.recordings.add("k", b"x", created_on=T0 + timedelta(hours=1))
    [rec] = [r async for r in sinch.recordings.list()]
    assert rec.key == "k"
    assert rec.created_on == T0 + timedelta(hours=1)
    assert rec.expires_on is not None
    assert rec.expires_on.tzinfo is not None
    assert rec.headers == {"Content-Type": "audio/mpeg"}


async def test_list_filters_by_window(sinch: SinchCalling, emulator: Emulator) -> None:
    for day in range(5):
        emulator.recordings.add(f"d{day}", b"x", created_on=T0 + timedelta(days=day))
    found = [r.key async for r in sinch.recordings.list(start=T0 + timedelta(days=1),
                                                         end=T0 + timedelta(days=3))]
    assert found == ["d1", "d2"]


async def test_list_accepts_a_wrapped_array(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.recordings.list_wrapper = "recordings"
    keys = _add(emulator, 3)
    assert [r.key async for r in sinch.recordings.list(page_size=2)] == keys


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"page_size": 0}, "page_size"),
        ({"page_size": -1}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"page_size": "10"}, "page_size"),
        ({"start": datetime(2024, 1, 1)}, "start"),
        ({"end": datetime(2024, 1, 1)}, "end"),
        ({"start": "2024-01-01"}, "start"),
        ({"start": T1, "end": T0}, "end"),
        ({"start": T0, "end": T0}, "end"),
        ({"start": T0, "end": T0 + timedelta(microseconds=10)}, "end"),
    ],
)
async def test_list_rejects_bad_arguments_before_any_request(
    sinch: SinchCalling, emulator: Emulator, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        sinch.recordings.list(**kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "'pageNumber' must be greater than 0"),
        ("pageSize=0", "'pageSize' must be a positive integer"),
        ("pageSize=x", "'pageSize' must be a positive integer"),
        ("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "'to' must be greater than 'from'"),
    ],
)
async def test_emulator_list_validation(
    sinch: SinchCalling, emulator: Emulator, query: str, message: str
) -> None:
    t = sinch._transport
    url = t.traffic_url("recording").with_query(query)
    with pytest.raises(BadRequestError) as caught:
        await t.request("GET", url)
    assert caught.value.error_code == 40001
    assert caught.value.message == message


async def test_stream_yields_the_body_in_chunks(sinch: SinchCalling, emulator: Emulator) -> None:
    size = 3 * 1024 * 1024 + 17
    emulator.recordings.add_generated("call.mp3", size, seed=7)
    digest, chunks = hashlib.sha256(), 0
    async with sinch.recordings.stream("call.mp3") as body:
        assert body.content_length == size
        assert body.content_type == "audio/mpeg"
        assert body.etag
        async for chunk in body:
            digest.update(chunk)
            chunks += 1
    assert chunks > 1
    assert digest.hexdigest() == pattern_sha256(7, size)


async def test_stream_releases_the_connection_when_the_block_fails(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    emulator.recordings.add_generated("call.mp3", 4 * 1024 * 1024)

    async def failing_consumer() -> None:
        async with sinch.recordings.stream("call.mp3") as body:
            async for _chunk in body:
                raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError):
        await failing_consumer()
    connector = sinch._transport.session.connector
    assert connector is not None
    assert not connector._acquired  # nothing left checked out
    async with sinch.recordings.stream("call.mp3") as body:
        assert body.content_length == 4 * 1024 * 1024


async def test_stream_of_a_cut_body_raises_transport_error(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    emulator.recordings.add_generated("call.mp3", 1024 * 1024)
    emulator.faults.add("GET", "/calling/v1/recording/*", cut_after=1000)

    async def consume() -> None:
        async with sinch.recordings.stream("call.mp3") as body:
            async for _chunk in body:
                pass

    with pytest.raises(TransportError):
        await consume()


async def test_unknown_key_is_not_found(sinch: SinchCalling, emulator: Emulator) -> None:
    with pytest.raises(NotFoundError) as caught:
        async with sinch.recordings.stream("nope"):
            pass
    assert caught.value.error_code == 40400


async def test_delete(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.recordings.add("a/b c.mp3", b"x")
    await sinch.recordings.delete("a/b c.mp3")
    assert emulator.recordings.get("a/b c.mp3") is None
    assert emulator.requests[-1].path == "/calling/v1/recording/a%2Fb%20c.mp3"
    with pytest.raises(NotFoundError):
        await sinch.recordings.delete("a/b c.mp3")


@pytest.mark.parametrize("key", ["", None, 5, "\ud800"])
async def test_bad_keys_fail_before_any_request(
    sinch: SinchCalling, emulator: Emulator, key: object
) -> None:
    with pytest.raises(ValidationError):
        await sinch.recordings.delete(key)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        async with sinch.recordings.stream(key):  # type: ignore[arg-type]
            pass
    assert emulator.requests == []


# -- the emulator's download route, spoken to directly ---------------------------------


async def _get(emulator: Emulator, sinch: SinchCalling, key: str,
               headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    t = sinch._transport
    url = t.traffic_url("recording", key)
    async with t._open("GET", url, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


@pytest.mark.parametrize(
    ("range_header", "status", "span"),
    [
        ("bytes=10-19", 206, (10, 20)),
        ("bytes=100-", 206, (100, 1000)),
        ("bytes=-10", 206, (990, 1000)),
        ("bytes=990-5000", 206, (990, 1000)),
        ("bytes=5-1", 200, (0, 1000)),
        ("bytes=0-1,5-6", 200, (0, 1000)),
        ("rows=1-2", 200, (0, 1000)),
    ],
)
async def test_emulator_serves_ranges(
    sinch: SinchCalling, emulator: Emulator, range_header: str, status: int,
    span: tuple[int, int],
) -> None:
    emulator.recordings.add_generated("r", 1000, seed=1)
    got, headers, body = await _get(emulator, sinch, "r", {"Range": range_header})
    assert got == status
    assert body == pattern_bytes(1, *span)
    assert headers["Content-Length"] == str(span[1] - span[0])
    assert headers["Accept-Ranges"] == "bytes"
    if status == 206:
        assert headers["Content-Range"] == f"bytes {span[0]}-{span[1] - 1}/1000"


async def test_emulator_416_and_if_range(sinch: SinchCalling, emulator: Emulator) -> None:
    stored = emulator.recordings.add_generated("r", 1000, seed=1)
    got, headers, _ = await _get(emulator, sinch, "r", {"Range": "bytes=1000-"})
    assert got == 416
    assert headers["Content-Range"] == "bytes */1000"
    got, _, body = await _get(emulator, sinch, "r", {"Range": "bytes=10-", "If-Range": '"old"'})
    assert (got, len(body)) == (200, 1000)
    got, _, body = await _get(emulator, sinch, "r",
                              {"Range": "bytes=10-", "If-Range": stored.etag})
    assert (got, len(body)) == (206, 990)


async def test_emulator_can_ignore_ranges(sinch: SinchCalling, emulator: Emulator) -> None:
    emulator.recordings.add_generated("r", 1000, seed=1)
    emulator.recordings.ignore_range = True
    got, headers, body = await _get(emulator, sinch, "r", {"Range": "bytes=10-"})
    assert (got, len(body)) == (200, 1000)
    assert "Content-Range" not in headers


async def test_emulator_serves_files_from_disk(
    sinch: SinchCalling, emulator: Emulator, tmp_path: object
) -> None:
    from pathlib import Path
    source = Path(str(tmp_path)) / "source.mp3"
    source.write_bytes(bytes(range(256)) * 1000)
    emulator.recordings.add_file("f", source)
    got, _, body = await _get(emulator, sinch, "f", {"Range": "bytes=256-511"})
    assert (got, body) == (206, bytes(range(256)))


async def test_emulator_cut_after_drops_the_connection(
    sinch: SinchCalling, emulator: Emulator
) -> None:
    emulator.recordings.add_generated("r", 100_000)
    emulator.faults.add("GET", "/calling/v1/recording/*", cut_after=5000)
    t = sinch._transport
    received: list[int] = []

    async def consume() -> None:
        async with t._open("GET", t.traffic_url("recording", "r")) as resp:
            assert resp.content_length == 100_000
            async for chunk in resp.content.iter_any():
                received.append(len(chunk))

    with pytest.raises(aiohttp.ClientPayloadError):
        await consume()
    assert sum(received) == 5000


async def test_stream_asks_for_identity_and_refuses_a_compressed_body() -> None:
    data = bytes(range(256)) * 4000
    seen: list[str | None] = []

    async def compressing(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Accept-Encoding"))
        return web.Response(body=gzip.compress(data), headers={"Content-Encoding": "gzip"})

    async with serve(web.get("/calling/v1/recording/{key}", compressing)) as client:
        with pytest.raises(InvalidResponseError, match="Content-Encoding 'gzip'"):
            async with client.recordings.stream("r"):
                pass
    assert seen == ["identity"]
