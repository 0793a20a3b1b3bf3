"""The recipe of pcaps/meshframes-sim-clear-payment.pcap: the payments of
meshframes-node-payment.pcap on the simulator's deterministic medium with
end-to-end sealing off, so a dissector can read every FastPay message.

Four authorities (f = 1) and two clients in one radio range. c0 pays c1
10 at 3 s; a3 fails at 4 s and c0 pays 20 at 5 s (a0-a2 vote); a3 recovers
at 7 s and a0 fails at 7.5 s, so c0's payment of 5 at 8.5 s needs a3,
which refuses the order (error), is asked where it stands (info request)
and handed the certificate it missed. The transport's fragment payload is
lowered to 400 octets so that a three-signer certificate (449 octets)
travels in two fragments, as one from 23 signers does at the full 2,275.

Re-record: `python -m tests.frames.clear_air pcaps/meshframes-sim-clear-payment.pcap`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from meshframes.app.party import AppConfig
from meshframes.app.transport import TransportConfig
from meshframes.mesh.constants import MeshConfig, RootMode
from meshframes.sim.medium import MediumConfig
from meshframes.sim.scenario import FastPayMesh

FRAGMENT_PAYLOAD = 400


def record(pcap: Path) -> None:
    with tempfile.TemporaryDirectory() as stores:
        mesh = FastPayMesh(stores, seed=7, authorities=4, balances=[50, 50],
                           # As recorded, before authorities announced themselves
                           # to one station, new peer links were given root PREQs,
                           # unheard neighbours were probed and recipients pushed
                           # their certificates, and before links kept their failure
                           # averages across path refreshes: the air the dissector
                           # tests read stays the same.
                           app=AppConfig(seal=False, transport=TransportConfig(max_fragment_payload=FRAGMENT_PAYLOAD),
                                         announce_on_new_path=False, push_delay=None),
                           # An open mesh, as recorded: the clear air is the point.
                           mesh=MeshConfig(root_preq_to_new_peer=False, probe_unknown_neighbours=False,
                                           keep_fail_avg_on_refresh=False),
                           medium=MediumConfig(radio_range=25.0), pcap=pcap,
                           # Recorded when every station answered the root PREQs.
                           authority_root_mode=RootMode.PROACTIVE_PREQ_WITH_PREP)
        for x in range(4):
            mesh.add_authority((x * 5.0, 0.0))
        mesh.add_client((0.0, 5.0))
        mesh.add_client((15.0, 5.0))
        a0, a3 = mesh.authorities[0], mesh.authorities[3]
        mesh.transfer(0, 1, 10, 3.0)
        mesh.fail(a3, 4.0)
        mesh.transfer(0, 1, 20, 5.0)
        # c0 pays before a3's announcements can start its catch-up, so a3
        # refuses the order and c0 hands it the certificate it missed.
        mesh.recover(a3, 8.4)
        mesh.fail(a0, 8.41)
        mesh.transfer(0, 1, 5, 8.45)
        mesh.run(12.0)
        mesh.close()


if __name__ == "__main__":
    record(Path(sys.argv[1]))
