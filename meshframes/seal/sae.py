"""SAE, Simultaneous Authentication of Equals (IEEE 802.11-2020 12.4), as a
sans-IO engine: one parent process per station (12.4.8.5) and one protocol
instance per peer (12.4.8.6).

The host hands the engine an Authentication frame body with the peer's
MAC address and the time (`SaeParent.receive`), asks it to start
(`initiate`) and calls `on_timer` when a deadline it was given passes.
Every call returns a list of outputs: `SaeTransmit` (an Authentication body
for the peer), `SaeSetTimer`, and the events `SaeAuthenticated`,
`SaeFailed` and `SaeExpired`. The engine reads no clock and sends nothing.

A protocol instance moves Nothing -> Committed -> Confirmed -> Accepted
(12.4.8.6.3-6); `_Instance` has one method per input, each switching on
the state:

| state | Commit | Confirm | t0 / lifetime |
|---|---|---|---|
| Nothing | send Commit + Confirm -> Confirmed (initiate: Commit -> Committed) | refused | - |
| Committed | send Confirm -> Confirmed; a token demand or group refusal: Commit again | sync+1, resend Commit | sync+1, resend Commit |
| Confirmed | sync+1, resend Commit + Confirm (a new Commit is taken) | verified: PMK -> Accepted | sync+1, resend Confirm |
| Accepted | new and valid: a fresh instance | newer, verified: Confirm with Sc = 2^16 - 1 | lifetime over: deleted |

Past dot11RSNASAESync retransmissions an instance is deleted. Each
instance has one timer: t0 (dot11RSNASAERetransPeriod) while committed or
confirmed, the PMK lifetime once accepted. A stale or
early timer call is ignored, so a host never has to cancel one.

The parent is what keeps the station's state bounded: it creates an
instance only for a valid Commit (or our own `initiate`), refuses Commits
without a valid anti-clogging token once dot11RSNASAEAntiCloggingThreshold
instances are open (12.4.6), keeps no state for a refused Commit (the token
is an HMAC of the peer's address under a secret of ours, checked without
a table), and never holds more than `max_instances`. A failed instance is
deleted at once. Every dropped frame is counted in `refused` by
`SaeRefusal`, and every instance that ends without a PMK in `failed`.
"""

from __future__ import annotations

import hmac
import os
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ecdsa.ellipticcurve import PointJacobi

from meshframes.codec.errors import DecodeError
from meshframes.codec.sae import (
    SEND_CONFIRM_MAX,
    STATUS_ANTI_CLOGGING_TOKEN_REQUIRED,
    STATUS_SAE_HASH_TO_ELEMENT,
    STATUS_SUCCESS,
    STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP,
    SaeBody,
    SaeCommitBody,
    SaeCommitRefused,
    SaeConfirmBody,
    SaeConfirmRefused,
    build_sae,
    parse_sae,
)
from meshframes.seal.errors import SaeRefusal
from meshframes.seal.sae_crypto import (
    SUPPORTED_GROUPS,
    EccGroup,
    SaeCryptoError,
    SaeKeys,
    confirm_value,
    derive_keys,
    ecc_group,
    max_min,
    shared_secret,
)

# MIB defaults (802.11-2020 Annex C), the same as hostap's.
DOT11_RSNA_SAE_RETRANS_PERIOD = 0.040  # dot11RSNASAERetransPeriod, 40 ms
DOT11_RSNA_SAE_SYNC = 5  # dot11RSNASAESync
DOT11_RSNA_SAE_ANTI_CLOGGING_THRESHOLD = 5  # dot11RSNASAEAntiCloggingThreshold
DOT11_RSNA_CONFIG_PMK_LIFETIME = 43200.0  # dot11RSNAConfigPMKLifetime, seconds
MAX_TOKEN_LEN = 255  # one element's body: a longer token from a peer is refused, not stored
TOKEN_LEN = 32
MAC_LEN = 6


class SaeState(StrEnum):
    """12.4.8.6.1's protocol instance states."""

    NOTHING = "Nothing"
    COMMITTED = "Committed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"


