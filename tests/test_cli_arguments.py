"""Every verb's file and interface arguments are checked before any work:
one `error:` line naming the argument and what is wrong, status 1 (click's
usage errors keep status 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli

# /proc is a directory no one, root included, can create a file in.
UNWRITABLE_DIR = Path("/proc")


def _run(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result.exit_code, [line for line in result.stderr.splitlines() if line.strip()]


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain-file"
    path.write_text("not a directory")
    return path


def test_keys_generate_into_a_path_under_a_file(a_file):
    """Used to end in NotADirectoryError from mkdir."""
    code, lines = _run("keys", "generate", str(a_file / "committee"))
    assert (code, lines) == (1, [f"error: DIRECTORY {a_file / 'committee'}: {a_file} is not a directory"])


def test_keys_generate_into_an_unwritable_directory():
    code, lines = _run("keys", "generate", str(UNWRITABLE_DIR / "committee"))
    assert (code, lines) == (1, [f"error: DIRECTORY {UNWRITABLE_DIR / 'committee'}: directory {UNWRITABLE_DIR} "
                                 "does not take new files"])


@pytest.mark.parametrize("weights", ["1,18446744073709551616", "18446744073709551615,1"])
def test_keys_generate_with_weights_past_64_bits(tmp_path, weights):
    """A weight (or a total) past 2^64-1 used to end in CommitteeFileError
    after the keys were generated."""
    code, lines = _run("keys", "generate", str(tmp_path / "c"), "-n", "2", "--weights", weights)
    assert code == 2 and lines[-1].startswith("Error: Invalid value for --weights: weights total ")
    assert lines[-1].endswith("expected at most 2^64-1")
    assert not (tmp_path / "c").exists()


def test_inject_pcap_into_an_unwritable_directory():
    """Used to end in an OSError from open()."""
    out = UNWRITABLE_DIR / "beacon.pcap"
    code, lines = _run("inject", "beacon", "--pcap", str(out))
    assert (code, lines) == (1, [f"error: --pcap {out}: directory {UNWRITABLE_DIR} does not take new files"])


def test_inject_pcap_into_a_missing_directory(tmp_path):
    out = tmp_path / "missing" / "beacon.pcap"
    code, lines = _run("inject", "beacon", "--pcap", str(out))
    assert (code, lines) == (1, [f"error: --pcap {out}: directory {out.parent} does not exist"])


def test_inject_on_no_interface():
    """Used to end in an OSError traceback from Scapy's socket."""
    code, lines = _run("inject", "beacon", "--iface", "nosuchmon0")
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("error: --iface nosuchmon0: no network interface named nosuchmon0")


def _ethernet_interfaces() -> list[str]:
    """Interfaces of hardware type 1 that are not wireless (no phy behind
    them): eth0, a bridge, a veth."""
    from pathlib import Path

    net = Path("/sys/class/net")
    return sorted(p.name for p in net.iterdir()
                  if (p / "type").read_text().strip() == "1" and not (p / "phy80211").exists())


@pytest.mark.parametrize("verb", [["inject", "beacon"], ["sniff", "--count", "1"]])
def test_an_interface_neither_monitor_nor_mesh_point_is_refused(verb):
    """`inject --iface lo` used to say it had sent a frame: on loopback the
    radiotap frame goes out as an Ethernet frame to no radio. Both verbs
    take a monitor or a mesh point and refuse anything else in one line
    that says how to make either. (`sniff` checks its interface as it
    opens it, after click's usage checks and with the need for root said
    first, as tests/hwsim/test_sniff.py holds.)"""
    code, lines = _run(*verb, "--iface", "lo")
    assert code == 1 and len(lines) == 1
    assert "lo: hardware type 772, not a wireless interface" in lines[0]
    assert "type monitor" in lines[0] and "set type mp" in lines[0]


@pytest.mark.parametrize("verb", [["inject", "fastpay-order"], ["sniff", "--count", "1"]])
def test_a_wired_ethernet_interface_is_refused(verb):
    """An Ethernet interface has a mesh point's hardware type (1) but no
    radio: refused, not taken for a mesh point."""
    wired = _ethernet_interfaces()
    if not wired:
        pytest.skip("no wired Ethernet interface on this machine")
    code, lines = _run(*verb, "--iface", wired[0])
    assert code == 1 and len(lines) == 1
    assert f"{wired[0]}: hardware type 1, not a wireless interface" in lines[0]


def test_sniff_pcap_into_an_unwritable_directory():
    """Click checks arguments in the order given: the output file first."""
    out = UNWRITABLE_DIR / "air.pcap"
    code, lines = _run("sniff", "--pcap", str(out), "--iface", "lo")
    assert (code, lines) == (1, [f"error: --pcap {out}: directory {UNWRITABLE_DIR} does not take new files"])


def test_demo_out_and_bench_dir_under_a_file(a_file):
    code, lines = _run("demo", "--out", str(a_file / "demo"))
    assert (code, lines) == (1, [f"error: --out {a_file / 'demo'}: {a_file} is not a directory"])
    code, lines = _run("bench", "authority", "--dir", str(UNWRITABLE_DIR / "bench"))
    assert (code, lines) == (1, [f"error: --dir {UNWRITABLE_DIR / 'bench'}: directory {UNWRITABLE_DIR} "
                                 "does not take new files"])


def test_hwsim_record_output_into_an_unwritable_directory():
    out = UNWRITABLE_DIR / "new" / "air.pcap"
    code, lines = _run("hwsim", "record", _a_scenario(), "-o", str(out))
    assert (code, lines) == (1, [f"error: --output {out}: directory {UNWRITABLE_DIR} does not take new files"])


@pytest.mark.parametrize("option", ["--output", "--wireshark"])
def test_capture_keys_into_an_unwritable_directory(tmp_path, option):
    """Both key files are checked before any log is read or node asked."""
    log = tmp_path / "wpa.log"
    log.write_text("")
    out = UNWRITABLE_DIR / "keys.json"
    for verb in (["import-wpa", str(log)], ["export", str(tmp_path / "none.sock")]):
        code, lines = _run("keys", *verb, option, str(out))
        assert (code, lines) == (1, [f"error: {option} {out}: directory {UNWRITABLE_DIR} does not take new files"])


def _a_scenario() -> str:
    from meshframes.hwsim.scenarios import SCENARIOS

    return sorted(SCENARIOS)[0]


@pytest.mark.parametrize("verb", [["analyze"], ["replay", "--node", "02:00:00:00:00:01"], ["keys", "show"],
                                  ["analyze", str(Path(__file__).parents[1] / "pcaps" / "linux-kernel-sae.pcap"),
                                   "--keys"], ["keys", "import-wpa"]])
def test_input_files_that_are_missing_or_directories(tmp_path, verb):
    """Click's own checks: status 2 and one Error line."""
    for path in (tmp_path / "missing.pcap", tmp_path):
        code, lines = _run(*verb, str(path))
        assert code == 2 and lines[-1].startswith("Error: Invalid value for "), lines
        assert ("'--keys'" in lines[-1]) == ("--keys" in verb), lines
