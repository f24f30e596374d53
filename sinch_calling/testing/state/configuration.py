"""The emulator's account: applications, numbers, callback URLs and the accepted clock
skew of signed requests (pure data, no I/O)."""

from __future__ import annotations

import attrs

from ...auth import Credentials
from ...models import CallbackUrls, Capability

__all__ = ["Application", "ConfigurationState", "OwnedNumber"]


@attrs.define(kw_only=True)
class Application:
    """An application: its key, secret and callback URLs (set ``callbacks`` to have the
    emulator POST ICE/ACE/PIE/DiCE/notify events to your backend)."""

    key: str
    secret: str = attrs.field(repr=False)
    callbacks: CallbackUrls = attrs.Factory(CallbackUrls)
    credentials: Credentials = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        self.credentials = Credentials(self.key, self.secret)


@attrs.define(kw_only=True)
class OwnedNumber:
    """A number the account owns, with its capability and application."""

    number: str
    capability: Capability = Capability.VOICE
    application_key: str | None = None


@attrs.define(kw_only=True)
class ConfigurationState:
    """Everything the configuration API reads and writes, and how requests are checked.

    ``auth_window``: seconds a signed request's ``x-timestamp`` may differ from now
    either way (``None``: any timestamp is fresh).
    """

    applications: dict[str, Application] = attrs.Factory(dict)
    numbers: dict[str, OwnedNumber] = attrs.Factory(dict)
    auth_window: float | None = 300.0

    def add_application(self, key: str, secret: str) -> Application:
        """Register an application whose requests the emulator will accept."""
        app = Application(key=key, secret=secret)
        self.applications[key] = app
        return app

    def add_number(self, number: str, capability: Capability | str = Capability.VOICE,
                   application_key: str | None = None) -> OwnedNumber:
        """Give the account a number."""
        owned = OwnedNumber(number=number, capability=Capability(capability),
                            application_key=application_key)
        self.numbers[number] = owned
        return owned
