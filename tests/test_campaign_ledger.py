"""The campaign's parts without a network: ledger rules, pacing, reading rows, templates."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling.campaign import (
    LeaseLostError,
    LedgerBusyError,
    LedgerCorruptError,
    LedgerError,
    LedgerMismatchError,
    RowStateError,
    SQLiteLedger,
    UnknownRowError,
    read_rows,
)
from sinch_calling.campaign.ledger import Ledger
from sinch_calling.campaign.pacing import SlidingWindow, window_for_rate
from sinch_calling.campaign.preflight import RowChecker, check_number, to_input_row
from sinch_calling.campaign.records import (
    CallError,
    CampaignIdentity,
    FinalOutcome,
    NewRow,
    RowResult,
)
from sinch_calling.campaign.rows import InputRow
from sinch_calling.campaign.templates import MergeText, RowError, TtsTemplate
from sinch_calling.errors import ValidationError

IDENTITY = CampaignIdentity(fingerprint="a" * 64, options={"text": "Hi"})


def _rows(n: int, start: int = 0) -> list[NewRow]:
    return [NewRow(key=str(i + 1), position=i, destination=f"+4670000{i:04d}")
            for i in range(start, start + n)]


@pytest.fixture
async def ledger(tmp_path: Path):  # type: ignore[no-untyped-def]
    led = SQLiteLedger(tmp_path / "l.db")
    await led.open(IDENTITY)
    yield led
    await led.close()


async def test_it_implements_the_interface(ledger: SQLiteLedger) -> None:
    assert isinstance(ledger, Ledger)


async def test_claims_are_exclusive_and_in_input_order(ledger: SQLiteLedger) -> None:
    await ledger.load(_rows(10))
    a = await ledger.claim("a", "run", limit=4, lease=60)
    b = await ledger.claim("b", "run", limit=10, lease=60)
    assert [c.key for c in a] == ["1", "2", "3", "4"]
    assert [c.key for c in b] == [str(i) for i in range(5, 11)]
    assert await ledger.claim("c", "run", limit=10, lease=60) == []


async def test_sending_only_from_the_holder(ledger: SQLiteLedger) -> None:
    await ledger.load(_rows(1))
    (claim,) = await ledger.claim("a", "run", limit=1, lease=60)
    import attrs
    with pytest.raises(LeaseLostError):
        await ledger.mark_sending(attrs.evolve(claim, worker="intruder"))
    await ledger.mark_sending(claim)
    with pytest.raises(LeaseLostError):
        await ledger.mark_sending(claim)  # not claimed any more
    await ledger.mark_placed(claim, "call-1")
    assert (await ledger.get("1")).status == "placed"  # type: ignore[union-attr]


async def test_expired_leases_claimed_to_pending_sending_to_uncertain(
    ledger: SQLiteLedger,
) -> None:
    await ledger.load(_rows(2))
    _first, second = await ledger.claim("a", "run", limit=2, lease=0.0)
    await ledger.mark_sending(second)
    assert await ledger.expire_leases() == (1, 1)
    states = {o.row: o.status async for o in ledger.results()}
    assert states == {"1": "pending", "2": "uncertain"}
    # The late answer of the expired worker still settles the uncertain row ...
    await ledger.mark_placed(second, "late-call")
    assert (await ledger.get("2")).call_id == "late-call"  # type: ignore[union-attr]
    # ... and nothing that was sending is ever handed out again.
    again = await ledger.claim("b", "run", limit=5, lease=60)
    assert [c.key for c in again] == ["1"]


async def test_loading_is_idempotent_and_refreshes_only_undecided_rows(
    ledger: SQLiteLedger,
) -> None:
    await ledger.load([NewRow(key="1", position=0, destination=None, state="invalid",
                              error=CallError(kind="invalid", message="bad")),
                       *_rows(1, start=1)])
    (claim,) = await ledger.claim("a", "run", limit=5, lease=60)
    await ledger.mark_sending(claim)
    await ledger.mark_placed(claim, "c2")
    fixed = await ledger.load([NewRow(key="1", position=0, destination="+46700000099"),
                               NewRow(key="2", position=1, destination="+46700000098")])
    assert [(r.state, r.previous) for r in fixed] == [("pending", "invalid"),
                                                       ("placed", "placed")]
    assert fixed[1].error is not None
    assert fixed[1].error.kind == "changed"


async def test_a_destination_belongs_to_its_first_row(ledger: SQLiteLedger) -> None:
    rows = [NewRow(key="1", position=0, destination="+461"),
            NewRow(key="2", position=1, destination="+461")]
    loaded = await ledger.load(rows)
    assert [r.state for r in loaded] == ["pending", "skipped"]
    assert "row 1" in loaded[1].error.message  # type: ignore[union-attr]
    again = await ledger.load(rows)  # a rerun: same decision
    assert [r.state for r in again] == ["pending", "skipped"]


async def test_a_repeated_id_in_one_input_is_reported(ledger: SQLiteLedger) -> None:
    rows = [NewRow(key="x", position=0, destination="+461"),
            NewRow(key="x", position=1, destination="+462")]
    first = await ledger.load(rows[:1], run="r1")
    second = await ledger.load(rows[1:], run="r1")
    assert first[0].state == "pending"
    assert second[0].error is not None
    assert second[0].error.kind == "duplicate_id"
    assert (await ledger.get("x")).destination == "+461"  # type: ignore[union-attr]


async def test_release_defer_and_attempts(ledger: SQLiteLedger) -> None:
    await ledger.load(_rows(1))
    (claim,) = await ledger.claim("a", "r1", limit=1, lease=60)
    await ledger.release(claim, "r1", count_attempt=True)
    (claim,) = await ledger.claim("a", "r1", limit=1, lease=60)
    assert claim.attempts == 1
    await ledger.release(claim, "r1", count_attempt=True, defer=True)
    assert await ledger.claim("a", "r1", limit=1, lease=60) == []  # deferred in this run
    (claim,) = await ledger.claim("a", "r2", limit=1, lease=60)  # the next run takes it
    assert claim.attempts == 0


async def test_settling_uncertain_rows(ledger: SQLiteLedger) -> None:
    await ledger.load(_rows(3))
    claims = await ledger.claim("a", "r", limit=3, lease=60)
    for claim in claims:
        await ledger.mark_sending(claim)
        await ledger.mark_uncertain(claim, CallError(kind="server", message="503",
                                                     status=503))
    placed = await ledger.settle("1", call_id="found-in-logs")
    assert (placed.status, placed.call_id) == ("placed", "found-in-logs")
    assert (await ledger.settle("2", call_id=None)).status == "pending"
    with pytest.raises(RowStateError):
        await ledger.settle("1", call_id=None)
    with pytest.raises(UnknownRowError):
        await ledger.settle("nope", call_id=None)
    assert [c.key for c in await ledger.claim("b", "r2", limit=5, lease=60)] == ["2"]


async def test_outcomes_counts_and_paged_results(ledger: SQLiteLedger) -> None:
    await ledger.load(_rows(2500))
    claims = await ledger.claim("a", "r", limit=3, lease=60)
    for i, claim in enumerate(claims):
        await ledger.mark_sending(claim)
        await ledger.mark_placed(claim, f"call-{i}")
    assert await ledger.record_outcome("call-0", FinalOutcome(
        result="ANSWERED", reason="CALLEEHANGUP", duration=12, debit=0.02,
        currency="EUR")) == "1"
    assert await ledger.record_outcome("someone-else", FinalOutcome(result="BUSY")) is None
    counts = await ledger.counts()
    assert counts.states["placed"] == 3
    assert counts.states["pending"] == 2497
    assert counts.results == {"ANSWERED": 1}
    assert counts.cost == {"EUR": 0.02}
    assert counts.untracked == 2
    keys = [o.row async for o in ledger.results()]
    assert keys == [str(i) for i in range(1, 2501)]
    assert [k async for k, _ in ledger.untracked(batch=1)] == ["2", "3"]
    assert [o.row async for o in ledger.results(states={"placed"})] == ["1", "2", "3"]


async def test_identity_mismatch_is_refused_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    first = SQLiteLedger(path)
    await first.open(IDENTITY)
    await first.close()
    other = CampaignIdentity(fingerprint="b" * 64, options={"text": "Hello"})
    with pytest.raises(LedgerMismatchError) as info:
        await SQLiteLedger(path).open(other)
    assert info.value.differences == {"text": ("Hi", "Hello")}
    forced = SQLiteLedger(path)
    await forced.open(other, force=True)
    assert (await forced.identity()) == other
    await forced.close()


@pytest.mark.parametrize("content", [b"not a database at all, just text\n" * 10,
                                     b'{"destination":"+4670","state":"sending"}\n'])
async def test_a_file_that_is_not_a_ledger_is_a_clear_error(tmp_path: Path,
                                                             content: bytes) -> None:
    path = tmp_path / "old.jsonl"
    path.write_bytes(content)
    with pytest.raises(LedgerCorruptError, match="not a usable campaign ledger"):
        await SQLiteLedger(path).open(IDENTITY)
    assert path.read_bytes() == content


async def test_another_sqlite_database_is_not_a_ledger(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id)")
    with pytest.raises(LedgerCorruptError, match="not a campaign ledger"):
        await SQLiteLedger(path).open(IDENTITY)


async def test_one_run_at_a_time_but_reading_is_fine(ledger: SQLiteLedger,
                                                    tmp_path: Path) -> None:
    with pytest.raises(LedgerBusyError):
        await SQLiteLedger(tmp_path / "l.db").open(IDENTITY)
    reader = SQLiteLedger(tmp_path / "l.db")
    await reader.open(None)
    assert (await reader.counts()).total == 0
    await reader.close()


async def _synchronous(ledger: SQLiteLedger) -> int:
    """The connection's ``PRAGMA synchronous`` now (read by a read-only operation,
    which never changes it): 2 is FULL (fsync at commit), 1 NORMAL."""
    return int(await ledger._run(
        lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0], write=False))


async def test_only_what_must_be_durable_waits_for_the_disk(ledger: SQLiteLedger) -> None:
    """``sending`` (and a release, a settle) is fsynced before it returns; loads,
    claims and answers are written without waiting for the disk (a later fsync
    covers them)."""
    await ledger.load(_rows(3))
    assert await _synchronous(ledger) == 1
    claims = await ledger.claim("w", "run", limit=3, lease=30)
    assert await _synchronous(ledger) == 1
    assert await ledger.mark_sending_many(claims) == [True] * 3
    assert await _synchronous(ledger) == 2
    await ledger.mark_results([RowResult(claims[0], "placed", "call-1"),
                               RowResult(claims[1], "uncertain",
                                         error=CallError(kind="server", message="503"))])
    assert await _synchronous(ledger) == 1
    await ledger.settle("2", call_id=None)
    assert await _synchronous(ledger) == 2
    await ledger.load(_rows(1, start=3))
    assert await _synchronous(ledger) == 1
    (again,) = await ledger.claim("w", "run", limit=1, lease=30)
    await ledger.release(again, "run", count_attempt=True)  # a 429: nothing placed
    assert await _synchronous(ledger) == 2


async def test_a_scratch_ledger_never_fsyncs(tmp_path: Path) -> None:
    scratch = SQLiteLedger(tmp_path / "s.db", durable=False)
    await scratch.open(IDENTITY)
    try:
        await scratch.load(_rows(1))
        (claim,) = await scratch.claim("w", "run", limit=1, lease=30)
        await scratch.mark_sending(claim)
        assert await _synchronous(scratch) == 0
    finally:
        await scratch.close()


async def test_a_ledger_file_of_an_earlier_version_gets_todays_indexes(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = SQLiteLedger(path)
    await first.open(IDENTITY)
    await first.load(_rows(3))
    await first.close()
    with sqlite3.connect(path) as conn:  # the indexes an earlier version made
        conn.execute("DROP INDEX rows_lease")
        conn.execute("DROP INDEX rows_destination")
        conn.execute("CREATE INDEX rows_leased ON rows (lease_until) "
                     "WHERE state IN ('claimed', 'sending')")
        conn.execute("CREATE INDEX rows_owner ON rows (destination) "
                     "WHERE state NOT IN ('invalid', 'skipped')")
    conn.close()
    reader = SQLiteLedger(path)  # reading changes nothing
    await reader.open(None)
    await reader.close()
    with sqlite3.connect(path) as conn:
        assert {"rows_leased", "rows_owner"} <= _indexes(conn)
    conn.close()
    again = SQLiteLedger(path)
    await again.open(IDENTITY)
    try:
        claims = await again.claim("w", "run", limit=3, lease=30)
        assert await again.mark_sending_many(claims) == [True] * 3
        assert await again.mark_results([RowResult(c, "placed", f"call-{c.key}")
                                         for c in claims]) == [True] * 3
        assert (await again.counts()).states["placed"] == 3
    finally:
        await again.close()
    with sqlite3.connect(path) as conn:
        found = _indexes(conn)
    conn.close()
    assert {"rows_lease", "rows_destination"} <= found
    assert not found & {"rows_leased", "rows_owner"}


def _indexes(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index'")}


# -- pacing -----------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 20), period=st.floats(0.01, 3.0),
       gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=200),
       pauses=st.lists(st.tuples(st.integers(0, 199), st.floats(0, 2)), max_size=5))
def test_no_window_ever_holds_more_than_count(count: int, period: float,
                                              gaps: list[float],
                                              pauses: list[tuple[int, float]]) -> None:
    window = SlidingWindow()
    now, starts = 0.0, []
    pause_at = dict(pauses)
    for i, gap in enumerate(gaps):
        now += gap
        if i in pause_at:
            window.pause(now + pause_at[i])
        starts.append(window.reserve(now, count, period))
    assert starts == sorted(starts)
    for i in range(len(starts) - count):
        assert starts[i + count] - starts[i] >= period - 1e-9


def test_rate_to_window() -> None:
    assert window_for_rate(50, 0.05) == (50, 1.05)
    assert window_for_rate(2.5, 0.0) == (2, 1.0)
    assert window_for_rate(0.5, 0.0) == (1, 2.0)
    for bad in (0, -1, float("nan"), float("inf"), True):
        with pytest.raises(ValidationError):
            window_for_rate(bad, 0.05)  # type: ignore[arg-type]


# -- reading rows -----------------------------------------------------------------------

async def _read(data: bytes) -> list[InputRow]:
    return [row async for row in read_rows(io.BytesIO(data))]


async def test_excel_csv_with_bom_crlf_and_blank_lines() -> None:
    data = ("\ufeffphone ,first_name;x\r\n".replace(";x", "") +
            "+46700000001,Anna\r\n\r\n,\r\n+46700000002,Björn\r\n").encode()
    rows = await _read(data)
    assert [(r.line, dict(r.data)) for r in rows] == [
        (2, {"phone": "+46700000001", "first_name": "Anna"}),
        (5, {"phone": "+46700000002", "first_name": "Björn"})]


async def test_a_plain_number_list() -> None:
    rows = await _read(b"\xef\xbb\xbf+46700000001\n\n  +46700000002  \r\n")
    assert [(r.line, r.data["number"]) for r in rows] == [(1, "+46700000001"),
                                                           (3, "+46700000002")]


async def test_semicolon_separated_and_extra_fields() -> None:
    rows = await _read(b"number;name\n+461;A\n+462;B;extra\n")
    assert rows[0].data == {"number": "+461", "name": "A"}
    assert rows[0].problem is None
    assert "3 fields" in (rows[1].problem or "")


@pytest.mark.parametrize(("data", "message"), [
    (b"+461,Anna\n", "looks like data"),
    (b"number,number\n+461,+462\n", "twice"),
    (b"number,name\n+461,\xff\xfe\n", "not UTF-8"),
])
async def test_unreadable_files_are_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        await _read(data)


async def test_a_quote_left_open_never_swallows_rows_silently() -> None:
    """From the review: ``+46701000001,"Bob`` made the csv module read the next rows
    into Bob's name; they had no status, and the text spoken to Bob held the other
    customers' names and numbers. The row is invalid now, naming the lines."""
    data = ('number,name\r\n+46701000001,"Bob\r\n+46701000002,Ann\r\n'
            '+46701000003,Cid\r\n')
    rows = [r async for r in read_rows(io.StringIO(data))]
    assert len(rows) == 1
    assert rows[0].problem is not None
    assert "lines 2 to 4 were read as one row" in rows[0].problem
    assert "column 'name'" in rows[0].problem
    assert "2 line(s)" in rows[0].problem
    # A quoted field that legitimately spans lines is still one good row.
    fine = ('number,address\n+46701000001,"Main St 5, floor 2\nStockholm, 111 22"\n'
            '+46701000002,"c/o Dana\n\nGothenburg"\n')
    assert [(r.line, r.problem) async for r in read_rows(io.StringIO(fine))] == [
        (3, None), (6, None)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"\+[1-9][0-9]{6,12}", fullmatch=True),
                          st.text("abcxyz ÅÄÖé-", max_size=8)), min_size=2, max_size=12),
       st.data(), st.sampled_from([",", ";", "\t"]), st.booleans())
