"""Only the codec indexes into an 802.11 MPDU by offset.

An AST scan of every module under meshframes/ except meshframes/codec/:
a subscript or slice whose bound is (or contains) an integer literal,
applied to a name that by convention holds frame bytes, is an offset of
its own into a layout the codec owns; such code must call meshframes.codec
(codec.mpdu for headers, codec.ie and codec.elements for elements) or use
the codec's named positions instead.

The allow-list names the modules whose buffers hold other layouts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "meshframes"

# Names that hold MPDUs, frame bodies, headers or elements in this code base.
BUFFER_NAMES = {"frame", "mpdu", "data", "raw", "body", "header", "hdr", "pkt", "buf", "packet",
                "element", "protected", "sealed", "plain", "_pkt"}
BUFFER_SUFFIXES = ("_frame", "_mpdu", "_body", "_header", "_element")

ALLOWED = {
    # pcap and pcapng file headers, records and options: the capture file
    # format (and the 4-octet FCS a record ends with), not 802.11 fields.
    "hosts/pcap.py": "pcap/pcapng file format",
    # FastPay's bincode (SerializedMessage), owned by the FastPay core.
    "fastpay/wire.py": "FastPay bincode",
    # `tree.body[-1]` is a Python AST statement list.
    "hwsim/worker.py": "Python AST, not bytes",
}


def _has_int_literal(node: ast.AST | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, ast.UnaryOp):
        return _has_int_literal(node.operand)
    if isinstance(node, ast.BinOp):
        return _has_int_literal(node.left) or _has_int_literal(node.right)
    return False


def _buffer_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        name = node.attr
    else:
        return None
    return name if name in BUFFER_NAMES or name.endswith(BUFFER_SUFFIXES) else None


def offsets_in(source: str) -> list[str]:
    """`buffer[literal]` and `buffer[literal:...]` subscripts of `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Subscript) or _buffer_name(node.value) is None:
            continue
        index = node.slice
        literal = (_has_int_literal(index.lower) or _has_int_literal(index.upper)
                   if isinstance(index, ast.Slice) else _has_int_literal(index))
        if literal:
            found.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [f"{line}: {text}" for line, _, text in sorted(found)]


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "codec" not in p.relative_to(PACKAGE).parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_offsets_outside_the_codec(path: Path) -> None:
    """No module outside meshframes/codec/ indexes frame bytes by its own offsets."""
    relative = path.relative_to(PACKAGE).as_posix()
    found = offsets_in(path.read_text())
    if relative in ALLOWED:
        assert found, f"{relative} is allow-listed ({ALLOWED[relative]}) but has no offsets left: drop it"
        return
    assert found == [], f"{relative} indexes frame bytes by offset; use meshframes.codec: {found}"


def test_scan_sees_header_offsets() -> None:
    """The scan catches the forms hand parsing takes."""
    source = """
receiver = frame[4:10]
protected = mpdu[1] & 0x40
category = data[header_len + 1]
tail = body[2:]
ok = frame[ADDR1] + mpdu[offset:end] + frames[0][1]
"""
    assert offsets_in(source) == ["2: frame[4:10]", "3: mpdu[1]", "4: data[header_len + 1]", "5: body[2:]"]


def test_allow_list_names_real_modules() -> None:
    """Every allow-listed module exists."""
    assert all((PACKAGE / name).is_file() for name in ALLOWED)
