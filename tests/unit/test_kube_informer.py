"""The informer with the real kubernetes client against the HTTP-level fake API server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lbroute.kube.informer import Informer, Objects, Resource, api_client
from lbroute.polling import eventually, until
from tests.fakes.kube_api import FakeKubeApi


def service(name: str, ip: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "web", "labels": labels or {"app": "lb"}},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip}]}},
    }


class Recorder:
    def __init__(self) -> None:
        self.snapshots: list[Objects] = []
        self.sync_changes: list[bool] = []
        self.lock = threading.Lock()

    def snapshot(self, objects: Objects) -> None:
        with self.lock:
            self.snapshots.append(objects)

    def last_ips(self) -> dict[str, str]:
        with self.lock:
            last = self.snapshots[-1] if self.snapshots else {}
        return {k: o["status"]["loadBalancer"]["ingress"][0]["ip"] for k, o in last.items()}


@pytest.fixture
def api() -> Iterator[FakeKubeApi]:
    server = FakeKubeApi().start()
    yield server
    server.stop()


def run_informer(api: FakeKubeApi, rec: Recorder, **kw: Any) -> Informer:
    informer = Informer(
        api_client(api.url),
        Resource("services", "web", label_selector="app=lb"),
        rec.snapshot,
        on_sync_change=rec.sync_changes.append,
        watch_timeout=2,
        request_timeout=2,
        max_backoff=0.2,
        **kw,
    )
    informer.start()
    return informer


def expect_snapshot(rec: Recorder, ips: dict[str, str]) -> None:
    def check() -> None:
        assert rec.last_ips() == ips

    eventually(check, 10, what=f"snapshot {ips}")


def test_lists_then_follows_changes_with_selector(api: FakeKubeApi) -> None:
    api.put("services", service("a", "10.1.1.1"))
    api.put("services", service("other", "10.9.9.9", labels={"app": "db"}))
    rec = Recorder()
    informer = run_informer(api, rec)
    try:
        expect_snapshot(rec, {"web/a": "10.1.1.1"})
        api.put("services", service("b", "10.1.2.1"))
        expect_snapshot(rec, {"web/a": "10.1.1.1", "web/b": "10.1.2.1"})
        api.put("services", service("a", "10.1.1.9"))
        expect_snapshot(rec, {"web/a": "10.1.1.9", "web/b": "10.1.2.1"})
        api.delete("services", "b", "web")
        expect_snapshot(rec, {"web/a": "10.1.1.9"})
        assert informer.relists == 1
        watches = [r for r in api.requests if "watch=true" in r]
        assert watches and "resourceVersion=" in watches[0]
    finally:
        informer.stop()


def test_relists_after_410_gone(api: FakeKubeApi) -> None:
    api.put("services", service("a", "10.1.1.1"))
    rec = Recorder()
    informer = run_informer(api, rec)
    try:
        expect_snapshot(rec, {"web/a": "10.1.1.1"})
        # changes and a compaction while the informer is cut off: its version is now too old
        api.go_down()
        until(lambda: rec.sync_changes[-1:] == [False], 15, what="stale after outage")
        api.put("services", service("c", "10.1.3.1"))
        api.compact()
        api.come_back()
        expect_snapshot(rec, {"web/a": "10.1.1.1", "web/c": "10.1.3.1"})
        until(lambda: informer.relists >= 2, 10, what="a relist after 410")
    finally:
        informer.stop()


def test_outage_keeps_the_last_snapshot_and_reports_stale(api: FakeKubeApi) -> None:
    api.put("services", service("a", "10.1.1.1"))
    rec = Recorder()
    informer = run_informer(api, rec)
    try:
        expect_snapshot(rec, {"web/a": "10.1.1.1"})
        api.go_down()
        until(lambda: rec.sync_changes[-1:] == [False], 15, what="stale after outage")
        assert rec.last_ips() == {"web/a": "10.1.1.1"}  # never an invented empty world
        api.put("services", service("d", "10.1.4.1"))
        api.come_back()
        expect_snapshot(rec, {"web/a": "10.1.1.1", "web/d": "10.1.4.1"})
        assert rec.sync_changes[-1] is True
    finally:
        informer.stop()
