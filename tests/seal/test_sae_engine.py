"""The SAE engine as peers meet it: handshakes between two engines in each
group and mode, a wrong password, lost frames and retransmissions, group
refusal, reflection and out-of-range commits, anti-clogging under a commit
flood, and arbitrary bytes (Hypothesis), on the deterministic air of
sae_air.py."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshframes.codec.sae import (
    SEND_CONFIRM_MAX,
    STATUS_ANTI_CLOGGING_TOKEN_REQUIRED,
    STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP,
    SaeCommitBody,
    SaeCommitRefused,
    SaeConfirmBody,
    SaeConfirmRefused,
    build_sae,
    parse_sae,
)
from meshframes.seal.errors import SaeRefusal
from meshframes.seal.sae import (
    SaeAuthenticated,
    SaeConfig,
    SaeExpired,
    SaeFailed,
    SaeParent,
    SaeSetTimer,
    SaeState,
    SaeTransmit,
    SharedPwes,
)
from meshframes.seal.sae_crypto import ecc_group

from .sae_air import MAC_A, MAC_B, SaeAir, seeded

PASSWORD = b"meshframes-sae-passphrase"


def pair(config_a: SaeConfig, config_b: SaeConfig | None = None) -> SaeAir:
    air = SaeAir()
    air.add(MAC_A, config_a)
    air.add(MAC_B, config_b or config_a)
    return air


def authenticated(air: SaeAir, mac: bytes) -> SaeAuthenticated:
    [event] = air.of(mac, SaeAuthenticated)
    assert isinstance(event, SaeAuthenticated)
    return event


@pytest.mark.parametrize("config", [
    SaeConfig(PASSWORD, groups=(19,)),
    SaeConfig(PASSWORD, groups=(20,)),
    SaeConfig(PASSWORD, groups=(21,)),
    SaeConfig(PASSWORD, ssid=b"meshframes", groups=(19,), h2e=True),
    SaeConfig(PASSWORD, ssid=b"meshframes", groups=(20,), h2e=True, password_identifier=b"ops"),
], ids=["19 hunting-and-pecking", "20 hunting-and-pecking", "21 hunting-and-pecking", "19 hash-to-element", "20 hash-to-element + id"])
def test_two_engines_complete_a_handshake(config: SaeConfig) -> None:
    """Both start at once, as mesh peers do; both reach Accepted with the
    same PMK and PMKID, and one Commit and one Confirm each went out."""
    air = pair(config)
    air.initiate(MAC_A, MAC_B)
    air.initiate(MAC_B, MAC_A)
    air.run()
    a, b = authenticated(air, MAC_A), authenticated(air, MAC_B)
    assert (a.peer, b.peer) == (MAC_B, MAC_A)
    assert a.pmk == b.pmk and a.pmkid == b.pmkid and len(a.pmk) == 32
    assert a.group == b.group == config.groups[0] and a.h2e == config.h2e
    assert air.parents[MAC_A].state(MAC_B) == air.parents[MAC_B].state(MAC_A) == SaeState.ACCEPTED
    kinds = Counter((src, type(parse_sae(body)).__name__) for src, _, body in air.sent)
    assert kinds == {(MAC_A, "SaeCommitBody"): 1, (MAC_A, "SaeConfirmBody"): 1,
                     (MAC_B, "SaeCommitBody"): 1, (MAC_B, "SaeConfirmBody"): 1}
    assert not air.parents[MAC_A].refused and not air.parents[MAC_B].refused


def test_a_responder_answers_a_commit_with_commit_and_confirm() -> None:
    """Only A starts: B goes Nothing -> Confirmed on A's Commit."""
    air = pair(SaeConfig(PASSWORD))
    air.initiate(MAC_A, MAC_B)
    air.run()
    assert authenticated(air, MAC_A).pmk == authenticated(air, MAC_B).pmk
    assert [type(parse_sae(body)).__name__ for src, _, body in air.sent if src == MAC_B] == [
        "SaeCommitBody", "SaeConfirmBody"]


