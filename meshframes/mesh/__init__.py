"""Sans-IO 802.11s mesh engines: peering (MPM), HWMP path selection, the
forwarder, and a node composing them (mesh/node.py), driven over any radio
by a host (meshframes.hosts.node)."""
