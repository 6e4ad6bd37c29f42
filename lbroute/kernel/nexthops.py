"""Next-hop objects, groups (resilient ones with their buckets) and the routes that use them, read
and written through iproute2, as ``lbroute.core.nexthop_groups`` values.

pyroute2 (0.9.7, the newest) has no next-hop objects, so this speaks ``ip``: one ``ip -batch``
process reads the next-hops and the IPv4 routes, one more the IPv6 routes, and one applies a
whole plan; ``-N`` makes protocols and scopes numbers. What that costs against zebra is
measured in docs/benchmarks-hold.md. Reads and writes touch the main table only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbroute.core import nexthop_groups as ng

from .fib import Family, route_prefix
from .ip import IP, IpCommandError, run

_SCOPE_LINK = "253"
# ``ip``'s exit status when it could not parse a command line (it exits before any netlink)
_UNPARSED = 255
_CAP_NET_ADMIN = 12


def refusal_is_permanent(err: IpCommandError) -> bool:
    """A refusal no retry mends: ``ip`` did not understand what we wrote (exit status 255: an
    iproute2 without ``type resilient``), or this process may not change the network (no
    CAP_NET_ADMIN: every write is EPERM). Told by exit status and capability, never by text."""
    return err.returncode == _UNPARSED or not may_admin_network()


def may_admin_network(status: Path = Path("/proc/self/status")) -> bool:
    """This process holds CAP_NET_ADMIN (its effective capabilities, as the kernel lists them)."""
    for line in status.read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> _CAP_NET_ADMIN & 1)
    return True


@dataclass(frozen=True)
class Kernel:
    """The kernel of one network namespace (None: this process's own)."""

    netns: str | None = None

    def _ip(self, *options: str) -> list[str]:
        return [IP, *(["-n", self.netns] if self.netns else []), *options]

    def _batch(self, options: tuple[str, ...], commands: list[str]) -> str:
        return run(self._ip(*options, "-batch", "-"), stdin="\n".join(commands) + "\n").stdout

    def observe(self) -> ng.KernelFib:
        """Every next-hop object and group, and the main table's routes (both families)."""
        out = self._batch(("-N", "-j"), ["nexthop show", "route show table main"])
        nexthops, routes4 = _documents(out, 2)
        routes6 = _documents(self._batch(("-N", "-j", "-6"), ["route show table main"]), 1)[0]
        singles, groups = parse_nexthops(nexthops)
        routes = parse_routes(routes4, "inet") + parse_routes(routes6, "inet6")
        return ng.KernelFib(singles, groups, tuple(routes))

    def apply(self, ops: Iterable[ng.Operation], settings: ng.GroupSettings) -> int:
        """Carry out ``ops`` in order in one ``ip -batch``; stops at the first the kernel refuses
        (``IpCommandError``: what came before it is done). Returns how many were given."""
        lines = [command(op, settings) for op in ops]
        if lines:
            self._batch((), lines)
        return len(lines)

    def buckets(self) -> dict[int, Counter[int]]:
        """Per resilient group, how many of its buckets each member next-hop holds."""
        out: dict[int, Counter[int]] = {}
        for entry in json.loads(run(self._ip("-j", "nexthop", "bucket", "show")).stdout or "[]"):
            out.setdefault(int(entry["id"]), Counter())[int(entry["bucket"]["nhid"])] += 1
        return out

    def views(self) -> dict[int, ng.GroupView]:
        """Every group as the operator sees it: members by gateway, weights, buckets."""
        fib = self.observe()
        return ng.group_views(fib, self.buckets() if any(g.resilient for g in fib.groups) else {})


def _documents(text: str, count: int) -> list[list[dict[str, Any]]]:
    """The JSON arrays ``ip -j -batch`` printed, one per command (nothing for an empty answer)."""
    decoder = json.JSONDecoder()
    docs: list[list[dict[str, Any]]] = []
    at = 0
    while len(docs) < count:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            docs.append([])
            continue
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)
    return docs


def parse_nexthops(
    entries: list[dict[str, Any]],
) -> tuple[tuple[ng.NextHopObject, ...], tuple[ng.GroupObject, ...]]:
    """``ip -N -j nexthop show`` as single next-hops (with a gateway) and groups. Next-hops
    without a gateway (zebra's device-only ones, blackholes) are named by nothing we write."""
    singles, groups = [], []
    for e in entries:
        protocol = int(e.get("protocol", 0))
        if "group" in e:
            args = e.get("resilient_args")
            resilient = (
                ng.Resilient(int(args["buckets"]), int(args["idle_timer"]), int(args["unbalanced_timer"]))
                if e.get("type") == "resilient" and args
                else None
            )
            members = tuple(sorted(ng.Member(int(m["id"]), int(m.get("weight", 1))) for m in e["group"]))
            groups.append(ng.GroupObject(int(e["id"]), members, protocol, resilient))
        elif "gateway" in e:
            singles.append(ng.NextHopObject(int(e["id"]), str(e["gateway"]), str(e.get("dev", "")), protocol))
    return tuple(singles), tuple(groups)


def parse_routes(entries: list[dict[str, Any]], family: Family) -> list[ng.KernelRoute]:
    """``ip -N -j route show table main``: every unicast route, connected ones (a device that
    is up reaches the prefix, no gateway) marked."""
    out = []
    for e in entries:
        if e.get("type", "unicast") != "unicast":
            continue
        has_gateway = "gateway" in e or "via" in e or "nexthops" in e or "nhid" in e
        # a link that is down reaches nothing: the kernel refuses a next-hop over it
        connected = (
            "dev" in e
            and not has_gateway
            and "linkdown" not in e.get("flags", ())
            and (family == "inet6" or e.get("scope") == _SCOPE_LINK)
        )
        out.append(
            ng.KernelRoute(
                prefix=route_prefix(e, family),
                protocol=int(e.get("protocol", 0)),
                metric=int(e.get("metric", 0)),
                nhid=int(e["nhid"]) if "nhid" in e else None,
                device=str(e.get("dev", "")),
                connected=connected,
            )
        )
    return out


def command(op: ng.Operation, s: ng.GroupSettings) -> str:
    """One ``ip -batch`` line. The resilient arguments must follow ``type resilient`` directly."""
    proto = f"proto {s.protocol}"
    match op:
        case ng.AddNextHop(id_, gateway, device) | ng.ReplaceNextHop(id_, gateway, device):
            verb = "add" if isinstance(op, ng.AddNextHop) else "replace"
            return f"nexthop {verb} id {id_} via {gateway} dev {device} {proto}"
        case ng.AddGroup(id_, members, r) | ng.ReplaceGroup(id_, members, r):
            verb = "add" if isinstance(op, ng.AddGroup) else "replace"
            group = "/".join(f"{m.id},{m.weight}" for m in members)
            return (
                f"nexthop {verb} id {id_} group {group} type resilient buckets {r.buckets} "
                f"idle_timer {r.idle_timer} unbalanced_timer {r.unbalanced_timer} {proto}"
            )
        case ng.AddRoute(prefix, group) | ng.ReplaceRoute(prefix, group):
            verb = "add" if isinstance(op, ng.AddRoute) else "replace"
            return f"route {verb} {prefix} nhid {group} {proto} metric {s.metric}"
        case ng.DeleteRoute(prefix):
            return f"route del {prefix} {proto} metric {s.metric}"
        case ng.DeleteGroup(id_) | ng.DeleteNextHop(id_):
            return f"nexthop del id {id_}"
    raise AssertionError(f"unknown operation {op!r}")  # pragma: no cover