async def test_rows_after_an_open_quote_are_never_lost_silently(
        rows: list[tuple[str, str]], data: st.DataObject, separator: str,
        crlf: bool) -> None:
    opened = data.draw(st.integers(0, len(rows) - 2), label="row with the open quote")
    end = "\r\n" if crlf else "\n"
    lines = [f"number{separator}name"] + [
        f'{number}{separator}{chr(34) if i == opened else ""}{name}'
        for i, (number, name) in enumerate(rows)]
    read = [r async for r in read_rows(io.StringIO(end.join(lines) + end))]
    assert [r.problem for r in read[:opened]] == [None] * opened
    assert len(read) == opened + 1  # the rest went into the open quote...
    problem = read[opened].problem  # ...and that row says so
    assert problem is not None
    assert f"lines {opened + 2} to " in problem


async def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        [row async for row in read_rows(tmp_path / "nope.csv")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"\+[1-9][0-9]{6,12}", fullmatch=True),
                          st.text(st.characters(blacklist_categories=("Cs", "Cc")),
                                  max_size=12)), max_size=30),
       st.booleans(), st.booleans())
async def test_csv_round_trip(rows: list[tuple[str, str]], bom: bool, crlf: bool) -> None:
    import csv
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["number", "first_name"])
    writer.writerows(rows)
    data = (("\ufeff" if bom else "") + out.getvalue()).encode()
    read = await _read(data)
    assert [(r.data["number"], r.data["first_name"]) for r in read] == \
        [(n, f) for n, f in rows if n.strip() or f.strip()]


