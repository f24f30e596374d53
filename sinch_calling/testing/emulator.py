"""``Emulator``: a local Sinch Calling API server, in-process, for tests and demos."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from aiohttp import web

from .app import build_app
from .faults import Faults
from .journal import RecordedRequest
from .lifecycle import CallLifecycle
from .recordings_state import RecordingStore
from .state import ConfigurationState
from .traffic_state import TrafficState

__all__ = ["DEFAULT_KEY", "DEFAULT_SECRET", "Emulator"]

DEFAULT_KEY = "emulator-application-key"
DEFAULT_SECRET = "ZW11bGF0b3Itc2VjcmV0LXNlY3JldA=="  # base64 of b"emulator-secret-secret"

DEFAULT_NUMBERS = ("+46000000000", "+46000000001", "+14045001000")


class Emulator:
    """A faithful local Calling API: ``async with Emulator() as emu:``, then give
    ``emu.url`` to ``SinchCalling(..., base_url=emu.url)``.

    It verifies signatures as Sinch does (or Basic), keeps state (numbers, callback
    URLs, ...), answers errors with Sinch's bodies, records every request in
    :attr:`requests` and follows the scripted failures in :attr:`faults`.
    """

    def __init__(
        self,
        application_key: str = DEFAULT_KEY,
        application_secret: str = DEFAULT_SECRET,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.application_key = application_key
        self.application_secret = application_secret
        self.host = host
        self.port = port
        self.configuration = ConfigurationState()
        self.configuration.add_application(application_key, application_secret)
        for number in DEFAULT_NUMBERS:
            self.configuration.add_number(number)
        self.traffic = TrafficState()
        self.lifecycle = CallLifecycle(self)
        self.recordings = RecordingStore()
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.app = build_app(self)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The origin to pass as ``base_url`` (``http://127.0.0.1:PORT``)."""
        if self._runner is None:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve (``port=0`` picks a free port)."""
        if self._runner is not None:
            return
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        """Stop serving; idempotent."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        where = self.url if self._runner else "stopped"
        return f"Emulator({where}, application_key={self.application_key!r})"
