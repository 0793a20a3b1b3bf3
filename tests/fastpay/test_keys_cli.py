"""`meshframes keys`: the committee files it writes are the ones the
engines load, and bad input gets a fix-it message and the right exit code."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from meshframes.cli import cli
from meshframes.fastpay.committee import Committee, CommitteeFileError, Identity
from meshframes.fastpay.ed25519 import KeyPair, x25519_public_key


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_generate_writes_a_loadable_committee_and_private_keys(tmp_path: Path) -> None:
    result = run("keys", "generate", str(tmp_path), "-n", "4", "-m", "3", "--balance", "77", "--weights", "2,1,1,1")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    committee = Committee.load(tmp_path / "committee.json")
    assert [a.weight for a in committee.authorities] == [2, 1, 1, 1]
    assert (committee.total_weight, committee.quorum_threshold, committee.validity_threshold) == (5, 4, 2)
    assert [a.balance for a in committee.accounts] == [77, 77, 77]
    for i, info in enumerate(committee.authorities):
        path = tmp_path / "keys" / f"authority-{i}.json"
        ident = Identity.load(path)
        assert ident.public_key == info.name and ident.e2e_public_key == info.e2e_key
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for i, acc in enumerate(committee.accounts):
        assert Identity.load(tmp_path / "keys" / f"account-{i}.json").public_key == acc.address
    assert "seed" not in (tmp_path / "committee.json").read_text()


def test_toml_committee_has_the_same_id(tmp_path: Path) -> None:
    run("keys", "generate", str(tmp_path), "-n", "1", "-m", "1")
    committee = Committee.load(tmp_path / "committee.json")
    a, acc = committee.authorities[0], committee.accounts[0]
    toml = (
        'format = "meshframes-committee/1"\n'
        f'[[authorities]]\nname = "{a.name.hex()}"\nweight = {a.weight}\ne2e_key = "{a.e2e_key.hex()}"\n'
        f'[[accounts]]\naddress = "{acc.address.hex()}"\nbalance = {acc.balance}\n'
    )
    (tmp_path / "committee.toml").write_text(toml)
    assert Committee.load(tmp_path / "committee.toml").committee_id == committee.committee_id


def test_show_json(tmp_path: Path) -> None:
    run("keys", "generate", str(tmp_path), "-n", "7", "-m", "0")
    result = run("keys", "show", str(tmp_path / "committee.json"), "--json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    summary = json.loads(result.output)  # type: ignore[attr-defined]
    assert (summary["quorum_threshold"], summary["validity_threshold"]) == (5, 3)
    assert summary["committee_id"] == Committee.load(tmp_path / "committee.json").committee_id.hex()


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert run("keys", "generate", str(tmp_path)).exit_code == 0  # type: ignore[attr-defined]
    result = run("keys", "generate", str(tmp_path))
    assert result.exit_code == 1 and "--force" in result.output  # type: ignore[attr-defined]
    assert run("keys", "generate", str(tmp_path), "--force").exit_code == 0  # type: ignore[attr-defined]


def test_bad_weights_are_a_usage_error(tmp_path: Path) -> None:
    result = run("keys", "generate", str(tmp_path), "-n", "3", "--weights", "1,1")
    assert result.exit_code == 2 and "expected 3 positive integers" in result.output  # type: ignore[attr-defined]


def test_bad_committee_files_are_refused_precisely(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "meshframes-committee/1", "authorities": [{"name": "zz"}], "accounts": []}))
    result = run("keys", "show", str(bad))
    assert result.exit_code == 1 and "authorities[0]: 'name'" in result.output  # type: ignore[attr-defined]
    not_a_point = {"name": "01" * 32, "weight": 1, "e2e_key": "02" * 32}
    bad.write_text(json.dumps({"format": "meshframes-committee/1", "authorities": [not_a_point], "accounts": []}))
    with pytest.raises(CommitteeFileError, match="not an Ed25519 public key"):
        Committee.load(bad)
    name = KeyPair.from_seed(b"\x07" * 32).public_key
    dup = {"name": name.hex(), "weight": 1, "e2e_key": x25519_public_key(name).hex()}
    bad.write_text(json.dumps({"format": "meshframes-committee/1", "authorities": [dup, dup], "accounts": []}))
    with pytest.raises(CommitteeFileError, match="listed twice"):
        Committee.load(bad)
    stranger = {**dup, "e2e_key": "02" * 32}
    bad.write_text(json.dumps({"format": "meshframes-committee/1", "authorities": [stranger], "accounts": []}))
    with pytest.raises(CommitteeFileError, match="is not the X25519 form of its name"):
        Committee.load(bad)
