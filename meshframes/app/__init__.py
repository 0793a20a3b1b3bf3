"""FastPay over the 802.11s mesh: the glue between the FastPay engines
(meshframes.fastpay) and a mesh node (meshframes.mesh).

Sans-IO like the engines it joins: a party takes the payloads the mesh
delivers and timer expiries with the time, and returns actions (payloads
to send, timers to set) and progress events. Its host
(meshframes.hosts.node) carries them out. Design: docs/app.md.

- `framing`: FastPay messages <-> (message type, payload) of our vendor frames.
- `transport`: fragmentation, end-to-end sealing and reassembly of messages.
- `directory`: who is where (announcements, authenticated bindings).
- `party`, `authority_node`, `client_node`: the two applications.
- `events`, `errors`: what the applications return, and why they refuse.
"""
