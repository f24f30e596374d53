"""The embedded ledger: one SQLite file (or memory), stdlib ``sqlite3`` on its own thread.

Every operation is a small function run by one thread that owns the connection; the
event loop only queues it and awaits a future, so no disk I/O happens on the loop.
Operations queued while a commit is in progress are applied together in the next
transaction (group commit). A transaction that marks rows ``sending`` (or releases
one, settles one, or records the campaign's identity) is fsynced before anyone
waiting for it resumes (WAL, ``synchronous=FULL``): ``sending`` is durable before
:meth:`SQLiteLedger.mark_sending_many` returns. The others (loads, claims, answers,
leases) are written to the WAL without waiting for the disk (``synchronous=NORMAL``):
they survive a crash of the process at once, and a crash of the machine from the next
fsync on (the WAL is one file, written in order: that fsync covers them). What a
machine crash can lose is never relied on (see rule 2 of
:mod:`~sinch_calling.campaign.ledger`): an answer lost that way leaves its row
``sending``, which the next run turns ``uncertain``.

One run holds a file ledger at a time (an advisory lock on ``<file>.lock`` next to the
file's real path, symlinks resolved, however the path is spelled), so at the
start of a run every lease left by a crashed run is expired at once: its claimed rows
return to pending, its ``sending`` rows become uncertain. Reading the ledger (status,
results) and settling rows work while a run holds it. Pacing and 429 pauses are shared
in-process by every campaign on the same account.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from ..errors import ValidationError
from .ledger import (
    LedgerBusyError,
    LedgerCorruptError,
    LedgerError,
    LedgerMismatchError,
    LedgerNotFoundError,
    OneRowTransitions,
    RowStateError,
    UnknownRowError,
    answered,
    checked_call_id,
    checked_key,
    identity_differences,
    release_rewritten,
)
from .pacing import SlidingWindow
from .records import (
    ROW_STATES,
    CallError,
    CallOutcome,
    CampaignIdentity,
    Claim,
    FinalOutcome,
    LedgerCounts,
    LoadedRow,
    NewRow,
    RowResult,
    RowState,
    make_claim,
    make_loaded_row,
)

__all__ = ["MIN_SQLITE", "SQLiteLedger", "identity_differences"]

SCHEMA_VERSION = 2
MIN_SQLITE = (3, 35, 0)
"""The oldest SQLite library the ledger runs on (``UPDATE ... RETURNING``, 2021-03)."""
# Operations queued within this many seconds go to the thread together: one wake-up,
# one transaction, one fsync for many calls (a campaign is paced in calls per second,
# so a millisecond or two of latency costs nothing; the CPU saved is measured).
_GATHER = 0.002
_SQLITE_HEADER = b"SQLite format 3\x00"
_T = TypeVar("_T")
_Op = Callable[[sqlite3.Connection], Any]
# op, writes, atomic, must reach the disk before it returns, future
_Queued = tuple[_Op, bool, bool, bool, "asyncio.Future[Any]"]

# Neither index names the state, so moving a row from claimed to sending to placed
# rewrites neither (SQLite rewrites a partial index on the state at every change). A
# lease is set exactly while the row is claimed or sending.
_INDEXES = {
    "rows_lease": "(lease_until) WHERE lease_until IS NOT NULL",
    "rows_destination": "(destination)",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    line INTEGER,
    destination TEXT,
    data TEXT,
    state TEXT NOT NULL,
    worker TEXT,
    claim_token TEXT,
    lease_until REAL,
    expired INTEGER NOT NULL DEFAULT 0,
    call_id TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    attempt_run TEXT,
    deferred INTEGER NOT NULL DEFAULT 0,
    load_run TEXT,
    result TEXT,
    reason TEXT,
    duration REAL,
    debit REAL,
    currency TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rows_order ON rows (position, key);
CREATE INDEX IF NOT EXISTS rows_pending ON rows (position) WHERE state = 'pending';
""" + "".join(f"CREATE INDEX IF NOT EXISTS {name} ON rows {how};\n"
               for name, how in _INDEXES.items())
# Made by earlier versions of this module; replaced by _INDEXES when a ledger is opened.
_OLD_INDEXES = ("rows_leased", "rows_owner")
# One statement for a batch of keys, without RETURNING (each returned row costs more
# than the update); the count of changed rows tells whether every claim held its row.
_SENDING = ("UPDATE rows SET state = 'sending', updated_at = ? WHERE state = 'claimed' "
            "AND worker = ? AND claim_token = ? AND key IN ({keys})")
_KEYS_AT_ONCE = 512  # under SQLite's smallest limit on parameters (999)
_SENDING_ONE = ("UPDATE rows SET state = 'sending', updated_at = ? WHERE key = ? AND "
                "state = 'claimed' AND worker = ? AND claim_token = ?")