# -- preflight --------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(item=st.one_of(st.text(max_size=30), st.from_regex(r"\s*\+[0-9]{1,17}\s*",
                                                             fullmatch=True),
                      st.text(min_size=4000, max_size=4200)),
       position=st.integers(0, 10**6),
       text=st.sampled_from(["Hi", "Hi {number}", "Hi {first_name}"]))
def test_a_plain_number_item_is_checked_as_its_row_would_be(item: str, position: int,
                                                            text: str) -> None:
    """The short way for plain numbers gives what the full check gives."""
    checker = RowChecker(TtsTemplate(text=text), number_column="number", id_column="id")
    if "first_name" not in text:  # else: every row lacks the column (an invalid row)
        checker.check_columns(InputRow(data={"number": "+461"}, columns=("number",)))
    assert checker.check_item(item, position) == checker.check(
        to_input_row(item, "number"), position)


@pytest.mark.parametrize(("number", "message"), [
    ("0701234567", "must start with '.'"), ("+46 70 123", "without spaces"),
    ("+46-70", "without spaces"), ("", "empty"), ("+1234567890123456", "more than 15"),
    ("+46abc", "not an E.164"),
])
def test_bad_numbers_say_why(number: str, message: str) -> None:
    with pytest.raises(RowError, match=message):
        check_number(number)


