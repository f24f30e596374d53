"""The Application signing scheme: the official test vector and its building blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling.auth import (
    Credentials,
    basic_authorization,
    content_md5,
    format_timestamp,
    parse_timestamp,
    signed_headers,
    string_to_sign,
)
from sinch_calling.errors import ValidationError

VECTOR_BODY = b'{"identity":{"type":"number","endpoint":"+33444555666"},"method":"sms"}'


def test_official_test_vector() -> None:
    headers = signed_headers(
        "my-key-id",
        "bXkta2V5LXNlY3JldA==",
        method="POST",
        path="/path/pathParamValue",
        content_type="application/json; charset=UTF-8",
        body=VECTOR_BODY,
        timestamp="2023-11-22T09:10:11.999Z",
    )
    assert headers == {
        "Authorization": "Application my-key-id:QP3OzQZVzRZAEev6DBLvJkgpiqyZPuXYsc7oyjUV0K8=",
        "x-timestamp": "2023-11-22T09:10:11.999Z",
    }


def test_timestamp_given_as_datetime_is_formatted_like_sinch() -> None:
    moment = datetime(2023, 11, 22, 9, 10, 11, 999_000, tzinfo=UTC)
    by_datetime = signed_headers("my-key-id", "bXkta2V5LXNlY3JldA==", method="POST",
                                 path="/path/pathParamValue",
                                 content_type="application/json; charset=UTF-8",
                                 body=VECTOR_BODY, timestamp=moment)
    assert by_datetime["Authorization"].endswith("QP3OzQZVzRZAEev6DBLvJkgpiqyZPuXYsc7oyjUV0K8=")


def test_string_to_sign_with_no_body_and_no_content_type_has_empty_lines() -> None:
    text = string_to_sign("get", content_md5(b""), "", "2023-01-01T00:00:00.000Z", "/v1/x")
    assert text == "GET\n\n\nx-timestamp:2023-01-01T00:00:00.000Z\n/v1/x"


def test_content_md5_is_base64_of_md5() -> None:
    assert content_md5(b"hello") == "XUFAKrxLKna5cZ2REBfFkg=="


def test_basic_authorization() -> None:
    assert basic_authorization("key", "c2VjcmV0") == "Basic a2V5OmMyVmpjbVYw"


@pytest.mark.parametrize("secret", ["", "   ", "not base64!!", "@@@@", "my secret!"])
def test_bad_secret_is_rejected_with_the_field_named(secret: str) -> None:
    with pytest.raises(ValidationError) as info:
        Credentials("key", secret)
    assert info.value.field == "application_secret"
    assert secret.strip() == "" or secret not in str(info.value)


def test_url_safe_and_unpadded_secrets_are_accepted() -> None:
    assert Credentials("key", "c2VjcmV0LXNlY3JldA").application_key == "key"
    assert Credentials("key", "_-_-").application_key == "key"


def test_empty_key_is_rejected() -> None:
    with pytest.raises(ValidationError, match="application_key"):
        Credentials(" ", "c2VjcmV0")


def test_credentials_never_show_the_secret() -> None:
    credentials = Credentials("key", "c2VjcmV0LXNlY3JldA==")
    assert "c2VjcmV0" not in repr(credentials)
    assert "c2VjcmV0" not in str(credentials)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-11-22T09:10:11.999Z", datetime(2023, 11, 22, 9, 10, 11, 999_000, tzinfo=UTC)),
        ("2023-11-22T09:10:11Z", datetime(2023, 11, 22, 9, 10, 11, tzinfo=UTC)),
        ("2023-11-22T09:10:11+00:00", datetime(2023, 11, 22, 9, 10, 11, tzinfo=UTC)),
        ("2023-11-22T09:10:11", datetime(2023, 11, 22, 9, 10, 11, tzinfo=UTC)),
        ("2023-11-22T10:10:11+01:00",
         datetime(2023, 11, 22, 10, 10, 11, tzinfo=timezone(timedelta(hours=1)))),
    ],
)
def test_parse_timestamp_accepts_every_iso_form(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1),
                    timezones=st.just(UTC)))
def test_format_then_parse_round_trips_to_the_millisecond(moment: datetime) -> None:
    text = format_timestamp(moment)
    assert text.endswith("Z")
    assert parse_timestamp(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
