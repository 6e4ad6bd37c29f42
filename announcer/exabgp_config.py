"""exabgp.conf from the announcer's own config. Pure: the same renderer for pods and the lab.

The first line says who wrote the file: ``render-exabgp-config --output`` overwrites only a
file that starts with it. ``md5-base64 false`` is explicit because exabgp 4.2's default
("auto") base64-decodes a key made only of the characters 0-9 and a-f, so such a key would
differ from the route reflector's.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import ExabgpConfig

HEADER = "# exabgp.conf written by lbroute-announcer render-exabgp-config; render it again to change it"


def render_exabgp_config(
    cfg: ExabgpConfig,
    passwords: Mapping[str, str] | None = None,
    *,
    local_address: str | None = None,
    command: str | None = None,
) -> str:
    """``passwords``: neighbor address -> MD5 key, read and checked by ``md5_keys.read_keys``;
    ``local_address`` and ``command``: what the file leaves to the renderer (the pod's address
    from the environment, this install's announcer), resolved by the caller."""
    passwords = passwords or {}
    local = cfg.local_address or local_address
    run = cfg.announcer_command or command
    if local is None or run is None:
        raise ValueError("render_exabgp_config needs local_address and command when the config has none")
    router_id = cfg.router_id or local
    blocks = [f"{HEADER}\nprocess announcer {{\n    run {run};\n    encoder json;\n}}\n"]
    for neighbor in cfg.neighbors:
        lines = [
            f"neighbor {neighbor.address} {{",
            f"    router-id {router_id};",
            f"    local-address {local};",
            f"    local-as {cfg.asn};",
            f"    peer-as {cfg.asn};",
            f"    hold-time {cfg.hold_time};",
        ]
        if neighbor.address in passwords:
            key = passwords[neighbor.address]
            if any(c in key for c in "\"'\\") or not key.isprintable():
                raise ValueError(f"neighbor {neighbor.address}: the MD5 key may not hold quotes or newlines")
            lines += [f'    md5-password "{key}";', "    md5-base64 false;"]
        families = " ".join(f"{family};" for family in cfg.families)
        lines += [f"    family {{ {families} }}", "    api { processes [ announcer ]; }", "}"]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
