"""What the emulator received and sent, for assertions in tests."""

from __future__ import annotations

import fnmatch
import json
from collections import deque
from collections.abc import Iterable
from typing import Any, SupportsIndex, TypeVar, overload
from urllib.parse import unquote

import attrs
from multidict import CIMultiDictProxy

__all__ = [
    "Journal",
    "Recent",
    "RecordedRequest",
    "SentEvent",
    "matching_requests",
    "path_matches",
]

_T = TypeVar("_T")


class Journal(deque[_T]):
    """A journal that reads like a list (``len``, ``[i]``, ``[a:b]``, iteration,
    ``== [...]``) and keeps only the newest ``maxlen`` entries (all, when ``None``)."""

    __hash__ = None

    @overload
    def __getitem__(self, index: SupportsIndex, /) -> _T: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[_T]: ...
    def __getitem__(self, index: SupportsIndex | slice, /) -> _T | list[_T]:
        if isinstance(index, slice):
            return list(self)[index]
        return super().__getitem__(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return list(self) == other
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other


class Recent(list[_T]):
    """A list that keeps only its newest ``limit`` items: appending past the limit drops
    the oldest. For the small per-call records (an empty one costs what an empty list
    does, unlike a deque's preallocated block)."""

    __slots__ = ("limit",)

    def __init__(self, limit: int, items: Iterable[_T] = ()) -> None:
        super().__init__()
        self.limit = limit
        self.extend(items)

    def append(self, item: _T, /) -> None:
        super().append(item)
        if len(self) > self.limit:
            del self[0]

    def extend(self, items: Iterable[_T], /) -> None:
        super().extend(items)
        if len(self) > self.limit:
            del self[:len(self) - self.limit]


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One request as the emulator saw it: raw path (as sent), query, headers, body."""

    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@attrs.frozen(kw_only=True)
class SentEvent:
    """One callback the emulator POSTed to a backend, and what came back.

    ``status`` is ``None`` when no HTTP answer arrived (``error`` says why: connection
    refused, timeout, ...); ``svaml`` is the SVAML document the backend answered
    (``None`` for DiCE/notify or an unusable answer); ``fallback`` tells the attempt
    went to the application's fallback URL.
    """

    url: str
    event: dict[str, Any]
    status: int | None
    svaml: dict[str, Any] | None = None
    error: str | None = None
    fallback: bool = False

    @property
    def name(self) -> str:
        """``ice``, ``ace``, ``pie``, ``dice`` or ``notify``."""
        return str(self.event.get("event", ""))

    @property
    def call_id(self) -> str:
        """The call the event is about."""
        return str(self.event.get("callid", ""))

    @property
    def ok(self) -> bool:
        """Did the backend answer 2xx?"""
        return self.status is not None and 200 <= self.status < 300


def path_matches(pattern: str, raw_path: str, decoded_path: str | None = None) -> bool:
    """Does the glob ``pattern`` match a request path, written either as sent
    (``/recording/a%20b%2Fc``) or decoded (``/recording/a b/c``)?"""
    decoded = unquote(raw_path) if decoded_path is None else decoded_path
    return any(path == pattern or fnmatch.fnmatchcase(path, pattern)
               for path in (raw_path, decoded))


def matching_requests(requests: Iterable[RecordedRequest], path: str,
                      method: str | None = None) -> list[RecordedRequest]:
    """Requests whose path, raw or decoded, matches the glob ``path`` (and ``method``,
    if given)."""
    wanted = method.upper() if method else None
    return [r for r in requests
            if (wanted is None or r.method == wanted) and path_matches(path, r.path)]
