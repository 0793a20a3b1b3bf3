"""`meshframes replay`: the ns-3 oracle from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from meshframes.cli import cli

SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def test_replay_json_agrees_with_ns3_on_a_relay():
    """Node 2 of the 6-node chain relays discovery both ways and reports the
    failure of node 3: every comparison agrees."""
    pcap = SHARED / "pcaps/ns3/hwmp-reactive-regression-test-2-1.pcap"
    result = CliRunner().invoke(cli, ["replay", str(pcap), "--node", "00:00:00:00:00:03", "--json"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["data_frames_checked"] > 0 and data["next_hop_mismatches"] == []
    for name, sides in data["comparisons"].items():
        assert sides["captured"] == sides["ours"], name
    assert data["comparisons"]["PERR destinations"]["ours"]


def test_replay_without_node_lists_the_transmitters():
    pcap = SHARED / "pcaps/ns3/hwmp-simplest-regression-test-0-1.pcap"
    result = CliRunner().invoke(cli, ["replay", str(pcap)])
    assert result.exit_code == 2
    assert "00:00:00:00:00:01" in result.stderr and "00:00:00:00:00:02" in result.stderr
