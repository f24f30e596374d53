"""What only the PostgreSQL ledger promises: several workers (ledger objects) at once,
several campaigns in one schema, schema versions and migrations, secrets kept out of
messages. The shared rules are in test_ledger_contract.py."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from sinch_calling.campaign.ledger import LedgerCorruptError, LedgerError
from sinch_calling.campaign.records import CampaignIdentity, NewRow, RowResult
from sinch_calling.errors import ValidationError

from .services import import_for

psycopg = import_for("psycopg", "PostgreSQL", "postgres")
postgres = import_for("sinch_calling.campaign.postgres", "PostgreSQL", "postgres")
PostgresLedger = postgres.PostgresLedger
is_postgres_dsn = postgres.is_postgres_dsn

IDENTITY = CampaignIdentity(fingerprint="f1", options={"text": "hello"})
OTHER = CampaignIdentity(fingerprint="f2", options={"text": "bye"})


def rows(n: int, *, prefix: str = "+4670000") -> list[NewRow]:
    return [NewRow(key=str(i + 1), position=i, destination=f"{prefix}{i:04d}")
            for i in range(n)]


class Ledgers:
    """Ledger objects on one test schema, closed at the end."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn, self.schema = dsn, schema
        self.made: list[PostgresLedger] = []

    def __call__(self, campaign: str = "c", **options: Any) -> PostgresLedger:
        self.made.append(PostgresLedger(self.dsn, schema=self.schema, campaign=campaign,
                                        **options))
        return self.made[-1]


@pytest.fixture
async def ledgers(postgres_schema: tuple[str, str]) -> Any:
    made = Ledgers(*postgres_schema)
    yield made
    for ledger in made.made:
        await ledger.close()


def test_arguments_are_checked_before_connecting() -> None:
    for kwargs, field in (({"schema": "Bad-Name"}, "schema"), ({"campaign": " "}, "campaign"),
                          ({"pool_size": 0}, "pool_size"),
                          ({"connect_timeout": 0}, "connect_timeout")):
        with pytest.raises(ValidationError) as caught:
            PostgresLedger("postgresql://127.0.0.1/test", **kwargs)
        assert caught.value.field == field
    with pytest.raises(ValidationError):
        PostgresLedger("")
    with pytest.raises(ValidationError) as bad:
        PostgresLedger("host=db password=hunter2 hunter3")
    assert "hunter" not in str(bad.value)
    assert bad.value.__cause__ is None
    assert is_postgres_dsn("postgresql://x/y")
    assert is_postgres_dsn("postgres://x/y")
    assert not is_postgres_dsn("ledger.db")


def test_dsn_parameters_and_location() -> None:
    ledger = PostgresLedger("postgresql://app:s3cr%40t@db.example:6432/calls"
                            "?sslmode=disable&campaign=spring%20run&schema=calls_ledger")
    assert ledger.campaign == "spring run"
    assert ledger.location == ("postgresql://app@db.example:6432/calls?schema=calls_ledger"
                               "&campaign=spring%20run")
    assert "s3cr" not in repr(ledger)
    local = PostgresLedger("postgresql:///calls?campaign=c1&host=/var/run/postgresql")
    assert local.campaign == "c1"
    assert local._conninfo == "postgresql:///calls?host=%2Fvar%2Frun%2Fpostgresql"
    assert PostgresLedger("postgresql:///calls")._conninfo == "postgresql:///calls"
    plain = PostgresLedger("host=db.example dbname=calls user=app password=hunter2")
    assert "hunter2" not in plain.location
    assert plain.location.endswith("?schema=sinch_calling&campaign=default")


async def test_password_never_in_errors() -> None:
    ledger = PostgresLedger("postgresql://app:hunter2secret@127.0.0.1:1/test",
                            connect_timeout=2)
    with pytest.raises(LedgerError) as caught:
        await ledger.open(IDENTITY)
    assert "hunter2secret" not in str(caught.value)
    assert "127.0.0.1" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    with pytest.raises(LedgerError, match="not open"):
        await ledger.counts()


async def test_campaigns_share_a_schema(ledgers: Ledgers) -> None:
    spring, autumn = ledgers("spring"), ledgers("autumn")
    await spring.open(IDENTITY)
    await autumn.open(OTHER)  # another campaign: its own identity
    await spring.load(rows(3))
    loaded = await autumn.load(rows(2))  # same keys and numbers: no clash across campaigns
    assert [r.state for r in loaded] == ["pending", "pending"]
    assert (await spring.counts()).total == 3
    assert (await autumn.counts()).total == 2
    assert [c.key for c in await autumn.claim("w", "r", limit=5, lease=30)] == ["1", "2"]
    assert (await spring.counts()).states["pending"] == 3
    await autumn.drop()
    again = ledgers("autumn")
    with pytest.raises(LedgerError, match="no campaign 'autumn'"):
        await again.open(None)