def test_mail_merge() -> None:
    text = MergeText.parse("text", "Hi {first_name}, {{literal}} at {time}")
    assert text.names == {"first_name", "time"}
    assert text.render("text", {"first_name": " Anna ", "time": "10:00"}) == \
        "Hi Anna, {literal} at 10:00"
    with pytest.raises(RowError, match=r"\{time\} is empty"):
        text.render("text", {"first_name": "Anna", "time": " "})
    for bad in ("Hi {", "Hi {x.__class__}", "{x:>10}", "{x!r}", "{}"):
        with pytest.raises(ValidationError):
            MergeText.parse("text", bad)


def test_row_checks_name_the_column() -> None:
    checker = RowChecker(TtsTemplate(text="Hi {name}", max_text_length=20))
    checker.check_columns(InputRow(data={}, columns=("number", "name", "cli", "dtmf")))
    ok = checker.check(InputRow(data={"number": "+461", "name": "A"}, line=2), 0)
    assert (ok.state, ok.key, ok.destination) == ("pending", "+461", "+461")
    cases = {"name": ("", "{name} is empty"), "cli": ("12345", "cli"),
             "dtmf": ("12x", "dtmf")}
    for column, (value, message) in cases.items():
        row = checker.check(InputRow(data={"number": "+461", "name": "A", column: value}), 1)
        assert row.state == "invalid"
        assert message in row.error.message  # type: ignore[union-attr]
    long = checker.check(InputRow(data={"number": "+461", "name": "A" * 30}), 2)
    assert "over the limit of 20" in long.error.message  # type: ignore[union-attr]


