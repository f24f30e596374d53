"""CallbackVerifier: how a web backend decides a callback really comes from Sinch."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from sinch_calling.auth import CallbackVerifier, basic_authorization, signed_headers
from sinch_calling.errors import SignatureError, ValidationError

KEY = "my-key-id"
SECRET = "bXkta2V5LXNlY3JldA=="  # base64 of "my-key-secret"
NOW = datetime(2023, 11, 22, 9, 10, 11, 999_000, tzinfo=UTC)
STAMP = "2023-11-22T09:10:11.999Z"
PATH = "/path/pathParamValue"
CONTENT_TYPE = "application/json; charset=UTF-8"
BODY = b'{"identity":{"type":"number","endpoint":"+33444555666"},"method":"sms"}'
VECTOR_AUTHORIZATION = "Application my-key-id:QP3OzQZVzRZAEev6DBLvJkgpiqyZPuXYsc7oyjUV0K8="


def request_headers(
    *, method: str = "POST", path: str = PATH, content_type: str | None = CONTENT_TYPE,
    body: bytes = BODY, timestamp: str | datetime = STAMP, key: str = KEY,
    secret: str = SECRET,
) -> dict[str, str]:
    headers = signed_headers(key, secret, method=method, path=path, content_type=content_type,
                             body=body, timestamp=timestamp)
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def verify(headers: Any, *, method: str = "POST", path: str = PATH, body: bytes = BODY,
           now: datetime = NOW, verifier: CallbackVerifier | None = None) -> None:
    (verifier or CallbackVerifier(KEY, SECRET)).verify(method, path, headers, body, now=now)


def test_the_official_test_vector_verifies() -> None:
    headers = {"Authorization": VECTOR_AUTHORIZATION, "x-timestamp": STAMP,
               "Content-Type": CONTENT_TYPE}
    verify(headers)


@pytest.mark.parametrize("scheme", ["Application", "application", "APPLICATION", "aPpLiCaTiOn"])
def test_the_scheme_word_is_case_insensitive(scheme: str) -> None:
    _, credentials = VECTOR_AUTHORIZATION.split(" ", 1)
    verify({"Authorization": f"{scheme} {credentials}", "x-timestamp": STAMP,
            "Content-Type": CONTENT_TYPE})


@pytest.mark.parametrize("transform", [str.lower, str.upper, str.title])
def test_header_names_are_case_insensitive_in_plain_dicts(
        transform: Callable[[str], str]) -> None:
    verify({transform(k): v for k, v in request_headers().items()})


def test_multidict_headers_as_aiohttp_gives_them() -> None:
    verify(CIMultiDict(request_headers()))


def test_whitespace_around_the_authorization_value_is_tolerated() -> None:
    headers = request_headers()
    headers["Authorization"] = f"  {headers['Authorization']}  "
    verify(headers)


def test_signatures_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # auth calls hmac.compare_digest
    verify(request_headers())
    assert len(calls) == 1
    headers = request_headers()
    headers["Authorization"] = headers["Authorization"][:-4] + "AAA="
    with pytest.raises(SignatureError):
        verify(headers)
    assert len(calls) == 2


@pytest.mark.parametrize(
    "stamp",
    [
        "2023-11-22T09:10:11.999Z",
        "2023-11-22T09:10:11Z",
        "2023-11-22T09:10:11.999+00:00",
        "2023-11-22T09:10:11+00:00",
        "2023-11-22T09:10:11.999999Z",
        "2023-11-22T09:10:11.9Z",
        "2023-11-22T09:10:11.999z",
        "2023-11-22T09:10:11.999",  # naive: UTC
        "2023-11-22T10:10:11.999+01:00",  # same instant, another offset
        "2023-11-22T04:10:11.999-05:00",
    ],
)
def test_every_iso_8601_utc_timestamp_form_is_accepted(stamp: str) -> None:
    verify(request_headers(timestamp=stamp))


def test_the_timestamp_is_signed_as_sent_not_as_reformatted() -> None:
    headers = request_headers(timestamp="2023-11-22T09:10:11+00:00")
    headers["x-timestamp"] = "2023-11-22T09:10:11Z"  # same instant, other text
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers)


@pytest.mark.parametrize("skew", [timedelta(minutes=5), -timedelta(minutes=5), timedelta(0)])
def test_timestamps_within_max_age_either_way_are_accepted(skew: timedelta) -> None:
    verify(request_headers(timestamp=NOW + skew))


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), timedelta(hours=3)])
def test_stale_and_future_timestamps_are_rejected(skew: timedelta) -> None:
    with pytest.raises(SignatureError, match="window"):
        verify(request_headers(timestamp=NOW - skew))
    with pytest.raises(SignatureError, match="window"):
        verify(request_headers(timestamp=NOW + skew))


@pytest.mark.parametrize("max_age", [30, 30.0, timedelta(seconds=30)])
def test_max_age_is_configurable(max_age: float | timedelta) -> None:
    strict = CallbackVerifier(KEY, SECRET, max_age=max_age)
    verify(request_headers(timestamp=NOW - timedelta(seconds=30)), verifier=strict)
    with pytest.raises(SignatureError, match="window"):
        verify(request_headers(timestamp=NOW - timedelta(seconds=31)), verifier=strict)


@pytest.mark.parametrize("max_age", [0, -1, timedelta(0), timedelta(seconds=-5)])
def test_max_age_must_be_positive(max_age: float | timedelta) -> None:
    with pytest.raises(ValidationError) as info:
        CallbackVerifier(KEY, SECRET, max_age=max_age)
    assert info.value.field == "max_age"


def test_without_now_the_real_clock_is_used() -> None:
    headers = request_headers(timestamp=datetime.now(UTC))
    CallbackVerifier(KEY, SECRET).verify("POST", PATH, headers, BODY)
    stale = request_headers(timestamp=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(SignatureError, match="window"):
        CallbackVerifier(KEY, SECRET).verify("POST", PATH, stale, BODY)


@pytest.mark.parametrize("stamp", ["", "yesterday", "2023-13-45T99:99:99Z", "1700000000"])
def test_unparseable_timestamps_are_rejected(stamp: str) -> None:
    headers = request_headers()
    headers["x-timestamp"] = stamp
    with pytest.raises(SignatureError, match="x-timestamp"):
        verify(headers)


def test_a_request_signed_for_another_application_is_rejected() -> None:
    headers = request_headers(key="other-key")
    with pytest.raises(SignatureError, match="unknown application key"):
        verify(headers)


def test_the_right_key_with_the_wrong_secret_is_rejected() -> None:
    headers = request_headers(secret="d3Jvbmctc2VjcmV0")
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers)


@pytest.mark.parametrize(
    "tamper",
    [
        {"body": BODY.replace(b"sms", b"smt")},
        {"body": BODY + b" "},
        {"body": b""},
        {"path": "/path/otherValue"},
        {"path": PATH + "/"},
        {"path": "/Path/pathParamValue"},
        {"method": "PUT"},
    ],
    ids=lambda t: next(iter(t)),
)
def test_a_tampered_request_is_rejected(tamper: dict[str, Any]) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(request_headers(), **tamper)


def test_the_method_is_compared_case_insensitively_as_signed() -> None:
    verify(request_headers(), method="post")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain; charset=UTF-8",
                                          "application/json; charset=utf-8", ""])
def test_a_changed_content_type_is_rejected(content_type: str) -> None:
    headers = request_headers()
    headers["Content-Type"] = content_type
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers)


def test_a_missing_content_type_verifies_when_signed_without_one() -> None:
    verify(request_headers(content_type=None))
    headers = request_headers(content_type=None)
    headers["Content-Type"] = CONTENT_TYPE
    with pytest.raises(SignatureError):
        verify(headers)


def test_an_empty_body_is_signed_with_an_empty_content_md5() -> None:
    verify(request_headers(body=b"", content_type=None), body=b"")


@pytest.mark.parametrize(
    ("drop", "message"),
    [("Authorization", "missing Authorization"), ("x-timestamp", "missing x-timestamp")],
)
def test_missing_headers_are_rejected(drop: str, message: str) -> None:
    headers = request_headers()
    del headers[drop]
    with pytest.raises(SignatureError, match=message):
        verify(headers)


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "   ",
        "Application",
        "Application ",
        "Application my-key-id",
        "Application my-key-id:",
        "Application :c2lnbmF0dXJl",
        "Bearer my-key-id:c2lnbmF0dXJl",
        "Applicationmy-key-id:c2lnbmF0dXJl",
        "Application my-key-id:not-the-signature",
    ],
)
def test_malformed_authorization_is_rejected(authorization: str) -> None:
    headers = request_headers()
    headers["Authorization"] = authorization
    with pytest.raises(SignatureError):
        verify(headers)


def test_basic_is_refused() -> None:
    headers = {"Authorization": basic_authorization(KEY, SECRET)}
    with pytest.raises(SignatureError, match="scheme"):
        verify(headers)


def test_errors_and_repr_never_show_the_secret() -> None:
    verifier = CallbackVerifier(KEY, SECRET)
    assert SECRET not in repr(verifier)
    assert "my-key-secret" not in repr(verifier)
    messages = []
    for headers in (request_headers(secret="d3Jvbmctc2VjcmV0"), {},
                    {"Authorization": basic_authorization(KEY, SECRET)}):
        with pytest.raises(SignatureError) as info:
            verify(headers, verifier=verifier)
        messages.append(str(info.value))
    assert not any(SECRET in m or "my-key-secret" in m for m in messages)


def test_bad_credentials_fail_at_construction() -> None:
    with pytest.raises(ValidationError, match="application_secret"):
        CallbackVerifier(KEY, "not base64!!")
    with pytest.raises(ValidationError, match="application_key"):
        CallbackVerifier("", SECRET)


# -- properties ------------------------------------------------------------------------

methods = st.sampled_from(["POST", "GET", "PUT", "PATCH", "DELETE"])
paths = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40).map(
    lambda p: "/" + p.split("?")[0])
content_types = st.none() | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                                    max_size=40)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.builds(lambda skew, tz: (NOW + timedelta(seconds=skew)).astimezone(tz),
                    st.integers(-299, 299), offsets)


@given(method=methods, path=paths, content_type=content_types, body=st.binary(max_size=300),
       moment=moments, iso=st.booleans())
def test_sign_then_verify_always_passes(method: str, path: str, content_type: str | None,
                                        body: bytes, moment: datetime, iso: bool) -> None:
    stamp = moment.isoformat() if iso else moment
    headers = request_headers(method=method, path=path, content_type=content_type, body=body,
                              timestamp=stamp)
    verify(headers, method=method, path=path, body=body)


@given(body=st.binary(min_size=1, max_size=300), data=st.data())
def test_any_single_byte_change_in_the_body_fails(body: bytes, data: st.DataObject) -> None:
    headers = request_headers(body=body)
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    replacement = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]),
                            label="byte")
    changed = body[:index] + bytes([replacement]) + body[index + 1:]
    with pytest.raises(SignatureError, match="does not match"):
        verify(headers, body=changed)
