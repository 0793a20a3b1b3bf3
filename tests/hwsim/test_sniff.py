"""`meshframes sniff`: live capture on a monitor interface (on a mesh
point: tests/hwsim/test_mesh_point_cli.py).

On hwsim radios: two sniffers (one printing JSON and writing a pcap, one
printing tables) hear what a third radio injects with `meshframes inject`,
and what they report agrees with what was sent, with our analyzer run on
the pcap afterwards and with tshark. On the host: the errors a user meets
first (no such interface, not a monitor, not root, bad limits), each with
exit status and a message that says what to do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.hwsim import Guest, tshark
from meshframes.hwsim.wait import wait_for

MESHFRAMES = str(Path(sys.executable).parent / "meshframes")
PREQS, ORDERS = 4, 2


@pytest.fixture(scope="module")
def sniffed(hwsim_guest: Guest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Both sniffers start, then the injector sends PREQS PREQs and ORDERS
    FastPay orders; each sniffer stops by itself after that many frames."""
    injector, json_sniffer, table_sniffer = hwsim_guest.reset_radios(3)
    for node in (injector, json_sniffer, table_sniffer):
        node.add_monitor("mon0")
    pcap_host, pcap_guest = hwsim_guest.io_path("sniffed.pcap")
    frames = str(PREQS + ORDERS)
    sniffers = {
        "json": json_sniffer.spawn([MESHFRAMES, "sniff", "--iface", "mon0", "--count", frames,
                                    "--json", "--pcap", pcap_guest]),
        "table": table_sniffer.spawn([MESHFRAMES, "sniff", "--iface", "mon0", "--count", frames]),
    }
    for process in sniffers.values():
        process.expect(r"listening on mon0", timeout=120.0)
    injections = [
        injector.spawn([MESHFRAMES, "inject", "preq", "--iface", "mon0", "--src", injector.mac,
                        "--target", json_sniffer.mac, "--repeat", str(PREQS), "--interval", "0.02"]),
        injector.spawn([MESHFRAMES, "inject", "fastpay-order", "--iface", "mon0", "--src", injector.mac,
                        "--dst", json_sniffer.mac, "--repeat", str(ORDERS), "--interval", "0.02"]),
    ]
    done = {}
    for name, process in [*sniffers.items(), *enumerate(injections)]:
        wait_for(lambda p=process: p.output()[0] is not None, f"{' '.join(process.argv)} exits",
                 timeout=120.0, interval=0.5, describe=lambda _, p=process: repr(p.output()))
        done[name] = process.stop()
    pcap = tmp_path_factory.mktemp("sniff") / "sniffed.pcap"
    shutil.copy(pcap_host, pcap)
    return {"done": done, "pcap": pcap, "injector": injector, "sniffer": json_sniffer}


@pytest.mark.hwsim
def test_injections_succeed_and_sniffers_stop_at_their_count(sniffed: dict[str, object]) -> None:
    """Both injections and both sniffers exit 0 by themselves."""
    done = sniffed["done"]
    for name, result in done.items():
        assert result.returncode == 0, (name, result.stdout, result.stderr)


@pytest.mark.hwsim
def test_json_reports_every_injected_frame_by_kind(sniffed: dict[str, object]) -> None:
    """The JSON sniffer counts the PREQs and orders, lists each PREQ with
    the addresses it was built with, and finds nothing malformed."""
    report = json.loads(sniffed["done"]["json"].stdout)
    injector, sniffer = sniffed["injector"], sniffed["sniffer"]
    assert report["iface"] == "mon0" and report["stopped"] == "count"
    assert report["frames"] == PREQS + ORDERS
    assert report["by_kind"] == {"preq": PREQS, "fastpay-order": ORDERS}
    assert report["malformed"] == [] and report["undecoded"] == 0
    preqs = [record for record in report["hwmp"] if record["element"] == "PREQ"]
    assert len(preqs) == PREQS
    assert {record["targets"][0]["target_address"] for record in preqs} == {sniffer.mac}
    assert report["transport"]["delivered"] >= PREQS + ORDERS
    assert {record["originator_address"] for record in preqs} == {injector.mac}


@pytest.mark.hwsim
def test_pcap_holds_what_was_reported(sniffed: dict[str, object]) -> None:
    """The pcap the sniffer wrote reads back, to our analyzer and to tshark,
    as the same frames it reported live."""
    from meshframes.layers.dissect import analyze

    report = json.loads(sniffed["done"]["json"].stdout)
    analysis, _ = analyze(sniffed["pcap"])
    assert analysis.frames == report["frames"] and dict(analysis.by_kind) == report["by_kind"]
    assert analysis.hwmp == report["hwmp"]
    rows = tshark.rows(sniffed["pcap"])
    assert [tshark.kind(row) for row in rows].count("preq") == PREQS
    assert sum(row["wlan.fixed.category_code"] == "127" for row in rows) == ORDERS
    assert [row["frame.number"] for row in rows if row["_ws.malformed"]] == []
    assert {row["wlan.ta"] for row in rows} == {sniffed["injector"].mac}


@pytest.mark.hwsim
def test_tables_name_kinds_and_hwmp_elements(sniffed: dict[str, object]) -> None:
    """Without --json the totals are tables on stdout; messages go to stderr."""
    result = sniffed["done"]["table"]
    assert f"mon0: {PREQS + ORDERS} frames" in result.stdout
    for text in ("preq", "fastpay-order", "PREQ", "originator_address="):
        assert text in result.stdout
    assert "listening on mon0" in result.stderr and "listening" not in result.stdout


def _sniff(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["sniff", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_missing_interface_is_named() -> None:
    code, out, err = _sniff("--iface", "nosuchmon0", "--count", "1")
    assert (code, out) == (1, "")
    assert "no network interface named nosuchmon0" in err and "type monitor" in err


def test_interface_that_is_not_a_monitor_or_mesh_point_is_refused_with_its_type() -> None:
    code, out, err = _sniff("--iface", "lo", "--count", "1")
    assert (code, out) == (1, "")
    assert "lo: hardware type 772, not a wireless interface" in err and "type monitor" in err


def test_without_root_the_need_for_root_is_said() -> None:
    """Run as an unprivileged user (setpriv drops root when we have it)."""
    argv = [MESHFRAMES, "sniff", "--iface", "lo", "--count", "1"]
    if os.geteuid() == 0:
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert "needs root" in done.stderr and "CAP_NET_RAW" in done.stderr


@pytest.mark.parametrize("args", [("--count", "0"), ("--seconds", "0"), ()],
                         ids=["count", "seconds", "no-iface"])
def test_bad_options_are_usage_errors(args: tuple[str, ...]) -> None:
    code, _, err = _sniff(*(args if not args else ("--iface", "lo", *args)))
    assert code == 2 and "Error:" in err
