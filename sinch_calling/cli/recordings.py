"""``sinch-calling recordings list | download | delete | export``."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..models import Recording
from . import options
from .context import Context
from .errors import _CommandFailed, _UsageError
from .parser import Registry

_FIELDS = {"start": "--from", "end": "--to", "key": "KEY", "directory": "DIR",
           "destination": "--output", "concurrency": "--concurrency"}


async def _list(ctx: Context, args: argparse.Namespace) -> int:
    def render(batch: list[Recording]) -> None:
        ctx.out.table(("key", "created", "expires"),
                      ((r.key, r.created_on, r.expires_on) for r in batch),
                      empty="no recordings in that window")

    async with ctx.client() as sinch:
        listing = sinch.recordings.list(start=args.start, end=args.end, page_size=args.page_size)
        await ctx.out.stream(listing, render)
    return 0


async def _download(ctx: Context, args: argparse.Namespace) -> int:
    if args.output == "-":
        if len(args.keys) != 1:
            raise _UsageError("--output -: writes one recording to stdout; give exactly one KEY")
        if ctx.out.json_mode:
            raise _UsageError("--json: cannot be combined with --output - (stdout holds the audio)")
        return await _to_stdout(ctx, args.keys[0])
    done: list[dict[str, Any]] = []
    async with ctx.client() as sinch:
        for key in args.keys:
            ctx.interrupted = (f"interrupted after downloading {len(done)} of "
                               f"{len(args.keys)} recordings; run the same command again to "
                               "resume (a partial file continues where it stopped)")
            path = await sinch.recordings.download(key, args.output)
            size = path.stat().st_size
            done.append({"key": key, "path": str(path), "size": size})
            if not ctx.out.json_mode:
                ctx.out.done(f"Downloaded {key} to {path} ({size} bytes)", None)
    if ctx.out.json_mode:
        ctx.out.document(done)
    return 0


async def _to_stdout(ctx: Context, key: str) -> int:
    sink = sys.stdout.buffer
    async with ctx.client() as sinch, sinch.recordings.stream(key) as body:
        async for chunk in body:
            sink.write(chunk)
    sink.flush()
    return 0


async def _delete(ctx: Context, args: argparse.Namespace) -> int:
    count = len(args.keys)
    ctx.confirm(f"Delete {count} recording{'s' if count > 1 else ''} from Sinch "
                "(this cannot be undone)?", yes=args.yes)
    deleted: list[str] = []
    async with ctx.client() as sinch:
        for key in args.keys:
            try:
                await sinch.recordings.delete(key)
            except BaseException:
                if deleted:
                    ctx.out.note(f"deleted {len(deleted)} of {count} before the error: "
                                 f"{', '.join(deleted)}")
                raise
            deleted.append(key)
    ctx.out.done(f"Deleted {count} recording{'s' if count > 1 else ''}: {', '.join(deleted)}",
                 {"deleted": deleted})
    return 0


async def _export(ctx: Context, args: argparse.Namespace) -> int:
    if args.delete_after:
        ctx.confirm("Delete each recording from Sinch once its file is verified?", yes=args.yes)
    bar = ctx.progress(f"export to {args.directory}", "export")
    seen = {"completed": 0, "failed": 0}
    command = ctx.command_line
    ctx.interrupted = (f"interrupted; files finished so far are kept and listed in "
                       f"{args.directory}/manifest.jsonl; resume with: {command}")

    def progress(p: Any) -> None:
        seen["completed"] = p.completed
        if p.outcome == "failed":
            seen["failed"] += 1
        bar.update(p.completed, p.listed, bytes=p.bytes_downloaded, failed=seen["failed"])

    started = time.monotonic()
    try:
        async with ctx.client() as sinch:
            report = await sinch.recordings.export(
                args.directory, start=args.start, end=args.end, concurrency=args.concurrency,
                delete_after=args.delete_after, progress=progress)
    finally:
        bar.close()
    ctx.interrupted = None
    _report_export(ctx, report, time.monotonic() - started)
    if not report.ok:
        raise _CommandFailed(f"{report.failed} of {report.listed} recordings failed; run the "
                            f"same command again to retry them: {command}")
    return 0


def _report_export(ctx: Context, report: Any, elapsed: float) -> None:
    if ctx.out.json_mode:
        ctx.out.document({
            "directory": str(report.directory), "manifest": str(report.manifest),
            "listed": report.listed, "downloaded": report.downloaded,
            "skipped": report.skipped, "deleted": report.deleted,
            "bytesDownloaded": report.bytes_downloaded, "failed": report.failed,
            "failures": [{"key": f.key, "stage": f.stage, "error": f.error}
                         for f in report.failures],
            "elapsed": round(elapsed, 3)})
    else:
        ctx.out.done(
            f"Exported {report.listed} recordings to {report.directory}: {report.downloaded} "
            f"downloaded ({report.bytes_downloaded} bytes), {report.skipped} already there, "
            f"{report.deleted} deleted on Sinch, {report.failed} failed; manifest "
            f"{report.manifest}", None)
    for failure in report.failures:
        ctx.out.warn(f"{failure.key}: {failure.stage} failed: {failure.error}")


def _window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=options.timestamp, metavar="T",
                        help="ISO-8601 start of the window, e.g. 2024-05-01T00:00:00Z")
    parser.add_argument("--to", dest="end", type=options.timestamp, metavar="T",
                        help="ISO-8601 end of the window (exclusive)")


def register(registry: Registry) -> None:
    """Add the ``recordings`` group."""
    group = registry.add("recordings", help="list, download, delete or export recordings",
                         examples=["sinch-calling recordings list --from 2024-05-01T00:00:00Z",
                                   "sinch-calling recordings export recordings/"])
    commands = registry.group(group)
    listing = commands.add("list", help="list recordings of a time window", run=_list,
                           fields=_FIELDS,
                           examples=["sinch-calling recordings list --from 2024-05-01 "
                                     "--to 2024-06-01 --json"])
    _window(listing)
    listing.add_argument("--page-size", type=options.positive_int, default=100, metavar="N",
                         help="recordings asked for per request")

    download = commands.add("download", help="download recordings to files (or stdout)",
                            run=_download, fields=_FIELDS,
                            examples=["sinch-calling recordings download KEY --output "
                                      "recordings/",
                                      "sinch-calling recordings download KEY --output - "
                                      "| ffplay -"])
    download.add_argument("keys", nargs="+", metavar="KEY", help="recording keys")
    download.add_argument("-o", "--output", default=".", metavar="PATH",
                          help="a directory, a file (one KEY), or - for stdout")

    delete = commands.add("delete", help="delete recordings from Sinch's storage", run=_delete,
                          fields=_FIELDS,
                          examples=["sinch-calling recordings delete KEY --yes"])
    delete.add_argument("keys", nargs="+", metavar="KEY", help="recording keys")
    delete.add_argument("-y", "--yes", action="store_true",
                        help="do not ask (needed when not on a terminal)")

    export = commands.add("export", help="download every recording of a window, resumably",
                          run=_export, fields=_FIELDS,
                          description="Download every recording of a time window into DIR. "
                                      "Files already there (per DIR/manifest.jsonl) are "
                                      "skipped, so running it again resumes.",
                          examples=["sinch-calling recordings export recordings/ "
                                    "--from 2024-05-01T00:00:00Z",
                                    "sinch-calling recordings export recordings/ "
                                    "--delete-after --yes"])
    export.add_argument("directory", metavar="DIR", help="where the files and manifest go")
    _window(export)
    export.add_argument("--concurrency", type=options.positive_int, default=8, metavar="N",
                        help="downloads at once")
    export.add_argument("--delete-after", action="store_true",
                        help="delete each recording from Sinch once its file is verified")
    export.add_argument("-y", "--yes", action="store_true",
                        help="do not ask before --delete-after (needed off a terminal)")
