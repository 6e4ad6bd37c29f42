"""How many TCP connections to the VIPs the pod holds, from ``/proc/net/tcp`` and ``tcp6``.

The announcer shares the pod's network namespace with its data plane, so the kernel's socket
table there lists the connections the LB serves on its VIPs. A make-before-break drain with
``drain_ends_when_idle`` withdraws once none is left. Reading the table costs one pass over
the pod's sockets (about a millisecond for a few thousand); it is read only while a marked
drain waits, once per loop turn.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Iterable
from typing import Literal

ByteOrder = Literal["little", "big"]

# ESTABLISHED, SYN_RECV and CLOSE_WAIT: a connection the LB still has to answer or finish
_BUSY = frozenset({"01", "03", "08"})
TABLES = ("/proc/net/tcp", "/proc/net/tcp6")


def _address(hex_address: str, byteorder: ByteOrder) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The kernel prints each 32-bit word of the address as the number it is in memory."""
    raw = b"".join(
        int(hex_address[i : i + 8], 16).to_bytes(4, byteorder) for i in range(0, len(hex_address), 8)
    )
    return ipaddress.ip_address(raw)


def count(table: Iterable[str], vips: Iterable[str], byteorder: ByteOrder = sys.byteorder) -> int:
    """Connections in ``table`` (the lines of a /proc/net/tcp file) to one of ``vips``."""
    wanted = {ipaddress.ip_network(v).network_address for v in vips}
    busy = 0
    for line in table:
        fields = line.split()
        if len(fields) < 4 or fields[3] not in _BUSY or ":" not in fields[1]:
            continue
        address = _address(fields[1].split(":")[0], byteorder)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address in wanted:
            busy += 1
    return busy


def read_count(vips: Iterable[str]) -> int:
    vips = list(vips)
    total = 0
    for path in TABLES:
        try:
            with open(path) as table:
                total += count(table, vips)
        except FileNotFoundError:
            continue  # a kernel without IPv6
    return total
