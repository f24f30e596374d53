"""The signing timestamp made once per millisecond is the same text as formatting the
moment itself."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from sinch_calling._time import format_timestamp, millis_timestamp, now_timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@given(st.integers(min_value=0, max_value=253_402_300_799_999))  # up to 9999-12-31
def test_millis_timestamp_is_exact(millis: int) -> None:
    assert millis_timestamp(millis) == format_timestamp(EPOCH + timedelta(milliseconds=millis))


def test_now_timestamp_is_now() -> None:
    before = datetime.now(UTC)
    text = now_timestamp()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert before - timedelta(milliseconds=1) <= moment <= after
