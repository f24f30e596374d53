"""SVAML elements: construction, validation, wire shape and decoding (pure, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sinch_calling import Destination, converter, svaml
from sinch_calling.errors import ValidationError
from sinch_calling.models import DestinationType
from sinch_calling.serialization import dumps

KNOWN_NAMES = {
    "playfiles", "say", "senddtmf", "setcookie", "answer", "startrecording", "stoprecording",
    "hangup", "continue", "connectpstn", "connectmxp", "connectconf", "connectsip",
    "connectstream", "runmenu", "park",
}


def wire(obj: Any) -> Any:
    """Encode and pass through JSON text, as it would travel."""
    return json.loads(json.dumps(converter.unstructure(obj)))


# -- the public shapes --------------------------------------------------------------


def test_document_positional_instructions_then_action() -> None:
    doc = svaml.Svaml([svaml.Say("Bye")], svaml.Hangup())
    assert wire(doc) == {"instructions": [{"name": "say", "text": "Bye"}],
                         "action": {"name": "hangup"}}


def test_empty_parts_are_left_out() -> None:
    assert wire(svaml.Svaml()) == {}
    assert wire(svaml.Svaml(action=svaml.Hangup())) == {"action": {"name": "hangup"}}
    assert converter.structure({"instructions": [], "action": {"name": "hangup"}},
                               svaml.Svaml) == svaml.Svaml(action=svaml.Hangup())


def test_connect_pstn_by_keyword() -> None:
    doc = svaml.Svaml(action=svaml.ConnectPstn(number="+4600"))
    assert wire(doc)["action"] == {"name": "connectPstn", "number": "+4600"}


def test_unset_fields_are_left_out() -> None:
    assert wire(svaml.ConnectPstn("+46700", max_duration=30)) == {
        "name": "connectPstn", "number": "+46700", "maxDuration": 30}


def test_name_comes_first_on_the_wire() -> None:
    assert next(iter(converter.unstructure(svaml.Say("hi", locale="en-US")))) == "name"


def test_dumps_is_compact() -> None:
    doc = svaml.Svaml([svaml.Say("Bye")], svaml.Hangup())
    assert dumps(doc) == b'{"instructions":[{"name":"say","text":"Bye"}],' \
                         b'"action":{"name":"hangup"}}'


def test_amd_async_field_is_spelled_async() -> None:
    action = svaml.ConnectPstn(
        "+46700", amd=svaml.AnsweringMachineDetection(enabled=True, async_=False))
    assert wire(action)["amd"] == {"enabled": True, "async": False}


def test_call_headers_spelling_per_action() -> None:
    headers = (svaml.CallHeader("k", "v"),)
    mxp = wire(svaml.ConnectMxp(Destination.username("bob"), call_headers=headers))
    sip = wire(svaml.ConnectSip(Destination.sip("sip:bob@x"), call_headers=headers))
    assert "callHeaders" in mxp  # protocol notes; the Java SDK's "callheaders" decodes too
    assert "callHeaders" in sip


@pytest.mark.parametrize("spelling", ["callheaders", "callHeaders"])
@pytest.mark.parametrize("name", ["connectMxp", "connectSip", "connectStream"])
def test_call_headers_accepted_in_both_spellings(name: str, spelling: str) -> None:
    data = {"name": name, spelling: [{"key": "k", "value": "v"}]}
    action = converter.structure(data, svaml.Action)
    assert action.call_headers == (svaml.CallHeader("k", "v"),)  # type: ignore[union-attr]


def test_start_recording_accepts_recording_options_spelling() -> None:
    data = {"name": "startRecording", "recordingOptions": {"destinationUrl": "s3://b"}}
    instruction = converter.structure(data, svaml.Instruction)
    assert instruction == svaml.StartRecording(svaml.RecordingOptions(destination_url="s3://b"))
    assert wire(instruction) == {"name": "startRecording",
                                 "options": {"destinationUrl": "s3://b"}}


def test_recording_credentials_stay_out_of_repr() -> None:
    doc = svaml.StartRecording(svaml.RecordingOptions(credentials="AKIA:very-secret"))
    assert "very-secret" not in repr(doc)
    assert wire(doc)["options"]["credentials"] == "AKIA:very-secret"


def test_run_menu_shape() -> None:
    menu = svaml.RunMenu(
        [svaml.Menu("main", main_prompt="#tts[Press 1]", max_digits=1,
                    options=[svaml.MenuOption("1", "return(one)")])],
        main_menu="main", barge=True,
    )
    assert wire(menu) == {
        "name": "runMenu", "mainMenu": "main", "barge": True,
        "menus": [{"id": "main", "mainPrompt": "#tts[Press 1]", "maxDigits": 1,
                   "options": [{"dtmf": "1", "action": "return(one)"}]}],
    }


def test_element_name_attribute_is_the_wire_name() -> None:
    assert svaml.Say("x").name == "say"
    assert svaml.ConnectConf("room").name == "connectConf"
    assert svaml.UnknownAction({"name": "teleport"}).name == "teleport"


# -- validation -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "12a", "1 2", "+1"])
def test_send_dtmf_rejects_non_dtmf(value: str) -> None:
    with pytest.raises(ValidationError) as info:
        svaml.SendDtmf(value)
    assert info.value.field == "SendDtmf.value"


def test_send_dtmf_accepts_digits_star_hash_and_pauses() -> None:
    assert svaml.SendDtmf("ww0123456789*#").value == "ww0123456789*#"


def test_menu_option_dtmf_is_checked() -> None:
    with pytest.raises(ValidationError, match=r"MenuOption\.dtmf"):
        svaml.MenuOption("x", "return(x)")


@pytest.mark.parametrize("number", ["46700", "+46 700", "", "+"])
def test_connect_pstn_number_must_be_e164(number: str) -> None:
    with pytest.raises(ValidationError, match=r"ConnectPstn\.number"):
        svaml.ConnectPstn(number)


@pytest.mark.parametrize("seconds", [0, -1, True])
def test_durations_must_be_positive(seconds: int) -> None:
    with pytest.raises(ValidationError, match=r"Park\.max_duration"):
        svaml.Park(max_duration=seconds)


def test_say_text_must_be_text() -> None:
    with pytest.raises(ValidationError, match=r"Say\.text"):
        svaml.Say(42)  # type: ignore[arg-type]


def test_long_say_text_is_not_capped() -> None:
    # 600 characters is Sinch's default, changeable per application: not enforced here.
    assert len(svaml.Say("x" * 2000).text) == 2000


def test_action_in_instructions_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"Svaml\.instructions\[0\]"):
        svaml.Svaml([svaml.Hangup()])  # type: ignore[list-item]


def test_instruction_as_action_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"Svaml\.action"):
        svaml.Svaml([], svaml.Say("x"))  # type: ignore[arg-type]


# -- decoding ---------------------------------------------------------------------


def test_decodes_by_name() -> None:
    data = {"instructions": [{"name": "playFiles", "ids": ["welcome"], "locale": "en-US"}],
            "action": {"name": "connectConf", "conferenceId": "room"}}
    doc = converter.structure(data, svaml.Svaml)
    assert doc == svaml.Svaml([svaml.PlayFiles(["welcome"], locale="en-US")],
                              svaml.ConnectConf("room"))


def test_names_match_in_any_case() -> None:
    assert converter.structure({"name": "CONNECTCONF", "conferenceId": "r"},
                               svaml.Action) == svaml.ConnectConf("r")


def test_unknown_elements_are_kept_and_reencoded_unchanged() -> None:
    data = {"instructions": [{"name": "hologram", "beam": [1, 2]}, {"name": "say", "text": "x"}],
            "action": {"name": "teleport", "to": {"planet": "Mars"}}}
    doc = converter.structure(data, svaml.Svaml)
    assert doc.instructions[0] == svaml.UnknownInstruction({"name": "hologram", "beam": [1, 2]})
    assert isinstance(doc.action, svaml.UnknownAction)
    assert wire(doc) == data


def test_element_without_a_name_is_unknown() -> None:
    assert converter.structure({"text": "x"}, svaml.Instruction) == \
        svaml.UnknownInstruction({"text": "x"})


def test_action_name_among_instructions_is_unknown_instruction() -> None:
    decoded = converter.structure({"instructions": [{"name": "hangup"}]}, svaml.Svaml)
    assert decoded.instructions == (svaml.UnknownInstruction({"name": "hangup"}),)


def test_unknown_moh_is_kept_as_text() -> None:
    action = converter.structure({"name": "connectConf", "conferenceId": "r", "moh": "jazz"},
                                 svaml.Action)
    assert action == svaml.ConnectConf("r", moh="jazz")
    assert wire(action)["moh"] == "jazz"


def test_unknown_fields_are_ignored() -> None:
    assert converter.structure({"name": "say", "text": "x", "voice": "robot"},
                               svaml.Instruction) == svaml.Say("x")


def test_import_as_documented() -> None:
    from sinch_calling import svaml as module

    assert module.Svaml is svaml.Svaml


# -- properties -------------------------------------------------------------------

_text = st.text(max_size=20)
_opt_text = st.none() | _text
_opt_pos = st.none() | st.integers(min_value=1, max_value=2**31 - 1)
_opt_int = st.none() | st.integers(min_value=0, max_value=2**31 - 1)
_opt_bool = st.none() | st.booleans()
_dtmf = st.text(alphabet="0123456789*#w", min_size=1, max_size=10)
_e164 = st.from_regex(r"\+[0-9]{1,15}", fullmatch=True)
_moh = st.none() | st.sampled_from(list(svaml.MusicOnHold)) | st.just("jazz")
_destination = st.builds(Destination, type=st.sampled_from(list(DestinationType)),
                         endpoint=_text)
_headers = st.none() | st.lists(st.builds(svaml.CallHeader, _text, _text), max_size=2)

_instruction = st.one_of(
    st.builds(svaml.PlayFiles, st.lists(_text, max_size=3), locale=_opt_text),
    st.builds(svaml.Say, _text, locale=_opt_text),
    st.builds(svaml.SendDtmf, _dtmf),
    st.builds(svaml.SetCookie, _text, _text),
    st.builds(svaml.Answer),
    st.builds(svaml.StartRecording, st.none() | st.builds(
        svaml.RecordingOptions, destination_url=_opt_text, credentials=_opt_text,
        format=_opt_text, notification_events=_opt_bool,
        transcription_options=st.none() | st.builds(
            svaml.TranscriptionOptions, enabled=_opt_bool, locale=_opt_text))),
    st.builds(svaml.StopRecording),
)
_action = st.one_of(
    st.builds(svaml.Hangup),
    st.builds(svaml.Continue),
    st.builds(svaml.ConnectPstn, st.none() | _e164, locale=_opt_text, max_duration=_opt_pos,
              dial_timeout=_opt_pos, cli=_opt_text, suppress_callbacks=_opt_bool,
              dtmf=st.none() | _dtmf, indications=_opt_text,
              amd=st.none() | st.builds(svaml.AnsweringMachineDetection,
                                        enabled=_opt_bool, async_=_opt_bool)),
    st.builds(svaml.ConnectMxp, st.none() | _destination, call_headers=_headers),
    st.builds(svaml.ConnectConf, _text, moh=_moh,
              conference_dtmf_options=st.none() | st.builds(
                  svaml.ConferenceDtmfOptions,
                  mode=st.none() | st.sampled_from(list(svaml.ConferenceDtmfMode)),
                  max_digits=_opt_int, timeout_mills=_opt_int)),
    st.builds(svaml.ConnectSip, st.none() | _destination, max_duration=_opt_pos,
              cli=_opt_text, transport=_opt_text, suppress_callbacks=_opt_bool,
              call_headers=_headers, moh=_moh),
    st.builds(svaml.ConnectStream, st.none() | _destination, max_duration=_opt_pos,
              call_headers=_headers,
              streaming_options=st.none() | st.builds(
                  svaml.StreamingOptions, version=_opt_int, sample_rate=_opt_int)),
    st.builds(svaml.RunMenu, st.lists(st.builds(
        svaml.Menu, _text, main_prompt=_opt_text, repeat_prompt=_opt_text,
        repeats=st.none() | st.integers(0, svaml.MAX_MENU_REPEATS),
        max_digits=_opt_int, timeout_mills=_opt_int, max_timeout_mills=_opt_int,
        options=st.none() | st.lists(st.builds(svaml.MenuOption, _dtmf, _text), max_size=3),
    ), max_size=2), main_menu=_opt_text, barge=_opt_bool, locale=_opt_text,
        enable_voice=_opt_bool),
    st.builds(svaml.Park, _opt_text, hold_prompt=_opt_text, locale=_opt_text,
              max_duration=_opt_pos),
)
_documents = st.builds(svaml.Svaml, st.lists(_instruction, max_size=4), st.none() | _action)

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=8,
)


@given(_documents)
def test_round_trip_through_json(doc: svaml.Svaml) -> None:
    assert converter.structure(wire(doc), svaml.Svaml) == doc


@given(_documents)
def test_encoding_has_no_nulls(doc: svaml.Svaml) -> None:
    def nulls(value: object) -> bool:
        if isinstance(value, dict):
            return any(v is None or nulls(v) for v in value.values())
        if isinstance(value, list):
            return any(v is None or nulls(v) for v in value)
        return False

    assert not nulls(json.loads(json.dumps(converter.unstructure(doc))))


@given(st.text(max_size=12).filter(lambda n: n.casefold() not in KNOWN_NAMES),
       st.dictionaries(st.text(max_size=8), _json, max_size=4))
def test_unknown_names_never_crash_and_survive(name: str, fields: dict[str, Any]) -> None:
    data = {**fields, "name": name}
    doc = converter.structure({"instructions": [data], "action": data}, svaml.Svaml)
    assert wire(doc) == {"instructions": [data], "action": data}
