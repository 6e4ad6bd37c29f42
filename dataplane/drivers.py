"""The drivers behind one interface: make the kernel hold a data plane, and say whether it does.

``converge(dp)`` reads what the kernel holds, computes the difference (pure) and applies only
that, as one transaction; ``differences(dp)`` only reads and compares. A refusal by the
kernel is a ``LoadFailed``: nothing of it was applied (nft -f is all or nothing), and the
controller keeps the last good table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from lbroute.core import nftables
from lbroute.core.dataplane import Dataplane
from lbroute.kernel.ip import sysctl
from lbroute.kernel.nft import Nft, NftError

from . import nft_rules
from .ipvs_plan import IpvsOp, IpvsState, desired_state, plan


class LoadFailed(Exception):
    """The kernel refused the new table (or could not be reached); it holds what it held."""


@dataclass(frozen=True)
class Converged:
    changed: bool
    how: str  # "none", "elements" (only map elements rewritten), "full"
    differences: tuple[str, ...] = ()  # what differed before (empty when nothing did)


class Driver(Protocol):
    name: str

    def prepare(self) -> None: ...

    def converge(self, dp: Dataplane) -> Converged: ...

    def differences(self, dp: Dataplane) -> list[str]: ...


class NftDriver:
    """nft-nat or nft-dsr: one table, ``ip lbroute_dataplane``, and nothing else touched."""

    def __init__(self, name: str, nft: Nft) -> None:
        if name not in ("nft-nat", "nft-dsr"):
            raise ValueError(f"not an nft driver: {name}")
        self.name = name
        self.nft = nft

    def prepare(self) -> None:
        """Both nft drivers forward (to the backends): ``net.ipv4.ip_forward 1`` in their namespace."""
        sysctl(self.nft.netns, "net.ipv4.ip_forward", "1")

    def table(self, dp: Dataplane) -> nftables.NftTable:
        return nft_rules.nat_table(dp) if self.name == "nft-nat" else nft_rules.dsr_table(dp)

    def _observe(self, desired: nftables.NftTable) -> nftables.ObservedTable | None:
        try:
            return self.nft.read(desired.family, desired.name, nft_rules.filled_maps(desired))
        except (NftError, nftables.NftOutputError, ValueError) as err:
            raise LoadFailed(f"cannot read the kernel's table: {err}") from None

    def converge(self, dp: Dataplane) -> Converged:
        desired = self.table(dp)
        observed = self._observe(desired)
        transaction = nftables.transaction(desired, observed)
        if transaction is None:
            return Converged(False, "none")
        how = "full" if any(line.startswith("add rule") for line in transaction.splitlines()) else "elements"
        try:
            self.nft.load(transaction)
        except NftError as err:
            raise LoadFailed(str(err)) from None
        return Converged(True, how, tuple(nftables.differences(desired, observed)))

    def differences(self, dp: Dataplane) -> list[str]:
        desired = self.table(dp)
        return nftables.differences(desired, self._observe(desired))

    def remove(self) -> bool:
        """Delete our table (``lbroute-dataplane remove``); False when there was none."""
        if nft_rules.LB_TABLE not in self.nft.tables(nft_rules.FAMILY):
            return False
        self.nft.load(nftables.removal(nft_rules.FAMILY, nft_rules.LB_TABLE))
        return True


class IpvsBackend(Protocol):
    def observe(self) -> IpvsState: ...

    def set_sloppy_tcp(self, on: bool) -> None: ...

    def apply(self, ops: list[IpvsOp]) -> None: ...


class IpvsDriver:
    """The ``mh`` scheduler through netlink (``ipvs_netlink.IpvsKernel`` on a kernel with IPVS)."""

    name = "ipvs"

    def __init__(self, kernel: IpvsBackend, forward: str = "nat", *, sloppy_tcp: bool = True) -> None:
        self.kernel = kernel
        self.forward = "tun" if forward == "tun" else "nat"
        self.sloppy_tcp = sloppy_tcp

    def prepare(self) -> None:
        """``net.ipv4.vs.sloppy_tcp``: a flow the router moves here mid-connection is taken over."""
        self.kernel.set_sloppy_tcp(self.sloppy_tcp)

    def ops(self, dp: Dataplane) -> list[IpvsOp]:
        try:
            observed = self.kernel.observe()
        except OSError as err:
            raise LoadFailed(f"cannot read IPVS: {err}") from None
        return plan(desired_state(dp, self.forward), observed)  # type: ignore[arg-type]

    def converge(self, dp: Dataplane) -> Converged:
        ops = self.ops(dp)
        if not ops:
            return Converged(False, "none")
        try:
            self.kernel.apply(ops)
        except OSError as err:
            raise LoadFailed(f"IPVS refused: {err}") from None
        return Converged(True, "full", tuple(str(op) for op in ops))

    def differences(self, dp: Dataplane) -> list[str]:
        return [str(op) for op in self.ops(dp)]
