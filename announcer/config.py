"""The announcer's config: services, their VIPs, and the next-hop (the node's IP)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from lbroute.config import StrictModel


def _vip(value: str) -> str:
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as err:
        raise ValueError(
            f"{value!r} is not a VIP; write it as 10.1.1.1/32 or 2001:db8::1/128 ({err})"
        ) from None
    if net.prefixlen != net.max_prefixlen:
        raise ValueError(f"{value!r}: a VIP is a single address, /32 for IPv4 or /128 for IPv6")
    return str(net)


def _address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address such as 10.0.0.11") from None


def _community(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and int(p) <= 65535 for p in parts):
        raise ValueError(f"{value!r} is not a community; write ASN:VALUE such as 65021:100")
    return value


Vip = Annotated[str, AfterValidator(_vip)]
Address = Annotated[str, AfterValidator(_address)]
Community = Annotated[str, AfterValidator(_community)]


class ServiceConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    vips: tuple[Vip, ...] = Field(min_length=1)
    communities: tuple[Community, ...] = ()
    med: int | None = Field(None, ge=0, le=4294967295)
    local_preference: int | None = Field(None, ge=0, le=4294967295)


class AnnouncerConfig(StrictModel):
    next_hop: Address | None = None
    next_hop_env: str = "NODE_IP"
    services: tuple[ServiceConfig, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> AnnouncerConfig:
        names = [s.name for s in self.services]
        if len(names) != len(set(names)):
            raise ValueError(f"services: names must be unique, got {names}")
        return self

    def resolve_next_hop(self, environ: dict[str, str] | None = None) -> str:
        """The node's IP: ``next_hop`` if set, else the env var the downward API fills."""
        if self.next_hop:
            return self.next_hop
        env = os.environ if environ is None else environ
        value = env.get(self.next_hop_env, "")
        if not value:
            raise ValueError(
                f"next_hop: not set and ${self.next_hop_env} is empty; set next_hop or give the pod "
                f"{self.next_hop_env} from status.hostIP"
            )
        return _address(value)
