"""``lbroute-realserver``'s work on the backend: VIPs on ``lo``, the sysctls direct server
return needs, and the ``ip lbroute_realserver`` table (the rewrite back to the VIP, and the
second chance), kept converged like the LB's.

The second chance needs the table the LBs use and the one before it, so the agent watches
the same backends and computes the same Maglev tables (``lbroute.core``), keeping the
newest two. The sysctls: ``arp_ignore 1``/``arp_announce 2`` (the VIP on ``lo`` is never
announced by ARP: the LBs reach this backend by its own address), ``ip_forward 1`` (the
second chance forwards), ``rp_filter 2`` (loose) where asked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

from lbroute.config import ConfigError
from lbroute.core import nftables
from lbroute.core.dataplane import Dataplane
from lbroute.kernel.ip import IpCommandError, ip, ip_json, sysctl
from lbroute.kernel.nft import Nft, NftError

from . import desired, nft_rules
from .config import RealserverConfig
from .sources import Problem, Sources

log = structlog.get_logger()


def sysctls(cfg: RealserverConfig) -> list[tuple[str, str]]:
    """What this backend's kernel needs, in order. Pure."""
    out = [
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.all.arp_announce", "2"),
    ]
    if cfg.second_chance:
        out.append(("net.ipv4.ip_forward", "1"))
    if cfg.rp_filter == "loose":
        out += [("net.ipv4.conf.all.rp_filter", "2"), ("net.ipv4.conf.default.rp_filter", "2")]
    return out


class Realserver:
    def __init__(self, cfg: RealserverConfig, me: str, *, watch_timeout: int = 60) -> None:
        self.cfg = cfg
        self.me = me
        self.nft = Nft(netns=cfg.netns)
        self.history: tuple[Dataplane | None, Dataplane | None] = (None, None)
        self.loads = 0
        self.error = ""
        self._wake = threading.Event()
        self.reload_pending = False
        self.sources = Sources(cfg, self._wake.set, self._problem, watch_timeout=watch_timeout)

    def _problem(self, problem: Problem) -> None:
        log.warning("realserver.slice.refused", target=problem.slice, op=problem.kind, error=problem.what)

    def prepare(self) -> None:
        """VIPs on ``lo`` and the sysctls; idempotent."""
        for key, value in sysctls(self.cfg):
            sysctl(self.cfg.netns, key, value)
        have = {
            f"{a['local']}/{a['prefixlen']}"
            for link in ip_json("addr", "show", "dev", "lo", netns=self.cfg.netns)
            for a in link.get("addr_info", [])
        }
        for s in self.cfg.services:
            if f"{s.vip}/32" not in have:
                ip("addr", "add", f"{s.vip}/32", "dev", "lo", netns=self.cfg.netns)
                log.info("realserver.vip.added", prefix=f"{s.vip}/32")

    def table(self) -> nftables.NftTable:
        endpoints = {s.name: self.sources.endpoints(s) for s in self.cfg.services}
        latest = desired.realserver_tables(self.cfg, endpoints, self.history[1])
        self.history = desired.newest_two(self.history, latest)
        before, newest = self.history
        assert newest is not None
        pairs = [
            (t, before.table(t.spec.name) if before else desired.before_joining(t, self.me))
            for t in newest.tables
        ]
        return nft_rules.realserver_table(self.me, pairs, second_chance=self.cfg.second_chance)

    def converge(self) -> bool:
        """One pass; True when something was loaded."""
        want = self.table()
        try:
            observed = self.nft.read(want.family, want.name, nft_rules.filled_maps(want))
            transaction = nftables.transaction(want, observed)
            if transaction is None:
                self.error = ""
                return False
            self.nft.load(transaction)
        except (NftError, nftables.NftOutputError) as err:
            self.error = str(err)
            log.error("realserver.table.load_failed", error=self.error[:300])
            return False
        self.loads += 1
        self.error = ""
        log.info("realserver.table.loaded", count=self.loads, target=self.me)
        return True

    def run(self, stop: threading.Event, load: Callable[[], RealserverConfig] | None = None) -> None:
        """Until ``stop``; ``load`` reads the config again when ``reload_pending`` (SIGHUP)."""
        try:
            self.prepare()
        except IpCommandError as err:
            log.error("realserver.prepare.failed", error=str(err)[:300])
            raise
        self.sources.start()
        try:
            while not stop.is_set():
                if self.reload_pending and load is not None:
                    self.reload_pending = False
                    self._reload(load)
                self.converge()
                self._wake.wait(1.0 if self.error else self.cfg.resync_interval)
                self._wake.clear()
        finally:
            self.sources.stop()

    def _reload(self, load: Callable[[], RealserverConfig]) -> None:
        try:
            new = load()
        except ConfigError as err:
            log.error("realserver.config.refused", error="; ".join(err.lines())[:400])
            return
        if [(s.name, s.vip, s.kubernetes) for s in new.services] != [
            (s.name, s.vip, s.kubernetes) for s in self.cfg.services
        ] or new.netns != self.cfg.netns:
            log.error("realserver.config.refused", error="changing services' VIPs or sources needs a restart")
            return
        self.cfg = new
        self.sources.reconfigure(new)
        log.info("realserver.config.reloaded", count=len(new.services))

    def wake(self) -> None:
        self._wake.set()
