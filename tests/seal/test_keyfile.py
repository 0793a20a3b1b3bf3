"""The capture key file (docs/keys.md): what it accepts, each way it refuses
a file with its named problem, and a fuzz that nothing else escapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meshframes.seal.hop import HopSealer
from meshframes.seal.keyfile import (
    CaptureKeys,
    IntegrityKey,
    KeyFileError,
    KeyFileProblem,
    LinkKey,
    TransmitterKey,
    loads,
)
from meshframes.seal.keys import GroupKey

from .conftest import MAC_A, MAC_B, MAC_C

TK1 = bytes(range(16))
TK2 = bytes(range(16, 32))
KEYS = CaptureKeys(
    pairwise=(LinkKey.of(MAC_B, MAC_A, TK1),),
    group=(TransmitterKey(MAC_A, 1, TK2),),
    integrity=(IntegrityKey(MAC_A, 4, TK1),),
)


def test_a_key_file_reads_back_what_was_written() -> None:
    """dumps then loads gives the same keys; a link's stations are stored in
    ascending order whichever order they were given in."""
    assert loads(KEYS.dumps()) == KEYS
    document = json.loads(KEYS.dumps())
    assert document["pairwise"] == [{"stations": ["02:00:00:00:01:00", "02:00:00:00:02:00"], "key_id": 0,
                                     "tk": TK1.hex()}]
    assert document["group"] == [{"transmitter": "02:00:00:00:01:00", "key_id": 1, "tk": TK2.hex()}]


def test_merging_keeps_each_key_once() -> None:
    """Both ends of a link hold its TK: merging their keys keeps it once."""
    other = CaptureKeys(pairwise=(LinkKey.of(MAC_A, MAC_B, TK1), LinkKey.of(MAC_A, MAC_C, TK2)))
    merged = KEYS.merged(other)
    assert merged.pairwise == (LinkKey.of(MAC_A, MAC_B, TK1), LinkKey.of(MAC_A, MAC_C, TK2))
    assert len(merged) == 4


def test_wireshark_entries_are_one_tk_record_per_distinct_key() -> None:
    """Pairwise and group TKs alike, each once; the IGTK has no record type."""
    assert KEYS.wireshark_entries() == [f'"tk","{TK1.hex()}"', f'"tk","{TK2.hex()}"']


def test_a_sealer_exports_the_keys_it_holds() -> None:
    """HopSealer's key store gives every link key, our MGTK and each
    peer's MGTK, as a key file holds them."""
    sealer = HopSealer(MAC_A)
    sealer.keys.install_pairwise(MAC_B, TK1)
    sealer.keys.install_group_tx(GroupKey(TK2, 1))
    sealer.keys.install_group_rx(MAC_B, GroupKey(TK1, 2))
    keys = sealer.keys.capture_keys(MAC_A)
    assert keys == CaptureKeys(pairwise=(LinkKey.of(MAC_A, MAC_B, TK1),),
                               group=(TransmitterKey(MAC_A, 1, TK2), TransmitterKey(MAC_B, 2, TK1)))
    assert loads(keys.dumps()) == keys


def _document(**changes: Any) -> str:
    document = json.loads(KEYS.dumps())
    for path, value in changes.items():
        section, _, name = path.partition("__")
        if not name:
            document[section] = value
        elif value is None:
            del document[section][0][name]
        else:
            document[section][0][name] = value
    return json.dumps(document)


