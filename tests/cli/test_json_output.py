"""The CLI's JSON writer: compact UTF-8 JSON with the json module's values
whatever writes it, integers past 64 bits and non-string keys included."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from meshframes.cli.console import json_bytes

_scalars = st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False)
_documents = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(st.text() | st.integers(-2**63, 2**64 - 1), inner, max_size=4),
                          max_leaves=20)


@given(_documents)
def test_the_values_are_the_json_modules(document: object) -> None:
    assert json.loads(json_bytes(document)) == json.loads(json.dumps(document))


def test_integers_past_64_bits_are_written_by_the_json_module() -> None:
    document = {"amount": 2**70, "mac": "02:00:00:00:00:01", "ünïcode": [1, 2.5, None]}
    written = json_bytes(document)
    assert written == json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(written) == document
