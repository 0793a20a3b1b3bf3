"""Per-hop protection of a mesh STA's frames: keys, PNs, replay windows.

`HopSealer` is the one object a node (peering, HWMP, forwarder, FastPay
transport) needs; it is sans-IO and works on MPDU bytes:

    sealer = HopSealer(own_mac)
    sealer.keys.install_pairwise(peer_mac, mtk)       # after peering, per peer
    sealer.keys.install_group_tx(GroupKey.generate())  # our MGTK
    sealer.keys.install_group_rx(peer_mac, peer_mgtk)  # each peer's MGTK
    air = sealer.seal(frame)        # before transmit
    frame = sealer.open(air)        # after receive; raises HopError subclasses

Which key: an individually addressed frame (A1) uses the pairwise key of
A1 to seal and of A2 to open; a group-addressed frame uses the transmitter's
MGTK (our own to send, the peer's to receive). A relay that forwards a frame
opens it with the previous hop's key and seals it again with the next hop's
key, as CCMP is per link.

Replay protection (12.5.3.4.4): one PN counter per transmit key, shared by
every traffic class; on receive, one window per (transmitter, key id, traffic
class), where the traffic class is the TID for QoS data (TID 0 for non-QoS
data) and a separate class for management frames. Windows live with the key,
so a new key starts fresh ones and re-installing the same key keeps them (no
key-reinstallation rollback of PNs).

Every refusal raises a `HopError` subclass and counts it in `rejected`
(receive) or `tx_refused` (transmit), keyed by `SealReason`; the sealer's state
is unchanged by a refused frame.
"""

from __future__ import annotations

import hashlib
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from meshframes.codec.mpdu import ADDR1, ADDR2
from meshframes.seal import ccmp
from meshframes.seal.errors import (
    HopError,
    PnExhausted,
    PnRollback,
    Replayed,
    SealReason,
    UnknownKey,
    UnknownKeyId,
)
from meshframes.seal.keyfile import CaptureKeys, LinkKey, TransmitterKey
from meshframes.seal.keys import GroupKey
from meshframes.seal.replay import ReplayWindow, Verdict

PAIRWISE_KEY_IDS = (0, 1)  # 0, or 0/1 alternating with Extended Key ID (12.7.6)
DEFAULT_REPLAY_WINDOW = 64
# Temporal keys whose transmit PN is remembered by the key's digest, well
# above the keys live at once (Linux's 32 peer links and a group key).
TK_MEMORY = 256
GROUP_OPENINGS_KEPT = 1024


class GroupOpenings:
    """Group-addressed frames opened lately, by their octets, shared by the
    sealers of stations that run in one process (the simulator's): every
    neighbour hears a group frame as the same octets and opens it with the
    same group key, so the first opens it and the others reuse its layout
    and plaintext. The replay check stays each receiver's own, a frame
    that failed to open is never kept, and a receiver whose key differs
    opens the frame itself. Emptied when `kept` is reached."""

    def __init__(self, kept: int = GROUP_OPENINGS_KEPT) -> None:
        self.kept = kept
        self._opened: dict[bytes, tuple[int, int, int, int, bytes, bytes]] = {}
        # (MAC header length, nonce flags, key id, PN, TK, plaintext) of a
        # frame, or None: the dict's own lookup, asked for every group
        # frame every neighbour hears.
        self.get: Callable[[bytes], tuple[int, int, int, int, bytes, bytes] | None] = self._opened.get

    def keep(self, frame: bytes, opened: tuple[int, int, int, int, bytes, bytes]) -> None:
        if len(self._opened) >= self.kept:
            self._opened.clear()
        self._opened[frame] = opened


@dataclass(slots=True, eq=False)
class PnCounter:
    """The next PN of one temporal key, shared by every install of it."""

    next_pn: int = 1


@dataclass(slots=True, eq=False)
class TxKey:
    """A key we transmit with and the next PN it will use."""

    tk: bytes
    key_id: int
    cipher: AESCCM
    counter: PnCounter = field(default_factory=PnCounter)

    @property
    def next_pn(self) -> int:
        return self.counter.next_pn

    @next_pn.setter
    def next_pn(self, pn: int) -> None:
        self.counter.next_pn = pn


@dataclass(slots=True, eq=False)
class RxKey:
    """A key we receive with and its replay windows per traffic class."""

    tk: bytes
    cipher: AESCCM
    window_size: int
    # PNs at or below this were used before we got the key (group Key RSC).
    floor: int = -1
    windows: dict[int, ReplayWindow] = field(default_factory=dict)

    def window(self, traffic_class: int) -> ReplayWindow:
        window = self.windows.get(traffic_class)
        if window is None:
            window = self.windows[traffic_class] = ReplayWindow(self.window_size, self.floor)
        return window


def _check_key_id(key_id: int, allowed: tuple[int, ...]) -> None:
    if key_id not in allowed:
        raise ValueError(f"key id must be one of {allowed}, got {key_id}")


