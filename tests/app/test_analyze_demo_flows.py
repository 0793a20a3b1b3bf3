"""`analyze`'s FastPay flows on the demo's air (secure, CCMP on every hop;
end-to-end sealing off) opened with the key file the run's links installed
equal the demo's own record of its transfers: parties, amounts, sequence
numbers and the authorities that signed each certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshframes.hosts.analyze import analyze_captures
from meshframes.layers.dissect import decode_mpdu
from meshframes.seal.capture import CaptureOpener
from meshframes.sim.demo import Demo, DemoSpec


@pytest.mark.parametrize("seed", [3, 8])
def test_flows_on_the_air_are_the_demos_transfers(tmp_path: Path, seed: int) -> None:
    """Every started transfer is one flow with its payer, recipient, amount
    and sequence number; a certified one names the demo's signers; no flow
    appears that the demo did not start."""
    pcap = tmp_path / "air.pcap"
    run = Demo(tmp_path / "stores", DemoSpec(seed=seed, clients=3, relays=4, duration=25.0, transfers_per_client=2,
                                             area=(80.0, 60.0), fail_at=8.0, seal=False), pcap=pcap)
    run.run()
    mesh = run.mesh
    account = [mesh.account_ids[i].public_key[:8].hex() for i in range(run.spec.clients)]
    authority = [a.name[:8].hex() for a in mesh.committee.authorities]
    opener = CaptureOpener(mesh.capture_keys())
    analyzer = analyze_captures([pcap], decode_mpdu, unprotect=opener)
    assert opener.decrypted > 0 and opener.undecryptable == {}
    flows = analyzer.sections()["fastpay_flows"]
    assert flows["sealed_messages"] == 0 and flows["unreadable_messages"] == {}
    seen = {(f["sender"], f["sequence_number"]): f for f in flows["flows"]}
    started = [r for r in run.transfers() if r.sequence_number is not None]
    assert started and sorted(seen) == sorted((account[r.payer], r.sequence_number) for r in started)
    for record in started:
        flow = seen[(account[record.payer], record.sequence_number)]
        assert (flow["recipient"], flow["amount"]) == (account[record.recipient], record.amount)
        if record.certified is not None:
            assert flow["signers"] == sorted(authority[i] for i in record.signers)
            assert flow["certificate"] is not None and flow["certificate"] >= record.certified
        if record.credited is not None:
            assert flow["incomplete"] is None
    assert any(r.certified is not None for r in started)
