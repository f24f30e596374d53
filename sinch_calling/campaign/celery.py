"""Campaigns on a Celery worker pool: K workers on any machines finish one campaign.

    app = Celery("calls", broker="redis://queue.example:6379/0")
    fleet = CampaignWorkers(app, ledger="postgresql://app@db.example/calls")

    # anywhere that imports the same module (a web request, a script):
    spec = CampaignSpec.tts("spring-reminders", text="Hi {first_name}", cli="+46...", rate=20)
    await fleet.start(spec, rows, workers=4)    # load the rows, send 4 tasks
    async for counts in fleet.watch(spec):      # LedgerCounts until nothing is left to do
        ...
    fleet.resume(spec, workers=2)               # more shares: after lost workers, or to help

Who decides what: Celery only carries "run a share of campaign X" messages and restarts
them; the PostgreSQL ledger (:mod:`sinch_calling.campaign.postgres`) decides who dials
which row. A share is a plain :class:`~sinch_calling.campaign.Campaign` run on the
ledger: it claims rows until none is left, and waits for rows other workers still hold
(their leases run out if those workers died). So the task is safe to run any number of
times, at once or again: ``acks_late`` with ``reject_on_worker_lost`` makes Celery
redeliver the share of a worker that was killed, and Celery's at-least-once delivery
never becomes a second call, because a row is dialled only by the worker that moved it
from ``claimed`` to ``sending`` in the ledger.

Credentials and the ledger's DSN never travel in messages: every process builds them
from its own configuration (``client``, default :meth:`SinchCalling.from_env`, and
``ledger``); a message holds the :class:`CampaignSpec` (template, rate, ...) only. The
workers rebuild the same campaign from it, so the ledger's identity check refuses a
worker whose code builds a different one. Requires the ``celery`` and ``postgres``
extras.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping
from typing import Any

import attrs

try:
    from celery import Celery
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("Celery workers need the 'celery' extra: "
                      "pip install 'sinch_calling[celery,postgres]'") from exc

from ..client import SinchCalling
from ..errors import LedgerUnavailableError, ValidationError
from .postgres import PostgresLedger, is_postgres_dsn
from .records import LedgerCounts

__all__ = ["RETRIES", "TASK_NAME", "CampaignSpec", "CampaignWorkers", "ShareResult"]

logger = logging.getLogger(__name__)

TASK_NAME = "sinch_calling.campaign.share"
RETRIES = 30
"""How many times a share whose database stayed unreachable is re-queued."""
"""The Celery task name of a campaign share."""

_KINDS = ("tts", "conference", "custom")
_CAMPAIGN_OPTIONS = ("rate", "concurrency", "lease", "number_column", "id_column",
                     "retry_failed", "max_requeues", "pacing_margin", "backoff",
                     "stop_timeout", "track")


@attrs.frozen(kw_only=True)
class CampaignSpec:
    """What every worker needs to rebuild one campaign, as JSON-able data.

    ``name``: the campaign's name in the ledger database; ``kind``: ``"tts"``,
    ``"conference"`` or ``"custom"``; ``template``: the keyword arguments of
    :meth:`Campaign.tts` / :meth:`Campaign.conference` (``conference_id`` included), or
    for ``custom`` ``{"place": "package.module:function"}`` (an ``async (sinch, row) ->
    call_id`` importable on every worker); ``options``: :class:`Campaign` options
    (``rate``, ``concurrency``, ``lease``, ``number_column``, ``id_column``,
    ``retry_failed``, ``max_requeues``, ``pacing_margin``, ``backoff``,
    ``stop_timeout``, ``track``); ``account``: passed to the ``client`` factory so a
    platform can pick one Sinch application per campaign (``None``: the default).
    """

    name: str
    kind: str
    template: Mapping[str, Any]
    options: Mapping[str, Any] = attrs.field(factory=dict)
    account: str | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError("name", "must be the campaign's non-empty name")
        if self.kind not in _KINDS:
            raise ValidationError("kind", f"must be one of {', '.join(_KINDS)}")
        unknown = sorted(set(self.options) - set(_CAMPAIGN_OPTIONS))
        if unknown:
            raise ValidationError(f"options.{unknown[0]}", "is not an option a worker "
                                  f"can rebuild (one of {', '.join(_CAMPAIGN_OPTIONS)})")
        if self.kind == "custom" and not (isinstance(self.template.get("place"), str)
                                          and ":" in self.template["place"]):
            raise ValidationError("template.place", "must be 'package.module:function'")

    @classmethod
    def tts(cls, name: str, *, account: str | None = None, **options: Any) -> CampaignSpec:
        """A text-to-speech campaign: :meth:`Campaign.tts` options and campaign options
        (``rate``, ``concurrency``, ...) mixed, as keywords."""
        return cls._split(name, "tts", options, account)

    @classmethod
    def conference(cls, name: str, conference_id: str, *, account: str | None = None,
                   **options: Any) -> CampaignSpec:
        """A conference campaign (:meth:`Campaign.conference` options)."""
        return cls._split(name, "conference", {"conference_id": conference_id, **options},
                          account)

    @classmethod
    def _split(cls, name: str, kind: str, options: dict[str, Any],
               account: str | None) -> CampaignSpec:
        campaign = {k: v for k, v in options.items() if k in _CAMPAIGN_OPTIONS}
        template = {k: v for k, v in options.items() if k not in _CAMPAIGN_OPTIONS}
        return cls(name=name, kind=kind, template=template, options=campaign,
                   account=account)

    def to_json(self) -> dict[str, Any]:
        """The message form (plain JSON types)."""
        return {"name": self.name, "kind": self.kind, "template": dict(self.template),
                "options": dict(self.options), "account": self.account}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CampaignSpec:
        """Back from :meth:`to_json`; ``ValidationError`` names a bad field."""
        if not isinstance(data, Mapping):
            raise ValidationError("spec", "must be a mapping from CampaignSpec.to_json()")
        for field in ("template", "options"):
            if not isinstance(data.get(field, {}), Mapping):
                raise ValidationError(field, "must be a mapping")
        return cls(name=data.get("name", ""), kind=data.get("kind", ""),
                   template=dict(data.get("template", {})),
                   options=dict(data.get("options", {})), account=data.get("account"))

    def build(self, sinch: SinchCalling, ledger: PostgresLedger) -> Any:
        """The :class:`~sinch_calling.campaign.Campaign` this spec describes."""
        from . import Campaign

        template: Any
        if self.kind == "tts":
            template = Campaign.tts(**self.template)
        elif self.kind == "conference":
            options = dict(self.template)
            template = Campaign.conference(options.pop("conference_id"), **options)
        else:
            module, _, attribute = str(self.template["place"]).partition(":")
            template = getattr(importlib.import_module(module), attribute)
        return Campaign(sinch, template, ledger=ledger, **dict(self.options))


@attrs.frozen(kw_only=True)
class ShareResult:
    """What one share did: the counts of its own calls, the campaign's totals after it,
    seconds it ran, and why it stopped early (``None``: it ran out of rows)."""

    placed: int
    failed: int
    uncertain: int
    elapsed: float
    stopped: str | None
    totals: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        """The task's return value (plain JSON types)."""
        return attrs.asdict(self)


