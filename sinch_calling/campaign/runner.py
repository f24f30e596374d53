"""The campaign runner: preflight, then dial every pending row once, then report.

See :class:`Campaign`. The runner keeps no per-row state in memory: rows stream from
the input into the ledger in batches, workers claim a few rows at a time, and results
are read back from the ledger page by page. The workers' writes go to the ledger in
batches too (:class:`_Writes`): the rows about to be sent in one durable write, the
answers in another, one of each in flight at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import socket
import tempfile
import time
import uuid
from collections import deque
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
    Sized,
)
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from ..client import SinchCalling
from ..errors import (
    ApiError,
    AuthenticationError,
    ClientClosedError,
    InvalidResponseError,
    RateLimitedError,
    RedirectError,
    ServerError,
    TransportError,
    ValidationError,
)
from ..events import DisconnectedCallEvent
from ..retry import RetryPolicy
from ..webhooks import CallbackRouter
from .export import export_results
from .ledger import (
    Ledger,
    LedgerError,
    LedgerMismatchError,
    LedgerNotFoundError,
    identity_differences,
)
from .pacing import spacing_for_rate, window_for_rate
from .preflight import RowChecker, to_input_row
from .records import (
    AnsweredState,
    CallError,
    CallOutcome,
    CampaignIdentity,
    Claim,
    NewRow,
    RowResult,
    RowState,
    make_row_result,
)
from .report import CampaignReport
from .sqlite import SQLiteLedger
from .templates import (
    ConferenceTemplate,
    CustomTemplate,
    PlaceCall,
    Template,
    TtsTemplate,
)
from .tracking import Tracker, outcome_from_event

__all__ = ["Campaign", "open_ledger"]

logger = logging.getLogger("sinch_calling.campaign")
_T = TypeVar("_T")

_LOAD_BATCH = 1000
_YIELD_EVERY = 200  # rows checked between two turns of the event loop (a few ms)
_MAX_CONCURRENCY = 10_000  # one task each; far above what any account's rate allows
_FIRST_FAILURES = 10  # the run stops when its first calls are all refused alike
_DRAINED = 0.1  # seconds between claims while the pending rows look used up
_MAX_LEAD = 1.0  # seconds a paced row may be marked sending before its start slot
_MIN_LEASE = 1.0  # seconds; a run renews its leases every third of the lease
_STOP_TIMEOUT = 30.0  # seconds a graceful stop waits for calls in flight, at least
_END: Final = object()  # no first item: the input is empty (a None item is not)


def open_ledger(ledger: str | os.PathLike[str] | Ledger | None) -> Ledger:
    """The :class:`Ledger` for a ``ledger=`` value (not opened yet): a path -> an SQLite
    file; ``"postgresql://..."`` -> the PostgreSQL ledger (module
    ``sinch_calling.campaign.postgres``); ``None`` -> an SQLite ledger in memory; a
    :class:`Ledger` -> itself."""
    if ledger is None:
        return SQLiteLedger(None)
    if isinstance(ledger, str | os.PathLike):
        text = os.fspath(ledger)
        if text.startswith(("postgresql://", "postgres://")):
            try:
                from . import postgres  # type: ignore[attr-defined, unused-ignore]
            except ImportError:
                raise ValidationError("ledger", "PostgreSQL ledgers need the module "
                                                "sinch_calling.campaign.postgres (not "
                                                "installed in this version)") from None
            return postgres.PostgresLedger(text)  # type: ignore[no-any-return, unused-ignore]
        if not text.strip():
            raise ValidationError("ledger", "must be a file path, a postgresql:// URL, "
                                            "a Ledger or None")
        return SQLiteLedger(text)
    if isinstance(ledger, Ledger):
        return ledger
    raise ValidationError("ledger", "must be a file path, a postgresql:// URL, a Ledger "
                                    f"or None; got {type(ledger).__name__}")


def _positive(field: str, value: object, *, integer: bool = False,
              zero: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) \
            or not (value >= 0 if zero else value > 0) or value != value:
        rule = "an integer" if integer else "a number"
        raise ValidationError(field, f"must be {rule} {'>= 0' if zero else '> 0'}; "
                                     f"got {value!r}")


def _maybe_sent(exc: BaseException) -> bool:
    """Whether the request that raised ``exc`` may have reached Sinch (and a call may
    have been placed): the error's own ``maybe_sent`` where it has one; otherwise only a
    definite 4xx refusal (not a redirect) counts as not placed."""
    maybe = getattr(exc, "maybe_sent", None)
    if isinstance(maybe, bool):
        return maybe
    if isinstance(exc, RedirectError):
        return exc.status not in (307, 308)  # a 307/308 says the server did not act
    if isinstance(exc, ApiError):
        return not 400 <= exc.status < 500
    return not isinstance(exc, ValidationError)


def _error_of(exc: BaseException) -> CallError:
    if isinstance(exc, ApiError):
        kind = ("authentication" if isinstance(exc, AuthenticationError) else
                "rate_limited" if isinstance(exc, RateLimitedError) else
                "redirect" if isinstance(exc, RedirectError) else
                "server" if isinstance(exc, ServerError) else
                "not_found" if exc.status == 404 else "bad_request")
        return CallError(kind=kind, message=exc.message or str(exc), status=exc.status,
                         code=exc.error_code)
    if isinstance(exc, InvalidResponseError):
        return CallError(kind="invalid_response", message=str(exc), status=exc.status)
    if isinstance(exc, TransportError):
        return CallError(kind="transport", message=str(exc))
    if isinstance(exc, ValidationError):
        return CallError(kind="validation", message=str(exc))
    return CallError(kind="unexpected", message=f"{type(exc).__name__}: {exc}")


_ABORT_WRITES: Final = 5.0
"""Seconds an aborted run still gives the ledger to record answers already received."""


async def _shielded(work: Awaitable[_T]) -> _T:
    """``await asyncio.shield(work)``; when the caller is cancelled meanwhile and the
    work then fails (a ledger closed under it), its error is still retrieved and
    logged, not left to asyncio's "Task exception was never retrieved"."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_retrieve)
    return await asyncio.shield(task)


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.debug("shielded ledger work failed: %r", task.exception())


