"""What the command says when something goes wrong, and the exit code it returns.

Exit codes: 0 success; 1 an API or network failure (or a campaign or export with
failed or uncertain rows); 2 a usage or validation error, found before anything was
sent; 130 interrupted (Ctrl-C); 143 a campaign stopped by SIGTERM (a first SIGTERM
stops it gracefully, as a first Ctrl-C does). Every message is one line, naming the
flag as typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..errors import (
    ApiError,
    AuthenticationError,
    ClientClosedError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    SinchError,
    TransportError,
    ValidationError,
)

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "describe",
    "in_flags",
    "is_bug",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_TRANSPORT = re.compile(
    r"^(?P<method>[A-Z]+) (?P<url>\S+) (?P<kind>timed out|failed): (?P<why>.*)$", re.DOTALL)
_UNSAFE_METHODS = frozenset({"POST", "PATCH"})


# The command's own control flow: they never leave ``main`` (which turns them into a
# line and an exit code), so they are private here rather than public names of
# sinch_calling.errors, where every exception a library user can meet lives.
class _UsageError(Exception):
    """A usage or validation error, found before anything was sent (exit 2)."""


class _CommandFailed(Exception):
    """The command ran but did not succeed; the message is already one line (exit 1)."""


def flag_for(field: str, flags: Mapping[str, str]) -> str:
    """The flag (or positional name) a library field name was given by, as typed."""
    base = re.split(r"[\[.]", field, maxsplit=1)[0]
    if base in flags:
        return flags[base] + field[len(base):]
    return field


_EXPECTED = (_UsageError, _CommandFailed, SinchError, OSError, ValueError)


def is_bug(exc: BaseException) -> bool:
    """Whether ``exc`` is none of the failures the command expects (API, network, usage,
    files): a bug of ours, the only kind whose traceback ``--verbose`` shows."""
    return not isinstance(exc, _EXPECTED)


_PASS_FIELD = re.compile(r"\bpass (?P<field>[a-z_]+)=(?:'(?P<quoted>[^']*)'|(?P<bare>\S+))")


def in_flags(rule: str, flags: Mapping[str, str]) -> str:
    """A library rule in the command's words: ``pass number_column='phone'`` becomes
    ``add --number-column phone``, and Python-only alternatives are dropped."""
    def flag(match: re.Match[str]) -> str:
        field = match["field"]
        if field not in flags:
            return match[0]
        value = match["quoted"] if match["quoted"] is not None else match["bare"]
        return f"add {flags[field]} {value}"

    return _PASS_FIELD.sub(flag, rule).replace("use an Outcome or ", "use ")


def describe(exc: BaseException, flags: Mapping[str, str]) -> tuple[int, str]:
    """The exit code and the one-line message for an exception a command raised."""
    if isinstance(exc, _UsageError):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, _CommandFailed):
        return EXIT_FAILURE, str(exc)
    if isinstance(exc, ValidationError):
        return EXIT_USAGE, f"{flag_for(exc.field, flags)}: {in_flags(exc.rule, flags)}"
    if isinstance(exc, TransportError):
        return EXIT_FAILURE, transport_message(exc)
    if isinstance(exc, ApiError):
        return EXIT_FAILURE, api_message(exc)
    if isinstance(exc, InvalidResponseError):
        return EXIT_FAILURE, f"unexpected answer from the server: {one_line(str(exc))}"
    if isinstance(exc, ClientClosedError | SinchError):
        return EXIT_FAILURE, one_line(str(exc))
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return EXIT_FAILURE, f"cannot use{where}: {exc.strerror or exc}"
    if isinstance(exc, ValueError):
        return EXIT_USAGE, one_line(str(exc))
    # A bug of ours: still one line (the traceback goes to the log with --verbose).
    return EXIT_FAILURE, (f"unexpected {type(exc).__name__}: {one_line(str(exc))} (a bug: "
                          "please report it with the output of --verbose)")


def one_line(text: str) -> str:
    """Collapse whitespace (including newlines a server put in a message) and blank out
    control characters, so no server text can move the cursor or recolour a terminal."""
    return "".join(c if c.isprintable() else "\ufffd" for c in " ".join(text.split()))


def api_message(exc: ApiError) -> str:
    """An error answer, in words: what Sinch said, its code and reference."""
    detail = f"HTTP {exc.status}"
    if exc.error_code is not None:
        detail += f", errorCode {exc.error_code}"
    if exc.reference:
        detail += f", reference {exc.reference}"
    hint = ""
    if isinstance(exc, AuthenticationError):
        hint = ("; check SINCH_APPLICATION_KEY and SINCH_APPLICATION_SECRET "
                "(and that your clock is right)")
    elif isinstance(exc, RateLimitedError):
        after = f" (retry after {exc.retry_after:g} s)" if exc.retry_after is not None else ""
        hint = f"; rate limited by Sinch{after}, nothing was done"
    elif isinstance(exc, NotFoundError):
        hint = ""
    message = one_line(exc.message) or "error"
    return f"Sinch refused the request: {message} ({detail}){hint}"


def transport_message(exc: TransportError) -> str:
    """A network failure in words, saying whether the request may have reached Sinch."""
    text = one_line(str(exc))
    match = _TRANSPORT.match(text)
    if match is None:
        what, method, why = "the request", "", text
    else:
        method = match["method"]
        what = f"{method} {match['url']}"
        why = _reason(match["why"])
        if match["kind"] == "timed out":
            why = "timed out"
    if not exc.maybe_sent:
        return f"could not reach the server for {what}: {why}; nothing was sent, safe to retry"
    if method in _UNSAFE_METHODS:
        return (f"{what}: {why}; the request may have reached Sinch and taken effect: "
                "check (for example with 'sinch-calling calls get') before retrying")
    return f"{what}: {why}; the request may have reached Sinch"


def _reason(why: str) -> str:
    lowered = why.lower()
    for needle, words in (
        ("connection refused", "connection refused"),
        ("connect call failed", "connection refused"),
        ("name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("temporary failure in name resolution", "host name not found"),
        ("certificate", "TLS certificate rejected"),
        ("ssl", "TLS handshake failed"),
        ("server disconnected", "the server closed the connection"),
        ("connection reset", "the connection was reset"),
        ("payload", "the connection broke mid-answer"),
        ("timeout", "timed out"),
    ):
        if needle in lowered:
            return words
    _, _, rest = why.partition(": ")
    return rest or why
