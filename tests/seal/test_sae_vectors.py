"""SAE's arithmetic against numbers published by others.

- IEEE Std 802.11-2020 Annex J.10 (group 19, hunting-and-pecking), as
  ../shared/vectors/sae-ieee80211-annex-j10.json carries it from hostap's
  src/common/common_module_tests.c sae_tests(): the commit body, KCK, PMK
  and PMKID, computed here through the engine's own input path.
- RFC 9380 Appendix J.1.1 (P256_XMD:SHA-256_SSWU_RO_) and J.2.1
  (P384_XMD:SHA-384_SSWU_RO_): u[0], u[1], Q0, Q1 and P. SAE's SSWU is the
  RFC's map_to_curve_simple_swu with the same Z (12.4.4.2.3), so
  sswu(u[i]) must be Q[i] and Q0 + Q1 must be P.
- draft-irtf-cfrg-hash-to-curve's P521_XMD:SHA-512_SSWU_RO_ vector file
  (poc/vectors, generated with the draft's test DST; u[0], u[1], Q0, Q1, P
  of msg ""): the same map with P-521's Z = -4, for group 21.
- hostap's sae_tests() again for hash-to-element: PT for group 19 from SSID
  "byteme", password "mekmitasdigoat" and identifier "psk4internet", then
  PWE for 00:09:5b:66:ec:1e and 00:0b:6b:d9:02:46 (its pwe_19_x, pwe_19_y).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from meshframes.codec.sae import SaeConfirmBody, parse_sae
from meshframes.seal.sae import SaeConfig, SaeParent, SaeState, SaeTransmit
from meshframes.seal.sae_crypto import SaeCryptoError, ecc_group

VECTOR = json.loads((Path(__file__).resolve().parents[3] / "shared" / "vectors"
                     / "sae-ieee80211-annex-j10.json").read_text())
AUTH_COMMIT = bytes.fromhex("030001000000")  # algorithm 3 (SAE), sequence 1, status 0


def mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def replaying(*chunks: bytes) -> Callable[[int], bytes]:
    """A random source that returns the given octets, in order."""
    queue = list(chunks)

    def take(n: int) -> bytes:
        chunk = queue.pop(0)
        assert len(chunk) == n, (len(chunk), n)
        return chunk
    return take


def test_annex_j10_commit_kck_pmk_pmkid() -> None:
    """The engine, given J.10's rand and mask, sends J.10's commit, and on
    J.10's peer commit derives J.10's KCK, PMK and PMKID."""
    local, peer = mac(VECTOR["addr1_local"]), mac(VECTOR["addr2_peer"])
    parent = SaeParent(local, SaeConfig(VECTOR["password"].encode()),
                       random=replaying(bytes(32), bytes.fromhex(VECTOR["local_rand"]),
                                        bytes.fromhex(VECTOR["local_mask"])))
    [commit, _] = parent.initiate(peer, now=0.0)
    assert isinstance(commit, SaeTransmit)
    assert commit.body == AUTH_COMMIT + bytes.fromhex(VECTOR["local_commit_body"])
    outputs = parent.receive(peer, AUTH_COMMIT + bytes.fromhex(VECTOR["peer_commit_body"]), now=0.001)
    assert parent.state(peer) == SaeState.CONFIRMED
    keys = parent.keys(peer)
    assert keys is not None
    assert keys.kck.hex() == VECTOR["kck"]
    assert keys.pmk.hex() == VECTOR["pmk"]
    assert keys.pmkid.hex() == VECTOR["pmkid"]
    confirm = parse_sae(next(o.body for o in outputs if isinstance(o, SaeTransmit)))
    assert isinstance(confirm, SaeConfirmBody) and confirm.send_confirm == 1 and len(confirm.confirm) == 32


def test_annex_j10_with_another_password_differs() -> None:
    """The vector pins the password: one letter off, another commit."""
    local, peer = mac(VECTOR["addr1_local"]), mac(VECTOR["addr2_peer"])
    parent = SaeParent(local, SaeConfig(b"mekmitasdigoaT"),
                       random=replaying(bytes(32), bytes.fromhex(VECTOR["local_rand"]),
                                        bytes.fromhex(VECTOR["local_mask"])))
    [commit, _] = parent.initiate(peer, now=0.0)
    assert isinstance(commit, SaeTransmit)
    assert commit.body != AUTH_COMMIT + bytes.fromhex(VECTOR["local_commit_body"])


# RFC 9380 J.1.1, msg "" and "abc" (Q0/Q1 given for "" only here).
P256_EMPTY = {
    "u": ("ad5342c66a6dd0ff080df1da0ea1c04b96e0330dd89406465eeba11582515009",
          "8c0f1d43204bd6f6ea70ae8013070a1518b43873bcd850aafa0a9e220e2eea5a"),
    "Q": (("ab640a12220d3ff283510ff3f4b1953d09fad35795140b1c5d64f313967934d5",
           "dccb558863804a881d4fff3455716c836cef230e5209594ddd33d85c565b19b1"),
          ("51cce63c50d972a6e51c61334f0f4875c9ac1cd2d3238412f84e31da7d980ef5",
           "b45d1a36d00ad90e5ec7840a60a4de411917fbe7c82c3949a6e699e5a1b66aac")),
    "P": ("2c15230b26dbc6fc9a37051158c95b79656e17a1a920b11394ca91c44247d3e4",
          "8a7a74985cc5c776cdfe4b1f19884970453912e9d31528c060be9ab5c43e8415"),
}
P256_ABC = {
    "u": ("afe47f2ea2b10465cc26ac403194dfb68b7f5ee865cda61e9f3e07a537220af1",
          "379a27833b0bfe6f7bdca08e1e83c760bf9a338ab335542704edcd69ce9e46e0"),
    "P": ("0bb8b87485551aa43ed54f009230450b492fead5f1cc91658775dac4a3388a0f",
          "5c41b3d0731a27a7b14bc0bf0ccded2d8751f83493404c84a88e71ffd424212e"),
}
# RFC 9380 J.2.1, msg "".
P384_EMPTY = {
    "u": ("1c6fcba37e868df39866fae4708ceaeadf0a891a4a44823ff6db8ea45d7a5295a6aab2d805c6684175a30129b0ea44ab",
          "81a2a74c79c84206a71a96b81d96ac60778a46ad9726898fe6250604f074fd1de90ca1720571eb90400e5aeadfd49c07"),
    "Q": (("cc6f17a0c0b7fe36d847ac126ca5feb04ad9eca6637899e834b6b627bacf0c298fee78f7d34b48aaf6aca379604832e7",
           "648c887fa4db378e4325b1184213dc5448dd4be9c629eb7eb5bbcd784100cadce5b5d4cf0ac024e352cab57b84f36003"),
          ("cf3ba0923bd780d181ea074ebcfaa560cf6586df57dcefde306cf3e930914a3c007b9ce7547fd012423dac0e4c5da13a",
           "86b8ae996da5ad0a8078349f18eacbd5c11359000232461d9b9ba168ccdac5b67db0b64fbece246f9bb0d27ade287a11")),
    "P": ("1a62e440ccce7e5d2d596efad87ca4efd761981cc48e8abcbd9fd095653af0853d920b0679417c1b54d1a29d6ac23321",
          "153066d9acedd9ef0bd13b7f8a5bf28eb000c057902cfd8448a72f284e9bf6b5efd47df5f26907d9fb4267b54d132a86"),
}


# The draft's P-521 vector, msg "".
P521_EMPTY = {
    "u": ("012bf001213ebf5c37474cf09f804fdb239c82edcf42d1eacf54c32e3400ee2c4e6d8231fef3a11633b25f8a8c4c4e827d0b7db16c"
          "2567bf5a41413d0218ec5855a7",
          "01f06e1a4dfeeac6810422d5da691121f75d1db17e187f65b15550ae6698bb67173544c28a6d4111691081a619722f70840cf266520"
          "7e82f35634f379351af0d4637"),
    "Q": (("00eb222cc5bd63364f650c2182a52af6deb789783f6cc2b45f67d34a8a238f4c3becc371d1fc78d29697df81933e62939c805c38411"
           "5e66733259a3f7145ca8085f2",
           "00a9bc815419728122b2503b3f96093c33a16e2f9817eb32870db474e3a6411e5f8c09b32de33f125732bc3e1515361abc2dd74ef36"
           "eca66af95fdb3fbef8f149cd1"),
          ("008e76a7377126972a4645e17c3930a390363a4073b6401d8ce50868e03ab449c7d433604c014c255989391a537d86b99af867d8729"
           "720d08185bfa0df440b7aa923",
           "0072b4676f1900568f7d6614f4661d0df86d9564936f92eb05936bf9c3dbad1019a3588893b8ea98f71ab8e587ab38cdb807f519379e"
           "abc7f8d27dcafd7b130d2843")),
    "P": ("00ad6cb736cb0565a2b6c52dd9e53f76a9a40a44c73bfaacef03c3ef62a9a23920b7df4de1b92754de7bb3013d9d36049da001136e7f"
          "4b1b0ba10beac862a2b3d3c5",
          "01c2ecab1b6f7bb6797a4b5bd416b385e891926fc17f230f2406f3d47076526c5d90bfb4d0170fd8a339de1a66e6304d280d0404fb68"
          "5b2ca07e2742a770b681bf56"),
}


@pytest.mark.parametrize(("group", "vector"),
                         [(19, P256_EMPTY), (19, P256_ABC), (20, P384_EMPTY), (21, P521_EMPTY)],
                         ids=["P-256 J.1.1 ''", "P-256 J.1.1 'abc'", "P-384 J.2.1 ''", "P-521 draft ''"])
def test_sswu_equals_rfc9380_map_to_curve(group: int, vector: dict[str, tuple]) -> None:  # type: ignore[type-arg]
    g = ecc_group(group)
    width = 2 * g.prime_len
    q = [g.sswu(int(u, 16)) for u in vector["u"]]
    for point, expected in zip(q, vector.get("Q", ()), strict=False):
        assert (format(point.x(), f"0{width}x"), format(point.y(), f"0{width}x")) == expected
    p = g.element_op(q[0], q[1])
    assert (format(p.x(), f"0{width}x"), format(p.y(), f"0{width}x")) == vector["P"]


def test_h2e_password_element_equals_hostap() -> None:
    """sae_tests(): pwe_19_x and pwe_19_y."""
    group = ecc_group(19)
    pt = group.derive_pt(b"byteme", b"mekmitasdigoat", b"psk4internet")
    pwe = group.pwe_from_pt(pt, mac("00:09:5b:66:ec:1e"), mac("00:0b:6b:d9:02:46"))
    assert group.element_to_bytes(pwe).hex() == (
        "c93049b9e64000f848201649e999f2b5c22dea69b5632c9df4d633b8aa1f6c1e"
        "73634e94b53d82e7383a8d258199d9dc1a5ee8269d060382ccbf33e614ff59a0")
    # The identifier is part of the password: without it, another PT.
    other = group.pwe_from_pt(group.derive_pt(b"byteme", b"mekmitasdigoat"),
                              mac("00:09:5b:66:ec:1e"), mac("00:0b:6b:d9:02:46"))
    assert other != pwe


def test_elements_off_the_curve_or_out_of_the_field_are_refused() -> None:
    group = ecc_group(19)
    good = group.element_to_bytes(group.generator)
    with pytest.raises(SaeCryptoError, match="not a point"):
        group.element_from_bytes(good[:32] + (int.from_bytes(good[32:], "big") ^ 1).to_bytes(32, "big"))
    with pytest.raises(SaeCryptoError, match="out of range"):
        group.element_from_bytes(group.prime.to_bytes(32, "big") + good[32:])
    with pytest.raises(SaeCryptoError, match="64 octets"):
        group.element_from_bytes(good[:-1])