# Answers of one claim batch in one statement (one step, so one release of the GIL,
# where ``executemany`` steps, and releases it, once per row): the VALUES rows are
# (key, state, call_id, error).
_ANSWERS = ("UPDATE rows SET state = v.column2, call_id = v.column3, error = v.column4, "
            "lease_until = NULL, expired = 0, updated_at = ? FROM (VALUES {values}) AS v "
            "WHERE rows.key = v.column1 AND rows.worker = ? AND rows.claim_token = ? AND "
            "(rows.state = 'sending' OR (rows.state = 'uncertain' AND rows.expired = 1))")
# Loaded rows, many per statement (one step: see _ANSWERS); the keys of one load are
# distinct (duplicates are caught before), so a conflict is only with an earlier load.
_UPSERT = ("INSERT INTO rows (key, position, line, destination, data, state, error, "
           "load_run, updated_at) VALUES {values} "
           "ON CONFLICT (key) DO UPDATE SET position = excluded.position, "
           "line = excluded.line, destination = excluded.destination, "
           "data = excluded.data, state = excluded.state, error = excluded.error, "
           "load_run = excluded.load_run, updated_at = excluded.updated_at, "
           "worker = NULL, lease_until = NULL, expired = 0, call_id = NULL, "
           "attempts = 0, attempt_run = NULL, deferred = 0")
_UPSERTS_AT_ONCE = 100  # 9 parameters each: under SQLite's smallest limit (999)
_ANSWERS_AT_ONCE = 128  # 4 parameters each: under SQLite's smallest limit (999)
_FEW_ANSWERS = 4  # fewer answers of one claim batch than this: one statement each
_ANSWER = ("UPDATE rows SET state = ?, call_id = ?, error = ?, lease_until = NULL, "
           "expired = 0, updated_at = ? WHERE key = ? AND worker = ? AND claim_token = ? "
           "AND (state = 'sending' OR (state = 'uncertain' AND expired = 1))")
# Only a tracked campaign needs these: made on first use, so an untracked campaign does
# not pay for them on every placed call.
_TRACKING_INDEXES = (
    "CREATE INDEX IF NOT EXISTS rows_call ON rows (call_id) WHERE call_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS rows_untracked ON rows (position, key) "
    "WHERE state = 'placed' AND result IS NULL",
)

# Pacing is shared by every campaign of this process on one account.
_WINDOWS: dict[str, SlidingWindow] = {}

_COLUMNS = ("key, position, line, destination, state, call_id, error, result, reason, "
            "duration, debit, currency, updated_at")


def _error_json(error: CallError | None) -> str | None:
    if error is None:
        return None
    return json.dumps({"kind": error.kind, "message": error.message, "status": error.status,
                       "code": error.code}, separators=(",", ":"))


def _error(text: str | None) -> CallError | None:
    if text is None:
        return None
    data = json.loads(text)
    return CallError(kind=data["kind"], message=data["message"], status=data.get("status"),
                     code=data.get("code"))


def _outcome(row: sqlite3.Row | tuple[Any, ...]) -> CallOutcome:
    (key, position, line, destination, state, call_id, error, result, reason, duration,
     debit, currency, updated_at) = row
    final = None
    if result is not None:
        final = FinalOutcome(result=result, reason=reason, duration=duration, debit=debit,
                             currency=currency)
    return CallOutcome(row=key, position=position, line=line, destination=destination,
                       status=state, call_id=call_id, error=_error(error), outcome=final,
                       updated_at=datetime.fromtimestamp(updated_at, UTC))


class _Thread(threading.Thread):
    """Owns the connection; runs queued operations in group-committed transactions."""

    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 loop: asyncio.AbstractEventLoop, location: str, *, fsyncs: bool) -> None:
        super().__init__(name=f"sinch-ledger {location}", daemon=True)
        self._connect = connect
        self._loop = loop
        self._fsyncs = fsyncs  # a durable file: only transactions that need it fsync
        self._synchronous: str | None = None
        self.ops: queue.SimpleQueue[list[_Queued] | None] = queue.SimpleQueue()
        self.connection: sqlite3.Connection | None = None

    def run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                first = self.ops.get()
                if first is None:
                    return
                batch = list(first)
                stop = False
                while len(batch) < 1024:
                    try:
                        more = self.ops.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop = True
                        break
                    batch.extend(more)
                if conn is None:
                    try:
                        conn = self._connect()
                    except BaseException as exc:
                        self._deliver([(queued[-1], None, exc) for queued in batch])
                        batch = []
                if batch:
                    assert conn is not None
                    self._deliver(self._apply(conn, batch))
                if stop:
                    return
        finally:
            if conn is not None:
                conn.close()

    def _apply(self, conn: sqlite3.Connection, batch: list[_Queued]
               ) -> list[tuple[asyncio.Future[Any], Any, BaseException | None]]:
        done: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        writes = any(queued[1] for queued in batch)
        try:
            if writes and self._fsyncs:
                synchronous = "FULL" if any(queued[3] for queued in batch) else "NORMAL"
                if synchronous != self._synchronous:
                    conn.execute(f"PRAGMA synchronous={synchronous}")
                    self._synchronous = synchronous
            conn.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
        except BaseException as exc:
            return [(queued[-1], None, exc) for queued in batch]
        for op, _, atomic, _, fut in batch:
            # Single-statement operations are atomic by themselves, and raise before
            # writing; only multi-statement ones need a savepoint to fail alone.
            try:
                if atomic:
                    conn.execute("SAVEPOINT op")
                result = op(conn)
                if atomic:
                    conn.execute("RELEASE op")
                done.append((fut, result, None))
            except BaseException as exc:
                if atomic:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                done.append((fut, None, exc))
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return [(fut, None, exc) for fut, _, _ in done]
        return done

    def _deliver(self, done: list[tuple[asyncio.Future[Any], Any, BaseException | None]]
                 ) -> None:
        def settle() -> None:
            for fut, result, exc in done:
                if fut.done():
                    continue
                if exc is None:
                    fut.set_result(result)
                else:
                    fut.set_exception(exc)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(settle)


