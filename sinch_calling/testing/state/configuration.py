"""The emulator's account: applications, numbers, callback URLs and the accepted clock
skew of signed requests (pure data, no I/O)."""

from __future__ import annotations

import attrs

from ...auth import Credentials
from ...errors import ValidationError
from ...models import CallbackUrls, Capability
from .. import options

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
        """Give the account ``number`` (E.164, as the routes require: ``+46`` alone is
        not one), with ``capability`` (``voice`` or ``sms``) and assigned to
        ``application_key`` (``None``: unassigned). Raises
        :class:`~sinch_calling.errors.ValidationError` naming the argument."""
        options.number("number", number)
        try:
            kind = Capability(capability)
        except ValueError:
            raise ValidationError("capability", f"must be one of "
                                  f"{', '.join(c.value for c in Capability)}; "
                                  f"got {capability!r}") from None
        if application_key is not None and application_key not in self.applications:
            raise ValidationError("application_key", "must be a registered application, or "
                                                     f"None; got {application_key!r}")
        owned = OwnedNumber(number=number, capability=kind, application_key=application_key)
        self.numbers[number] = owned
        return owned
