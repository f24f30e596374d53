"""The report of one campaign run (or dry run). Pure."""

from __future__ import annotations

import logging

import attrs

from .records import CallOutcome, LedgerCounts

__all__ = ["CampaignReport"]

logger = logging.getLogger("sinch_calling.campaign")


@attrs.define(kw_only=True)
class CampaignReport:
    """What one run did, and where the campaign stands.

    This run: ``placed`` (calls Sinch accepted), ``failed`` (refused with a 4xx; not
    redialled unless ``retry_failed``), ``uncertain`` (may have been placed: never
    redialled; settle them), ``skipped`` (rows an earlier run settled or another
    worker holds, and duplicates: ``duplicates`` of them repeat an earlier row's
    number; a repeated id is invalid),
    ``invalid`` (preflight refused them; fix the input and rerun), ``rows`` (input rows
    read). Afterwards: ``pending`` (rows still to dial: a rerun dials them),
    ``earlier_uncertain`` (uncertain rows left by earlier runs, to settle),
    ``ledger_decided`` (dry runs: placed and uncertain rows the campaign's existing
    ledger holds, and failed ones unless ``retry_failed``; a run skips those of its
    input),
    ``stopped`` (why the run ended early: ``None``, ``"interrupted"``,
    ``"credentials rejected"``, ``"rate limited"``, ``"unreachable"``, ...),
    ``problems`` (the first ``max_problems`` failed, uncertain and invalid rows of this
    run, and rows whose ``id`` now gives another number than the one an earlier run
    dialled, counted in ``changed``; ``problems_omitted`` more), ``warnings`` (things
    a human should see, such as an empty input), ``totals`` (the whole ledger's counts, tracking
    results and cost), ``ledger`` (its location), ``elapsed`` (seconds).
    """

    placed: int = 0
    failed: int = 0
    uncertain: int = 0
    skipped: int = 0
    duplicates: int = 0
    invalid: int = 0
    rows: int = 0
    changed: int = 0
    pending: int = 0
    earlier_uncertain: int = 0
    ledger_decided: int = 0
    stopped: str | None = None
    dry_run: bool = False
    problems: list[CallOutcome] = attrs.Factory(list)
    problems_omitted: int = 0
    warnings: list[str] = attrs.Factory(list)
    totals: LedgerCounts | None = None
    ledger: str = ":memory:"
    elapsed: float = 0.0
    max_problems: int = 100

    def problem(self, outcome: CallOutcome) -> None:
        """Keep one problem row (up to ``max_problems``)."""
        if len(self.problems) < self.max_problems:
            self.problems.append(outcome)
        else:
            self.problems_omitted += 1

    def warn(self, message: str) -> None:
        """Keep a warning for the report (and log it)."""
        logger.warning("campaign: %s", message)
        self.warnings.append(message)

    @property
    def calls_per_second(self) -> float:
        """Placed calls per second of wall time."""
        return self.placed / self.elapsed if self.elapsed else 0.0

    @property
    def answer_rate(self) -> float | None:
        """Answered over tracked calls in the whole ledger (``None`` before tracking)."""
        return None if self.totals is None else self.totals.answer_rate

    @property
    def ok(self) -> bool:
        """True when nothing needs a human: no failed, uncertain, invalid, changed or
        pending row, no warning, and the run was not stopped."""
        return not (self.failed or self.uncertain or self.invalid or self.pending
                    or self.earlier_uncertain or self.stopped or self.changed
                    or self.warnings)

    def lines(self) -> list[str]:
        """A short human summary, one fact per line."""
        head = "dry run: " if self.dry_run else ""
        out = [f"{head}{self.rows} rows: {self.placed} placed, {self.failed} failed, "
               f"{self.uncertain} uncertain, {self.skipped} skipped{self._why_skipped()}, "
               f"{self.invalid} invalid, {self.pending} pending"]
        others = self.rows - (self.placed + self.failed + self.uncertain + self.skipped
                              + self.invalid + self.pending)
        if others > 0 and not self.dry_run:
            out.append(f"{others} rows were handled by other workers meanwhile (a shared "
                       "ledger)")
        out.extend(f"warning: {w}" for w in self.warnings)
        if self.dry_run and self.ledger_decided:
            out.append(f"the ledger already holds {self.ledger_decided} rows earlier runs "
                       "decided (placed, uncertain, or failed without retry_failed): a run "
                       "skips those of this input, so it dials at most the pending rows "
                       "above")
        if self.changed:
            out.append(f"{self.changed} rows give another number for an id an earlier run "
                       "already handled; not dialled (see problems)")
        if self.stopped and self.pending:
            out.append(f"stopped: {self.stopped}; {self.pending} rows still pending "
                       f"(a rerun with the same ledger dials them)")
        elif self.stopped:
            out.append(f"stopped: {self.stopped}; no row is left pending")
        if self.earlier_uncertain:
            out.append(f"{self.earlier_uncertain} uncertain rows from earlier runs in "
                       f"{self.ledger}: check them and settle each as placed or not placed")
        if self.totals is not None and self.totals.results:
            results = ", ".join(f"{k} {v}" for k, v in sorted(self.totals.results.items()))
            rate = self.totals.answer_rate
            out.append(f"outcomes: {results}" + (
                f" (answer rate {rate:.0%})" if rate is not None else ""))
            if self.totals.cost:
                out.append("cost: " + ", ".join(f"{amount:.4f} {currency}".strip()
                                                for currency, amount in
                                                sorted(self.totals.cost.items())))
        return out

    def _why_skipped(self) -> str:
        """`` (4 already handled, 1 duplicate)``: the two kinds of skipped rows (handled:
        settled by an earlier run, or held by another worker right now)."""
        earlier = self.skipped - self.duplicates
        parts = ([f"{earlier} already handled"] if earlier else []) + (
            [f"{self.duplicates} duplicate{'s' if self.duplicates != 1 else ''}"]
            if self.duplicates else [])
        return f" ({', '.join(parts)})" if parts else ""

    def __str__(self) -> str:
        return "\n".join(self.lines())
