"""Hosts and I/O: what owns sockets, clocks, files and processes. Radios
(simulated, monitor interface, kernel mesh interface), pcap files, tshark,
and the node host that runs a mesh node and an application party over any
radio with one timer heap."""
