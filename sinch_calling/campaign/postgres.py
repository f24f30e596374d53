"""The shared ledger: one PostgreSQL database for every worker of every campaign.

    ledger = PostgresLedger("postgresql://app@db.example/calls?campaign=spring-reminders")
    # or Campaign(..., ledger="postgresql://app@db.example/calls?campaign=spring-reminders")

Any number of workers, on any machines, drain one campaign together (plain
``sinch-calling campaign`` processes, Celery tasks, or both). PostgreSQL decides who
dials what; the workers' clocks and lifetimes do not matter:

* **Claims are atomic.** :meth:`PostgresLedger.claim` takes pending rows with
  ``SELECT ... FOR UPDATE SKIP LOCKED`` inside one ``UPDATE``: a row is handed to one
  worker only, and concurrent claimers never wait on each other.
* **``sending`` is committed before the request** (each batch of state changes is one
  statement in its own transaction, with ``synchronous_commit = on`` forced for the
  ledger's sessions).
* **Leases are on the database's clock** (``clock_timestamp()``). A worker that dies
  leaves its claimed-but-unsent rows to the next claim after the lease runs out, and
  its ``sending`` rows as ``uncertain`` (never dialled again automatically).
* **Pacing is account-wide.** :meth:`PostgresLedger.reserve_start` keeps the last
  ``count`` start times of an account in one row updated under its row lock, so at most
  ``count`` starts fall in any ``period`` whatever the number of workers, and a 429 seen
  by one worker (:meth:`PostgresLedger.pause_starts`) delays every worker's next start.
  Application keys are stored as SHA-256 digests.

Where things live: the ledger's tables are in one schema (``sinch_calling`` unless the
DSN's ``schema`` parameter or ``schema=`` says otherwise); several campaigns share it,
each under its name (the DSN's ``campaign`` parameter or ``campaign=``; ``default``
when neither is given). The library creates the schema and migrates it: the
``schema_version`` table records the version, migrations run under an advisory lock
(so workers starting together do not race), and a schema newer than this library is
refused with :class:`~sinch_calling.campaign.ledger.LedgerCorruptError`.

The DSN's password never appears in :attr:`PostgresLedger.location`, ``repr`` or any
error this module raises. Requires the ``postgres`` extra (psycopg 3 and its pool).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, Final, LiteralString, NoReturn, TypeVar
from urllib.parse import parse_qsl, quote, urlencode

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg import sql
    from psycopg.types.json import Jsonb
    from psycopg_pool import AsyncConnectionPool
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the PostgreSQL ledger needs the 'postgres' extra: "
        "pip install 'sinch_calling[postgres]'") from exc

from ..errors import LedgerUnavailableError, ValidationError
from .ledger import (
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
    held_in_order,
    identity_differences,
    release_rewritten,
)
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
)

__all__ = ["SCHEMA_VERSION", "PostgresLedger", "is_postgres_dsn"]

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

_SCHEMES: Final = ("postgresql://", "postgres://")
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

# Each entry migrates the schema from version ``i`` to ``i + 1``; ``{s}`` is the schema.
# Never edit a released entry: append a new one.
_MIGRATIONS: list[LiteralString] = [
    """
    CREATE TABLE {s}.campaigns (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name text NOT NULL UNIQUE,
        fingerprint text,
        options jsonb,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp()
    );
    CREATE TABLE {s}.campaign_rows (
        campaign bigint NOT NULL REFERENCES {s}.campaigns (id) ON DELETE CASCADE,
        key text NOT NULL,
        position bigint NOT NULL,
        line bigint,
        destination text,
        data jsonb,
        state text NOT NULL CHECK (state IN ('pending', 'claimed', 'sending', 'placed',
                                             'failed', 'uncertain', 'invalid', 'skipped')),
        worker text,
        lease_until timestamptz,
        expired boolean NOT NULL DEFAULT false,
        call_id text,
        error jsonb,
        attempts integer NOT NULL DEFAULT 0,
        attempt_run text,
        deferred boolean NOT NULL DEFAULT false,
        load_runs text[] NOT NULL DEFAULT '{{}}',
        result text,
        reason text,
        duration double precision,
        debit double precision,
        currency text,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (campaign, key)
    );
    CREATE INDEX campaign_rows_order ON {s}.campaign_rows (campaign, position, key);
    CREATE INDEX campaign_rows_pending ON {s}.campaign_rows (campaign, position)
        WHERE state = 'pending';
    CREATE INDEX campaign_rows_leased ON {s}.campaign_rows (campaign, lease_until)
        WHERE state IN ('claimed', 'sending');
    CREATE INDEX campaign_rows_worker ON {s}.campaign_rows (campaign, worker)
        WHERE state IN ('claimed', 'sending');
    CREATE INDEX campaign_rows_owner ON {s}.campaign_rows (campaign, destination)
        WHERE state NOT IN ('invalid', 'skipped');
    CREATE INDEX campaign_rows_call ON {s}.campaign_rows (campaign, call_id)
        WHERE call_id IS NOT NULL;
    CREATE UNLOGGED TABLE {s}.pacing (
        account text PRIMARY KEY,
        paused_until double precision NOT NULL DEFAULT 0,
        keep integer NOT NULL DEFAULT 1,
        starts double precision[] NOT NULL DEFAULT '{{}}'
    );
    """,
    # 2: per-claim tokens (a claim that lost its row can no longer move it).
    """
    ALTER TABLE {s}.campaign_rows ADD COLUMN claim_token text;
    """,
]
SCHEMA_VERSION: Final = len(_MIGRATIONS)
"""The schema version this library creates and understands."""

_LEASE_EXPIRED = CallError(kind="lease_expired", message=(
    "the worker placing this call stopped before Sinch's answer was recorded; "
    "Sinch may have placed it"))

# The claims of a batch method, as a table ``c`` (key, worker, token), and the rows
# they hold (``r``: the campaign's rows).
_CLAIM_ARRAYS: Final = "%(keys)s::text[], %(workers)s::text[], %(tokens)s::text[]"
_CLAIMS: Final = f"unnest({_CLAIM_ARRAYS}) AS c(key, worker, token)"
_ANSWERS: Final = (f"unnest({_CLAIM_ARRAYS}, %(states)s::text[], %(call_ids)s::text[], "
                   "%(errors)s::text[]) AS c(key, worker, token, state, call_id, error)")
_HELD: Final = ("r.campaign = %(c)s AND r.key = c.key AND r.worker = c.worker AND "
                "r.claim_token = c.token")

_COLUMNS: LiteralString = ("key, position, line, destination, state, call_id, error, result, "
                           "reason, duration, debit, currency, updated_at")


def is_postgres_dsn(ledger: object) -> bool:
    """Whether ``ledger`` (a ``Campaign(ledger=...)`` value) names a PostgreSQL ledger."""
    return isinstance(ledger, str) and ledger.startswith(_SCHEMES)


def _split_dsn(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN for libpq and our own parameters (``campaign``, ``schema``) taken out of a
    URL's query (libpq refuses parameters it does not know)."""
    if not dsn.startswith(_SCHEMES):
        return dsn, {}
    netloc = dsn.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    if netloc.count("@") > 1:
        # libpq splits at the last '@' and would show part of the password as a host.
        raise ValidationError("dsn", "has more than one '@' before the host: write an "
                                     "'@' inside the user name or password as %40")
    # Split by hand: urlunsplit would turn "postgresql:///db" (no host) into
    # "postgresql:/db", which libpq refuses.
    base, _, query = dsn.partition("?")
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in ("campaign", "schema"):
            ours[name] = value
        else:
            theirs.append((name, value))
    return (f"{base}?{urlencode(theirs, quote_via=quote)}" if theirs else base), ours


