"""`meshframes keys`: make and inspect FastPay committee files.

`meshframes keys generate DIR` writes DIR/committee.json (authorities with
their weights and X25519 sealing keys, funded accounts with their
balances; no secrets) and one key file per identity in DIR/keys/
(authority-<i>.json, account-<i>.json; mode 0600, holding the Ed25519
seed and, for authorities, the X25519 secret). The formats are documented
in `meshframes.fastpay.committee`. `meshframes keys show FILE` prints a
committee's thresholds and members.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from meshframes.cli import console
from meshframes.cli.params import output_directory
from meshframes.fastpay.messages import U64_MAX


@click.group(short_help="Generate and inspect FastPay committee files.")
def keys() -> None:
    """Generate and inspect FastPay committee files and key files."""


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