def test_a_wrong_password_fails_on_both_sides_with_the_reason_counted() -> None:
    air = pair(SaeConfig(PASSWORD), SaeConfig(b"not-the-passphrase"))
    air.initiate(MAC_A, MAC_B)
    air.initiate(MAC_B, MAC_A)
    air.run()
    for mac, peer in ((MAC_A, MAC_B), (MAC_B, MAC_A)):
        parent = air.parents[mac]
        assert air.of(mac, SaeAuthenticated) == []
        assert air.of(mac, SaeFailed) == [SaeFailed(peer=peer, reason=SaeRefusal.CONFIRM_MISMATCH)]
        assert parent.refused[SaeRefusal.CONFIRM_MISMATCH] >= 1
        assert parent.failed == {SaeRefusal.CONFIRM_MISMATCH: 1}
        assert parent.instances == {}


def test_a_mode_mismatch_is_refused_and_counted() -> None:
    """Hunting-and-pecking against hash-to-element cannot agree on a PWE."""
    air = pair(SaeConfig(PASSWORD), SaeConfig(PASSWORD, ssid=b"meshframes", h2e=True))
    air.initiate(MAC_A, MAC_B)
    air.run()
    assert air.parents[MAC_B].refused[SaeRefusal.MODE_MISMATCH] >= 1
    assert air.of(MAC_A, SaeFailed) and not air.of(MAC_B, SaeAuthenticated)


@pytest.mark.parametrize("lost", ["commit", "confirm"])
def test_lost_frames_are_retransmitted_on_t0(lost: str) -> None:
    """The first Commit (or Confirm) from A never arrives; t0
    (dot11RSNASAERetransPeriod) brings it again and both still finish."""
    dropped: list[bytes] = []

    def tap(source: bytes, destination: bytes, body: bytes) -> bytes | None:
        kind = SaeCommitBody if lost == "commit" else SaeConfirmBody
        if source == MAC_A and not dropped and isinstance(parse_sae(body), kind):
            dropped.append(body)
            return None
        return body

    air = pair(SaeConfig(PASSWORD))
    air.tap = tap
    air.initiate(MAC_A, MAC_B)
    air.initiate(MAC_B, MAC_A)
    air.run()
    assert dropped
    assert authenticated(air, MAC_A).pmk == authenticated(air, MAC_B).pmk
    assert air.now >= SaeConfig(PASSWORD).retrans_period


def test_an_unanswered_commit_is_resent_sync_times_then_the_instance_ends() -> None:
    config = SaeConfig(PASSWORD, retrans_period=0.5, sync=3)
    parent = SaeParent(MAC_A, config, random=seeded(1))
    outputs = parent.initiate(MAC_B, 0.0)
    commit = outputs[0]
    assert isinstance(commit, SaeTransmit) and outputs[1] == SaeSetTimer(peer=MAC_B, at=0.5)
    assert parent.on_timer(MAC_B, 0.4) == []  # early: nothing
    resent = 0
    now = 0.5
    while True:
        outputs = parent.on_timer(MAC_B, now)
        if any(isinstance(o, SaeFailed) for o in outputs):
            break
        assert [o.body for o in outputs if isinstance(o, SaeTransmit)] == [commit.body]
        resent += 1
        now += 0.5
    assert resent == config.sync
    assert outputs == [SaeFailed(peer=MAC_B, reason=SaeRefusal.RETRANSMISSIONS_EXHAUSTED)]
    assert parent.instances == {} and parent.on_timer(MAC_B, now + 1) == []


def test_an_unsupported_group_moves_the_initiator_to_its_next_group() -> None:
    """B offers only 19; A tries 20 first, is refused with status 77, and
    completes in 19."""
    air = pair(SaeConfig(PASSWORD, groups=(20, 19)), SaeConfig(PASSWORD, groups=(19,)))
    air.initiate(MAC_A, MAC_B)
    air.run()
    assert authenticated(air, MAC_A).group == authenticated(air, MAC_B).group == 19
    assert air.parents[MAC_B].refused[SaeRefusal.UNSUPPORTED_GROUP] == 1
    refusals = [parse_sae(body) for src, _, body in air.sent if src == MAC_B]
    assert SaeCommitRefused(STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP, 20) in refusals


