"""A Wireshark Lua dissector for our FastPay payloads, generated from the
Scapy layers (`meshframes.layers.fastpay`, `meshframes.layers.meshctl`)
and the codec's constants, so the two dissectors cannot drift apart.

Wireshark's 802.11 dissector hands the body of a vendor-specific action
frame (categories 127 and 126) after its OUI to the dissector table
`wlan.action.vendor_specific`, keyed by the OUI; the plugin registers
there under our OUI and sees Mesh Control first. FastPay over a kernel's
mesh interface arrives under ethertype 0x88B5 (`ethertype` table), where
the FastPay header comes first.

Field names follow Wireshark's convention, protocol then structure then
field (`fastpay.order.amount`); a structure nested in another keeps its
own names (the order inside a vote is still `fastpay.order.*`), so one
filter finds a value wherever it travels. Fragments of a split message
are named (fragment, count, message id) and, once all are seen in a
capture, the message is reassembled and dissected under the last one.

`render()` writes the plugin; the package ships it as
`meshframes_fastpay.lua` beside this module (a test checks it is current).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scapy.fields import (
    ConditionalField,
    FieldLenField,
    FlagsField,
    MACField,
    PacketField,
    PacketListField,
    StrField,
    StrFixedLenField,
    StrLenField,
)
from scapy.packet import Packet

from meshframes.codec.action import CATEGORY_VENDOR, CATEGORY_VENDOR_PROTECTED
from meshframes.codec.elements import MESHFRAMES_OUI
from meshframes.codec.fastpay import ETHERTYPE_FASTPAY, FASTPAY_VERSION, FLAG_E2E_SEALED
from meshframes.codec.header import SUBTYPE_ACTION, TYPE_MGMT
from meshframes.codec.meshctl import AE_MODE_NAMES, AE_RESERVED, ae_mode_problem
from meshframes.layers import fastpay as fp
from meshframes.layers.conditions import FieldIn, OptionSome
from meshframes.layers.meshctl import VendorMeshControl

PLUGIN_PATH = Path(__file__).with_name("meshframes_fastpay.lua")

# Each layer's place in the field names. FastPayTransfer shares the order's
# (a transfer travels only inside an order) and the (authority, signature)
# pairs the certificate's.
PREFIX: dict[type[Packet], str] = {
    VendorMeshControl: "fastpay.mesh_control",
    fp.FastPayHeader: "fastpay",
    fp.FastPayMessage: "fastpay.message",
    fp.FastPayTransfer: "fastpay.order",
    fp.FastPayTransferOrder: "fastpay.order",
    fp.FastPaySignedTransferOrder: "fastpay.vote",
    fp.FastPayAuthoritySignature: "fastpay.cert",
    fp.FastPayCertifiedTransferOrder: "fastpay.cert",
    fp.FastPayAccountInfoRequest: "fastpay.info_request",
    fp.FastPayAccountInfoResponse: "fastpay.info_response",
    fp.FastPayError: "fastpay.error",
    fp.FastPayAuthorityAnnouncement: "fastpay.announce",
    fp.FastPaySealed: "fastpay.sealed",
    fp.FastPayFragment: "fastpay.fragment",
}

_INT_TYPES = {"B": "uint8", "H": "uint16", "I": "uint32", "Q": "uint64",
              "b": "int8", "h": "int16", "i": "int32", "q": "int64"}


class GenerationError(ValueError):
    """A layer uses a field or condition the generator does not translate."""


@dataclass(frozen=True, slots=True)
class LuaField:
    abbrev: str
    declaration: str


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _lua_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _valuestring(mapping: dict[int, str]) -> str:
    return "{" + ", ".join(f"[{k}] = {_lua_str(str(v))}" for k, v in sorted(mapping.items())) + "}"


class _Generator:
    def __init__(self) -> None:
        self.fields: dict[str, LuaField] = {}
        self.functions: list[str] = []
        self.done: set[type[Packet]] = set()

    def field(self, abbrev: str, declaration: str) -> str:
        known = self.fields.get(abbrev)
        if known is not None and known.declaration != declaration:
            raise GenerationError(f"field {abbrev} declared twice, differently")
        self.fields[abbrev] = LuaField(abbrev, declaration)
        return f'F[{_lua_str(abbrev)}]'

    def layer(self, cls: type[Packet]) -> str:
        """The Lua function that dissects `cls` at an offset; generated once."""
        fname = f"dissect_{cls.__name__}"
        if cls in self.done:
            return fname
        self.done.add(cls)
        prefix = PREFIX[cls]
        body: list[str] = []
        bits: list[Any] = []
        for fld in cls.fields_desc:
            if not isinstance(fld, FlagsField) and getattr(fld, "size", 8) < 8:
                bits.append(fld)
                if sum(b.size for b in bits) == 8:
                    body += self._bits(cls, prefix, bits)
                    bits = []
                continue
            if bits:
                raise GenerationError(f"{cls.__name__}: bit fields not ending on an octet")
            body += self._field(cls, prefix, fld)
        lines = [f"local function {fname}(tvb, off, tree)", "  local v = {}", *body, "  return off, v", "end"]
        self.functions.append("\n".join(lines))
        return fname

    def _bits(self, cls: type[Packet], prefix: str, bits: list[Any]) -> list[str]:
        out = [f"  need(tvb, off, 1, {_lua_str(cls._name + ' ' + bits[0].name)})",
               "  local octet = tvb(off, 1):uint()"]
        shift = 8
        for b in bits:
            shift -= b.size
            mask = ((1 << b.size) - 1) << shift
            values = _valuestring(b.i2s) if getattr(b, "i2s", None) else "nil"
            ref = self.field(f"{prefix}.{b.name}", f'ProtoField.uint8("{prefix}.{b.name}", '
                             f'{_lua_str(_title(b.name))}, base.DEC, {values}, 0x{mask:02x})')
            out.append(f"  tree:add({ref}, tvb(off, 1))")
            out.append(f"  v.{b.name} = bits(octet, {shift}, {b.size})")
        return out + ["  off = off + 1"]

    def _field(self, cls: type[Packet], prefix: str, fld: object) -> list[str]:
        if isinstance(fld, ConditionalField):
            cond = self._condition(cls, fld.cond)
            return [f"  if {cond} then", *("  " + line for line in self._field(cls, prefix, fld.fld)), "  end"]
        name = getattr(fld, "name", "?")
        abbrev = f"{prefix}.{name}"
        what = _lua_str(f"{cls._name} {name}")
        if isinstance(fld, PacketField):
            sub = self.layer(self._packet_class(cls, fld))
            ref = self.field(abbrev, f'ProtoField.none("{abbrev}", {_lua_str(_title(name))})')
            return [f"  local item_{name} = tree:add({ref}, tvb(off, 0))",
                    f"  local start_{name} = off",
                    f"  off = {sub}(tvb, off, item_{name})",
                    f"  item_{name}:set_len(off - start_{name})"]
        if isinstance(fld, PacketListField):
            sub = self.layer(self._packet_class(cls, fld))
            count = self._counted_by(cls, name, "count_of")
            ref = self.field(abbrev, f'ProtoField.none("{abbrev}", {_lua_str(_title(name))})')
            return [f"  for i = 1, v.{count} do",
                    f"    local item = tree:add({ref}, tvb(off, 0))",
                    "    item:append_text(\" #\" .. i)",
                    "    local start = off",
                    f"    off = {sub}(tvb, off, item)",
                    "    item:set_len(off - start)",
                    "  end"]
        if isinstance(fld, MACField):
            ref = self.field(abbrev, f'ProtoField.ether("{abbrev}", {_lua_str(_title(name))})')
            return [f"  need(tvb, off, 6, {what})", f"  tree:add({ref}, tvb(off, 6))",
                    f"  v.{name} = tostring(tvb(off, 6):ether())", "  off = off + 6"]
        if isinstance(fld, fp.LESignedInt128Field):
            ref = self.field(abbrev, f'ProtoField.int64("{abbrev}", {_lua_str(_title(name))})')
            return [f"  need(tvb, off, 16, {what})", f"  add_i128(tree, {ref}, tvb(off, 16))", "  off = off + 16"]
        if isinstance(fld, FlagsField):
            return self._flags(prefix, fld, what)
        if isinstance(fld, StrFixedLenField):
            size = getattr(fld, "sz", None)
            if size is None:
                raise GenerationError(f"{cls.__name__}.{name}: a fixed-length field without its length")
            ref = self.field(abbrev, f'ProtoField.bytes("{abbrev}", {_lua_str(_title(name))})')
            return [f"  need(tvb, off, {size}, {what})", f"  tree:add({ref}, tvb(off, {size}))",
                    f"  off = off + {size}"]
        if isinstance(fld, StrLenField):
            length = self._counted_by(cls, name, "length_of")
            ref = self.field(abbrev, f'ProtoField.string("{abbrev}", {_lua_str(_title(name))}, base.UNICODE)')
            return [f"  need(tvb, off, v.{length}, {what})",
                    f"  if v.{length} > 0 then tree:add({ref}, tvb(off, v.{length})) end",
                    f"  off = off + v.{length}"]
        if isinstance(fld, fp._AllButTailField):
            ref = self.field(abbrev, f'ProtoField.bytes("{abbrev}", {_lua_str(_title(name))})')
            return [f"  need(tvb, off, {fld.tail}, {what})",
                    f"  local n_{name} = tvb:len() - off - {fld.tail}",
                    f"  if n_{name} > 0 then tree:add({ref}, tvb(off, n_{name})) end",
                    f"  off = off + n_{name}"]
        if type(fld) is StrField:
            ref = self.field(abbrev, f'ProtoField.bytes("{abbrev}", {_lua_str(_title(name))})')
            return [f"  if tvb:len() > off then tree:add({ref}, tvb(off)) end", "  off = tvb:len()"]
        fmt = getattr(fld, "fmt", "")
        letter = fmt[-1:] if fmt else ""
        if letter in _INT_TYPES:
            lines = self._integer(prefix, fld, fmt, what)
            if isinstance(fld, fp.OptionTagField):
                lines.insert(-1, f'  if v.{name} > 1 then error({{fastpay = {what} .. ": got " .. v.{name} '
                                 f'.. ", expected 0 (None) or 1 (Some)"}}) end')
            return lines
        raise GenerationError(f"{cls.__name__}.{name}: no Lua translation for {type(fld).__name__}")

    def _integer(self, prefix: str, fld: object, fmt: str, what: str) -> list[str]:
        name = getattr(fld, "name", "?")
        abbrev = f"{prefix}.{name}"
        size = struct.calcsize(fmt)
        kind = _INT_TYPES[fmt[-1]]
        mapping = getattr(fld, "i2s", None)
        values = _valuestring(mapping) if mapping else "nil"
        ref = self.field(abbrev, f'ProtoField.{kind}("{abbrev}", {_lua_str(_title(name))}, base.DEC, {values})')
        little = fmt[0] == "<" or size == 1
        add = "add_le" if little else "add"
        read = ("le_" if little and size > 1 else "") + ("int" if kind.startswith("int") else "uint")
        if size == 8:
            read += "64"
            value = f"tvb(off, 8):{read}():tonumber()"
        else:
            value = f"tvb(off, {size}):{read}()"
        return [f"  need(tvb, off, {size}, {what})", f"  tree:{add}({ref}, tvb(off, {size}))",
                f"  v.{name} = {value}", f"  off = off + {size}"]

    def _flags(self, prefix: str, fld: FlagsField, what: str) -> list[str]:
        if fld.size != 8:
            raise GenerationError(f"{fld.name}: flags of {fld.size} bits")
        abbrev = f"{prefix}.{fld.name}"
        ref = self.field(abbrev, f'ProtoField.uint8("{abbrev}", {_lua_str(_title(fld.name))}, base.HEX)')
        out = [f"  need(tvb, off, 1, {what})", f"  local flags_item = tree:add({ref}, tvb(off, 1))"]
        for bit, flag in enumerate(fld.names):
            bit_ref = self.field(f"{abbrev}.{flag}", f'ProtoField.bool("{abbrev}.{flag}", '
                                 f'{_lua_str(_title(flag))}, 8, nil, 0x{1 << bit:02x})')
            out.append(f"  flags_item:add({bit_ref}, tvb(off, 1))")
        return out + [f"  v.{fld.name} = tvb(off, 1):uint()", "  off = off + 1"]

    def _condition(self, cls: type[Packet], cond: object) -> str:
        if isinstance(cond, OptionSome):
            return f"v.{cond.tag_name} == 1"
        if isinstance(cond, FieldIn):
            return "(" + " or ".join(f"v.{cond.name} == {int(x)}" for x in sorted(cond.values)) + ")"
        raise GenerationError(f"{cls.__name__}: a condition the generator cannot read ({cond!r}); "
                              "use meshframes.layers.conditions")

    @staticmethod
    def _packet_class(cls: type[Packet], fld: PacketField | PacketListField) -> type[Packet]:
        if not isinstance(fld.cls, type):
            raise GenerationError(f"{cls.__name__}.{fld.name}: packets chosen by a function, not a class")
        return fld.cls

    @staticmethod
    def _counted_by(cls: type[Packet], name: str, attribute: str) -> str:
        for other in cls.fields_desc:
            if isinstance(other, ConditionalField):
                other = other.fld
            if isinstance(other, FieldLenField) and getattr(other, attribute) == name:
                return str(other.name)
        raise GenerationError(f"{cls.__name__}.{name}: no FieldLenField with {attribute}={name!r}")


# Frame Control of an action frame (9.2.4.1.3): what our vendor frames are.
_ACTION_FRAME_CONTROL = TYPE_MGMT << 2 | SUBTYPE_ACTION << 4


def _ae_refused() -> dict[int, str]:
    """What each address extension mode a vendor action frame may not use
    should have been, in the codec's words."""
    refused = {mode: problem for mode in AE_MODE_NAMES
               if mode != AE_RESERVED and (problem := ae_mode_problem(_ACTION_FRAME_CONTROL, mode)) is not None}
    others = " or ".join(str(mode) for mode in AE_MODE_NAMES if mode not in refused and mode != AE_RESERVED)
    refused[AE_RESERVED] = f"{others} ({AE_RESERVED} is reserved)"
    return refused


