"""Value types every config model shares: an IP address and a network, normalised and checked."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator


def address(value: str) -> str:
    """The address in canonical form; a ValueError that says what was expected otherwise."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address such as 10.0.0.11") from None


def network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as err:
        raise ValueError(f"{value!r} is not a network in CIDR form such as 172.16.0.0/16 ({err})") from None


Address = Annotated[str, AfterValidator(address)]
Network = Annotated[str, AfterValidator(network)]
