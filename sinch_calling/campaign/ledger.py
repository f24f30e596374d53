"""The ledger interface: a campaign's durable memory, shared by every worker.

A :class:`Ledger` holds one campaign: its identity, one record per input row (in input
order), which worker holds which row, what Sinch answered, and how tracked calls ended.
The runner (:class:`~sinch_calling.campaign.Campaign`) talks to it only through the
coroutines below, so the same runner drives

* :class:`~sinch_calling.campaign.sqlite.SQLiteLedger`: one file (``ledger="x.db"``) or
  memory (``ledger=None``); stdlib ``sqlite3`` on a thread, WAL; one run at a time,
  pacing and 429 pauses shared in-process;
* a PostgreSQL ledger (``ledger="postgresql://..."``, module
  ``sinch_calling.campaign.postgres``, class ``PostgresLedger(dsn)``): workers on several
  machines (Celery or plain processes) claim rows atomically and share the account's
  pacing and 429 pauses through the database.

The rules every implementation keeps (the runner depends on them):

1. **Nothing is dialled twice.** A row is handed out by :meth:`Ledger.claim` to one
   worker only (atomically: ``UPDATE ... WHERE state = 'pending'`` with row locks
   skipped, or one writer). Only a ``claimed`` row may become ``sending``; only the
   worker holding it may move it on.
2. **``sending`` is durable before the request.** :meth:`Ledger.mark_sending_many`
   (and :meth:`Ledger.mark_sending`) returns only once the state is committed (fsynced
   where the store can), so a crash after it leaves the row ``sending`` ->
   ``uncertain``, never ``pending``. Answers (:meth:`Ledger.mark_results`), loads and
   claims need not reach the disk before they return (an SQLite file fsyncs them with
   the next ``sending``): a machine crash that loses one leaves a row where the runner
   never relies on it being (a ``sending`` row whose answer is lost becomes
   ``uncertain``, as if the crash had come during the call; a lost claim leaves the
   row pending). A release (nothing was placed) is durable when it returns, so a row
   Sinch refused is never left ``uncertain``.
3. **Leases.** A claim holds for ``lease`` seconds (renewed by :meth:`Ledger.renew`).
   When it runs out (:meth:`Ledger.expire_leases`, which :meth:`Ledger.claim` also runs
   first): ``claimed`` rows (nothing sent) become ``pending`` again; ``sending`` rows
   become ``uncertain`` (kind ``lease_expired``), never ``pending``.
4. **Placed or uncertain is never redialled automatically.** Only
   :meth:`Ledger.settle` (a human's decision) turns an uncertain row into ``pending``;
   ``failed`` rows go back to pending only through ``load(..., retry_failed=True)``.
5. **Loading is idempotent.** Loading the same input again changes nothing already
   decided: a row is identified by its key (the runner's preflight makes it the row's
   ``id`` column when the input has one, else its destination, the normalised E.164
   number; never its position, so a rerun on an input with rows inserted, removed or
   reordered matches each row to its own state; the position only orders results);
   a new key is inserted; an existing
   ``pending``, ``invalid`` or ``skipped`` row takes the input's new content (a fixed
   typo becomes dialable); a row in any other state keeps it (its position and line
   follow the input; a changed destination is reported with kind ``changed``). A
   destination belongs to the first row (by key) that holds it while valid: a later row
   with the same destination is ``skipped`` (kind ``duplicate``), in this load and
   across loads. A key loaded twice under the same ``run`` (an ``id`` column repeated
   in one input) is not applied again: its :class:`LoadedRow` has kind
   ``duplicate_id`` and the row keeps its first content.
6. **Identity.** A ledger belongs to one campaign (:class:`CampaignIdentity`). Opening
   it for another raises :class:`LedgerMismatchError` naming what differs, unless
   ``force=True``, which records the new identity (the rows and their states stay).
7. **Clear errors.** A store that is not a ledger, or a damaged one, raises
   :class:`LedgerCorruptError`; no method returns made-up data.

Times are seconds (``float``); leases and pauses are measured on the ledger's own
clock (the database server's for PostgreSQL), so workers' clocks need not agree.
Every method is a coroutine (or an async iterator) and must not block the event loop.

The runner records its rows in batches: every row its workers are about to send in one
turn of the event loop goes to :meth:`Ledger.mark_sending_many` in one call, and every
answer to :meth:`Ledger.mark_results` in one call (one transaction each, so the cost of
a commit is shared). The one-row methods (:meth:`Ledger.mark_sending`,
:meth:`Ledger.mark_placed`, ...) are the same writes for a single row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from typing import Protocol, get_args, runtime_checkable

from ..errors import (
    LeaseLostError,
    LedgerBusyError,
    LedgerCorruptError,
    LedgerError,
    LedgerMismatchError,
    LedgerNotFoundError,
    LedgerUnavailableError,
    RowStateError,
    UnknownRowError,
    ValidationError,
)
from ..validation import unstorable
from .records import (
    AnsweredState,
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

_ANSWERED = frozenset(get_args(AnsweredState))

__all__ = [
    "LeaseLostError",
    "Ledger",
    "LedgerBusyError",
    "LedgerCorruptError",
    "LedgerError",
    "LedgerMismatchError",
    "LedgerNotFoundError",
    "LedgerUnavailableError",
    "OneRowTransitions",
    "RowStateError",
    "UnknownRowError",
    "checked_call_id",
    "checked_key",
    "identity_differences",
]


@runtime_checkable
class Ledger(Protocol):
    """A campaign's durable record, shared by all of its workers (see the module docs).

    Lifecycle: ``await ledger.open(identity)``, then any of the coroutines, then
    ``await ledger.close()``. ``async with`` is not part of the interface, so a ledger
    can be opened once per process and handed to many runs.
    """

    @property
    def location(self) -> str:
        """Where the ledger lives, for messages: a file path, ``":memory:"``, or a DSN
        with its password removed."""
        ...

    # -- identity and lifecycle ---------------------------------------------------------

    async def open(self, identity: CampaignIdentity | None, *, force: bool = False) -> None:
        """Open (creating if needed) the ledger for the campaign ``identity``.

        ``identity=None`` opens an existing ledger as it is (status, results, settling)
        and raises :class:`LedgerError` when there is none. Raises
        :class:`LedgerMismatchError` when the stored identity differs (unless ``force``),
        :class:`LedgerCorruptError` for a damaged store, :class:`LedgerBusyError` when an
        exclusive store is held by another run.
        """
        ...

    async def identity(self) -> CampaignIdentity | None:
        """The identity recorded in the ledger (``None`` for an empty new one)."""
        ...

    async def close(self) -> None:
        """Release connections, threads and locks. Idempotent."""
        ...

    # -- loading rows ---------------------------------------------------------------------

    async def load(self, rows: Sequence[NewRow], *, retry_failed: bool = False,
                   run: str | None = None) -> Sequence[LoadedRow]:
        """Insert or refresh one batch of input rows; return where each stands now.

        Called with batches of a streamed input (the runner never holds the whole
        input), in input order; each batch is applied atomically. The rules are those
        of rule 5 in the module docs. ``retry_failed=True`` also turns ``failed`` rows
        in the batch back into ``pending``. ``run`` identifies one input's load (see rule
        5; ``None``: no repeated-key check). The result has one :class:`LoadedRow` per
        given row, in the same order.
        """
        ...

    # -- claiming and recording -----------------------------------------------------------

    async def claim(self, worker: str, run: str, *, limit: int, lease: float,
                    loaded_by: str | None = None) -> Sequence[Claim]:
        """Atomically take up to ``limit`` ``pending`` rows, lowest position first, and
        mark them ``claimed`` by ``worker`` until ``lease`` seconds from now.

        Expired leases are recovered first (:meth:`expire_leases`). Rows released with
        ``defer=True`` during the same ``run`` are not handed out again in that run.
        ``loaded_by``: only rows the last :meth:`load` with that ``run`` brought (a row
        dropped from the input since an earlier run is then not dialled; ``None``: any
        pending row, for workers that only dial).
        A row is never in two workers' claims. An empty result means nothing is
        claimable now (others may still hold rows: see :meth:`counts`).
        """
        ...

    async def claimable(self, run: str, *, loaded_by: str | None = None) -> int:
        """How many rows :meth:`claim` with these ``run``/``loaded_by`` would consider
        (``pending``, not deferred in ``run``), including rows it skips right now
        because another transaction holds them (a load in progress): work that still
        exists after an empty claim. A snapshot; never waits for locks."""
        ...

    async def renew(self, worker: str, *, lease: float) -> int:
        """Extend every lease ``worker`` holds (``claimed`` and ``sending`` rows) to
        ``lease`` seconds from now; return how many rows it holds."""
        ...

    async def mark_sending(self, claim: Claim) -> None:
        """Durably record that the request for ``claim`` is about to be sent.

        Returns only once committed. Raises :class:`LeaseLostError` unless the row is
        ``claimed`` by ``claim.worker``; the caller must then not send.
        """
        ...

    async def mark_sending_many(self, claims: Sequence[Claim]) -> Sequence[bool]:
        """:meth:`mark_sending` for many claims in one transaction: one ``bool`` per
        claim, in order, ``True`` where the row is now ``sending`` (send it), ``False``
        where the claim no longer holds it (do not send; no error is raised). Returns
        only once committed (fsynced where the store can). A claim given twice is
        marked once (``False`` the second time)."""
        ...

    async def mark_results(self, results: Sequence[RowResult]) -> Sequence[bool]:
        """Record what became of many sent rows in one transaction (what
        :meth:`mark_placed`, :meth:`mark_failed` and :meth:`mark_uncertain` do for one):
        one ``bool`` per result, in order, ``False`` where the claim no longer holds the
        row (nothing is recorded for it; no error is raised). Need not be fsynced before
        it returns (see rule 2)."""
        ...

    async def mark_placed(self, claim: Claim, call_id: str) -> None:
        """Sinch accepted the call: ``placed`` with its ``call_id``.

        Accepted from ``sending`` held by ``claim.worker``, and from ``uncertain`` that
        this worker's expired lease left (the answer came late; the row was never
        redialled). Raises :class:`LeaseLostError` otherwise.
        """
        ...

    async def mark_failed(self, claim: Claim, error: CallError) -> None:
        """Sinch refused the call with a 4xx (nothing placed, not retried by reruns
        unless ``retry_failed``). Same holder rules as :meth:`mark_placed`."""
        ...

    async def mark_uncertain(self, claim: Claim, error: CallError) -> None:
        """The call may have been placed (5xx, undecodable success, connection lost after
        sending, answer lost on interruption): ``uncertain``, never redialled
        automatically. Same holder rules as :meth:`mark_placed`."""
        ...

    async def release(self, claim: Claim, run: str, *, error: CallError | None = None,
                      count_attempt: bool = False, defer: bool = False) -> None:
        """Put a row back to ``pending``: provably nothing was placed (never sent,
        connection refused, 429, authentication refused, validation before sending,
        cancelled before sending).

        ``error`` is remembered for the results until the row moves on;
        ``count_attempt`` adds one to the row's attempts for ``run`` (see
        :attr:`Claim.attempts`); ``defer`` keeps the row from being claimed again during
        ``run`` (left for the next run). Accepted from ``claimed``/``sending`` held by
        ``claim.worker`` and from ``uncertain`` left by this worker's expired lease; a
        row that moved on is left alone (no error: nothing was placed either way).
        """
        ...

    async def expire_leases(self, *, everyone: bool = False) -> tuple[int, int]:
        """Recover rows whose lease ran out: ``claimed`` -> ``pending`` and ``sending``
        -> ``uncertain`` (kind ``lease_expired``). ``everyone=True`` treats every lease as
        expired (for a store only one run can hold, at the start of a run, or an
        operator who knows no worker is alive). Returns ``(to_pending, to_uncertain)``.
        """
        ...

    # -- settling and tracking ------------------------------------------------------------

    async def settle(self, key: str, *, call_id: str | None) -> CallOutcome:
        """A human's decision on an ``uncertain`` row: ``call_id`` given -> ``placed``
        with that call id (tracking then follows it); ``None`` -> not placed, ``pending``
        again (the next run dials it). Returns the row's new outcome. Raises
        :class:`UnknownRowError` for an unknown key, :class:`RowStateError` when the row
        is not uncertain, ``ValidationError`` (``row``, ``call_id``) for a key or call
        id no ledger can hold (:func:`checked_key`, :func:`checked_call_id`)."""
        ...

    async def record_outcome(self, call_id: str, outcome: FinalOutcome) -> str | None:
        """Store how the placed call ``call_id`` ended; return its row key, or ``None``
        when no row of this campaign has that call id (a DiCE event for another
        campaign). Recording again replaces the earlier outcome."""
        ...

    def untracked(self, *, batch: int = 500) -> AsyncIterator[tuple[str, str]]:
        """``(row key, call id)`` of placed rows without a final outcome, in input
        order, read ``batch`` rows at a time (memory stays flat)."""
        ...

    # -- reading --------------------------------------------------------------------------

    def results(self, *, states: Collection[RowState] | None = None,
                batch: int = 1000) -> AsyncIterator[CallOutcome]:
        """One :class:`CallOutcome` per row (only those in ``states`` if given), in input
        order, read ``batch`` rows at a time; usable at any time, also while workers
        run (each batch is a consistent snapshot)."""
        ...

    async def get(self, key: str) -> CallOutcome | None:
        """The outcome of one row, or ``None`` for an unknown key; ``ValidationError``
        (``row``) for a key no ledger can hold (:func:`checked_key`: empty, a NUL, a
        lone surrogate)."""
        ...

    async def counts(self) -> LedgerCounts:
        """Rows per state, tracked results and cost (one consistent snapshot)."""
        ...

    # -- account-wide pacing (shared by every worker of every campaign on the account) --

    async def reserve_start(self, account: str, *, count: int, period: float) -> float:
        """Reserve the next call start for ``account`` (the application key) and return
        how many seconds to wait before sending it (``>= 0``).

        Reservations keep at most ``count`` starts in any window of ``period`` seconds
        across all workers sharing the ledger's store, and none before a pause set by
        :meth:`pause_starts` ends: reservation times are non-decreasing and the k-th is
        at least ``period`` after the (k-count)-th. A reservation is used up even if the
        caller then does not send. The runner passes ``period`` = one second (or
        ``1/rate`` below 1/s) plus a margin for the jitter between here and Sinch.
        """
        ...

    async def pause_starts(self, account: str, seconds: float) -> None:
        """After a 429: no reservation for ``account`` starts earlier than ``seconds``
        from now. Never shortens a pause already set."""
        ...


def identity_differences(stored: Mapping[str, object],
                         new: Mapping[str, object]) -> dict[str, tuple[object, object]]:
    """Options that differ between two identities' options: ``{name: (stored, new)}``
    (what :class:`LedgerMismatchError` reports)."""
    return {name: (stored.get(name), new.get(name))
            for name in sorted(set(stored) | set(new)) if stored.get(name) != new.get(name)}


def checked_key(key: object) -> str:
    """A row key given by a caller (``settle``, ``get``), or :class:`ValidationError`
    (field ``row``): no ledger holds a key that is not a string, holds a NUL or a lone
    surrogate (preflight makes such a row ``#<row number>``), and asking for one must
    not reach the store as its encoding error."""
    if not isinstance(key, str) or not key:
        raise ValidationError("row", f"must be a row key (a non-empty str); got {key!r}")
    _storable("row", key)
    return key


def checked_call_id(call_id: object) -> str | None:
    """``settle``'s ``call_id``: ``None``, or the stripped, non-empty callId text;
    else :class:`ValidationError` naming ``call_id``."""
    if call_id is None:
        return None
    if not isinstance(call_id, str) or not call_id.strip():
        raise ValidationError("call_id", "must be the call's non-empty callId, or None")
    if any(ord(c) < 32 or ord(c) == 127 for c in call_id.strip()):
        raise ValidationError("call_id", "must not hold control characters (a line break, "
                                         f"a tab); got {call_id!r}")
    return _storable("call_id", call_id.strip())


def _storable(field: str, text: str) -> str:
    problem = unstorable(text)
    if problem is not None:
        raise ValidationError(field, problem)
    return text


def held_in_order(claims: Sequence[Claim], changed: Iterable[tuple[str, str, str]]
                  ) -> list[bool]:
    """For implementations of the batch methods: one ``bool`` per claim, in order,
    ``True`` where its ``(key, worker, token)`` is among the rows a statement changed;
    a claim given twice counts once (the row changed once)."""
    held = set(changed)
    out: list[bool] = []
    for claim in claims:
        ident = (claim.key, claim.worker, claim.token)
        out.append(ident in held)
        held.discard(ident)
    return out


def answered(results: Iterable[RowResult]) -> list[RowResult]:
    """For implementations of :meth:`Ledger.mark_results`: the results as a list, each
    checked to end in a state a sent row may end in (``ValidationError`` otherwise)."""
    batch = list(results)
    for result in batch:
        if result.state not in _ANSWERED:
            raise ValidationError("state", f"must be one of {', '.join(sorted(_ANSWERED))}"
                                           f"; got {result.state!r}")
    return batch


def release_rewritten(rows: Sequence[NewRow],
                      current: Mapping[str, tuple[RowState, str | None, bool]],
                      owners: dict[str, set[str]], *, retry_failed: bool,
                      run: str | None) -> None:
    """For implementations of :meth:`Ledger.load` (rule 5), before a batch is planned:
    the rows the batch rewrites (not dialled yet: pending, invalid, skipped, or failed
    with ``retry_failed``) give up the numbers they held, so that the batch's rows, in
    input order, decide who holds each number. Without this, two rows that swap numbers
    (or one taking a number another row of the batch leaves) were skipped as each
    other's duplicates and nobody was called. ``current``: the stored rows of the
    batch's keys, as (state, destination, loaded by this run already); ``owners``:
    destination -> keys holding it, changed in place. Pure."""
    rewritable = ("pending", "invalid", "skipped", *(("failed",) if retry_failed else ()))
    seen: set[str] = set()
    for row in rows:
        if row.key in seen:
            continue
        seen.add(row.key)
        now = current.get(row.key)
        if now is None or now[1] is None or (run is not None and now[2]):
            continue
        if now[0] in rewritable:
            holders = owners.get(now[1])
            if holders is not None:
                holders.discard(row.key)


class OneRowTransitions:
    """For implementations: :meth:`Ledger.mark_sending`, ``mark_placed``,
    ``mark_failed`` and ``mark_uncertain`` written through the implementation's own
    :meth:`Ledger.mark_sending_many` and :meth:`Ledger.mark_results` (a batch of one),
    each raising :class:`LeaseLostError` when the claim no longer holds its row."""

    async def mark_sending_many(self, claims: Sequence[Claim]) -> Sequence[bool]:
        raise NotImplementedError  # the implementation's own

    async def mark_results(self, results: Sequence[RowResult]) -> Sequence[bool]:
        raise NotImplementedError  # the implementation's own

    async def mark_sending(self, claim: Claim) -> None:
        """See :meth:`Ledger.mark_sending`."""
        if not (await self.mark_sending_many([claim]))[0]:
            raise LeaseLostError(f"row {claim.key} is no longer claimed by this worker")

    async def _answer(self, claim: Claim, state: AnsweredState, call_id: str | None,
                      error: CallError | None) -> None:
        if not (await self.mark_results([RowResult(claim, state, call_id, error)]))[0]:
            raise LeaseLostError(f"row {claim.key} is no longer held by this worker; "
                                 f"not recorded as {state}")

    async def mark_placed(self, claim: Claim, call_id: str) -> None:
        """See :meth:`Ledger.mark_placed`."""
        await self._answer(claim, "placed", call_id, None)

    async def mark_failed(self, claim: Claim, error: CallError) -> None:
        """See :meth:`Ledger.mark_failed`."""
        await self._answer(claim, "failed", None, error)

    async def mark_uncertain(self, claim: Claim, error: CallError) -> None:
        """See :meth:`Ledger.mark_uncertain`."""
        await self._answer(claim, "uncertain", None, error)
