"""Next-hops from BGP path attributes in wire form, as gobgpd sends them with enable_only_binary."""

from __future__ import annotations

from lbroute.core.rib import Attributes
from lbroute.gobgp.wire import NextHopReader, attributes

# captured from gobgpd 3.36 in the lab: ORIGIN IGP, empty AS_PATH, NEXT_HOP 10.0.0.11, LOCAL_PREF 100
ORIGIN = b"@\x01\x01\x00"
AS_PATH = b"@\x02\x00"
NEXT_HOP_11 = b"@\x03\x04\n\x00\x00\x0b"
LOCAL_PREF = b"@\x05\x04\x00\x00\x00d"


def mp_reach_v6(next_hop: bytes, *, extended: bool = False) -> bytes:
    # AFI 2, SAFI 1, next-hop length, next-hop, reserved, NLRI 2001:db8::1/128
    value = (
        b"\x00\x02\x01"
        + bytes([len(next_hop)])
        + next_hop
        + b"\x00"
        + b"\x80"
        + bytes.fromhex("20010db8" + "00" * 11 + "01")
    )
    if extended:
        return bytes([0x90, 14]) + len(value).to_bytes(2, "big") + value
    return bytes([0x80, 14, len(value)]) + value


def test_ipv4_next_hop() -> None:
    reader = NextHopReader()
    assert reader.next_hop([ORIGIN, AS_PATH, NEXT_HOP_11, LOCAL_PREF]) == "10.0.0.11"
    # answered from memory the second time, same text
    assert reader.next_hop([ORIGIN, AS_PATH, NEXT_HOP_11, LOCAL_PREF]) == "10.0.0.11"
    assert reader.next_hop([ORIGIN, b"@\x03\x04\n\x00\x00\x0c"]) == "10.0.0.12"


def test_ipv6_next_hop_from_mp_reach_global_before_link_local() -> None:
    global_ = bytes.fromhex("20010db8000000000000000000000011")
    link_local = bytes.fromhex("fe800000000000000000000000000011")
    reader = NextHopReader()
    assert reader.next_hop([ORIGIN, mp_reach_v6(global_)]) == "2001:db8::11"
    assert reader.next_hop([ORIGIN, mp_reach_v6(global_ + link_local, extended=True)]) == "2001:db8::11"


def test_no_next_hop() -> None:
    assert NextHopReader().next_hop([ORIGIN, AS_PATH, LOCAL_PREF]) == ""
    assert NextHopReader().next_hop([]) == ""


def test_the_attributes_best_path_selection_compares() -> None:
    # AS_PATH: one AS_SEQUENCE of two 4-byte ASNs, then an AS_SET (counts one)
    as_path = b"\x02\x02" + (65021).to_bytes(4, "big") + (65099).to_bytes(4, "big") + b"\x01\x01" + bytes(4)
    med = b"\x80\x04\x04" + (7).to_bytes(4, "big")
    communities = b"\xc0\x08\x08" + bytes.fromhex("ffff0000") + bytes.fromhex("fdfd0007")
    raw = [ORIGIN, bytes([0x40, 2, len(as_path)]) + as_path, NEXT_HOP_11, med, LOCAL_PREF, communities]
    assert attributes(raw) == Attributes(
        local_pref=100, as_path_length=3, origin=0, med=7, communities=("65535:0", "65021:7")
    )
    # what a path without LOCAL_PREF or MED reads as: absent, not 0
    assert attributes([ORIGIN, AS_PATH, NEXT_HOP_11]) == Attributes()
    # 2-byte ASNs, where 4-byte ones do not fit the attribute's length
    two = b"\x02\x03" + bytes(6)
    assert attributes([bytes([0x40, 2, len(two)]) + two]).as_path_length == 3


def communities(*pairs: tuple[int, int], extended: bool = False) -> bytes:
    value = b"".join(a.to_bytes(2, "big") + v.to_bytes(2, "big") for a, v in pairs)
    if extended:
        return bytes([0xD0, 8]) + len(value).to_bytes(2, "big") + value
    return bytes([0xC0, 8, len(value)]) + value


def test_communities_come_with_the_next_hop_in_the_order_sent() -> None:
    reader = NextHopReader()
    gshut = communities((65021, 100), (65535, 0))
    assert reader.read([ORIGIN, AS_PATH, NEXT_HOP_11, LOCAL_PREF, gshut]) == (
        "10.0.0.11",
        ("65021:100", "65535:0"),
    )
    # before the next-hop, and in the extended-length form: the same
    assert reader.read([communities((65535, 0), extended=True), ORIGIN, NEXT_HOP_11]) == (
        "10.0.0.11",
        ("65535:0",),
    )
    assert reader.read([ORIGIN, NEXT_HOP_11]) == ("10.0.0.11", ())
    assert reader.read([ORIGIN, communities()]) == ("", ())


def test_a_path_marked_graceful_shutdown_is_draining() -> None:
    from lbroute.core.rib import Path

    assert Path("10.1.1.1/32", "10.0.0.11", communities=("65021:1", "65535:0")).draining
    assert not Path("10.1.1.1/32", "10.0.0.11", communities=("65021:1",)).draining
    assert not Path("10.1.1.1/32", "10.0.0.11").draining