async def _through_cancellation(work: Awaitable[None], bound: float) -> None:
    """``await work``, finished even if this task is cancelled meanwhile, any number of
    times (for at most ``bound`` seconds after the first cancellation, then left to
    finish on its own); the cancellation is raised afterwards."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(work)
    task.add_done_callback(_retrieve)
    deadline: float | None = None  # set by the first cancellation
    while not task.done():
        try:
            if deadline is None:
                await asyncio.shield(task)
            else:
                await asyncio.wait_for(asyncio.shield(task), max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            if deadline is None:
                deadline = loop.time() + bound
        except TimeoutError:
            break
        except Exception:
            break  # its error is logged by _retrieve; the caller goes on
    if deadline is not None:
        raise asyncio.CancelledError


class _Writes:
    """The ledger writes of one run's workers, batched: every claim about to be sent
    goes to ``mark_sending_many`` with the others queued meanwhile (durable before any
    of them is sent), every answer to ``mark_results`` likewise (the worker does not
    wait: ``recorded`` gets the answers once they are written, or the error). One batch
    is in flight at a time, both calls issued together (one transaction of an SQLite
    ledger); what is queued meanwhile goes in the next, so batches grow with the load
    and one commit serves many rows."""

    def __init__(self, ledger: Ledger, recorded: Callable[
            [list[RowResult], Sequence[bool] | BaseException], None]) -> None:
        self._ledger = ledger
        self._recorded = recorded
        self._loop = asyncio.get_running_loop()
        self._sending: list[Claim] = []
        self._waiting: list[asyncio.Future[bool]] = []
        self._results: list[RowResult] = []
        self._writer: asyncio.Task[None] | None = None

    def sending(self, claim: Claim) -> asyncio.Future[bool]:
        """``True`` once the claim's row is durably ``sending``; ``False`` when the
        claim lost it (do not send); the ledger's error if the write failed."""
        waiter: asyncio.Future[bool] = self._loop.create_future()
        self._sending.append(claim)
        self._waiting.append(waiter)
        if self._writer is None:
            self._writer = self._loop.create_task(self._write())
        return waiter

    def result(self, result: RowResult) -> None:
        """Queue one answer for the ledger."""
        self._results.append(result)
        if self._writer is None:
            self._writer = self._loop.create_task(self._write())

    async def drain(self) -> None:
        """Wait until everything queued so far is written (or failed)."""
        while self._writer is not None:
            await asyncio.wait([self._writer])

    async def _write(self) -> None:
        claims: list[Claim] = []
        waiting: list[asyncio.Future[bool]] = []
        results: list[RowResult] = []
        try:
            while self._sending or self._results:
                claims, waiting, results = self._sending, self._waiting, self._results
                self._sending, self._waiting, self._results = [], [], []
                marked, written = await asyncio.gather(
                    self._ledger.mark_sending_many(claims) if claims else _nothing(),
                    self._ledger.mark_results(results) if results else _nothing(),
                    return_exceptions=True)
                for waiter, ok in _each(waiting, marked):
                    if waiter.done():  # a worker cancelled meanwhile releases its row
                        continue
                    if isinstance(ok, asyncio.CancelledError):
                        waiter.cancel()
                    elif isinstance(ok, BaseException):
                        waiter.set_exception(ok)
                    else:
                        waiter.set_result(ok)
                if results:
                    self._recorded(results, written)
                claims, waiting, results = [], [], []
        except BaseException as exc:
            for waiter in waiting + self._waiting:
                waiter.cancel()
            if results or self._results:
                self._recorded(results + self._results, exc)
            self._sending, self._waiting, self._results = [], [], []
            raise
        finally:
            self._writer = None


async def _nothing() -> list[bool]:
    return []


def _each(waiting: list[asyncio.Future[bool]], marked: Sequence[bool] | BaseException
          ) -> Iterable[tuple[asyncio.Future[bool], bool | BaseException]]:
    if isinstance(marked, BaseException):
        return ((waiter, marked) for waiter in waiting)
    return zip(waiting, marked, strict=True)


