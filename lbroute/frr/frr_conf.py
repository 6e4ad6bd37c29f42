"""frr.conf for FRR's bgpd as the upstream router of lbroute's route reflectors. Pure: no I/O.

The lab runs exactly what ``render`` returns, and docs/routers.md shows it (a test checks
the page against it), so a user copies a config that has carried ECMP in a test. Each
setting that ECMP from the RR depends on is written out, even where it is FRR's default,
with a comment saying why.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lbroute.core.echo import shown

# FRR's families, by the names lbroute's configs use
_FAMILIES = {"ipv4-unicast": "ipv4 unicast", "ipv6-unicast": "ipv6 unicast"}


class FrrConfError(ValueError):
    """A router the renderer cannot write a valid frr.conf for; one line per problem."""


@dataclass(frozen=True)
class RrNeighbor:
    """One route reflector the router peers with (iBGP, the RR's own address)."""

    address: str
    # TCP MD5 (RFC 2385): the same key as the RR's ``md5_password_file`` for this router
    md5_password: str | None = None
    # keep this RR's paths, stale, while it restarts (RFC 4724 helper); the RR must advertise it
    graceful_restart: bool = False


@dataclass(frozen=True)
class FrrRouter:
    hostname: str
    asn: int
    router_id: str
    rrs: tuple[RrNeighbor, ...]
    # the address the router's sessions leave from: the one the RRs know it by
    update_source: str
    # the RRs' timers towards the router (lbroute-rr's defaults); the lower hold time wins anyway
    hold_time: int = 9
    keepalive: int = 3
    # the router connects (the RRs are passive towards it): how soon it tries again
    connect_retry: int = 1
    maximum_paths: int = 64
    families: tuple[str, ...] = ("ipv4-unicast",)

    def problems(self) -> list[str]:
        out = []
        if not 1 <= self.asn <= 4294967295:
            out.append(f"asn {self.asn}: from 1 to 4294967295")
        for what, address in (("router_id", self.router_id), ("update_source", self.update_source)):
            if not _is_address(address):
                out.append(f"{what} {shown(address)}: not an IP address")
        if not self.rrs:
            out.append("rrs: give at least one route reflector")
        for rr in self.rrs:
            if not _is_address(rr.address):
                out.append(f"rr {shown(rr.address)}: not an IP address")
            key = rr.md5_password
            if key is not None and (not key or not key.isascii() or not key.isprintable() or " " in key):
                out.append(f"rr {rr.address}: an MD5 key for FRR is printable ASCII without spaces")
            if key is not None and len(key) > 80:
                out.append(f"rr {rr.address}: an MD5 key is at most 80 characters (the kernel's limit)")
        if not (self.hold_time >= 3 and 1 <= self.keepalive <= self.hold_time // 3):
            out.append(f"timers {self.hold_time}/{self.keepalive}: hold >= 3 s and keepalive <= hold / 3")
        if not 1 <= self.connect_retry <= 65535:
            out.append(f"connect_retry {self.connect_retry}: from 1 to 65535 seconds")
        if not 1 <= self.maximum_paths <= 64:
            out.append(f"maximum_paths {self.maximum_paths}: from 1 to 64")
        known = " or ".join(_FAMILIES)
        out += [f"family {shown(f)}: use {known}" for f in self.families if f not in _FAMILIES]
        if not self.families:
            out.append("families: give at least one")
        return out


def render(router: FrrRouter) -> str:
    """The whole frr.conf for bgpd; an ``FrrConfError`` listing every problem instead."""
    problems = router.problems()
    if problems:
        raise FrrConfError("\n".join(problems))
    lines = [
        "frr defaults traditional",
        f"hostname {router.hostname}",
        "!",
        f"router bgp {router.asn}",
        f" bgp router-id {router.router_id}",
        " ! every family is switched on per neighbor below, none by default",
        " no bgp default ipv4-unicast",
    ]
    lines += [
        " ! iBGP to each RR. The RRs are passive towards the router: this side connects,",
        " ! and tries again every second after a session drops",
    ]
    if any(rr.graceful_restart for rr in router.rrs):
        lines.append(" ! graceful-restart-helper: keep forwarding on an RR's paths while it restarts")
    for rr in router.rrs:
        n = f" neighbor {rr.address}"
        lines += [
            f"{n} remote-as internal",
            f"{n} update-source {router.update_source}",
            f"{n} timers {router.keepalive} {router.hold_time}",
            f"{n} timers connect {router.connect_retry}",
        ]
        if rr.md5_password is not None:
            lines.append(f"{n} password {rr.md5_password}")
        lines.append(
            f"{n} graceful-restart-helper" if rr.graceful_restart else f"{n} graceful-restart-disable"
        )
    for family in router.families:
        lines += [
            " !",
            f" address-family {_FAMILIES[family]}",
            "  ! one next-hop per LB node: the RR's paths tie, and up to this many are installed",
            f"  maximum-paths ibgp {router.maximum_paths}",
            "  ! activating a family also advertises add-path receive for it: FRR takes every",
            "  ! path the RR sends, not only its best",
        ]
        lines += [f"  neighbor {rr.address} activate" for rr in router.rrs]
        lines.append(" exit-address-family")
    lines += ["exit", "!"]
    return "\n".join(lines) + "\n"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
