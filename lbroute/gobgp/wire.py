"""The next-hop and communities of a path from BGP's wire encoding, as gobgpd hands it out with
``enable_only_binary``.

Reading a large RIB, most of the client's time went into unpacking one protobuf ``Any``
per attribute per path. gobgpd can instead send each attribute as its RFC 4271 bytes
(flags, type code, length, value); picking NEXT_HOP (type 3) or MP_REACH_NLRI's next-hop
(type 14, RFC 4760) out of those is a few slice operations, and so is COMMUNITIES (type 8,
RFC 1997: four bytes each, ASN then value), which carries GRACEFUL_SHUTDOWN (RFC 8326) for
a draining LB. Attributes repeat across thousands of paths, so what each holds is cached
by its bytes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from lbroute.core.rib import Attributes

NEXT_HOP = 3
COMMUNITIES = 8
MP_REACH_NLRI = 14
_EXTENDED_LENGTH = 0x10
_MAX_REMEMBERED = 4096  # AS_PATHs of a full eBGP table are mostly distinct: stop remembering


class NextHopReader:
    """Decodes next-hops, remembering what each distinct attribute held.

    A RIB holds many paths but few distinct attributes (next-hops repeat, and within one
    AS so do ORIGIN and LOCAL_PREF), so most attributes are answered by one dict lookup.
    """

    def __init__(self) -> None:
        self._seen: dict[bytes, str] = {}  # attribute -> its next-hop, "" when it holds none
        self._communities: dict[bytes, tuple[str, ...]] = {}

    def next_hop(self, attributes: Sequence[bytes]) -> str:
        """The path's next-hop as text; "" when it carries none (never for a unicast path)."""
        seen = self._seen
        for attribute in attributes:
            hop = seen.get(attribute)
            if hop is None:
                hop = _next_hop_in(attribute)
                if len(seen) < _MAX_REMEMBERED:
                    seen[attribute] = hop
            if hop:
                return hop
        return ""

    def read(self, attributes: Sequence[bytes]) -> tuple[str, tuple[str, ...]]:
        """(next-hop, communities as ``ASN:VALUE`` in the order sent) of one path."""
        hop = ""
        communities: tuple[str, ...] = ()
        seen = self._seen
        for attribute in attributes:
            if attribute[1] == COMMUNITIES:
                communities = self._communities_of(attribute)
                continue
            if hop:
                continue
            found = seen.get(attribute)
            if found is None:
                found = _next_hop_in(attribute)
                if len(seen) < _MAX_REMEMBERED:
                    seen[attribute] = found
            hop = found
        return hop, communities

    def _communities_of(self, attribute: bytes) -> tuple[str, ...]:
        known = self._communities.get(attribute)
        if known is None:
            raw = _value(attribute)
            known = tuple(
                f"{int.from_bytes(raw[i : i + 2], 'big')}:{int.from_bytes(raw[i + 2 : i + 4], 'big')}"
                for i in range(0, len(raw) - 3, 4)
            )
            if len(self._communities) < _MAX_REMEMBERED:
                self._communities[attribute] = known
        return known


def _next_hop_in(attribute: bytes) -> str:
    code = attribute[1]
    if code == NEXT_HOP:
        return _address(_value(attribute))
    if code == MP_REACH_NLRI:
        # AFI (2), SAFI (1), next-hop length (1), next-hop (global first, then link-local)
        raw = _value(attribute)
        length = raw[3]
        return _address(raw[4 : 4 + (16 if length == 32 else length)])
    return ""


def _value(attribute: bytes) -> bytes:
    if attribute[0] & _EXTENDED_LENGTH:
        return attribute[4 : 4 + int.from_bytes(attribute[2:4], "big")]
    return attribute[3 : 3 + attribute[2]]


def _address(raw: bytes) -> str:
    if len(raw) in (4, 16):
        return str(ipaddress.ip_address(raw))
    return ""


ORIGIN = 1
AS_PATH = 2
MULTI_EXIT_DISC = 4
LOCAL_PREF = 5
_AS_SET = 1


def attributes(raw: Sequence[bytes]) -> Attributes:
    """What best-path selection compares, from a path's wire attributes (read only when
    asked: the guard rails' reasons and the tests that show what reached which daemon)."""
    found: dict[str, object] = {}
    for attribute in raw:
        code, value = attribute[1], _value(attribute)
        if code == ORIGIN and value:
            found["origin"] = value[0]
        elif code == AS_PATH:
            found["as_path_length"] = _as_path_length(value)
        elif code == MULTI_EXIT_DISC and len(value) == 4:
            found["med"] = int.from_bytes(value, "big")
        elif code == LOCAL_PREF and len(value) == 4:
            found["local_pref"] = int.from_bytes(value, "big")
        elif code == COMMUNITIES:
            found["communities"] = tuple(
                f"{int.from_bytes(value[i : i + 2], 'big')}:{int.from_bytes(value[i + 2 : i + 4], 'big')}"
                for i in range(0, len(value) - 3, 4)
            )
    return Attributes(**found)  # type: ignore[arg-type]


def _as_path_length(value: bytes) -> int:
    """Its length as best-path selection counts it (an AS_SET counts 1), in 4-byte ASNs as
    gobgpd hands paths out, else in 2-byte ones when 4 do not fit the attribute."""
    for width in (4, 2):
        length, i = 0, 0
        while i + 2 <= len(value):
            kind, count = value[i], value[i + 1]
            i += 2 + count * width
            length += 1 if kind == _AS_SET else count
        if i == len(value):
            return length
    return 0
