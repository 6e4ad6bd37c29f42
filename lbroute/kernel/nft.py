"""Run ``nft`` in the caller's network namespace or inside a named one: read one table, load
one transaction. What the text means is ``lbroute.core.nftables``'s business.

A table is read in two steps: its structure with ``-t`` (terse: no set elements, so the
flow pins the kernel keeps, up to 65k per service, are never listed), then each map we fill
on its own. A missing table is told from the table list, never from ``nft``'s error text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lbroute.core import nftables

from .ip import IpCommandError, run

NFT = Path("/usr/sbin/nft")


class NftError(IpCommandError):
    """``nft`` refused (exit status not 0) or could not be run; ``stderr`` says why."""

    def __init__(self, what: str, stderr: str, returncode: int | None = None) -> None:
        RuntimeError.__init__(self, f"{what}: {stderr.strip()[:400]}")
        self.stderr = stderr
        self.returncode = returncode


@dataclass(frozen=True)
class Nft:
    netns: str | None = None
    binary: Path = NFT
    timeout: float = 30.0

    def run(self, *args: str, stdin: str | None = None) -> str:
        try:
            result = run(
                [str(self.binary), *args], stdin=stdin, timeout=self.timeout, netns=self.netns, check=False
            )
        except (OSError, IpCommandError) as err:  # not there, or no answer in time
            raise NftError(" ".join(args[:3]), f"{type(err).__name__}: {err}") from None
        if result.returncode != 0:
            raise NftError(
                f"nft {' '.join(args[:4])}",
                result.stderr or f"exit status {result.returncode}",
                result.returncode,
            )
        return result.stdout

    def tables(self, family: str) -> list[str]:
        doc = json.loads(self.run("-j", "list", "tables", family) or '{"nftables": []}')
        return [
            str(item["table"]["name"])
            for item in doc.get("nftables", [])
            if isinstance(item, dict) and "table" in item
        ]

    def read(self, family: str, name: str, filled_maps: Iterable[str]) -> nftables.ObservedTable | None:
        """The table as the kernel holds it (None when there is none): its structure, and the
        elements of ``filled_maps`` (the maps we fill; dynamic ones stay unlisted)."""
        if name not in self.tables(family):
            return None
        observed = nftables.parse_table(self.run("-j", "-t", "list", "table", family, name), family, name)
        if observed is None:
            return None
        maps = []
        wanted = set(filled_maps)
        for m in observed.maps:
            if m.name in wanted and m.elements is not None:
                full = nftables.parse_map(
                    self.run("-j", "list", "map", family, name, m.name), family, name, m.name
                )
                maps.append(full if full is not None else m)
            else:
                maps.append(m)
        return nftables.ObservedTable(family, name, tuple(maps), observed.chains)

    def load(self, transaction: str) -> None:
        """One ``nft -f -``: the kernel applies all of it or none of it."""
        self.run("-f", "-", stdin=transaction)
