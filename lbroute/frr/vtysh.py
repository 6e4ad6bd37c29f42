"""Read FRR's bgpd through ``vtysh``: its RIB and its sessions, as the core's ``Path`` and ``Session``.

``vtysh --vty_socket DIR -d bgpd -c '... json'`` talks to bgpd's vty socket in ``DIR`` (no
network, no namespace needed). Its output is read with a deadline and a size limit, so a
huge RIB or a stuck daemon gives a clear error, never unbounded memory or a hang. The
parsing is pure (``paths_from_json``, ``sessions_from_json``): what FRR 8.4 writes, read
field by field.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from dataclasses import replace
from pathlib import Path as FsPath
from typing import Any

from lbroute.core.rib import Path
from lbroute.core.session import Session

VTYSH = FsPath("/usr/bin/vtysh")
# a 64k-path RIB is ~40 MB of FRR's JSON; past this we stop reading
MAX_OUTPUT = 256 * 1024 * 1024
# FRR's bgpState names -> the core's (gobgpd's) session states
_STATES = {
    "Idle": "IDLE",
    "Connect": "CONNECT",
    "Active": "ACTIVE",
    "OpenSent": "OPENSENT",
    "OpenConfirm": "OPENCONFIRM",
    "Established": "ESTABLISHED",
    "Clearing": "IDLE",
    "Deleted": "IDLE",
}


class VtyshError(RuntimeError):
    """vtysh could not answer: bgpd is not running or not reachable at that directory, it timed
    out, or its output was not what FRR writes. ``transient`` for a daemon that does not answer
    (yet): it may be restarting."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Vtysh:
    """bgpd's vty in ``directory`` (its ``--vty_socket``), read only."""

    def __init__(
        self,
        directory: str,
        *,
        timeout: float = 10.0,
        max_output: int = MAX_OUTPUT,
        binary: FsPath = VTYSH,
    ) -> None:
        self.directory = directory
        self.timeout = timeout
        self.max_output = max_output
        self.binary = binary

    def json(self, command: str) -> Any:
        """The JSON document bgpd answers ``command`` (which must end in ``json``) with."""
        out = self._run(command)
        try:
            return json.loads(out)
        except ValueError as err:
            raise VtyshError(f"vtysh {command!r}: not JSON ({err}): {out[:120]!r}", transient=False) from None

    def list_paths(self, *, prefixes: tuple[str, ...] = (), family: str = "ipv4") -> list[Path]:
        """Every path bgpd holds (best or not), or only those of ``prefixes``."""
        if len(prefixes) == 1:  # the table's own format, narrowed to the prefix and its more-specifics
            doc = self.json(f"show bgp {family} unicast {prefixes[0]} longer-prefixes json")
        else:
            doc = self.json(f"show bgp {family} unicast json")
        paths = paths_from_json(doc)
        return [p for p in paths if p.prefix in prefixes] if prefixes else paths

    def list_sessions(self, at: str) -> list[Session]:
        """Every neighbor's session; a neighbor held under graceful restart with its stale paths
        counted (read from the RIB only then)."""
        sessions = sessions_from_json(self.json("show bgp neighbors json"), at)
        if any(s.graceful_restart and not s.established for s in sessions):
            stale: dict[str, int] = {}
            for path in self.list_paths():
                if path.stale:
                    stale[path.source] = stale.get(path.source, 0) + 1
            sessions = [replace(s, stale=stale.get(s.neighbor, 0)) for s in sessions]
        return sessions

    def _run(self, command: str) -> str:
        argv = [str(self.binary), "--vty_socket", self.directory, "-d", "bgpd", "-c", command]
        if not os.path.exists(os.path.join(self.directory, "bgpd.vty")):
            raise VtyshError(f"no bgpd vty socket in {self.directory}: is bgpd running?", transient=True)
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = _bounded(proc, self.timeout, self.max_output)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if out is None:
            raise VtyshError(
                f"vtysh {command!r}: more than {self.max_output} bytes of output; stopped reading",
                transient=False,
            )
        if proc.returncode != 0:
            # vtysh says why on stdout or stderr: e.g. bgpd not running (a restart under way)
            why = (err or out).decode(errors="replace").strip()[:200]
            raise VtyshError(f"vtysh {command!r} exit {proc.returncode}: {why}", transient=True)
        return out.decode()