class KeyStore:
    """Temporal keys by (peer MAC, key id), pairwise and group kept apart."""

    def __init__(self, replay_window: int = DEFAULT_REPLAY_WINDOW) -> None:
        self.replay_window = replay_window
        self._tx_pairwise: dict[bytes, TxKey] = {}
        self._tx_group: TxKey | None = None
        self._rx_pairwise: dict[bytes, dict[int, RxKey]] = {}
        self._rx_group: dict[bytes, dict[int, RxKey]] = {}
        # TK digest -> its PN counter, least recently installed first. The
        # digest, not the key: a removed key's material is not kept.
        self._pn_counters: OrderedDict[bytes, PnCounter] = OrderedDict()
        # The highest next PN of any counter dropped from the memory: where
        # a key not remembered starts.
        self._pn_floor = 1

    def _pn_counter(self, tk: bytes) -> PnCounter:
        """The PN counter of `tk`, the one every install of it shares."""
        digest = hashlib.sha256(tk).digest()
        counter = self._pn_counters.pop(digest, None) or PnCounter(self._pn_floor)
        self._pn_counters[digest] = counter
        if len(self._pn_counters) > TK_MEMORY:
            live = {id(counter)} | {id(key.counter) for key in self._tx_pairwise.values()}
            if self._tx_group is not None:
                live.add(id(self._tx_group.counter))
            for old_digest, old in list(self._pn_counters.items()):
                if len(self._pn_counters) <= TK_MEMORY:
                    break
                if id(old) not in live:
                    del self._pn_counters[old_digest]
                    self._pn_floor = max(self._pn_floor, old.next_pn)
        return counter

    def _rx_entry(self, table: dict[bytes, dict[int, RxKey]], peer: bytes, tk: bytes, key_id: int,
                  floor: int = -1) -> RxKey:
        keys = table.setdefault(bytes(peer), {})
        current = keys.get(key_id)
        if current is not None and current.tk == tk:
            return current
        key = keys[key_id] = RxKey(tk, ccmp.new_cipher(tk), self.replay_window, floor)
        return key

    def install_pairwise(self, peer: bytes, tk: bytes, key_id: int = 0) -> bool:
        """Use `tk` (the link's MTK) with `peer` from now on, both ways.
        Returns False if exactly this key was already installed, in which
        case PN and replay state are kept as they are; any other install
        of a TK used before continues that TK's PN."""
        _check_key_id(key_id, PAIRWISE_KEY_IDS)
        current = self._tx_pairwise.get(bytes(peer))
        if current is not None and current.tk == tk and current.key_id == key_id:
            return False
        rx = self._rx_entry(self._rx_pairwise, peer, tk, key_id)
        self._tx_pairwise[bytes(peer)] = TxKey(tk, key_id, rx.cipher, self._pn_counter(tk))
        return True

    def install_group_tx(self, group_key: GroupKey) -> bool:
        """Seal our group-addressed frames with `group_key` (our MGTK)."""
        current = self._tx_group
        if current is not None and current.tk == group_key.tk and current.key_id == group_key.key_id:
            return False
        self._tx_group = TxKey(group_key.tk, group_key.key_id, ccmp.new_cipher(group_key.tk),
                               self._pn_counter(group_key.tk))
        return True

    def install_group_rx(self, peer: bytes, group_key: GroupKey, rsc: int = -1) -> bool:
        """Accept `peer`'s group-addressed frames under its MGTK `group_key`.
        `rsc` is the Key RSC the peer sent with the key (the last PN it
        used): frames at or below it are refused as replays, since the key
        was in use before we learned it. A key under the other group key id
        stays until replaced, so frames sealed before the peer's rotation
        still open."""
        if not -1 <= rsc <= ccmp.PN_MAX:
            raise ValueError(f"Key RSC must be a 48-bit PN, got {rsc}")
        keys = self._rx_group.get(bytes(peer), {})
        current = keys.get(group_key.key_id)
        if current is not None and current.tk == group_key.tk:
            return False
        self._rx_entry(self._rx_group, peer, group_key.tk, group_key.key_id, rsc)
        return True

    def group_rsc(self) -> int:
        """The last PN our MGTK sealed (0 before the first frame): the Key
        RSC to announce with it, so a new peer refuses anything older."""
        if self._tx_group is None:
            raise UnknownKey("no group key installed for group-addressed frames")
        return self._tx_group.next_pn - 1

    def remove_peer(self, peer: bytes) -> None:
        """Forget every key of `peer` (peering closed)."""
        peer = bytes(peer)
        self._tx_pairwise.pop(peer, None)
        self._rx_pairwise.pop(peer, None)
        self._rx_group.pop(peer, None)

    def capture_keys(self, own_mac: bytes) -> CaptureKeys:
        """Every temporal key held now, as a key file holds them
        (meshframes.seal.keyfile): each link's pairwise key, our group key
        and each peer's, so that a capture of this STA's links decrypts."""
        pairwise = [LinkKey.of(own_mac, peer, key.tk, key.key_id) for peer, key in self._tx_pairwise.items()]
        group = [TransmitterKey(own_mac, self._tx_group.key_id, self._tx_group.tk)] if self._tx_group else []
        group += [TransmitterKey(peer, key_id, key.tk)
                  for peer, keys in self._rx_group.items() for key_id, key in keys.items()]
        return CaptureKeys(tuple(pairwise), tuple(group))

    def tx_key(self, receiver: bytes) -> TxKey:
        """The key that seals a frame whose A1 is `receiver`."""
        if receiver[0] & 0x01:
            if self._tx_group is None:
                raise UnknownKey("no group key installed for group-addressed frames")
            return self._tx_group
        key = self._tx_pairwise.get(receiver)
        if key is None:
            raise UnknownKey(f"no pairwise key for {receiver.hex(':')}")
        return key

    def rx_key(self, receiver: bytes, transmitter: bytes, key_id: int) -> RxKey:
        """The key that opens a frame with this A1, A2 and key id."""
        group = receiver[0] & 0x01
        keys = (self._rx_group if group else self._rx_pairwise).get(transmitter)
        if not keys:
            kind = "group" if group else "pairwise"
            raise UnknownKey(f"no {kind} key for transmitter {transmitter.hex(':')}")
        key = keys.get(key_id)
        if key is None:
            raise UnknownKeyId(
                f"transmitter {transmitter.hex(':')} has key ids {sorted(keys)}, frame uses {key_id}"
            )
        return key