def test_h2e_rejected_groups_salt_the_keys_on_both_sides() -> None:
    """With hash-to-element, the group A had refused travels in its
    Rejected Groups element and both sides salt the keyseed with it."""
    air = pair(SaeConfig(PASSWORD, ssid=b"mesh", groups=(20, 19), h2e=True),
               SaeConfig(PASSWORD, ssid=b"mesh", groups=(19,), h2e=True))
    air.initiate(MAC_A, MAC_B)
    air.run()
    assert authenticated(air, MAC_A).pmk == authenticated(air, MAC_B).pmk
    last_commit = [parse_sae(body) for src, _, body in air.sent
                   if src == MAC_A and isinstance(parse_sae(body), SaeCommitBody)][-1]
    assert isinstance(last_commit, SaeCommitBody) and last_commit.rejected_groups == (20,)


def test_a_reflected_commit_is_refused() -> None:
    """A's own Commit sent back to it as if from B is dropped and counted."""
    parent = SaeParent(MAC_A, SaeConfig(PASSWORD), random=seeded(2))
    commit = parent.initiate(MAC_B, 0.0)[0]
    assert isinstance(commit, SaeTransmit)
    assert parent.receive(MAC_B, commit.body, 0.01) == []
    assert parent.refused == {SaeRefusal.REFLECTION: 1}
    assert parent.state(MAC_B) == SaeState.COMMITTED


def commit_from(mac: bytes, seed: int, config: SaeConfig | None = None) -> bytes:
    return SaeParent(mac, config or SaeConfig(PASSWORD), random=seeded(seed)).initiate(MAC_A, 0.0)[0].body  # type: ignore[union-attr]


def with_fields(body: bytes, *, scalar: bytes | None = None, element: bytes | None = None) -> bytes:
    commit = parse_sae(body)
    assert isinstance(commit, SaeCommitBody)
    return build_sae(SaeCommitBody(commit.status, commit.group, scalar or commit.scalar,
                                   element or commit.element))


GROUP = ecc_group(19)


@pytest.mark.parametrize(("scalar", "element", "reason"), [
    ((0).to_bytes(32, "big"), None, SaeRefusal.SCALAR_OUT_OF_RANGE),
    ((1).to_bytes(32, "big"), None, SaeRefusal.SCALAR_OUT_OF_RANGE),
    (GROUP.order.to_bytes(32, "big"), None, SaeRefusal.SCALAR_OUT_OF_RANGE),
    (None, bytes(64), SaeRefusal.ELEMENT_INVALID),
    (None, GROUP.prime.to_bytes(32, "big") + bytes(32), SaeRefusal.ELEMENT_INVALID),
    (None, GROUP.element_to_bytes(GROUP.generator)[:63] + b"\x00", SaeRefusal.ELEMENT_INVALID),
], ids=["scalar 0", "scalar 1", "scalar r", "element (0,0)", "x = p", "off the curve"])
def test_out_of_range_commits_are_refused_before_any_state(scalar: bytes | None, element: bytes | None,
                                                            reason: SaeRefusal) -> None:
    parent = SaeParent(MAC_A, SaeConfig(PASSWORD), random=seeded(3))
    assert parent.receive(MAC_B, with_fields(commit_from(MAC_B, 4), scalar=scalar, element=element), 0.0) == []
    assert parent.refused == {reason: 1} and parent.instances == {}


def test_accepted_answers_a_newer_confirm_once_and_refuses_a_replay() -> None:
    air = pair(SaeConfig(PASSWORD))
    air.initiate(MAC_A, MAC_B)
    air.run()
    b_confirm = next(body for src, _, body in air.sent if src == MAC_B and isinstance(parse_sae(body), SaeConfirmBody))
    a = air.parents[MAC_A]
    assert a.receive(MAC_B, b_confirm, air.now) == []  # the same send-confirm again
    assert a.refused == {SaeRefusal.STALE_SEND_CONFIRM: 1}
    b = air.parents[MAC_B]
    instance = b.instances[MAC_A]
    newer = instance.confirm_body(5)
    [answer] = a.receive(MAC_B, newer, air.now)
    assert isinstance(answer, SaeTransmit)
    reply = parse_sae(answer.body)
    assert isinstance(reply, SaeConfirmBody) and reply.send_confirm == SEND_CONFIRM_MAX
    assert a.state(MAC_B) == SaeState.ACCEPTED


