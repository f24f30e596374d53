"""The campaign's records: what a ledger stores and what it gives back. Pure: no I/O.

A campaign row moves through these states (:data:`RowState`)::

    (input) --load--> pending --claim--> claimed --mark_sending--> sending
                        ^  ^                |                         |
                        |  +----release-----+        +--mark_placed---+--> placed
                        |  (lease expired: claimed)  +--mark_failed---+--> failed
                        |                            +--mark_uncertain+--> uncertain
                        +-------------------release (provably unsent)-+
                        +----settle(not placed)---- uncertain --settle(call id)--> placed
    (input) --load--> invalid        (preflight refused the row: never dialled)
    (input) --load--> skipped        (a duplicate of an earlier row's destination)

``placed`` and ``uncertain`` rows are never dialled again automatically; ``failed``
rows only when a rerun asks for it (``retry_failed``); ``pending`` rows are dialled
by the next run. A ``sending`` row whose worker's lease ran out becomes
``uncertain`` (the request may have reached Sinch), never ``pending``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, Literal, get_args

import attrs

from .._fast_structure import positional_constructor

__all__ = [
    "ACTIVE_STATES",
    "ROW_STATES",
    "AnsweredState",
    "CallError",
    "CallOutcome",
    "CampaignIdentity",
    "Claim",
    "ErrorKind",
    "FinalOutcome",
    "LedgerCounts",
    "LoadedRow",
    "NewRow",
    "RowResult",
    "RowState",
]

RowState = Literal[
    "pending", "claimed", "sending", "placed", "failed", "uncertain", "invalid", "skipped"
]
"""Where one row stands (see the module docstring for the transitions)."""

ROW_STATES: tuple[RowState, ...] = get_args(RowState)

ACTIVE_STATES: frozenset[RowState] = frozenset({"claimed", "sending"})
"""States held under a worker's lease."""

ErrorKind = Literal[
    "bad_request",       # HTTP 400 (or another 4xx the client has no class for)
    "authentication",    # HTTP 401/403
    "not_found",         # HTTP 404
    "rate_limited",      # HTTP 429 (left pending after too many)
    "server",            # HTTP 5xx: the call may have been placed
    "redirect",          # a redirect answered to the callout: the call may have been placed
    "invalid_response",  # a success answer that could not be decoded: may have been placed
    "transport",         # connection or timeout; placed or not per ``maybe_sent``
    "validation",        # the client refused the arguments before sending
    "invalid",           # preflight refused the row (bad number, missing placeholder, ...)
    "duplicate",         # the row repeats an earlier row's destination
    "duplicate_id",      # the row repeats an earlier row's id in the same input
    "changed",           # a settled row's input changed; the ledger keeps what happened
    "interrupted",       # the run was stopped while the call was in flight
    "lease_expired",     # the worker holding the row went away while sending
    "unexpected",        # an exception from a custom place callable
]
"""Why a row is not placed (the ``kind`` of a :class:`CallError`)."""


@attrs.frozen(kw_only=True)
class CallError:
    """Why a row failed, is uncertain, invalid or skipped.

    ``kind`` is one of :data:`ErrorKind`; ``status`` the HTTP status (``None`` when no
    answer came); ``code`` Sinch's numeric ``errorCode`` from the error body, if any;
    ``message`` a human-readable line (never a secret).
    """

    kind: str
    message: str
    status: int | None = None
    code: int | None = None

    def __str__(self) -> str:
        detail = [f"HTTP {self.status}"] if self.status is not None else []
        if self.code is not None:
            detail.append(f"errorCode {self.code}")
        suffix = f" ({', '.join(detail)})" if detail else ""
        return f"{self.kind}: {self.message}{suffix}"


@attrs.frozen(kw_only=True)
class FinalOutcome:
    """How a placed call ended, once Sinch reports it ``FINAL`` (``calls.get`` or DiCE).

    ``result`` is Sinch's call result (``ANSWERED``, ``BUSY``, ``NOANSWER``, ``FAILED``,
    ``N/A`` or a newer value as plain text); ``reason`` its reason (``CALLEEHANGUP``,
    ``TIMEOUT``, ...); ``duration`` the call's length in seconds; ``debit`` the amount
    charged, in ``currency`` (both ``None`` when Sinch did not say).
    """

    result: str | None
    reason: str | None = None
    duration: float | None = None
    debit: float | None = None
    currency: str | None = None


@attrs.frozen(kw_only=True)
class CallOutcome:
    """What happened to one input row: one per row, in input order.

    ``row`` is the row's stable identity: its ``id`` column when the input has one,
    else its destination (E.164), else ``#<row number>`` for a row without a usable
    number (a repeated number gets ``<number>#<row number>``); ``position`` its
    0-based place in the input; ``line`` the source line number when it came from a
    file; ``destination`` the normalised E.164 number
    (``None`` when the row had none usable); ``status`` a :data:`RowState`; ``call_id``
    Sinch's callId once placed; ``error`` why it is not placed (failed, uncertain,
    invalid, skipped or left pending after a refusal); ``outcome`` how the call ended,
    when tracked.
    """

    row: str
    destination: str | None
    status: RowState
    position: int = 0
    line: int | None = None
    call_id: str | None = None
    error: CallError | None = None
    outcome: FinalOutcome | None = None
    updated_at: datetime | None = None


