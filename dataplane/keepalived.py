"""The seed's ``ipvs.conf`` (its Figure 3.6) for keepalived, from the same tables. Pure.

For users who run keepalived on a kernel with IPVS instead of the ``ipvs`` driver: one
``virtual_server`` per VIP and port with the ``mh`` scheduler (``mh-port``: flows, not
clients; ``mh-fallback``: a dead destination's flows go to the next one) and the real
servers in Maglev order, which mh's table depends on; a TCP check per real server, as the
seed had. ``keepalived --config-test`` checks it without IPVS in the kernel.
"""

from __future__ import annotations

from lbroute.core.dataplane import Dataplane

from .ipvs_plan import FWD_TUNNEL, desired_state

CHECK_SECONDS = 5


def render(dp: Dataplane, *, forward: str = "nat") -> str:
    state = desired_state(dp, "tun" if forward == "tun" else "nat")
    lines = [
        "# written by lbroute-dataplane render-keepalived: one virtual_server per service,",
        "# real servers in Maglev order (mh's table depends on it); do not edit, render again",
        "global_defs {",
        "    router_id lbroute-dataplane",
        "}",
    ]
    for service, dests in state.services:
        kind = "TUN" if any(d.forward == FWD_TUNNEL for d in dests) or forward == "tun" else "NAT"
        lines += [
            "",
            f"virtual_server {service.vip} {service.port} {{",
            f"    delay_loop {CHECK_SECONDS}",
            "    lb_algo mh",
            "    mh-port",
            "    mh-fallback",
            f"    lb_kind {kind}",
            "    protocol TCP",
        ]
        for d in dests:
            lines += [
                f"    real_server {d.address} {d.port} {{",
                f"        weight {d.weight}",
                "        TCP_CHECK {",
                f"            connect_timeout {CHECK_SECONDS}",
                f"            connect_port {d.port}",
                "        }",
                "    }",
            ]
        lines.append("}")
    return "\n".join(lines) + "\n"
