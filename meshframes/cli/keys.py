"""`meshframes keys`: make and inspect FastPay committee files.

`meshframes keys generate DIR` writes DIR/committee.json (authorities with
their weights and X25519 sealing keys, funded accounts with their
balances; no secrets) and one key file per identity in DIR/keys/
(authority-<i>.json, account-<i>.json; mode 0600, holding the Ed25519
seed and, for authorities, the X25519 secret). The formats are documented
in `meshframes.fastpay.committee`. `meshframes keys show FILE` prints a
committee's thresholds and members.

Capture keys (docs/keys.md): `meshframes keys import-wpa LOG...` reads the
mesh keys from wpa_supplicant's debug logs, `meshframes keys export
SOCKET...` asks running nodes for theirs; both write a key file for
`meshframes analyze --keys` and, with --wireshark, Wireshark's key table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from meshframes.cli import console
from meshframes.cli.params import output_directory, output_file
from meshframes.fastpay.messages import U64_MAX

if TYPE_CHECKING:
    from meshframes.seal.capture import CaptureOpener
    from meshframes.seal.keyfile import CaptureKeys


@click.group(short_help="FastPay committee files; capture keys from logs and nodes.")
def keys() -> None:
    """Generate and inspect FastPay committee files and key files; gather
    the link keys that decrypt a capture (import-wpa, export)."""


def _weights(authorities: int, weights: str | None) -> list[int]:
    if weights is None:
        return [1] * authorities
    try:
        values = [int(w) for w in weights.split(",")]
    except ValueError:
        raise click.BadParameter(f"{weights!r} is not a comma-separated list of integers", param_hint="--weights") from None
    if len(values) != authorities or min(values) < 1:
        raise click.BadParameter(
            f"got {len(values)} weights, expected {authorities} positive integers", param_hint="--weights"
        )
    # Weights and their total are u64 on the wire (the reference's
    # committee); a larger one could not be written or voted with.
    if sum(values) > U64_MAX:
        raise click.BadParameter(f"weights total {sum(values)}, expected at most 2^64-1", param_hint="--weights")
    return values


@keys.command(short_help="Write a new committee file and key files.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), callback=output_directory)
@click.option("-n", "--authorities", default=4, show_default=True, type=click.IntRange(1, 1000))
@click.option("-m", "--accounts", default=10, show_default=True, type=click.IntRange(0, 100000))
@click.option("--balance", default=1000, show_default=True, type=click.IntRange(0, 2**63 - 1),
              help="Initial balance of every account.")
@click.option("--weights", default=None, help="Comma-separated voting weights, one per authority (default: all 1).")
@click.option("--force", is_flag=True, help="Overwrite an existing committee in DIRECTORY.")
def generate(*, directory: Path, authorities: int, accounts: int, balance: int, weights: str | None,
             force: bool) -> None:
    """Generate N authorities and M funded accounts into DIRECTORY."""
    from meshframes.fastpay.committee import generate_committee, write_committee_dir

    if (directory / "committee.json").exists() and not force:
        console.error(f"{directory / 'committee.json'} exists. Pass --force to replace it and its keys.")
        raise SystemExit(1)
    committee, auth_ids, account_ids = generate_committee(_weights(authorities, weights), [balance] * accounts)
    path = write_committee_dir(directory, committee, auth_ids, account_ids)
    console.out.print(str(path))
    console.success(
        f"{authorities} authorities (quorum {committee.quorum_threshold} of {committee.total_weight}),"
        f" {accounts} accounts; secrets in {directory / 'keys'}"
    )


@keys.command(short_help="Show a committee file's members and thresholds.")
@click.argument("committee_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def show(*, committee_file: Path, as_json: bool) -> None:
    """Show the committee in COMMITTEE_FILE (JSON or TOML)."""
    from meshframes.fastpay.committee import Committee, CommitteeFileError

    try:
        committee = Committee.load(committee_file)
    except CommitteeFileError as exc:
        console.error(f"{exc}. Generate a committee with `meshframes keys generate DIR`.")
        raise SystemExit(1) from None
    summary = {
        "committee_id": committee.committee_id.hex(),
        "total_weight": committee.total_weight,
        "quorum_threshold": committee.quorum_threshold,
        "validity_threshold": committee.validity_threshold,
        "authorities": [{"name": a.name.hex(), "weight": a.weight} for a in committee.authorities],
        "accounts": [{"address": a.address.hex(), "balance": a.balance} for a in committee.accounts],
    }
    if as_json:
        console.out.print(json.dumps(summary, separators=(",", ":")), soft_wrap=True)
        return
    from rich.table import Table

    console.out.print(
        f"committee {summary['committee_id']}: total weight {committee.total_weight},"
        f" quorum {committee.quorum_threshold}, validity {committee.validity_threshold}"
    )
    table = Table("role", "public key", "weight / balance")
    table.columns[1].overflow = "fold"
    for a in committee.authorities:
        table.add_row("authority", a.name.hex(), str(a.weight))
    for acc in committee.accounts:
        table.add_row("account", acc.address.hex(), str(acc.balance))
    console.out.print(table)


# -- capture keys: the temporal keys that decrypt a recording ---------------


def load_capture_keys(paths: tuple[Path, ...]) -> CaptureKeys:
    """The keys of every key file in `paths`, merged; ends the command with
    status 1 and the file's problem when one is refused."""
    from meshframes.seal.keyfile import CaptureKeys, KeyFileError, loads

    keys = CaptureKeys()
    for path in paths:
        try:
            keys = keys.merged(loads(path.read_bytes()))
        except KeyFileError as exc:
            console.error(f"{path}: {exc} ({exc.problem}). docs/keys.md describes the key file.")
            raise SystemExit(1) from None
        except OSError as exc:
            console.error(f"{path}: cannot be read ({exc.strerror})")
            raise SystemExit(1) from None
    return keys


