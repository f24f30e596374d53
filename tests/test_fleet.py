"""Campaigns past one machine, for real: worker processes on one PostgreSQL ledger, the
emulator in its own process, one worker SIGKILLed mid-run. Nobody is dialled twice,
every row is accounted for, and no one-second window of the emulator's request times
holds more than ``rate`` callouts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from sinch_calling.campaign.pacing import most_in_window

from .services import (
    drop_schema,
    require_celery,
    require_postgres,
    require_rabbitmq,
    require_redis,
)
from .timed_emulator import TimedEmulator

ROOT = Path(__file__).resolve().parent.parent
ROWS = 5000
RATE = 200
LEASE = 3.0
CONCURRENCY = 16
# The jitter between a worker's reservation (on PostgreSQL's clock) and its request
# reaching the emulator is the margin's to absorb: here PostgreSQL, the emulator and both
# workers share 2 cores with the rest of the suite, so the margin is wider than the
# default 50 ms (tests/fleet_runner.py uses the same).
MARGIN = 0.25


def _dsn(base: str, schema: str, campaign: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode({'schema': schema, 'campaign': campaign})}"


@pytest.fixture
def fleet_env(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A schema on the real PostgreSQL, the emulator in a process, a numbers file."""
    base = require_postgres()
    schema = f"test_fleet_{uuid.uuid4().hex[:12]}"
    emulator = TimedEmulator().start()
    numbers = [f"+4670{i:07d}" for i in range(ROWS)]
    (tmp_path / "numbers.txt").write_text("\n".join(numbers) + "\n")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield {"dsn": _dsn(base, schema, "fleet"), "emulator": emulator, "numbers": numbers,
               "file": tmp_path / "numbers.txt", "procs": procs, "tmp": tmp_path}
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        emulator.stop()
        drop_schema(base, schema)


async def _counts(dsn: str) -> Any:
    from sinch_calling.campaign.postgres import PostgresLedger

    ledger = PostgresLedger(dsn)
    await ledger.open(None)
    try:
        return await ledger.counts()
    finally:
        await ledger.close()


