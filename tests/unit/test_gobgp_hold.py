"""Adding a held-down speaker (admin down) while its dynamic session comes and goes, against a
stand-in for gobgpd's gRPC service that answers with gobgpd 4.8's own refusals
(pkg/server/server.go: "can't overwrite the existing peer: X" while a peer of that address
exists, "can't delete a peer configuration for X" once it has gone)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from lbroute.core import bgp
from lbroute.gobgp.apipb import gobgp_pb2 as api
from lbroute.gobgp.client import GobgpClient
from lbroute.gobgp.errors import GobgpRejected

ADDRESS = "172.16.1.2"
SESSION = bgp.SessionSpec(65021, "lbroute:held:lb", (), bgp.Timers(3, 1))


class Refused(grpc.RpcError):
    def __init__(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNKNOWN

    def details(self) -> str:
        return self._details


class Gobgpd:
    """gobgpd's neighbor map for one address: a dynamic session that reconnects ``comebacks``
    times right after each delete (a speaker slipping in between our two calls), or a peer
    configured by someone else."""

    def __init__(self, *, comebacks: int = 0, foreign: bool = False) -> None:
        self.peer: str | None = "foreign" if foreign else "dynamic"
        self.comebacks = comebacks
        self.calls: list[str] = []

    def AddPeer(self, request: api.AddPeerRequest, timeout: float) -> None:
        self.calls.append("AddPeer")
        if self.peer is not None:
            raise Refused(f"can't overwrite the existing peer: {ADDRESS}")
        self.peer = "held" if request.peer.conf.admin_down else "added"

    def DeletePeer(self, request: api.DeletePeerRequest, timeout: float) -> None:
        self.calls.append("DeletePeer")
        if self.peer is None:
            raise Refused(f"can't delete a peer configuration for {ADDRESS}")
        self.peer = None
        if self.comebacks:
            self.comebacks -= 1
            self.peer = "dynamic"

    def ListPeer(self, request: api.ListPeerRequest, timeout: float) -> Iterator[Any]:
        self.calls.append("ListPeer")
        if self.peer is None:
            return iter(())
        group = "lb" if self.peer == "dynamic" else ""
        peer = api.Peer(conf=api.PeerConf(neighbor_address=ADDRESS, peer_group=group))
        return iter([api.ListPeerResponse(peer=peer)])


def client_of(daemon: Gobgpd) -> GobgpClient:
    client = GobgpClient("/nonexistent/gobgpd.sock")
    client._stub = daemon  # type: ignore[assignment]
    return client


def hold() -> bgp.AddPeer:
    return bgp.AddPeer(bgp.PeerSpec(ADDRESS, SESSION, admin_down=True))


def test_the_dynamic_session_goes_and_the_hold_comes() -> None:
    daemon = Gobgpd()
    client_of(daemon).apply(hold())
    assert daemon.peer == "held" and daemon.calls == ["AddPeer", "ListPeer", "DeletePeer", "AddPeer"]


def test_a_speaker_that_slips_in_between_is_replaced_again_a_few_times_at_most() -> None:
    daemon = Gobgpd(comebacks=2)
    client_of(daemon).apply(hold())
    assert daemon.peer == "held" and daemon.calls.count("DeletePeer") == 3
    stubborn = Gobgpd(comebacks=99)
    with pytest.raises(GobgpRejected, match="can't overwrite the existing peer"):
        client_of(stubborn).apply(hold())
    assert stubborn.calls.count("AddPeer") == 5


def test_a_session_gone_before_the_delete_is_fine() -> None:
    daemon = Gobgpd()

    def vanish_first(request: api.ListPeerRequest, timeout: float) -> Iterator[Any]:
        daemon.peer = None  # cut off again and removed by gobgpd between the two calls
        return iter(())

    daemon.ListPeer = vanish_first  # type: ignore[method-assign]
    client_of(daemon).apply(hold())
    assert daemon.peer == "held"


def test_a_peer_someone_else_configured_is_left_alone_and_the_clash_said() -> None:
    daemon = Gobgpd(foreign=True)
    with pytest.raises(GobgpRejected, match=f"a peer {ADDRESS} not of a dynamic range is there"):
        client_of(daemon).apply(hold())
    assert daemon.peer == "foreign" and "DeletePeer" not in daemon.calls


def test_an_ordinary_peer_is_never_deleted_to_make_room() -> None:
    daemon = Gobgpd()
    with pytest.raises(GobgpRejected, match="can't overwrite"):
        client_of(daemon).apply(bgp.AddPeer(bgp.PeerSpec(ADDRESS, SESSION)))
    assert daemon.calls == ["AddPeer"] and daemon.peer == "dynamic"