def test_the_pmk_expires_after_its_lifetime() -> None:
    air = pair(SaeConfig(PASSWORD, pmk_lifetime=100.0))
    air.initiate(MAC_A, MAC_B)
    air.run(until=200.0)
    assert air.of(MAC_A, SaeExpired) == [SaeExpired(peer=MAC_B)]
    assert air.parents[MAC_A].instances == {}


def made_up(rng: random.Random) -> bytes:
    return bytes([0x02]) + rng.randbytes(5)


def test_a_commit_flood_triggers_anti_clogging_stays_bounded_and_a_peer_still_completes() -> None:
    """200 Commits from made-up stations: past the threshold each gets a
    token demand and no state; the flood's instances time out; a real peer,
    arriving during the flood, echoes its token and completes."""
    config = SaeConfig(PASSWORD, anti_clogging_threshold=5, max_instances=16)
    air = pair(config)
    victim = air.parents[MAC_A]
    rng = random.Random(7)
    template = commit_from(MAC_B, 9)
    parsed = parse_sae(template)
    assert isinstance(parsed, SaeCommitBody)
    flooders = [made_up(rng) for _ in range(200)]
    for n, mac in enumerate(flooders):
        # Valid-looking commits (a scalar in range, a point on the curve)
        # that cost the victim its full work while it still has room.
        scalar = (2 + n).to_bytes(32, "big")
        air.inject(mac, MAC_A, with_fields(template, scalar=scalar))
        if n == 100:
            air.initiate(MAC_B, MAC_A)
    air.run(until=1.0)
    assert victim.peak_instances <= config.anti_clogging_threshold + 1 <= config.max_instances
    assert victim.refused[SaeRefusal.TOKEN_REQUIRED] >= 200 - config.anti_clogging_threshold
    assert victim.tokens_sent == victim.refused[SaeRefusal.TOKEN_REQUIRED]
    token_demands = [parse_sae(body) for src, dst, body in air.sent if src == MAC_A and dst == MAC_B]
    assert any(isinstance(d, SaeCommitRefused) and d.status == STATUS_ANTI_CLOGGING_TOKEN_REQUIRED
               for d in token_demands)
    assert authenticated(air, MAC_A).pmk == authenticated(air, MAC_B).pmk
    air.run(until=10.0)
    assert set(victim.instances) == {MAC_B}
    assert victim.failed[SaeRefusal.RETRANSMISSIONS_EXHAUSTED] == config.anti_clogging_threshold


def test_a_forged_token_is_refused_and_a_new_one_demanded() -> None:
    config = SaeConfig(PASSWORD, anti_clogging_threshold=1)
    victim = SaeParent(MAC_A, config, random=seeded(5))
    victim.initiate(bytes.fromhex("020000000900"), 0.0)  # one open instance: at the threshold
    commit = parse_sae(commit_from(MAC_B, 6))
    assert isinstance(commit, SaeCommitBody)
    forged = build_sae(SaeCommitBody(commit.status, commit.group, commit.scalar, commit.element, token=b"x" * 32))
    [reply] = victim.receive(MAC_B, forged, 0.0)
    assert isinstance(reply, SaeTransmit)
    assert parse_sae(reply.body) == SaeCommitRefused(STATUS_ANTI_CLOGGING_TOKEN_REQUIRED, 19, victim.token_for(MAC_B))
    assert victim.refused == {SaeRefusal.TOKEN_INVALID: 1} and MAC_B not in victim.instances


