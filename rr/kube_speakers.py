"""LB speakers learned from Kubernetes: the pod IPs of each group's label selector, and the
host IPs of the node each runs on (which the guard rails let it name as next-hop).

One ``Informer`` per speaker group with a ``kubernetes`` block. Each snapshot becomes the
group's member list and the reconciler's next desired state; a pod that goes away is a
peer deleted, which withdraws its routes at once. While the API server is unreachable the
last snapshot stands (fail static): a flaky API server does not tear down sessions.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from lbroute.kube.informer import Informer, KubeConfigError, Objects, Resource, api_client

from .config import SpeakerGroupConfig

log = structlog.get_logger()

__all__ = ["KubeConfigError", "KubeSpeakers", "pod_addresses", "pod_speakers"]


def pod_speakers(objects: Objects) -> dict[str, tuple[str, ...]]:
    """The pods that may speak (assigned an IP, not terminating, not finished): pod IP -> the
    host IPs of the node it runs on (``status.hostIPs``, else ``status.hostIP``; none while
    the API does not say), which place it on its node for the guard rails. A pod whose
    metadata or status is no object is skipped and said. Pure."""
    out: dict[str, tuple[str, ...]] = {}
    for key, pod in objects.items():
        meta: Any = (pod.get("metadata") or {}) if isinstance(pod, dict) else None
        status: Any = (pod.get("status") or {}) if isinstance(pod, dict) else None
        if not isinstance(meta, dict) or not isinstance(status, dict):
            log.warning("rr.kube.bad_pod", target=key[:200], error="metadata or status is not an object")
            continue
        ip = status.get("podIP")
        if not ip or meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
            continue
        try:
            if not isinstance(ip, str):  # ip_address() would take an integer as an address
                raise ValueError(ip)
            address = str(ipaddress.ip_address(ip))
        except ValueError:
            log.warning("rr.kube.bad_pod_ip", target=key[:200], error=repr(ip)[:60])
            continue
        out[address] = _host_ips(status, key[:200])
    return dict(sorted(out.items()))


def _host_ips(status: dict[str, Any], where: str) -> tuple[str, ...]:
    listed = status.get("hostIPs")
    raw = [h.get("ip") for h in listed if isinstance(h, dict)] if isinstance(listed, list) else []
    if not raw and status.get("hostIP"):
        raw = [status["hostIP"]]
    hosts = set()
    for h in raw:
        try:
            if not isinstance(h, str):  # ip_address() would take an integer as an address
                raise ValueError(h)
            hosts.add(str(ipaddress.ip_address(h)))
        except ValueError:
            log.warning("rr.kube.bad_host_ip", target=where, error=repr(h)[:60])
    return tuple(sorted(hosts))


def pod_addresses(objects: Objects) -> tuple[str, ...]:
    """IPs of the pods that may speak, in order. Pure."""
    return tuple(pod_speakers(objects))


class KubeSpeakers:
    def __init__(
        self,
        groups: tuple[SpeakerGroupConfig, ...],
        on_change: Callable[[], None],
        *,
        watch_timeout: int = 60,
    ) -> None:
        self._lock = threading.Lock()
        self._members: dict[str, tuple[str, ...]] = {}
        self._hosts: dict[str, dict[str, tuple[str, ...]]] = {}  # group -> pod IP -> host IPs
        self._listed = threading.Condition(self._lock)
        self._groups = {g.name for g in groups if g.kubernetes is not None}
        self.on_change = on_change
        self.informers: list[Informer] = []
        for g in groups:
            if g.kubernetes is None:
                continue
            k = g.kubernetes
            self.informers.append(
                Informer(
                    api_client(k.api_server, k.kubeconfig),
                    Resource("pods", k.namespace, label_selector=k.label_selector),
                    self._snapshot_for(g.name),
                    watch_timeout=watch_timeout,
                    max_backoff=2.0,
                )
            )

    def _snapshot_for(self, group: str) -> Callable[[Objects], None]:
        def on_snapshot(objects: Objects) -> None:
            speakers = pod_speakers(objects)
            members = tuple(speakers)
            with self._lock:
                changed = self._members.get(group) != members or self._hosts.get(group) != speakers
                self._members[group] = members
                self._hosts[group] = speakers
                self._listed.notify_all()
            if changed:
                log.info("rr.kube.speakers", target=group, count=len(members))
                self.on_change()

        return on_snapshot

    def wait_listed(self, timeout: float | None, stop: threading.Event | None = None) -> bool:
        """True once every group has had its first list: only then is an empty group really empty.

        Until then the manager must not reconcile: a desired state without a group's pods
        would delete every LB peer of that group that a previous run had added.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._listed:
            while not self._groups <= self._members.keys():
                if stop is not None and stop.is_set():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._listed.wait(0.5 if left is None else min(left, 0.5))
        return True

    def members(self) -> dict[str, tuple[str, ...]]:
        with self._lock:
            return dict(self._members)

    def hosts(self) -> dict[str, tuple[str, ...]]:
        """Every group's pod IP -> the host IPs of its node (``desired_config``'s ``hosts``)."""
        with self._lock:
            return {ip: on for group in self._hosts.values() for ip, on in group.items()}

    def start(self) -> None:
        for informer in self.informers:
            informer.start()

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()
