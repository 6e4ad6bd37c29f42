"""The lab's own nftables tables, inside namespaces the lab made: each a whole table of one
name, loaded in one ``nft -f`` transaction and deleted by that name, never anyone else's.

- ``lbroute-bfd`` in each RR's namespace: multihop BFD from the LB pods arrives on UDP 4784
  (RFC 5883), gobgpd 4.8 listens on 3784 only; the redirect hands it to gobgpd, which keys
  its BFD peers by source address alone (docs/decisions/bfd.md). A real RR host needs the same.
- ``lbroute-hang`` on one link: every frame in and out dropped, ARP included, at the device
  (netdev ingress and egress), so the host behind it answers nothing at all, as a hung or
  powered-off one would (``lab hang``).
"""

from __future__ import annotations

from lbroute.kernel.nft import NFT, Nft, NftError

from .errors import LabError

BFD_REDIRECT = ("inet", "lbroute-bfd")
HANG = ("netdev", "lbroute-hang")


def bfd_redirect() -> str:
    family, name = BFD_REDIRECT
    return (
        f"table {family} {name} {{\n"
        "  chain prerouting {\n"
        "    type nat hook prerouting priority dstnat; policy accept;\n"
        "    udp dport 4784 redirect to :3784\n"
        "  }\n"
        "}\n"
    )


def hang(device: str) -> str:
    family, name = HANG
    chains = "".join(
        f'  chain {hook} {{ type filter hook {hook} device "{device}" priority -500; policy drop; }}\n'
        for hook in ("ingress", "egress")
    )
    return f"table {family} {name} {{\n{chains}}}\n"


def load(netns: str, text: str) -> None:
    _run(netns, "-f", "-", stdin=text)


def has_table(netns: str, table: tuple[str, str]) -> bool:
    family, name = table
    try:
        return name in Nft(netns).tables(family)
    except NftError as err:
        raise LabError(f"in {netns}: {err}") from None


def delete(netns: str, table: tuple[str, str]) -> bool:
    """Delete our table if it is there; whether it was."""
    if not has_table(netns, table):
        return False
    _run(netns, "delete", "table", *table)
    return True


def _run(netns: str, *args: str, stdin: str | None = None) -> str:
    try:
        return Nft(netns).run(*args, stdin=stdin)
    except NftError as err:
        raise LabError(f"in {netns}: {err}") from None


__all__ = ["BFD_REDIRECT", "HANG", "NFT", "bfd_redirect", "delete", "hang", "has_table", "load"]