def test_the_instance_cap_holds_even_with_valid_tokens() -> None:
    """A station that echoes tokens (it hears them) still cannot push the
    parent past max_instances."""
    config = SaeConfig(PASSWORD, anti_clogging_threshold=2, max_instances=4)
    victim = SaeParent(MAC_A, config, random=seeded(8))
    template = commit_from(MAC_B, 9)
    parsed = parse_sae(template)
    assert isinstance(parsed, SaeCommitBody)
    for n in range(10):
        mac = bytes([2, 0, 0, 0, 0x10, n])
        body = build_sae(SaeCommitBody(parsed.status, 19, (3 + n).to_bytes(32, "big"), parsed.element,
                                       token=victim.token_for(mac)))
        victim.receive(mac, body, 0.0)
    assert len(victim.instances) == config.max_instances
    assert victim.refused[SaeRefusal.TOO_MANY_INSTANCES] == 10 - config.max_instances


# -- arbitrary input ---------------------------------------------------------

REAL_COMMIT = commit_from(MAC_B, 11)
REAL_CONFIRM = SaeConfirmBody(0, 1, bytes(32))


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    return st.tuples(st.integers(0, len(data)), st.binary(max_size=8), st.integers(0, 8)).map(
        lambda t: data[:t[0]] + t[1] + data[t[0] + t[2]:])


FRAMES = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=120).map(lambda rest: bytes.fromhex("0300") + rest),
    mutated(REAL_COMMIT),
    mutated(build_sae(REAL_CONFIRM)),
    st.sampled_from([REAL_COMMIT, build_sae(REAL_CONFIRM),
                     build_sae(SaeCommitRefused(STATUS_ANTI_CLOGGING_TOKEN_REQUIRED, 19, b"t" * 32)),
                     build_sae(SaeCommitRefused(STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP, 19)),
                     build_sae(SaeConfirmRefused(1))]),
)
SENDERS = st.sampled_from([MAC_B, bytes.fromhex("020000000300"), bytes.fromhex("020000000400")])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(SENDERS, FRAMES, st.floats(0, 1)), max_size=12))
def test_arbitrary_frames_never_crash_and_every_drop_is_counted(frames: list[tuple[bytes, bytes, float]]) -> None:
    """Whatever arrives, in whatever state: no exception, at most
    max_instances instances, and a frame that produces nothing moved a
    counter."""
    config = SaeConfig(PASSWORD, anti_clogging_threshold=1, max_instances=2)
    parent = SaeParent(MAC_A, config, random=seeded(12))
    parent.initiate(MAC_B, 0.0)
    for sender, body, now in frames:
        before = parent.refused.total() + parent.failed.total()
        outputs = parent.receive(sender, body, now)
        if not outputs:
            assert parent.refused.total() + parent.failed.total() > before, body.hex()
        parent.on_timer(sender, now)
        assert len(parent.instances) <= config.max_instances


def test_a_peer_that_starts_over_gets_a_new_handshake_and_a_bad_restart_changes_nothing() -> None:
    """After Accepted, a new valid Commit from the peer (it rebooted) starts
    a fresh instance and a new PMK; an invalid one leaves the old in place."""
    air = pair(SaeConfig(PASSWORD))
    air.initiate(MAC_A, MAC_B)
    air.run()
    first = authenticated(air, MAC_A).pmk
    a = air.parents[MAC_A]
    bad = with_fields(commit_from(MAC_B, 21), scalar=(1).to_bytes(32, "big"))
    assert a.receive(MAC_B, bad, air.now) == []
    assert a.state(MAC_B) == SaeState.ACCEPTED and a.refused == {SaeRefusal.SCALAR_OUT_OF_RANGE: 1}
    air.parents[MAC_B] = SaeParent(MAC_B, SaeConfig(PASSWORD), random=seeded(22))
    air.events.clear()
    air.initiate(MAC_B, MAC_A)
    air.run()
    again = authenticated(air, MAC_A)
    assert again.pmk == authenticated(air, MAC_B).pmk != first


def test_a_peer_that_restarts_mid_handshake_is_met_again() -> None:
    """B's answer is so slow that A gives up and starts over with a new
    Commit while B is Confirmed (what a slow guest does to a C peer): B
    takes the new Commit at once, and both finish with one PMK without B's
    instance having to time out first."""
    air = pair(SaeConfig(PASSWORD))
    air.initiate(MAC_A, MAC_B)
    first_commit = air._queue.pop(0)
    b = air.parents[MAC_B]
    air.take(MAC_B, b.receive(MAC_A, first_commit[2], 0.0))  # B: Nothing -> Confirmed
    air._queue.clear()  # B's Commit and Confirm are lost
    air.parents[MAC_A] = SaeParent(MAC_A, SaeConfig(PASSWORD), random=seeded(31))
    air.initiate(MAC_A, MAC_B)
    air.run()
    assert authenticated(air, MAC_A).pmk == authenticated(air, MAC_B).pmk
    assert air.of(MAC_B, SaeFailed) == [] and not b.refused


