"""Discovery: which mesh STA (MAC) holds which FastPay identity.

Every party announces itself with an `AuthorityAnnouncement` flooded to
broadcast (docs/wire-format.md, type 8): authorities with their committee
weight, accounts with weight 0 (no committee member has weight 0, so the
weight tells the two apart). An announcement is checked against our own
committee before it is believed (docs/app.md, "Discovery"):

- committee_id must be ours: another committee's parties are not ours to
  pay or to trust;
- weight > 0: the name must be a committee authority with exactly that
  weight and that e2e key (the committee file is the independent fact);
- weight 0: the name must not be an authority, and its e2e key must be the
  X25519 form of the name (meshframes.seal.e2e), as nothing else vouches
  for an account's key.

Announcements carry no signature (the wire format has none), so a liar
can claim someone else's identity. Sealing turns that into a denial of
service, never a forgery. Bindings come from announcements only: an
end-to-end sealed frame proves who sealed it but not where that party is
(the sealer picks the mesh SA it seals), so it can only confirm the
binding an announcement made (`confirm_sealed`), never create or move one.
A confirmed binding is not overridden by an announcement for
`authenticated_ttl` seconds after it was last confirmed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from meshframes.fastpay.committee import Committee
from meshframes.fastpay.messages import AuthorityAnnouncement
from meshframes.seal.e2e import x25519_public_key
from meshframes.seal.errors import BadIdentity

from .errors import AppRefusal, Reason


def _short(key: bytes) -> str:
    return key[:4].hex()


@dataclass(frozen=True, slots=True)
class Binding:
    """Where an identity was last seen, and how we know."""

    identity: bytes
    mac: bytes
    weight: int
    # Virtual or real time at which an end-to-end sealed frame last proved
    # this binding; None while only announcements vouch for it.
    authenticated_at: float | None = None


# Accounts are open to anyone (a transfer creates its recipient), so a
# station could announce fresh keys without end: the directory keeps the
# committee's authorities always and at most this many accounts, dropping
# the one heard from longest ago.
MAX_ACCOUNTS = 4096


class Directory:
    def __init__(self, committee: Committee, own: bytes, authenticated_ttl: float = 30.0,
                 max_accounts: int = MAX_ACCOUNTS) -> None:
        self.committee = committee
        self.own = own
        self.authenticated_ttl = authenticated_ttl
        self.max_accounts = max_accounts
        self._authorities = {a.name: a for a in committee.authorities}
        self._by_identity: dict[bytes, Binding] = {}
        self._by_mac: dict[bytes, bytes] = {}
        self._accounts: OrderedDict[bytes, None] = OrderedDict()
        self.evicted = 0

    # -- queries -----------------------------------------------------------

    def mac_of(self, identity: bytes) -> bytes | None:
        binding = self._by_identity.get(identity)
        return binding.mac if binding is not None else None

    def identity_of(self, mac: bytes) -> bytes | None:
        return self._by_mac.get(mac)

    def binding(self, identity: bytes) -> Binding | None:
        return self._by_identity.get(identity)

    def is_authority(self, identity: bytes) -> bool:
        return self.committee.weight(identity) > 0

    def bindings(self) -> list[Binding]:
        """Every party we know where to find, authorities first."""
        return sorted(self._by_identity.values(), key=lambda b: (b.weight == 0, b.identity))

    # -- updates -----------------------------------------------------------

    def check(self, announcement: AuthorityAnnouncement) -> None:
        """Raise AppRefusal unless the announcement fits our committee."""
        a = announcement
        ours = self.committee.committee_id
        if a.committee_id != ours:
            raise AppRefusal(Reason.ANNOUNCE_WRONG_COMMITTEE,
                             f"got committee {a.committee_id.hex()}, expected {ours.hex()}")
        member = self._authorities.get(a.name)
        if a.weight > 0:
            if member is None:
                raise AppRefusal(Reason.ANNOUNCE_UNKNOWN_AUTHORITY,
                                 f"{_short(a.name)} claims weight {a.weight} but is not in the committee")
            if member.weight != a.weight:
                raise AppRefusal(Reason.ANNOUNCE_WEIGHT_MISMATCH,
                                 f"{_short(a.name)}: got weight {a.weight}, expected {member.weight}")
            expected_key = member.e2e_key
        else:
            if member is not None:
                raise AppRefusal(Reason.ANNOUNCE_WEIGHT_MISMATCH,
                                 f"authority {_short(a.name)}: got weight 0, expected {member.weight}")
            try:
                expected_key = x25519_public_key(a.name)
            except BadIdentity as exc:
                raise AppRefusal(Reason.ANNOUNCE_BAD_IDENTITY, f"account {_short(a.name)}: {exc}") from None
        if a.e2e_key != expected_key:
            raise AppRefusal(Reason.ANNOUNCE_E2E_KEY_MISMATCH,
                             f"{_short(a.name)}: got e2e key {_short(a.e2e_key)}, expected {_short(expected_key)}")

    def on_announcement(self, mac: bytes, announcement: AuthorityAnnouncement, now: float) -> bool:
        """Believe a checked announcement heard from `mac`; True when it
        told us something new (a party found or moved)."""
        self.check(announcement)
        name = announcement.name
        if name == self.own:
            raise AppRefusal(Reason.ANNOUNCE_OWN_IDENTITY,
                             f"{mac.hex(':')} announces our own identity {_short(name)}")
        for held in (self._by_identity.get(name), self._by_identity.get(self._by_mac.get(mac, b""))):
            if held is not None and self._proven(held, now) and (held.identity, held.mac) != (name, mac):
                raise AppRefusal(
                    Reason.ANNOUNCE_CONFLICTS_AUTHENTICATED,
                    f"{mac.hex(':')} announces {_short(name)}, but a sealed frame proved"
                    f" {_short(held.identity)} at {held.mac.hex(':')}",
                )
        current = self._by_identity.get(name)
        if current is not None and current.mac == mac:
            return False
        self._bind(Binding(name, mac, announcement.weight))
        return True

    def confirm_sealed(self, identity: bytes, mac: bytes, now: float) -> bool:
        """An end-to-end sealed frame from `mac` opened under `identity`.
        True (and the binding proven until `authenticated_ttl` from now) if
        an announcement bound `identity` to `mac`; otherwise nothing
        changes and False."""
        current = self._by_identity.get(identity)
        if current is None or current.mac != mac:
            return False
        self._by_identity[identity] = Binding(identity, mac, current.weight, now)
        return True

    def _proven(self, binding: Binding, now: float) -> bool:
        return binding.authenticated_at is not None and now - binding.authenticated_at < self.authenticated_ttl

    def _bind(self, binding: Binding) -> None:
        # One identity per station and one station per identity: a party
        # that moved to another MAC leaves nothing stale behind.
        old = self._by_identity.get(binding.identity)
        if old is not None:
            self._by_mac.pop(old.mac, None)
        displaced = self._by_mac.get(binding.mac)
        if displaced is not None and displaced != binding.identity:
            del self._by_identity[displaced]
            self._accounts.pop(displaced, None)
        self._by_identity[binding.identity] = binding
        self._by_mac[binding.mac] = binding.identity
        if binding.weight == 0:
            self._accounts[binding.identity] = None
            self._accounts.move_to_end(binding.identity)
            while len(self._accounts) > self.max_accounts:
                oldest, _ = self._accounts.popitem(last=False)
                gone = self._by_identity.pop(oldest, None)
                if gone is not None and self._by_mac.get(gone.mac) == oldest:
                    del self._by_mac[gone.mac]
                self.evicted += 1