@attrs.frozen(kw_only=True)
class CampaignIdentity:
    """What makes two runs the same campaign.

    ``fingerprint`` is a stable digest (hex) of ``options``: the campaign-wide options
    and the template (text, prompts, cli, locale, conference id, the custom callable's
    qualified name, ...), rendered to JSON with sorted keys. A ledger remembers the
    identity of the campaign it was created for and refuses a different one unless
    forced. ``options`` is kept so that a refusal can say what differs.
    """

    fingerprint: str
    options: Mapping[str, object]


@attrs.frozen(kw_only=True)
class NewRow:
    """One input row, after preflight, as :meth:`Ledger.load` receives it.

    ``key`` is the stable identity (see :class:`CallOutcome`); ``position`` the 0-based
    input order; ``line`` the source line (for messages); ``destination`` the normalised
    E.164 number, or ``None`` when invalid without one; ``data`` the row's columns
    (text values, JSON-serialisable), which a worker on any machine needs to place the
    call (per-row text, prompts, cli, locale, custom, mail-merge fields); ``state`` is
    ``"pending"`` or ``"invalid"`` (with ``error`` saying why).
    """

    key: str
    position: int
    destination: str | None
    data: Mapping[str, object] | None = None
    line: int | None = None
    state: Literal["pending", "invalid"] = "pending"
    error: CallError | None = None


@attrs.frozen(kw_only=True)
class LoadedRow:
    """Where one loaded row stands after :meth:`Ledger.load`.

    ``state`` is the row's state in the ledger now; ``previous`` its state before this
    load (``None`` if it is new). ``error`` says why an invalid or skipped row is not
    dialled (a skipped duplicate names the row that owns the destination) or, for a row
    an earlier run settled, what the input now says differently (``kind`` ``"duplicate"``
    or ``"invalid"``, or ``None`` when it simply kept its settled state).
    """

    key: str
    position: int
    state: RowState
    previous: RowState | None = None
    error: CallError | None = None


@attrs.frozen(kw_only=True)
class Claim:
    """A row handed to one worker by :meth:`Ledger.claim`, under a lease.

    ``worker`` is the claiming worker's id; ``attempts`` how many times this row was
    released back to pending with ``count_attempt=True`` during the current ``run`` (the
    runner's exponential backoff after 429s uses it); ``data`` as loaded.

    ``token`` identifies this one claim of this row (a fresh value per
    :meth:`~sinch_calling.campaign.ledger.Ledger.claim` call, stored on the row): every
    later transition (``mark_*``, ``release``) checks it, so a claim that lost its row
    (lease expired, the row handed out again, even to the same worker) can no longer
    move it. An empty token matches no row.
    """

    key: str
    position: int
    destination: str
    worker: str
    data: Mapping[str, object] | None = None
    line: int | None = None
    attempts: int = 0
    token: str = ""


AnsweredState = Literal["placed", "failed", "uncertain"]
"""The states a sent row ends in (see :class:`RowResult`)."""


@attrs.frozen
class RowResult:
    """What became of one sent row, as
    :meth:`~sinch_calling.campaign.ledger.Ledger.mark_results` records it: ``placed``
    (with Sinch's ``call_id``), ``failed`` (Sinch refused it with a 4xx: ``error``) or
    ``uncertain`` (it may have been placed: ``error`` says why)."""

    claim: Claim
    state: AnsweredState
    call_id: str | None = None
    error: CallError | None = None


@attrs.frozen(kw_only=True)
class LedgerCounts:
    """A ledger's status: rows per :data:`RowState` and what tracking found.

    ``states`` maps every state to its row count (zeros included); ``results`` maps a
    final call result (``ANSWERED``, ``NOANSWER``, ...) to its count among tracked rows;
    ``cost`` maps a currency to the summed debit; ``untracked`` counts placed rows
    without a final outcome yet.
    """

    states: Mapping[RowState, int]
    results: Mapping[str, int] = attrs.field(factory=dict)
    cost: Mapping[str, float] = attrs.field(factory=dict)
    untracked: int = 0

    @property
    def total(self) -> int:
        """Every row the ledger holds."""
        return sum(self.states.values())

    @property
    def answer_rate(self) -> float | None:
        """Answered calls over tracked calls (0..1), ``None`` before any is tracked."""
        tracked = sum(self.results.values())
        return self.results.get("ANSWERED", 0) / tracked if tracked else None


# The records the runner and the SQLite ledger build for every row, from all their
# fields' values in field order: equal to the classes' own constructors, at about half
# their cost (see ``_fast_structure.positional_constructor``).
# Typed positionally, so that mypy checks each call site's order and types.
_Data = Mapping[str, object] | None
make_new_row: Final[Callable[
    [str, int, str | None, _Data, int | None, Literal["pending", "invalid"],
     CallError | None], NewRow]] = positional_constructor(NewRow)
make_loaded_row: Final[Callable[
    [str, int, RowState, RowState | None, CallError | None], LoadedRow]
] = positional_constructor(LoadedRow)
make_claim: Final[Callable[
    [str, int, str, str, _Data, int | None, int, str], Claim]
] = positional_constructor(Claim)
make_row_result: Final[Callable[
    [Claim, AnsweredState, str | None, CallError | None], RowResult]
] = positional_constructor(RowResult)
