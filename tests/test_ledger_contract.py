"""The ledger contract (the rules in sinch_calling/campaign/ledger.py), run against every
implementation: the SQLite ledger and the PostgreSQL ledger (real server, own schema)."""

from __future__ import annotations

import asyncio
import importlib.util
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from sinch_calling.campaign.ledger import (
    LeaseLostError,
    Ledger,
    LedgerError,
    LedgerMismatchError,
    RowStateError,
    UnknownRowError,
)
from sinch_calling.campaign.records import (
    CallError,
    CampaignIdentity,
    FinalOutcome,
    NewRow,
    RowResult,
)
from sinch_calling.errors import ValidationError

from .services import drop_schema, require_postgres

IMPLEMENTATIONS = ["postgres"]
if importlib.util.find_spec("sinch_calling.campaign.sqlite") is not None:
    IMPLEMENTATIONS.insert(0, "sqlite")

IDENTITY = CampaignIdentity(fingerprint="f1", options={"text": "hello", "rate": 10})
OTHER = CampaignIdentity(fingerprint="f2", options={"text": "bye", "rate": 10})

MakeLedger = Callable[[], Any]


@pytest.fixture(params=IMPLEMENTATIONS)
async def make_ledger(request: pytest.FixtureRequest,
                      tmp_path: Path) -> AsyncIterator[MakeLedger]:
    """A factory of (unopened) ledger objects on one fresh store; all closed after."""
    made: list[Any] = []
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if request.param == "sqlite":
        from sinch_calling.campaign.sqlite import SQLiteLedger

        path = tmp_path / "ledger.db"

        def make() -> Any:
            made.append(SQLiteLedger(path))
            return made[-1]
    else:
        from sinch_calling.campaign.postgres import PostgresLedger

        dsn = require_postgres()
        schema = f"test_{uuid.uuid4().hex[:16]}"

        def make() -> Any:
            made.append(PostgresLedger(dsn, schema=schema, campaign="contract"))
            return made[-1]

        def cleanup() -> None:
            drop_schema(dsn, schema)
    try:
        yield make
    finally:
        for ledger in made:
            await ledger.close()
        cleanup()


@pytest.fixture
async def ledger(make_ledger: MakeLedger) -> Any:
    led = make_ledger()
    await led.open(IDENTITY)
    return led


def rows(*numbers: str | None, start: int = 0) -> list[NewRow]:
    return [NewRow(key=str(start + i + 1), position=start + i, destination=number,
                   data={"number": number or "", "first_name": f"n{i}"}, line=start + i + 2)
            for i, number in enumerate(numbers)]


async def states(led: Any) -> dict[str, str]:
    return {o.row: o.status async for o in led.results()}


async def test_is_a_ledger(ledger: Any) -> None:
    assert isinstance(ledger, Ledger)
    assert await ledger.identity() == IDENTITY
    assert "password" not in ledger.location


async def test_open_existing_none_and_missing(make_ledger: MakeLedger) -> None:
    missing = make_ledger()
    with pytest.raises(LedgerError):
        await missing.open(None)
    first = make_ledger()
    await first.open(IDENTITY)
    await first.load(rows("+46700000001"))
    await first.close()
    await first.close()  # idempotent
    reader = make_ledger()
    await reader.open(None)
    assert await reader.identity() == IDENTITY
    assert (await reader.counts()).states["pending"] == 1


async def test_identity_mismatch_and_force(make_ledger: MakeLedger) -> None:
    first = make_ledger()
    await first.open(IDENTITY)
    await first.load(rows("+46700000001"))
    await first.close()
    other = make_ledger()
    with pytest.raises(LedgerMismatchError) as caught:
        await other.open(OTHER)
    assert caught.value.differences == {"text": ("hello", "bye")}
    assert "text" in str(caught.value)
    forced = make_ledger()
    await forced.open(OTHER, force=True)
    assert await forced.identity() == OTHER
    assert (await forced.counts()).states["pending"] == 1


