"""File names derived from recording keys: one safe path component, never a path.

A recording key is opaque server data. :func:`file_name_for_key` maps any key to a
single file name that cannot climb out of a directory (no separators, no ``.`` or
``..``), is portable (no control characters, no Windows-reserved characters or device
names, no trailing dot or space, at most :data:`MAX_NAME_BYTES` UTF-8 bytes) and never
starts with a dot (so it can't collide with the hidden ``.name.part`` temporary files).
A key that needed changing gets a short hash of the original key appended, so two
different keys don't end up in one file. So does a key whose name is *reserved*
(the export manifest, or names other keys already use), compared as case-insensitive
file systems (macOS, Windows) compare names: by :func:`name_fold`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection

__all__ = [
    "MANIFEST_NAME",
    "MAX_NAME_BYTES",
    "RESERVED_NAMES",
    "file_name_for_key",
    "name_fold",
    "split_extension",
]

MANIFEST_NAME = "manifest.jsonl"
"""The export's manifest, by default."""

RESERVED_NAMES = frozenset({MANIFEST_NAME})
"""Names no key maps to, by default (a single download into an export's directory
must not replace its manifest); folded (see :func:`name_fold`)."""

MAX_NAME_BYTES = 200
"""Leaves room under the usual 255-byte limit for the temporary file's affixes."""

_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\<>:"|?*]')
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{stem}{n}" for stem in ("COM", "LPT") for n in (*"123456789", "¹", "²", "³")}
)
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]*")
"""Keys made of these need no change (the common case), bar the checks in the fast path."""
_FALLBACK = "recording"
_HASH_LENGTH = 12


def _clean_char(char: str) -> str:
    if _FORBIDDEN.match(char) or unicodedata.category(char) in ("Cc", "Cs", "Cn", "Zl", "Zp"):
        return "_"
    return char


def _truncate(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", "ignore")


def split_extension(name: str) -> tuple[str, str]:
    """(stem, ``.ext``) of ``name``; ``(name, "")`` when it has no short alphanumeric
    extension."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > 10 or not extension.isalnum():
        return name, ""
    return stem, "." + extension


def name_fold(name: str) -> str:
    """``name`` as a case-insensitive file system compares it (``"A.MP3"`` and
    ``"a.mp3"`` fold alike): NFC-normalised, then case-folded."""
    return unicodedata.normalize("NFC", name).casefold()


def file_name_for_key(key: str, *, reserved: Collection[str] = RESERVED_NAMES) -> str:
    """A safe, portable file name for ``key`` (see the module docstring).

    No name whose :func:`name_fold` is in ``reserved`` (folded names; by default
    :data:`MANIFEST_NAME`) is returned: such a key gets the hash suffix too.
    """
    if (len(key) <= MAX_NAME_BYTES and _PLAIN.fullmatch(key) and key[-1] not in ". "
            and (not reserved or name_fold(key) not in reserved)
            and key.split(".", 1)[0].rstrip(" ").upper() not in _WINDOWS_DEVICES):
        return key  # what _cleaned_name returns for such a key, without its cost
    return _cleaned_name(key, reserved)


def _cleaned_name(key: str, reserved: Collection[str]) -> str:
    name = "".join(_clean_char(c) for c in key)
    name = name.rstrip(". ")
    if name.startswith("."):
        name = "_" + name[1:]
    if not name.strip("_ "):
        name = _FALLBACK
    if name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_DEVICES:
        name = "_" + name
    if (name == key and len(name.encode("utf-8")) <= MAX_NAME_BYTES
            and name_fold(name) not in reserved):
        return name
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LENGTH]
    stem, extension = split_extension(name)
    room = MAX_NAME_BYTES - len(extension.encode("utf-8")) - _HASH_LENGTH - 1
    stem = _truncate(stem, room).rstrip(". ") or _FALLBACK
    return f"{stem}-{digest}{extension}"
