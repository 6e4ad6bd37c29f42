"""A policy statement's next-hop networks as gobgpd is given them and as it lists them back.

gobgpd 4.8 matches ``next_hop_in_list`` entries as prefixes (``10.0.0.0/24`` holds every
next-hop in that /24), but ``ListPolicy`` answers each entry's address only: it keeps
the condition's config as a list of addresses (``oc.NextHopInList []netip.Addr``), so
``10.0.0.0/24`` reads back as ``10.0.0.0`` and the length is gone. Compared by address
alone, a change of length only (``/24`` to ``/23``) would go unnoticed and the old guard
would stay; compared as written, the plan would never be empty.

So each network is written as its two ends, each with the network's length
(``10.0.0.0/24``, ``10.0.0.255/24``): gobgpd matches both as the same /24 (a prefix's host
bits do not change what it contains) and lists ``10.0.0.0``, ``10.0.0.255``, and exactly
one network has those ends. See docs/decisions/gobgpd-4.8-from-sid.md.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence


def entries(networks: Iterable[str]) -> list[str]:
    """What to write for these networks (CIDRs): first and last address of each, with its length."""
    out = []
    for text in networks:
        net = ipaddress.ip_network(text)
        out += [f"{net.network_address}/{net.prefixlen}", f"{net.broadcast_address}/{net.prefixlen}"]
    return out


def networks(listed: Sequence[str]) -> tuple[str, ...]:
    """The networks ``entries`` wrote, from what gobgpd lists (addresses, or prefixes should a
    later gobgpd list them whole).

    A list that is not pairs of a network's ends (written by someone else, or by an adapter
    that wrote networks as they are) comes back as the host addresses it names: it differs
    from any desired networks, so the plan replaces the policy with one written this way.
    """
    parsed = [ipaddress.ip_interface(e) for e in listed]
    if len(parsed) % 2:
        return _hosts(parsed)
    out = []
    for first, last in zip(parsed[::2], parsed[1::2], strict=True):
        found = _network_with_ends(first, last)
        if found is None:
            return _hosts(parsed)
        out.append(str(found))
    return tuple(out)


def _network_with_ends(
    first: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
    last: ipaddress.IPv4Interface | ipaddress.IPv6Interface,
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The one network whose first and last addresses these are, if there is one."""
    size = int(last.ip) - int(first.ip) + 1
    if first.version != last.version or size < 1 or size & (size - 1):
        return None  # a network holds a power of two of addresses
    length = first.max_prefixlen - (size.bit_length() - 1)
    try:
        net = ipaddress.ip_network((first.ip, length))  # strict: refused unless first is its start
    except ValueError:
        return None
    # an entry listed with its length (a whole prefix) must agree with it too
    if any(end.network.prefixlen not in (end.max_prefixlen, length) for end in (first, last)):
        return None
    return net


def _hosts(parsed: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]) -> tuple[str, ...]:
    return tuple(f"{p.ip}/{p.max_prefixlen}" for p in parsed)