async def test_load_duplicates_invalid_and_order(ledger: Any) -> None:
    invalid = NewRow(key="3", position=2, destination=None, state="invalid",
                     error=CallError(kind="invalid", message="not a number"))
    loaded = await ledger.load([*rows("+46700000001", "+46700000001"), invalid,
                                *rows("+46700000004", start=3)])
    assert [r.state for r in loaded] == ["pending", "skipped", "invalid", "pending"]
    assert [r.key for r in loaded] == ["1", "2", "3", "4"]
    assert loaded[1].error is not None
    assert loaded[1].error.kind == "duplicate"
    assert "1" in loaded[1].error.message
    assert all(r.previous is None for r in loaded)
    outcomes = [o async for o in ledger.results()]
    assert [o.row for o in outcomes] == ["1", "2", "3", "4"]
    assert outcomes[2].error is not None
    assert outcomes[2].error.kind == "invalid"
    assert outcomes[0].line == 2
    assert outcomes[0].destination == "+46700000001"


async def test_load_is_idempotent_and_fixes_pending(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+4670000000x"))
    claims = await ledger.claim("w1", "run1", limit=1, lease=30)
    await ledger.mark_sending(claims[0])
    await ledger.mark_placed(claims[0], "call-1")
    again = await ledger.load(rows("+46700000009", "+46700000002"))
    assert [r.state for r in again] == ["placed", "pending"]
    assert [r.previous for r in again] == ["placed", "pending"]
    assert again[0].error is not None
    assert again[0].error.kind == "changed"
    one = await ledger.get("1")
    assert one.destination == "+46700000001"
    assert one.call_id == "call-1"
    two = await ledger.get("2")
    assert two.destination == "+46700000002"
    assert await ledger.get("nope") is None


async def test_rows_swapping_numbers_are_both_dialled(ledger: Any) -> None:
    """From the review: two rows not dialled yet swap numbers in the fixed list (or one
    takes the number another row of the batch leaves): each was skipped as the other's
    duplicate, and nobody was called. The batch decides, in input order."""
    def keyed(*pairs: tuple[str, str]) -> list[NewRow]:
        return [NewRow(key=key, position=i, destination=number, line=i + 2)
                for i, (key, number) in enumerate(pairs)]

    x, y, z = "+46703000001", "+46703000002", "+46703000003"
    await ledger.load(keyed(("id1", x), ("id2", y), ("id3", z)), run="first")
    swapped = await ledger.load(keyed(("id1", y), ("id2", x), ("new", z), ("id3", x)),
                                run="second")
    assert [(r.key, r.state) for r in swapped] == [
        ("id1", "pending"), ("id2", "pending"), ("new", "pending"), ("id3", "skipped")]
    assert swapped[3].error is not None
    assert swapped[3].error.kind == "duplicate"
    assert "id2" in swapped[3].error.message
    claims = await ledger.claim("w", "second", limit=10, lease=30, loaded_by="second")
    assert sorted((c.key, c.destination) for c in claims) == [
        ("id1", y), ("id2", x), ("new", z)]


async def test_duplicate_across_loads(ledger: Any) -> None:
    await ledger.load(rows("+46700000001"))
    later = await ledger.load(rows("+46700000001", start=5))
    assert later[0].state == "skipped"
    assert later[0].error is not None
    assert later[0].error.kind == "duplicate"


async def test_claims_are_exclusive_ordered_and_leased(ledger: Any) -> None:
    await ledger.load(rows(*(f"+467000000{i:02d}" for i in range(10))))
    first = await ledger.claim("w1", "run", limit=4, lease=30)
    second = await ledger.claim("w2", "run", limit=4, lease=30)
    third = await ledger.claim("w3", "run", limit=4, lease=30)
    assert [c.position for c in first] == [0, 1, 2, 3]
    assert [c.position for c in second] == [4, 5, 6, 7]
    assert [c.position for c in third] == [8, 9]
    assert await ledger.claim("w4", "run", limit=4, lease=30) == []
    assert first[0].worker == "w1"
    assert first[0].data == {"number": "+46700000000",
                                                         "first_name": "n0"}
    assert first[0].destination == "+46700000000"
    assert first[0].line == 2
    with pytest.raises(LeaseLostError):
        await ledger.mark_sending(second[0].__class__(**{**_fields(second[0]),
                                                         "worker": "w1"}))
    assert await ledger.renew("w1", lease=30) == 4
    counts = await ledger.counts()
    assert counts.states["claimed"] == 10
    assert counts.total == 10


def _fields(claim: Any) -> dict[str, Any]:
    return {name: getattr(claim, name) for name in
            ("key", "position", "destination", "worker", "data", "line", "attempts")}


async def test_concurrent_claims_never_share_a_row(make_ledger: MakeLedger) -> None:
    led = make_ledger()
    await led.open(IDENTITY)
    await led.load(rows(*(f"+4670000{i:04d}" for i in range(300))))
    got = await asyncio.gather(*(led.claim(f"w{i}", "run", limit=7, lease=30)
                                 for i in range(60)))
    keys = [c.key for batch in got for c in batch]
    assert len(keys) == len(set(keys)) == 300


async def test_sending_and_outcomes_need_the_holder(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+46700000002", "+46700000003"))
    a, b, c = await ledger.claim("w1", "run", limit=3, lease=30)
    with pytest.raises(LeaseLostError):
        await ledger.mark_placed(a, "call-a")  # not sending yet
    for claim in (a, b, c):
        await ledger.mark_sending(claim)
    with pytest.raises(LeaseLostError):
        await ledger.mark_sending(a)  # already sending
    await ledger.mark_placed(a, "call-a")
    await ledger.mark_failed(b, CallError(kind="bad_request", message="no", status=400,
                                          code=40001))
    await ledger.mark_uncertain(c, CallError(kind="server", message="oops", status=503))
    with pytest.raises(LeaseLostError):
        await ledger.mark_placed(c, "late")  # uncertain by the worker itself: final
    got = {o.row: o async for o in ledger.results()}
    assert got["1"].status == "placed"
    assert got["1"].call_id == "call-a"
    assert got["2"].status == "failed"
    assert got["2"].error == CallError(
        kind="bad_request", message="no", status=400, code=40001)
    assert got["3"].status == "uncertain"
    assert got["3"].error is not None
    assert got["3"].updated_at is not None
    assert got["3"].updated_at.tzinfo is not None


async def test_expired_leases(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+46700000002", "+46700000003"))
    a, b, c = await ledger.claim("dead", "run", limit=3, lease=0.05)
    await ledger.mark_sending(b)
    await ledger.mark_sending(c)
    await asyncio.sleep(0.2)
    assert await ledger.expire_leases() == (1, 2)
    assert await ledger.expire_leases() == (0, 0)
    assert await states(ledger) == {"1": "pending", "2": "uncertain", "3": "uncertain"}
    assert (await ledger.get("2")).error.kind == "lease_expired"
    # The late answer of the worker whose lease ran out is still recorded...
    await ledger.mark_placed(b, "late-call")
    await ledger.release(c, "run")  # ...as is a provably unsent one
    # ...and nobody else redials the uncertain row or gets the expired claim.
    with pytest.raises(LeaseLostError):
        await ledger.mark_sending(a)
    again = await ledger.claim("alive", "run", limit=10, lease=30)
    assert sorted(x.key for x in again) == ["1", "3"]
    assert (await ledger.get("2")).call_id == "late-call"


async def test_claim_recovers_expired_claims(ledger: Any) -> None:
    await ledger.load(rows("+46700000001"))
    await ledger.claim("dead", "run", limit=1, lease=0.05)
    await asyncio.sleep(0.2)
    taken = await ledger.claim("alive", "run", limit=1, lease=30)
    assert [c.key for c in taken] == ["1"]


async def test_expire_everyone(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+46700000002"))
    _a, b = await ledger.claim("w", "run", limit=2, lease=300)
    await ledger.mark_sending(b)
    assert await ledger.expire_leases(everyone=True) == (1, 1)


async def test_release_defer_and_attempts(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+46700000002"))
    a, b = await ledger.claim("w", "run1", limit=2, lease=30)
    await ledger.mark_sending(a)
    await ledger.release(a, "run1", error=CallError(kind="rate_limited", message="429",
                                                    status=429), count_attempt=True)
    await ledger.release(b, "run1", defer=True)
    (again,) = await ledger.claim("w", "run1", limit=5, lease=30)
    assert again.key == "1"
    assert again.attempts == 1
    assert (await ledger.get("1")).status == "claimed"
    await ledger.release(again, "run1", count_attempt=True)
    (third,) = await ledger.claim("w", "run1", limit=5, lease=30)
    assert third.attempts == 2
    await ledger.release(third, "run1", count_attempt=True)
    later = await ledger.claim("w", "run2", limit=5, lease=30)
    assert sorted(c.key for c in later) == ["1", "2"]
    assert all(c.attempts == 0 for c in later)
    # A row that moved on is left alone.
    await ledger.mark_sending(later[0])
    await ledger.mark_placed(later[0], "c1")
    await ledger.release(later[0], "run2")
    assert (await ledger.get(later[0].key)).status == "placed"


async def test_release_keeps_error_for_results(ledger: Any) -> None:
    await ledger.load(rows("+46700000001"))
    (a,) = await ledger.claim("w", "run", limit=1, lease=30)
    await ledger.release(a, "run", error=CallError(kind="rate_limited", message="slow down",
                                                   status=429), defer=True)
    got = await ledger.get("1")
    assert got.status == "pending"
    assert got.error is not None
    assert got.error.kind == "rate_limited"


async def test_settle(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+46700000002", "+46700000003"))
    a, b, _c = await ledger.claim("w", "run", limit=3, lease=30)
    for claim in (a, b):
        await ledger.mark_sending(claim)
        await ledger.mark_uncertain(claim, CallError(kind="server", message="503"))
    with pytest.raises(UnknownRowError):
        await ledger.settle("nope", call_id=None)
    with pytest.raises(RowStateError):
        await ledger.settle("3", call_id=None)
    with pytest.raises(ValidationError):
        await ledger.settle("1", call_id=" ")
    placed = await ledger.settle("1", call_id=" abc ")
    assert placed.status == "placed"
    assert placed.call_id == "abc"
    assert placed.error is None
    unsent = await ledger.settle("2", call_id=None)
    assert unsent.status == "pending"
    claimed = await ledger.claim("w2", "run", limit=5, lease=30)
    assert [x.key for x in claimed] == ["2"]


async def test_retry_failed(ledger: Any) -> None:
    await ledger.load(rows("+46700000001"))
    (a,) = await ledger.claim("w", "run", limit=1, lease=30)
    await ledger.mark_sending(a)
    await ledger.mark_failed(a, CallError(kind="bad_request", message="no", status=400))
    assert (await ledger.load(rows("+46700000001")))[0].state == "failed"
    assert (await ledger.load(rows("+46700000001"), retry_failed=True))[0].state == "pending"


async def test_tracking_counts_and_filters(ledger: Any) -> None:
    await ledger.load(rows(*(f"+4670000000{i}" for i in range(5))))
    claims = await ledger.claim("w", "run", limit=5, lease=30)
    for i, claim in enumerate(claims[:3]):
        await ledger.mark_sending(claim)
        await ledger.mark_placed(claim, f"call-{i}")
    assert [key async for key, _ in ledger.untracked(batch=2)] == ["1", "2", "3"]
    assert await ledger.record_outcome("call-0", FinalOutcome(
        result="ANSWERED", reason="CALLEEHANGUP", duration=12.0, debit=0.05,
        currency="USD")) == "1"
    assert await ledger.record_outcome("call-1", FinalOutcome(
        result="NOANSWER", debit=0.01, currency="USD")) == "2"
    assert await ledger.record_outcome("elsewhere", FinalOutcome(result="ANSWERED")) is None
    assert [(k, c) async for k, c in ledger.untracked()] == [("3", "call-2")]
    counts = await ledger.counts()
    assert counts.states["placed"] == 3
    assert counts.states["claimed"] == 2
    assert counts.results == {"ANSWERED": 1, "NOANSWER": 1}
    assert counts.cost == {"USD": pytest.approx(0.06)}
    assert counts.untracked == 1
    assert counts.answer_rate == 0.5
    got = await ledger.get("1")
    assert got.outcome == FinalOutcome(result="ANSWERED", reason="CALLEEHANGUP",
                                       duration=12.0, debit=0.05, currency="USD")
    placed = [o.row async for o in ledger.results(states=["placed"], batch=2)]
    assert placed == ["1", "2", "3"]
    everything = [o.row async for o in ledger.results(batch=2)]
    assert everything == ["1", "2", "3", "4", "5"]
    with pytest.raises(ValidationError):
        [o async for o in ledger.results(states=["nope"])]  # type: ignore[list-item]


async def test_pacing_window_and_pause(ledger: Any) -> None:
    # Each reservation's start, bounded by the local clock around the call: the k-th
    # is at least ``period`` after the (k-count)-th, and never before the previous one.
    account = f"acct-{uuid.uuid4().hex}"
    earliest: list[float] = []
    latest: list[float] = []
    for _ in range(8):
        before = time.monotonic()
        wait = await ledger.reserve_start(account, count=3, period=0.5)
        after = time.monotonic()
        assert wait >= 0
        earliest.append(before + wait)
        latest.append(after + wait)
    for k in range(3, 8):
        assert latest[k] - earliest[k - 3] >= 0.5
    for k in range(1, 8):
        assert latest[k] >= earliest[k - 1]
    other = f"acct-{uuid.uuid4().hex}"
    before = time.monotonic()
    await ledger.pause_starts(other, 5)
    await ledger.pause_starts(other, 1)  # never shortens
    wait = await ledger.reserve_start(other, count=100, period=1)
    assert time.monotonic() + wait - before >= 5


async def test_unpaced_reservations_honour_pauses(ledger: Any) -> None:
    account = f"acct-{uuid.uuid4().hex}"
    assert [await ledger.reserve_start(account, count=1, period=0.0)
            for _ in range(5)] == [0.0] * 5
    before = time.monotonic()
    await ledger.pause_starts(account, 2)
    wait = await ledger.reserve_start(account, count=1, period=0.0)
    assert time.monotonic() + wait - before >= 2


async def test_claims_only_rows_of_this_input(ledger: Any) -> None:
    await ledger.load(rows("+46700000001", "+46700000002"), run="first")
    await ledger.load(rows("+46700000002", start=1), run="second")  # row 1 dropped
    assert [c.key for c in await ledger.claim("w", "second", limit=5, lease=30,
                                              loaded_by="second")] == ["2"]
    assert [c.key for c in await ledger.claim("w", "x", limit=5, lease=30,
                                              loaded_by="nobody")] == []
    assert [c.key for c in await ledger.claim("w", "x", limit=5, lease=30)] == ["1"]


# -- the batch methods the runner uses (one transaction for many rows) ----------------


async def test_sending_many_marks_the_held_rows_and_reports_the_others(ledger: Any) -> None:
    await ledger.load(rows(*(f"+4670000000{i}" for i in range(1, 6))))
    a = await ledger.claim("w1", "run", limit=3, lease=30)
    b = await ledger.claim("w2", "run", limit=2, lease=30)
    stale = attrs.evolve(a[0], token="not-this-claim")
    assert await ledger.mark_sending_many([]) == []
    # Claims of two claim() calls in one batch; a stale one; one claim given twice.
    got = await ledger.mark_sending_many([a[1], stale, b[0], a[1], a[2], b[1]])
    assert got == [True, False, True, False, True, True]
    assert await states(ledger) == {"1": "claimed", "2": "sending", "3": "sending",
                                    "4": "sending", "5": "sending"}
    assert await ledger.mark_sending_many([a[0], a[1]]) == [True, False]
    assert (await ledger.get("1")).status == "sending"


async def test_results_many_record_what_their_claims_hold(ledger: Any) -> None:
    await ledger.load(rows(*(f"+4670000000{i}" for i in range(1, 6))))
    claims = await ledger.claim("w", "run", limit=5, lease=30)
    assert await ledger.mark_sending_many(claims[:4]) == [True] * 4
    refused = CallError(kind="bad_request", message="no", status=400, code=40001)
    lost = CallError(kind="server", message="oops", status=503)
    assert await ledger.mark_results([]) == []
    # All held: one statement; then a batch where some are not (each on its own).
    assert await ledger.mark_results([RowResult(claims[0], "placed", "call-1"),
                                      RowResult(claims[1], "failed", error=refused)]) \
        == [True, True]
    got = await ledger.mark_results([
        RowResult(claims[2], "uncertain", error=lost),
        RowResult(claims[0], "placed", "call-again"),  # already placed
        RowResult(claims[4], "placed", "call-5"),  # claimed, never marked sending
        RowResult(attrs.evolve(claims[3], token="stale"), "placed", "call-x"),
        RowResult(claims[3], "placed", "call-4")])
    assert got == [True, False, False, False, True]
    found = {o.row: o async for o in ledger.results()}
    assert (found["1"].status, found["1"].call_id) == ("placed", "call-1")
    assert (found["2"].status, found["2"].error) == ("failed", refused)
    assert (found["3"].status, found["3"].error) == ("uncertain", lost)
    assert (found["4"].status, found["4"].call_id) == ("placed", "call-4")
    assert found["5"].status == "claimed"
    with pytest.raises(ValidationError, match="state"):
        await ledger.mark_results([RowResult(claims[4], "pending")])  # type: ignore[arg-type]


async def test_batches_larger_than_one_statement_are_recorded_whole(ledger: Any) -> None:
    """Loads, sending marks and answers of hundreds of rows in one call (an
    implementation may split them into several statements: every row still counts)."""
    await ledger.load(rows(*(f"+46701{i:06d}" for i in range(250))))
    # Reloading with 50 more: the 250 are updated in place, the 50 added, order kept.
    loaded = await ledger.load(rows(*(f"+46701{i:06d}" for i in range(300))))
    assert [r.state for r in loaded] == ["pending"] * 300
    first = await ledger.claim("w1", "run", limit=150, lease=30)
    second = await ledger.claim("w2", "run", limit=150, lease=30)
    claims = first + second
    assert sorted(int(c.key) for c in claims) == list(range(1, 301))
    assert await ledger.mark_sending_many(claims) == [True] * 300
    refused = CallError(kind="bad_request", message="no", status=400, code=40001)
    lost = CallError(kind="server", message="oops", status=503)
    answers = [RowResult(c, "placed", f"call-{c.key}") if i % 3 == 0 else
               RowResult(c, "failed", error=refused) if i % 3 == 1 else
               RowResult(c, "uncertain", error=lost) for i, c in enumerate(claims)]
    assert await ledger.mark_results(answers) == [True] * 300
    expected = {a.claim.key: a for a in answers}
    found = [o async for o in ledger.results()]
    assert [o.row for o in found] == [str(i) for i in range(1, 301)]
    for outcome in found:
        answer = expected[outcome.row]
        assert (outcome.status, outcome.call_id, outcome.error) == \
            (answer.state, answer.call_id, answer.error)
    # The same answers again in one big batch: none holds now.
    assert await ledger.mark_results(answers[:200]) == [False] * 200


@pytest.mark.parametrize("lost", ["full statement", "padded statement", "small claim",
                                  "one-row claim"])
async def test_a_lost_row_among_many_answers_is_the_one_refused(ledger: Any,
                                                                lost: str) -> None:
    """One row is released before the answers come (its claim no longer holds it):
    exactly that answer is refused, wherever it sits (among a full statement's worth of
    rows, a padded one, the few rows of a small claim, a claim of one row), and every
    other answer of the batch is recorded."""
    await ledger.load(rows(*(f"+46702{i:06d}" for i in range(211))))
    big = await ledger.claim("w", "run", limit=200, lease=30)
    medium = await ledger.claim("w", "run", limit=5, lease=30)
    small = await ledger.claim("w", "run", limit=2, lease=30)
    singles = [await ledger.claim(f"w{i}", "run", limit=1, lease=30) for i in range(4)]
    claims = big + medium + small + [c for one in singles for c in one]
    assert await ledger.mark_sending_many(claims) == [True] * 211
    gone = {"full statement": big[5], "padded statement": medium[2],
            "small claim": small[1], "one-row claim": singles[2][0]}[lost]
    await ledger.release(gone, "run")
    answers = [RowResult(c, "placed", f"call-{c.key}") for c in claims]
    assert await ledger.mark_results(answers) == [c.key != gone.key for c in claims]
    found = {o.row: o.status async for o in ledger.results()}
    assert [k for k, status in found.items() if status != "placed"] == [gone.key]
    assert found[gone.key] == "pending"


# -- one claim, one token (a frozen worker's stale claim never moves a row) -----------


async def test_a_stale_claim_of_the_same_worker_moves_nothing(ledger: Any) -> None:
    """The reviewer's double dial: one worker id for all of a run's tasks; a freeze
    longer than the lease; the same worker claims the same row again. The stale claim
    may not send, and the new claim's release may not undo a send."""
    await ledger.load(rows("+46700000001"))
    (c1,) = await ledger.claim("host:1:w", "run", limit=1, lease=0.05)
    await asyncio.sleep(0.2)  # the process was frozen longer than the lease
    (c2,) = await ledger.claim("host:1:w", "run", limit=1, lease=30)
    assert c2.key == c1.key
    assert c2.token != c1.token
    with pytest.raises(LeaseLostError):
        await ledger.mark_sending(c1)  # the stale claim must not send
    assert (await ledger.get("1")).status == "claimed"
    await ledger.mark_sending(c2)
    await ledger.release(c1, "run")  # a stale claim's release leaves the sent row alone
    assert (await ledger.get("1")).status == "sending"
    assert await ledger.claim("other:2:x", "run", limit=1, lease=30) == []
    with pytest.raises(LeaseLostError):
        await ledger.mark_placed(c1, "call-stale")
    await ledger.mark_placed(c2, "call-1")
    got = await ledger.get("1")
    assert (got.status, got.call_id) == ("placed", "call-1")


async def test_a_stale_claim_cannot_release_a_sending_row(ledger: Any) -> None:
    """The reviewer's exact order: the stale claim sent, the new one is released by the
    stop path: the row stays sending (only the sending claim proves a refusal)."""
    await ledger.load(rows("+46700000001"))
    (c1,) = await ledger.claim("host:1:w", "run", limit=1, lease=30)
    await ledger.mark_sending(c1)
    await ledger.expire_leases(everyone=True)  # its lease ran out while in flight
    assert (await ledger.get("1")).status == "uncertain"
    assert await ledger.claim("host:1:w", "run", limit=1, lease=30) == []
    # A claim the same worker held earlier for this row (another token) moves nothing.
    forged = attrs.evolve(c1, token="not-the-sending-claim")
    await ledger.release(forged, "run")
    assert (await ledger.get("1")).status == "uncertain"
    await ledger.mark_placed(c1, "late-call")  # the holder's late answer is kept
    assert (await ledger.get("1")).call_id == "late-call"


# -- the claim protocol as a state machine --------------------------------------------


class _ClaimMachine(RuleBasedStateMachine):
    """Workers claim, renew, send, finish and release rows while leases run out
    (``expire_leases(everyone=True)`` plays the clock). Invariants: no row is sent by two
    claims whose sends were not settled by their holder, and a sent row never becomes
    pending/claimed again except by its sending claim's release (a proven refusal)."""

    make: Callable[[], Any] = staticmethod(lambda: None)
    claims = Bundle("claims")
    KEYS = ("1", "2")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.led = self.make()
        self.run_(self.led.open(IDENTITY))
        self.run_(self.led.load(rows("+46700000001", "+46700000002")))
        self.sent: dict[str, set[str]] = {key: set() for key in self.KEYS}
        self.decided: set[str] = set()

    def run_(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        drop = getattr(self.led, "drop", None)
        if drop is not None:
            self.run_(drop())
        self.run_(self.led.close())
        self.loop.close()

    @rule(target=claims, worker=st.sampled_from(["w1", "w1", "w1", "w2"]),
          limit=st.integers(1, 2))
    def claim(self, worker: str, limit: int) -> Any:
        # Each claim gets its own identity in the model (not the ledger's token).
        got = self.run_(self.led.claim(worker, "run", limit=limit, lease=300))
        self.made = getattr(self, "made", 0) + len(got)
        return multiple(*((self.made - i, c) for i, c in enumerate(got)))

    @rule(worker=st.sampled_from(["w1", "w2"]))
    def renew(self, worker: str) -> None:
        self.run_(self.led.renew(worker, lease=300))

    @rule()
    def expire(self) -> None:
        self.run_(self.led.expire_leases(everyone=True))

    @rule(held=claims)
    def mark_sending(self, held: tuple[int, Any]) -> None:
        ident, claim = held
        try:
            self.run_(self.led.mark_sending(claim))
        except LeaseLostError:
            return
        assert not self.sent[claim.key], f"row {claim.key} sent by two claims"
        assert claim.key not in self.decided
        self.sent[claim.key].add(ident)

    @rule(held=claims, how=st.sampled_from(["placed", "failed", "uncertain"]))
    def finish(self, held: tuple[int, Any], how: str) -> None:
        ident, claim = held
        error = CallError(kind="x", message="x")
        try:
            if how == "placed":
                self.run_(self.led.mark_placed(claim, f"call-{ident}"))
            elif how == "failed":
                self.run_(self.led.mark_failed(claim, error))
            else:
                self.run_(self.led.mark_uncertain(claim, error))
        except LeaseLostError:
            return
        assert ident in self.sent[claim.key], "finished by a claim that did not send"
        self.sent[claim.key].discard(ident)
        self.decided.add(claim.key)

    @rule(held=claims)
    def release(self, held: tuple[int, Any]) -> None:
        ident, claim = held
        self.run_(self.led.release(claim, "run"))
        if ident in self.sent[claim.key] and \
                self.run_(self.led.get(claim.key)).status == "pending":
            self.sent[claim.key].discard(ident)  # its holder proved a refusal

    @invariant()
    def sent_rows_stay_sent(self) -> None:
        for key in self.KEYS:
            status = self.run_(self.led.get(key)).status
            if self.sent[key]:
                assert status in ("sending", "uncertain"), (key, status)
            if key in self.decided:
                assert status in ("placed", "failed", "uncertain"), (key, status)


@pytest.mark.parametrize("store", IMPLEMENTATIONS)
def test_claim_protocol_state_machine(store: str, tmp_path: Path) -> None:
    if store == "sqlite":
        from sinch_calling.campaign.sqlite import SQLiteLedger

        def make() -> Any:
            return SQLiteLedger(None)
        examples = 20
        cleanup: Callable[[], None] = lambda: None  # noqa: E731
    else:
        from sinch_calling.campaign.postgres import PostgresLedger

        dsn = require_postgres()
        schema = f"test_{uuid.uuid4().hex[:16]}"

        def make() -> Any:
            return PostgresLedger(dsn, schema=schema, campaign=uuid.uuid4().hex)
        examples = 15

        def cleanup() -> None:
            drop_schema(dsn, schema)

    machine = type("Machine", (_ClaimMachine,), {"make": staticmethod(make)})
    try:
        run_state_machine_as_test(machine, settings=settings(
            max_examples=examples, stateful_step_count=25, deadline=None,
            suppress_health_check=list(HealthCheck)))
    finally:
        cleanup()


async def test_rows_with_nul_or_lone_surrogates_load_as_invalid(ledger: Any) -> None:
    """From the review: a NUL in a column stopped a run on the PostgreSQL ledger
    ("text fields cannot contain NUL"), a lone surrogate in an id raised a raw
    UnicodeEncodeError from the SQLite one. Preflight makes both invalid rows, which
    every ledger stores."""
    from sinch_calling.campaign.preflight import RowChecker
    from sinch_calling.campaign.rows import InputRow
    from sinch_calling.campaign.templates import TtsTemplate

    checker = RowChecker(TtsTemplate(text="Hi {name}"))
    checker.check_columns(InputRow(data={}, columns=("number", "name", "id")))
    data = [{"number": "+46700000001", "name": "a\x00b", "id": "1"},
            {"number": "+46700000002", "name": "b", "id": "2\udc80"},
            {"number": "+46700000003", "name": "c\ud800", "id": "3"},
            {"number": "+46700000004", "name": "d", "id": "4\x00"},
            {"number": "+46700000005", "name": "e", "id": "5"}]
    checked = [checker.check(InputRow(data=d, line=i + 2), i) for i, d in enumerate(data)]
    loaded = await ledger.load(checked)
    assert [row.state for row in loaded] == ["invalid"] * 4 + ["pending"]
    results = {o.row: o async for o in ledger.results()}
    assert "NUL" in results["1"].error.message
    assert set(results) == {"1", "#2", "3", "#4", "5"}
    assert "surrogate" in results["#2"].error.message


@pytest.mark.parametrize(("key", "call_id", "field"), [
    ("\udcff", None, "row"), ("a\x00", None, "row"), ("", None, "row"),
    ("1", "ab\udcff", "call_id"), ("1", "ab\x00", "call_id"), ("1", " ", "call_id"),
    ("1", "x\ny", "call_id"), ("1", "x\ty", "call_id"),
])
async def test_settle_and_get_refuse_keys_and_call_ids_no_ledger_holds(
        ledger: Any, key: str, call_id: str | None, field: str) -> None:
    """From the review: ``campaign resolve`` with a byte that is not UTF-8 in ROW (the
    shell hands Python a lone surrogate) raised a raw UnicodeEncodeError."""
    await ledger.load(rows("+46700000001"))
    with pytest.raises(ValidationError) as caught:
        await ledger.settle(key, call_id=call_id)
    assert caught.value.field == field
    if field == "row":
        with pytest.raises(ValidationError):
            await ledger.get(key)
