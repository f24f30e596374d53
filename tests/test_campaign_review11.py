"""Issue 11 review: row identity across reruns, redirects, bounded lines, the run lock,
Excel headers, Number rows and empty inputs. Each holds the reviewer's minimal input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign, read_rows
from sinch_calling.campaign import rows as rows_module
from sinch_calling.campaign.rows import MAX_LINE
from sinch_calling.campaign.sqlite import SQLiteLedger
from sinch_calling.errors import LedgerBusyError, ValidationError
from sinch_calling.models import Number
from sinch_calling.testing import Emulator

from .test_campaign import TTS, _callouts


async def _rows(text: str) -> list[tuple[dict[str, str], str | None]]:
    return [(dict(r.data), r.problem) async for r in read_rows(io.StringIO(text))]


# -- 1. a row's identity is its id, else its number ------------------------------------

async def test_a_row_inserted_on_rerun_is_dialled_and_others_keep_their_state(
        sinch: SinchCalling, emulator: Emulator, tmp_path: Path) -> None:
    first = tmp_path / "a.csv"
    first.write_text("number,name\n+46700000001,A\n+46700000002,B\n+46700000003,C\n")
    campaign = Campaign(sinch, TTS, ledger=tmp_path / "a.db")
    report = await campaign.run(read_rows(first))
    assert (report.placed, report.skipped) == (3, 0)
    second = tmp_path / "b.csv"
    second.write_text("number,name\n+46700000001,A\n+46700000009,NEW\n+46700000002,B\n"
                      "+46700000003,C\n")
    again = await campaign.run(read_rows(second))
    assert (again.placed, again.skipped, again.rows) == (1, 3, 4)
    assert _callouts(emulator).count("+46700000009") == 1
    assert len(_callouts(emulator)) == 4
    results = [(o.position, o.destination, o.status) async for o in campaign.results()]
    assert results == [(0, "+46700000001", "placed"), (1, "+46700000009", "placed"),
                       (2, "+46700000002", "placed"), (3, "+46700000003", "placed")]


async def test_one_campaign_object_run_twice_with_other_lists(
        sinch: SinchCalling, emulator: Emulator) -> None:
    async with Campaign(sinch, TTS) as campaign:  # ledger=None: memory
        one = await campaign.run(["+46700000081"])
        two = await campaign.run(["+46700000082", "+46700000081", "not-a-number"])
        assert (one.placed, two.placed, two.skipped, two.invalid) == (1, 1, 1, 1)
        assert sorted(_callouts(emulator)) == ["+46700000081", "+46700000082"]
        rows = {o.destination: o.status async for o in campaign.results()}
    assert rows["+46700000082"] == "placed"


async def test_a_number_repeated_in_one_input_is_a_skipped_duplicate(
        sinch: SinchCalling, emulator: Emulator) -> None:
    report = await Campaign(sinch, TTS).run(["+46700000001", "+46700000002", "+46700000001"])
    assert (report.placed, report.skipped) == (2, 1)
    assert _callouts(emulator).count("+46700000001") == 1


async def test_an_id_whose_number_changed_is_reported_loudly_and_not_dialled(
        sinch: SinchCalling, emulator: Emulator, tmp_path: Path) -> None:
    campaign = Campaign(sinch, TTS, ledger=tmp_path / "l.db")
    await campaign.run([{"id": "a", "number": "+46700000001"}])
    report = await campaign.run([{"id": "a", "number": "+46700000005"}])
    assert (report.placed, report.changed, report.ok) == (0, 1, False)
    [problem] = report.problems
    assert (problem.row, problem.error and problem.error.kind) == ("a", "changed")
    assert "+46700000005" in str(problem.error)
    assert "+46700000001" in str(problem.error)
    assert "another number" in str(report)
    assert _callouts(emulator) == ["+46700000001"]


# -- 2. a redirect answered to the callout is uncertain --------------------------------

@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_redirect_to_the_callout_is_uncertain_and_never_redialled(
        status: int, tmp_path: Path) -> None:
    hits: list[str] = []

    async def moved(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.Response(status=status, headers={"Location": "/elsewhere"})

    app = web.Application()
    app.router.add_post("/calling/v1/callouts", moved)
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling("key", "c2VjcmV0", base_url=f"http://127.0.0.1:{server.port}") as up:
        campaign = Campaign(up, TTS, ledger=tmp_path / "r.db")
        report = await campaign.run(["+46700000001"])
        assert (report.placed, report.failed, report.uncertain) == (0, 0, 1)
        assert report.problems[0].error is not None
        assert report.problems[0].error.kind == "redirect"
        again = await Campaign(up, TTS, ledger=tmp_path / "r.db",
                               retry_failed=True).run(["+46700000001"])
    assert (again.placed, again.uncertain, again.earlier_uncertain) == (0, 0, 1)
    assert len(hits) == 1


async def test_the_refusal_stop_message_does_not_invite_redialling_uncertain_rows(
        tmp_path: Path) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"errorCode": 40001, "message": "bad"}, status=400)

    app = web.Application()
    app.router.add_post("/calling/v1/callouts", refuse)
    async with TestServer(app, host="127.0.0.1") as server, \
            SinchCalling("key", "c2VjcmV0", base_url=f"http://127.0.0.1:{server.port}") as up:
        report = await Campaign(up, TTS, concurrency=1).run(
            [f"+4670000{i:04d}" for i in range(12)])
    assert report.stopped is not None
    assert "retry_failed=True" in report.stopped
    assert "uncertain rows are never redialled" in report.stopped


# -- 3. bounded lines ------------------------------------------------------------------

async def test_an_oversize_line_of_a_plain_list_is_one_short_invalid_row(
        sinch: SinchCalling, emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    with path.open("w") as out:
        out.write("+46700000001\n")
        out.write("9" * (3 * MAX_LINE) + "\n")
        out.write("+46700000002\n")
    rows = [r async for r in read_rows(path)]
    assert [r.line for r in rows] == [1, 2, 3]
    assert rows[1].problem is not None
    assert "over the limit of 65536" in rows[1].problem
    assert len(rows[1].data["number"]) <= 40
    report = await Campaign(sinch, TTS, ledger=tmp_path / "b.db").run(read_rows(path))
    assert (report.placed, report.invalid) == (2, 1)
    [problem] = report.problems
    assert problem.line == 2
    assert len(str(problem.error)) < 400
    assert f"is {3 * MAX_LINE} characters long, over the limit" in str(problem.error)


async def test_csv_oversize_fields_and_lines_spoil_only_their_row() -> None:
    text = ("number,name\n+46700000001,A\n"
            f'+46700000002,"{"x" * 200_000}"\n'     # a field over csv's own limit
            f"+46700000003,{'y' * (MAX_LINE + 10)}\n"  # a line over ours
            "+46700000004,D\n")
    rows = await _rows(text)
    assert [d.get("number") for d, _ in rows] == ["+46700000001", None, None,
                                                   "+46700000004"]
    assert rows[2][1] is not None
    assert "starts '+46700000003,yyy" in rows[2][1]
    assert rows[1][1] is not None
    assert "line 3" in rows[1][1]
    assert [p is None for _, p in rows] == [True, False, False, True]
    assert all(len(v) <= 40 for d, _ in rows for v in d.values())
    with pytest.raises(ValidationError, match="first line"):
        await _rows("n" * (MAX_LINE + 1) + ",x\n+46700000001,y\n")


async def test_a_huge_value_given_directly_is_invalid_with_an_excerpt(
        sinch: SinchCalling) -> None:
    report = await Campaign(sinch, TTS).preflight(["+46700000001", "+" + "1" * 100_000,
                                                   {"number": "+46700000002",
                                                    "x": "z" * 100_000}])
    assert (report.pending, report.invalid) == (1, 2)
    assert all(len(str(p.error)) < 400 for p in report.problems)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="+0123456789ab ,", max_size=30), min_size=1, max_size=8))
def test_bounded_lines_keep_short_lines_and_flag_long_ones(lines: list[str]) -> None:
    limit = 12
    original = rows_module.MAX_LINE
    rows_module.MAX_LINE = limit
    try:
        reader = rows_module._Lines(io.StringIO("".join(f"{x}\n" for x in lines)))
        got = list(reader)
    finally:
        rows_module.MAX_LINE = original
    assert len(got) == len(lines)
    long = [i + 1 for i, x in enumerate(lines) if len(x) > limit]
    assert [line for line, _, _ in reader.oversize] == long
    for i, (x, text) in enumerate(zip(lines, got, strict=True)):
        assert text == ("\n" if i + 1 in long else f"{x}\n")


# -- 5. the run lock follows the file, not the spelling of its path ---------------------

async def test_a_symlink_or_another_spelling_cannot_open_a_second_run(tmp_path: Path) -> None:
    real = tmp_path / "l.db"
    link = tmp_path / "link.db"
    held = SQLiteLedger(real)
    await held.open(_identity())
    try:
        os.symlink(real, link)
        (tmp_path / "sub").mkdir()
        for other in (link, tmp_path / "sub" / ".." / "l.db"):
            with pytest.raises(LedgerBusyError):
                await SQLiteLedger(other).open(_identity())
    finally:
        await held.close()
    second = SQLiteLedger(link)
    await second.open(_identity())
    await second.close()


def _identity():  # type: ignore[no-untyped-def]
    from sinch_calling.campaign.records import CampaignIdentity
    return CampaignIdentity(fingerprint="f", options={})


# -- 6. Excel's trailing separators ------------------------------------------------------

async def test_empty_trailing_header_columns_are_ignored() -> None:
    rows = await _rows("name;number;custom;cli;dtmf;;\r\nA;+46700000001;x;;;;\r\n")
    assert rows == [({"name": "A", "number": "+46700000001", "custom": "x", "cli": "",
                      "dtmf": ""}, None)]
    spilled = await _rows("name;number;;\nA;+46700000001;;oops\n")
    assert spilled[0][1] is not None
    assert "4 fields" in spilled[0][1]
    with pytest.raises(ValidationError, match="column 2 has an empty name"):
        await _rows("name;;number\nA;;+46700000001\n")


# -- 7. Number objects, and an input already consumed ------------------------------------

async def test_number_objects_are_destinations_and_other_types_are_clear_errors(
        sinch: SinchCalling, emulator: Emulator) -> None:
    report = await Campaign(sinch, TTS).run([Number(number="+46700000001"),
                                             Number(number="+46700000002")])
    assert report.placed == 2
    for bad in ((b"+46700000001",), (("+46700000001", "x"),), (46700000001,)):
        with pytest.raises(ValidationError, match=r"got (bytes|tuple|int)"):
            await Campaign(sinch, TTS).run(list(bad))


async def test_a_generator_consumed_by_an_earlier_run_is_a_warning(
        sinch: SinchCalling) -> None:
    numbers = (n for n in ["+46700000001"])
    campaign = Campaign(sinch, TTS)
    assert (await campaign.run(numbers)).placed == 1
    second = await campaign.run(numbers)
    assert (second.rows, second.ok) == (0, False)
    assert "input was empty" in str(second)
    await campaign.close()


async def test_a_binary_source_of_multibyte_text_keeps_its_lines_whole(tmp_path: Path) -> None:
    name = "é" * 40_000  # 80,000 bytes, 40,000 characters: under the line limit
    data = f"number,name\n+46700000001,{name}\n+46700000002,{'ü' * (MAX_LINE + 1)}\n"
    rows = [(dict(r.data), r.problem, r.line)
            async for r in read_rows(io.BytesIO(data.encode()))]
    assert rows[0] == ({"number": "+46700000001", "name": name}, None, 2)
    assert rows[1][1] is not None
    assert rows[1][2] == 3
    assert len(rows) == 2


async def test_an_oversize_id_says_the_line_is_too_long(sinch: SinchCalling,
                                                        tmp_path: Path) -> None:
    """From the review: an id field over 64 KiB was reported as "id: empty"."""
    path = tmp_path / "ids.csv"
    path.write_text("id,number\n" + "7" * (2 * MAX_LINE) + ",+46700000001\n")
    report = await Campaign(sinch, TTS, ledger=tmp_path / "i.db").run(read_rows(path))
    [problem] = report.problems
    assert "over the limit" in str(problem.error)
    assert "empty" not in str(problem.error)