def test_a_rejection_from_the_peer_is_counted_and_changes_nothing() -> None:
    """hostapd answers a Confirm it will not take with transaction 2 and a
    failure status, no fields: parsed, counted, no state moves."""
    rejection = bytes.fromhex("030002000100")
    assert parse_sae(rejection) == SaeConfirmRefused(1) and build_sae(SaeConfirmRefused(1)) == rejection
    parent = SaeParent(MAC_A, SaeConfig(PASSWORD), random=seeded(41))
    parent.initiate(MAC_B, 0.0)
    assert parent.receive(MAC_B, rejection, 0.01) == []
    assert parent.refused == {SaeRefusal.PEER_REFUSED: 1} and parent.state(MAC_B) == SaeState.COMMITTED


def test_a_second_handshake_with_the_same_peer_reuses_only_the_password_element() -> None:
    """After the PMK expires the pair authenticates again: each station
    derives the PWE (a function of the password and both MACs) once, but
    draws new secrets, so the second run's commit scalar and PMK differ."""
    air = pair(SaeConfig(PASSWORD, pmk_lifetime=5.0))
    air.initiate(MAC_A, MAC_B)
    air.run(until=1.0)
    first = authenticated(air, MAC_A)
    air.run(until=10.0)
    assert air.of(MAC_A, SaeExpired) == [SaeExpired(peer=MAC_B)]
    air.initiate(MAC_A, MAC_B)
    air.run(until=11.0)
    runs = [e for e in air.of(MAC_A, SaeAuthenticated) if isinstance(e, SaeAuthenticated)]
    assert len(runs) == 2 and runs[0] == first and runs[1].pmk != first.pmk
    commits = [parse_sae(body) for src, _, body in air.sent if src == MAC_A]
    scalars = [c.scalar for c in commits if isinstance(c, SaeCommitBody)]
    assert len(scalars) == 2 and scalars[0] != scalars[1]
    assert air.parents[MAC_A].pwes_derived == air.parents[MAC_B].pwes_derived == 1


def test_the_password_elements_kept_are_bounded_like_the_instances() -> None:
    """A flood of Commits from made-up stations, each one's PWE derived:
    the station keeps at most max_instances of them."""
    config = SaeConfig(PASSWORD, anti_clogging_threshold=4, max_instances=4)
    air = pair(config)
    victim = air.parents[MAC_A]
    rng = random.Random(3)
    for n in range(12):
        # Unanswered, each instance ends after its retransmissions.
        air.take(MAC_A, victim.initiate(made_up(rng), 60.0 * n))
        air.run(until=60.0 * n + 59.0)
    assert victim.instances == {} and victim.pwes_derived == 12 and victim.pwes_kept == config.max_instances


