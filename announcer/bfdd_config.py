"""bfdd.conf from the announcer's own config. Pure: the same renderer for pods and the lab.

exabgp has no BFD, so an LB pod runs FRR's bfdd beside it, with one session to each of
exabgp's neighbors (the route reflectors) from exabgp's own local address: the address the
route reflector's gobgpd knows the speaker by, and resets the BGP session of when BFD goes
down. Every value comes from the validated ``ExabgpConfig``: addresses and numbers only,
nothing that could write a line of its own. The first line says who wrote the file
(FRR reads ``!`` as a comment), so ``render-bfdd-config --output`` replaces only its own file.
"""

from __future__ import annotations

from .config import ExabgpConfig

HEADER = "! bfdd.conf written by lbroute-announcer render-bfdd-config; render it again to change it"


def render_bfdd_config(cfg: ExabgpConfig, local_address: str | None = None) -> str:
    """The text of bfdd.conf; ``cfg.bfd`` must be set (``render-bfdd-config`` says so otherwise).
    ``local_address``: the pod's, read from its environment when the file names none (as for
    exabgp.conf)."""
    bfd = cfg.bfd
    if bfd is None:
        raise ValueError("exabgp.bfd is not set: there is no BFD to configure")
    local = cfg.local_address or local_address
    if local is None:
        raise ValueError("render_bfdd_config needs local_address when the config has none")
    lines = [HEADER, "bfd"]
    for neighbor in cfg.neighbors:
        hop = " multihop" if bfd.multihop else ""
        lines += [
            f" peer {neighbor.address}{hop} local-address {local}",
            f"  receive-interval {bfd.receive_interval_ms}",
            f"  transmit-interval {bfd.transmit_interval_ms}",
            f"  detect-multiplier {bfd.detect_multiplier}",
        ]
        if bfd.multihop:
            lines.append(f"  minimum-ttl {bfd.minimum_ttl}")
        lines.append(" !")
    lines.append("!")
    return "\n".join(lines) + "\n"
