"""``sinch.callouts``: place text-to-speech, conference and custom callouts.

A callout places a call, so ``POST /callouts`` is never repeated unless the server
provably did not act on it (connection refused, HTTP 429): see
:mod:`sinch_calling.retry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..models import Destination, Domain
from ..models.callouts import (
    CalloutMethod,
    CalloutRequest,
    CalloutResponse,
    ConferenceCallout,
    ConferenceDtmfOptions,
    CustomCallout,
    MusicOnHold,
    TtsCallout,
)
from ..serialization import dumps
from ..transport import Transport, decode
from ..validation import dtmf as check_dtmf
from ..validation import e164, flag, identifier, one_of, optional_text, positive_int
from ..validation import prompts as check_prompts
from . import _checks as check

if TYPE_CHECKING:
    from ..svaml import Svaml  # SVAML machinery loads on first use (api._checks)

__all__ = ["CalloutsApi", "call_id_of"]


def call_id_of(data: Any) -> str:
    """The call id of a decoded ``POST /callouts`` answer, as
    ``decode(data, CalloutResponse).call_id`` gives it (same value, same
    :class:`~sinch_calling.errors.InvalidResponseError`): the usual answer,
    ``{"callId": "<printable ASCII, not blank>"}`` (which passes
    :func:`~sinch_calling.validation.identifier`), is read directly, anything else
    decoded."""
    if type(data) is dict:
        call_id = data.get("callId")
        if type(call_id) is str and call_id.isascii() and call_id.isprintable() \
                and call_id.strip():
            return call_id
    return decode(data, CalloutResponse).call_id


def _cli(value: object) -> str | None:
    return None if value is None else e164("cli", value)


def _domain(value: object) -> Domain | None:
    return None if value is None else one_of("domain", value, Domain)


class CalloutsApi:
    """Callouts (traffic host): ``tts``, ``conference``, ``custom``. Each returns the
    new call's id."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self._url = transport.traffic_url("callouts")

    async def tts(
        self,
        destination: str | Destination,
        *,
        text: str | None = None,
        prompts: str | None = None,
        cli: str | None = None,
        locale: str | None = None,
        dtmf: str | None = None,
        domain: Domain | str | None = None,
        custom: str | None = None,
        enable_ace: bool | None = None,
        enable_dice: bool | None = None,
        enable_pie: bool | None = None,
    ) -> str:
        """Call ``destination`` and speak ``text`` (or play ``prompts``); return the call id.

        Give exactly one of ``text`` and ``prompts`` (``;``-separated file names and
        ``#tts[...]``/``#ssml[...]`` strings). Sinch caps each at 600 characters by
        default, a per-application limit support can raise, so it is not checked here.
        ``destination``: an E.164 number or a :class:`Destination`; ``cli``: the caller
        number shown (E.164); ``dtmf``: tones sent on answer (0-9 * # w);
        ``enable_ace``/``enable_dice``/``enable_pie``: send those callbacks.
        """
        if (text is None) == (prompts is None):
            raise ValidationError("text", "give exactly one of text and prompts")
        request = TtsCallout(
            destination=check.destination("destination", destination),
            text=optional_text("text", text),
            prompts=None if prompts is None else check_prompts("prompts", prompts),
            cli=_cli(cli),
            locale=optional_text("locale", locale),
            dtmf=check_dtmf("dtmf", dtmf),
            domain=_domain(domain),
            custom=optional_text("custom", custom, blank=True),
            enable_ace=flag("enable_ace", enable_ace),
            enable_dice=flag("enable_dice", enable_dice),
            enable_pie=flag("enable_pie", enable_pie),
        )
        body = dumps(CalloutRequest(method=CalloutMethod.TTS, tts_callout=request))
        return call_id_of(await self._transport.request("POST", self._url, body=body))

    async def conference(
        self,
        destination: str | Destination,
        conference_id: str,
        *,
        greeting: str | None = None,
        cli: str | None = None,
        locale: str | None = None,
        dtmf: str | None = None,
        max_duration: int | None = None,
        enable_ace: bool | None = None,
        enable_dice: bool | None = None,
        enable_pie: bool | None = None,
        moh_class: MusicOnHold | str | None = None,
        conference_dtmf_options: ConferenceDtmfOptions | None = None,
        custom: str | None = None,
        domain: Domain | str | None = None,
    ) -> str:
        """Call ``destination`` and, on answer, join it to ``conference_id`` (created by
        its first participant); return the call id.

        ``greeting`` is spoken first; ``max_duration`` (seconds, >= 1) ends the call
        (Sinch applies its own account maximum); ``moh_class`` (ring, music1, music2,
        music3) plays while the participant is alone.
        """
        if conference_dtmf_options is not None and not isinstance(
                conference_dtmf_options, ConferenceDtmfOptions):
            raise ValidationError("conference_dtmf_options", "must be a ConferenceDtmfOptions")
        request = ConferenceCallout(
            destination=check.destination("destination", destination),
            conference_id=identifier("conference_id", conference_id),
            greeting=optional_text("greeting", greeting),
            cli=_cli(cli),
            locale=optional_text("locale", locale),
            dtmf=check_dtmf("dtmf", dtmf),
            max_duration=positive_int("max_duration", max_duration),
            enable_ace=flag("enable_ace", enable_ace),
            enable_dice=flag("enable_dice", enable_dice),
            enable_pie=flag("enable_pie", enable_pie),
            moh_class=None if moh_class is None
            else one_of("moh_class", moh_class, MusicOnHold),
            conference_dtmf_options=conference_dtmf_options,
            custom=optional_text("custom", custom, blank=True),
            domain=_domain(domain),
        )
        body = dumps(CalloutRequest(method=CalloutMethod.CONFERENCE, conference_callout=request))
        return call_id_of(await self._transport.request("POST", self._url, body=body))

    async def custom(
        self,
        *,
        destination: str | Destination | None = None,
        cli: str | None = None,
        dtmf: str | None = None,
        custom: str | None = None,
        max_duration: int | None = None,
        ice: str | Svaml | None = None,
        ace: str | Svaml | None = None,
        pie: str | Svaml | None = None,
        dice: str | Svaml | None = None,
    ) -> str:
        """Place a call steered event by event; return the call id.

        Each of ``ice``, ``ace``, ``pie`` and ``dice`` is a callback URL that gets
        that event, or a :class:`~sinch_calling.svaml.Svaml` answering it inline (sent
        as the JSON text Sinch expects); left out, the application's callback URL gets
        the event. Sinch accepts only a ``connectPstn`` action in the ICE answer.
        """
        to = None if destination is None else check.destination("destination", destination)
        request = CustomCallout(
            destination=to,
            cli=_cli(cli),
            dtmf=check_dtmf("dtmf", dtmf),
            custom=optional_text("custom", custom, blank=True),
            max_duration=positive_int("max_duration", max_duration),
            ice=check.callback("ice", ice),
            ace=check.callback("ace", ace),
            pie=check.callback("pie", pie),
            dice=check.callback("dice", dice),
        )
        body = dumps(CalloutRequest(method=CalloutMethod.CUSTOM, custom_callout=request))
        return call_id_of(await self._transport.request("POST", self._url, body=body))

