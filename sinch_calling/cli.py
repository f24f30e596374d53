"""The ``sinch-calling`` command (also ``python -m sinch_calling``)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .auth import parse_timestamp
from .client import SinchCalling
from .errors import SinchError
from .serialization import converter
from .validation import http_url

__all__ = ["main"]

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def _print_json(value: Any) -> None:
    print(json.dumps(converter.unstructure(value), indent=2, ensure_ascii=False))


def _client(args: argparse.Namespace) -> SinchCalling:
    overrides: dict[str, Any] = {}
    if getattr(args, "region", None):
        overrides["region"] = args.region
    if getattr(args, "base_url", None):
        overrides["base_url"] = args.base_url
    return SinchCalling.from_env(**overrides)


async def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return await run_demo(verbose=not args.quiet)


def seconds_or_none(text: str) -> float | None:
    """``none`` or a positive number of seconds."""
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive seconds or 'none'; got {text!r}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0 picks a free one)."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535; got {text!r}")
    return int(text)


def timestamp(text: str) -> datetime:
    """An ISO-8601 timestamp; without a zone it means UTC."""
    try:
        return parse_timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an ISO-8601 timestamp such as 2024-05-01T00:00:00Z; got {text!r}"
        ) from None


def url(text: str) -> str:
    """An absolute http(s) URL."""
    try:
        return http_url("url", text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an absolute http(s) URL; got {text!r}") \
            from None


async def _emulator(args: argparse.Namespace) -> int:
    from .models import CallbackUrls
    from .testing import DEFAULT_KEY, DEFAULT_SECRET, Emulator, Mix

    key = args.application_key or DEFAULT_KEY
    secret = args.application_secret or DEFAULT_SECRET
    outcomes = None
    if args.mix:
        outcomes = Mix.from_spec(args.mix, seed=args.seed, ring=args.ring, talk=args.talk)
    emu = Emulator(key, secret, host=args.host, max_journal=args.max_journal,
                   port=args.port, outcomes=outcomes, auth_window=args.auth_window)
    if args.callback_url:
        emu.configuration.applications[key].callbacks = CallbackUrls(
            primary=args.callback_url, fallback=args.fallback_url)
    for index in range(args.recordings):
        emu.recordings.add_generated(f"recording-{index + 1:04d}.mp3", 64 * 1024, seed=index)
    async with emu:
        # A dedicated server process: keep its long-lived objects out of the collector's way.
        gc.freeze()
        print(f"Sinch Calling emulator on {emu.url}", flush=True)
        print(f"  SINCH_APPLICATION_KEY={emu.application_key}", flush=True)
        print(f"  SINCH_APPLICATION_SECRET={emu.application_secret}", flush=True)
        print(f"  SINCH_BASE_URL={emu.url}", flush=True)
        await asyncio.Event().wait()  # until Ctrl-C
    return 0


async def _numbers(args: argparse.Namespace) -> int:
    async with _client(args) as sinch:
        if args.action == "list":
            _print_json(await sinch.numbers.list())
        elif args.action == "assign":
            await sinch.numbers.assign(args.numbers, application_key=args.application_key,
                                       capability=args.capability)
        elif args.action == "unassign":
            for number in args.numbers:
                await sinch.numbers.unassign(number, application_key=args.application_key,
                                             capability=args.capability)
        else:
            for number in args.numbers:
                _print_json(await sinch.numbers.query(number))
    return 0


async def _callout(args: argparse.Namespace) -> int:
    async with _client(args) as sinch:
        if args.kind == "tts":
            call_id = await sinch.callouts.tts(args.destination, text=args.text, cli=args.cli,
                                               locale=args.locale)
        else:
            call_id = await sinch.callouts.conference(args.destination, args.conference_id,
                                                      greeting=args.text, cli=args.cli,
                                                      locale=args.locale)
    print(call_id)
    return 0


async def _calls(args: argparse.Namespace) -> int:
    from . import svaml

    async with _client(args) as sinch:
        if args.action == "get":
            _print_json(await sinch.calls.get(args.call_id))
        else:
            instructions = [svaml.Say(args.say)] if args.say else []
            await sinch.calls.manage(args.call_id, svaml.Svaml(instructions, svaml.Hangup()))
    return 0


async def _conferences(args: argparse.Namespace) -> int:
    async with _client(args) as sinch:
        conferences = sinch.conferences
        if args.action == "get":
            _print_json(await conferences.get(args.conference_id))
        elif args.action == "kick-all":
            await conferences.kick_all(args.conference_id)
        else:
            if not args.call_id:
                raise ValueError(f"{args.action} needs a call id")
            command = {"mute": conferences.mute, "unmute": conferences.unmute,
                       "kick": conferences.kick}[args.action]
            await command(args.conference_id, args.call_id)
    return 0


async def _recordings(args: argparse.Namespace) -> int:
    async with _client(args) as sinch:
        recordings = sinch.recordings
        if args.action == "list":
            async for recording in recordings.list(start=args.start, end=args.end):
                _print_json(recording)
        elif args.action in ("download", "delete") and not args.keys:
            raise ValueError(f"recordings {args.action} needs at least one key")
        elif args.action == "download":
            for key in args.keys:
                print(await recordings.download(key, args.output))
        elif args.action == "delete":
            for key in args.keys:
                await recordings.delete(key)
        else:
            report = await recordings.export(args.output, start=args.start, end=args.end,
                                             concurrency=args.concurrency,
                                             delete_after=args.delete_after)
            print(f"listed {report.listed}, downloaded {report.downloaded} "
                  f"({report.bytes_downloaded} bytes), skipped {report.skipped}, "
                  f"deleted {report.deleted}, failed {report.failed}; "
                  f"manifest {report.manifest}")
            for failure in report.failures:
                print(f"  {failure.key}: {failure.stage}: {failure.error}", file=sys.stderr)
            return 0 if report.ok else 1
    return 0


async def _campaign(args: argparse.Namespace) -> int:
    from .campaign import CallOutcome, Campaign

    text = await asyncio.to_thread(Path(args.file).read_text)
    destinations = [line.strip() for line in text.splitlines()
                    if line.strip() and not line.lstrip().startswith("#")]
    updates: list[Callable[[str | None], None]] = []

    def on_outcome(outcome: CallOutcome) -> None:
        for update in updates:
            update(outcome.status)

    async with _client(args) as sinch:
        campaign = Campaign(sinch, Campaign.tts(text=args.text, cli=args.cli,
                                                locale=args.locale),
                            rate=args.rate, concurrency=args.concurrency,
                            ledger=args.journal, on_outcome=on_outcome)
        progress = _progress(len(destinations))  # only once the options are known good
        updates.append(progress)
        try:
            report = await campaign.run(destinations)
        finally:
            progress(None)
    print(f"placed {report.placed}, skipped {report.skipped}, failed {report.failed}, "
          f"uncertain {report.uncertain} in {report.elapsed:.1f} s "
          f"({report.calls_per_second:.1f} calls/s)")
    for problem in report.problems:
        print(f"  {problem.status}: {problem.destination}: {problem.error}")
    return 0 if not report.problems else 1


def _progress(total: int) -> Callable[[str | None], None]:
    """A tqdm bar when tqdm is installed (the ``cli`` extra), else nothing."""
    try:
        from tqdm import tqdm
    except ImportError:
        return lambda _: None
    bar = tqdm(total=total, unit="call", file=sys.stderr)

    def update(status: str | None) -> None:
        if status is None:
            bar.close()
        else:
            bar.update(1)

    return update


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", help="euc1, use1, sae1, apse1, apse2 or global "
                                         "(default: $SINCH_REGION or global)")
    parser.add_argument("--base-url", help="an origin replacing the Sinch hosts "
                                           "(default: $SINCH_BASE_URL)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="sinch-calling",
        description="Sinch Calling API client. Credentials come from SINCH_APPLICATION_KEY "
                    "and SINCH_APPLICATION_SECRET (and SINCH_REGION, SINCH_BASE_URL).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the offline demo against the embedded emulator")
    demo.add_argument("--quiet", action="store_true", help="print only the summary")
    demo.set_defaults(run=_demo)

    emulator = sub.add_parser("emulator", help="serve the local Calling API emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=port_number, default=8700)
    emulator.add_argument("--application-key", help="default: the emulator's own key")
    emulator.add_argument("--application-secret", help="default: the emulator's own secret")
    emulator.add_argument("--recordings", type=int, default=0,
                          help="store this many generated 64 KiB recordings")
    emulator.add_argument("--auth-window", type=seconds_or_none, default=300.0,
                          help="accepted x-timestamp skew in seconds, or 'none' (default 300)")
    emulator.add_argument("--mix", help="call outcomes, e.g. answered=80,busy=10,noanswer=5,"
                                        "failed=5 (default: every call answered at once)")
    emulator.add_argument("--seed", default=0, help="seed of --mix")
    emulator.add_argument("--ring", type=float, default=0.0, help="seconds each call rings")
    emulator.add_argument("--talk", type=float, help="seconds each answered call lasts")
    emulator.add_argument("--max-journal", type=int, default=10_000,
                          help="keep the newest N requests, callbacks and finished calls "
                               "(default 10000; bounds memory under load)")
    emulator.add_argument("--callback-url", type=url,
                          help="the application's primary callback URL")
    emulator.add_argument("--fallback-url", type=url,
                          help="the application's fallback callback URL")
    emulator.set_defaults(run=_emulator)

    numbers = sub.add_parser("numbers", help="list, assign, unassign or query numbers")
    numbers.add_argument("action", choices=["list", "assign", "unassign", "query"])
    numbers.add_argument("numbers", nargs="*")
    numbers.add_argument("--application-key")
    numbers.add_argument("--capability", default="voice", choices=["voice", "sms"])
    _connection_options(numbers)
    numbers.set_defaults(run=_numbers)

    callout = sub.add_parser("callout", help="place a tts or conference callout")
    callout.add_argument("kind", choices=["tts", "conference"])
    callout.add_argument("destination", help="an E.164 number")
    callout.add_argument("conference_id", nargs="?", help="for a conference callout")
    callout.add_argument("--text", help="what to say (the greeting, for a conference)")
    callout.add_argument("--cli", help="the caller number shown")
    callout.add_argument("--locale")
    _connection_options(callout)
    callout.set_defaults(run=_callout)

    calls = sub.add_parser("calls", help="show a call, or hang it up")
    calls.add_argument("action", choices=["get", "hangup"])
    calls.add_argument("call_id")
    calls.add_argument("--say", help="with hangup: say this first")
    _connection_options(calls)
    calls.set_defaults(run=_calls)

    conferences = sub.add_parser("conferences", help="show a conference, control participants")
    conferences.add_argument("action", choices=["get", "mute", "unmute", "kick", "kick-all"])
    conferences.add_argument("conference_id")
    conferences.add_argument("call_id", nargs="?")
    _connection_options(conferences)
    conferences.set_defaults(run=_conferences)

    recordings = sub.add_parser("recordings", help="list, download, export or delete")
    recordings.add_argument("action", choices=["list", "download", "export", "delete"])
    recordings.add_argument("keys", nargs="*", help="recording keys (download, delete)")
    recordings.add_argument("--from", dest="start", type=timestamp,
                            help="ISO-8601 start of the window")
    recordings.add_argument("--to", dest="end", type=timestamp, help="ISO-8601 end of the window")
    recordings.add_argument("--output", default=".", help="directory (or file, for one key)")
    recordings.add_argument("--concurrency", type=int, default=8)
    recordings.add_argument("--delete-after", action="store_true",
                            help="export: delete each recording once its file is verified")
    _connection_options(recordings)
    recordings.set_defaults(run=_recordings)

    campaign = sub.add_parser("campaign", help="one tts callout per number in a file")
    campaign.add_argument("file", help="one E.164 number per line")
    campaign.add_argument("--text", required=True)
    campaign.add_argument("--cli")
    campaign.add_argument("--locale")
    campaign.add_argument("--rate", type=float, help="calls per second at most")
    campaign.add_argument("--concurrency", type=int, default=32)
    campaign.add_argument("--journal", help="a JSON-lines file making the campaign resumable")
    _connection_options(campaign)
    campaign.set_defaults(run=_campaign)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sinch-calling``."""
    args = build_parser().parse_args(argv)
    command: Command = args.run
    try:
        return asyncio.run(command(args))
    except KeyboardInterrupt:
        return 130
    except (SinchError, ValueError, OSError) as exc:
        print(f"sinch-calling: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
