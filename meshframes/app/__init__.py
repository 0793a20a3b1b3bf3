"""FastPay over the 802.11s mesh: the glue between the FastPay engines
(meshframes.fastpay) and a mesh node (meshframes.mesh).

Sans-IO like the engines it joins: applications take deliveries and timer
expiries with the time and return actions (messages to send, timers to
set) and progress events. Design: docs/app.md.

- `framing`: FastPay messages <-> (message type, payload) of our vendor frames.
- `directory`: who is where (announcements, authenticated bindings).
- `e2e`: end-to-end sealing of each frame a node originates or receives.
- `party`, `authority_node`, `client_node`: the two applications.
- `driver`: runs an application on a NodeRuntime with any scheduler.
- `scenario`: FastPay-over-mesh simulations (tests and `meshframes demo`).
"""