@dataclass(frozen=True, slots=True)
class SaeConfig:
    """One station's SAE settings. `ssid` is what H2E salts the password
    with: a mesh uses its Mesh ID. `h2e` picks hash-to-element (status 126)
    over hunting-and-pecking (status 0); a peer must use the same."""

    password: bytes
    ssid: bytes = b""
    groups: tuple[int, ...] = (19,)
    h2e: bool = False
    password_identifier: bytes | None = None
    retrans_period: float = DOT11_RSNA_SAE_RETRANS_PERIOD
    sync: int = DOT11_RSNA_SAE_SYNC
    anti_clogging_threshold: int = DOT11_RSNA_SAE_ANTI_CLOGGING_THRESHOLD
    max_instances: int = 64
    pmk_lifetime: float = DOT11_RSNA_CONFIG_PMK_LIFETIME

    def __post_init__(self) -> None:
        if not self.password:
            raise ValueError("SAE needs a non-empty password")
        if not self.groups or any(g not in SUPPORTED_GROUPS for g in self.groups):
            raise ValueError(f"groups must be among {SUPPORTED_GROUPS}, got {self.groups}")
        if self.h2e and not 0 < len(self.ssid) <= 32:
            raise ValueError(f"hash-to-element needs an SSID or Mesh ID of 1..32 octets, got {len(self.ssid)}")
        if not 0 < self.anti_clogging_threshold <= self.max_instances:
            raise ValueError("anti-clogging threshold must be within 1..max_instances, got "
                             f"{self.anti_clogging_threshold} and {self.max_instances}")
        if self.retrans_period <= 0 or self.sync < 0 or self.pmk_lifetime <= 0:
            raise ValueError("retransmission period and PMK lifetime must be positive, sync not negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class SaeTransmit:
    """Send `body` (an Authentication frame body) to `peer`."""

    peer: bytes
    body: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SaeSetTimer:
    """Call `on_timer(peer, now)` at `at` (replaces the peer's earlier timer)."""

    peer: bytes
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class SaeAuthenticated:
    """The peer proved it knows the password: its PMK and PMKID (12.4.5.4)."""

    peer: bytes
    group: int
    h2e: bool
    pmk: bytes
    pmkid: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SaeFailed:
    """The instance ended without a PMK. `reason` is the last refusal it
    saw (a wrong password shows as sae-confirm-mismatch), or why it gave up."""

    peer: bytes
    reason: SaeRefusal


@dataclass(frozen=True, slots=True, kw_only=True)
class SaeExpired:
    """The PMK's lifetime (dot11RSNAConfigPMKLifetime) ran out."""

    peer: bytes


SaeOutput = SaeTransmit | SaeSetTimer | SaeAuthenticated | SaeFailed | SaeExpired


class SaeRefused(Exception):
    """Inside the engine only: drop the frame and count `reason`; `fatal`
    ends the instance."""

    def __init__(self, reason: SaeRefusal, fatal: bool = False) -> None:
        super().__init__(reason.value)
        self.reason = reason
        self.fatal = fatal


def _int(data: bytes) -> int:
    return int.from_bytes(data, "big")


@dataclass(slots=True)
class _Instance:
    """One protocol instance (12.4.8.6) with one peer."""

    own: bytes
    peer: bytes
    config: SaeConfig
    group: EccGroup
    random: Callable[[int], bytes]
    shared_pwes: SharedPwes | None = None
    rejected_groups: tuple[int, ...] = ()
    state: SaeState = SaeState.NOTHING
    token: bytes = b""
    sync: int = 0
    send_confirm: int = 0
    received_confirm: int = -1
    deadline: float = 0.0
    last_refusal: SaeRefusal | None = None
    pwe: PointJacobi | None = None
    rand: int = 0
    scalar: int = 0
    element: PointJacobi | None = None
    peer_scalar: int = 0
    peer_element: PointJacobi | None = None
    peer_rejected_groups: tuple[int, ...] = ()
    keys: SaeKeys | None = None
    outputs: list[SaeOutput] = field(default_factory=list)

    # -- commit and confirm messages -------------------------------------

    def _random_scalar(self) -> int:
        """Uniform in [2, r): rejection sampling on the order's octets."""
        r = self.group.order
        while True:
            value = _int(self.random(self.group.order_len)) >> (8 * self.group.order_len - r.bit_length())
            if 1 < value < r:
                return value

    def _password_element(self) -> PointJacobi:
        config, shared = self.config, self.shared_pwes
        pwe = None if shared is None else shared.get(config, self.group.number, self.own, self.peer)
        if pwe is not None:
            return pwe
        if config.h2e:
            pt = _password_token(self.group.number, config.ssid, config.password, config.password_identifier)
            pwe = self.group.pwe_from_pt(pt, self.own, self.peer)
        else:
            pwe = self.group.hunting_and_pecking(config.password, self.own, self.peer)
        if shared is not None:
            shared.keep(config, self.group.number, self.own, self.peer, pwe)
        return pwe

    def new_commit(self) -> None:
        """rand, mask -> commit-scalar and COMMIT-ELEMENT (12.4.5.3)."""
        if self.pwe is None:
            self.pwe = self._password_element()
        while True:
            rand, mask = self._random_scalar(), self._random_scalar()
            scalar = (rand + mask) % self.group.order
            if scalar > 1:
                break
        self.rand, self.scalar = rand, scalar
        self.element = -self.group.scalar_op(mask, self.pwe)

    def commit_body(self) -> bytes:
        assert self.element is not None
        status = STATUS_SAE_HASH_TO_ELEMENT if self.config.h2e else STATUS_SUCCESS
        return build_sae(SaeCommitBody(
            status, self.group.number, self.group.scalar_to_bytes(self.scalar),
            self.group.element_to_bytes(self.element), self.token,
            self.config.password_identifier if self.config.h2e else None,
            self.rejected_groups if self.config.h2e else ()))

    def confirm_body(self, send_confirm: int) -> bytes:
        assert self.keys is not None and self.element is not None and self.peer_element is not None
        status = STATUS_SAE_HASH_TO_ELEMENT if self.config.h2e else STATUS_SUCCESS
        value = confirm_value(self.group, self.keys.kck, send_confirm, self.scalar, self.element,
                              self.peer_scalar, self.peer_element, h2e=self.config.h2e)
        return build_sae(SaeConfirmBody(status, send_confirm, value))

    def _send(self, body: bytes) -> None:
        self.outputs.append(SaeTransmit(peer=self.peer, body=body))

    def _send_confirm(self) -> None:
        self.send_confirm = min(self.send_confirm + 1, SEND_CONFIRM_MAX)
        self._send(self.confirm_body(self.send_confirm))

    def _timer(self, at: float) -> None:
        self.deadline = at
        self.outputs.append(SaeSetTimer(peer=self.peer, at=at))

    def _t0(self, now: float) -> None:
        self._timer(now + self.config.retrans_period)

    def _count_sync(self) -> None:
        """One more retransmission; past dot11RSNASAESync the instance ends."""
        self.sync += 1
        if self.sync > self.config.sync:
            raise SaeRefused(self.last_refusal or SaeRefusal.RETRANSMISSIONS_EXHAUSTED, fatal=True)

    # -- the peer's commit -----------------------------------------------

    def check_commit(self, commit: SaeCommitBody) -> tuple[int, PointJacobi]:
        """The peer's scalar and element, or SaeRefused (12.4.5.4)."""
        if commit.group != self.group.number:
            raise SaeRefused(SaeRefusal.UNSUPPORTED_GROUP)
        if (commit.status == STATUS_SAE_HASH_TO_ELEMENT) != self.config.h2e:
            raise SaeRefused(SaeRefusal.MODE_MISMATCH)
        if self.config.h2e and commit.password_identifier != self.config.password_identifier:
            raise SaeRefused(SaeRefusal.UNKNOWN_PASSWORD_IDENTIFIER)
        scalar = _int(commit.scalar)
        if not 1 < scalar < self.group.order:
            raise SaeRefused(SaeRefusal.SCALAR_OUT_OF_RANGE)
        try:
            element = self.group.element_from_bytes(commit.element)
        except SaeCryptoError as exc:
            raise SaeRefused(SaeRefusal.ELEMENT_INVALID) from exc
        return scalar, element

    def _salt(self) -> bytes:
        """H2E's keyseed salt: the groups each side listed as rejected, the
        higher MAC address's list first, as hostap orders them."""
        own = b"".join(g.to_bytes(2, "little") for g in self.rejected_groups)
        peer = b"".join(g.to_bytes(2, "little") for g in self.peer_rejected_groups)
        return own + peer if self.own > self.peer else peer + own

    def take_commit(self, commit: SaeCommitBody) -> None:
        """Adopt a checked peer commit and derive the keys; a reflection of
        our own commit is refused (12.4.5.4)."""
        scalar, element = self.check_commit(commit)
        assert self.element is not None and self.pwe is not None
        if scalar == self.scalar and element == self.element:
            raise SaeRefused(SaeRefusal.REFLECTION)
        try:
            k = shared_secret(self.group, self.rand, self.pwe, scalar, element)
        except SaeCryptoError as exc:
            raise SaeRefused(SaeRefusal.SHARED_SECRET_IDENTITY) from exc
        self.peer_scalar, self.peer_element = scalar, element
        self.peer_rejected_groups = commit.rejected_groups
        self.keys = derive_keys(self.group, k, self.scalar, scalar, h2e=self.config.h2e,
                                salt=self._salt() if self.config.h2e else b"")

    def same_peer_commit(self, commit: SaeCommitBody) -> bool:
        return (commit.group == self.group.number and _int(commit.scalar) == self.peer_scalar
                and self.peer_element is not None and commit.element == self.group.element_to_bytes(self.peer_element))

    # -- transitions -----------------------------------------------------

    def initiate(self, now: float) -> None:
        self.new_commit()
        self._send(self.commit_body())
        self.state = SaeState.COMMITTED
        self._t0(now)

    def on_commit(self, commit: SaeCommitBody, now: float) -> None:
        if self.state == SaeState.NOTHING:
            self.new_commit()
            self.take_commit(commit)
            self._send(self.commit_body())
            self._send_confirm()
            self.state = SaeState.CONFIRMED
            self._t0(now)
        elif self.state == SaeState.COMMITTED:
            self.take_commit(commit)
            self._send_confirm()
            self.state = SaeState.CONFIRMED
            self._t0(now)
        elif self.state == SaeState.CONFIRMED:
            self._count_sync()
            if not self.same_peer_commit(commit):
                # 12.4.8.6.5 answers any Commit here as a retransmission.
                # A different one means the peer started over (a slow reply
                # outran its timers), and hostapd then takes the new Commit;
                # so do we, or the two sides would never meet again.
                self.take_commit(commit)
            self._send(self.commit_body())
            self._send_confirm()
            self._t0(now)
        else:
            raise SaeRefused(SaeRefusal.UNEXPECTED)

    def _verify(self, confirm: SaeConfirmBody) -> None:
        assert self.keys is not None and self.element is not None and self.peer_element is not None
        expected = confirm_value(self.group, self.keys.kck, confirm.send_confirm, self.peer_scalar,
                                 self.peer_element, self.scalar, self.element, h2e=self.config.h2e)
        if not hmac.compare_digest(expected, confirm.confirm):
            raise SaeRefused(SaeRefusal.CONFIRM_MISMATCH)

    def on_confirm(self, confirm: SaeConfirmBody, now: float) -> None:
        if self.state == SaeState.COMMITTED:
            self._count_sync()
            self._send(self.commit_body())
            self._t0(now)
            return
        if self.state == SaeState.CONFIRMED:
            self._verify(confirm)
            self.received_confirm = confirm.send_confirm
            self.state = SaeState.ACCEPTED
            self.sync = 0
            self._timer(now + self.config.pmk_lifetime)
            assert self.keys is not None
            self.outputs.append(SaeAuthenticated(peer=self.peer, group=self.group.number, h2e=self.config.h2e,
                                                 pmk=self.keys.pmk, pmkid=self.keys.pmkid))
            return
        if self.state == SaeState.ACCEPTED:
            if confirm.send_confirm <= self.received_confirm or confirm.send_confirm == SEND_CONFIRM_MAX:
                raise SaeRefused(SaeRefusal.STALE_SEND_CONFIRM)
            self._verify(confirm)
            self.received_confirm = confirm.send_confirm
            if self.sync >= self.config.sync:
                raise SaeRefused(SaeRefusal.STALE_SEND_CONFIRM)
            self.sync += 1
            self._send(self.confirm_body(SEND_CONFIRM_MAX))
            return
        raise SaeRefused(SaeRefusal.UNEXPECTED)

    def on_refusal(self, refusal: SaeCommitRefused, now: float) -> None:
        if self.state != SaeState.COMMITTED:
            raise SaeRefused(SaeRefusal.UNEXPECTED)
        if refusal.status == STATUS_ANTI_CLOGGING_TOKEN_REQUIRED and refusal.group == self.group.number:
            if not 0 < len(refusal.token) <= MAX_TOKEN_LEN:
                raise SaeRefused(SaeRefusal.MALFORMED)
            self.token = refusal.token
            self._send(self.commit_body())
            self._t0(now)
            return
        if refusal.status == STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP and refusal.group == self.group.number:
            self.last_refusal = SaeRefusal.UNSUPPORTED_GROUP
            tried = (*self.rejected_groups, self.group.number)
            left = [g for g in self.config.groups if g not in tried]
            if not left:
                raise SaeRefused(SaeRefusal.UNSUPPORTED_GROUP, fatal=True)
            self.group, self.rejected_groups, self.pwe, self.token = ecc_group(left[0]), tried, None, b""
            self.sync = 0
            self.initiate(now)
            return
        raise SaeRefused(SaeRefusal.PEER_REFUSED)

    def on_timer(self, now: float) -> bool:
        """Handle a due timer; True when the PMK's lifetime ended."""
        if self.state == SaeState.ACCEPTED:
            return True
        self._count_sync()
        if self.state == SaeState.COMMITTED:
            self._send(self.commit_body())
        else:
            self._send_confirm()
        self._t0(now)
        return False


@dataclass(frozen=True, slots=True)
class _PtKey:
    group: int
    ssid: bytes
    password: bytes
    identifier: bytes | None


_PT_CACHE: dict[_PtKey, PointJacobi] = {}
_PT_CACHE_LIMIT = 16


def _password_token(group: int, ssid: bytes, password: bytes, identifier: bytes | None) -> PointJacobi:
    """PT depends only on the password, SSID and group, so a station
    derives it once (12.4.4.2.3 recommends storing it)."""
    key = _PtKey(group, ssid, password, identifier)
    pt = _PT_CACHE.get(key)
    if pt is None:
        if len(_PT_CACHE) >= _PT_CACHE_LIMIT:
            _PT_CACHE.clear()
        pt = _PT_CACHE[key] = ecc_group(group).derive_pt(ssid, password, identifier)
    return pt


SHARED_PWES_KEPT = 1024


class SharedPwes:
    """Password elements worked out lately, shared by the SAE parents of
    stations that run in one process (the simulator's): both stations of a
    pair derive the same PWE from the password, the group and their two
    addresses (12.4.4.2), so the second takes the first's rather than
    hunting and pecking again. Kept by everything the PWE is derived from,
    so stations with another password or group never meet. Emptied when
    `kept` is reached."""

    def __init__(self, kept: int = SHARED_PWES_KEPT) -> None:
        self.kept = kept
        self._pwes: dict[tuple[int, bool, bytes, bytes, bytes | None, bytes], PointJacobi] = {}
        # Password elements handed out that another station had worked out.
        self.taken = 0

    @staticmethod
    def _key(config: SaeConfig, group: int, a: bytes, b: bytes) -> tuple[int, bool, bytes, bytes, bytes | None,
                                                                          bytes]:
        return group, config.h2e, config.ssid, config.password, config.password_identifier, max_min(a, b)

    def get(self, config: SaeConfig, group: int, a: bytes, b: bytes) -> PointJacobi | None:
        pwe = self._pwes.get(self._key(config, group, a, b))
        if pwe is not None:
            self.taken += 1
        return pwe

    def keep(self, config: SaeConfig, group: int, a: bytes, b: bytes, pwe: PointJacobi) -> None:
        if len(self._pwes) >= self.kept:
            self._pwes.clear()
        self._pwes[self._key(config, group, a, b)] = pwe


class SaeParent:
    """The parent process of 12.4.8.5 for the station `own`: creates,
    feeds and deletes protocol instances, one per peer, and answers
    Commits with anti-clogging tokens under load."""

    def __init__(self, own: bytes, config: SaeConfig, random: Callable[[int], bytes] = os.urandom,
                 shared_pwes: SharedPwes | None = None) -> None:
        """`shared_pwes`: the password elements this parent shares with the
        others in its process, if any (a station alone derives its own)."""
        if len(own) != MAC_LEN:
            raise ValueError(f"MAC address is {MAC_LEN} octets, got {len(own)}")
        self.own = own
        self.config = config
        self.random = random
        self.shared_pwes = shared_pwes
        self._token_key = random(32)
        self.instances: dict[bytes, _Instance] = {}
        self.refused: Counter[SaeRefusal] = Counter()
        self.failed: Counter[SaeRefusal] = Counter()
        self.tokens_sent = 0
        self.peak_instances = 0
        # (group, peer) -> PWE. Both derivations make the PWE a function of
        # the password, the group and the two MAC addresses alone (12.4.4.2),
        # so a station that authenticates with the same peer again (a link
        # lost to distance and found again) may reuse it; the per-run secrets
        # (rand, mask, the shared secret) are drawn afresh every time. Bounded
        # like the instances, least recently used first out.
        self._pwes: OrderedDict[tuple[int, bytes], PointJacobi] = OrderedDict()
        # Password elements this station came to hold: worked out, or taken
        # from `shared_pwes` (whose `taken` counts those).
        self.pwes_derived = 0

    @property
    def pwes_kept(self) -> int:
        return len(self._pwes)

    @property
    def open_instances(self) -> int:
        """Instances still handshaking: what anti-clogging counts."""
        return sum(1 for i in self.instances.values() if i.state != SaeState.ACCEPTED)

    def state(self, peer: bytes) -> SaeState:
        instance = self.instances.get(peer)
        return SaeState.NOTHING if instance is None else instance.state

    def keys(self, peer: bytes) -> SaeKeys | None:
        """KCK, PMK and PMKID once the commit exchange is done (before the
        peer's Confirm has been checked, too): for inspection and vectors."""
        instance = self.instances.get(peer)
        return None if instance is None else instance.keys

    def token_for(self, peer: bytes) -> bytes:
        """The anti-clogging token `peer` must echo (12.4.6): an HMAC of its
        address, so checking it needs no per-peer state."""
        return hmac.digest(self._token_key, peer, "sha256")[:TOKEN_LEN]

    def _new_instance(self, peer: bytes) -> _Instance:
        instance = self._instance(peer, self.config.groups[0])
        self.instances[peer] = instance
        self.peak_instances = max(self.peak_instances, len(self.instances))
        return instance

    def initiate(self, peer: bytes, now: float) -> list[SaeOutput]:
        """Start authenticating with `peer` (the parent's Initiate event);
        nothing if an instance already runs."""
        if len(peer) != MAC_LEN or peer == self.own:
            raise ValueError("peer must be another station's 6-octet MAC address")
        if peer in self.instances:
            return []
        if len(self.instances) >= self.config.max_instances:
            self.refused[SaeRefusal.TOO_MANY_INSTANCES] += 1
            return []
        instance = self._new_instance(peer)
        return self._run(instance, lambda: instance.initiate(now))

    def receive(self, peer: bytes, body: bytes, now: float) -> list[SaeOutput]:
        """An Authentication frame body from `peer`. Never raises for what a
        peer sends: a frame that is not acted on is counted in `refused`."""
        try:
            message = parse_sae(body)
        except DecodeError:
            self.refused[SaeRefusal.MALFORMED] += 1
            return []
        if len(peer) != MAC_LEN or peer == self.own:
            self.refused[SaeRefusal.UNEXPECTED] += 1
            return []
        if isinstance(message, SaeConfirmRefused):
            # A rejection carries nothing to check it by: counted, and the
            # instance's own timers decide what happens next.
            self.refused[SaeRefusal.PEER_REFUSED] += 1
            return []
        instance = self.instances.get(peer)
        if instance is None:
            return self._unknown_peer(peer, message, now)
        if isinstance(message, SaeCommitBody):
            if instance.state == SaeState.ACCEPTED and not instance.same_peer_commit(message):
                # The peer started over (a reboot, a new peering): a fresh
                # instance, which must pass the same checks as any other and
                # replaces the accepted one only once it has.
                return self._unknown_peer(peer, message, now)
            return self._run(instance, lambda: instance.on_commit(message, now))
        if isinstance(message, SaeConfirmBody):
            return self._run(instance, lambda: instance.on_confirm(message, now))
        return self._run(instance, lambda: instance.on_refusal(message, now))

    def _unknown_peer(self, peer: bytes, message: SaeBody, now: float) -> list[SaeOutput]:
        if not isinstance(message, SaeCommitBody):
            self.refused[SaeRefusal.UNEXPECTED] += 1
            return []
        if message.group not in self.config.groups:
            self.refused[SaeRefusal.UNSUPPORTED_GROUP] += 1
            return [SaeTransmit(peer=peer, body=build_sae(
                SaeCommitRefused(STATUS_UNSUPPORTED_FINITE_CYCLIC_GROUP, message.group)))]
        if self.open_instances >= self.config.anti_clogging_threshold:
            if not message.token:
                return self._demand_token(peer, message, SaeRefusal.TOKEN_REQUIRED)
            if not hmac.compare_digest(message.token, self.token_for(peer)):
                return self._demand_token(peer, message, SaeRefusal.TOKEN_INVALID)
        if len(self.instances) >= self.config.max_instances:
            self.refused[SaeRefusal.TOO_MANY_INSTANCES] += 1
            return []
        instance = self._instance(peer, message.group)
        try:
            # Checked before any state is kept or any password element is
            # derived, so an invalid Commit costs no more than its parsing.
            instance.check_commit(message)
        except SaeRefused as refusal:
            self.refused[refusal.reason] += 1
            return []
        self.instances[peer] = instance
        self.peak_instances = max(self.peak_instances, len(self.instances))
        return self._run(instance, lambda: instance.on_commit(message, now))

    def _instance(self, peer: bytes, group: int) -> _Instance:
        instance = _Instance(self.own, peer, self.config, ecc_group(group), self.random, self.shared_pwes)
        instance.pwe = self._pwes.get((group, peer))
        return instance

    def _keep_pwe(self, instance: _Instance) -> None:
        if instance.pwe is None:
            return
        key = (instance.group.number, instance.peer)
        if key not in self._pwes:
            self.pwes_derived += 1
            if len(self._pwes) >= self.config.max_instances:
                self._pwes.popitem(last=False)
        self._pwes[key] = instance.pwe
        self._pwes.move_to_end(key)

    def _demand_token(self, peer: bytes, message: SaeCommitBody, reason: SaeRefusal) -> list[SaeOutput]:
        self.refused[reason] += 1
        self.tokens_sent += 1
        refusal = SaeCommitRefused(STATUS_ANTI_CLOGGING_TOKEN_REQUIRED, message.group, self.token_for(peer))
        return [SaeTransmit(peer=peer, body=build_sae(refusal))]

    def on_timer(self, peer: bytes, now: float) -> list[SaeOutput]:
        """A timer the engine set for `peer` is due; early and stale calls do
        nothing."""
        instance = self.instances.get(peer)
        if instance is None or now < instance.deadline:
            return []
        expired = False

        def step() -> None:
            nonlocal expired
            expired = instance.on_timer(now)

        outputs = self._run(instance, step)
        if expired:
            del self.instances[peer]
            outputs.append(SaeExpired(peer=peer))
        return outputs

    def remove(self, peer: bytes) -> None:
        """Forget `peer` (its link closed): the next Commit starts afresh."""
        self.instances.pop(peer, None)

    def _run(self, instance: _Instance, step: Callable[[], object]) -> list[SaeOutput]:
        """Run one input through `instance`: a refusal drops the frame and is
        counted; a fatal one, or one that leaves the instance in Nothing,
        deletes the instance and is counted as its failure instead."""
        instance.outputs = []
        try:
            step()
            self._keep_pwe(instance)
        except SaeRefused as refusal:
            self._keep_pwe(instance)
            instance.last_refusal = refusal.reason
            if refusal.fatal or instance.state == SaeState.NOTHING:
                self.instances.pop(instance.peer, None)
                self.failed[refusal.reason] += 1
                return [SaeFailed(peer=instance.peer, reason=refusal.reason)]
            self.refused[refusal.reason] += 1
        return instance.outputs
