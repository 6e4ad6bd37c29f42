"""What the guard rails say of a path, read from the import policy itself. Pure.

gobgpd rejects a path without saying which statement did it (its ``filtered`` flag is all
there is), so the reason is found here by evaluating the global import assignment as
gobgpd does — policies in order, statements in order, the first accept or reject wins,
default accept, an empty neighbor set taken to match every neighbor (the cautious reading;
lbroute writes none) — and, for a path that ends
in a reject, by asking which condition kept every accepting statement meant for its
speaker from matching. The same ``DaemonConfig`` the rr manager applies (its desired one)
or the CLI reads back from the RR (its observed one) gives the same reasons.

The accepting statements also say where each speaker lives: one per node, matching the
node's speakers (pod CIDRs, or pod addresses) and its own addresses as next-hops. That is
the node map the operator's view checks FIB next-hops against (``NodeMap``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

from .bgp import DaemonConfig, DefinedSetSpec, PrefixMatch, RouteAction, SetKind, StatementSpec
from .rib import Path

# why a path was rejected: metric labels, and what `lbroute peers` and `vips` print
UNKNOWN_SPEAKER = "unknown-speaker"  # no node the guard rails know holds the speaker's address
VIP_POOL = "vip"  # not a VIP its speaker group may announce (its vips, else its pools)
PREFIX_LENGTH = "prefix-length"  # inside a pool, but a length the group does not allow
NEXT_HOP = "next-hop"  # not an address of the speaker's own node
AS_PATH = "as-path"  # an AS path other than the one an LB speaker sends
OTHER = "other"  # rejected, but no condition above explains it (a policy not written by lbroute)
REASONS = (UNKNOWN_SPEAKER, VIP_POOL, PREFIX_LENGTH, NEXT_HOP, AS_PATH, OTHER)

_Net = ipaddress.IPv4Network | ipaddress.IPv6Network


class KnownNode(NamedTuple):
    """A node as the guard rails know it: the next-hops its speakers may announce, and the
    networks its speakers' addresses lie in."""

    addresses: frozenset[str]
    speakers: tuple[str, ...]

    @property
    def name(self) -> str:
        """Its first address, for messages."""
        return min(self.addresses, key=_address_key)

    def holds_speaker(self, address: str) -> bool:
        return _in_any(address, _networks(self.speakers))


class NodeMap(NamedTuple):
    nodes: tuple[KnownNode, ...] = ()

    def node_with_address(self, address: str) -> KnownNode | None:
        return next((n for n in self.nodes if address in n.addresses), None)

    def node_of_speaker(self, address: str) -> KnownNode | None:
        return next((n for n in self.nodes if n.holds_speaker(address)), None)


class _Statement(NamedTuple):
    spec: StatementSpec
    neighbors: tuple[_Net, ...] | None  # None: no condition; () would be gobgpd's "every neighbor"
    prefixes: tuple[tuple[_Net, int, int], ...] | None
    next_hops: tuple[_Net, ...] | None


class Guard:
    """An import assignment, its sets parsed once, ready to judge many paths."""

    def __init__(self, config: DaemonConfig) -> None:
        sets = {(d.kind, d.name): d for d in config.defined_sets}
        policies = {p.name: p for p in config.policies}
        self._statements: list[_Statement] = []
        for name in config.import_policies:
            policy = policies.get(name)
            if policy is None:
                continue  # an assignment naming a policy that is gone: gobgpd skips it too
            self._statements += [_parsed(st, sets) for st in policy.statements]

    def reason(self, path: Path) -> str | None:
        """Why gobgpd's import policy rejects ``path``; None when it accepts it."""
        tried: list[_Statement] = []
        for st in self._statements:
            if _holds(st, path):
                if st.spec.action is RouteAction.ACCEPT:
                    return None
                if st.spec.action is RouteAction.REJECT:
                    return _why(tried, path)
            if st.spec.action is RouteAction.ACCEPT and _speaker_matches(st, path.source):
                tried.append(st)
        return None

    def nodes(self) -> NodeMap:
        """One node per accepting statement that names its speakers and only host next-hops."""
        found: dict[tuple[str, ...], set[str]] = {}
        for st in self._statements:
            spec = st.spec
            if spec.action is not RouteAction.ACCEPT or st.neighbors is None or not st.next_hops:
                continue
            if any(n.prefixlen != n.max_prefixlen for n in st.next_hops):
                continue  # a node network, not a node
            speakers = tuple(str(n) for n in st.neighbors)
            found.setdefault(speakers, set()).update(str(n.network_address) for n in st.next_hops)
        return NodeMap(tuple(KnownNode(frozenset(a), s) for s, a in sorted(found.items())))


