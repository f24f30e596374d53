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
from sinch_calling.transfer import MANIFEST_NAME, download_file, read_manifest
from sinch_calling.transfer.directory import BusyError
from sinch_calling.transfer.store import recording_url
from tests.conftest import FAST_RETRY
from tests.hostile_http import HostileServer, Reply, Request

KINDS = ("honest", "ignore_range", "slice_200", "short_206", "wrong_start", "error")
_WEIGHTED_KINDS = ("honest", "honest", "honest", *KINDS[1:])
VALIDATORS = ("etag", "last_modified", "lm_same_second", "weak", "none")
SAME_SECOND = "Wed, 21 Oct 2015 07:00:00 GMT"
# keys whose names collide: case variants, and a key spelled like another's hashed name
_A_HASH = hashlib.sha256(b"a.mp3").hexdigest()[:12]
KEYS = ("A.mp3", "a.mp3", f"a-{_A_HASH}.mp3", f"a-{_A_HASH}-2.mp3", "calls/0.mp3",
        "calls_0.mp3", "manifest.jsonl")


@attrs.frozen
class Version:
    data: bytes
    validator: str  # one of VALIDATORS
    tag: int

    def headers(self) -> dict[str, str]:
        if self.validator == "etag":
            return {"ETag": f'"v{self.tag}"'}
        if self.validator == "last_modified":
            return {"Last-Modified": f"Wed, 21 Oct 2015 07:{self.tag:02d}:00 GMT",
                    "Date": "Wed, 21 Oct 2015 09:00:00 GMT"}
        if self.validator == "lm_same_second":  # every version: a weak date (RFC 9110 8.8.2.2)
            return {"Last-Modified": SAME_SECOND, "Date": SAME_SECOND}
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
# the recording rewritten within the second of its Last-Modified (break9 t_lm)
@example(_example("lm_same_second", ("honest", 0.5, False), ("honest", None, True)), 1)
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
@given(server_state=st.lists(recordings(), min_size=1, max_size=3),
       keys=st.lists(st.sampled_from(KEYS), min_size=3, max_size=3, unique=True),
       runs=st.integers(1, 2), together=st.booleans())
# break9 t_collide: a key spelled like another's hashed name, listed first
@example([_example("etag"), _example("etag"), _example("etag")],
         [f"a-{_A_HASH}.mp3", "A.mp3", "a.mp3"], 1, False)
def test_an_export_vouches_and_deletes_only_for_exact_copies(
    server_state: list[Recording], keys: list[str], runs: int, together: bool
) -> None:
    """Also with colliding key names, and (``together``) two exports at once into
    the same directory (one of them may refuse with BusyError, none may lie)."""
    stored = dict(zip(keys, server_state, strict=False))
    violations: list[str] = []

    def vouched(directory: Path, key: str) -> str | None:
        """Why the export may not vouch for ``key`` yet (``None``: it may)."""
        entries = read_manifest(directory / MANIFEST_NAME)
        entry = entries.get(key)
        if entry is None:
            return "no manifest line"
        if [e.key for e in entries.values() if e.path.casefold() == entry.path.casefold()] != [
                key]:
            return "another key's manifest line names the same file"
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
                exports = [sinch.recordings.export(directory, delete_after=True, concurrency=2)
                           for _ in range(1 + together)]
                for outcome in await asyncio.gather(*exports, return_exceptions=True):
                    if isinstance(outcome, BaseException) and not isinstance(outcome,
                                                                             BusyError):
                        raise outcome
        entries = read_manifest(directory / MANIFEST_NAME)
        for key in entries:
            if (why := vouched(directory, key)) is not None:
                violations.append(f"manifest {key}: {why}")
        by_path = {entry.path: key for key, entry in entries.items()}
        for path in await asyncio.to_thread(lambda: list(directory.iterdir())):
            if not path.name.startswith(".") and path.name != MANIFEST_NAME:
                key = by_path.get(path.name)
                if key is None:
                    violations.append(f"file {path.name} is in no manifest line")
                elif not stored[key].is_a_version(path.read_bytes()):
                    violations.append(f"file {path.name} is not one version")

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(Path(tmp)))
    assert violations == []
