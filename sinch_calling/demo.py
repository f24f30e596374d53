"""The offline demo: every capability, end to end, against the embedded emulator."""

from __future__ import annotations

from .client import SinchCalling
from .testing import Emulator

__all__ = ["run_demo"]


async def run_demo(*, verbose: bool = True) -> int:
    """Start an emulator, drive it with a client, print what happens; 0 on success."""

    def say(text: str) -> None:
        if verbose:
            print(text, flush=True)

    async with Emulator() as emu, SinchCalling(
        emu.application_key, emu.application_secret, base_url=emu.url
    ) as sinch:
        say(f"emulator at {emu.url}; client {sinch!r}")

        numbers = await sinch.numbers.list()
        say(f"numbers owned: {', '.join(n.number for n in numbers)}")
        await sinch.numbers.assign([numbers[0].number])
        say(f"assigned {numbers[0].number} to {sinch.application_key}")
        info = await sinch.numbers.query("+46730170101")
        say(f"query +46730170101: {info.country_id} {info.number_type}, "
            f"{info.rate.amount if info.rate else '?'} {info.rate.currency_id if info.rate else ''}"
            "/min")
        await sinch.callbacks.update("https://backend.example/sinch", "https://backup.example/sinch")
        urls = await sinch.callbacks.get()
        say(f"callbacks: primary={urls.primary} fallback={urls.fallback}")
        await sinch.numbers.unassign(numbers[0].number)

        print(f"demo finished: {len(emu.requests)} signed requests served by the emulator",
              flush=True)
    return 0