def test_missing_columns_are_campaign_wide_errors() -> None:
    checker = RowChecker(TtsTemplate(text="Hi {first_name}"))
    with pytest.raises(ValidationError, match="number_column='phone'"):
        checker.check_columns(InputRow(data={}, columns=("phone", "first_name")))
    checker = RowChecker(TtsTemplate(text="Hi {first_name}"), number_column="phone")
    with pytest.raises(ValidationError, match=r"\{first_name\} names no column"):
        checker.check_columns(InputRow(data={}, columns=("phone", "name")))


async def test_a_binary_stream_is_left_open() -> None:
    data = io.BytesIO(b"number\n+461\n")
    assert [r.data["number"] async for r in read_rows(data)] == ["+461"]
    assert not data.closed


async def test_a_version_1_ledger_file_gains_claim_tokens(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    first = SQLiteLedger(path)
    await first.open(IDENTITY)
    await first.load(_rows(2))
    await first.close()
    with sqlite3.connect(path) as conn:  # as sinch_calling with schema 1 left it
        conn.execute("ALTER TABLE rows DROP COLUMN claim_token")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()
    again = SQLiteLedger(path)
    await again.open(IDENTITY)
    try:
        (claim, _) = await again.claim("w", "run", limit=2, lease=30)
        assert claim.token
        await again.mark_sending(claim)
        await again.mark_placed(claim, "call-1")
        assert (await again.get(claim.key)).status == "placed"
    finally:
        await again.close()


async def test_a_value_sqlite_refuses_is_not_called_corruption(ledger: SQLiteLedger) -> None:
    """From the review: a constraint or a value SQLite cannot bind is the caller's
    error, reported as a LedgerError; only a damaged file is LedgerCorruptError."""
    broken = NewRow(key="1", position=None, destination="+46700000001")  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="NOT NULL") as caught:
        await ledger.load([broken])
    assert not isinstance(caught.value, LedgerCorruptError)
    assert [r.state for r in await ledger.load(_rows(2))] == ["pending", "pending"]


