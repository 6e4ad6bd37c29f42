"""The ipvs driver's adapter: IPVS operations as generic-netlink messages (pyroute2), sent on
an IPVS socket; the kernel's services and destinations read back the same way.

This kernel has no IPVS (``CONFIG_IP_VS`` unset), so the socket path cannot run here: the
messages are built by ``message()`` alone, which the tests compare byte for byte with golden
files, and ``IpvsKernel`` only wraps sending them (docs/dataplane.md says so).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pyroute2.ipvs import IPVS, IPVSDest, IPVSService
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.generic import ipvs as genl

from .ipvs_plan import IpvsDest, IpvsOp, IpvsService, IpvsState

COMMANDS = {
    "add-service": (genl.IPVS_CMD_NEW_SERVICE, NLM_F_CREATE | NLM_F_EXCL),
    "set-service": (genl.IPVS_CMD_SET_SERVICE, 0),
    "del-service": (genl.IPVS_CMD_DEL_SERVICE, 0),
    "add-dest": (genl.IPVS_CMD_NEW_DEST, NLM_F_CREATE | NLM_F_EXCL),
    "set-dest": (genl.IPVS_CMD_SET_DEST, 0),
    "del-dest": (genl.IPVS_CMD_DEL_DEST, 0),
}
SLOPPY_TCP = "net/ipv4/vs/sloppy_tcp"


def _service(s: IpvsService) -> IPVSService:
    return IPVSService(
        addr=s.vip,
        port=s.port,
        protocol=s.protocol,
        sched_name=s.scheduler,
        flags={"flags": s.flags, "mask": 0xFFFF},
    )


def _dest(d: IpvsDest) -> IPVSDest:
    return IPVSDest(addr=d.address, port=d.port, fwd_method=d.forward, weight=d.weight)


def message(op: IpvsOp, *, family: int, sequence: int) -> genl.ipvsmsg:
    """The request for ``op``, encoded (``.data``), as pyroute2 would send it to the IPVS
    generic-netlink ``family`` (its id is the kernel's, looked up when the socket binds)."""
    cmd, flags = COMMANDS[op.verb]
    msg = genl.ipvsmsg()
    msg["cmd"] = cmd
    msg["version"] = genl.GENL_VERSION
    service = _service(op.service)
    if op.verb.endswith("-service"):
        nla = service.dump_key() if op.verb == "del-service" else service.dump_nla()
        msg["attrs"] = [("IPVS_CMD_ATTR_SERVICE", nla)]
    else:
        assert op.dest is not None
        msg["attrs"] = [
            ("IPVS_CMD_ATTR_SERVICE", service.dump_key()),
            ("IPVS_CMD_ATTR_DEST", _dest(op.dest).dump_nla()),
        ]
    msg["header"]["type"] = family
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | flags
    msg["header"]["sequence_number"] = sequence
    msg["header"]["pid"] = 0
    msg.encode()
    return msg


def _attr(msg: Any, name: str) -> Any:
    return msg.get_attr(name)


class IpvsKernel:
    """IPVS in the caller's namespace. Every call raises ``OSError`` when the kernel refuses
    (pyroute2's ``NetlinkError`` carries the errno); with no IPVS at all, already here."""

    def __init__(self) -> None:
        try:
            self._sock = IPVS()
        except NetlinkError as err:
            raise OSError(err.code, f"no IPVS here (the kernel lacks CONFIG_IP_VS?): {err}") from None

    def close(self) -> None:
        self._sock.close()

    def observe(self) -> IpvsState:
        try:
            return self._observe()
        except NetlinkError as err:
            raise OSError(err.code, str(err)) from None

    def _observe(self) -> IpvsState:
        out = []
        for raw in self._sock.service("dump"):
            svc = IPVSService.from_message(raw)
            if svc.get("protocol") != socket.IPPROTO_TCP or "addr" not in svc:
                continue
            flags = (svc.get("flags") or {}).get("flags", 0)
            service = IpvsService(
                str(svc["addr"]), int(svc["port"]), int(svc["protocol"]), str(svc["sched_name"]), flags
            )
            dests = []
            for raw_dest in self._sock.dest("dump", service=svc):
                d = IPVSDest.from_message(raw_dest)
                dests.append(
                    IpvsDest(
                        str(d["addr"]),
                        int(d["port"]),
                        int(d.get("fwd_method", 0)) & 7,
                        int(d.get("weight", 1)),
                    )
                )
            out.append((service, tuple(dests)))
        return IpvsState(tuple(sorted(out, key=lambda x: x[0].key)))

    def set_sloppy_tcp(self, on: bool) -> None:
        set_sloppy_tcp(on)

    def apply(self, ops: Sequence[IpvsOp]) -> None:
        try:
            self._apply(ops)
        except NetlinkError as err:
            raise OSError(err.code, str(err)) from None

    def _apply(self, ops: Sequence[IpvsOp]) -> None:
        for op in ops:
            kind = op.verb.split("-")[0]
            command = {"add": "add", "set": "set", "del": "del"}[kind]
            if op.verb.endswith("-service"):
                self._sock.service(command, service=_service(op.service))
            else:
                assert op.dest is not None
                self._sock.dest(command, service=_service(op.service), dest=_dest(op.dest))


def set_sloppy_tcp(on: bool, proc_sys: Path = Path("/proc/sys")) -> None:
    """``net.ipv4.vs.sloppy_tcp``: IPVS takes over a TCP connection it sees mid-flow."""
    (proc_sys / SLOPPY_TCP).write_text("1\n" if on else "0\n")