def _write_keys(keys: CaptureKeys, output: Path | None, wireshark: Path | None) -> None:
    text = keys.dumps()
    if output is None:
        console.out.file.write(text)
    else:
        output.write_text(text)
        output.chmod(0o600)
    if wireshark is not None:
        wireshark.write_text("".join(line + "\n" for line in keys.wireshark_entries()))
        wireshark.chmod(0o600)
    console.success(f"{len(keys.pairwise)} pairwise, {len(keys.group)} group and {len(keys.integrity)} integrity keys"
                    + (f" in {output}" if output else "") + (f"; Wireshark's key table in {wireshark}" if wireshark else ""))


_output = click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), callback=output_file(),
                       help="Write the key file here (mode 0600) instead of stdout.")
_wireshark = click.option("--wireshark", type=click.Path(dir_okay=False, path_type=Path), callback=output_file(),
                          help="Also write the same TKs as Wireshark's 802.11 key table (an `80211_keys` file for "
                               "its profile directory, or for tshark -o uat:80211_keys).")


@keys.command("import-wpa", short_help="Key file from wpa_supplicant's debug logs (-d -K).")
@click.argument("logs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_output
@_wireshark
def import_wpa(*, logs: tuple[Path, ...], output: Path | None, wireshark: Path | None) -> None:
    """Read the mesh keys wpa_supplicant logged (run it with `-d -K`, e.g.
    `-d -K -t -f wpa.log`), one log per mesh interface, and write them as
    one key file for `meshframes analyze --keys`."""
    from meshframes.seal.keyfile import CaptureKeys
    from meshframes.seal.wpalog import WpaLogError, import_wpa_log

    keys = CaptureKeys()
    for log in logs:
        try:
            keys = keys.merged(import_wpa_log(log.read_text(errors="replace")))
        except WpaLogError as exc:
            console.error(f"{log}: {exc} ({exc.problem})")
            raise SystemExit(1) from None
    _write_keys(keys, output, wireshark)


@keys.command(short_help="Key file of the link keys running nodes hold.")
@click.argument("sockets", nargs=-1, required=True)
@_output
@_wireshark
def export(*, sockets: tuple[str, ...], output: Path | None, wireshark: Path | None) -> None:
    """Ask each running `meshframes node` (by its --control socket) for the
    temporal keys its secure mesh holds now: each link's pairwise key, its
    own group key and its peers'. Writes them as one key file for
    `meshframes analyze --keys`."""
    from meshframes.hosts.control_client import TargetError, ask
    from meshframes.seal.keyfile import CaptureKeys, KeyFileError, loads

    keys = CaptureKeys()
    for path in sockets:
        try:
            answer = ask(path, {"command": "keys"})
        except TargetError as exc:
            console.error(str(exc))
            raise SystemExit(1) from None
        if not answer["ok"]:
            console.error(f"{path}: {answer.get('detail')} ({answer.get('error')})")
            raise SystemExit(1)
        try:
            keys = keys.merged(loads(json.dumps(answer["result"])))
        except KeyFileError as exc:
            console.error(f"{path}: the node answered keys this version cannot read: {exc}")
            raise SystemExit(1) from None
    _write_keys(keys, output, wireshark)


def decryption_report(opener: CaptureOpener, limit: int | None) -> None:
    """What `analyze --keys` decrypted, and each frame it could not, with why."""
    from rich.table import Table

    refused = sum(opener.undecryptable.values())
    console.out.print(f"decrypted {opener.decrypted} protected frames, {refused} undecryptable"
                      + "".join(f"; {reason} ({count})" for reason, count in sorted(opener.undecryptable.items())),
                      soft_wrap=True)
    if opener.failures:
        table = Table(title=f"undecryptable ({refused})")
        table.add_column("frame", justify="right")
        table.add_column("reason")
        table.add_column("detail")
        for failure in opener.failures[:limit]:
            table.add_row(str(failure.index), str(failure.reason), failure.detail)
        console.out.print(table)