def test_a_pairs_password_element_is_derived_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A's first instance with B ends unanswered; when B's Commit comes
    later, A answers it with the password element it derived then (no
    second hunting-and-pecking), and the handshake completes with it. The
    cache stays within the instance bound."""
    config = SaeConfig(PASSWORD, retrans_period=0.5, sync=1, max_instances=2, anti_clogging_threshold=2)
    a = SaeParent(MAC_A, config, random=seeded(41))
    derived: list[tuple[bytes, bytes]] = []
    hunt = type(ecc_group(19)).hunting_and_pecking

    def counted(group: object, password: bytes, mac_a: bytes, mac_b: bytes) -> object:
        derived.append((mac_a, mac_b))
        return hunt(group, password, mac_a, mac_b)  # type: ignore[arg-type]

    monkeypatch.setattr(type(ecc_group(19)), "hunting_and_pecking", counted)
    a.initiate(MAC_B, 0.0)
    ended = [o for now in (0.5, 1.0) for o in a.on_timer(MAC_B, now) if isinstance(o, SaeFailed)]
    assert ended == [SaeFailed(peer=MAC_B, reason=SaeRefusal.RETRANSMISSIONS_EXHAUSTED)]
    assert a.instances == {} and len(derived) == 1
    air = pair(config)
    air.parents[MAC_A] = a
    air.initiate(MAC_B, MAC_A)
    air.run()
    assert authenticated(air, MAC_A).pmk == authenticated(air, MAC_B).pmk
    assert derived.count((MAC_A, MAC_B)) == 1 and len(derived) == 2  # A once, B once
    for peer in (bytes.fromhex(f"0200000000{i:02x}") for i in range(10, 14)):
        a.initiate(peer, 20.0)
        a.remove(peer)
    assert a.pwes_kept == config.max_instances


@pytest.mark.parametrize("config", [SaeConfig(PASSWORD), SaeConfig(PASSWORD, ssid=b"meshframes", h2e=True)],
                         ids=["hunting-and-pecking", "hash-to-element"])
def test_stations_sharing_password_elements_work_out_each_pairs_once(config: SaeConfig,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Three stations of one process share their password elements: each
    pair's is worked out by one of its two stations and taken by the
    other, every handshake ends with both sides' PMK equal to what
    stations deriving their own reach, and a station with another password
    takes nothing of theirs (its handshakes fail as they must)."""
    group = type(ecc_group(19))
    worked_out: list[tuple[bytes, bytes]] = []
    for name in ("hunting_and_pecking", "pwe_from_pt"):
        derive = getattr(group, name)

        def counted(self: object, *args: object, _derive: object = derive) -> object:
            worked_out.append((args[-2], args[-1]))  # type: ignore[arg-type]
            return _derive(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(group, name, counted)
    mac_c, mac_d = bytes.fromhex("02000000000c"), bytes.fromhex("02000000000d")
    shared = SharedPwes(kept=8)

    def run(share: SharedPwes | None, others: SaeConfig) -> SaeAir:
        air = SaeAir()
        for mac, cfg in ((MAC_A, config), (MAC_B, config), (mac_c, config), (mac_d, others)):
            air.parents[mac] = SaeParent(mac, cfg, random=seeded(mac[-1] + 1), shared_pwes=share)
        for a, b in ((MAC_A, MAC_B), (MAC_A, mac_c), (mac_c, MAC_B), (mac_d, MAC_A)):
            air.initiate(a, b)
        air.run()
        return air

    alone = run(None, replace(config, password=b"another passphrase"))
    assert len(worked_out) == 8  # four pairs, both sides each
    worked_out.clear()
    together = run(shared, replace(config, password=b"another passphrase"))
    assert sorted(min(p) + max(p) for p in worked_out) == sorted(
        min(p) + max(p) for p in ((MAC_A, MAC_B), (MAC_A, mac_c), (mac_c, MAC_B), (mac_d, MAC_A), (MAC_A, mac_d)))
    assert shared.taken == 3
    for air in (alone, together):
        pmks = {frozenset((src, e.peer)): e.pmk for src, e in air.events if isinstance(e, SaeAuthenticated)}
        assert len(pmks) == 3 and not air.of(mac_d, SaeAuthenticated)
    assert {frozenset((s, e.peer)): e.pmk for s, e in alone.events if isinstance(e, SaeAuthenticated)} == {
        frozenset((s, e.peer)): e.pmk for s, e in together.events if isinstance(e, SaeAuthenticated)}


def test_shared_password_elements_stay_bounded() -> None:
    shared = SharedPwes(kept=2)
    config, point = SaeConfig(PASSWORD), ecc_group(19).generator
    for n in range(5):
        shared.keep(config, 19, MAC_A, bytes((2, 0, 0, 0, 0, n)), point)
        assert len(shared._pwes) <= 2
    assert shared.get(config, 19, bytes((2, 0, 0, 0, 0, 4)), MAC_A) is point
    assert shared.get(replace(config, password=b"other"), 19, MAC_A, bytes((2, 0, 0, 0, 0, 4))) is None
    assert shared.taken == 1
