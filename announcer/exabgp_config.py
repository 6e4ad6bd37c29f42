"""exabgp.conf from the announcer's own config. Pure: the same renderer for pods and the lab."""

from __future__ import annotations

from collections.abc import Mapping

from .config import ExabgpConfig


def render_exabgp_config(cfg: ExabgpConfig, passwords: Mapping[str, str] | None = None) -> str:
    """``passwords``: neighbor address -> MD5 key (read from ``md5_password_file`` by the caller)."""
    passwords = passwords or {}
    router_id = cfg.router_id or cfg.local_address
    blocks = [f"process announcer {{\n    run {cfg.announcer_command};\n    encoder json;\n}}\n"]
    for neighbor in cfg.neighbors:
        lines = [
            f"neighbor {neighbor.address} {{",
            f"    router-id {router_id};",
            f"    local-address {cfg.local_address};",
            f"    local-as {cfg.asn};",
            f"    peer-as {cfg.asn};",
            f"    hold-time {cfg.hold_time};",
        ]
        if neighbor.address in passwords:
            key = passwords[neighbor.address]
            if '"' in key or "\n" in key:
                raise ValueError(f"neighbor {neighbor.address}: the MD5 key may not hold quotes or newlines")
            lines.append(f'    md5-password "{key}";')
        families = " ".join(f"{family};" for family in cfg.families)
        lines += [f"    family {{ {families} }}", "    api { processes [ announcer ]; }", "}"]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
