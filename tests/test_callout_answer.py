"""The fast read of ``{"callId": ...}`` gives exactly what the converter gives, for any
answer a server may send (value or InvalidResponseError)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sinch_calling.api.callouts import call_id_of
from sinch_calling.errors import InvalidResponseError
from sinch_calling.models.callouts import CalloutResponse
from sinch_calling.transport import decode

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
answers = st.dictionaries(st.sampled_from(["callId", "callid", "other"]), json_values,
                          max_size=3) | json_values


def _outcome(read: Any, data: Any) -> Any:
    try:
        return ("id", read(data))
    except InvalidResponseError as exc:
        return ("error", str(exc))


@settings(max_examples=300, deadline=None)
@given(answers)
def test_fast_read_matches_the_converter(data: Any) -> None:
    assert _outcome(call_id_of, data) == _outcome(lambda d: decode(d, CalloutResponse).call_id,
                                                  data)


def test_the_usual_answer_and_the_broken_ones() -> None:
    assert call_id_of({"callId": "abc"}) == "abc"
    assert call_id_of({"callid": "abc"}) == "abc"
    for broken in ({"callId": None}, {"callId": ""}, {"callId": 123}, [], "x", None):
        assert _outcome(call_id_of, broken)[0] == "error"