def _variants() -> Iterator[tuple[int, type[Packet]]]:
    """The SerializedMessage variants bound under FastPayMessage."""
    for fields, cls in fp.FastPayMessage.payload_guess:
        yield int(fields["variant"]), cls


def render() -> str:
    """The whole Lua plugin."""
    gen = _Generator()
    gen.field("fastpay.mesh_control", 'ProtoField.none("fastpay.mesh_control", "Mesh Control")')
    gen.field("fastpay.fragment", 'ProtoField.none("fastpay.fragment", "Fragment")')
    mesh_control = gen.layer(VendorMeshControl)
    header = gen.layer(fp.FastPayHeader)
    message = gen.layer(fp.FastPayMessage)
    announce = gen.layer(fp.FastPayAuthorityAnnouncement)
    sealed = gen.layer(fp.FastPaySealed)
    variants = [f"  [{variant}] = {gen.layer(cls)}," for variant, cls in sorted(_variants(), key=lambda pair: pair[0])]
    fragment = gen.layer(fp.FastPayFragment)
    kinds = {t: name for t, name in fp.MESSAGE_TYPES.items()}
    declarations = "\n".join(f'F["{f.abbrev}"] = {f.declaration}' for f in gen.fields.values())
    return _TEMPLATE.format(
        oui=int.from_bytes(MESHFRAMES_OUI, "big"),
        oui_text=MESHFRAMES_OUI.hex(":"),
        ethertype=ETHERTYPE_FASTPAY,
        category_vendor=CATEGORY_VENDOR,
        category_protected=CATEGORY_VENDOR_PROTECTED,
        sealed_bit=FLAG_E2E_SEALED.bit_length() - 1,
        announce_type=int(fp.MSG_ANNOUNCE),
        version=FASTPAY_VERSION,
        ae_refused=_valuestring(_ae_refused()),
        kinds=_valuestring(kinds),
        declarations=declarations,
        functions="\n\n".join(gen.functions),
        variants="\n".join(variants),
        mesh_control=mesh_control,
        header=header,
        message=message,
        announce=announce,
        sealed=sealed,
        fragment=fragment,
    )


