"""A plain campaign runner process on a shared ledger (no Celery), for the fleet tests:

    python -m tests.fleet_runner NUMBERS_FILE LEDGER_DSN RATE CONCURRENCY LEASE

RATE 0: unpaced. Credentials from SINCH_APPLICATION_KEY/SECRET/SINCH_BASE_URL. Exits 0
once the campaign has nothing left to dial (other processes' rows included)."""

from __future__ import annotations

import asyncio
import os
import sys

from sinch_calling import SinchCalling
from sinch_calling.campaign import Campaign, read_rows


async def main(path: str, dsn: str, rate: float, concurrency: int, lease: float) -> int:
    async with SinchCalling.from_env() as sinch:
        campaign = Campaign(sinch, Campaign.tts(text="Your code is 1234", cli="+46000000000"),
                            rate=rate or None, concurrency=concurrency, ledger=dsn, lease=lease,
                            pacing_margin=float(os.environ.get("FLEET_MARGIN", "0.25")))
        report = await campaign.run(read_rows(path))
    return 0 if report.stopped is None else 1


if __name__ == "__main__":
    file, dsn, rate, concurrency, lease = sys.argv[1:6]
    sys.exit(asyncio.run(main(file, dsn, float(rate), int(concurrency), float(lease))))