async def test_a_load_fits_sqlites_smallest_parameter_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From the review: a 1,000-row load (the runner's batch) asked SQLite for 1,000
    parameters at once; a library built with the old limit of 999 refused it."""
    connect = SQLiteLedger._connect

    def limited(self: SQLiteLedger) -> sqlite3.Connection:
        conn = connect(self)
        conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        return conn

    monkeypatch.setattr(SQLiteLedger, "_connect", limited)
    led = SQLiteLedger(tmp_path / "limited.db")
    await led.open(IDENTITY)
    try:
        assert len(await led.load(_rows(1000))) == 1000
        again = await led.load(_rows(1000))  # every key and number seen before
        assert {r.state for r in again} == {"pending"}
        claims = await led.claim("w", "run", limit=1000, lease=60)
        assert await led.mark_sending_many(claims) == [True] * 1000
        assert await led.mark_results([RowResult(c, "placed", f"c{c.key}") for c in claims]
                                      ) == [True] * 1000
    finally:
        await led.close()


async def test_an_sqlite_too_old_for_the_ledger_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    led = SQLiteLedger(tmp_path / "old.db")
    with pytest.raises(LedgerError, match=r"needs SQLite 3\.35\.0 or newer.*uses 3\.31\.1"):
        await led.open(IDENTITY)
    assert not (tmp_path / "old.db").exists()


_ANY_CHARACTER = st.text(st.characters(blacklist_categories=()), max_size=12)


@settings(max_examples=300, deadline=None)
@given(ident=_ANY_CHARACTER, number=st.one_of(_ANY_CHARACTER, st.just("+46700000001")),
       name=_ANY_CHARACTER, column=_ANY_CHARACTER)
def test_a_row_any_ledger_can_store_or_an_invalid_one_saying_why(
        ident: str, number: str, name: str, column: str) -> None:
    """Any text a Python iterable gives (lone surrogates, NUL included) becomes a row
    every ledger can store: a lone surrogate raised a raw UnicodeEncodeError from the
    SQLite ledger, a NUL stopped a run on the PostgreSQL one. Both make the row invalid,
    naming the column."""
    checker = RowChecker(TtsTemplate(text="Hi {name}"))
    checker.check_columns(InputRow(data={}, columns=("number", "name", "id", column)))
    row = checker.check(InputRow(data={"number": number, "name": name, "id": ident,
                                       column: "x"}), 0)
    stored = [row.key, row.destination or "", *(row.data or {}).keys(),
              *(str(v) for v in (row.data or {}).values()),
              row.error.message if row.error else ""]
    for text in stored:
        text.encode()  # no lone surrogate
        assert "\x00" not in text
    bad = [t for t in (ident, number, name, column) if "\x00" in t or not _utf8(t)]
    if bad:  # invalid: for that reason, or one found before it (an empty id)
        assert row.state == "invalid"


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


@pytest.mark.parametrize(("data", "message"), [
    ({"number": "+46700000001", "id": "a\udc80"}, "id: holds a character that is not Unicode"),
    ({"number": "+46700000001", "name": "x\ud800"}, "name: holds a character"),
    ({"number": "+4670000\udc800001"}, "number: holds a character"),
    ({"number": "+46700000001", "name": "a\x00b"}, "name: holds a NUL character"),
])
def test_a_value_no_ledger_or_sinch_takes_is_an_invalid_row(data: dict[str, str],
                                                             message: str) -> None:
    """The minimal inputs from the review: each raised or failed only at dialling."""
    checker = RowChecker(TtsTemplate(text="Hi {name}" if "name" in data else "Hi"))
    checker.check_columns(InputRow(data={}, columns=(*data, "name")))
    row = checker.check(InputRow(data=data, line=2), 0)
    assert row.state == "invalid"
    assert row.key == ("+46700000001" if data["number"] == "+46700000001" and "id" not in data
                       else "#1")
    assert message in row.error.message  # type: ignore[union-attr]
