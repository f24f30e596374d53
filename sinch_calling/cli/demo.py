"""``sinch-calling demo``: the whole library, offline, against the embedded emulator.

It plays the three jobs the library exists for, each step beside the command line that
does the same: a campaign read from a CSV (per-row text, a few bad rows, interrupted
and resumed with nobody called twice), a web backend answering Sinch's signed
callbacks with SVAML, outcomes and costs, live calls and conferences, and a recordings
export that survives cut connections; then a closing summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from ..client import SinchCalling
from ..svaml import ConnectPstn, Continue, Hangup, Say, Svaml
from .context import Context
from .parser import Registry
from .progress import tracker

if TYPE_CHECKING:  # the emulator and aiohttp.web load only when the demo runs
    from aiohttp import web

    from ..testing import Emulator
    from ..webhooks import CallbackRouter

CAMPAIGN_ROWS = 120
STOP_AFTER = 45
RECORDINGS = 30
RECORDING_SIZE = 256 * 1024
FIRST_NAMES = ("Anna", "Björn", "Chen", "Dalia", "Erik", "Fatima", "Gustav", "Hana")
BAD_ROWS = (("0701234567", "Ivan", "10:30", "a number without +"),
            ("+46 70 12", "Jonas", "11:00", "too short, spaces inside"),
            ("+46700001111", "", "11:30", "no first_name for the {first_name} placeholder"))


class Demo:
    """The demo's printer and scoreboard."""

    def __init__(self, console: Console, errors: Console, *, progress: bool) -> None:
        self.console = console
        self.errors = errors
        self.progress = progress
        self.summary: list[tuple[str, str]] = []
        self.started = time.monotonic()

    def step(self, number: int, title: str) -> None:
        self.console.print()
        self.console.rule(f"[bold]{number}. {title}", align="left")

    def command(self, line: str) -> None:
        self.console.print(f"[dim]$[/] [cyan]{line}[/]", highlight=False)

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def output(self, line: str) -> None:
        """A line as the command itself prints it (no markup)."""
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def table(self, title: str | None, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
              ) -> None:
        table = Table(title=title, title_justify="left", header_style="bold")
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        self.console.print(table)

    def done(self, what: str, result: str) -> None:
        self.summary.append((what, result))


def _backend(router: CallbackRouter, heard: Counter[str]) -> web.Application:
    """A web backend: every answered call hears a reminder; every hang-up is counted."""
    from aiohttp import web

    from ..events import AnsweredCallEvent, DisconnectedCallEvent

    @router.ace
    async def answered(event: AnsweredCallEvent) -> Svaml:
        heard["ace"] += 1
        return Svaml([Say("Press 1 to confirm, 2 to cancel", locale="en-US")],
                           Continue())

    @router.dice
    async def disconnected(event: DisconnectedCallEvent) -> None:
        heard["dice"] += 1
        heard[f"result {event.result}"] += 1

    app = web.Application()
    app.router.add_post("/sinch/callbacks", router.handle)
    return app


@asynccontextmanager
async def _serving(app: web.Application) -> AsyncIterator[str]:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/sinch/callbacks"
    finally:
        await runner.cleanup()


async def _configuration(demo: Demo, sinch: SinchCalling) -> None:
    demo.step(2, "Numbers and callback configuration")
    demo.command("sinch-calling numbers list")
    numbers = await sinch.numbers.list()
    demo.table(None, ("number", "capability", "application key"),
               [(n.number, n.capability, n.application_key) for n in numbers])
    demo.command(f"sinch-calling numbers assign {numbers[0].number}")
    await sinch.numbers.assign([numbers[0].number])
    demo.say(f"Assigned {numbers[0].number} to application {sinch.application_key} (voice)")
    demo.command("sinch-calling numbers query +46730170101")
    info = await sinch.numbers.query("+46730170101")
    rate = f"{info.rate.amount} {info.rate.currency_id}/min" if info.rate else ""
    demo.table(None, ("number", "country", "type", "rate"),
               [("+46730170101", info.country_id, info.number_type, rate)])
    demo.done("configuration", f"{len(numbers)} numbers listed, one assigned, one looked up")


