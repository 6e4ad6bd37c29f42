"""FRR 8.4's JSON, as vtysh writes it, read as the core's paths and sessions.

The documents carry the fields the adapter reads, shaped as FRR 8.4 writes them (checked
against the real bgpd by the integration tests, which read a lab's FRR router with them).
"""

from __future__ import annotations

import pytest

from lbroute.core.rib import Path
from lbroute.frr.vtysh import VtyshError, paths_from_json, sessions_from_json


def route(hop: str, **flags: bool) -> dict[str, object]:
    return {
        "valid": True,
        "pathFrom": "internal",
        "prefix": "10.1.1.1",
        "prefixLen": 32,
        "peerId": "10.0.0.2",
        "origin": "IGP",
        "nexthops": [{"ip": hop, "afi": "ipv4", "used": True}],
        **flags,
    }


def test_every_path_of_the_table_with_its_flags() -> None:
    doc = {
        "routerId": "10.0.0.1",
        "routes": {
            "10.1.1.1/32": [
                route("10.0.0.12", multipath=True),
                route("10.0.0.11", multipath=True, bestpath=True),
            ],
            "10.1.2.1/32": [route("10.0.0.11", bestpath=True, stale=True)],
        },
    }
    assert paths_from_json(doc) == [
        # FRR marks one path best and the rest of the ECMP set multipath: both are forwarded on
        Path("10.1.1.1/32", "10.0.0.12", source="10.0.0.2", multipath=True),
        Path("10.1.1.1/32", "10.0.0.11", source="10.0.0.2", best=True, multipath=True),
        Path("10.1.2.1/32", "10.0.0.11", source="10.0.0.2", best=True, stale=True),
    ]
    assert paths_from_json({"routes": {}}) == []


@pytest.mark.parametrize(
    "doc", [[], {"routerId": "10.0.0.1"}, {"routes": {"10.1.1.1/32": {}}}, {"routes": {"x": [1]}}]
)
def test_a_document_frr_does_not_write_is_an_error_not_a_guess(doc: object) -> None:
    with pytest.raises(VtyshError) as err:
        paths_from_json(doc)
    assert not err.value.transient


def neighbor(state: str, **extra: object) -> dict[str, object]:
    return {
        "remoteAs": 65021,
        "bgpState": state,
        "bgpTimerHoldTimeMsecs": 9000,
        "addressFamilyInfo": {"ipv4Unicast": {"acceptedPrefixCounter": 3, "sentPrefixCounter": 0}},
        **extra,
    }


def test_an_established_session_with_graceful_restart_helper() -> None:
    gr = {"localGrMode": "Helper", "remoteGrMode": "Restart", "rBit": True}
    [s] = sessions_from_json(
        {"10.0.0.2": neighbor("Established", bgpTimerUpEstablishedEpoch=1796159276, gracefulRestartInfo=gr)},
        "router",
    )
    assert (s.at, s.neighbor, s.peer_asn, s.state, s.established) == (
        "router",
        "10.0.0.2",
        65021,
        "ESTABLISHED",
        True,
    )
    assert (s.received, s.accepted, s.advertised, s.hold_time) == (3, 3, 0, 9)
    assert (s.since, s.graceful_restart, s.stale) == (1796159276.0, "helper", 0)


def test_a_session_down_while_frr_holds_the_paths_is_a_helper_waiting() -> None:
    # what FRR writes after the RR went away without a NOTIFICATION: its restart timer runs
    gr = {"localGrMode": "Helper", "remoteGrMode": "NotApplicable", "gracefulRestartTimerMsecs": 29000}
    [s] = sessions_from_json({"10.0.0.2": neighbor("Idle", gracefulRestartInfo=gr)}, "router")
    assert (s.state, s.established, s.since, s.hold_time, s.graceful_restart) == (
        "IDLE",
        False,
        None,
        0,
        "helper",
    )


def test_graceful_restart_off_on_either_end_is_off() -> None:
    for gr in (
        {"localGrMode": "Disable", "remoteGrMode": "Restart"},
        {"localGrMode": "Helper", "remoteGrMode": "NotApplicable"},
    ):
        [s] = sessions_from_json({"10.0.0.2": neighbor("Established", gracefulRestartInfo=gr)}, "router")
        assert s.graceful_restart == ""


def test_frr_state_names_become_the_core_ones() -> None:
    names = ["Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Clearing"]
    doc = {f"10.0.0.{i}": neighbor(name) for i, name in enumerate(names, 2)}
    states = [s.state for s in sessions_from_json(doc, "router")]
    assert states == ["IDLE", "CONNECT", "ACTIVE", "OPENSENT", "OPENCONFIRM", "ESTABLISHED", "IDLE"]
