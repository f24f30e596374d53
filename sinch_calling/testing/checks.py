"""The emulator's own input rules (E.164 numbers, DTMF), as the Sinch API applies them.

Deliberately independent of :mod:`sinch_calling.validation`: the emulator stands in for
the server, so a client whose own checks are loosened (or buggy) still meets the
server's rules here, and a test of the client's checks cannot pass by sharing them.
"""

from __future__ import annotations

import re

__all__ = ["is_dtmf", "is_e164"]

# E.164 (ITU-T): "+", a country code that never starts with 0, then the subscriber
# number; at most 15 digits in all. The shortest numbers in use (Niue, Saint Helena:
# +683 4002) have 7 digits, so a lone country code such as "+46" is not a number.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Sinch's DTMF alphabet: digits, * and #, and w (a 500 ms pause) in either case.
_DTMF = re.compile(r"[0-9*#wW]+")


def is_e164(text: str) -> bool:
    """Is ``text`` an E.164 number: ``+``, a country code, then the subscriber number
    (7 to 15 digits in all, the first not 0)?"""
    return _E164.fullmatch(text) is not None


def is_dtmf(text: str) -> bool:
    """Is ``text`` a DTMF sequence Sinch plays: ``0-9``, ``*``, ``#`` and ``w`` pauses?"""
    return _DTMF.fullmatch(text) is not None
