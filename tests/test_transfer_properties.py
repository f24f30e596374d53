"""The transfer invariant, property-tested against a server that misbehaves at random.

A file under its final name, a manifest line or a DELETE happens only for a
byte-exact copy of one version of the recording. The server (tests/hostile_http.py)
plays a random script per recording: bodies cut anywhere, ranges ignored, 200s
carrying slices, short or misplaced 206s, errors, validators missing or changing,
and the recording replaced by a new version partway. Whatever the script, what is
on disk under a final name (and what the manifest and the DELETEs vouch for) must
be one version exactly; failing is allowed, lying is not.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import tempfile
from pathlib import Path

import attrs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.errors import SinchError
from sinch_calling.transfer import MANIFEST_NAME, download_file, file_name_for_key, read_manifest
from sinch_calling.transfer.store import recording_url
from tests.conftest import FAST_RETRY
from tests.hostile_http import HostileServer, Reply, Request

KINDS = ("honest", "ignore_range", "slice_200", "short_206", "wrong_start", "error")
_WEIGHTED_KINDS = ("honest", "honest", "honest", *KINDS[1:])
VALIDATORS = ("etag", "last_modified", "weak", "none")


@attrs.frozen
class Version:
    data: bytes
    validator: str  # one of VALIDATORS
    tag: int

    def headers(self) -> dict[str, str]:
        if self.validator == "etag":
            return {"ETag": f'"v{self.tag}"'}
        if self.validator == "last_modified":
            return {"Last-Modified": f"Wed, 21 Oct 2015 07:{self.tag:02d}:00 GMT"}
        if self.validator == "weak":
            return {"ETag": f'W/"v{self.tag}"'}
        return {}

    def matches(self, if_range: str | None) -> bool:
        strong = self.headers().get("ETag") or self.headers().get("Last-Modified")
        return if_range is not None and self.validator != "weak" and if_range == strong


@attrs.frozen
class Move:
    """What the server does with one GET of the recording."""

    kind: str
    cut: float | None  # the fraction of the body sent before the connection drops
    slice: int  # bytes in a short 206
    chunked: bool
    drop_validator: bool
    new_version: bool  # the recording is replaced before this answer


@attrs.define
class Recording:
    """One key on the server: its versions (the current one is ``versions[now]``)
    and the script its GETs follow (then honest answers)."""

    versions: list[Version]
    script: list[Move]
    now: int = 0
    gets: int = 0

    def answer(self, request: Request) -> Reply:
        move = self.script[self.gets] if self.gets < len(self.script) else None
        self.gets += 1
        if move is not None and move.new_version and self.now + 1 < len(self.versions):
            self.now += 1
        version = self.versions[self.now]
        reply = _reply(version, request, move.kind if move else "honest",
                       move.slice if move else 0)
        if move is not None:
            if move.drop_validator:
                reply.headers.pop("ETag", None)
                reply.headers.pop("Last-Modified", None)
            if move.chunked:
                reply.framing = "chunked"
            if move.cut is not None:
                reply.cut = int(len(reply.body) * move.cut)
        return reply

    def is_a_version(self, data: bytes) -> bool:
        return any(data == v.data for v in self.versions)


def _reply(version: Version, request: Request, kind: str, size: int) -> Reply:
    data, headers = version.data, version.headers()
    total = len(data)
    wanted = request.header("Range")
    start = int(wanted[6:-1]) if wanted else 0
    if_range = request.header("If-Range")  # RFC 9110 13.1.5: no If-Range, no condition
    honoured = wanted is not None and (if_range is None or version.matches(if_range))
    if kind == "error":
        return Reply(503, {}, b"busy")
    if kind == "ignore_range" or total == 0:
        return Reply(200, headers, data)
    if kind == "slice_200":
        begin = min(start, total - 1)
        headers["Content-Range"] = f"bytes {begin}-{total - 1}/{total}"
        return Reply(200, headers, data[begin:])
    if kind in ("short_206", "wrong_start"):
        begin = start if honoured else 0
        begin = min(begin + (kind == "wrong_start"), total - 1)
        end = min(total, begin + max(1, size))
        headers["Content-Range"] = f"bytes {begin}-{end - 1}/{total}"
        return Reply(206, headers, data[begin:end])
    if honoured:
        if start >= total:
            return Reply(416, {"Content-Range": f"bytes */{total}"})
        headers["Content-Range"] = f"bytes {start}-{total - 1}/{total}"
        return Reply(206, headers, data[start:])
    return Reply(200, headers, data)


moves = st.builds(
    Move,
    kind=st.sampled_from(_WEIGHTED_KINDS),
    cut=st.none() | st.floats(0, 1),
    slice=st.integers(1, 5000),
    chunked=st.booleans(),
    drop_validator=st.booleans(),
    new_version=st.booleans(),
)


@st.composite
def recordings(draw: st.DrawFn, tag: int = 0) -> Recording:
    # random bytes (not hypothesis's binary, which favours zeros): any splice shows
    count, seed = draw(st.integers(1, 3)), draw(st.integers(0, 2**32))
    versions = [Version(random.Random(seed + i).randbytes(draw(st.integers(0, 6000))),
                        draw(st.sampled_from(VALIDATORS)), tag * 10 + i) for i in range(count)]
    return Recording(versions, draw(st.lists(moves, max_size=6)))


def _client(server: HostileServer) -> SinchCalling:
    return SinchCalling("key", "c2VjcmV0", base_url=server.url, retry=FAST_RETRY)


def _example(validator: str, *moves: tuple[str, float | None, bool]) -> Recording:
    """Two versions and a script of (kind, cut, new_version) moves."""
    return Recording(
        [Version(random.Random(i).randbytes(5000), validator, i) for i in range(2)],
        [Move(kind, cut, 1000, False, False, new) for kind, cut, new in moves])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recording=recordings(), runs=st.integers(1, 2))
# the cases: no validator, cut, changed; a resume answered by a 200 slice; a
# plain GET answered by a 206 slice
@example(_example("none", ("honest", 0.5, False), ("honest", None, True)), 1)
@example(_example("etag", ("honest", 0.5, False), ("slice_200", None, False)), 1)
@example(_example("none", ("short_206", None, False)), 1)
@example(_example("last_modified", ("honest", 0.3, False), ("honest", 0.5, True)), 1)
def test_a_download_is_one_version_exactly_or_nothing(recording: Recording, runs: int) -> None:
    async def scenario(directory: Path) -> None:
        target = directory / "r.mp3"
        async with HostileServer(lambda request: recording.answer(request)) as server, \
                _client(server) as sinch:
            transport = sinch._transport
            for _ in range(runs):  # a second run resumes what the first left
                try:
                    done = await download_file(transport, recording_url(transport, "r"),
                                               target, hashing=True, flush_size=512)
                except SinchError:
                    assert not target.exists()
                    continue
                data = target.read_bytes()
                assert recording.is_a_version(data)
                assert (done.size, done.sha256) == (len(data), hashlib.sha256(data).hexdigest())
                return

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(server_state=st.lists(recordings(), min_size=1, max_size=3), runs=st.integers(1, 2))
def test_an_export_vouches_and_deletes_only_for_exact_copies(
    server_state: list[Recording], runs: int
) -> None:
    stored = {f"calls/{i}.mp3": recording for i, recording in enumerate(server_state)}
    violations: list[str] = []

    def vouched(directory: Path, key: str) -> str | None:
        """Why the export may not vouch for ``key`` yet (``None``: it may)."""
        entry = read_manifest(directory / MANIFEST_NAME).get(key)
        if entry is None:
            return "no manifest line"
        if entry.path != file_name_for_key(key):
            return "manifest names another file"
        data = (directory / entry.path).read_bytes()
        if not stored[key].is_a_version(data):
            return "the file is not one version"
        if (entry.size, entry.sha256) != (len(data), hashlib.sha256(data).hexdigest()):
            return "the manifest line does not describe the file"
        return None

    async def scenario(directory: Path) -> None:
        live = dict(stored)

        def respond(request: Request) -> Reply:
            if request.path == "/calling/v1/recording":
                keys = list(live) if request.query.get("page") == "1" else []
                return Reply.json([{"key": k, "createdOn": "2024-01-01T00:00:00Z"}
                                   for k in keys])
            key = request.path.removeprefix("/calling/v1/recording/")
            if key not in live:
                return Reply.json({"errorCode": 40400, "message": "not found"}, 404)
            if request.method == "DELETE":
                if (why := vouched(directory, key)) is not None:
                    violations.append(f"DELETE {key}: {why}")
                del live[key]
                return Reply(200)
            return live[key].answer(request)

        async with HostileServer(respond) as server, _client(server) as sinch:
            for _ in range(runs):
                report = await sinch.recordings.export(directory, delete_after=True,
                                                       concurrency=2)
                assert report.deleted + report.failed >= 0
        for key in read_manifest(directory / MANIFEST_NAME):
            if (why := vouched(directory, key)) is not None:
                violations.append(f"manifest {key}: {why}")
        for path in await asyncio.to_thread(lambda: list(directory.iterdir())):
            if not path.name.startswith(".") and path.name != MANIFEST_NAME:
                [key] = [k for k in stored if file_name_for_key(k) == path.name]
                if not stored[key].is_a_version(path.read_bytes()):
                    violations.append(f"file {path.name} is not one version")

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))
    assert violations == []