def _bounded(proc: subprocess.Popen[bytes], timeout: float, limit: int) -> tuple[bytes | None, bytes]:
    """stdout (None when over ``limit``) and stderr of ``proc``, read until both close."""
    assert proc.stdout is not None and proc.stderr is not None
    chunks: dict[int, list[bytes]] = {proc.stdout.fileno(): [], proc.stderr.fileno(): []}
    size = 0
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        for pipe in (proc.stdout, proc.stderr):
            sel.register(pipe, selectors.EVENT_READ)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise VtyshError(f"vtysh did not answer within {timeout:g}s", transient=True)
            for key, _ in sel.select(left):
                data = os.read(key.fd, 1 << 16)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                chunks[key.fd].append(data)
                size += len(data)
                if size > limit:
                    return None, b""
    return b"".join(chunks[proc.stdout.fileno()]), b"".join(chunks[proc.stderr.fileno()])


# --- what FRR 8.4 writes, read as the core's types (pure) -------------------------------------


def paths_from_json(doc: Any) -> list[Path]:
    """``show bgp ipv4 unicast json``: {"routes": {prefix: [path, ...]}}; a path's first
    next-hop is the one BGP gave it."""
    routes = _field(doc, "routes", dict)
    return [_path(prefix, entry) for prefix, entries in routes.items() for entry in _list(entries, prefix)]


def _path(prefix: str, entry: Any) -> Path:
    if not isinstance(entry, dict):
        raise VtyshError(f"path of {prefix}: not an object", transient=False)
    hops = entry.get("nexthops") or [{}]
    return Path(
        prefix=prefix,
        next_hop=str(hops[0].get("ip", "")),
        source=str(entry.get("peerId", "")),
        best=bool(entry.get("bestpath", False)),
        # the rest of the ECMP set FRR forwards on
        multipath=bool(entry.get("multipath", False)),
        # the table's JSON has no add-path identifier (only one prefix's detail has)
        path_id=0,
        stale=bool(entry.get("stale", False)),
    )


def sessions_from_json(doc: Any, at: str) -> list[Session]:
    """``show bgp neighbors json``: {address: neighbor, ...}."""
    if not isinstance(doc, dict):
        raise VtyshError("show bgp neighbors: not an object", transient=False)
    return [_session(at, address, n) for address, n in doc.items() if isinstance(n, dict)]


def _session(at: str, address: str, n: dict[str, Any]) -> Session:
    state = _STATES.get(str(n.get("bgpState", "")), str(n.get("bgpState", "")).upper())
    established = state == "ESTABLISHED"
    families = n.get("addressFamilyInfo") or {}
    received = accepted = advertised = 0
    for info in families.values():
        if isinstance(info, dict):
            accepted += int(info.get("acceptedPrefixCounter", 0))
            advertised += int(info.get("sentPrefixCounter", 0))
    received = accepted  # FRR counts what passed its inbound policy; the router has none
    gr = n.get("gracefulRestartInfo") or {}
    return Session(
        at=at,
        neighbor=address,
        peer_asn=int(n.get("remoteAs", 0)),
        state=state,
        since=_since(n) if established else None,
        received=received,
        accepted=accepted,
        advertised=advertised,
        hold_time=int(n.get("bgpTimerHoldTimeMsecs", 0)) // 1000 if established else 0,
        description=str(n.get("nbrDesc", "")),
        admin_down=str(n.get("bgpState", "")) == "Idle" and bool(n.get("adminShutDown", False)),
        graceful_restart=_gr_mode(gr),
        stale=0,
    )


def _since(n: dict[str, Any]) -> float | None:
    epoch = n.get("bgpTimerUpEstablishedEpoch")
    return float(epoch) if isinstance(epoch, int) and epoch > 0 else None


def _gr_mode(gr: dict[str, Any]) -> str:
    """The core's words: "helper" when FRR keeps the neighbor's paths only, "on" when both ends
    restart gracefully, "" when it is not in force (either end has it off)."""
    local, remote = str(gr.get("localGrMode", "")), str(gr.get("remoteGrMode", ""))
    if local.startswith("Helper") and "gracefulRestartTimerMsecs" in gr:
        return "helper"  # the session is down and FRR holds the neighbor's paths, restart timer running
    if not remote.startswith(("Restart", "Helper")):
        return ""
    if local.startswith("Helper") and remote.startswith("Restart"):
        return "helper"
    if local.startswith("Restart"):
        return "on"
    return ""


def _field(doc: Any, key: str, kind: type) -> Any:
    if not isinstance(doc, dict) or not isinstance(doc.get(key), kind):
        raise VtyshError(f"FRR's answer has no {key!r} {kind.__name__}", transient=False)
    return doc[key]


def _list(value: Any, prefix: str) -> list[Any]:
    if not isinstance(value, list):
        raise VtyshError(f"paths of {prefix}: not a list", transient=False)
    return value