class SQLiteLedger(OneRowTransitions):
    """A :class:`~sinch_calling.campaign.ledger.Ledger` in one SQLite file.

    ``path``: the file (created on first open; its directory must exist), or ``None``
    for a ledger in memory that lives as long as this object (a campaign without a
    ledger file: duplicates are still skipped within the run, nothing survives it).
    ``durable=False`` never fsyncs (``synchronous=OFF``): a crash of the process
    loses nothing, a crash of the machine may lose anything, ``sending`` included; for
    scratch ledgers only (a dry run uses one). Needs SQLite :data:`MIN_SQLITE` or newer
    (``sqlite3.sqlite_version``): :meth:`open` raises :class:`LedgerError` otherwise.
    A damaged file is :class:`LedgerCorruptError`; a value SQLite refuses (a constraint)
    or an operational failure (disk full, locked) is :class:`LedgerError`.
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, durable: bool = True) -> None:
        self._path = None if path is None else Path(path)
        self._durable = durable
        self._thread: _Thread | None = None
        self._lock: IO[bytes] | None = None
        self._outbox: list[_Queued] = []
        self._tracking = False
        self._looking = False  # opened without an identity: a look, not a run

    @property
    def location(self) -> str:
        """The file path, or ``":memory:"``."""
        return ":memory:" if self._path is None else str(self._path)

    # -- plumbing -----------------------------------------------------------------------

    def _check_file(self) -> None:
        """A look (``open(None)``) opens only a file that can be a ledger: none, or an
        empty one, is no ledger; another file is not one (and is left untouched)."""
        assert self._path is not None
        try:
            with self._path.open("rb") as stream:
                header = stream.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            raise LedgerNotFoundError(f"no campaign ledger at {self._path}") from None
        except OSError as exc:
            raise LedgerError(f"cannot open ledger {self.location}: {exc}") from exc
        if not header:
            raise LedgerNotFoundError(f"no campaign ledger at {self._path} (an empty file)")
        if header != _SQLITE_HEADER:
            raise LedgerCorruptError(f"{self.location} is not a campaign ledger (not an "
                                     "SQLite file)")

    def _connect(self) -> sqlite3.Connection:
        target = ":memory:" if self._path is None else str(self._path)
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False,
                               timeout=30.0)
        try:
            if self._path is not None and not self._looking:
                # A ledger is in WAL mode from its first run on (the mode is kept in the
                # file): a look leaves any other SQLite file's mode as it is.
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL" if self._durable
                             else "PRAGMA synchronous=OFF")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _corrupted(exc):
                raise self._corrupt(exc) from exc
            raise LedgerError(f"cannot open ledger {self.location}: {exc}") from exc
        return conn

    def _corrupt(self, exc: BaseException) -> LedgerCorruptError:
        return LedgerCorruptError(
            f"{self.location} is not a usable campaign ledger (an SQLite file): {exc}")

    async def _run(self, op: Callable[[sqlite3.Connection], _T], *, write: bool = True,
                   atomic: bool = False, sync: bool = False) -> _T:
        """Queue ``op`` for the ledger thread and await its result. Operations queued
        in one turn of the event loop go to the thread together (one wake-up, one
        transaction). ``sync``: the transaction is fsynced before ``op``'s result is
        delivered (a durable file)."""
        thread = self._thread
        if thread is None:
            raise LedgerError(f"ledger {self.location} is not open")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_T] = loop.create_future()
        self._outbox.append((op, write, atomic, sync, fut))
        if len(self._outbox) == 1:
            loop.call_later(_GATHER, self._flush)
        try:
            return await fut
        except sqlite3.DatabaseError as exc:
            if _corrupted(exc):
                raise self._corrupt(exc) from exc
            # A value SQLite refused (a constraint, a type it cannot bind) or an
            # operational error (locked, disk full): the ledger itself is fine.
            raise LedgerError(f"ledger {self.location}: {exc}") from exc

    def _flush(self) -> None:
        outbox, self._outbox = self._outbox, []
        if not outbox:
            return
        if self._thread is not None:
            self._thread.ops.put(outbox)
        else:
            for *_, fut in outbox:
                if not fut.done():
                    fut.set_exception(LedgerError(f"ledger {self.location} is closed"))

    # -- identity and lifecycle ---------------------------------------------------------

    async def open(self, identity: CampaignIdentity | None, *, force: bool = False) -> None:
        """See :meth:`Ledger.open`. A run (``identity`` given) on a file takes the
        file's run lock (:class:`LedgerBusyError` if another run holds it) and expires
        every lease a crashed run left."""
        if self._thread is not None:
            raise LedgerError(f"ledger {self.location} is already open")
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise LedgerError(
                f"the SQLite ledger needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer "
                f"(claims use UPDATE ... RETURNING); this Python's sqlite3 module uses "
                f"{sqlite3.sqlite_version}: use a Python built with a newer SQLite, or the "
                "PostgreSQL ledger")
        self._looking = identity is None
        if self._path is not None:
            if identity is None:
                await asyncio.to_thread(self._check_file)
            else:
                self._lock = await asyncio.to_thread(self._take_lock)
        self._tracking = False
        self._thread = _Thread(self._connect, asyncio.get_running_loop(), self.location,
                               fsyncs=self._durable and self._path is not None)
        self._thread.start()
        try:
            await self._run(lambda conn: self._prepare(conn, identity, force), atomic=True,
                            sync=True)
            if identity is not None:
                await self.expire_leases(everyone=True)
        except BaseException:
            await self.close()
            raise

    def _take_lock(self) -> IO[bytes]:
        assert self._path is not None
        if not self._path.parent.is_dir():
            raise LedgerError(f"cannot create ledger {self._path}: no such directory "
                              f"{self._path.parent}")
        # The lock belongs to the file, not to the spelling of its path: a symlink, a
        # relative path or "a/../a.db" must find the same lock.
        lock = f"{os.path.realpath(self._path)}.lock"
        handle = open(lock, "ab")  # noqa: SIM115 - held until close()
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no run lock
            return handle
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise LedgerBusyError(
                f"ledger {self._path} is in use by another run (lock {lock}); "
                "wait for it to finish or stop it") from None
        return handle

    def _prepare(self, conn: sqlite3.Connection, identity: CampaignIdentity | None,
                 force: bool) -> None:
        tables = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise LedgerCorruptError(f"{self.location} is an SQLite file but not a campaign "
                                     f"ledger (tables: {', '.join(sorted(tables))})")
        if not tables and identity is None:
            raise LedgerNotFoundError(f"no campaign ledger at {self.location}")
        if "meta" in tables:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            version = meta.get("schema_version")
            if version == "1" and "rows" in tables:  # 1 -> 2: per-claim tokens
                conn.execute("ALTER TABLE rows ADD COLUMN claim_token TEXT")
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(SCHEMA_VERSION),))
                version = str(SCHEMA_VERSION)
            if version != str(SCHEMA_VERSION) or "rows" not in tables:
                raise LedgerCorruptError(
                    f"{self.location}: ledger schema version {version!r} is not "
                    f"{SCHEMA_VERSION} (made by another version of sinch_calling?)")
            if identity is not None:
                self._upgrade_indexes(conn)
        else:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?), ('created_at', ?)",
                         (str(SCHEMA_VERSION), str(time.time())))
            meta = {}
        if identity is None:
            return
        stored = meta.get("fingerprint")
        if stored is not None and stored != identity.fingerprint and not force:
            options = json.loads(meta.get("options", "{}"))
            raise LedgerMismatchError(self.location,
                                      identity_differences(options, identity.options))
        if stored != identity.fingerprint:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?), "
                         "('options', ?)", (identity.fingerprint,
                                            json.dumps(identity.options, sort_keys=True)))

    @staticmethod
    def _upgrade_indexes(conn: sqlite3.Connection) -> None:
        """A file made by an earlier version: its indexes on the state become
        :data:`_INDEXES` (the same schema version: any version reads either)."""
        names = {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'")}
        if names.isdisjoint(_OLD_INDEXES) and names.issuperset(_INDEXES):
            return
        for name in _OLD_INDEXES:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        for name, how in _INDEXES.items():
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON rows {how}")

    async def identity(self) -> CampaignIdentity | None:
        """See :meth:`Ledger.identity`."""
        def op(conn: sqlite3.Connection) -> CampaignIdentity | None:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if "fingerprint" not in meta:
                return None
            return CampaignIdentity(fingerprint=meta["fingerprint"],
                                    options=json.loads(meta.get("options", "{}")))
        return await self._run(op, write=False)

    async def close(self) -> None:
        """See :meth:`Ledger.close`."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._flush()
            thread.ops.put(None)
            await asyncio.to_thread(thread.join)
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.close()  # releases the flock

    # -- loading ------------------------------------------------------------------------

    async def load(self, rows: Sequence[NewRow], *, retry_failed: bool = False,
                   run: str | None = None) -> Sequence[LoadedRow]:
        """See :meth:`Ledger.load`."""
        batch = list(rows)
        return await self._run(lambda conn: self._load(conn, batch, retry_failed, run),
                               atomic=True)

    @staticmethod
    def _load(conn: sqlite3.Connection, rows: list[NewRow], retry_failed: bool,
              run: str | None) -> list[LoadedRow]:
        now = time.time()
        existing: dict[str, tuple[RowState, str | None, str | None]] = {
            key: (state, destination, load_run)
            for keys in _chunks([r.key for r in rows], _KEYS_AT_ONCE)
            for key, state, destination, load_run in conn.execute(
                "SELECT key, state, destination, load_run FROM rows WHERE key IN "
                f"({', '.join('?' * len(keys))})", keys)}
        owners: dict[str, set[str]] = {}
        wanted = list({r.destination for r in rows if r.state == "pending"})
        for destinations in _chunks(wanted, _KEYS_AT_ONCE):
            for destination, key in conn.execute(
                    "SELECT destination, key FROM rows WHERE destination IN "
                    f"({', '.join('?' * len(destinations))}) AND state NOT IN "
                    "('invalid', 'skipped')", destinations):
                owners.setdefault(destination, set()).add(key)
        release_rewritten(rows, {key: (state, destination, load_run == run)
                                 for key, (state, destination, load_run) in existing.items()},
                          owners, retry_failed=retry_failed, run=run)
        out: list[LoadedRow] = []
        upserts: list[tuple[Any, ...]] = []
        keeps: list[tuple[Any, ...]] = []
        seen: set[str] = set()
        for row in rows:
            current = existing.get(row.key)
            if row.key in seen or (current is not None and run is not None
                                   and current[2] == run):
                state_now = current[0] if current is not None else "pending"
                out.append(LoadedRow(key=row.key, position=row.position, state=state_now,
                                     previous=state_now, error=CallError(
                                         kind="duplicate_id",
                                         message=f"row id {row.key!r} repeats an earlier "
                                                 "row of this input")))
                continue
            seen.add(row.key)
            replace = current is None or current[0] in ("pending", "invalid", "skipped") \
                or (retry_failed and current[0] == "failed")
            if not replace:
                assert current is not None
                keeps.append((row.position, row.line, run, row.key))
                note = None
                if row.destination != current[1]:
                    note = CallError(kind="changed", message=(
                        f"the input now gives {row.destination or 'no number'}, but this row "
                        f"is already {current[0]} to {current[1]}; the ledger is kept"))
                out.append(LoadedRow(key=row.key, position=row.position, state=current[0],
                                     previous=current[0], error=note))
                continue
            state: RowState = row.state
            error = row.error
            if state == "pending":
                assert row.destination is not None
                holders = owners.get(row.destination)
                others = sorted(holders - {row.key}) if holders else None
                if others:
                    state = "skipped"
                    error = CallError(kind="duplicate",
                                      message=f"same number as row {others[0]}")
                elif holders is None:
                    owners[row.destination] = {row.key}
                else:
                    holders.add(row.key)
            data = None if row.data is None else json.dumps(dict(row.data),
                                                            separators=(",", ":"))
            upserts.append((row.key, row.position, row.line, row.destination, data, state,
                            _error_json(error), run, now))
            out.append(make_loaded_row(row.key, row.position, state,
                                       None if current is None else current[0], error))
        if keeps:
            conn.executemany("UPDATE rows SET position = ?, line = ?, load_run = ? "
                             "WHERE key = ?", keeps)
        for chunk in _chunks(upserts, _UPSERTS_AT_ONCE):
            params: list[Any] = []
            for upsert in chunk:
                params.extend(upsert)
            conn.execute(_UPSERT.format(values=", ".join(
                ("(?, ?, ?, ?, ?, ?, ?, ?, ?)",) * len(chunk))), params)
        return out

    # -- claiming and recording -----------------------------------------------------------

    async def claim(self, worker: str, run: str, *, limit: int, lease: float,
                    loaded_by: str | None = None) -> Sequence[Claim]:
        """See :meth:`Ledger.claim`."""
        token = secrets.token_hex(8)

        def op(conn: sqlite3.Connection) -> list[Claim]:
            now = time.time()
            if conn.execute("SELECT 1 FROM rows WHERE state IN ('claimed', 'sending') AND "
                            "lease_until < ? LIMIT 1", (now,)).fetchone() is not None:
                self._expire(conn, now, everyone=False)
            found = sorted(conn.execute(
                "UPDATE rows SET state = 'claimed', worker = ?, claim_token = ?, "
                "lease_until = ?, expired = 0, updated_at = ? WHERE rowid IN "
                "(SELECT rowid FROM rows WHERE state = 'pending' "
                "AND NOT (deferred = 1 AND attempt_run IS ?) AND (? IS NULL OR load_run = ?) "
                "ORDER BY position LIMIT ?) "
                "RETURNING position, key, line, destination, data, attempts, attempt_run",
                (worker, token, now + lease, now, run, loaded_by, loaded_by, limit)).fetchall())
            return [make_claim(key, position, destination, worker,
                               None if data is None else json.loads(data), line,
                               attempts if attempt_run == run else 0, token)
                    for position, key, line, destination, data, attempts, attempt_run
                    in found]
        return await self._run(op, atomic=True)

    async def claimable(self, run: str, *, loaded_by: str | None = None) -> int:
        """See :meth:`Ledger.claimable`."""
        def op(conn: sqlite3.Connection) -> int:
            found = conn.execute(
                "SELECT count(*) FROM rows WHERE state = 'pending' AND NOT (deferred = 1 "
                "AND attempt_run IS ?) AND (? IS NULL OR load_run = ?)",
                (run, loaded_by, loaded_by)).fetchone()
            return int(found[0])
        return await self._run(op, write=False)

    async def renew(self, worker: str, *, lease: float) -> int:
        """See :meth:`Ledger.renew`."""
        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE rows SET lease_until = ? WHERE worker = ? AND state IN "
                "('claimed', 'sending') AND lease_until IS NOT NULL",
                (time.time() + lease, worker)).rowcount
        return await self._run(op)

    async def mark_sending_many(self, claims: Sequence[Claim]) -> list[bool]:
        """See :meth:`Ledger.mark_sending_many`: one statement per claim batch (claims
        of one :meth:`claim` call share a token), one fsynced transaction."""
        batch = list(claims)
        if not batch:
            return []

        def op(conn: sqlite3.Connection) -> list[bool]:
            now = time.time()
            groups: dict[tuple[str, str], list[str]] = {}
            for claim in batch:
                groups.setdefault((claim.worker, claim.token), []).append(claim.key)
            conn.execute("SAVEPOINT sending")
            if all(_sending(conn, now, worker, token, chunk)
                   for (worker, token), keys in groups.items()
                   for chunk in _chunks(keys, _KEYS_AT_ONCE)):
                conn.execute("RELEASE sending")
                return [True] * len(batch)
            # Some claim lost its row (or a claim came twice): each is tried alone.
            conn.execute("ROLLBACK TO sending")
            conn.execute("RELEASE sending")
            return [conn.execute(_SENDING_ONE, (now, claim.key, claim.worker, claim.token)
                                 ).rowcount == 1 for claim in batch]
        return await self._run(op, atomic=True, sync=True)

    async def mark_results(self, results: Sequence[RowResult]) -> list[bool]:
        """See :meth:`Ledger.mark_results` (not fsynced: see the module docs)."""
        batch = answered(results)
        if not batch:
            return []

        def op(conn: sqlite3.Connection) -> list[bool]:
            now = time.time()
            groups: dict[tuple[str, str], list[tuple[str, str, str | None, str | None]]] = {}
            for r in batch:
                claim = r.claim
                groups.setdefault((claim.worker, claim.token), []).append(
                    (claim.key, r.state, r.call_id,
                     None if r.error is None else _error_json(r.error)))
            # Keys are unique: every answer changed its row, or some claim lost its row
            # (or a row was answered twice) and each is tried alone. Claims of a few
            # rows (a small concurrency) go one statement per row, which is cheaper
            # there than a VALUES list.
            few = [(state, call_id, error, now, key, worker, token)
                   for (worker, token), rows in groups.items() if len(rows) < _FEW_ANSWERS
                   for key, state, call_id, error in rows]
            conn.execute("SAVEPOINT answers")
            if (not few or conn.executemany(_ANSWER, few).rowcount == len(few)) and all(
                    _answers(conn, now, worker, token, chunk)
                    for (worker, token), rows in groups.items() if len(rows) >= _FEW_ANSWERS
                    for chunk in _chunks(rows, _ANSWERS_AT_ONCE)):
                conn.execute("RELEASE answers")
                return [True] * len(batch)
            conn.execute("ROLLBACK TO answers")
            conn.execute("RELEASE answers")
            return [conn.execute(_ANSWER, (r.state, r.call_id, _error_json(r.error), now,
                                           r.claim.key, r.claim.worker, r.claim.token)
                                 ).rowcount == 1 for r in batch]
        return await self._run(op, atomic=True)

    async def release(self, claim: Claim, run: str, *, error: CallError | None = None,
                      count_attempt: bool = False, defer: bool = False) -> None:
        """See :meth:`Ledger.release`."""
        def op(conn: sqlite3.Connection) -> None:
            current = conn.execute(
                "SELECT attempts, attempt_run FROM rows WHERE key = ? AND worker = ? AND "
                "claim_token = ? AND (state IN ('claimed', 'sending') OR "
                "(state = 'uncertain' AND expired = 1))",
                (claim.key, claim.worker, claim.token)).fetchone()
            if current is None:
                return
            attempts = current[0] if current[1] == run else 0
            conn.execute(
                "UPDATE rows SET state = 'pending', worker = NULL, claim_token = NULL, "
                "lease_until = NULL, expired = 0, error = ?, attempts = ?, attempt_run = ?, "
                "deferred = ?, updated_at = ? WHERE key = ?",
                (_error_json(error), attempts + int(count_attempt), run, int(defer),
                 time.time(), claim.key))
        await self._run(op, sync=True)

    async def expire_leases(self, *, everyone: bool = False) -> tuple[int, int]:
        """See :meth:`Ledger.expire_leases`."""
        return await self._run(lambda conn: self._expire(conn, time.time(), everyone),
                               atomic=True)

    @staticmethod
    def _expire(conn: sqlite3.Connection, now: float, everyone: bool) -> tuple[int, int]:
        limit = math.inf if everyone else now
        to_pending = conn.execute(
            "UPDATE rows SET state = 'pending', worker = NULL, claim_token = NULL, "
            "lease_until = NULL, updated_at = ? WHERE state = 'claimed' AND lease_until < ?",
            (now, limit)).rowcount
        to_uncertain = conn.execute(
            "UPDATE rows SET state = 'uncertain', expired = 1, lease_until = NULL, "
            "error = ?, updated_at = ? WHERE state = 'sending' AND lease_until < ?",
            (_error_json(CallError(kind="lease_expired", message=(
                "the run placing this call stopped before Sinch's answer was recorded; "
                "Sinch may have placed it"))), now, limit)).rowcount
        return to_pending, to_uncertain

    # -- settling and tracking ------------------------------------------------------------

    async def settle(self, key: str, *, call_id: str | None) -> CallOutcome:
        """See :meth:`Ledger.settle`."""
        key, call_id = checked_key(key), checked_call_id(call_id)

        def op(conn: sqlite3.Connection) -> CallOutcome:
            current = conn.execute("SELECT state FROM rows WHERE key = ?", (key,)).fetchone()
            if current is None:
                raise UnknownRowError(f"no row {key!r} in ledger {self.location}")
            if current[0] != "uncertain":
                raise RowStateError(f"row {key} is {current[0]}, not uncertain; only "
                                    "uncertain rows are settled")
            now = time.time()
            if call_id is not None:
                conn.execute("UPDATE rows SET state = 'placed', call_id = ?, error = NULL, "
                             "expired = 0, worker = NULL, updated_at = ? WHERE key = ?",
                             (call_id, now, key))
            else:
                conn.execute("UPDATE rows SET state = 'pending', call_id = NULL, error = NULL, "
                             "expired = 0, worker = NULL, attempts = 0, deferred = 0, "
                             "updated_at = ? WHERE key = ?", (now, key))
            return _outcome(conn.execute(f"SELECT {_COLUMNS} FROM rows WHERE key = ?",
                                         (key,)).fetchone())
        return await self._run(op, atomic=True, sync=True)

    def _tracking_indexes(self, conn: sqlite3.Connection) -> None:
        if not self._tracking:
            for statement in _TRACKING_INDEXES:
                conn.execute(statement)
            self._tracking = True

    async def record_outcome(self, call_id: str, outcome: FinalOutcome) -> str | None:
        """See :meth:`Ledger.record_outcome`."""
        def op(conn: sqlite3.Connection) -> str | None:
            self._tracking_indexes(conn)
            found = conn.execute("SELECT key FROM rows WHERE call_id = ? AND state = 'placed' "
                                 "ORDER BY position LIMIT 1", (call_id,)).fetchone()
            if found is None:
                return None
            conn.execute("UPDATE rows SET result = ?, reason = ?, duration = ?, debit = ?, "
                         "currency = ?, updated_at = ? WHERE key = ?",
                         (outcome.result, outcome.reason, outcome.duration, outcome.debit,
                          outcome.currency, time.time(), found[0]))
            return str(found[0])
        return await self._run(op, atomic=True)

    async def untracked(self, *, batch: int = 500) -> AsyncIterator[tuple[str, str]]:
        """See :meth:`Ledger.untracked`."""
        after: tuple[int, str] = (-1, "")
        while True:
            def page_op(conn: sqlite3.Connection, after: tuple[int, str] = after
                        ) -> list[tuple[int, str, str]]:
                self._tracking_indexes(conn)
                return conn.execute(
                    "SELECT position, key, call_id FROM rows WHERE state = 'placed' AND "
                    "result IS NULL AND (position, key) > (?, ?) ORDER BY position, key "
                    "LIMIT ?", (*after, batch)).fetchall()
            page = await self._run(page_op, atomic=True)
            for _, key, call_id in page:
                yield key, call_id
            if len(page) < batch:
                return
            after = (page[-1][0], page[-1][1])

    # -- reading --------------------------------------------------------------------------

    async def results(self, *, states: Collection[RowState] | None = None,
                      batch: int = 1000) -> AsyncIterator[CallOutcome]:
        """See :meth:`Ledger.results`."""
        wanted = None if states is None else sorted(set(states))
        if wanted is not None and not set(wanted) <= set(ROW_STATES):
            raise ValidationError("states", f"must be among {', '.join(ROW_STATES)}")
        where = "" if wanted is None else \
            f"AND state IN ({', '.join('?' for _ in wanted)})"
        after: tuple[int, str] = (-1, "")
        while True:
            def page_op(conn: sqlite3.Connection, after: tuple[int, str] = after
                        ) -> list[tuple[Any, ...]]:
                return conn.execute(
                    f"SELECT {_COLUMNS} FROM rows WHERE (position, key) > (?, ?) {where} "
                    "ORDER BY position, key LIMIT ?",
                    (*after, *(wanted or ()), batch)).fetchall()
            page = await self._run(page_op, write=False)
            for row in page:
                yield _outcome(row)
            if len(page) < batch:
                return
            after = (page[-1][1], page[-1][0])

    async def get(self, key: str) -> CallOutcome | None:
        """See :meth:`Ledger.get`."""
        key = checked_key(key)
        row = await self._run(lambda conn: conn.execute(
            f"SELECT {_COLUMNS} FROM rows WHERE key = ?", (key,)).fetchone(), write=False)
        return None if row is None else _outcome(row)

    async def counts(self) -> LedgerCounts:
        """See :meth:`Ledger.counts`."""
        def op(conn: sqlite3.Connection) -> LedgerCounts:
            states = dict.fromkeys(ROW_STATES, 0)
            states.update(conn.execute(
                "SELECT state, count(*) FROM rows GROUP BY state").fetchall())
            results = dict(conn.execute(
                "SELECT result, count(*) FROM rows WHERE result IS NOT NULL "
                "GROUP BY result").fetchall())
            cost = dict(conn.execute(
                "SELECT coalesce(currency, ''), sum(debit) FROM rows WHERE debit IS NOT NULL "
                "GROUP BY currency").fetchall())
            untracked = conn.execute("SELECT count(*) FROM rows WHERE state = 'placed' AND "
                                     "result IS NULL").fetchone()[0]
            return LedgerCounts(states=states, results=results, cost=cost,
                                untracked=untracked)
        return await self._run(op, write=False)

    # -- pacing -------------------------------------------------------------------------

    async def reserve_start(self, account: str, *, count: int, period: float) -> float:
        """See :meth:`Ledger.reserve_start` (in-process: one window per account)."""
        window = _WINDOWS.setdefault(_account_key(account), SlidingWindow())
        now = time.monotonic()
        return max(0.0, window.reserve(now, count, period) - now)

    async def pause_starts(self, account: str, seconds: float) -> None:
        """See :meth:`Ledger.pause_starts`."""
        window = _WINDOWS.setdefault(_account_key(account), SlidingWindow())
        window.pause(time.monotonic() + max(0.0, seconds))


