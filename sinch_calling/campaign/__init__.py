"""Callout campaigns: many calls, as fast as the account allows, never one twice.

    from sinch_calling.campaign import Campaign, read_rows

    campaign = Campaign(sinch, Campaign.tts(text="Hi {first_name}, see you at {time}.",
                                            cli="+46000000000"),
                        rate=10, concurrency=32, ledger="reminders.db",
                        number_column="phone")
    report = await campaign.run(read_rows("crm-export.csv"))
    async for outcome in campaign.results():
        ...

Modules: :mod:`.rows` (reading CSV files and number lists), :mod:`.templates` (what
each call says; mail merge), :mod:`.preflight` (row checks), :mod:`.ledger` (the
ledger interface), :mod:`.sqlite` (the embedded ledger), :mod:`.pacing` (exact pacing),
:mod:`.tracking` (following calls to FINAL), :mod:`.export` (results as JSON Lines or
CSV), :mod:`.runner` (:class:`Campaign`).

Safety rules, in order of importance: a row is dialled at most once, across reruns,
crashes and workers; ``sending`` is durable before each request; what may have placed
a call (5xx, a lost answer, an interrupted request) is *uncertain* and never redialled
until a human settles it; what provably placed nothing (preflight, 429, refused
connection, refused credentials, a stop before sending) stays pending for the next run.
"""

from __future__ import annotations

from .export import export_results
from .ledger import (
    LeaseLostError,
    Ledger,
    LedgerBusyError,
    LedgerCorruptError,
    LedgerError,
    LedgerMismatchError,
    LedgerNotFoundError,
    LedgerUnavailableError,
    RowStateError,
    UnknownRowError,
)
from .records import CallError, CallOutcome, FinalOutcome, LedgerCounts, RowState
from .report import CampaignReport
from .rows import InputRow, read_rows
from .runner import Campaign, open_ledger
from .sqlite import SQLiteLedger
from .templates import CampaignRow, PlaceCall

__all__ = [
    "CallError",
    "CallOutcome",
    "Campaign",
    "CampaignReport",
    "CampaignRow",
    "FinalOutcome",
    "InputRow",
    "LeaseLostError",
    "Ledger",
    "LedgerBusyError",
    "LedgerCorruptError",
    "LedgerCounts",
    "LedgerError",
    "LedgerMismatchError",
    "LedgerNotFoundError",
    "LedgerUnavailableError",
    "PlaceCall",
    "RowState",
    "RowStateError",
    "SQLiteLedger",
    "UnknownRowError",
    "export_results",
    "open_ledger",
    "read_rows",
]
