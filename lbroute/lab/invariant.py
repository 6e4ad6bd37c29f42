"""The lab's one invariant, judged after every fault: for every VIP, the router's FIB next-hops
are the nodes whose LB is running, healthy and announcing it. Pure: no I/O.

"Serving" is what the lab itself set (``Lab.serving``: a pod removed by ``scale``, an exabgp
killed, an LB hung, a health file saying ``fail``), never read back from the FIB. A next-hop
the FIB holds and should not is *stale* when it is a lab node's address (a node that left, or
whose LB is not serving), *foreign* when it is no lab node's at all; one it lacks is *missing*.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .expectations import Fib, shut_out
from .scenario import Scenario
from .topology import MAX_LBS, Node, Topology

# every address a lab node can ever have had (nodes are 1..MAX_LBS, whatever the count now)
_NODE_ADDRESSES = frozenset(a for i in range(1, MAX_LBS + 1) for a in (Node(i).ip, Node(i).ip6))


def serving_fib(topo: Topology, scenario: Scenario, serving: frozenset[int]) -> Fib:
    """VIP -> the next-hops of the LBs in ``serving`` that announce it (and get a session);
    a VIP that no serving LB announces is absent."""
    lbs = serving - shut_out(topo, scenario)
    out: Fib = {}
    for s in topo.services:
        hops = frozenset(n.next_hop_for(s.vip) for n in topo.nodes if n.index in lbs and s.served_by(n.index))
        if hops:
            out[s.vip] = hops
    return out


@dataclass(frozen=True)
class FibDiff:
    """Per VIP, the next-hops that are wrong: VIP -> sorted addresses."""

    stale: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    foreign: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.stale or self.missing or self.foreign)

    def counts(self) -> dict[str, int]:
        """How many next-hops of each kind, over every VIP."""
        return {
            kind: sum(len(hops) for hops in getattr(self, kind).values())
            for kind in ("stale", "missing", "foreign")
        }

    def __str__(self) -> str:
        parts = [
            f"{kind} {vip}: {', '.join(hops)}"
            for kind in ("stale", "missing", "foreign")
            for vip, hops in sorted(getattr(self, kind).items())
        ]
        return "; ".join(parts) or "none"


def fib_diff(expected: Fib, actual: Fib) -> FibDiff:
    """What ``actual`` (the router's VIP routes) holds that ``expected`` does not, and lacks."""
    stale: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    foreign: dict[str, list[str]] = {}
    for vip in sorted(set(expected) | set(actual)):
        want, got = expected.get(vip, frozenset()), actual.get(vip, frozenset())
        extra = got - want
        if want - got:
            missing[vip] = sorted(want - got)
        if extra & _NODE_ADDRESSES:
            stale[vip] = sorted(extra & _NODE_ADDRESSES)
        if extra - _NODE_ADDRESSES:
            foreign[vip] = sorted(extra - _NODE_ADDRESSES)
    return FibDiff(stale, missing, foreign)
