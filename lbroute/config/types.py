"""Value types every config model shares (an IP address, a network), and how errors echo a value."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from pydantic import AfterValidator

# what an error message shows of a bad value: enough to recognise it, never a megabyte
ECHO_CHARS = 60


def shorten(value: Any, limit: int = ECHO_CHARS) -> str:
    """``repr(value)`` cut to about ``limit`` characters (``...`` marks the cut).

    Safe for any value: an int too long for ``repr`` (Python refuses beyond 4,300 digits)
    is described by its size instead.
    """
    if isinstance(value, str):
        return repr(value[:limit]) + ("..." if len(value) > limit else "")
    if isinstance(value, int) and value.bit_length() > 4 * limit:
        return f"<a number of about {int(value.bit_length() * 0.30103)} digits>"
    text = repr(value)
    return text[:limit] + ("..." if len(text) > limit else "")


def address(value: str) -> str:
    """The address in canonical form; a ValueError that says what was expected otherwise."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{shorten(value)} is not an IP address such as 10.0.0.11") from None


def network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as err:
        why = str(err)
        # "host bits set" and the like say why; "does not appear to be ..." only repeats the value
        hint = "" if "does not appear" in why else f" ({why.replace(value, 'it') if value else why})"
        raise ValueError(
            f"{shorten(value)} is not a network in CIDR form such as 172.16.0.0/16{hint[:90]}"
        ) from None


def is_wildcard(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """``0.0.0.0``, ``::`` or ``::ffff:0.0.0.0``: a socket bound there listens on every address
    (the last one, on a dual-stack socket, on every IPv4 address)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_unspecified
    return ip.is_unspecified


Address = Annotated[str, AfterValidator(address)]
Network = Annotated[str, AfterValidator(network)]