REFUSED = [
    ("{", KeyFileProblem.NOT_JSON, ""),
    ("[]", KeyFileProblem.NOT_AN_OBJECT, ""),
    (_document(format="pcap"), KeyFileProblem.WRONG_FORMAT, "format"),
    (_document(version=2), KeyFileProblem.UNSUPPORTED_VERSION, "version"),
    (_document(extra=1), KeyFileProblem.UNKNOWN_FIELD, ""),
    (_document(pairwise={}), KeyFileProblem.NOT_AN_OBJECT, "pairwise"),
    (_document(pairwise__tk=None), KeyFileProblem.MISSING_FIELD, "pairwise[0]"),
    (_document(pairwise__cipher="GCMP"), KeyFileProblem.UNKNOWN_FIELD, "pairwise[0]"),
    (_document(pairwise__stations=["02:00:00:00:01:00"]), KeyFileProblem.BAD_MAC, "pairwise[0].stations"),
    (_document(pairwise__stations=["02:00:00:00:01", "02:00:00:00:02:00"]), KeyFileProblem.BAD_MAC,
     "pairwise[0].stations[0]"),
    (_document(pairwise__stations=["02:00:00:00:01:00"] * 2), KeyFileProblem.SAME_STATION,
     "pairwise[0].stations"),
    (_document(pairwise__stations=["ff:ff:ff:ff:ff:ff", "02:00:00:00:02:00"]), KeyFileProblem.GROUP_ADDRESS,
     "pairwise[0].stations[0]"),
    (_document(pairwise__tk="zz" * 16), KeyFileProblem.BAD_HEX, "pairwise[0].tk"),
    (_document(pairwise__tk="00" * 32), KeyFileProblem.BAD_KEY_LENGTH, "pairwise[0].tk"),
    (_document(pairwise__key_id=4), KeyFileProblem.BAD_KEY_ID, "pairwise[0].key_id"),
    (_document(pairwise__key_id=True), KeyFileProblem.BAD_KEY_ID, "pairwise[0].key_id"),
    (_document(group__transmitter=7), KeyFileProblem.BAD_MAC, "group[0].transmitter"),
    (_document(group__key_id=-1), KeyFileProblem.BAD_KEY_ID, "group[0].key_id"),
    (_document(integrity__key_id=1), KeyFileProblem.BAD_KEY_ID, "integrity[0].key_id"),
    (_document(integrity__key="00"), KeyFileProblem.BAD_KEY_LENGTH, "integrity[0].key"),
]


@pytest.mark.parametrize("text, problem, where", REFUSED, ids=[f"{p}-{w}" for _, p, w in REFUSED])
def test_each_problem_is_named_with_where_it_is(text: str, problem: KeyFileProblem, where: str) -> None:
    with pytest.raises(KeyFileError) as refused:
        loads(text)
    assert (refused.value.problem, refused.value.where) == (problem, where), str(refused.value)


def test_every_problem_has_a_case() -> None:
    """The table above covers each KeyFileProblem but the size limit, which
    the next test checks."""
    assert {p for _, p, _ in REFUSED} | {KeyFileProblem.TOO_LARGE} == set(KeyFileProblem)


def test_a_huge_file_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(KeyFileError) as refused:
        loads(" " * (4 << 20) + "{}")
    assert refused.value.problem is KeyFileProblem.TOO_LARGE


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 300) | st.sampled_from(
        ["02:00:00:00:01:00", "02:00:00:00:02:00", "ff:ff:ff:ff:ff:ff", TK1.hex(), "x", "meshframes-keys"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["format", "version", "pairwise", "group", "integrity", "stations", "transmitter",
                         "key_id", "tk", "key", "other"]), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_fuzz_any_json_is_keys_or_a_named_refusal(document: object) -> None:
    """Structures built from the format's own names and values: each one
    parses or is refused with a KeyFileProblem, nothing else escapes."""
    if isinstance(document, dict) and "format" in document:
        document["format"] = "meshframes-keys"
    try:
        keys = loads(json.dumps(document))
    except KeyFileError as refused:
        assert refused.problem in KeyFileProblem
    else:
        assert loads(keys.dumps()) == keys


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_fuzz_arbitrary_text_is_refused_by_name(text: bytes | str) -> None:
    try:
        loads(text)
    except KeyFileError as refused:
        assert refused.problem in KeyFileProblem
