"""Serving an aiohttp application on a TCP port: start, stop, where (no emulator state)."""

from __future__ import annotations

from aiohttp import web

__all__ = ["SHUTDOWN_TIMEOUT", "Server"]

SHUTDOWN_TIMEOUT = 0.25
"""Seconds in-flight requests get to finish when the server stops; aiohttp waits this
long twice (to finish, then after cancelling), so :meth:`Server.stop` takes half a
second at most."""


class Server:
    """Serves ``app`` on ``host``:``port`` (``port=0`` picks a free port, known once
    started)."""

    def __init__(self, app: web.Application, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        """Is it serving?"""
        return self._runner is not None

    @property
    def url(self) -> str:
        """``http://host:port`` (``RuntimeError`` when not running)."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; idempotent."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving (requests in flight get a moment to finish, then are cut off);
        idempotent."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