def _redacted(conninfo: str) -> tuple[str, str | None]:
    """``conninfo`` without its password (for messages), and the password."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        # libpq's message quotes the DSN, password included: say nothing of it.
        raise ValidationError("dsn", "is not a valid PostgreSQL connection string or "
                                     "URL") from None
    password = params.pop("password", None)
    host = str(params.get("host") or "")
    port = params.get("port")
    user = params.get("user")
    where = f"{user}@" if user else ""
    where += host if "/" not in host else quote(host, safe="")
    if port:
        where += f":{port}"
    return f"postgresql://{where}/{params.get('dbname') or ''}", \
        None if password is None else str(password)


class _LostConnection(Exception):
    """The connection broke under a statement (internal: :meth:`PostgresLedger._run`
    decides whether to run it again)."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _is_lost(exc: psycopg.OperationalError) -> bool:
    """An OperationalError that means "the connection (or the server) went away", not
    "the statement is wrong": no SQLSTATE (connection lost, pool timeout), class 08
    (connection exception), 57P01-57P03 (admin/crash shutdown, cannot connect now)."""
    state = exc.sqlstate
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _error_value(error: CallError | None) -> Jsonb | None:
    if error is None:
        return None
    return Jsonb({"kind": error.kind, "message": error.message, "status": error.status,
                  "code": error.code})


def _error_text(error: CallError | None) -> str | None:
    value = _error_value(error)
    return None if value is None else json.dumps(value.obj)


def _error(value: Any) -> CallError | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        raise LedgerCorruptError(f"unreadable error record in the ledger: {value!r:.80}")
    return CallError(kind=value["kind"], message=str(value.get("message", "")),
                     status=value.get("status"), code=value.get("code"))


def _outcome(row: Sequence[Any]) -> CallOutcome:
    (key, position, line, destination, state, call_id, error, result, reason, duration,
     debit, currency, updated_at) = row
    final = None
    if result is not None:
        final = FinalOutcome(result=result, reason=reason, duration=duration, debit=debit,
                             currency=currency)
    return CallOutcome(row=key, position=position, line=line, destination=destination,
                       status=state, call_id=call_id, error=_error(error), outcome=final,
                       updated_at=updated_at if isinstance(updated_at, datetime) else None)


def _account_key(account: str) -> str:
    # The application key is not a secret, but it stays out of shared tables in clear.
    return hashlib.sha256(account.encode()).hexdigest()