class CampaignWorkers:
    """Registers the campaign-share task on ``app`` and starts, watches and resumes
    campaigns.

    ``ledger``: the PostgreSQL DSN (``postgresql://...``; its ``campaign`` parameter is
    ignored: the spec names the campaign); ``client``: ``(account) -> SinchCalling``
    (called inside the running event loop; default: :meth:`SinchCalling.from_env`);
    ``task_name``/``queue``: where shares go; ``poll``: seconds between looks at the
    ledger while other workers hold rows. The task is registered with ``acks_late``
    and ``reject_on_worker_lost``: a share whose worker died is delivered again; a
    share that raises :class:`~sinch_calling.errors.LedgerUnavailableError` (the
    database stayed unreachable longer than the ledger's ``outage``) is retried with
    exponential backoff (5 s doubling to 300 s, jittered, at most :data:`RETRIES` times).
    """

    def __init__(self, app: Celery, *, ledger: str,
                 client: Callable[[str | None], SinchCalling] | None = None,
                 task_name: str = TASK_NAME, queue: str | None = None,
                 poll: float = 1.0) -> None:
        if not is_postgres_dsn(ledger):
            raise ValidationError("ledger", "must be a postgresql:// URL: Celery workers "
                                            "on several machines share a PostgreSQL ledger")
        if isinstance(poll, bool) or not isinstance(poll, int | float) or not poll > 0:
            raise ValidationError("poll", "must be a positive number of seconds")
        PostgresLedger(ledger)  # checks the DSN now, not in every worker
        self._app = app
        self._dsn = ledger
        self._client = client if client is not None else _client_from_env
        self._queue = queue
        self._poll = float(poll)

        def share(task: Any, spec: dict[str, Any]) -> dict[str, Any]:
            return asyncio.run(self.run_share(CampaignSpec.from_json(spec))).to_json()

        # A share that lost its database for longer than the ledger's outage budget is
        # retried (re-queued with backoff), not acked as done: the campaign never stalls
        # silently on a database restart or failover.
        self.task = app.task(name=task_name, bind=True, acks_late=True,
                             reject_on_worker_lost=True,
                             autoretry_for=(LedgerUnavailableError,), retry_backoff=5,
                             retry_backoff_max=300, retry_jitter=True,
                             max_retries=RETRIES)(share)

    def ledger(self, spec: CampaignSpec) -> PostgresLedger:
        """An unopened ledger object for ``spec``'s campaign."""
        return PostgresLedger(self._dsn, campaign=spec.name)

    async def run_share(self, spec: CampaignSpec) -> ShareResult:
        """One worker's share, in this process: dial until no row is left, waiting while
        other workers hold rows (a dead worker's rows come back after its lease). What
        the Celery task runs; callable directly too (a plain process as a worker)."""
        started = time.monotonic()
        placed = failed = uncertain = 0
        stopped: str | None = None
        async with self._client(spec.account) as sinch:
            while True:
                campaign = spec.build(sinch, self.ledger(spec))
                report = await campaign.run([])
                placed += report.placed
                failed += report.failed
                uncertain += report.uncertain
                stopped = report.stopped
                totals: LedgerCounts = report.totals if report.totals is not None else \
                    await self.status(spec)
                held = totals.states["claimed"] + totals.states["sending"]
                if stopped is not None or (held == 0 and totals.states["pending"] == 0):
                    break
                if held == 0 and report.placed + report.failed + report.uncertain == 0:
                    break  # only rows left for a later run (deferred after refusals)
                await asyncio.sleep(self._poll)
        return ShareResult(placed=placed, failed=failed, uncertain=uncertain,
                           elapsed=time.monotonic() - started, stopped=stopped,
                           totals={str(k): int(v) for k, v in totals.states.items()})

    async def load(self, spec: CampaignSpec,
                   rows: Iterable[Any] | AsyncIterable[Any]) -> Any:
        """Preflight ``rows`` into the campaign's ledger without dialling; returns the
        :class:`~sinch_calling.campaign.CampaignReport` of the load (invalid rows and
        duplicates are in it). Loading again is idempotent (the ledger's rule 5)."""
        async with self._client(spec.account) as sinch:
            campaign = spec.build(sinch, self.ledger(spec))
            campaign.stop("loaded: the workers dial")
            return await campaign.run(rows)

    def resume(self, spec: CampaignSpec, *, workers: int = 1) -> list[str]:
        """Send ``workers`` share tasks for ``spec``; return their task ids. Safe at any
        time: shares of a finished campaign end at once."""
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValidationError("workers", "must be an integer >= 1")
        options: dict[str, Any] = {} if self._queue is None else {"queue": self._queue}
        return [self.task.apply_async(args=(spec.to_json(),), **options).id
                for _ in range(workers)]

    async def start(self, spec: CampaignSpec, rows: Iterable[Any] | AsyncIterable[Any], *,
                    workers: int = 1) -> Any:
        """:meth:`load` the rows, then :meth:`resume` with ``workers`` shares; returns the
        load's report."""
        report = await self.load(spec, rows)
        await asyncio.to_thread(self.resume, spec, workers=workers)
        return report

    async def status(self, spec: CampaignSpec) -> LedgerCounts:
        """The campaign's counts now (the ledger is the source of truth)."""
        ledger = self.ledger(spec)
        await ledger.open(None)
        try:
            return await ledger.counts()
        finally:
            await ledger.close()

    async def watch(self, spec: CampaignSpec, *, interval: float = 1.0,
                    idle: float = 300.0) -> AsyncIterator[LedgerCounts]:
        """Yield the campaign's counts every ``interval`` seconds until no row is pending,
        claimed or sending (the last counts are yielded too), or nothing changed for
        ``idle`` seconds while no row was held (rows left pending for a later run).

        Done and idle differ in the last counts: done has no row ``pending``,
        ``claimed`` or ``sending``; idle ("nobody working, N pending") returns with
        ``states["pending"] > 0`` and logs a warning saying so."""
        ledger = self.ledger(spec)
        await ledger.open(None)
        try:
            last: LedgerCounts | None = None
            since = time.monotonic()
            while True:
                counts = await ledger.counts()
                yield counts
                states = counts.states
                held = states["claimed"] + states["sending"]
                if held + states["pending"] == 0:
                    return
                if counts != last:
                    last, since = counts, time.monotonic()
                elif held == 0 and time.monotonic() - since >= idle:
                    # Not done: rows are pending and nobody works on them.
                    logger.warning(
                        "campaign %s: idle for %.0f s, no worker holds a row, %d rows "
                        "still pending (start workers or resume the campaign)",
                        spec.name, idle, states["pending"])
                    return
                await asyncio.sleep(interval)
        finally:
            await ledger.close()


def _client_from_env(account: str | None) -> SinchCalling:
    return SinchCalling.from_env()