_TEMPLATE = """\
-- meshframes FastPay dissector for Wireshark (Lua plugin).
-- GENERATED by meshframes.layers.wireshark from the Scapy layers; do not
-- edit: change the layers and run `python -m meshframes.layers.wireshark`.
--
-- FastPay messages ride in vendor-specific action frames (categories
-- {category_vendor} and {category_protected}) under OUI {oui_text}, after a Mesh Control field, and in
-- mesh data frames under ethertype 0x{ethertype:04x}. Layout: docs/wire-format.md.

local fastpay = Proto("fastpay", "meshframes FastPay")
local F = {{}}
{declarations}

local KINDS = {kinds}
local SEALED_BIT = {sealed_bit}
local ANNOUNCE = {announce_type}
local VERSION = {version}
-- Address extension modes a management frame's Mesh Control may not use.
local AE_REFUSED = {ae_refused}
local OUI = 0x{oui:06x}
local ETHERTYPE = 0x{ethertype:04x}

local e_malformed = ProtoExpert.new("fastpay.malformed", "Malformed FastPay payload",
                                    expert.group.MALFORMED, expert.severity.ERROR)
local e_trailing = ProtoExpert.new("fastpay.trailing", "Octets after the end of the message",
                                   expert.group.MALFORMED, expert.severity.ERROR)
local e_reassembled = ProtoExpert.new("fastpay.reassembled", "Last fragment: message reassembled",
                                      expert.group.REASSEMBLE, expert.severity.CHAT)

local fields = {{}}
for _, f in pairs(F) do fields[#fields + 1] = f end
fastpay.fields = fields
fastpay.experts = {{e_malformed, e_trailing, e_reassembled}}

-- Bits of an octet without bitwise operators, which Lua 5.2 (Wireshark
-- 4.0 to 4.2) lacks and Lua 5.4 spells differently.
local function bits(x, shift, size)
  return math.floor(x / 2 ^ shift) % 2 ^ size
end

-- A short read is an error that names the field, never a Lua traceback.
local function need(tvb, off, n, what)
  if tvb:len() - off < n then
    error({{fastpay = what .. ": got " .. (tvb:len() - off) .. " octets, expected " .. n}})
  end
end

-- bincode i128: shown as a signed 64-bit value when it fits (FastPay's
-- balances do), flagged otherwise.
local function add_i128(tree, field, range)
  local low = range(0, 8):le_int64()
  local high = range(8, 8):le_int64()
  local fits = (high == Int64(0) and low >= Int64(0)) or (high == Int64(-1) and low < Int64(0))
  local item = tree:add(field, range, low)
  if not fits then
    item:add_proto_expert_info(e_malformed, "i128 outside the signed 64-bit range")
  end
end

{functions}

local VARIANTS = {{
{variants}
}}

local function dissect_message_body(tvb, off, tree, kind)
  if kind == ANNOUNCE then
    return {announce}(tvb, off, tree)
  end
  local var_off, var = {message}(tvb, off, tree)
  local body = VARIANTS[var.variant]
  if body == nil then
    error({{fastpay = "SerializedMessage variant " .. var.variant .. " unknown"}})
  end
  return body(tvb, var_off, tree)
end

-- Fragments of one message, by (mesh SA, message id), in capture order:
-- filled on the first pass, read on every later one.
local partial = {{}}
local reassembled = {{}}

local function collect(pinfo, key, number, count, data)
  if pinfo.visited then return reassembled[pinfo.number] end
  local set = partial[key]
  if set == nil or set.count ~= count then
    set = {{count = count, parts = {{}}, seen = 0}}
    partial[key] = set
  end
  if set.parts[number] == nil then set.seen = set.seen + 1 end
  set.parts[number] = data
  if set.seen < count then return nil end
  local whole = ByteArray.new()
  for i = 0, count - 1 do whole:append(set.parts[i]) end
  partial[key] = nil
  reassembled[pinfo.number] = whole
  return whole
end

local function dissect_fastpay(tvb, pinfo, tree, with_mesh_control)
  pinfo.cols.protocol = "FastPay"
  local root = tree:add(fastpay, tvb())
  local off = 0
  local mc = {{}}
  local ok, err = pcall(function()
    if with_mesh_control then
      local mc_tree = root:add(F["fastpay.mesh_control"], tvb(0, 0))
      off, mc = {mesh_control}(tvb, 0, mc_tree)
      mc_tree:set_len(off)
      local refused = AE_REFUSED[mc.address_extension_mode]
      if refused ~= nil then
        error({{fastpay = "Mesh Control address extension mode: got " .. mc.address_extension_mode
                .. ", expected " .. refused}})
      end
    end
    local hdr_off, hdr = {header}(tvb, off, root)
    if hdr.version ~= VERSION then
      error({{fastpay = "FastPay header version: got " .. hdr.version .. ", expected " .. VERSION}})
    end
    if hdr.fragment_count == 0 or hdr.fragment_number >= hdr.fragment_count then
      error({{fastpay = "FastPay fragment number: got " .. hdr.fragment_number .. " of " .. hdr.fragment_count
              .. ", expected number < count, count >= 1"}})
    end
    local kind = KINDS[hdr.message_type] or ("type " .. hdr.message_type)
    local info = "FastPay " .. kind
    root:append_text(", " .. kind)
    off = hdr_off
    if bits(hdr.flags, SEALED_BIT, 1) == 1 then
      info = info .. " (sealed)"
    end
    if hdr.fragment_count > 1 then
      info = info .. string.format(", fragment %d of %d, message id %d",
                                   hdr.fragment_number + 1, hdr.fragment_count, hdr.message_id)
      root:append_text(string.format(", fragment %d of %d", hdr.fragment_number + 1, hdr.fragment_count))
    end
    pinfo.cols.info = info
    if bits(hdr.flags, SEALED_BIT, 1) == 1 then
      off = {sealed}(tvb, off, root)
      if hdr.fragment_count > 1 then
        local frag = root:add(F["fastpay.fragment"], tvb(hdr_off, 0))
        frag:set_text(string.format("Fragment %d of %d of message %d (sealed)",
                                    hdr.fragment_number + 1, hdr.fragment_count, hdr.message_id))
      end
      return
    end
    if hdr.fragment_count > 1 then
      local frag = root:add(F["fastpay.fragment"], tvb(off))
      frag:set_text(string.format("Fragment %d of %d of message %d",
                                  hdr.fragment_number + 1, hdr.fragment_count, hdr.message_id))
      {fragment}(tvb, off, frag)
      local source = mc.address6 or tostring(pinfo.src)
      local whole = collect(pinfo, source .. "/" .. hdr.message_id, hdr.fragment_number,
                            hdr.fragment_count, tvb(off):bytes())
      off = tvb:len()
      if whole ~= nil then
        local whole_tvb = whole:tvb("Reassembled FastPay " .. kind)
        local msg = root:add(fastpay, whole_tvb(), "Reassembled " .. kind .. " (" .. hdr.fragment_count
                             .. " fragments, " .. whole_tvb:len() .. " octets)")
        msg:add_proto_expert_info(e_reassembled)
        local end_off = dissect_message_body(whole_tvb, 0, msg, hdr.message_type)
        if end_off ~= whole_tvb:len() then
          msg:add_proto_expert_info(e_trailing, (whole_tvb:len() - end_off) .. " octets after the message")
        end
        pinfo.cols.info = info .. ", reassembled"
      end
      return
    end
    off = dissect_message_body(tvb, off, root, hdr.message_type)
    if off ~= tvb:len() then
      root:add_proto_expert_info(e_trailing, (tvb:len() - off) .. " octets after the message")
    end
  end)
  if not ok then
    local text = type(err) == "table" and err.fastpay or tostring(err)
    root:add_proto_expert_info(e_malformed, text)
  end
  return tvb:len()
end

function fastpay.dissector(tvb, pinfo, tree)
  return dissect_fastpay(tvb, pinfo, tree, pinfo.match_uint ~= ETHERTYPE)
end

DissectorTable.get("wlan.action.vendor_specific"):add(OUI, fastpay)
DissectorTable.get("ethertype"):add(ETHERTYPE, fastpay)
"""


if __name__ == "__main__":
    PLUGIN_PATH.write_text(render())
