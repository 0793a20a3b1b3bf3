"""The client engine against whatever authorities (or anyone posing as
one) answer: every reply type, with values at and past the limits of what
SQLite holds, in every phase. Nothing escapes; what is ignored is counted
under its reason."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fastpay_harness import certify, sign_order
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshframes.fastpay.client import Client, Ignored, Phase, SendToAuthority
from meshframes.fastpay.client_store import ClientStore
from meshframes.fastpay.committee import generate_committee
from meshframes.fastpay.errors import Rejection
from meshframes.fastpay.messages import (
    ERROR_PAYLOAD,
    AccountInfoRequest,
    AccountInfoResponse,
    Address,
    ConfirmationOrder,
    CrossShard,
    ErrorKind,
    FastPayError,
    SignedTransferOrder,
    TransferOrder,
)
from meshframes.fastpay.wire import signing_bytes

COMMITTEE, AUTHORITIES, ACCOUNTS = generate_committee([1, 1, 1, 1], [100, 0])
PAYER, PAYEE = ACCOUNTS
U64_EDGES = [0, 1, 2, 2**31, 2**63 - 1, 2**63, 2**64 - 1]
I128_EDGES = [-(2**127), -1, 0, 100, 2**63, 2**127 - 1]

# Mostly the edges, where SQLite's signed 64-bit INTEGER ends.
u64 = st.sampled_from(U64_EDGES) | st.sampled_from(U64_EDGES) | st.integers(0, 2**64 - 1)
i128 = st.sampled_from(I128_EDGES) | st.integers(-(2**127), 2**127 - 1)


def client_in(phase: Phase, directory: Path) -> tuple[Client, TransferOrder | None]:
    """A fresh client (real SQLite store) brought to `phase` by honest votes."""
    client = Client(PAYER.keypair, COMMITTEE, ClientStore(directory / "c.db", PAYER.public_key, 100))
    if phase is Phase.IDLE:
        return client, None
    [first, *_] = client.transfer(Address.fastpay(PAYEE.public_key), 10, 0.0)
    order = first.message  # type: ignore[union-attr]
    if phase is Phase.CONFIRMING:
        for authority in AUTHORITIES[:3]:
            vote = SignedTransferOrder(value=order, authority=authority.public_key,
                                       signature=authority.keypair.sign(signing_bytes(order.transfer)))
            client.receive(authority.public_key, vote, 0.1)
    assert client.phase is phase
    return client, order


@st.composite
def orders(draw: st.DrawFn, ours: TransferOrder | None) -> TransferOrder:
    if ours is not None and draw(st.booleans()):
        return ours
    order = sign_order(PAYER, PAYEE.public_key, draw(u64), draw(u64))
    if draw(st.booleans()):
        order = TransferOrder(transfer=order.transfer, signature=bytes(64))
    return order


SHAPES = ("vote", "info", "error with a value", "any error", "not a reply")


@st.composite
def replies(draw: st.DrawFn, ours: TransferOrder | None) -> object:
    shape = draw(st.sampled_from(SHAPES))
    order = draw(orders(ours))
    if shape == "vote":
        authority = draw(st.sampled_from(AUTHORITIES))
        signature = authority.keypair.sign(signing_bytes(order.transfer)) if draw(st.booleans()) else bytes(64)
        return SignedTransferOrder(value=order, authority=authority.public_key, signature=signature)
    signers = draw(st.lists(st.sampled_from(AUTHORITIES), max_size=4, unique_by=lambda a: a.public_key))
    certificate = certify(order, signers)
    sender = draw(st.sampled_from([PAYER.public_key, PAYEE.public_key]))
    if shape == "info":
        vote = draw(replies(ours).filter(lambda r: isinstance(r, SignedTransferOrder))) if draw(
            st.booleans()) else None
        return AccountInfoResponse(
            sender=sender, balance=draw(i128), next_sequence_number=draw(u64), pending_confirmation=vote,
            requested_certificate=draw(st.sampled_from([None, certificate])),
            requested_received_transfers=draw(st.sampled_from([(), (certificate,)])),
        )
    if shape in ("error with a value", "any error"):
        # The kinds that carry a value are the ones a client acts on.
        kind = draw(st.sampled_from(list(ERROR_PAYLOAD) if shape == "error with a value" else list(ErrorKind)))
        values = {"error": "x", "current_balance": draw(i128), "pending_confirmation": order,
                  "current_sequence_number": draw(u64)}
        field = ERROR_PAYLOAD.get(kind)
        return FastPayError(kind=kind, **({field: values[field]} if field else {}))
    return draw(st.sampled_from([
        order, certificate, ConfirmationOrder(transfer_certificate=certificate), CrossShard(certificate=certificate),
        AccountInfoRequest(sender=sender, request_sequence_number=draw(u64)),
    ]))


def edge_replies() -> list[object]:
    """Every reply type with every edge value it can carry. `order` is the
    very order `client_in` makes its client sign (Ed25519 is deterministic)."""
    order = sign_order(PAYER, PAYEE.public_key, 10, 0)
    vote = SignedTransferOrder(value=order, authority=AUTHORITIES[0].public_key,
                               signature=AUTHORITIES[0].keypair.sign(signing_bytes(order.transfer)))
    out: list[object] = [vote]
    for kind in ErrorKind:
        field = ERROR_PAYLOAD.get(kind)
        values = {"error": ["", "x" * 300], "current_balance": I128_EDGES, "pending_confirmation": [order],
                  "current_sequence_number": U64_EDGES}.get(field or "", [None])
        out += [FastPayError(kind=kind, **({field: v} if field else {})) for v in values]
    for seq in U64_EDGES:
        for sender in (PAYER.public_key, PAYEE.public_key):
            out.append(AccountInfoResponse(sender=sender, balance=0, next_sequence_number=seq))
        out.append(sign_order(PAYER, PAYEE.public_key, 1, seq))
        out.append(certify(sign_order(PAYER, PAYEE.public_key, 1, seq), AUTHORITIES[:3]))
    return out


@pytest.mark.parametrize("phase", list(Phase), ids=lambda p: p.name)
def test_every_reply_type_at_every_edge(tmp_path: Path, phase: Phase) -> None:
    """Each reply to a fresh client in `phase` (so no earlier reply masks
    it): no exception, and an ignored reply is counted."""
    for i, reply in enumerate(edge_replies()):
        (tmp_path / str(i)).mkdir()
        client, _ = client_in(phase, tmp_path / str(i))
        actions = client.receive(AUTHORITIES[1].public_key, reply, 0.5)  # type: ignore[arg-type]
        assert client.ignored.total() == sum(isinstance(a, Ignored) for a in actions), reply
        client.store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_no_reply_escapes_and_every_ignored_one_is_counted(data: st.DataObject) -> None:
    """Each example feeds its replies to a client in every phase."""
    for phase in Phase:
        with tempfile.TemporaryDirectory() as tmp:
            client, ours = client_in(phase, Path(tmp))
            for step in range(data.draw(st.integers(1, 5))):
                reply = data.draw(replies(ours))
                sender = data.draw(st.sampled_from([a.public_key for a in AUTHORITIES] + [PAYEE.public_key]))
                before = client.ignored.total()
                actions = client.receive(sender, reply, 1.0 + step)  # type: ignore[arg-type]
                ignored = [a for a in actions if isinstance(a, Ignored)]
                assert client.ignored.total() - before == len(ignored)
                assert all(a.reason for a in ignored)
            client.store.close()


@pytest.mark.parametrize("current", [2**63 - 1, 2**63, 2**64 - 1])
def test_missing_confirmations_claim_past_our_certificate_is_ignored(tmp_path: Path, current: int) -> None:
    """One Byzantine authority's MissingEalierConfirmations with any u64
    costs a counted ignore, never a crash or a lookup."""
    client, _ = client_in(Phase.CONFIRMING, tmp_path)
    claim = FastPayError(kind=ErrorKind.MissingEalierConfirmations, current_sequence_number=current)
    [ignored] = client.receive(AUTHORITIES[3].public_key, claim, 0.2)
    assert isinstance(ignored, Ignored)
    assert f"claims to be at {current}, our certificate is for 0" in ignored.reason
    assert client.ignored["missing-confirmations claim not behind our certificate"] == 1
    assert client.phase is Phase.CONFIRMING


@pytest.mark.parametrize("next_seq", [2**63, 2**64 - 1])
def test_account_info_far_ahead_is_ignored(tmp_path: Path, next_seq: int) -> None:
    client, _ = client_in(Phase.VOTING, tmp_path)
    info = AccountInfoResponse(sender=PAYER.public_key, balance=0, next_sequence_number=next_seq)
    [ignored] = client.receive(AUTHORITIES[0].public_key, info, 0.2)
    assert isinstance(ignored, Ignored) and f"it holds sequence number {next_seq}" in ignored.reason


@pytest.mark.parametrize("seq", [2**63, 2**64 - 1])
def test_received_certificate_past_the_maximum_is_refused(tmp_path: Path, seq: int) -> None:
    """Even signed by a quorum (which no honest quorum would sign), it is
    refused before it reaches the store."""
    payee = Client(PAYEE.keypair, COMMITTEE, ClientStore(tmp_path / "p.db", PAYEE.public_key, 0))
    cert = certify(sign_order(PAYER, PAYEE.public_key, 5, seq), AUTHORITIES[:3])
    with pytest.raises(Rejection) as info:
        payee.receive_certificate(cert)
    assert info.value.kind is ErrorKind.InvalidSequenceNumber
    assert payee.balance == 0


def test_missing_confirmations_behind_us_still_get_our_certificates(tmp_path: Path) -> None:
    """The honest case the bound must keep: an authority at 0 while we
    confirm 1 is sent our certificates from 0 on."""
    client, _ = client_in(Phase.CONFIRMING, tmp_path)
    for authority in AUTHORITIES[:3]:
        client.receive(authority.public_key, AccountInfoResponse(sender=PAYER.public_key, balance=90,
                                                                 next_sequence_number=1), 0.2)
    assert client.phase is Phase.IDLE
    [first, *_] = client.transfer(Address.fastpay(PAYEE.public_key), 5, 1.0)
    order = first.message  # type: ignore[union-attr]
    for authority in AUTHORITIES[:3]:
        client.receive(authority.public_key, SignedTransferOrder(
            value=order, authority=authority.public_key,
            signature=authority.keypair.sign(signing_bytes(order.transfer))), 1.1)
    claim = FastPayError(kind=ErrorKind.MissingEalierConfirmations, current_sequence_number=0)
    sent = client.receive(AUTHORITIES[3].public_key, claim, 1.2)
    assert all(isinstance(a, SendToAuthority) and isinstance(a.message, ConfirmationOrder) for a in sent)
    assert [a.message.transfer_certificate.value.transfer.sequence_number for a in sent] == [0, 1]  # type: ignore[union-attr]
