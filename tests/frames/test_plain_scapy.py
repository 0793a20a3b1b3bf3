"""Plain Scapy, as a user meets it: whatever is imported first
(`import meshframes` before or after Scapy, all of Scapy or only the
module with `rdpcap` or `sniff`), our layers dissect captures of both link
types, `ls()` lists them and `show()` prints their fields. Each path runs
in a fresh interpreter, since import order is what is under test."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meshframes.codec import VendorAction, decode
from meshframes.codec.fastpay import MessageType
from meshframes.fastpay.messages import TransferOrder
from meshframes.fastpay.wire import decode_message
from meshframes.hosts.pcap import LINKTYPE_IEEE802_11, mpdus, write_pcap

ROOT = Path(__file__).resolve().parents[2]
CLEAR = ROOT / "pcaps" / "meshframes-sim-clear-payment.pcap"

# Each path leaves the packets it read in `packets`.
PATHS = {
    "meshframes, then scapy.utils": "import meshframes\nfrom scapy.utils import rdpcap\npackets = rdpcap(CAPTURE)",
    "scapy.utils, then meshframes": "from scapy.utils import rdpcap\nimport meshframes\npackets = rdpcap(CAPTURE)",
    "meshframes, then scapy.all": "import meshframes\nfrom scapy.all import rdpcap\npackets = rdpcap(CAPTURE)",
    "scapy.all, then meshframes": "from scapy.all import *\nimport meshframes\npackets = rdpcap(CAPTURE)",
    "scapy.layers.dot11, then meshframes": ("import scapy.layers.dot11\nimport meshframes\n"
                                            "from scapy.utils import rdpcap\npackets = rdpcap(CAPTURE)"),
    "meshframes, then sniff offline": ("import meshframes\nfrom scapy.sendrecv import sniff\n"
                                       "packets = sniff(offline=CAPTURE)"),
    "sniff, then meshframes": "from scapy.sendrecv import sniff\nimport meshframes\npackets = sniff(offline=CAPTURE)",
    "meshframes, then PcapReader": ("import meshframes\nfrom scapy.utils import PcapReader\n"
                                    "packets = list(PcapReader(CAPTURE))"),
}

EPILOGUE = """
import json
print(json.dumps(sorted({layer.__name__ for p in packets for layer in p.layers()})))
"""


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The same frames with radiotap (link type 127, the committed capture)
    and raw (105, its MPDUs written again)."""
    raw = tmp_path_factory.mktemp("raw") / "clear-105.pcap"
    write_pcap(raw, [(t, mpdu) for t, mpdu, _ in mpdus(CLEAR)], LINKTYPE_IEEE802_11)
    return {127: CLEAR, 105: raw}


@pytest.fixture(scope="module")
def reference(captures: dict[int, Path]) -> set[str]:
    """The layers Scapy finds when our layers are surely registered: the
    package imported, in this process, with the layers loaded explicitly."""
    from scapy.utils import rdpcap

    import meshframes.layers  # noqa: F401

    return {layer.__name__ for p in rdpcap(str(captures[105])) for layer in p.layers()}


def test_reference_has_our_layers(reference: set[str]) -> None:
    assert {"FastPayHeader", "FastPayTransferOrder", "FastPaySignedTransferOrder", "FastPayFragment",
            "FastPayAuthorityAnnouncement", "FastPayError", "FastPayAccountInfoRequest", "PeeringOpen",
            "PREQ", "PREP", "MeshID", "VendorMeshControl"} <= reference
    assert "Raw" not in reference


@pytest.mark.parametrize("linktype", [105, 127])
@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_import_order_dissects_with_our_layers(path: str, linktype: int, captures: dict[int, Path],
                                                     reference: set[str]) -> None:
    """In a fresh interpreter, the path's imports then its read: the same
    layers as the reference (radiotap aside), and no Raw."""
    code = f"CAPTURE = {str(captures[linktype])!r}\n" + PATHS[path] + EPILOGUE
    names = set(json.loads(_run(code)))
    assert names - {"RadioTap"} == reference, (names ^ reference)
    assert ("RadioTap" in names) is (linktype == 127)


def test_ls_lists_our_layers() -> None:
    """`ls()` after `import meshframes` and Scapy's interactive namespace."""
    out = _run("import meshframes\nfrom scapy.all import ls\nls()")
    for name in ("FastPayHeader", "FastPayTransferOrder", "PREQ", "MeshControl", "PeeringOpen"):
        assert f"\n{name}" in out or out.startswith(name), name


def test_show_prints_an_orders_fields() -> None:
    """`show()` on an order read with plain `rdpcap` prints the FastPay
    layers with the amount and sequence number the core decodes."""
    index, order = next((i, f) for i, (_, mpdu, _) in enumerate(mpdus(CLEAR))
                        if isinstance(f := decode(mpdu), VendorAction)
                        and f.payload.msg_type == MessageType.FASTPAY_ORDER and f.payload.fragment_count == 1)
    message = decode_message(order.payload.data)
    assert isinstance(message, TransferOrder)
    code = textwrap.dedent(f"""
        import meshframes
        from scapy.utils import rdpcap
        rdpcap({str(CLEAR)!r})[{index}].show()
    """)
    out = _run(code)
    assert "###[ FastPay Header ]###" in out and "###[ FastPay Transfer ]###" in out
    fields = {k.strip(" |"): v.strip() for k, eq, v in (line.partition("=") for line in out.splitlines()) if eq}
    assert fields["amount"] == str(message.transfer.amount)
    assert fields["sequence_number"] == str(message.transfer.sequence_number)