async def _wait_for(dsn: str, done: Any, *, timeout: float) -> Any:
    """Poll the ledger until ``done(counts)``; fail after ``timeout`` seconds (a safety
    net against a hung test, not an assertion on speed)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            counts = await _counts(dsn)
        except Exception:  # the campaign is not in the ledger yet
            counts = None
        if counts is not None and done(counts):
            return counts
        assert time.monotonic() < deadline, f"campaign stuck: {counts}"
        await asyncio.sleep(0.25)


async def _rows_of(dsn: str) -> list[Any]:
    from sinch_calling.campaign.postgres import PostgresLedger

    ledger = PostgresLedger(dsn)
    await ledger.open(None)
    try:
        return [o async for o in ledger.results()]
    finally:
        await ledger.close()


def _check(journal: list[dict[str, Any]], outcomes: list[Any], numbers: list[str],
           in_flight_bound: int) -> None:
    dialled = Counter(entry["to"] for entry in journal)
    twice = {n: c for n, c in dialled.items() if c > 1}
    assert not twice, f"dialled more than once: {list(twice.items())[:5]}"
    assert len(outcomes) == len(numbers)
    by_state = Counter(o.status for o in outcomes)
    assert set(by_state) <= {"placed", "uncertain"}, by_state
    uncertain = [o for o in outcomes if o.status == "uncertain"]
    # Uncertain only for what the killed worker had in flight.
    assert len(uncertain) <= in_flight_bound, len(uncertain)
    assert all(o.error is not None and o.error.kind == "lease_expired" for o in uncertain)
    accepted = {entry["to"] for entry in journal if entry["status"] == 200}
    for outcome in outcomes:
        if outcome.status == "placed":
            assert outcome.destination in accepted
            assert outcome.call_id
    # No one-second window of server arrival times holds more than RATE starts.
    worst = most_in_window([entry["t"] for entry in journal])
    assert worst <= RATE, f"{worst} callouts in one second"
    print(f"\n{len(journal)} callouts, {by_state}, busiest second: {worst}")


def _spawn(env: dict[str, Any], name: str, environ: dict[str, str],
           command: list[str]) -> None:
    """Start a worker process; its stderr goes to ``<tmp>/<name>.log``."""
    with open(env["tmp"] / f"{name}.log", "wb") as log:
        env["procs"].append(subprocess.Popen(command, cwd=ROOT, env=environ,
                                             stdout=subprocess.DEVNULL, stderr=log))


async def _kill_mid_run(dsn: str, victim: subprocess.Popen[bytes]) -> None:
    await _wait_for(dsn, lambda c: c.states["placed"] >= ROWS // 4, timeout=180)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)


@pytest.fixture
async def celery_fleet(fleet_env: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    require_celery()
    fleet_env["broker"] = require_redis()
    fleet_env["queue"] = f"sinch-fleet-{uuid.uuid4().hex[:12]}"
    yield fleet_env
    import redis

    client = redis.Redis.from_url(fleet_env["broker"])
    try:
        keys = list(client.scan_iter(match=f"*{fleet_env['queue']}*"))
        if keys:
            client.delete(*keys)
        client.delete(fleet_env["queue"])
    finally:
        client.close()


async def test_celery_workers_one_killed(celery_fleet: dict[str, Any]) -> None:
    from sinch_calling import SinchCalling
    from sinch_calling.campaign.celery import CampaignSpec, CampaignWorkers

    from .fleet_celery_app import make_app

    env = celery_fleet
    emulator: TimedEmulator = env["emulator"]
    worker_env = {**os.environ, **emulator.env(), "FLEET_BROKER": env["broker"],
                  "FLEET_QUEUE": env["queue"], "FLEET_LEDGER": env["dsn"]}
    for name in ("one", "two"):
        _spawn(env, name, worker_env,
               [sys.executable, "-m", "celery", "-A", "tests.fleet_celery_app", "worker",
                "--pool=solo", "--concurrency=1", "--without-gossip", "--without-mingle",
                "--without-heartbeat", "--loglevel=WARNING", "-n", f"{name}@%h",
                "-Q", env["queue"]])
    app = make_app(env["broker"], env["queue"])
    fleet = CampaignWorkers(
        app, ledger=env["dsn"], queue=env["queue"],
        client=lambda account: SinchCalling(emulator.key, emulator.secret,
                                            base_url=emulator.url))
    spec = CampaignSpec.tts("fleet", text="Your code is 1234", cli="+46000000000",
                            rate=RATE, concurrency=CONCURRENCY, lease=LEASE,
                            pacing_margin=MARGIN)
    t0 = time.monotonic()
    report = await fleet.start(spec, env["numbers"], workers=2)
    assert report.rows == ROWS
    t1 = time.monotonic()
    await _kill_mid_run(env["dsn"], env["procs"][0])
    t2 = time.monotonic()
    final = None
    async for counts in fleet.watch(spec, interval=0.5):
        final = counts
    assert final is not None
    print(f"load {t1 - t0:.1f}s, kill at {t2 - t1:.1f}s, done at {time.monotonic() - t1:.1f}s")
    assert final.states["pending"] + final.states["claimed"] + final.states["sending"] == 0
    journal = await emulator.journal()
    _check(journal, await _rows_of(env["dsn"]), env["numbers"], CONCURRENCY)
    app.close()


async def test_plain_runners_one_killed(fleet_env: dict[str, Any]) -> None:
    env = fleet_env
    emulator: TimedEmulator = env["emulator"]
    runner_env = {**os.environ, **emulator.env()}
    command = [sys.executable, "-m", "tests.fleet_runner", str(env["file"]), env["dsn"],
               str(RATE), str(CONCURRENCY), str(LEASE)]
    for name in ("one", "two"):
        _spawn(env, name, runner_env, command)
    await _kill_mid_run(env["dsn"], env["procs"][0])
    survivor = env["procs"][1]
    for _ in range(600):
        if survivor.poll() is not None:
            break
        await asyncio.sleep(0.25)
    assert survivor.returncode == 0, (env["tmp"] / "two.log").read_text()[-2000:]
    journal = await emulator.journal()
    _check(journal, await _rows_of(env["dsn"]), env["numbers"], CONCURRENCY)


async def test_a_killed_workers_share_is_redelivered(fleet_env: dict[str, Any]) -> None:
    """acks_late + reject_on_worker_lost over RabbitMQ: the only worker dies mid-share;
    a worker started afterwards gets the same message again (no resume call) and
    finishes the campaign without dialling anyone twice."""
    require_celery()
    broker = require_rabbitmq()
    from sinch_calling import SinchCalling
    from sinch_calling.campaign.celery import CampaignSpec, CampaignWorkers

    from .fleet_celery_app import make_app

    env = fleet_env
    emulator: TimedEmulator = env["emulator"]
    queue = f"sinch-fleet-{uuid.uuid4().hex[:12]}"
    worker_env = {**os.environ, **emulator.env(), "FLEET_BROKER": broker,
                  "FLEET_QUEUE": queue, "FLEET_LEDGER": env["dsn"]}
    command = [sys.executable, "-m", "celery", "-A", "tests.fleet_celery_app", "worker",
               "--pool=solo", "--concurrency=1", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "--loglevel=WARNING", "-Q", queue]
    app = make_app(broker, queue)
    try:
        fleet = CampaignWorkers(
            app, ledger=env["dsn"], queue=queue,
            client=lambda account: SinchCalling(emulator.key, emulator.secret,
                                                base_url=emulator.url))
        rows = env["numbers"][:400]
        spec = CampaignSpec.tts("fleet", text="Your code is 1234", cli="+46000000000",
                                rate=100, concurrency=8, lease=LEASE)
        await fleet.start(spec, rows, workers=1)
        _spawn(env, "first", worker_env, [*command, "-n", "first@%h"])
        await _wait_for(env["dsn"], lambda c: c.states["placed"] >= 50, timeout=120)
        env["procs"][0].send_signal(signal.SIGKILL)
        env["procs"][0].wait(timeout=30)
        placed_at_kill = (await _counts(env["dsn"])).states["placed"]
        assert placed_at_kill < len(rows)
        _spawn(env, "second", worker_env, [*command, "-n", "second@%h"])
        final = await _wait_for(env["dsn"], lambda c: c.states["pending"] + c.states["claimed"]
                                + c.states["sending"] == 0, timeout=180)
        assert final.states["placed"] + final.states["uncertain"] == len(rows)
        journal = await emulator.journal()
        dialled = Counter(entry["to"] for entry in journal)
        assert max(dialled.values()) == 1
        assert len(dialled) >= final.states["placed"]
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)
        app.close()


def test_a_share_that_lost_its_database_is_retried_not_acked() -> None:
    from celery import Celery

    from sinch_calling.campaign.celery import RETRIES, CampaignWorkers
    from sinch_calling.errors import LedgerUnavailableError

    app = Celery("sinch-test-retry", broker="memory://", backend="cache+memory://")
    workers = CampaignWorkers(app, ledger="postgresql://127.0.0.1/test")
    assert workers.task.autoretry_for == (LedgerUnavailableError,)
    assert workers.task.max_retries == RETRIES
    assert workers.task.acks_late