class PostgresLedger(OneRowTransitions):
    """A :class:`~sinch_calling.campaign.ledger.Ledger` in a PostgreSQL database.

    ``dsn``: a libpq connection string or ``postgresql://`` URL (``campaign`` and
    ``schema`` may be given as URL query parameters). ``campaign``: the campaign's name
    in the database (several campaigns share one schema; default ``"default"``);
    ``schema``: the schema holding the ledger's tables (default ``"sinch_calling"``;
    lowercase letters, digits and ``_``); ``pool_size``: connections this process
    keeps at most (each in-flight ledger operation uses one; default 10);
    ``connect_timeout``: seconds to wait for the database when opening (and for a pooled
    connection); ``outage``: seconds a lost database is waited for (default 60) before
    an operation raises :class:`~sinch_calling.errors.LedgerUnavailableError`.

    A dropped connection (a restart, a failover, ``pg_terminate_backend``) is not an
    error: pooled connections are checked before use, and an operation whose
    connection breaks runs again on a fresh one (backoff from 0.05 s doubling to 2 s)
    for up to ``outage`` seconds. Only operations that are safe to run twice are run
    again: reads, claims (a claim whose answer was lost leaves its rows to lease
    expiry), lease renewals, pacing, and the row transitions, which are keyed by the
    claim's token and idempotent (a transition whose commit was lost is recognised on
    the row). :meth:`load` and :meth:`settle` (multi-statement transactions) are not
    run again: they raise :class:`LedgerError`, and running them again is safe.

    Raises :class:`~sinch_calling.errors.ValidationError` for a bad argument (before
    connecting). The methods raise :class:`LedgerError` (naming :attr:`location`, never
    the password) when the database cannot be reached or refuses an operation.
    """

    def __init__(self, dsn: str, *, campaign: str | None = None, schema: str | None = None,
                 pool_size: int = 10, connect_timeout: float = 10.0,
                 outage: float = 60.0) -> None:
        if not isinstance(dsn, str) or not dsn.strip():
            raise ValidationError("dsn", "must be a PostgreSQL connection string or "
                                         "postgresql:// URL")
        conninfo, ours = _split_dsn(dsn.strip())
        name = campaign if campaign is not None else ours.get("campaign", "default")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise ValidationError("campaign", "must be a non-empty name of at most 200 "
                                              "characters")
        schema_name = schema if schema is not None else ours.get("schema", "sinch_calling")
        if not isinstance(schema_name, str) or not _SCHEMA_NAME.fullmatch(schema_name):
            raise ValidationError("schema", "must be 1-63 lowercase letters, digits or _, "
                                            "not starting with a digit")
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            raise ValidationError("pool_size", "must be an integer >= 1")
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, int | float) \
                or not connect_timeout > 0:
            raise ValidationError("connect_timeout", "must be a positive number of seconds")
        if isinstance(outage, bool) or not isinstance(outage, int | float) \
                or not 0 <= outage < 1e6:
            raise ValidationError("outage", "must be a number of seconds >= 0")
        where, self._password = _redacted(conninfo)
        self._conninfo = conninfo
        self._campaign_name = name.strip()
        self._schema = schema_name
        self._location = f"{where}?schema={schema_name}&campaign={quote(self._campaign_name)}"
        self._pool_size = pool_size
        self._connect_timeout = connect_timeout
        self._outage = float(outage)
        self._pool: AsyncConnectionPool | None = None
        self._campaign: int | None = None
        self._accounts: set[str] = set()
        self._queries: dict[str, LiteralString] = {}

    def __repr__(self) -> str:
        return f"PostgresLedger({self._location!r})"

    @property
    def location(self) -> str:
        """The database, schema and campaign, as a URL without the password."""
        return self._location

    @property
    def campaign(self) -> str:
        """The campaign's name in the database."""
        return self._campaign_name

    # -- plumbing -----------------------------------------------------------------------

    def _fail(self, exc: BaseException) -> NoReturn:
        """Raise ``exc`` as a ledger error naming the location, without the password."""
        text = self._redact(str(exc).strip() or type(exc).__name__)
        if isinstance(exc, OSError) or (isinstance(exc, psycopg.OperationalError)
                                        and _is_lost(exc)):
            raise LedgerUnavailableError(
                f"ledger {self._location}: the database is unreachable: {text}") from None
        if isinstance(exc, pg_errors.UndefinedTable | pg_errors.UndefinedColumn
                      | pg_errors.UndefinedFunction | pg_errors.InvalidSchemaName):
            raise LedgerCorruptError(
                f"ledger {self._location} is damaged or was changed by hand: {text}") from None
        raise LedgerError(f"ledger {self._location}: {text}") from None

    def _redact(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    def _sql(self, text: LiteralString) -> LiteralString:
        """``text`` with ``{s}`` as the quoted schema, rendered once per statement: the
        same string every time, so psycopg prepares it on each connection after a few
        uses, and nothing is composed again per call."""
        query = self._queries.get(text)
        if query is None:
            rendered = sql.SQL(text).format(s=sql.Identifier(self._schema)).as_string(None)
            query = self._queries[text] = rendered
        return query

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        pool = self._pool
        if pool is None or self._campaign is None:
            raise LedgerError(f"ledger {self._location} is not open")
        try:
            async with pool.connection() as conn:
                yield conn
        except (LedgerError, ValidationError, _LostConnection):
            raise
        except (psycopg.OperationalError, OSError) as exc:
            # psycopg_pool's PoolTimeout is an OperationalError too.
            if isinstance(exc, psycopg.OperationalError) and not _is_lost(exc):
                self._fail(exc)
            raise _LostConnection(exc) from None
        except psycopg.Error as exc:
            self._fail(exc)
        except Exception as exc:
            # psycopg_pool's PoolTimeout and friends
            if type(exc).__module__.startswith("psycopg"):
                self._fail(exc)
            raise

    @asynccontextmanager
    async def _connection_once(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for a multi-statement transaction that is not run again: a lost
        connection is a :class:`LedgerError` (the transaction rolled back, or committed
        when the answer was lost; running the operation again is safe)."""
        try:
            async with self._connection() as conn:
                yield conn
        except _LostConnection as lost:
            self._fail(lost.exc)

    async def _run(self, op: Callable[[psycopg.AsyncConnection[Any]], Awaitable[_T]], *,
                   retry: bool = True,
                   again: Callable[[psycopg.AsyncConnection[Any]], Awaitable[_T]] | None = None
                   ) -> _T:
        """``op`` on a pooled connection. When the connection is lost (the server
        restarted or failed over, the backend was terminated, the pool cannot connect)
        and ``retry``, run it again on a fresh connection with bounded backoff, for up to
        ``outage`` seconds; then raise :class:`LedgerUnavailableError`. Only statements
        that are safe to run twice use ``retry`` (see the methods); ``again``, when given,
        replaces ``op`` after a lost connection (to recognise a commit whose answer was
        lost)."""
        started: float | None = None
        delay = 0.05
        while True:
            try:
                async with self._connection() as conn:
                    return await op(conn)
            except _LostConnection as lost:
                exc = lost.exc
                if not retry:
                    self._fail(exc)
                now = time.monotonic()
                started = now if started is None else started
                if now - started >= self._outage:
                    text = self._redact(str(exc).strip() or type(exc).__name__)
                    raise LedgerUnavailableError(
                        f"ledger {self._location}: the database was unreachable for "
                        f"{now - started:.0f} s ({text}); giving up") from None
                logger.warning("ledger %s: connection lost (%s); retrying in %.2f s",
                               self._location, type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                op = again or op

    async def _execute(self, query: LiteralString,
                       params: Sequence[Any] | Mapping[str, Any] = (), *,
                       retry: bool = True) -> list[tuple[Any, ...]]:
        """One statement in its own (auto-committed) transaction: one round trip."""
        async def op(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cursor = await conn.execute(self._sql(query), params)
            return await cursor.fetchall() if cursor.description is not None else []
        return await self._run(op, retry=retry)

    async def _changed(self, query: LiteralString,
                       params: Sequence[Any] | Mapping[str, Any] = (), *,
                       retry: bool = True, done: LiteralString | None = None,
                       done_params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        """Run one changing statement; return how many rows it changed. ``done``: a
        query finding the row when the change was already made: run when the
        statement, run again after a lost connection, changes nothing (its first
        commit may have happened with the answer lost)."""
        async def op(conn: psycopg.AsyncConnection[Any]) -> int:
            cursor = await conn.execute(self._sql(query), params)
            return cursor.rowcount

        async def again(conn: psycopg.AsyncConnection[Any]) -> int:
            changed = await op(conn)
            if changed or done is None:
                return changed
            found = await (await conn.execute(self._sql(done), done_params)).fetchall()
            return len(found)
        return await self._run(op, retry=retry, again=again)

    # -- identity and lifecycle ---------------------------------------------------------

    async def open(self, identity: CampaignIdentity | None, *, force: bool = False) -> None:
        """See :meth:`Ledger.open`. Creates or migrates the schema and the campaign (with
        ``identity``); ``identity=None`` needs both to exist. Never expires other
        workers' leases: they may be alive."""
        if self._pool is not None:
            raise LedgerError(f"ledger {self._location} is already open")
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=max(1, round(
                    self._connect_timeout)))
        except (psycopg.Error, OSError) as exc:
            self._fail(exc)
        try:
            async with conn:
                await self._configure(conn)
                campaign = await self._prepare(conn, identity, force)
        except (LedgerError, ValidationError):
            raise
        except (psycopg.Error, OSError) as exc:
            self._fail(exc)
        pool: AsyncConnectionPool = AsyncConnectionPool(
            self._conninfo, min_size=1, max_size=self._pool_size, open=False,
            kwargs={"autocommit": True}, configure=self._configure,
            check=AsyncConnectionPool.check_connection,
            timeout=self._connect_timeout, name=f"sinch-ledger-{self._campaign_name}")
        try:
            await pool.open(wait=True, timeout=self._connect_timeout)
        except Exception as exc:
            await pool.close()
            self._fail(exc)
        self._pool, self._campaign = pool, campaign

    async def _configure(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # `sending` must be durable before the request: never let a server default of
        # synchronous_commit = off make a commit asynchronous for the ledger.
        await conn.execute("SET synchronous_commit = on")
        # Which ledger a backend serves, for operators (pg_stat_activity); at most 63.
        await conn.execute("SELECT set_config('application_name', %s, false)",
                           (f"sinch_calling ledger {self._schema}/{self._campaign_name}"
                            [:63],))

    async def _prepare(self, conn: psycopg.AsyncConnection[Any],
                       identity: CampaignIdentity | None, force: bool) -> int:
        version = await self._schema_version(conn)
        if version is None and identity is None:
            raise LedgerNotFoundError(f"no campaign ledger at {self._location}")
        if version is None or version < SCHEMA_VERSION:
            await self._migrate(conn)
        async with conn.transaction():
            row = await (await conn.execute(self._sql(
                "SELECT id, fingerprint, options FROM {s}.campaigns WHERE name = %s "
                "FOR UPDATE"), (self._campaign_name,))).fetchone()
            if row is None:
                if identity is None:
                    raise LedgerNotFoundError(f"no campaign {self._campaign_name!r} in ledger "
                                      f"{self._location}")
                row = await (await conn.execute(self._sql(
                    "INSERT INTO {s}.campaigns (name, fingerprint, options) "
                    "VALUES (%s, %s, %s) ON CONFLICT (name) DO UPDATE SET name = "
                    "excluded.name RETURNING id, fingerprint, options"),
                    (self._campaign_name, identity.fingerprint,
                     Jsonb(dict(identity.options))))).fetchone()
                assert row is not None
            campaign, stored, options = row
            if identity is not None and stored != identity.fingerprint:
                if stored is not None and not force:
                    raise LedgerMismatchError(self._location, identity_differences(
                        options if isinstance(options, dict) else {}, identity.options))
                await conn.execute(self._sql(
                    "UPDATE {s}.campaigns SET fingerprint = %s, options = %s WHERE id = %s"),
                    (identity.fingerprint, Jsonb(dict(identity.options)), campaign))
            return int(campaign)

    async def _schema_version(self, conn: psycopg.AsyncConnection[Any]) -> int | None:
        """The schema's version, ``None`` when there is no ledger schema yet."""
        tables = {name for (name,) in await (await conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self._schema,))).fetchall()}
        if not tables:
            return None
        if "schema_version" not in tables:
            raise LedgerCorruptError(
                f"schema {self._schema} of {self._location} holds tables that are not a "
                f"campaign ledger ({', '.join(sorted(tables)[:5])}); use another schema")
        found = await (await conn.execute(self._sql(
            "SELECT max(version) FROM {s}.schema_version"))).fetchone()
        version = found[0] if found else None
        if not isinstance(version, int):
            raise LedgerCorruptError(f"ledger {self._location}: schema_version is empty")
        if version > SCHEMA_VERSION:
            raise LedgerCorruptError(
                f"ledger {self._location} has schema version {version}, newer than this "
                f"sinch_calling understands ({SCHEMA_VERSION}); upgrade sinch_calling")
        return version

    async def _migrate(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Bring the schema to :data:`SCHEMA_VERSION`, one transaction per step, under an
        advisory lock so that workers starting at once migrate it once."""
        lock = int.from_bytes(hashlib.sha256(
            f"sinch_calling ledger {self._schema}".encode()).digest()[:8], "big",
            signed=True)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            await conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {s}"))
            await conn.execute(self._sql(
                "CREATE TABLE IF NOT EXISTS {s}.schema_version ("
                "version integer PRIMARY KEY, applied_at timestamptz NOT NULL "
                "DEFAULT clock_timestamp())"))
            found = await (await conn.execute(self._sql(
                "SELECT coalesce(max(version), 0) FROM {s}.schema_version"))).fetchone()
            current = int(found[0]) if found else 0
            if current > SCHEMA_VERSION:
                raise LedgerCorruptError(
                    f"ledger {self._location} has schema version {current}, newer than "
                    f"this sinch_calling understands ({SCHEMA_VERSION})")
            for version in range(current, SCHEMA_VERSION):
                await conn.execute(self._sql(_MIGRATIONS[version]))
                await conn.execute(self._sql(
                    "INSERT INTO {s}.schema_version (version) VALUES (%s)"), (version + 1,))

    async def identity(self) -> CampaignIdentity | None:
        """See :meth:`Ledger.identity`."""
        rows = await self._execute("SELECT fingerprint, options FROM {s}.campaigns "
                                   "WHERE id = %s", (self._campaign,))
        if not rows or rows[0][0] is None:
            return None
        options = rows[0][1]
        return CampaignIdentity(fingerprint=rows[0][0],
                                options=options if isinstance(options, dict) else {})

    async def close(self) -> None:
        """See :meth:`Ledger.close`. Other workers and the data are unaffected."""
        pool, self._pool = self._pool, None
        self._campaign = None
        if pool is not None:
            await pool.close()

    async def drop(self) -> None:
        """Delete this campaign and all of its rows from the database (the schema and
        other campaigns stay). For tests and for tidying up after a finished campaign."""
        await self._execute("DELETE FROM {s}.campaigns WHERE id = %s", (self._campaign,))

    # -- loading ------------------------------------------------------------------------

    async def load(self, rows: Sequence[NewRow], *, retry_failed: bool = False,
                   run: str | None = None) -> Sequence[LoadedRow]:
        """See :meth:`Ledger.load`. One transaction per batch, serialised per campaign
        (loaders on several machines apply their batches one after the other); claims
        go on meanwhile and skip the rows being loaded. ``run`` names the loading run: a
        key that appears twice in one run's input is reported as a duplicate."""
        batch = list(rows)
        if not batch:
            return []
        async with self._connection_once() as conn, conn.transaction():
            await conn.execute(self._sql(
                "SELECT 1 FROM {s}.campaigns WHERE id = %s FOR UPDATE"), (self._campaign,))
            keys = list({row.key for row in batch})
            current: dict[str, tuple[RowState, str | None, list[str]]] = {
                key: (state, destination, load_runs)
                for key, state, destination, load_runs in await (await conn.execute(
                    self._sql("SELECT key, state, destination, load_runs FROM "
                              "{s}.campaign_rows WHERE campaign = %s AND key = ANY(%s) "
                              "FOR UPDATE"), (self._campaign, keys))).fetchall()}
            destinations = list({row.destination for row in batch
                                 if row.destination is not None})
            owners: dict[str, set[str]] = {}
            for destination, key in await (await conn.execute(self._sql(
                    "SELECT destination, key FROM {s}.campaign_rows WHERE campaign = %s "
                    "AND destination = ANY(%s) AND state NOT IN ('invalid', 'skipped')"),
                    (self._campaign, destinations))).fetchall():
                owners.setdefault(destination, set()).add(key)
            release_rewritten(batch, {key: (state, destination, run in load_runs)
                                      for key, (state, destination, load_runs)
                                      in current.items()},
                              owners, retry_failed=retry_failed, run=run)
            out, keep, upsert = self._plan(batch, current, owners, retry_failed, run)
            async with conn.cursor() as cursor:
                if keep:
                    await cursor.executemany(self._sql(
                        "UPDATE {s}.campaign_rows SET position = %(position)s, line = %(line)s, "
                        f"load_runs = {_ADD_RUN.format(runs='load_runs')} "
                        "WHERE campaign = %(c)s AND key = %(key)s"), keep)
                if upsert:
                    await cursor.executemany(self._sql(
                        "INSERT INTO {s}.campaign_rows (campaign, key, position, line, "
                        "destination, data, state, error, load_runs, updated_at) VALUES "
                        "(%(c)s, %(key)s, %(position)s, %(line)s, %(destination)s, %(data)s, "
                        "%(state)s, %(error)s, CASE WHEN %(run)s::text IS NULL THEN '{{}}' "
                        "ELSE ARRAY[%(run)s::text] END, clock_timestamp()) "
                        "ON CONFLICT (campaign, key) DO UPDATE SET "
                        "position = excluded.position, line = excluded.line, "
                        "destination = excluded.destination, data = excluded.data, "
                        "state = excluded.state, error = excluded.error, "
                        f"load_runs = {_ADD_RUN.format(runs='campaign_rows.load_runs')}, "
                        "updated_at = excluded.updated_at, "
                        "worker = NULL, lease_until = NULL, expired = false, "
                        "call_id = NULL, attempts = 0, attempt_run = NULL, "
                        "deferred = false"), upsert)
        return out

    def _plan(self, batch: list[NewRow],
              current: dict[str, tuple[RowState, str | None, list[str]]],
              owners: dict[str, set[str]], retry_failed: bool, run: str | None
              ) -> tuple[list[LoadedRow], list[dict[str, Any]], list[dict[str, Any]]]:
        """Apply rule 5 to a batch in input order (pure): what to report, which rows keep
        their state (position/line only) and which are inserted or replaced."""
        out: list[LoadedRow] = []
        keep: dict[str, dict[str, Any]] = {}
        upsert: dict[str, dict[str, Any]] = {}
        for row in batch:
            now = current.get(row.key)
            if now is not None and run is not None and run in now[2]:
                out.append(LoadedRow(key=row.key, position=row.position, state=now[0],
                                     previous=now[0], error=CallError(
                                         kind="duplicate_id",
                                         message=f"row id {row.key!r} repeats an earlier "
                                                 "row of this input")))
                continue
            replace = now is None or now[0] in ("pending", "invalid", "skipped") \
                or (retry_failed and now[0] == "failed")
            if not replace:
                assert now is not None
                keep[row.key] = {"position": row.position, "line": row.line, "run": run,
                                 "c": self._campaign, "key": row.key}
                current[row.key] = (now[0], now[1], [*now[2], *([run] if run else [])])
                note = None
                if row.destination != now[1]:
                    note = CallError(kind="changed", message=(
                        f"the input now gives {row.destination or 'no number'}, but this row "
                        f"is already {now[0]} to {now[1]}; the ledger is kept"))
                out.append(LoadedRow(key=row.key, position=row.position, state=now[0],
                                     previous=now[0], error=note))
                continue
            if now is not None and now[1] is not None:
                owners.get(now[1], set()).discard(row.key)
            state: RowState = row.state
            error = row.error
            if state == "pending" and row.destination is not None:
                others = owners.get(row.destination, set()) - {row.key}
                if others:
                    state = "skipped"
                    error = CallError(kind="duplicate",
                                      message=f"same number as row {min(others)}")
                else:
                    owners.setdefault(row.destination, set()).add(row.key)
            current[row.key] = (state, row.destination,
                                [*(now[2] if now else []), *([run] if run else [])])
            upsert[row.key] = {
                "c": self._campaign, "key": row.key, "position": row.position,
                "line": row.line, "destination": row.destination,
                "data": None if row.data is None else Jsonb(dict(row.data)), "state": state,
                "error": _error_value(error), "run": run}
            out.append(LoadedRow(key=row.key, position=row.position, state=state,
                                 previous=None if now is None else now[0], error=error))
        return out, list(keep.values()), list(upsert.values())

    # -- claiming and recording -----------------------------------------------------------

    async def claim(self, worker: str, run: str, *, limit: int, lease: float,
                    loaded_by: str | None = None) -> Sequence[Claim]:
        """See :meth:`Ledger.claim`. One statement: recovers expired leases and takes up
        to ``limit`` pending rows with ``FOR UPDATE SKIP LOCKED`` (rows another worker
        is claiming or loading right now are skipped, never waited for)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit", "must be an integer >= 1")
        _check_seconds("lease", lease)
        expire = {"c": self._campaign, "everyone": False,
                  "error": _error_value(_LEASE_EXPIRED)}
        token = secrets.token_hex(8)

        async def op(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            # Two auto-committed statements in one round trip (pipeline): the claim's
            # snapshot sees the rows the expiry just returned to pending.
            async with conn.pipeline():
                await conn.execute(self._sql(_EXPIRE), expire)
                cursor = await conn.execute(self._sql(
                    "WITH picked AS ("
                    " SELECT key FROM {s}.campaign_rows WHERE campaign = %(c)s"
                    " AND state = 'pending' AND NOT (deferred AND attempt_run IS NOT"
                    " DISTINCT FROM %(run)s) AND (%(loaded_by)s::text IS NULL OR"
                    " %(loaded_by)s::text = ANY(load_runs)) ORDER BY position LIMIT %(limit)s"
                    " FOR UPDATE SKIP LOCKED) "
                    "UPDATE {s}.campaign_rows r SET state = 'claimed', worker = %(worker)s,"
                    " claim_token = %(token)s,"
                    " lease_until = clock_timestamp() + make_interval(secs => %(lease)s),"
                    " expired = false, updated_at = clock_timestamp() FROM picked"
                    " WHERE r.campaign = %(c)s AND r.key = picked.key"
                    " RETURNING r.key, r.position, r.line, r.destination, r.data,"
                    " r.attempts, r.attempt_run"),
                    {"c": self._campaign, "run": run, "limit": limit, "worker": worker,
                     "lease": float(lease), "loaded_by": loaded_by, "token": token})
            return await cursor.fetchall()

        # Run again after a lost connection: rows a lost claim took return to pending
        # when its lease runs out (nothing was sent for them).
        rows = await self._run(op)
        claims = [Claim(key=key, position=position, line=line, destination=destination,
                        data=data, worker=worker, token=token,
                        attempts=attempts if attempt_run == run else 0)
                  for key, position, line, destination, data, attempts, attempt_run in rows]
        claims.sort(key=lambda c: c.position)
        return claims

    async def claimable(self, run: str, *, loaded_by: str | None = None) -> int:
        """See :meth:`Ledger.claimable` (rows locked by a load are counted: a plain
        snapshot read does not wait for row locks)."""
        rows = await self._execute(
            "SELECT count(*) FROM {s}.campaign_rows WHERE campaign = %(c)s AND "
            "state = 'pending' AND NOT (deferred AND attempt_run IS NOT DISTINCT FROM "
            "%(run)s) AND (%(loaded_by)s::text IS NULL OR %(loaded_by)s::text = "
            "ANY(load_runs))", {"c": self._campaign, "run": run, "loaded_by": loaded_by})
        return int(rows[0][0])

    async def renew(self, worker: str, *, lease: float) -> int:
        """See :meth:`Ledger.renew`."""
        _check_seconds("lease", lease)
        return await self._changed(
            "UPDATE {s}.campaign_rows SET lease_until = clock_timestamp() + "
            "make_interval(secs => %s) WHERE campaign = %s AND worker = %s AND "
            "state IN ('claimed', 'sending')", (float(lease), self._campaign, worker))

    async def _many(self, claims: Sequence[Claim], columns: Mapping[str, Sequence[Any]],
                    change: LiteralString, done: LiteralString) -> list[bool]:
        """One statement for many claims: ``change`` (an ``UPDATE ... FROM`` the claims,
        ``c``, returning each changed row's key, worker and token), in its own
        transaction. After a lost connection it runs again, and ``done`` (a ``SELECT``
        of the same) finds the rows the lost try changed, its commit unanswered."""
        params = {"c": self._campaign, "keys": [c.key for c in claims],
                  "workers": [c.worker for c in claims],
                  "tokens": [c.token for c in claims], **columns}

        async def op(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cursor = await conn.execute(self._sql(change), params)
            return await cursor.fetchall()

        async def again(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            changed = await op(conn)
            found = await (await conn.execute(self._sql(done), params)).fetchall()
            return changed + found
        return held_in_order(claims, await self._run(op, again=again))

    async def mark_sending_many(self, claims: Sequence[Claim]) -> list[bool]:
        """See :meth:`Ledger.mark_sending_many`: one statement (committed,
        synchronously, on return)."""
        batch = list(claims)
        if not batch:
            return []
        return await self._many(
            batch, {},
            "UPDATE {s}.campaign_rows r SET state = 'sending', updated_at = clock_timestamp()"
            f" FROM {_CLAIMS} WHERE {_HELD} AND r.state = 'claimed'"
            " RETURNING r.key, r.worker, r.claim_token",
            f"SELECT r.key, r.worker, r.claim_token FROM {{s}}.campaign_rows r, {_CLAIMS}"
            f" WHERE {_HELD} AND r.state = 'sending'")

    async def mark_results(self, results: Sequence[RowResult]) -> list[bool]:
        """See :meth:`Ledger.mark_results`: one statement."""
        batch = answered(results)
        if not batch:
            return []
        return await self._many(
            [r.claim for r in batch],
            {"states": [r.state for r in batch], "call_ids": [r.call_id for r in batch],
             "errors": [_error_text(r.error) for r in batch]},
            "UPDATE {s}.campaign_rows r SET state = c.state, call_id = c.call_id, "
            "error = c.error::jsonb, lease_until = NULL, expired = false, "
            f"updated_at = clock_timestamp() FROM {_ANSWERS} WHERE {_HELD} AND "
            "(r.state = 'sending' OR (r.state = 'uncertain' AND r.expired)) "
            "RETURNING r.key, r.worker, r.claim_token",
            f"SELECT r.key, r.worker, r.claim_token FROM {{s}}.campaign_rows r, {_ANSWERS}"
            f" WHERE {_HELD} AND r.state = c.state AND NOT r.expired AND "
            "r.call_id IS NOT DISTINCT FROM c.call_id")

    async def release(self, claim: Claim, run: str, *, error: CallError | None = None,
                      count_attempt: bool = False, defer: bool = False) -> None:
        """See :meth:`Ledger.release`."""
        await self._changed(
            "UPDATE {s}.campaign_rows SET state = 'pending', worker = NULL, "
            "claim_token = NULL, lease_until = NULL, expired = false, error = %(error)s, "
            "attempts = CASE WHEN attempt_run IS NOT DISTINCT FROM %(run)s THEN attempts "
            "ELSE 0 END + %(add)s, attempt_run = %(run)s, deferred = %(defer)s, "
            "updated_at = clock_timestamp() WHERE campaign = %(c)s AND key = %(key)s AND "
            "worker = %(worker)s AND claim_token = %(token)s AND "
            "(state IN ('claimed', 'sending') OR (state = 'uncertain' AND expired))",
            {"error": _error_value(error), "run": run, "add": int(count_attempt),
             "defer": bool(defer), "c": self._campaign, "key": claim.key,
             "worker": claim.worker, "token": claim.token})

    async def expire_leases(self, *, everyone: bool = False) -> tuple[int, int]:
        """See :meth:`Ledger.expire_leases`. ``everyone=True`` is for an operator who
        knows that no worker of this campaign is alive: live workers' rows would become
        pending (claimed) or uncertain (sending)."""
        rows = await self._execute(
            _EXPIRE,
            {"c": self._campaign, "everyone": bool(everyone),
             "error": _error_value(_LEASE_EXPIRED)})
        return int(rows[0][0]), int(rows[0][1])

    # -- settling and tracking ------------------------------------------------------------

    async def settle(self, key: str, *, call_id: str | None) -> CallOutcome:
        """See :meth:`Ledger.settle`."""
        key, call_id = checked_key(key), checked_call_id(call_id)
        async with self._connection_once() as conn, conn.transaction():
            found = await (await conn.execute(self._sql(
                "SELECT state FROM {s}.campaign_rows WHERE campaign = %s AND key = %s "
                "FOR UPDATE"), (self._campaign, key))).fetchone()
            if found is None:
                raise UnknownRowError(f"no row {key!r} in ledger {self._location}")
            if found[0] != "uncertain":
                raise RowStateError(f"row {key} is {found[0]}, not uncertain; only "
                                    "uncertain rows are settled")
            if call_id is not None:
                query = self._sql(
                    "UPDATE {s}.campaign_rows SET state = 'placed', call_id = %s, "
                    "error = NULL, expired = false, worker = NULL, "
                    f"updated_at = clock_timestamp() WHERE campaign = %s AND key = %s "
                    f"RETURNING {_COLUMNS}")
                params: tuple[Any, ...] = (call_id, self._campaign, key)
            else:
                query = self._sql(
                    "UPDATE {s}.campaign_rows SET state = 'pending', call_id = NULL, "
                    "error = NULL, expired = false, worker = NULL, attempts = 0, "
                    "deferred = false, updated_at = clock_timestamp() "
                    f"WHERE campaign = %s AND key = %s RETURNING {_COLUMNS}")
                params = (self._campaign, key)
            row = await (await conn.execute(query, params)).fetchone()
            assert row is not None
            return _outcome(row)

    async def record_outcome(self, call_id: str, outcome: FinalOutcome) -> str | None:
        """See :meth:`Ledger.record_outcome`."""
        rows = await self._execute(
            "UPDATE {s}.campaign_rows SET result = %s, reason = %s, duration = %s, "
            "debit = %s, currency = %s, updated_at = clock_timestamp() WHERE "
            "campaign = %s AND key = (SELECT key FROM {s}.campaign_rows WHERE "
            "campaign = %s AND call_id = %s AND state = 'placed' ORDER BY position "
            "LIMIT 1) RETURNING key",
            (outcome.result, outcome.reason, outcome.duration, outcome.debit,
             outcome.currency, self._campaign, self._campaign, call_id))
        return str(rows[0][0]) if rows else None

    async def untracked(self, *, batch: int = 500) -> AsyncIterator[tuple[str, str]]:
        """See :meth:`Ledger.untracked`."""
        after: tuple[int, str] = (-1, "")
        while True:
            page = await self._execute(
                "SELECT position, key, call_id FROM {s}.campaign_rows WHERE campaign = %s "
                "AND state = 'placed' AND result IS NULL AND (position, key) > (%s, %s) "
                "ORDER BY position, key LIMIT %s", (self._campaign, *after, batch))
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
        after: tuple[int, str] = (-1, "")
        while True:
            page = await self._execute(
                f"SELECT {_COLUMNS} FROM {{s}}.campaign_rows WHERE campaign = %s AND "
                "(position, key) > (%s, %s) AND (%s::text[] IS NULL OR state = ANY(%s)) "
                "ORDER BY position, key LIMIT %s",
                (self._campaign, *after, wanted, wanted, batch))
            for row in page:
                yield _outcome(row)
            if len(page) < batch:
                return
            after = (page[-1][1], page[-1][0])

    async def get(self, key: str) -> CallOutcome | None:
        """See :meth:`Ledger.get`."""
        key = checked_key(key)
        rows = await self._execute(f"SELECT {_COLUMNS} FROM {{s}}.campaign_rows "
                                   "WHERE campaign = %s AND key = %s", (self._campaign, key))
        return _outcome(rows[0]) if rows else None

    async def counts(self) -> LedgerCounts:
        """See :meth:`Ledger.counts` (one statement: one snapshot)."""
        rows = await self._execute(
            "SELECT 's', state, count(*)::float8 FROM {s}.campaign_rows WHERE campaign = %(c)s "
            "GROUP BY state UNION ALL SELECT 'r', result, count(*) FROM {s}.campaign_rows "
            "WHERE campaign = %(c)s AND result IS NOT NULL GROUP BY result UNION ALL "
            "SELECT 'c', coalesce(currency, ''), sum(debit) FROM {s}.campaign_rows "
            "WHERE campaign = %(c)s AND debit IS NOT NULL GROUP BY currency UNION ALL "
            "SELECT 'u', '', count(*) FROM {s}.campaign_rows WHERE campaign = %(c)s AND "
            "state = 'placed' AND result IS NULL",
            {"c": self._campaign})
        states: dict[RowState, int] = dict.fromkeys(ROW_STATES, 0)
        results: dict[str, int] = {}
        cost: dict[str, float] = {}
        untracked = 0
        for kind, name, value in rows:
            if kind == "s":
                states[name] = int(value)
            elif kind == "r":
                results[name] = int(value)
            elif kind == "c":
                cost[name] = float(value)
            else:
                untracked = int(value)
        return LedgerCounts(states=states, results=results, cost=cost, untracked=untracked)

    # -- pacing -------------------------------------------------------------------------

    async def reserve_start(self, account: str, *, count: int, period: float) -> float:
        """See :meth:`Ledger.reserve_start`: one statement under the account's row lock,
        on the database's clock (shared by every worker and campaign in the database)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError("count", "must be an integer >= 1")
        if period != 0:
            _check_seconds("period", period)
        key = _account_key(account)
        if period == 0:  # unpaced: only a 429's pause applies; no lock, no write
            rows = await self._execute(
                "SELECT paused_until - extract(epoch FROM clock_timestamp()) "
                "FROM {s}.pacing WHERE account = %s", (key,))
            return max(0.0, float(rows[0][0])) if rows else 0.0
        if key not in self._accounts:
            await self._execute("INSERT INTO {s}.pacing (account) VALUES (%s) "
                                "ON CONFLICT (account) DO NOTHING", (key,))
            self._accounts.add(key)
        rows = await self._execute(_RESERVE, {"account": key, "count": count,
                                              "period": float(period)})
        if not rows:  # the row was deleted by hand meanwhile
            self._accounts.discard(key)
            return await self.reserve_start(account, count=count, period=period)
        return max(0.0, float(rows[0][0]))

    async def pause_starts(self, account: str, seconds: float) -> None:
        """See :meth:`Ledger.pause_starts`."""
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                or seconds != seconds:
            raise ValidationError("seconds", "must be a number of seconds")
        await self._execute(
            "INSERT INTO {s}.pacing AS p (account, paused_until) VALUES (%s, "
            "extract(epoch FROM clock_timestamp()) + %s) ON CONFLICT (account) DO UPDATE "
            "SET paused_until = greatest(p.paused_until, excluded.paused_until)",
            (_account_key(account), max(0.0, min(float(seconds), 86400.0))))


# A row remembers the last few runs that loaded it (``load_runs``): workers loading the
# same input at once all find their rows (claim's ``loaded_by``), and a row dropped from
# the input is in none of the next runs.
_KEPT_RUNS: Final = 16
_ADD_RUN: Final = (
    "(CASE WHEN %(run)s::text IS NULL THEN {runs} ELSE ({runs} || %(run)s::text)"
    "[greatest(1, cardinality({runs}) + 2 - " + str(_KEPT_RUNS) + "):] END)")


def _check_seconds(field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e7:
        raise ValidationError(field, "must be a positive number of seconds")


# Recover expired leases of one campaign (%(c)s); %(everyone)s treats all as expired.
# SKIP LOCKED: a row another transaction is changing right now is left to it (its
# holder is alive), and two workers expiring at once never deadlock.
_EXPIRE_CTES: Final = (
    "stale AS (SELECT key, state FROM {s}.campaign_rows WHERE campaign = %(c)s AND "
    " state IN ('claimed', 'sending') AND (%(everyone)s OR lease_until < clock_timestamp())"
    " FOR UPDATE SKIP LOCKED), "
    "to_pending AS (UPDATE {s}.campaign_rows r SET state = 'pending', worker = NULL,"
    " claim_token = NULL, lease_until = NULL, updated_at = clock_timestamp() FROM stale"
    " WHERE r.campaign = %(c)s AND r.key = stale.key AND stale.state = 'claimed'"
    " RETURNING 1), "
    "to_uncertain AS (UPDATE {s}.campaign_rows r SET state = 'uncertain', expired = true,"
    " lease_until = NULL, error = %(error)s, updated_at = clock_timestamp() FROM stale"
    " WHERE r.campaign = %(c)s AND r.key = stale.key AND stale.state = 'sending'"
    " RETURNING 1)")
_EXPIRE: Final = (f"WITH {_EXPIRE_CTES} SELECT (SELECT count(*) FROM to_pending), "
                  "(SELECT count(*) FROM to_uncertain)")

# Pacing lives in an UNLOGGED table: a reservation commits without waiting for the WAL
# to reach the disk, so the account's row lock is held for microseconds, not for an
# fsync (which would cap every worker together at one start per fsync). A database
# crash forgets the last second of reservations, nothing more.
# The sliding window of pacing.SlidingWindow, in SQL: the k-th start is at least
# ``period`` after the (k-count)-th, starts never go backwards, none inside a pause.
# ``starts`` keeps the last ``keep`` start times (the largest count seen). One UPDATE:
# concurrent reservations queue on the account's row lock, and each one is computed
# from the row as the previous one left it (READ COMMITTED re-reads the updated row).
_AT: Final = (
    "greatest(extract(epoch FROM clock_timestamp())::float8, p.paused_until,"
    " p.starts[cardinality(p.starts)],"
    " CASE WHEN cardinality(p.starts) >= %(count)s"
    " THEN p.starts[cardinality(p.starts) - %(count)s + 1] + %(period)s END)")
_RESERVE: Final = (
    "UPDATE {s}.pacing p SET keep = greatest(p.keep, %(count)s),"
    f" starts = (p.starts || {_AT})"
    "[greatest(1, cardinality(p.starts) + 2 - greatest(p.keep, %(count)s)):]"
    " WHERE p.account = %(account)s"
    " RETURNING p.starts[cardinality(p.starts)] - extract(epoch FROM clock_timestamp())")