class HopSealer:
    """CCMP for every frame a mesh STA sends and receives over one hop."""

    def __init__(self, own_mac: bytes, *, replay_window: int = DEFAULT_REPLAY_WINDOW,
                 group_openings: GroupOpenings | None = None) -> None:
        """`group_openings`: the cache this sealer shares with the others in
        its process, if any (a station alone opens every frame itself)."""
        if len(own_mac) != 6:
            raise ValueError(f"MAC address is 6 octets, got {len(own_mac)}")
        self.own_mac = bytes(own_mac)
        self.keys = KeyStore(replay_window)
        self.rejected: Counter[SealReason] = Counter()
        self.tx_refused: Counter[SealReason] = Counter()
        self.sealed = 0
        self.opened = 0
        self.group_openings = group_openings

    def seal(self, frame: bytes) -> bytes:
        """Protect one plaintext MPDU for the air (Protected bit set)."""
        try:
            header_len, aad, flags = ccmp.frame_layout(frame)
            if flags == ccmp.NONCE_FLAG_MGMT:
                ccmp.check_protectable(frame, header_len)
        except HopError as error:
            self.tx_refused[error.reason] += 1
            raise
        return self.seal_parsed(frame, header_len, aad, flags)

    def seal_parsed(self, frame: bytes, header_len: int, aad: bytes, flags: int) -> bytes:
        """`seal` for a frame whose `ccmp.protection_layout` the caller has:
        (MAC header length, AAD, nonce flags)."""
        try:
            key = self.keys.tx_key(frame[ADDR1])
            counter = key.counter
            pn = counter.next_pn
            if pn > ccmp.PN_MAX:
                raise PnExhausted(f"PN space of key id {key.key_id} used up; re-peer to get a new key")
        except HopError as error:
            self.tx_refused[error.reason] += 1
            raise
        counter.next_pn = pn + 1
        self.sealed += 1
        return ccmp.encapsulate_parsed(key.cipher, frame, header_len, aad, flags, pn, key.key_id)

    def open(self, frame: bytes) -> bytes:
        """Verify, decrypt and replay-check one protected MPDU; returns the
        plaintext MPDU (Protected bit clear)."""
        receiver = frame[ADDR1]
        openings = self.group_openings if receiver and receiver[0] & 0x01 else None
        opened = openings.get(frame) if openings is not None else None
        try:
            if opened is not None:
                header_len, flags, key_id, pn, tk, plain = opened
                key = self.keys.rx_key(receiver, frame[ADDR2], key_id)
                if key.tk != tk:
                    opened = None
            if opened is None:
                header_len, aad, flags, key_id, pn = ccmp.parse_protected(frame)
                key = self.keys.rx_key(receiver, frame[ADDR2], key_id)
            window = key.window(flags)
            verdict = window.check(pn)
            if verdict:
                raise self._replay_error(verdict, pn, frame[ADDR2], window)
            if opened is None:
                plain = ccmp.decapsulate(key.cipher, frame, header_len, aad, flags, pn)
                if openings is not None:
                    openings.keep(frame, (header_len, flags, key_id, pn, key.tk, plain))
        except HopError as error:
            self.rejected[error.reason] += 1
            raise
        window.accept(pn)
        self.opened += 1
        return plain

    @staticmethod
    def _replay_error(verdict: Verdict, pn: int, transmitter: bytes, window: ReplayWindow) -> HopError:
        if verdict is Verdict.REPLAY:
            return Replayed(f"PN {pn} from {transmitter.hex(':')} already received")
        return PnRollback(
            f"PN {pn} from {transmitter.hex(':')} is below the window (highest {window.highest}, size {window.size})"
        )