def _sending(conn: sqlite3.Connection, now: float, worker: str, token: str,
             keys: list[str]) -> bool:
    """Mark the rows of ``keys`` sending; whether each key was a row its claim held
    (a key given twice counts twice, so it is not). The list is padded to a power of
    two by repeating a key: a few statement texts serve every batch size."""
    padded = _padded(keys)
    statement = _SENDING.format(keys=", ".join("?" * len(padded)))
    return conn.execute(statement, (now, worker, token, *padded)).rowcount == len(keys)


def _chunks(items: list[_T], size: int) -> list[list[_T]]:
    return [items[at:at + size] for at in range(0, len(items), size)]


def _padded(items: list[_T]) -> list[_T]:
    """``items`` (not empty) padded to a power of two by repeating the last one: a few
    statement texts serve every batch size (SQLite caches them by text)."""
    size = 1 << (len(items) - 1).bit_length()
    return items + [items[-1]] * (size - len(items))


def _answers(conn: sqlite3.Connection, now: float, worker: str, token: str,
             rows: list[tuple[str, str, str | None, str | None]]) -> bool:
    """Record the answers ``rows`` (key, state, call id, error) of one claim batch;
    whether each changed a row its claim held. Padded like :func:`_sending` (a repeated
    VALUES row updates its row once)."""
    padded = _padded(rows)
    statement = _ANSWERS.format(values=", ".join(("(?, ?, ?, ?)",) * len(padded)))
    params: list[object] = [now]
    for row in padded:
        params.extend(row)
    params += (worker, token)
    return conn.execute(statement, params).rowcount == len(rows)


def _corrupted(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` says the file is damaged or not an SQLite database at all."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
    return type(exc) is sqlite3.DatabaseError or "malformed" in str(exc) \
        or "not a database" in str(exc)


def _account_key(account: str) -> str:
    # Keep application keys out of long-lived process state in clear text.
    return hashlib.sha256(account.encode()).hexdigest()
