"""Bare gobgpds, each in a network namespace of its own, linked to the first one's: for tests of
what gobgpd itself does with a policy (no lab, no manager running). Everything they create is
removed when the ``with`` ends, failing or not."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from lbroute.gobgp.client import GobgpClient
from lbroute.kernel.ip import ip, list_netns
from lbroute.lab import daemons, network
from lbroute.lab.processes import spawn, stop
from lbroute.lab.state import ProcessRecord
from lbroute.polling import until
from tests.support.lab import unique_prefix


class Link(NamedTuple):
    """A gobgpd beside the first one: its name, and the addresses of the veth between them."""

    name: str
    hub_address: str  # on the first gobgpd's side
    address: str  # on this one's


class Gobgpds:
    def __init__(self, clients: dict[str, GobgpClient], logs: list[Path]) -> None:
        self.clients, self.logs = clients, logs

    def __getitem__(self, name: str) -> GobgpClient:
        return self.clients[name]

    def context(self) -> str:
        """The daemons' log tails, for a timeout's message."""
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs if log.exists())


@contextmanager
def gobgpds(tmp_path: Path, hub: str, *links: Link) -> Iterator[Gobgpds]:
    """gobgpd ``hub`` in ``<prefix>-<hub>``, and one per link in ``<prefix>-<name>`` joined to it
    by a veth (``to-<name>`` on the hub's side, ``eth0`` on the other) on a /24."""
    prefix = unique_prefix()
    created: list[str] = []
    records: list[ProcessRecord] = []
    clients: dict[str, GobgpClient] = {}
    logs: list[Path] = []
    try:
        hub_ns = f"{prefix}-{hub}"
        for ns in (hub_ns, *(f"{prefix}-{link.name}" for link in links)):
            network.add_namespace(ns, created.append)
        for link in links:
            ns, dev = f"{prefix}-{link.name}", f"to-{link.name}"
            network.veth(hub_ns, dev, ns, "eth0")
            for where, device, address in ((hub_ns, dev, link.hub_address), (ns, "eth0", link.address)):
                ip("addr", "add", f"{address}/24", "dev", device, netns=where)
                ip("link", "set", device, "up", netns=where)
        for name in (hub, *(link.name for link in links)):
            socket, log = tmp_path / f"{name}.sock", tmp_path / f"{name}-gobgpd.log"
            records.append(
                spawn(f"gobgpd-{name}", daemons.gobgpd_argv(socket), netns=f"{prefix}-{name}", log=log)
            )
            logs.append(log)
            until(socket.exists, 10, what=f"{name} gobgpd socket")
            clients[name] = GobgpClient(str(socket))
            clients[name].wait_ready(10)
        yield Gobgpds(clients, logs)
    finally:
        for client in clients.values():
            client.close()
        for record in records:
            stop(record)
        for ns in created:
            network.delete_namespace(ns)
    assert not [ns for ns in list_netns() if ns.startswith(prefix)]