def rejected_counts(guard: Guard, paths: Iterable[Path]) -> dict[str, int]:
    """How many of ``paths`` (gobgpd's filtered ones) each reason rejected, in ``REASONS``
    order; a path the policy accepts after all (it changed since) counts as ``OTHER``."""
    counts = dict.fromkeys(REASONS, 0)
    for path in paths:
        counts[guard.reason(path) or OTHER] += 1
    return {r: n for r, n in counts.items() if n}


def _parsed(st: StatementSpec, sets: dict[tuple[SetKind, str], DefinedSetSpec]) -> _Statement:
    neighbors = prefixes = None
    if st.neighbor_set:
        found = sets.get((SetKind.NEIGHBOR, st.neighbor_set))
        neighbors = _networks(found.neighbors if found else ())
    if st.prefix_set:
        found = sets.get((SetKind.PREFIX, st.prefix_set))
        matches: tuple[PrefixMatch, ...] = found.prefixes if found else ()
        prefixes = tuple((ipaddress.ip_network(m.prefix), m.min_length, m.max_length) for m in matches)
    next_hops = _networks(st.next_hop_in) if st.next_hop_in else None
    return _Statement(st, neighbors, prefixes, next_hops)


def _holds(st: _Statement, path: Path) -> bool:
    return (
        _speaker_matches(st, path.source)
        and _prefix_matches(st, path.prefix)
        and (st.next_hops is None or _in_any(path.next_hop, st.next_hops))
        and _as_path_matches(st.spec, path)
    )


def _speaker_matches(st: _Statement, source: str) -> bool:
    if st.neighbors is None or not st.neighbors:  # empty: taken as everyone (see the module doc)
        return True
    return _in_any(source, st.neighbors)


def _prefix_matches(st: _Statement, prefix: str, *, lengths: bool = True) -> bool:
    if st.prefixes is None:
        return True
    net = ipaddress.ip_network(prefix, strict=False)
    return any(
        net.version == pool.version
        and net.subnet_of(pool)  # type: ignore[arg-type]
        and (not lengths or low <= net.prefixlen <= high)
        for pool, low, high in st.prefixes
    )


def _as_path_matches(spec: StatementSpec, path: Path) -> bool:
    if spec.as_path_length is None:
        return True
    length = path.attributes.as_path_length if path.attributes is not None else 0
    return length == spec.as_path_length


def _why(tried: list[_Statement], path: Path) -> str:
    """The first condition, in the order a reader checks them, that every accepting
    statement meant for this speaker failed on."""
    if not tried:
        return UNKNOWN_SPEAKER
    in_pool = [st for st in tried if _prefix_matches(st, path.prefix)]
    if not in_pool:
        if any(_prefix_matches(st, path.prefix, lengths=False) for st in tried):
            return PREFIX_LENGTH
        return VIP_POOL
    via_node = [st for st in in_pool if st.next_hops is None or _in_any(path.next_hop, st.next_hops)]
    if not via_node:
        return NEXT_HOP
    if not any(_as_path_matches(st.spec, path) for st in via_node):
        return AS_PATH
    return OTHER


def _networks(entries: Iterable[str]) -> tuple[_Net, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _in_any(address: str, networks: tuple[_Net, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in networks)


def _address_key(address: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(address)
    return ip.version, int(ip)


__all__ = [
    "AS_PATH",
    "NEXT_HOP",
    "OTHER",
    "PREFIX_LENGTH",
    "REASONS",
    "UNKNOWN_SPEAKER",
    "VIP_POOL",
    "Guard",
    "KnownNode",
    "NodeMap",
    "rejected_counts",
]
