"""recordings.download: to a file or a directory, resume, atomic rename, hostile keys."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.errors import NotFoundError, TransportError, ValidationError
from sinch_calling.filenames import MAX_NAME_BYTES, file_name_for_key
from sinch_calling.sinks import part_paths
from sinch_calling.testing import Emulator
from sinch_calling.testing.recordings_state import pattern_bytes, pattern_sha256
from tests.conftest import FAST_RETRY

MiB = 1024 * 1024


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())
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