class _Dial:
    """The state of one run's dialling, shared by its workers."""

    def __init__(self, report: CampaignReport, run: str, worker: str) -> None:
        self.report = report
        self.run = run
        self.worker = worker
        self.buffer: deque[Claim] = deque()
        self.claim_lock = asyncio.Lock()
        self.changed = asyncio.Event()
        self.stopping = asyncio.Event()  # set once, by stop(): ends pacing waits
        self.in_flight = 0
        self.stop_reason: str | None = None
        self.pause_end = 0.0          # monotonic end of the last 429/unreachable pause
        self.last_start = -math.inf   # monotonic time of this run's last paced start
        # Seconds a ``sending`` mark takes (moving average), first assumed long: a row
        # that misses its slot waits for a new one behind every slot already reserved.
        self.commit = _MAX_LEAD / 1.5
        self.streak = 0               # pauses in a row with nothing placed in between
        self.first_failures: list[tuple[int | None, int | None]] = []
        self.placed_any = False       # a call was placed in this run (recorded or not)
        self.tracker: Tracker | None = None
        self.waiting_dice: set[str] = set()
        self.unwritten: set[str] = set()  # placed (DiCE expected), not in the ledger yet
        self.written: asyncio.Future[None] | None = None  # resolved by the next write
        self.held_elsewhere = False   # other workers held rows at the last look
        self.held_checked = -math.inf  # monotonic time of that look
        self.unclaimable = 0          # pending rows for this run nobody could claim
        self.unclaimable_since: float | None = None
        self.drained_at: float | None = None  # a claim found fewer rows than asked
        self.idle_claim = False       # ... none, while this run held none
        self.finished = False         # nothing left to claim, and nothing in flight
        self.any_pending = False      # run([]): a worker of a shared campaign
        self.ledger_error: Exception | None = None  # raised by run() at the end
        self.orphaned: list[asyncio.Future[Sequence[Claim]]] = []  # see Campaign._claim
        self.writes: _Writes

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            logger.warning("campaign stopping: %s", reason)
        self.stopping.set()
        self.changed.set()

    async def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if the run is stopped meanwhile (a paced worker
        waiting for its slot learns of a graceful stop at once, not at the slot)."""
        if seconds > 0 and not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)


class Campaign:
    """Calls every row of an input once, at a bounded rate, with a ledger that never lies.

    ``place``: :meth:`tts`, :meth:`conference`, or any ``async (sinch, row) -> call_id``
    (``row`` a :class:`~sinch_calling.campaign.templates.CampaignRow`).
    ``rate``: calls started in any one-second window, at most (``None``: unpaced); the
    window is widened by ``pacing_margin`` seconds for the jitter between here and Sinch,
    and starts are spaced evenly within it (one every ``(1 + pacing_margin) / rate``
    seconds, for ``rate >= 1``), never in bursts.
    ``concurrency``: calls in flight at most, and at most the client's
    ``max_connections`` (a larger value is lowered to it, with a warning: a row waiting
    for a connection would be marked sending already). ``ledger``: an SQLite file path,
    ``"postgresql://..."``, a :class:`~sinch_calling.campaign.ledger.Ledger`, or
    ``None`` (memory: nothing survives the process, and nothing warns a rerun).
    ``track``: follow placed calls until FINAL by polling ``calls.get``; ``events``: a
    :class:`~sinch_calling.webhooks.CallbackRouter` whose DiCE callbacks record outcomes
    instead (the campaign registers its DiCE handler; callouts ask for DiCE).
    ``number_column``/``id_column``: the input's destination column and its optional
    stable-identity column (without one, a row's identity is its E.164 number, never
    its position: reruns on an edited list match each number to its own state).
    ``retry_failed``: dial rows Sinch refused in earlier runs again. ``force``: reuse
    a ledger made for different options.
    ``max_requeues``: times one row goes back to pending after a 429 or a refused
    connection in one run (then it is left for the next run); the same number of pauses
    in a row with nothing placed stops the run. ``max_retry_after``: cap on a 429's
    ``Retry-After`` (default: the client's ``RetryPolicy.max_retry_after``);
    ``backoff``: first pause when Sinch gives none, doubling while 429s continue.
    ``stop_timeout``: seconds a graceful stop waits for calls in flight (default: the
    client's ``timeout`` plus 5 s, at least 30 s: every call in flight has ended by
    then, answered or timed out). ``on_outcome``:
    called with each row's :class:`CallOutcome` as this run decides it (progress).

    Raises :class:`~sinch_calling.errors.ValidationError` for a bad option, naming it.
    """

    def __init__(
        self,
        sinch: SinchCalling,
        place: Template | PlaceCall,
        *,
        rate: float | None = None,
        concurrency: int = 32,
        ledger: str | os.PathLike[str] | Ledger | None = None,
        track: bool = False,
        events: CallbackRouter | None = None,
        number_column: str = "number",
        id_column: str | None = "id",
        retry_failed: bool = False,
        force: bool = False,
        max_requeues: int = 5,
        max_retry_after: float | None = None,
        backoff: float = 1.0,
        stop_timeout: float | None = None,
        pacing_margin: float = 0.05,
        lease: float = 120.0,
        on_outcome: Callable[[CallOutcome], None] | None = None,
        max_problems: int = 100,
        track_concurrency: int = 4,
        track_rate: float = 10.0,
        track_first_poll: float = 5.0,
        track_max_interval: float = 60.0,
        track_timeout: float = 3600.0,
    ) -> None:
        if not isinstance(sinch, SinchCalling):
            raise ValidationError("sinch", "must be a SinchCalling client")
        self._template = place if isinstance(place, Template) else CustomTemplate(place)
        if rate is not None:
            # Starts are spaced evenly, one per period/count seconds (a window of one):
            # still at most ``count`` in any ``period``, but never ``count`` at once,
            # whose sends (and ``sending`` marks) would bunch up beyond the margin on a
            # slow machine and arrive more than ``rate`` in one second.
            self._spacing = spacing_for_rate(rate, pacing_margin)
            # Local starts, at least: half the margin is left for the wake-ups' jitter.
            self._apart = spacing_for_rate(rate, pacing_margin / 2)
        else:
            window_for_rate(1, pacing_margin)  # checks the margin
            self._spacing = self._apart = 0.0  # only a 429's pause applies
        self._late = float(pacing_margin) / 2
        _positive("concurrency", concurrency, integer=True)
        if concurrency > _MAX_CONCURRENCY:
            raise ValidationError("concurrency", f"must be at most {_MAX_CONCURRENCY}; "
                                                 f"got {concurrency}")
        _positive("max_requeues", max_requeues, integer=True, zero=True)
        _positive("backoff", backoff)
        if stop_timeout is None:
            # Long enough for every call in flight to end by the client's own timeout.
            total = getattr(getattr(sinch, "timeout", None), "total", None)
            stop_timeout = max(_STOP_TIMEOUT, float(total) + 5.0) \
                if isinstance(total, int | float) else _STOP_TIMEOUT
        _positive("stop_timeout", stop_timeout, zero=True)
        _positive("lease", lease)
        if lease < _MIN_LEASE:
            raise ValidationError("lease", f"must be at least {_MIN_LEASE:g} s (a run renews "
                                           f"its leases every third of it); got {lease!r}")
        if on_outcome is not None and not callable(on_outcome):
            raise ValidationError("on_outcome", "must be a callable taking a CallOutcome, "
                                                f"or None; got {type(on_outcome).__name__}")
        _positive("max_problems", max_problems, integer=True, zero=True)
        for name, value in (("track_concurrency", track_concurrency),):
            _positive(name, value, integer=True)
        for name, number in (("track_rate", track_rate), ("track_first_poll",
                             track_first_poll), ("track_max_interval", track_max_interval),
                             ("track_timeout", track_timeout)):
            _positive(name, number, zero=name == "track_first_poll")
        if max_retry_after is None:
            policy = getattr(getattr(sinch, "_transport", None), "retry", None)
            max_retry_after = (policy if isinstance(policy, RetryPolicy)
                               else RetryPolicy()).max_retry_after
        _positive("max_retry_after", max_retry_after, zero=True)
        for name, flag in (("track", track), ("retry_failed", retry_failed),
                           ("force", force)):
            if not isinstance(flag, bool):
                raise ValidationError(name, f"must be True or False; got {flag!r}")
        if not isinstance(number_column, str) or not number_column.strip():
            raise ValidationError("number_column", "must be a column name")
        if id_column is not None and (not isinstance(id_column, str) or not id_column.strip()):
            raise ValidationError("id_column", "must be a column name or None")
        if events is not None and not isinstance(events, CallbackRouter):
            raise ValidationError("events", "must be a CallbackRouter or None")
        self._sinch = sinch
        self._rate = rate
        connections = getattr(sinch, "max_connections", None)
        if isinstance(connections, int) and concurrency > connections:
            # A worker past the client's connections would mark its row sending, then
            # wait for a connection: stopped or killed there, the row is uncertain
            # though it never left. More workers than connections place nothing faster.
            logger.warning("concurrency %d is over the client's max_connections %d: "
                           "using %d (raise max_connections for more)", concurrency,
                           connections, connections)
            concurrency = connections
        self._concurrency = concurrency
        self._ledger_spec = ledger
        self._ledger = open_ledger(ledger)
        self._memory = ledger is None
        self._memory_open = False
        self._track = track or events is not None
        self._events = events
        self._number_column = number_column.strip()
        self._id_column = None if id_column is None else id_column.strip()
        self._retry_failed = retry_failed
        self._force = force
        self._max_requeues = max_requeues
        self._max_retry_after = float(max_retry_after)
        self._backoff = float(backoff)
        self._stop_timeout = float(stop_timeout)
        self._lease = float(lease)
        self._on_outcome = on_outcome
        self._max_problems = max_problems
        self._tracking: dict[str, float] = {"concurrency": track_concurrency, "rate": track_rate,
                              "first_poll": track_first_poll, "max_interval": track_max_interval,
                              "timeout": track_timeout}
        self._dial: _Dial | None = None
        self._running = False  # run() holds the ledger open: results and settle use it
        self._stop_requested: str | None = None
        if events is not None:
            events.dice(self.record_dice)

    # -- templates ------------------------------------------------------------------------

    @staticmethod
    def tts(**options: Any) -> TtsTemplate:
        """A text-to-speech callout per row (options of ``sinch.callouts.tts``: ``text``
        or ``prompts`` with ``{column}`` placeholders, ``cli``, ``locale``, ``dtmf``,
        ``domain``, ``custom``, ``enable_ace``/``enable_dice``/``enable_pie``, and
        ``max_text_length`` (default 600, Sinch's default cap; ``None``: unchecked)).
        Rows may override ``text``, ``prompts``, ``cli``, ``locale``, ``dtmf`` and
        ``custom`` in columns of those names. Raises ``ValidationError`` at once for a
        bad option."""
        return TtsTemplate(**options)

    @staticmethod
    def conference(conference_id: str, **options: Any) -> ConferenceTemplate:
        """A conference callout into ``conference_id`` per row (options of
        ``sinch.callouts.conference``; ``greeting`` may hold ``{column}`` placeholders;
        rows may override ``greeting``, ``cli``, ``locale``, ``dtmf``, ``custom``)."""
        return ConferenceTemplate(conference_id, **options)

    # -- identity -------------------------------------------------------------------------

    @property
    def identity(self) -> CampaignIdentity:
        """This campaign's identity (template options, number and id columns)."""
        options = {**self._template.options, "number_column": self._number_column,
                   "id_column": self._id_column}
        text = json.dumps(options, sort_keys=True, default=str, separators=(",", ":"))
        return CampaignIdentity(fingerprint=hashlib.sha256(text.encode()).hexdigest(),
                                options=json.loads(text))

    @property
    def ledger(self) -> Ledger:
        """The campaign's ledger (opened by :meth:`run`, :meth:`results`, ...)."""
        return self._ledger

    # -- lifecycle --------------------------------------------------------------------------

    async def close(self) -> None:
        """Close an in-memory ledger (its rows are gone). File ledgers are closed after
        each operation already."""
        if self._memory_open:
            self._memory_open = False
            await self._ledger.close()

    async def __aenter__(self) -> Campaign:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _open(self, identity: CampaignIdentity | None) -> None:
        if self._memory:
            if not self._memory_open:
                await self._ledger.open(self.identity, force=self._force)
                self._memory_open = True
            return
        await self._ledger.open(identity, force=self._force)

    async def _close(self) -> None:
        if not self._memory:
            await self._ledger.close()

    def stop(self, reason: str = "stopped") -> None:
        """Ask a running :meth:`run` to stop gracefully: no new call starts, calls in
        flight get their answers recorded, the report is returned."""
        self._stop_requested = reason
        if self._dial is not None:
            self._dial.stop(reason)

    # -- running --------------------------------------------------------------------------

    async def preflight(self, rows: Iterable[Any] | AsyncIterable[Any]) -> CampaignReport:
        """A dry run: check the options and every row, dial nothing, write nothing to
        the campaign's ledger. The report counts ``invalid`` rows (with their line and
        reason in ``problems``), ``skipped`` duplicates and ``pending`` rows (from the
        input alone). When the campaign's ledger exists already, it is read: a ledger
        of other options raises ``LedgerMismatchError`` as the run would (unless
        ``force``), and ``ledger_decided`` and ``earlier_uncertain`` count the rows
        earlier runs decided (a run does not dial those again)."""
        return await self.run(rows, dry_run=True)

    async def run(self, rows: Iterable[Any] | AsyncIterable[Any], *,
                  dry_run: bool = False) -> CampaignReport:
        """Preflight every row into the ledger, dial every pending row once, and return
        the :class:`CampaignReport`. Failures of single calls never raise.

        ``rows``: an (async) iterable of numbers (``str``), mappings (CSV rows) or
        :class:`~sinch_calling.campaign.rows.InputRow` (from
        :func:`~sinch_calling.campaign.rows.read_rows`). ``dry_run``: see
        :meth:`preflight`. Only rows of this input are dialled: a row an earlier run
        loaded that the input no longer has (a number removed from the list) stays as it
        is in the ledger. An input that turns out empty (a consumed generator, a file
        with only a header) dials nothing and says so in the report; only an explicitly
        empty collection (``run([])``) makes this run a worker of a shared campaign,
        dialling any pending row (what a Celery share does).

        Raises before anything is written: ``ValidationError`` (bad rows argument, no
        number column, a placeholder naming no column),
        :class:`~sinch_calling.campaign.ledger.LedgerMismatchError` (the ledger belongs
        to other options), ``LedgerCorruptError``, ``LedgerBusyError``. Input that
        fails part-way (a file with bytes that are not UTF-8 at line 2,730) raises its
        ``ValidationError`` before anything is dialled; the rows read before it are in
        the ledger as pending, and a rerun of the fixed file takes them as its own.

        A first cancellation (Ctrl-C) stops gracefully: no new call, calls in flight
        are waited for (``stop_timeout``) and recorded, and the report is returned with
        ``stopped="interrupted"``. A second cancellation aborts: calls still in flight
        are recorded as uncertain and ``CancelledError`` propagates.
        """
        if isinstance(rows, str | bytes) or not isinstance(rows, Iterable | AsyncIterable):
            raise ValidationError("rows", "must be an iterable of numbers or of mappings "
                                          "(one string is not a list of numbers)")
        items = _aiter(rows)
        any_pending = isinstance(rows, Sized) and len(rows) == 0
        try:
            return await self._run(items, dry_run, any_pending=any_pending)
        finally:
            await items.aclose()

    async def _run(self, items: AsyncIterator[Any], dry_run: bool, *,
                   any_pending: bool = False) -> CampaignReport:
        report = CampaignReport(dry_run=dry_run, max_problems=self._max_problems)
        started = time.perf_counter()
        first = await anext(items, _END)
        checker = RowChecker(self._template, number_column=self._number_column,
                             id_column=self._id_column)
        if first is not _END:
            checker.check_columns(to_input_row(first, self._number_column))
        run_id = uuid.uuid4().hex
        if dry_run:
            existing = await self._compare_ledger(report)
            with tempfile.TemporaryDirectory(prefix="sinch-preflight-") as scratch:
                scratch_ledger = SQLiteLedger(Path(scratch) / "preflight.db", durable=False)
                await scratch_ledger.open(self.identity)
                try:
                    report.ledger = self._ledger.location if existing else "(dry run)"
                    await self._load(scratch_ledger, checker, first, items, report, run_id)
                    report.totals = await scratch_ledger.counts()
                    report.pending = report.totals.states["pending"]
                finally:
                    await scratch_ledger.close()
            self._warn_empty(report)
            report.elapsed = time.perf_counter() - started
            return report
        await self._open(self.identity)
        ledger = self._ledger
        report.ledger = ledger.location
        self._running = True
        try:
            try:
                await self._load(ledger, checker, first, items, report, run_id)
            except asyncio.CancelledError:
                # Stopped while reading the input: nothing was dialled; report it (a
                # second cancellation is an abort: it propagates).
                report.stopped = "interrupted"
                current = asyncio.current_task()
                if current is not None:
                    if current.cancelling() > 1:
                        raise
                    current.uncancel()
            if report.stopped is None:
                await self._run_dial(ledger, report, run_id, any_pending=any_pending)
            totals = await ledger.counts()
        finally:
            self._running = False
            await self._close()
        report.totals = totals
        report.pending = totals.states["pending"]
        report.earlier_uncertain = max(0, totals.states["uncertain"] - report.uncertain)
        report.elapsed = time.perf_counter() - started
        self._warn_empty(report)
        for line in report.lines():
            logger.info("%s", line)
        return report

    async def _compare_ledger(self, report: CampaignReport) -> bool:
        """A dry run on a campaign whose ledger exists already: refuse as the run would
        (:class:`LedgerMismatchError` when it belongs to other options, unless
        ``force``), and count in the report what earlier runs decided (a run does not
        dial those rows again). Whether a ledger was there: none yet (or one in memory)
        is no error. Writes no row (an old ledger's schema is brought up to date, as
        any look at it does)."""
        if self._memory:
            return False
        try:
            await self._ledger.open(None)
        except LedgerNotFoundError:
            return False
        try:
            stored = await self._ledger.identity()
            counts = await self._ledger.counts()
        finally:
            await self._ledger.close()
        identity = self.identity
        if stored is not None and stored.fingerprint != identity.fingerprint \
                and not self._force:
            raise LedgerMismatchError(self._ledger.location, identity_differences(
                stored.options, identity.options))
        states = counts.states
        # A run killed mid-call left rows sending: the next run finds them uncertain.
        uncertain = states["uncertain"] + states["sending"]
        report.ledger_decided = states["placed"] + uncertain + (
            0 if self._retry_failed else states["failed"])
        report.earlier_uncertain = uncertain
        return True

    @staticmethod
    def _warn_empty(report: CampaignReport) -> None:
        # No rows and no call is never a silent success (a generator an earlier run
        # consumed gives no rows). A worker given no rows that dialled a shared
        # campaign's pending rows did its job: no warning.
        if report.rows == 0 and not (report.placed or report.failed or report.uncertain):
            report.warn("the input was empty: nothing was dialled (an iterator or "
                        "generator an earlier run consumed gives no rows)")

    def _emit(self, outcome: CallOutcome) -> None:
        if self._on_outcome is not None:
            try:
                self._on_outcome(outcome)
            except Exception:
                logger.exception("on_outcome failed for row %s", outcome.row)

    async def _load(self, ledger: Ledger, checker: RowChecker, first: Any,
                    items: AsyncIterator[Any], report: CampaignReport, run: str) -> None:
        if first is _END:
            return
        by_number = not checker.uses_ids
        batch: list[NewRow] = [checker.check_item(first, 0)]
        position = 1
        loading: asyncio.Future[None] | None = None  # a batch on its way into the ledger
        exhausted = False

        async def load(full: list[NewRow]) -> None:
            nonlocal loading
            loading = asyncio.ensure_future(self._load_batch(ledger, full, report, run,
                                                             by_number=by_number))
            await asyncio.shield(loading)  # cancelled, it still lands (and is counted)
            loading = None

        try:
            async for item in items:
                batch.append(checker.check_item(item, position))
                position += 1
                if not position % _YIELD_EVERY:
                    await asyncio.sleep(0)  # let calls in flight be answered meanwhile
                if len(batch) >= _LOAD_BATCH:
                    full, batch = batch, []
                    await load(full)
            exhausted = True
            if batch:
                full, batch = batch, []
                await load(full)
        except asyncio.CancelledError:
            # The rows read so far are recorded (a rerun dials them) and counted: the
            # batch under way is waited for, not loaded twice; however many more
            # cancellations come, for a few seconds at most.
            async def record(underway: asyncio.Future[None] | None) -> None:
                if underway is not None:
                    await underway
                if batch:
                    await self._load_batch(ledger, batch, report, run, by_number=by_number)

            try:
                await _through_cancellation(record(loading), _ABORT_WRITES)
            finally:
                if not exhausted:
                    report.warn(f"stopped while reading the input, after {report.rows} "
                                "rows: the rows after them were not read (a rerun reads "
                                "them)")
            raise

    async def _load_batch(self, ledger: Ledger, batch: list[NewRow], report: CampaignReport,
                          run: str, *, by_number: bool = False) -> None:
        loaded = await ledger.load(batch, retry_failed=self._retry_failed, run=run)
        again: list[NewRow] = []
        for new, row in zip(batch, loaded, strict=True):
            if row.error is not None and row.error.kind == "duplicate_id":
                key = await self._own_key(ledger, new)
                if by_number and new.key == new.destination:
                    # The same number again (keys are numbers): skipped as a duplicate
                    # of the row holding it, under a key of its own.
                    # An invalid row stays invalid (its own reason), never pending.
                    again.append(NewRow(key=key, position=new.position, line=new.line,
                                        destination=new.destination, data=new.data,
                                        state=new.state, error=new.error))
                    continue
                again.append(NewRow(key=key, position=new.position, line=new.line,
                                    destination=new.destination, data=new.data,
                                    state="invalid", error=row.error))
                continue
            self._count_loaded(new, row.state, row.error, report)
        if again:
            reloaded = await ledger.load(again, retry_failed=self._retry_failed, run=run)
            for new, row in zip(again, reloaded, strict=True):
                self._count_loaded(new, row.state, row.error, report)
        report.rows += len(batch)

    @staticmethod
    async def _own_key(ledger: Ledger, new: NewRow) -> str:
        """A key of its own for a row whose key repeats an earlier row's: ``KEY#N`` (N
        its row number), with ``#N`` added again while another row of the input holds
        that key (an id column may hold ``1#3`` itself: the row there must not be
        overwritten). A rerun finds the same key: it is held by this very row."""
        key = f"{new.key}#{new.position + 1}"
        while (held := await ledger.get(key)) is not None and held.position != new.position:
            key = f"{key}#{new.position + 1}"
        return key

    def _count_loaded(self, new: NewRow, state: RowState, error: CallError | None,
                      report: CampaignReport) -> None:
        if state in ("pending", "uncertain") and (error is None or error.kind != "changed"):
            return  # pending (dialled below) or uncertain (reported from the totals)
        outcome = CallOutcome(row=new.key, position=new.position, line=new.line,
                              destination=new.destination, status=state, error=error)
        if state == "invalid":
            report.invalid += 1
            report.problem(outcome)
        elif error is not None and error.kind == "changed":
            # The input gives this id another number than the one already dialled:
            # never silent (the ledger keeps what happened; the new number is not
            # dialled under this id).
            report.skipped += 1
            report.changed += 1
            report.problem(outcome)
            logger.warning("row %s: %s", new.key, error.message)
        else:
            report.skipped += 1  # skipped (a duplicate), placed, failed, claimed, sending
            report.duplicates += state == "skipped"
        self._emit(outcome)

    # -- dialling -------------------------------------------------------------------------

    async def _run_dial(self, ledger: Ledger, report: CampaignReport, run: str, *,
                        any_pending: bool = False) -> None:
        worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        dial = _Dial(report, run, worker)
        dial.any_pending = any_pending
        dial.writes = _Writes(ledger, lambda results, written:
                              self._recorded(dial, results, written))
        self._dial = dial
        if self._stop_requested is not None:
            dial.stop(self._stop_requested)
        background: list[asyncio.Task[Any]] = []
        tracker_task: asyncio.Task[None] | None = None
        if self._track and self._events is None:
            t = self._tracking
            dial.tracker = Tracker(self._sinch, ledger, concurrency=int(t["concurrency"]),
                                   rate=t["rate"], first_poll=t["first_poll"],
                                   max_interval=t["max_interval"], timeout=t["timeout"])
            tracker_task = asyncio.create_task(dial.tracker.run())
            background.append(asyncio.create_task(dial.tracker.resume(ledger.untracked())))
        background.append(asyncio.create_task(self._heartbeat(ledger, dial)))
        workers = [asyncio.create_task(self._work(ledger, dial))
                   for _ in range(self._concurrency)]
        try:
            try:
                await self._wait_workers(workers, dial)
            finally:
                # Every answer is recorded before the run ends, even when aborted (a
                # second cancellation included: answers already received are written,
                # for at most _ABORT_WRITES seconds, before the ledger closes).
                await _through_cancellation(dial.writes.drain(), _ABORT_WRITES)
            if dial.tracker is not None and tracker_task is not None:
                dial.tracker.close()
                await self._wait_tracking(tracker_task, dial)
            elif self._events is not None and dial.waiting_dice:
                await self._wait_dice(dial)
        finally:
            dial.report.stopped = dial.stop_reason
            self._dial = None
            self._stop_requested = None
            for task in background:
                task.cancel()
            if tracker_task is not None and not tracker_task.done():
                assert dial.tracker is not None
                dial.tracker.stop()
                tracker_task.cancel()
            if tracker_task is not None:
                background.append(tracker_task)
            await asyncio.gather(*background, return_exceptions=True)
            # Claimed rows this run never sent are pending again, even when it was
            # cancelled once more meanwhile (else their leases run out instead).
            await _through_cancellation(self._release_buffered(ledger, dial),
                                        _ABORT_WRITES)
        if dial.ledger_error is not None:
            raise dial.ledger_error

    async def _wait_workers(self, workers: list[asyncio.Task[None]], dial: _Dial) -> None:
        try:
            await asyncio.wait(workers)
        except asyncio.CancelledError:
            dial.stop("interrupted")
            current = asyncio.current_task()
            if current is not None and current.cancelling() > 1:
                # Cancelled twice before this task ran again (two signals in one turn
                # of the loop): the second cancellation is an abort, not lost.
                await self._abort_workers(workers)
                raise
            try:
                _, late = await asyncio.wait(workers, timeout=self._stop_timeout)
            except asyncio.CancelledError:
                await self._abort_workers(workers)
                raise
            await self._abort_workers(list(late))  # still in flight after stop_timeout
            if current is not None:
                current.uncancel()  # the first cancellation became a graceful stop
        # Retrieve every task's exception (none left "never retrieved"), raise the first.
        errors = [task.exception() for task in workers if not task.cancelled()]
        for error in errors:
            if error is not None:
                raise error

    @staticmethod
    async def _abort_workers(workers: list[asyncio.Task[None]]) -> None:
        """Cancel every worker (a call in flight is recorded as uncertain) and wait."""
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    async def _wait_tracking(self, task: asyncio.Task[None], dial: _Dial) -> None:
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            dial.stop("interrupted")
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()

    async def _wait_dice(self, dial: _Dial) -> None:
        deadline = time.monotonic() + float(self._tracking["timeout"])
        try:
            while dial.waiting_dice and time.monotonic() < deadline:
                dial.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(dial.changed.wait(), deadline - time.monotonic())
        except asyncio.CancelledError:
            dial.stop("interrupted")
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()

    async def _release_buffered(self, ledger: Ledger, dial: _Dial) -> None:
        for claiming in dial.orphaned:  # claims whose worker was cancelled meanwhile
            with contextlib.suppress(Exception):
                dial.buffer.extend(await claiming)
        dial.orphaned.clear()
        while dial.buffer:
            claim = dial.buffer.popleft()
            with contextlib.suppress(LedgerError):  # its lease runs out instead
                await ledger.release(claim, dial.run)

    async def _heartbeat(self, ledger: Ledger, dial: _Dial) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            try:
                await ledger.renew(dial.worker, lease=self._lease)
            except Exception:
                logger.exception("renewing the campaign's leases failed")

    async def _next(self, ledger: Ledger, dial: _Dial) -> Claim | None:
        while True:
            if dial.stop_reason is not None or dial.finished:
                return None
            if dial.buffer:
                dial.in_flight += 1
                dial.idle_claim = False
                return dial.buffer.popleft()
            if self._may_claim(dial):
                async with dial.claim_lock:
                    if dial.buffer or dial.stop_reason is not None or dial.finished:
                        continue
                    if self._may_claim(dial):
                        # run([]) only dials (a worker sharing the campaign with the
                        # run that loaded it): any pending row. Else rows of this input.
                        claims = await self._claim(ledger, dial)
                        if len(claims) < self._concurrency:
                            dial.drained_at = time.monotonic()
                            dial.idle_claim = dial.in_flight == 0 and not claims
                            asyncio.get_running_loop().call_later(_DRAINED, dial.changed.set)
                        if claims:
                            dial.buffer.extend(claims)
                            dial.unclaimable_since = None
                            continue
            if dial.in_flight == 0:
                if await self._wait_for_others(ledger, dial):
                    continue
                dial.finished = True  # nobody holds a row and none is claimable
                dial.changed.set()
                return None
            dial.changed.clear()
            await dial.changed.wait()

    async def _claim(self, ledger: Ledger, dial: _Dial) -> Sequence[Claim]:
        """Claim up to ``concurrency`` rows. Cancelled meanwhile (an abort), the claim
        still completes in the ledger: its rows are then released when the run ends
        (:meth:`_release_buffered`), not left claimed until their lease runs out."""
        claiming = asyncio.ensure_future(ledger.claim(
            dial.worker, dial.run, limit=self._concurrency, lease=self._lease,
            loaded_by=None if dial.any_pending else dial.run))
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:
            claiming.add_done_callback(_retrieve)
            dial.orphaned.append(claiming)
            raise

    @staticmethod
    def _may_claim(dial: _Dial) -> bool:
        """Whether claiming is worth a look at the ledger: not after a claim found
        fewer rows than it asked for, until a moment passed, this run released a row
        or holds none (then claim once more: the run may be done)."""
        return dial.drained_at is None or (dial.in_flight == 0 and not dial.idle_claim) \
            or time.monotonic() - dial.drained_at >= _DRAINED

    async def _wait_for_others(self, ledger: Ledger, dial: _Dial) -> bool:
        """Nothing is claimable and this run holds nothing: when other workers (other
        processes or machines on a shared ledger) still hold rows, wait a moment and
        return True (claim again: a dead worker's rows come back when its lease runs
        out); False when nobody holds any, and the run is done. One look at the ledger
        per poll interval, shared by this run's tasks."""
        poll = min(max(self._lease / 4, 0.05), 2.0)
        async with dial.claim_lock:  # one look for every task waiting here
            if time.monotonic() - dial.held_checked >= poll:
                counts = await ledger.counts()
                dial.held_elsewhere = counts.states["claimed"] + counts.states["sending"] > 0
                # Pending rows this run may dial that claim() skipped: locked by another
                # process's transaction (a load in progress). Work that still exists.
                dial.unclaimable = 0 if dial.held_elsewhere or not counts.states["pending"] \
                    else await ledger.claimable(
                        dial.run, loaded_by=None if dial.any_pending else dial.run)
                dial.held_checked = time.monotonic()
        if dial.stop_reason is not None:
            return False
        if dial.held_elsewhere:
            dial.unclaimable_since = None
            await asyncio.sleep(poll)
            return True
        if dial.unclaimable:
            now = time.monotonic()
            if dial.unclaimable_since is None:
                dial.unclaimable_since = now
            elif now - dial.unclaimable_since > max(4 * self._lease, 10.0):
                dial.stop(f"{dial.unclaimable} pending rows could not be claimed for "
                          f"{now - dial.unclaimable_since:.0f} s (locked by another "
                          "transaction of the ledger); run again to dial them")
                return False
            await asyncio.sleep(poll)
            return True
        return False

    async def _work(self, ledger: Ledger, dial: _Dial) -> None:
        while True:
            try:
                if dial.buffer and dial.stop_reason is None:  # the usual case, at once
                    dial.in_flight += 1
                    dial.idle_claim = False
                    claim: Claim | None = dial.buffer.popleft()
                else:
                    claim = await self._next(ledger, dial)
            except LedgerError as exc:
                self._ledger_failed(dial, exc, None)
                return
            if claim is None:
                return
            try:
                await self._attempt(ledger, dial, claim)
            except LedgerError as exc:
                self._ledger_failed(dial, exc, claim)

    @staticmethod
    def _ledger_failed(dial: _Dial, exc: Exception, claim: Claim | None) -> None:
        """The ledger failed for good (the PostgreSQL ledger retries lost connections
        first): stop the run; :meth:`run` raises the error once every task is done.
        A row that was being recorded stays ``sending`` -> ``uncertain`` when its lease
        runs out (never dialled again automatically); a claimed row returns to pending."""
        where = f"row {claim.key}: " if claim is not None else ""
        logger.error("%sthe ledger failed (%s); stopping the run", where, exc)
        if dial.ledger_error is None:
            dial.ledger_error = exc
        dial.stop(f"ledger failed: {exc}")

    async def _attempt(self, ledger: Ledger, dial: _Dial, claim: Claim) -> None:
        """Send one claimed row and queue its answer for the ledger; the row leaves
        ``dial.in_flight`` once its answer is written (:meth:`_recorded`) or, when no
        answer is queued (released, taken back), here."""
        queued = False
        try:
            try:
                if self._rate is None and time.monotonic() >= dial.pause_end:
                    slot = 0.0  # unpaced and not paused: no reservation needed
                else:
                    # A paced row is marked sending as long before its slot as that
                    # takes (a slow disk's fsync), so it starts on time, not a slot late.
                    # (Unpaced, waiting out a 429 pause: sent at the pause's end, not
                    # before, or the next 429 would not count as a new pause.)
                    slot = await self._pace(ledger, dial, early=self._rate is not None)
                if dial.stop_reason is not None:
                    await ledger.release(claim, dial.run)
                    return
                marking = time.monotonic()
                if not await dial.writes.sending(claim):
                    logger.warning("row %s was taken back before sending; skipped here",
                                   claim.key)
                    return
                if self._rate is not None:
                    marked = time.monotonic()
                    dial.commit += (marked - marking - dial.commit) / 4
                    if marked > slot + self._late:
                        # A slow mark must not turn spaced slots into a burst: a request
                        # that would leave more than half the margin after its slot
                        # takes a new one, and goes when it comes (once: the wake-up's
                        # own delay is the event loop's, not a burst).
                        slot = await self._pace(ledger, dial)
                    elif slot > marked:
                        await dial.wait(slot - marked)
                    await self._keep_apart(dial)
                    if dial.stop_reason is not None or time.monotonic() < dial.pause_end:
                        # Stopped, or a 429 paused every start, while this row waited
                        # for its slot: it was never sent, so it is pending again.
                        await self._release(ledger, dial, claim, None,
                                            count_attempt=False, defer=False)
                        return
            except asyncio.CancelledError:
                await _shielded(ledger.release(claim, dial.run))
                raise
            started = time.monotonic()
            try:
                data = claim.data if claim.data is not None else {self._number_column:
                                                                 claim.destination}
                call_id = await self._template.place_data(
                    self._sinch, key=claim.key, destination=claim.destination, data=data,
                    line=claim.line, dice=self._events is not None)
            except asyncio.CancelledError:
                queued = self._answer(dial, claim, "uncertain", error=CallError(
                    kind="interrupted", message=(
                        "the run was stopped while this call was in flight; Sinch may "
                        "have placed it")))
                raise
            except Exception as exc:
                queued = await self._failed(ledger, dial, claim, exc, started)
                return
            dial.streak = 0
            dial.placed_any = True
            if self._events is not None:
                dial.waiting_dice.add(call_id)
                dial.unwritten.add(call_id)
            queued = self._answer(dial, claim, "placed", call_id=call_id)
        finally:
            if not queued:
                dial.in_flight -= 1
                dial.changed.set()

    async def _pace(self, ledger: Ledger, dial: _Dial, *, early: bool = False) -> float:
        """Reserve the next start slot and wait for it (``early``: until :meth:`_lead`
        before it, as known when the slot is near); return its (monotonic) time."""
        delay = await ledger.reserve_start(self._sinch.application_key, count=1,
                                           period=self._spacing)
        slot = time.monotonic() + delay
        if early and delay > _MAX_LEAD:
            await dial.wait(delay - _MAX_LEAD)
        await dial.wait(slot - time.monotonic() - (self._lead(dial) if early else 0.0))
        return slot

    async def _keep_apart(self, dial: _Dial) -> None:
        """Wait until this process's last actual start is ``(1 + margin / 2) / rate``
        seconds ago. Rows on their slots never wait (slots are ``(1 + margin) / rate``
        apart); rows made late together (the event loop stalled by a busy machine, a
        slow callback, a stopped process) leave one per turn instead of in a burst that
        would put more than ``rate`` starts into a later second. Each waiter checks
        again when it wakes: the first to run takes the turn, the others wait on."""
        while dial.stop_reason is None:
            now = time.monotonic()
            due = dial.last_start + self._apart
            if now >= due:
                dial.last_start = now
                return
            await dial.wait(due - now)

    @staticmethod
    def _lead(dial: _Dial) -> float:
        """How long before its slot a paced row is marked ``sending``: one and a half
        times what marking took lately, at most :data:`_MAX_LEAD` (a row is never
        ``sending`` long before it is sent: a crash leaves it uncertain)."""
        return min(1.5 * dial.commit, _MAX_LEAD)

    @staticmethod
    def _answer(dial: _Dial, claim: Claim, state: AnsweredState, *,
                call_id: str | None = None, error: CallError | None = None) -> bool:
        """Queue the row's answer for the ledger (see :meth:`_recorded`); ``True``."""
        dial.writes.result(make_row_result(claim, state, call_id, error))
        return True

    def _recorded(self, dial: _Dial, results: list[RowResult],
                  written: Sequence[bool] | BaseException) -> None:
        """Answers are in the ledger (or the ledger failed): count and report them."""
        dial.in_flight -= len(results)
        dial.changed.set()
        if dial.unwritten:
            dial.unwritten.difference_update(r.call_id for r in results)
        if dial.written is not None:
            dial.written.set_result(None)
            dial.written = None
        if isinstance(written, BaseException):
            if isinstance(written, Exception):
                self._ledger_failed(dial, written, results[0].claim)
            return
        report = dial.report
        for result, ok in zip(results, written, strict=True):
            claim, state = result.claim, result.state
            if not ok:
                logger.error("row %s is no longer held by this worker; not recorded as %s "
                             "(Sinch answered %s)", claim.key, state,
                             result.call_id or result.error)
                continue
            if state == "placed":
                report.placed += 1
                if dial.tracker is not None:
                    assert result.call_id is not None
                    dial.tracker.add(result.call_id)
                if self._on_outcome is None:
                    continue
            elif state == "failed":
                report.failed += 1
            else:
                report.uncertain += 1
            outcome = CallOutcome(row=claim.key, position=claim.position, line=claim.line,
                                  destination=claim.destination, status=state,
                                  call_id=result.call_id, error=result.error)
            if state != "placed":
                report.problem(outcome)
            self._emit(outcome)

    async def _release(self, ledger: Ledger, dial: _Dial, claim: Claim,
                       error: CallError | None, *, count_attempt: bool, defer: bool) -> None:
        await _shielded(ledger.release(claim, dial.run, error=error,
                                            count_attempt=count_attempt, defer=defer))
        if not defer:
            dial.drained_at = None  # pending again in this run: claim it
        if defer:
            outcome = CallOutcome(row=claim.key, position=claim.position, line=claim.line,
                                  destination=claim.destination, status="pending",
                                  error=error)
            dial.report.problem(outcome)
            self._emit(outcome)

    async def _pause(self, ledger: Ledger, dial: _Dial, started: float,
                     hint: float | None) -> None:
        """A 429 or refused connection: every worker pauses; while they keep coming
        after the pause, the pause doubles; too many in a row stop the run."""
        if started >= dial.pause_end:
            dial.streak += 1  # sent after the last pause: a new episode
        backoff = self._backoff * 2 ** max(0, dial.streak - 1)
        pause = min(max(hint or 0.0, backoff), self._max_retry_after)
        dial.pause_end = max(dial.pause_end, time.monotonic() + pause)
        await ledger.pause_starts(self._sinch.application_key, pause)

    async def _failed(self, ledger: Ledger, dial: _Dial, claim: Claim, exc: Exception,
                      started: float) -> bool:
        """Handle a call that raised; ``True`` when an answer was queued."""
        error = _error_of(exc)
        if isinstance(exc, RateLimitedError | TransportError) and not (
                isinstance(exc, TransportError) and exc.maybe_sent):
            # Provably nothing placed: back to pending, after a shared pause.
            await self._pause(ledger, dial, started,
                              exc.retry_after if isinstance(exc, RateLimitedError) else None)
            defer = claim.attempts + 1 > self._max_requeues
            await self._release(ledger, dial, claim, error, count_attempt=True, defer=defer)
            if dial.streak > self._max_requeues:
                what = "rate limited" if isinstance(exc, RateLimitedError) else "unreachable"
                dial.stop(f"{what}: {dial.streak} pauses in a row ({error})")
            return False
        if isinstance(exc, AuthenticationError | ClientClosedError) \
                and not _maybe_sent(exc):
            await self._release(ledger, dial, claim, error, count_attempt=False, defer=True)
            reason = ("credentials rejected" if isinstance(exc, AuthenticationError)
                      else "client closed")
            dial.stop(f"{reason} ({error})")
            return False
        if isinstance(exc, ValidationError):
            # Refused by the client before sending: nothing placed; left for a rerun.
            await self._release(ledger, dial, claim, error, count_attempt=False, defer=True)
            return False
        if _maybe_sent(exc) or not isinstance(exc, ApiError):
            # It may have reached Sinch and is no definite 4xx refusal (5xx, a redirect
            # answered to the POST, an undecodable success, a lost connection, a custom
            # callable's exception): uncertain, never dialled again automatically.
            if not isinstance(exc, ApiError | InvalidResponseError | TransportError):
                logger.error("placing row %s raised %s", claim.key, error.message)
            if isinstance(exc, ClientClosedError):
                dial.stop(f"client closed ({error})")
            return self._answer(dial, claim, "uncertain", error=error)
        self._answer(dial, claim, "failed", error=error)
        if not dial.placed_any and len(dial.first_failures) < _FIRST_FAILURES:
            dial.first_failures.append((error.status, error.code))
            if len(dial.first_failures) == _FIRST_FAILURES \
                    and len(set(dial.first_failures)) == 1:
                dial.stop(f"the first {_FIRST_FAILURES} calls were all refused alike "
                          f"({error}); fix the cause, then rerun with retry_failed=True "
                          "to dial the refused (failed) rows again (uncertain rows are "
                          "never redialled: settle them)")
        return True

    # -- DiCE -----------------------------------------------------------------------------

    async def record_dice(self, event: DisconnectedCallEvent) -> None:
        """Record the outcome a DiCE callback reports (registered on ``events``; call it
        from your own DiCE handler when the router already has one). Events for calls of
        other campaigns are ignored."""
        dial = self._dial
        if dial is None:
            logger.info("DiCE for call %s arrived while no run is active; not recorded",
                        event.call_id)
            return
        while event.call_id in dial.unwritten:  # it came before its row was written
            if dial.written is None:
                dial.written = asyncio.get_running_loop().create_future()
            await asyncio.shield(dial.written)
        await self._ledger.record_outcome(event.call_id, outcome_from_event(event))
        dial.waiting_dice.discard(event.call_id)
        dial.changed.set()

    # -- results --------------------------------------------------------------------------

    async def results(self, *, states: Iterable[RowState] | None = None
                      ) -> AsyncIterator[CallOutcome]:
        """One :class:`CallOutcome` per row, in input order, read from the ledger page by
        page (any time, also while a run is going on); ``states`` filters."""
        wanted = None if states is None else frozenset(states)
        # Not through _reading(): an async generator inside another one fails to close
        # when a KeyboardInterrupt stopped it midway (asyncio's shutdown then prints
        # "athrow(): asynchronous generator is already running").
        opened = not self._running  # else run() holds the ledger open: read through it
        if opened:
            await self._open(None)
        try:
            async for outcome in self._ledger.results(states=wanted):
                yield outcome
        finally:
            if opened:
                await self._close()

    async def export(self, target: str | os.PathLike[str] | IO[str], *,
                     format: str = "jsonl") -> int:
        """Write every row's outcome to ``target`` (a path or a text stream) as JSON
        Lines (``"jsonl"``) or CSV (``"csv"``); return the number of rows written. See
        :func:`~sinch_calling.campaign.export.export_results` (``ValidationError`` for
        a directory or another format)."""
        return await export_results(self.results(), target, format=format)

    async def settle(self, row: str, *, call_id: str | None) -> CallOutcome:
        """Settle an uncertain row: ``call_id`` given -> placed with that call id (you
        found it in Sinch's logs); ``None`` -> not placed, so the next run dials it.
        Raises ``UnknownRowError``, ``RowStateError`` (not uncertain), or
        ``ValidationError`` (``row``, ``call_id``) for text no ledger can hold."""
        async with self._reading() as ledger:
            return await ledger.settle(row, call_id=call_id)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[Ledger]:
        """The ledger, open: this campaign's running one, or opened for the moment."""
        if self._running:
            yield self._ledger
            return
        await self._open(None)
        try:
            yield self._ledger
        finally:
            await self._close()


async def _aiter(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncGenerator[Any, None]:
    if isinstance(items, AsyncIterable):
        try:
            async for item in items:
                yield item
        finally:
            close = getattr(items, "aclose", None)
            if close is not None:
                await close()  # a file reader closes its file even when we stop early
    else:
        for item in items:
            yield item
