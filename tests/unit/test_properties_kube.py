"""Objects from the Kubernetes API server, mutated at random (missing fields, wrong types,
huge lists, deep nesting), fed to every function that reads them. Never an exception; a
malformed object says nothing (the last state stands) or is left out with a log line; and
garbage beside a healthy VIP, pod or slice never takes it away."""

from __future__ import annotations

import ipaddress
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from announcer.kube_view import ready_endpoints, service_vips
from dataplane.endpoints import backends
from lbroute.core.dataplane import Endpoint
from lbroute.kube.informer import keyed, malformed
from rr.kube_speakers import pod_addresses
from tests.support.kube_objects import endpoint_slice, service
from tests.support.properties import BAD_INPUT, DELETE, is_within, mutations, replaced

GOOD_IP = "10.1.1.1"
GOOD = f"{GOOD_IP}/32"
SERVICE = service(GOOD_IP, "10.1.1.2")
GOOD_PATH = ("status", "loadBalancer", "ingress", 0, "ip")


def strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(strings_in(v) for v in value.values()), set())
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value), set())
    return set()


def host_routes(value: Any) -> set[str]:
    """The host routes of every string in ``value`` that is an address."""
    out = set()
    for text in strings_in(value):
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        out.add(f"{address}/{address.max_prefixlen}")
    return out


@BAD_INPUT
@given(mutation=mutations(SERVICE))
# found: an ingress ip given as a number was announced as an address (167837953 = 10.1.1.1)
@example(mutation=(GOOD_PATH, 167837953))
@example(mutation=(("status",), "garbage"))
@example(mutation=(("status", "loadBalancer", "ingress"), {"ip": GOOD_IP}))
def test_service_vips_of_a_mutated_service(mutation: tuple[tuple[Any, ...], Any]) -> None:
    place, new = mutation
    obj = replaced(SERVICE, place, new)
    vips = service_vips({"web/front": obj}, "web", "front")
    if vips is None:
        return  # says nothing: the VIPs announced stay announced
    assert all(vip in host_routes(obj) for vip in vips), vips  # only addresses given as text
    if not is_within(place, GOOD_PATH):
        assert GOOD in vips  # garbage elsewhere never withdraws it


ENTRY = {"ip": "10.1.1.9", "hostname": "lb.example"}


@BAD_INPUT
@given(entries=st.lists(mutations(ENTRY).map(lambda m: replaced(ENTRY, *m)), max_size=5))
def test_garbage_ingress_entries_beside_a_good_one_leave_it(entries: list[Any]) -> None:
    obj = replaced(SERVICE, ("status", "loadBalancer", "ingress"), [{"ip": GOOD_IP}, *entries])
    vips = service_vips({"web/front": obj}, "web", "front")
    assert vips is not None and GOOD in vips


SLICE = endpoint_slice(True, True, False)


@BAD_INPUT
@given(mutation=mutations(SLICE))
@example(mutation=(("endpoints", 0, "conditions", "ready"), "false"))
@example(mutation=(("metadata",), []))
@example(mutation=(("endpoints", 0), "garbage"))
def test_ready_endpoints_beside_a_mutated_slice(mutation: tuple[tuple[Any, ...], Any]) -> None:
    other = replaced(SLICE, *mutation)
    count = ready_endpoints({"web/a": SLICE, "web/b": other}, "front")
    if count is None:
        return  # unknown: the last count stands
    assert count >= 2  # the intact slice's two ready endpoints still count
    assert count <= 2 + len(other.get("endpoints") or [])


POD = {
    "metadata": {"name": "lb-1", "namespace": "lb"},
    "status": {"podIP": "172.16.1.2", "phase": "Running"},
}


@BAD_INPUT
@given(mutation=mutations(POD))
@example(mutation=(("status", "podIP"), 2886795523))  # found: a number was taken for 172.16.1.3
@example(mutation=(("status",), "Running"))
@example(mutation=((), ["not", "a", "pod"]))
def test_pod_addresses_beside_a_mutated_pod(mutation: tuple[tuple[Any, ...], Any]) -> None:
    other = replaced(POD, *mutation)
    good = replaced(POD, ("status", "podIP"), "172.16.1.9")
    addresses = pod_addresses({"lb/a": good, "lb/b": other})
    assert "172.16.1.9" in addresses
    assert set(addresses) - {"172.16.1.9"} <= {
        str(ipaddress.ip_address(s)) for s in strings_in(other) if _is_address(s)
    }


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@BAD_INPUT
@given(items=st.lists(mutations(POD).map(lambda m: replaced(POD, *m)), max_size=6))
@example(items=[{"metadata": "lb-1"}, 7, None, {"metadata": {"name": 5}}])
def test_listed_items_are_keyed_or_left_out(items: list[Any]) -> None:
    objects = keyed([POD, *items], "pods")
    assert objects["lb/lb-1"] is POD or objects["lb/lb-1"] in items  # the same key, a later version
    for key, obj in objects.items():
        assert malformed(obj) is None
        assert key == f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
    assert len(objects) <= 1 + sum(malformed(i) is None for i in items)


NETWORKS = [ipaddress.ip_network("172.16.0.0/16")]
LAST_GOOD = [Endpoint("172.16.9.99", ready=True, serving=True)]


@BAD_INPUT
@given(mutation=mutations(SLICE, big=1500))
@example(mutation=(("endpoints",), [{"addresses": ["172.16.9.1"]}] * 1001))
@example(mutation=(("endpoints", 0, "addresses", 0), 2886797578))
def test_a_mutated_slice_is_taken_whole_or_its_last_good_version_stands(
    mutation: tuple[tuple[Any, ...], Any],
) -> None:
    obj = replaced(SLICE, *mutation)
    out, problems = backends({"web/a": obj, "web/b": SLICE}, {"web/a": LAST_GOOD}, NETWORKS, 80)
    assert {p.kind for p in problems} <= {"garbage", "outside", "port"}
    assert [p.slice for p in problems] in ([], ["web/a"])
    assert len(out["web/b"]) == 3  # the intact slice is untouched
    if problems:
        assert out["web/a"] == LAST_GOOD and len(str(problems[0])) < 300
        return
    for endpoint in out.get("web/a", []):  # taken whole: each of its endpoints is one it names
        assert endpoint.address in strings_in(obj) and ipaddress.ip_address(endpoint.address) in NETWORKS[0]


def test_a_deletion_is_a_mutation_too() -> None:
    assert replaced(POD, ("status",), DELETE) == {"metadata": POD["metadata"]}
