"""``sinch.calls``: read and steer live calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
from yarl import URL

from ..errors import ValidationError
from ..models import Call, CallLeg
from ..regions import SINCH_TRAFFIC_HOSTS, TRAFFIC_PREFIX, encode_segment
from ..serialization import dumps
from ..signer import origin_of
from ..transport import Transport, decode
from ..validation import identifier, non_empty

if TYPE_CHECKING:
    from ..svaml import Svaml

__all__ = ["CallsApi", "call_leg", "check_leg_svaml"]


_LEG_VALUES = ", ".join(repr(leg.value) for leg in CallLeg)


def call_leg(value: object, *, field: str = "leg") -> CallLeg:
    """``value`` as a :class:`~sinch_calling.models.CallLeg`: the enum itself or its
    string (``"caller"``, ``"callee"``, ``"both"``; case ignored). Raises
    :class:`~sinch_calling.errors.ValidationError` naming ``field`` otherwise."""
    if isinstance(value, CallLeg):
        return value
    if isinstance(value, str):
        try:
            return CallLeg[CallLeg(value).name]  # canonical spelling, whatever case came
        except ValueError:
            pass
    raise ValidationError(field, f"must be one of {_LEG_VALUES} (Sinch's callLeg); "
                                 f"got {value!r}")


def check_leg_svaml(document: object, *, field: str = "svaml") -> Svaml:
    """The document ``calls.manage_leg`` sends for ``document``, once Sinch would take it.

    Sinch plays only ``playFiles`` and ``say`` to one leg of a call (its "Manage call
    with callLeg" reference), so: at least one instruction, each a
    :class:`~sinch_calling.svaml.PlayFiles` naming at least one file or a
    :class:`~sinch_calling.svaml.Say` with text; the action ``Hangup()``, ``Continue()``
    or none, in which case ``Continue()`` is sent (a SVAML document carries exactly one
    action). Anything else (``sendDtmf``, ``runMenu``, a connect action, ...) steers the
    whole call and belongs in ``calls.manage``. Pure; raises
    :class:`~sinch_calling.errors.ValidationError` naming the element and the rule.
    """
    from ..svaml import Continue, Hangup, PlayFiles, Say, Svaml  # loaded by the caller's SVAML

    if not isinstance(document, Svaml):
        raise ValidationError(field, f"must be a svaml.Svaml; got {type(document).__name__}")
    if not document.instructions:
        raise ValidationError(f"{field}.instructions", "a call leg PATCH needs at least one "
                                                       "playFiles or say instruction")
    for i, instruction in enumerate(document.instructions):
        where = f"{field}.instructions[{i}]"
        if isinstance(instruction, Say):
            if not instruction.text.strip():
                raise ValidationError(f"{where}.text", "must be non-empty text to say")
        elif isinstance(instruction, PlayFiles):
            if not instruction.ids or not all(isinstance(file_id, str) and file_id.strip()
                                              for file_id in instruction.ids):
                raise ValidationError(f"{where}.ids", "must name at least one file, each a "
                                                      f"non-empty string; got {instruction.ids!r}")
        else:
            raise ValidationError(where, f"Sinch plays only playFiles and say to a call leg; "
                                         f"got {instruction.name!r} (use calls.manage)")
    action = document.action
    if action is None:
        return attrs.evolve(document, action=Continue())
    if not isinstance(action, Hangup | Continue):
        raise ValidationError(f"{field}.action", f"must be hangup, continue or none for a "
                                                 f"call leg; got {action.name!r} "
                                                 f"(use calls.manage)")
    return document


class CallsApi:
    """Calls (traffic host): ``get``, ``manage``, ``manage_leg``."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _url(self, call_id: str) -> URL:
        return self._transport.traffic_url(
            "calls", "id", encode_segment(identifier("call_id", call_id), "call_id")
        )

    async def get(self, call_id: str) -> Call:
        """A call's parties, status, result and cost."""
        t = self._transport
        return decode(await t.request("GET", self._url(call_id)), Call)

    async def manage(self, call_id: str, svaml: Svaml, *, resource_url: str | None = None) -> None:
        """Send SVAML to a live call: play or say something, hang up, or unpark it.

        The document needs exactly one action: ``Hangup()`` to end the call,
        ``Continue()`` to keep it going after the instructions, or (unparking) the
        action the ICE answer would have had.

        ``resource_url`` is the ``callResourceUrl`` of the call's ICE event: the request
        then goes to that regional host, which must be a Sinch traffic host over
        https (or this client's own ``base_url`` host), with the path of this call.
        Not repeated unless the server provably did not act on it.
        """
        from ..svaml import check_answer  # loaded by the caller's SVAML

        check_answer(svaml, "manage")
        url = self._url(call_id)
        if resource_url is not None:
            url = self._resource_origin(resource_url, url).with_path(url.raw_path,
                                                                      encoded=True)
        await self._transport.request("PATCH", url, body=dumps(svaml))

    async def manage_leg(self, call_id: str, leg: CallLeg | str, svaml: Svaml, *,
                         resource_url: str | None = None) -> None:
        """Play a prompt to one side of a connected call:
        ``PATCH /calling/v1/calls/id/{callId}/leg/{callLeg}``.

        ``leg``: a :class:`~sinch_calling.models.CallLeg` or its string, ``"caller"``,
        ``"callee"`` or ``"both"``. ``svaml``: ``playFiles`` and ``say`` instructions,
        then ``Hangup()``, ``Continue()`` or no action (``Continue()`` is sent); see
        :func:`check_leg_svaml`. Sinch ignores the leg for conference participants and
        for calls placed by the Callout API (the prompt goes to the call's one party).

        ``resource_url`` is the ICE event's ``callResourceUrl``, as for :meth:`manage`:
        the request goes to that host, on the path of this call's leg.

        Everything is checked before sending (:class:`~sinch_calling.errors.ValidationError`
        naming ``call_id``, ``leg``, ``svaml...`` or ``resource_url``). Not repeated unless
        the server provably did not act on it (refused connection, 429): a prompt is
        never played twice. Raises :class:`~sinch_calling.errors.NotFoundError` (40400)
        for an unknown or ended call, and the other API errors as :meth:`manage` does.
        """
        url = self._leg_url(call_id, leg, resource_url)
        document = check_leg_svaml(svaml)
        await self._transport.request("PATCH", url, body=dumps(document))

    def _leg_url(self, call_id: str, leg: object, resource_url: str | None) -> URL:
        """Where ``manage_leg`` sends: the call's URL (on ``resource_url``'s host, when
        given) followed by ``/leg/{callLeg}``."""
        url = self._url(call_id)
        wire_leg = call_leg(leg)
        base = url if resource_url is None else self._resource_origin(resource_url, url)
        return base.with_path(f"{url.raw_path}/leg/{wire_leg.value}", encoded=True)

    def _resource_origin(self, resource_url: str, expected: URL) -> URL:
        """The origin of ``resource_url``, once it is known to be safe to sign for."""
        try:
            given = URL(non_empty("resource_url", resource_url))
        except (TypeError, ValueError):
            raise ValidationError("resource_url", "must be an absolute URL") from None
        host = (given.host or "").lower()
        if not given.absolute or given.scheme not in ("http", "https") or not host:
            raise ValidationError("resource_url", f"must be an absolute http(s) URL; "
                                                  f"got {resource_url!r}")
        if host in SINCH_TRAFFIC_HOSTS:
            if given.scheme != "https" or given.port != 443:
                raise ValidationError("resource_url", "must use https on the default port "
                                                      f"for a Sinch host; got {resource_url!r}")
        elif origin_of(given) not in self._transport.origins:
            raise ValidationError("resource_url", "must be on a Sinch calling host or this "
                                                  "client's own origin (scheme, host and "
                                                  f"port); got {str(given.origin())!r}")
        if given.path.rstrip("/") != expected.path:
            raise ValidationError("resource_url", f"must be the URL of this call "
                                                  f"({TRAFFIC_PREFIX}/calls/id/<call_id>); "
                                                  f"got path {given.path!r}")
        return given.origin()