async def test_open_none_creates_nothing(ledgers: Ledgers) -> None:
    with pytest.raises(LedgerError, match="no campaign ledger"):
        await ledgers().open(None)
    with psycopg.connect(ledgers.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM information_schema.schemata WHERE "
                            "schema_name = %s", (ledgers.schema,)).fetchone() == (0,)


async def test_workers_opening_at_once_migrate_once(ledgers: Ledgers) -> None:
    openers = [ledgers() for _ in range(6)]
    await asyncio.gather(*(ledger.open(IDENTITY) for ledger in openers))
    with psycopg.connect(ledgers.dsn) as conn:
        versions = conn.execute(f'SELECT version FROM "{ledgers.schema}".schema_version'
                                ).fetchall()
    assert versions == [(v,) for v in range(1, postgres.SCHEMA_VERSION + 1)]


async def test_migrates_an_older_schema(ledgers: Ledgers,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    first = ledgers()
    await first.open(IDENTITY)
    await first.load(rows(2))
    await first.close()
    later = [*postgres._MIGRATIONS,
             "ALTER TABLE {s}.campaign_rows ADD COLUMN note text"]
    monkeypatch.setattr(postgres, "_MIGRATIONS", later)
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", len(later))
    upgraded = ledgers()
    await upgraded.open(IDENTITY)
    assert (await upgraded.counts()).states["pending"] == 2
    with psycopg.connect(ledgers.dsn) as conn:
        assert conn.execute(f'SELECT max(version) FROM "{ledgers.schema}".schema_version'
                            ).fetchone() == (len(later),)
        conn.execute(f'SELECT note FROM "{ledgers.schema}".campaign_rows')


async def test_newer_or_foreign_schema_is_refused(ledgers: Ledgers) -> None:
    first = ledgers()
    await first.open(IDENTITY)
    await first.close()
    with psycopg.connect(ledgers.dsn, autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{ledgers.schema}".schema_version (version) VALUES (99)')
    with pytest.raises(LedgerCorruptError, match="99, newer"):
        await ledgers().open(IDENTITY)
    foreign = f"{ledgers.schema}_x"
    with psycopg.connect(ledgers.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{foreign}"')
        conn.execute(f'CREATE TABLE "{foreign}".customers (id int)')
    try:
        with pytest.raises(LedgerCorruptError, match="customers"):
            await PostgresLedger(ledgers.dsn, schema=foreign).open(IDENTITY)
    finally:
        with psycopg.connect(ledgers.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{foreign}" CASCADE')


async def test_sending_is_committed_synchronously(ledgers: Ledgers) -> None:
    # Even when the server or DSN makes commits asynchronous by default.
    dsn = ledgers.dsn + ("&" if "?" in ledgers.dsn else "?") + \
        "options=-csynchronous_commit%3Doff"
    ledger = PostgresLedger(dsn, schema=ledgers.schema)
    ledgers.made.append(ledger)
    await ledger.open(IDENTITY)
    async with ledger._connection() as conn:
        assert await (await conn.execute("SHOW synchronous_commit")).fetchone() == ("on",)


async def test_two_workers_load_the_same_input_at_once(ledgers: Ledgers) -> None:
    a, b = ledgers(), ledgers()
    await asyncio.gather(a.open(IDENTITY), b.open(IDENTITY))
    batch = rows(400)
    first, second = await asyncio.gather(a.load(batch, run="run-a"), b.load(batch, run="run-b"))
    assert {r.state for r in first} == {"pending"} == {r.state for r in second}
    counts = await a.counts()
    assert counts.total == 400
    got = await asyncio.gather(*(led.claim(f"w{i}", "r", limit=9, lease=30)
                                 for i, led in enumerate([a, b] * 30)))
    keys = [c.key for claims in got for c in claims]
    assert len(keys) == len(set(keys)) == 400


async def test_pacing_is_shared_by_every_worker(ledgers: Ledgers) -> None:
    workers = [ledgers() for _ in range(3)]
    for ledger in workers:
        await ledger.open(IDENTITY)
    account = f"acct-{uuid.uuid4().hex}"
    starts: list[tuple[float, float]] = []

    async def reserve(ledger: PostgresLedger) -> None:
        before = time.monotonic()
        wait = await ledger.reserve_start(account, count=5, period=0.4)
        starts.append((before + wait, time.monotonic() + wait))

    await asyncio.gather(*(reserve(workers[i % 3]) for i in range(24)))
    # Every start lies in [earliest, latest]; a window of `period` minus the widest
    # uncertainty holds at most `count` starts even in the worst placement.
    slack = max(late - early for early, late in starts)
    latest = sorted(late for _, late in starts)
    earliest = sorted(early for early, _ in starts)
    for i, start in enumerate(earliest):
        inside = sum(1 for t in latest[i:] if t < start + 0.4 - 2 * slack)
        assert inside <= 5


async def test_a_429_pauses_every_worker(ledgers: Ledgers) -> None:
    one, two = ledgers("one"), ledgers("two")  # even workers of another campaign
    await one.open(IDENTITY)
    await two.open(OTHER)
    account = f"acct-{uuid.uuid4().hex}"
    before = time.monotonic()
    await one.pause_starts(account, 3)
    wait = await two.reserve_start(account, count=100, period=1)
    assert time.monotonic() + wait - before >= 3
    other = await two.reserve_start(f"acct-{uuid.uuid4().hex}", count=100, period=1)
    assert other < 3  # another account is not paused


async def test_workers_loading_one_input_each_dial_their_rows(ledgers: Ledgers) -> None:
    # Two runs load the same input at once; each claims only rows of its input, and
    # every row is claimable by either (the one that loaded last may die).
    a, b = ledgers(), ledgers()
    await asyncio.gather(a.open(IDENTITY), b.open(IDENTITY))
    await asyncio.gather(a.load(rows(50), run="run-a"), b.load(rows(50), run="run-b"))
    got_a = await a.claim("wa", "run-a", limit=30, lease=30, loaded_by="run-a")
    got_b = await b.claim("wb", "run-b", limit=30, lease=30, loaded_by="run-b")
    assert len(got_a) == 30
    assert len(got_b) == 20
    assert not {c.key for c in got_a} & {c.key for c in got_b}


async def _terminate(dsn: str, ledger: Any) -> int:
    """pg_terminate_backend on every connection of ``ledger`` (and of nothing else)."""
    name = f"sinch_calling ledger {ledger._schema}/{ledger.campaign}"[:63]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        found = await (await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s", (name,))).fetchall()
    return len(found)


async def test_a_dropped_connection_is_retried_not_fatal(ledgers: Ledgers) -> None:
    """The reviewer's pg_terminate_backend: every statement after it still works (the
    pool checks connections; a statement that lost its connection runs again)."""
    ledger = ledgers(pool_size=2)
    await ledger.open(IDENTITY)
    await ledger.load(rows(3))
    (a, b) = await ledger.claim("w", "run", limit=2, lease=30)
    assert await _terminate(ledgers.dsn, ledger) >= 1
    await ledger.mark_sending(a)
    assert await _terminate(ledgers.dsn, ledger) >= 1
    await ledger.mark_placed(a, "call-a")
    assert await _terminate(ledgers.dsn, ledger) >= 1
    assert await ledger.renew("w", lease=30) == 1
    await ledger.release(b, "run")
    assert (await ledger.counts()).states["placed"] == 1
    assert [c.key for c in await ledger.claim("w", "run", limit=5, lease=30)] == ["2", "3"]


def _answers_lost(ledger: Any, lost: dict[str, int]) -> Any:
    """Make ``ledger``'s statements commit and then lose their answer, while
    ``lost["left"]`` counts down (as a connection dropped after the commit would)."""
    real = ledger._connection

    @postgres.asynccontextmanager
    async def flaky() -> Any:
        async with real() as conn:
            yield conn
        if lost["left"]:  # the statement committed; its answer "never arrived"
            lost["left"] -= 1
            raise postgres._LostConnection(psycopg.OperationalError("connection lost"))

    ledger._connection = flaky
    return real


async def test_a_transition_whose_answer_was_lost_is_recognised(ledgers: Ledgers) -> None:
    """A lost connection after the commit: run again, the transition is found done on
    the row (keyed by the claim's token), not reported as a lost lease."""
    ledger = ledgers()
    await ledger.open(IDENTITY)
    await ledger.load(rows(1))
    (a,) = await ledger.claim("w", "run", limit=1, lease=30)
    real = _answers_lost(ledger, {"left": 2})
    await ledger.mark_sending(a)
    await ledger.mark_placed(a, "call-a")
    ledger._connection = real
    got = await ledger.get("1")
    assert (got.status, got.call_id) == ("placed", "call-a")


async def test_a_batch_whose_answer_was_lost_is_recognised(ledgers: Ledgers) -> None:
    """The batch methods likewise: after a lost answer the statement runs again and the
    rows its first, committed, try changed are found done (each claim by its token)."""
    ledger = ledgers()
    await ledger.open(IDENTITY)
    await ledger.load(rows(4))
    claims = await ledger.claim("w", "run", limit=4, lease=30)
    lost = {"left": 1}  # each batch commits, and its answer is lost once
    real = _answers_lost(ledger, lost)
    assert await ledger.mark_sending_many(claims[:3]) == [True] * 3
    lost["left"] = 0  # without a lost answer, rows already sending are not held
    assert await ledger.mark_sending_many(claims) == [False] * 3 + [True]
    lost["left"] = 1
    assert await ledger.mark_results(
        [RowResult(claim, "placed", f"call-{claim.key}") for claim in claims]) == [True] * 4
    ledger._connection = real
    found = {o.row: o.call_id async for o in ledger.results()}
    assert found == {c.key: f"call-{c.key}" for c in claims}


async def test_a_sustained_outage_is_reported(ledgers: Ledgers) -> None:
    ledger = ledgers(outage=0.3, connect_timeout=1)
    await ledger.open(IDENTITY)

    @postgres.asynccontextmanager
    async def down() -> Any:
        raise postgres._LostConnection(psycopg.OperationalError("server closed"))
        yield  # pragma: no cover

    ledger._connection = down
    with pytest.raises(postgres.LedgerUnavailableError, match="unreachable for"):
        await ledger.counts()


async def test_rows_locked_by_a_load_are_still_claimable_work(ledgers: Ledgers) -> None:
    """The reviewer's loadlock: rows locked FOR UPDATE by another process's load are
    skipped by claim() but counted by claimable(), so a run waits instead of ending."""
    ledger = ledgers()
    await ledger.open(IDENTITY)
    await ledger.load(rows(2), run="load")
    async with await psycopg.AsyncConnection.connect(ledgers.dsn) as holder:
        await holder.execute(f'SELECT key FROM "{ledgers.schema}".campaign_rows FOR UPDATE')
        assert await ledger.claim("w", "run", limit=5, lease=30) == []
        assert await ledger.claimable("run") == 2
        assert await ledger.claimable("run", loaded_by="load") == 2
        assert await ledger.claimable("run", loaded_by="other") == 0
        await holder.rollback()
    assert len(await ledger.claim("w", "run", limit=5, lease=30)) == 2


async def test_a_run_waits_for_rows_another_load_holds(ledgers: Ledgers) -> None:
    """The reviewer's loadlock.py: a dialling run that meets another process's load
    (rows locked) waits for them instead of ending "done" with every row pending."""
    from sinch_calling import SinchCalling
    from sinch_calling.campaign import Campaign
    from sinch_calling.testing import Emulator

    dsn = f"{ledgers.dsn}?schema={ledgers.schema}&campaign=locked"
    numbers = [f"+4672{i:07d}" for i in range(3)]
    async with Emulator() as emu, SinchCalling(emu.application_key, emu.application_secret,
                                               base_url=emu.url) as sinch:
        def make() -> Any:
            return Campaign(sinch, Campaign.tts(text="hi", cli="+46000000000"),
                            ledger=dsn, lease=1)
        loader = make()
        loader.stop("load only")
        assert (await loader.run(numbers)).rows == 3
        async with await psycopg.AsyncConnection.connect(ledgers.dsn) as holder:
            await holder.execute(
                f'SELECT key FROM "{ledgers.schema}".campaign_rows FOR UPDATE')

            async def commit_later() -> None:
                await asyncio.sleep(0.8)
                await holder.commit()
            later = asyncio.create_task(commit_later())
            report = await make().run([])
            await later
    assert report.stopped is None
    assert report.placed == 3
    assert report.pending == 0


def test_an_ambiguous_userinfo_is_refused_without_echoing_it() -> None:
    """An unencoded '@' in the password: libpq would take part of it as the host."""
    with pytest.raises(ValidationError) as caught:
        PostgresLedger("postgresql://app:hunter@2@db.example/calls")
    assert caught.value.field == "dsn"
    assert "%40" in str(caught.value)
    assert "hunter" not in str(caught.value)
    ok = PostgresLedger("postgresql://app:hunter%402@db.example/calls?campaign=c")
    assert "hunter" not in ok.location
    assert "hunter" not in repr(ok)
    assert ok.location.startswith("postgresql://app@db.example/calls")
