"""Rules on composite arguments of the traffic endpoints: a destination, a custom
callout's event handler. They stand on models and SVAML, so they live above them; every
rule on a plain value is in :mod:`sinch_calling.validation`."""

from __future__ import annotations

from ..errors import ValidationError
from ..models import Destination, DestinationType
from ..serialization import dumps
from ..validation import e164, http_url, non_empty, one_of

__all__ = ["callback", "destination"]


def destination(field: str, value: object) -> Destination:
    """A ``str`` is a PSTN number (E.164); a :class:`Destination` needs an endpoint, and
    an E.164 one when its type is ``number``."""
    if isinstance(value, str):
        return Destination.number(e164(field, value))
    if not isinstance(value, Destination):
        raise ValidationError(field, "must be an E.164 number string or a Destination; "
                                     f"got {type(value).__name__}")
    kind = one_of(f"{field}.type", value.type, DestinationType)
    non_empty(f"{field}.endpoint", value.endpoint)
    if kind == DestinationType.NUMBER:
        e164(f"{field}.endpoint", value.endpoint)
    return value


def callback(field: str, value: object) -> str | None:
    """A custom callout's event handler: a callback URL, or a :class:`Svaml` sent inline
    as the compact JSON text Sinch expects (checked against what Sinch accepts for that
    event: ICE takes only ``connectPstn``; DiCE takes no SVAML)."""
    if value is None:
        return None
    if isinstance(value, str):
        return http_url(field, value)
    from ..svaml import Svaml, check_answer  # SVAML machinery loads on first use

    if isinstance(value, Svaml):
        if field == "dice":
            raise ValidationError(field, "must be a callback URL: DiCE is answered with no SVAML")
        check_answer(value, field, field=field)
        if field == "ice" and value.action is not None and value.action.name != "connectPstn":
            raise ValidationError(f"{field}.action", "a custom callout's inline ICE answer "
                                                     "must be connectPstn")
        try:
            return dumps(value).decode()
        except ValidationError as exc:
            raise ValidationError(field, exc.rule) from None
    raise ValidationError(field, f"must be an http(s) URL or a svaml.Svaml; "
                                 f"got {type(value).__name__}")
