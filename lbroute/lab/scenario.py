"""What a lab is asked to get wrong or do differently from the plain topology. Pure: no I/O.

A ``Scenario`` is fixed when the lab comes up and saved in its state file, so every later
command (``scale``, ``status``, the expected FIB) reads the same knobs the lab was built
with. Each knob is checked against the topology before anything is created.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from lbroute.core.echo import shown

from .topology import Topology

# the RRs' restart time towards the router when a single RR runs (its restart would empty the FIB)
DEFAULT_RESTART_TIME = 30
# the upstream router: gobgpd + zebra driven by lbroute-rr (role router), or FRR's bgpd + zebra
ROUTER_KINDS = ("gobgp", "frr")
# BFD's interval (ms, both ways) and multiplier in the lab: the product's default, 0.9 s to detect
DEFAULT_BFD = (300, 3)
# the gobgp router's FIB: zebra's hash-threshold groups, or resilient groups lbroute-rr writes
FIB_MODES = ("zebra", "resilient")


class ScenarioError(ValueError):
    """A scenario that cannot be built on the topology it is given."""


@dataclass(frozen=True)
class LabImages:
    """The images a lab runs its LB pods' sidecars and its RRs from (``lab up --images``)."""

    announcer: str
    control_plane: str


@dataclass(frozen=True)
class Scenario:
    # explicit-peer mode: the (fake) Kubernetes API server the RR managers watch for LB pods
    kube_api: str = ""
    # LBs whose exabgp holds a wrong MD5 key (explicit-peer mode only): they get no session
    wrong_md5: tuple[int, ...] = ()
    # an LB that also announces routes the guard rails must reject (0: none)
    rogue_lb: int = 0
    # the RR speaker group's limit of prefixes per speaker (None: the lab's 100)
    max_prefixes: int | None = None
    # the speaker group's (hold time, keepalive) in seconds (None: the lab's 3 s and 1 s)
    speaker_timers: tuple[int, int] | None = None
    # graceful restart between router and RRs: the RRs' restart time in seconds, 0 for none;
    # None until the lab resolves it for its RR count (``for_topology``)
    graceful_restart: int | None = None
    # the LB pods' data plane (lbroute.lab.dataplane): "" for the stand-in responder, or
    # nft-nat / nft-dsr with this many backends behind the web node at ``up``
    dataplane: str = ""
    backends: int = 3
    # which upstream router the lab runs (ROUTER_KINDS)
    router: str = "gobgp"
    # BFD (interval in ms, multiplier) between the RRs and every LB pod's bfdd, and between a
    # gobgp router and the RRs when there are two (docs/decisions/bfd.md); None: no BFD at all.
    # `lab up` gives DEFAULT_BFD; a test asks for it, so the others run as they did before BFD
    bfd: tuple[int, int] | None = None
    # the LB pods' exabgp + announcer and the RRs' gobgpd + lbroute-rr from these images
    # (lbroute/lab/containers.py); None: all of them as processes
    images: LabImages | None = None
    # the router's FIB: "zebra" (hash-threshold groups) or "resilient" (lbroute-rr writes
    # resilient groups; the LBs drain make-before-break, marking their paths GRACEFUL_SHUTDOWN)
    fib: str = "zebra"
    # the announcers' drain period in seconds (None: the lab's 1 s)
    drain_seconds: float | None = None

    def for_topology(self, topo: Topology) -> Scenario:
        """This scenario checked against ``topo``, with the graceful-restart default filled in:
        30 s with one RR, none with two (the other RR covers a restart, nothing is held stale)."""
        problems = self.problems(topo)
        if problems:
            raise ScenarioError("; ".join(problems))
        if self.graceful_restart is not None:
            return self
        return replace(self, graceful_restart=DEFAULT_RESTART_TIME if topo.rrs == 1 else 0)

    def problems(self, topo: Topology) -> list[str]:
        out = []
        lbs = f"1..{topo.lbs}" if topo.lbs else "none"
        if self.wrong_md5 and not self.kube_api:
            out.append("wrong_md5: MD5 keys are used only with kube_api (explicit peers)")
        out += [
            f"wrong_md5: lb{i} does not exist (LBs: {lbs})" for i in self.wrong_md5 if not 1 <= i <= topo.lbs
        ]
        if self.rogue_lb and not 1 <= self.rogue_lb <= topo.lbs:
            out.append(f"rogue_lb: lb{self.rogue_lb} does not exist (LBs: {lbs})")
        if self.max_prefixes is not None and self.max_prefixes < 1:
            out.append(f"max_prefixes {self.max_prefixes}: must be at least 1")
        if self.speaker_timers is not None:
            hold, keepalive = self.speaker_timers
            if not (hold >= 3 and keepalive >= 1 and keepalive * 3 <= hold):
                out.append(f"speaker_timers {self.speaker_timers}: hold >= 3 s and keepalive <= hold / 3")
        if self.dataplane not in ("", "nft-nat", "nft-dsr"):
            out.append(f"dataplane {self.dataplane!r}: nft-nat or nft-dsr")
        if self.dataplane and not 1 <= self.backends <= 40:
            out.append(f"backends {self.backends}: between 1 and 40")
        if self.graceful_restart is not None and not 0 <= self.graceful_restart <= 4095:
            out.append(f"graceful_restart {self.graceful_restart}: 0 (none) to 4095 seconds")
        if self.router not in ROUTER_KINDS:
            out.append(f"router {shown(self.router)}: use {' or '.join(ROUTER_KINDS)}")
        if self.bfd is not None:
            interval, multiplier = self.bfd
            if not (10 <= interval <= 60000 and 2 <= multiplier <= 255):
                out.append(f"bfd {self.bfd}: an interval of 10 to 60000 ms and a multiplier of 2 to 255")
        if self.images and self.kube_api:
            out.append("images: not with kube_api, whose RR managers run in the root namespace")
        if self.images and self.dataplane:
            out.append("images: not with dataplane (the lab runs lbroute-dataplane as a process)")
        if self.images and self.rogue_lb:
            out.append("images: not with rogue_lb (the image renders exabgp.conf itself, without its routes)")
        if self.fib not in FIB_MODES:
            out.append(f"fib {shown(self.fib)}: use {' or '.join(FIB_MODES)}")
        elif self.fib == "resilient" and self.router != "gobgp":
            out.append(
                "fib resilient: for router gobgp (lbroute-rr writes the FIB); frr's zebra writes its own"
            )
        if self.drain_seconds is not None and not 0 <= self.drain_seconds <= 600:
            out.append(f"drain_seconds {self.drain_seconds}: 0 to 600")
        return out

    def router_bfd(self, topo: Topology) -> tuple[int, int] | None:
        """BFD between the router and the RRs: only with two of them and a gobgp router. With
        one, graceful restart keeps forwarding through its restart and BFD would end that
        (the router's config refuses it); FRR's bgpd runs no bfdd in the lab."""
        return self.bfd if topo.rrs >= 2 and self.router == "gobgp" else None

    def group_overrides(self) -> dict[str, object]:
        """The keys this scenario replaces in the RR's speaker group config."""
        out: dict[str, object] = {}
        if self.max_prefixes is not None:
            out["max_prefixes"] = self.max_prefixes
        if self.speaker_timers is not None:
            hold, keepalive = self.speaker_timers
            out["timers"] = {"hold_time": hold, "keepalive": keepalive}
        return out

    def md5_key_is_wrong(self, lb: int) -> bool:
        return lb in self.wrong_md5

    def to_json(self) -> dict[str, Any]:
        return {
            "kube_api": self.kube_api,
            "wrong_md5": list(self.wrong_md5),
            "rogue_lb": self.rogue_lb,
            "max_prefixes": self.max_prefixes,
            "speaker_timers": list(self.speaker_timers) if self.speaker_timers else None,
            "graceful_restart": self.graceful_restart,
            "dataplane": self.dataplane,
            "backends": self.backends,
            "router": self.router,
            "bfd": list(self.bfd) if self.bfd else None,
            "images": asdict(self.images) if self.images else None,
            "fib": self.fib,
            "drain_seconds": self.drain_seconds,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Scenario:
        timers = raw.get("speaker_timers")
        bfd = raw.get("bfd")
        return cls(
            kube_api=str(raw.get("kube_api", "")),
            wrong_md5=tuple(int(i) for i in raw.get("wrong_md5", ())),
            rogue_lb=int(raw.get("rogue_lb", 0)),
            max_prefixes=None if raw.get("max_prefixes") is None else int(raw["max_prefixes"]),
            speaker_timers=None if timers is None else (int(timers[0]), int(timers[1])),
            graceful_restart=None if raw.get("graceful_restart") is None else int(raw["graceful_restart"]),
            dataplane=str(raw.get("dataplane", "")),
            backends=int(raw.get("backends", 3)),
            router=str(raw.get("router", "gobgp")),  # a lab from before router kinds ran gobgpd
            bfd=None if bfd is None else (int(bfd[0]), int(bfd[1])),  # before BFD: none
            images=LabImages(**raw["images"]) if raw.get("images") else None,
            fib=str(raw.get("fib", "zebra")),
            drain_seconds=None if raw.get("drain_seconds") is None else float(raw["drain_seconds"]),
        )


def rogue_routes(node_ip: str, pod_ip: str) -> tuple[tuple[str, str], ...]:
    """(prefix, next-hop) pairs a misconfigured or hostile LB might announce; none may pass the RR."""
    return (
        ("0.0.0.0/0", node_ip),  # a default route
        ("192.0.2.10/32", node_ip),  # outside the VIP pool
        ("10.1.77.0/24", node_ip),  # inside the pool, but a /24 where /32 is expected
        ("10.1.77.7/32", pod_ip),  # a fine VIP with the pod's IP as next-hop, not the node's
    )
