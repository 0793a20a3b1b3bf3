"""`meshframes node`: one authority, client or relay on one radio, until
SIGINT or SIGTERM (meshframes.hosts.service). Presentation only: the
options become NodeSettings, problems become one line and exit status 1."""

from __future__ import annotations

from pathlib import Path

import click

from meshframes.cli import console


@click.command(short_help="Run an authority, client or relay on a radio.")
@click.option("--role", type=click.Choice(["authority", "client", "relay"]), required=True,
              help="authority: votes and executes; client: pays and is paid; relay: only forwards.")
@click.option("--iface", required=True, help="The radio's monitor interface (`iw phy PHY interface add "
              "IFACE type monitor flags active`), or with --transport mesh its mesh point interface "
              "(`iw dev IFACE set type mp`, `iw dev IFACE mesh join ID`).")
@click.option("--committee", "committee_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Committee file of `meshframes keys generate` (authorities and clients).")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, path_type=Path),
              help="This node's key file, DIR/keys/authority-<i>.json or account-<i>.json.")
@click.option("--transport", type=click.Choice(["monitor", "mesh"]), default="monitor", show_default=True,
              help="monitor: our own peering, HWMP and forwarding on a monitor interface; mesh: the "
              "kernel's mesh point peers, finds paths and forwards, and carries our FastPay payloads.")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of the node's SQLite state [default: "
              "$XDG_STATE_HOME/meshframes/<key prefix>].")
@click.option("--mesh-id", default="meshframes", show_default=True, help="The mesh to join.")
@click.option("--control", "control_socket", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Serve JSON-line requests (status, peers, paths, transfer, ...) on this unix socket.")
@click.option("--passphrase", envvar="MESHFRAMES_PASSPHRASE", default=None,
              help="The secure mesh's passphrase, 8 to 63 characters: each neighbour is authenticated with "
              "SAE (group 19), AMPE keyed by its PMK, CCMP on every hop [env var: MESHFRAMES_PASSPHRASE].")
@click.option("--open", "open_mesh", is_flag=True,
              help="Join an open mesh instead: no SAE, no AMPE, frames in the clear on every hop "
              "(end-to-end sealing stays on).")
def node(*, role: str, iface: str, committee_file: Path | None, key_file: Path | None, transport: str,
         store: Path | None, mesh_id: str, control_socket: Path | None, passphrase: str | None,
         open_mesh: bool) -> None:
    """Run one mesh node on IFACE until SIGINT or SIGTERM, keeping an
    authority's or client's state in --store; a restarted node resumes
    from it. The mesh is secure (SAE, AMPE, CCMP per hop) unless --open
    is given: a passphrase is then required."""
    from meshframes.app.events import Event
    from meshframes.hosts.service import (
        SECURE_KERNEL_MESH_UNSUPPORTED,
        Link,
        NodeService,
        NodeSettings,
        NodeSetupError,
        Role,
    )

    if open_mesh and passphrase is not None:
        raise click.UsageError("--open and a passphrase (--passphrase or MESHFRAMES_PASSPHRASE) contradict"
                               " each other: give one of them")
    if not open_mesh:
        if Link(transport) is Link.MESH:
            console.error(SECURE_KERNEL_MESH_UNSUPPORTED)
            raise SystemExit(1)
        if passphrase is None:
            console.error("a secure mesh needs its passphrase: give --passphrase (or MESHFRAMES_PASSPHRASE),"
                          " or --open to join an open mesh")
            raise SystemExit(1)
    if passphrase is not None and not 8 <= len(passphrase) <= 63:
        raise click.BadParameter(f"got {len(passphrase)} characters, expected 8 to 63",
                                 param_hint="--passphrase")
    settings = NodeSettings(Role(role), iface, committee_file, key_file, store, control_socket,
                            mesh_id.encode(), passphrase, Link(transport))

    def show(event: Event) -> None:
        # The control has just recorded this event as its history row.
        row = {k: v for k, v in service.control.history[-1].items() if k != "time"}
        console.err.print(" ".join(f"{k}={v}" for k, v in row.items()), soft_wrap=True)

    try:
        service = NodeService(settings, on_event=show)
    except NodeSetupError as problem:
        console.error(str(problem))
        raise SystemExit(1) from None
    where = f"; control socket {control_socket}" if control_socket is not None else ""
    mesh = "open mesh" if passphrase is None else "secure mesh: SAE, AMPE, CCMP"
    console.success(f"node {service.mac.hex(':')} up as {role} on {iface} ({transport}, {mesh}){where}")
    service.serve()
    console.success(f"node {service.mac.hex(':')} stopped")
