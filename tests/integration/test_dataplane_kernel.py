"""``lbroute-dataplane`` as a real process against the real kernel (a namespace of its own)
and the real ``kubernetes`` client against the fake API server: EndpointSlices into the
kernel's Maglev table, bad input refused with the last good table kept, fail static."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lbroute.core import maglev
from lbroute.core.dataplane import gate, parse_status
from lbroute.kernel.nft import Nft
from lbroute.polling import eventually
from tests.fakes.kube_api import FakeKubeApi
from tests.support.dataplane import Program, free_port, kernel_buckets, kernel_hash, metric
from tests.support.netns import namespace

SIZE, SEED = 251, 0x5EED


def slice_(*endpoints: dict[str, Any], name: str = "front-a") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "web", "labels": {"kubernetes.io/service-name": "front"}},
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        "endpoints": list(endpoints),
    }


def ep(address: str, **conditions: bool) -> dict[str, Any]:
    return {"addresses": [address], "conditions": conditions or {"ready": True}}


THREE = [ep("172.16.1.10"), ep("172.16.2.10"), ep("172.16.3.10")]
THEIRS = (
    "table ip theirs {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t}\n}\n"
)


@pytest.fixture
def kube() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi().start()
    yield api
    api.stop()


def config(
    netns: str, kube: FakeKubeApi, status: Path, metrics_port: int, driver: str = "nft-nat"
) -> dict[str, Any]:
    return {
        "driver": driver,
        "netns": netns,
        "pod_networks": ["172.16.0.0/16"],
        "maglev": {"table_size": SIZE, "seed": SEED},
        "services": [
            {
                "name": "web",
                "vip": "10.1.1.1",
                "port": 80,
                "dscp": 10,
                "kubernetes": {"namespace": "web", "service": "front", "port_name": "http"},
            },
        ],
        "kubernetes": {"server": kube.url},
        "status_file": str(status),
        "resync_interval": 0.5,
        "metrics": {"address": "127.0.0.1", "port": metrics_port},
    }


def read_status(path: Path) -> Any:
    assert path.exists(), "no status yet"
    return parse_status(path.read_text())


@pytest.mark.parametrize("driver", ["nft-nat", "nft-dsr"])
def test_endpoint_slices_reach_the_kernel_and_bad_input_keeps_the_last_good_table(
    tmp_path: Path, kube: FakeKubeApi, driver: str
) -> None:
    status_file, port = tmp_path / "status.json", free_port()
    metrics = f"127.0.0.1:{port}"
    kube.put("endpointslices", slice_(*THREE))
    with namespace("dp") as ns:
        # someone else's table in the same namespace: never touched
        theirs = THEIRS
        Nft(netns=ns).load(theirs)
        program = Program("dataplane.main", config(ns, kube, status_file, port, driver), tmp_path)
        try:
            want = maglev.table(["172.16.1.10", "172.16.2.10", "172.16.3.10"], SIZE, SEED)

            def loaded() -> None:
                assert kernel_buckets(ns) == want, "the kernel does not hold the table yet"
                s = read_status(status_file)
                web = s.service("web")
                assert s.in_sync and s.synced and web is not None and web.ready == 3, s  # written after it

            # a wait, not a bound: under a loaded machine (other suites, image builds) the first
            # list of the kubernetes client alone took 5 s here
            eventually(loaded, 60, what="the first table in the kernel", context=program.logs)
            assert kernel_hash(ns) == [(SIZE, SEED)]
            # resyncs that find the kernel as it should be write nothing
            first = read_status(status_file)
            eventually(lambda: _later(status_file, first.written_at + 1.2), 30, what="two more passes")
            assert read_status(status_file).generation == first.generation
            loads = metric(metrics, "lbroute_dataplane_loads_total", how="full") + metric(
                metrics, "lbroute_dataplane_loads_total", how="elements"
            )
            assert loads == first.generation
            assert gate(read_status(status_file), "web", now=read_status(status_file).written_at, max_age=5)[
                0
            ]

            # garbage, then an address outside the pod networks: refused, the table stays
            for bad, kind in (
                ({"endpoints": "nope"}, "garbage"),
                ({"endpoints": [ep("10.0.0.1")]}, "outside"),
            ):
                kube.put("endpointslices", {**slice_(), **bad})
                eventually(lambda kind=kind: _counted(metrics, kind), 30, what=f"the {kind} slice refused",
                           context=program.logs)  # fmt: skip
                assert kernel_buckets(ns) == want
            assert "dataplane.slice.refused" in program.logs()

            # a backend terminating (serving): out of the table, listed as draining
            kube.put("endpointslices", slice_(THREE[0], THREE[1], ep("172.16.3.10", ready=False, serving=True,
                                                                     terminating=True)))  # fmt: skip
            two = maglev.table(["172.16.1.10", "172.16.2.10"], SIZE, SEED)
            eventually(lambda: _holds(ns, two), 30, what="the terminating backend out of the table",
                       context=program.logs)  # fmt: skip

            def draining() -> None:
                web = read_status(status_file).service("web")
                assert web.draining == ("172.16.3.10",) and web.ready == 2, web

            eventually(draining, 5, what="the terminating backend listed as draining")

            # no ready backend: the last table stays, the status says ready 0 and the gate fails
            kube.put("endpointslices", slice_(ep("172.16.1.10", ready=False), ep("172.16.2.10", ready=False)))
            eventually(lambda: _ready(status_file, 0), 30, what="ready 0 in the status", context=program.logs)
            assert kernel_buckets(ns) == two
            assert _counted(metrics, "no_backends") is None
            s = read_status(status_file)
            assert gate(s, "web", now=s.written_at, max_age=5) == (
                False,
                "service 'web' has no ready backend",
            )

            # the API server goes away: fail static, the table stays; it comes back: synced again
            kube.put("endpointslices", slice_(*THREE))
            eventually(lambda: _holds(ns, want), 30, what="three backends again", context=program.logs)
            kube.go_down()
            eventually(lambda: _stale(status_file, True), 20, what="the outage seen", context=program.logs)
            s = read_status(status_file)
            assert kernel_buckets(ns) == want and s.in_sync and s.synced
            # fail static: an API server blinking does not withdraw the VIP
            assert gate(s, "web", now=s.written_at, max_age=5) == (True, "")
            kube.come_back()
            # the informer counts itself synced at its next list or event
            kube.put("endpointslices", slice_(*THREE))
            eventually(lambda: _stale(status_file, False), 30, what="synced again", context=program.logs)
        finally:
            assert program.stop() == 0, program.logs()
        # stopping leaves the table: the pod keeps forwarding through its drain
        assert kernel_buckets(ns) == want
        assert Nft(netns=ns).run("list", "table", "ip", "theirs") == theirs


def _counted(metrics: str, kind: str) -> None:
    assert metric(metrics, "lbroute_dataplane_input_errors_total", kind=kind) >= 1, f"no {kind} counted"


def _holds(ns: str, want: tuple[str, ...]) -> None:
    assert kernel_buckets(ns) == want, "not yet"


def _ready(path: Path, n: int) -> None:
    web = read_status(path).service("web")
    assert web is not None and web.ready == n, web


def _later(path: Path, t: float) -> None:
    assert read_status(path).written_at > t, "no pass since"


def _stale(path: Path, stale: bool) -> None:
    assert read_status(path).stale is stale


def test_a_controller_the_kernel_refuses_keeps_the_last_good_table_and_fails_the_gate(
    tmp_path: Path, kube: FakeKubeApi
) -> None:
    """A restarted controller without CAP_NET_ADMIN: the kernel refuses it (EPERM); the table the
    last one loaded keeps forwarding; the status, a log event and a metric say so."""
    kube.put("endpointslices", slice_(*THREE))
    status_file = tmp_path / "status.json"
    want = maglev.table(["172.16.1.10", "172.16.2.10", "172.16.3.10"], SIZE, SEED)
    with namespace("dp") as ns:
        first = Program("dataplane.main", config(ns, kube, status_file, free_port()), tmp_path)
        try:
            eventually(lambda: _holds(ns, want), 60, what="the first table", context=first.logs)
        finally:
            assert first.stop() == 0
        port = free_port()
        kube.put("endpointslices", slice_(*THREE[:2]))
        second = Program(
            "dataplane.main",
            config(ns, kube, status_file, port),
            tmp_path / "..",
            prefix=["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"],
        )
        try:

            def refused() -> None:
                s = read_status(status_file)
                assert s.pid == second.proc.pid and not s.in_sync and "Operation not permitted" in s.error, s

            eventually(refused, 60, what="the refusal in the status", context=second.logs)
            assert metric(f"127.0.0.1:{port}", "lbroute_dataplane_load_errors_total") >= 1
            assert "dataplane.table.load_failed" in second.logs()
            assert kernel_buckets(ns) == want  # the last good table still forwards
            s = read_status(status_file)
            assert gate(s, "web", now=s.written_at, max_age=5)[0] is False
        finally:
            assert second.stop() == 0, second.logs()