def _write_csv(path: Path) -> None:
    lines = ["phone,first_name,time"]
    for index in range(CAMPAIGN_ROWS):
        lines.append(f"+4670{index:07d},{FIRST_NAMES[index % len(FIRST_NAMES)]},"
                     f"{9 + index % 8}:{'30' if index % 2 else '00'}")
    for number, name, at, _ in BAD_ROWS:
        lines.append(f"{number},{name},{at}")
    lines.append("+46700000003,Dalia,12:00")  # a duplicate: called once
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")  # Excel-style


async def _campaign(demo: Demo, emu: Emulator, sinch: SinchCalling, directory: Path) -> None:
    from ..campaign import CallOutcome, Campaign, read_rows
    from .campaign import counted_status, problem_lines

    demo.step(4, "A campaign from a CSV, with per-row text")
    csv_path = directory / "reminders.csv"
    _write_csv(csv_path)
    ledger = directory / "reminders.csv.ledger"
    text = "Hi {first_name}, see you at {time}."
    command = (f"sinch-calling campaign reminders.csv --number-column phone --text "
               f"'{text}' --cli +46000000000 --rate 60 --track")
    demo.say(f"reminders.csv: {CAMPAIGN_ROWS + len(BAD_ROWS) + 1} rows exported from a CRM "
             "(UTF-8 with BOM, CRLF), a few of them bad, one duplicate.")

    def campaign(on_outcome: Any = None) -> Campaign:
        return Campaign(sinch, Campaign.tts(text=text, cli="+46000000000", enable_ace=True,
                                            enable_dice=True),
                        rate=60, concurrency=16, ledger=ledger, track=True,
                        number_column="phone", on_outcome=on_outcome,
                        # emulated calls last about two seconds: poll briskly
                        track_first_poll=0.5, track_max_interval=0.5, track_rate=500,
                        track_concurrency=16)

    demo.command(command + " --dry-run")
    checked = await campaign().preflight(read_rows(csv_path))
    for line in checked.lines() + problem_lines(checked):  # as the command prints them
        demo.output(line)

    async def run(label: str, stop_after: int | None) -> Any:
        bar = tracker(label, "campaign", stderr=demo.errors.file, enabled=demo.progress)
        counts = {"placed": 0, "failed": 0, "uncertain": 0}
        seen = 0
        task: asyncio.Task[Any]

        def on_outcome(outcome: CallOutcome) -> None:
            nonlocal seen
            seen += 1
            status = counted_status(outcome)  # this run's calls, as the command counts
            if status in counts:
                counts[status] += 1
            bar.update(seen, checked.rows, **counts)
            if stop_after is not None and counts["placed"] == stop_after:
                asyncio.get_running_loop().call_soon(task.cancel)  # as Ctrl-C does

        task = asyncio.ensure_future(campaign(on_outcome).run(read_rows(csv_path)))
        try:
            return await task
        finally:
            bar.close()

    demo.command(command)
    first = await run("campaign (first run)", STOP_AFTER)
    demo.say(f"[yellow]^C[/] stopped after {first.placed} calls placed: no new call, the calls "
             f"in flight were waited for and recorded; {first.pending} rows pending.")
    demo.say(f"resume with: [cyan]{command}[/]")
    demo.command(command)
    second = await run("campaign (resumed)", None)
    demo.say(f"resumed: {second.placed} more placed, {second.skipped} skipped (already done "
             "or duplicate)")
    dialled = Counter(json.loads(r.body)["ttsCallout"]["destination"]["endpoint"]
                      for r in emu.requests_to("/calling/v1/callouts", "POST"))
    twice = [number for number, times in dialled.items() if times > 1]
    demo.say(f"[green]nobody called twice[/]: the emulator received {sum(dialled.values())} "
             f"callouts for {len(dialled)} different numbers" if not twice else
             f"[red]called twice: {twice}")

    demo.step(5, "Outcomes and costs")
    demo.command("sinch-calling campaign status --ledger reminders.csv.ledger")
    totals = second.totals
    results = dict(totals.results) if totals is not None else {}
    cost = dict(totals.cost) if totals is not None else {}
    demo.table(None, ("result", "calls"), sorted(results.items()))
    rate = second.answer_rate
    demo.say(f"answer rate {rate:.0%}" if rate is not None else "no outcomes tracked yet")
    demo.say("cost: " + (", ".join(f"{amount:.4f} {currency}" for currency, amount in
                                   sorted(cost.items())) or "none reported"))
    demo.done("campaign", f"{first.placed + second.placed} placed across an interruption, "
                          f"{checked.invalid} bad rows refused, nobody called twice")
    demo.done("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(results.items())))


async def _live_calls(demo: Demo, emu: Emulator, sinch: SinchCalling) -> None:
    from ..testing import Outcome

    demo.step(6, "Live calls and conferences")
    emu.outcomes.set("+467[12]*", Outcome.answered())  # picked up at once, on until hung up
    guests = []
    for index in range(3):
        number = f"+4671000000{index}"
        demo.command(f"sinch-calling callout conference {number} demo-room "
                     "--greeting 'Welcome to the demo room'")
        guests.append(await sinch.callouts.conference(number, "demo-room",
                                                      greeting="Welcome to the demo room"))
    await emu.settle()
    demo.command(f"sinch-calling conferences mute demo-room {guests[0]}")
    await sinch.conferences.mute("demo-room", guests[0])
    demo.command(f"sinch-calling conferences kick demo-room {guests[1]}")
    await sinch.conferences.kick("demo-room", guests[1])
    demo.command("sinch-calling conferences get demo-room")
    room = await sinch.conferences.get("demo-room")
    demo.table(None, ("call id", "cli", "muted"),
               [(p.call_id, p.cli, "yes" if p.muted else "no") for p in room.participants])
    demo.command("sinch-calling conferences kick-all demo-room --yes")
    await sinch.conferences.kick_all("demo-room")

    ice = Svaml(action=ConnectPstn(number="+46720000001"))
    demo.command("sinch-calling callout custom +46720000001 --ice "
                 "'{\"action\": {\"name\": \"connectPstn\", \"number\": \"+46720000001\"}}'")
    call_id = await sinch.callouts.custom(destination="+46720000001", ice=ice)
    await emu.settle()
    demo.command(f"sinch-calling calls say {call_id} 'Please hold' --leg callee")
    await sinch.calls.manage_leg(call_id, "callee", Svaml([Say("Please hold")]))
    demo.command(f"sinch-calling calls hangup {call_id} --say Goodbye")
    await sinch.calls.manage(call_id, Svaml([Say("Goodbye")], Hangup()))
    demo.command(f"sinch-calling calls get {call_id}")
    call = await sinch.calls.get(call_id)
    demo.table(None, ("call id", "status", "result", "reason"),
               [(call.call_id, call.status, call.result, call.reason)])
    demo.done("live calls", f"3 conference guests (muted, kicked, kicked all); a custom call "
                            f"steered by SVAML, {call.status} {call.reason}")


async def _export(demo: Demo, emu: Emulator, sinch: SinchCalling, directory: Path) -> None:
    demo.step(7, "Recordings export that survives cut connections")
    for index in range(RECORDINGS):
        emu.recordings.add_generated(f"calls/2026/rec-{index:03d}.mp3", RECORDING_SIZE,
                                     seed=index)
    cuts = emu.faults.add("GET", "/calling/v1/recording/*", cut_after=100_000, times=3)
    target = directory / "recordings"
    demo.command("sinch-calling recordings export recordings/")
    bar = tracker("export to recordings/", "export", stderr=demo.errors.file,
                  enabled=demo.progress)
    try:
        first = await sinch.recordings.export(
            target, concurrency=8,
            progress=lambda p: bar.update(p.completed, p.listed, bytes=p.bytes_downloaded))
    finally:
        bar.close()
    demo.command("sinch-calling recordings export recordings/ --delete-after --yes")
    again = await sinch.recordings.export(target, concurrency=8, delete_after=True)
    left = [r async for r in sinch.recordings.list()]
    demo.table(None, ("run", "downloaded", "KiB", "already there", "deleted on Sinch", "failed"),
               [("first", first.downloaded, first.bytes_downloaded // 1024, first.skipped,
                 first.deleted, first.failed),
                ("second", again.downloaded, again.bytes_downloaded // 1024, again.skipped,
                 again.deleted, again.failed)])
    demo.say(f"{cuts.fired} connections were cut mid-file and resumed with Range; "
             f"{len(left)} recordings left on the server; manifest {first.manifest.name}")
    demo.done("export", f"{first.downloaded} files, {cuts.fired} cut connections resumed, "
                        f"then {again.deleted} deleted once verified")


async def run_demo(console: Console, errors: Console, *, progress: bool = True
                   ) -> dict[str, Any]:
    """Start an emulator, drive it with a client and a backend, print each step; return
    the summary (step -> what happened, plus totals)."""
    from ..testing import Emulator, Mix, Outcome
    from ..webhooks import CallbackRouter

    demo = Demo(console, errors, progress=progress)
    console.print(Panel.fit("[bold]sinch_calling demo[/]: the whole library against the "
                            "embedded emulator.\nNo account, no network; each step shows "
                            "the command line that does the same."))
    heard: Counter[str] = Counter()
    mix = Mix({Outcome.answered(ring=0.2, talk=1.5): 80, Outcome.busy(ring=0.2): 8,
               Outcome.no_answer(ring=0.8): 7, Outcome.failed(): 5}, seed=2026)
    async with Emulator(outcomes=mix) as emu:
        demo.step(1, "A local Calling API")
        demo.command("sinch-calling emulator")
        demo.say(f"emulator on {emu.url}: signed requests, Sinch's errors, calls that ring, "
                 "answer and hang up, signed callbacks")
        router = CallbackRouter(emu.application_key, emu.application_secret)
        async with _serving(_backend(router, heard)) as callback_url, \
                SinchCalling(emu.application_key, emu.application_secret,
                             base_url=emu.url) as sinch:
            await _configuration(demo, sinch)
            demo.step(3, "A web backend answering callbacks")
            demo.command(f"sinch-calling callbacks set {callback_url}")
            await sinch.callbacks.update(callback_url)
            demo.say(f"Callbacks of application {sinch.application_key} now go to "
                     f"{callback_url}: ACE is answered with SVAML, DiCE is logged")
            with tempfile.TemporaryDirectory(prefix="sinch-demo-") as scratch:
                await _campaign(demo, emu, sinch, Path(scratch))
                demo.say(f"the backend answered {heard['ace']} ACE callbacks with SVAML and "
                         f"logged {heard['dice']} DiCE")
                demo.done("web backend", f"{heard['ace']} ACE answered, {heard['dice']} DiCE "
                                         "logged, every callback signed and verified")
                await _live_calls(demo, emu, sinch)
                await _export(demo, emu, sinch, Path(scratch))
        demo.step(8, "Summary")
        demo.table(None, ("step", "what happened"), demo.summary)
        elapsed = time.monotonic() - demo.started
        console.print(f"demo finished in {elapsed:.1f} s: {len(emu.requests)} signed "
                      f"requests served, {len(emu.events)} signed callbacks sent. Next: "
                      "'sinch-calling --help', README's command line section.")
        return {"steps": dict(demo.summary), "requests": len(emu.requests),
                "callbacks": len(emu.events), "elapsed": round(elapsed, 3)}


async def _demo(ctx: Context, args: argparse.Namespace) -> int:
    progress = not (args.no_progress or args.quiet)
    # With --json the walk-through goes to stderr and stdout gets only the summary.
    console = ctx.out.errors if ctx.out.json_mode else ctx.out.console
    summary = await run_demo(console, ctx.out.errors, progress=progress)
    if ctx.out.json_mode:
        ctx.out.document(summary)
    return 0


def register(registry: Registry) -> None:
    """Add the ``demo`` command."""
    registry.add("demo", help="the whole library, offline, against the embedded emulator",
                 run=_demo, examples=["sinch-calling demo", "sinch-calling demo --no-progress"])
