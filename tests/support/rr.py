"""rr manager configs shared by the rr tests: a route reflector, a router, a speaker group."""

from __future__ import annotations

from typing import Any

from lbroute.core import bgp
from rr.config import RrConfig
from rr.desired import desired_config

GROUP: dict[str, Any] = {
    "name": "lb",
    "dynamic_prefixes": ["172.16.0.0/16"],
    "vip_pools": ["10.1.0.0/16"],
    "node_networks": ["10.0.0.0/24"],
}
# where the speakers of GROUP live: without it `config check` warns that any node-network next-hop passes
NODES: list[dict[str, Any]] = [
    {"name": "node1", "addresses": ["10.0.0.11"], "pod_cidrs": ["172.16.1.0/24"]},
    {"name": "node2", "addresses": ["10.0.0.12"], "pod_cidrs": ["172.16.2.0/24"]},
]
SLOW_GROUP = {**GROUP, "timers": {"hold_time": 9, "keepalive": 3}}
RR: dict[str, Any] = {
    "role": "route-reflector",
    "gobgpd": "unix:///run/x.sock",
    "asn": 65021,
    "router_id": "10.0.0.2",
    "listen_addresses": ["10.0.0.2"],
    "speaker_groups": [GROUP],
    "neighbors": [{"address": "10.0.0.1", "add_path_send_max": 255}],
}
ROUTER: dict[str, Any] = {
    "role": "router",
    "gobgpd": "unix:///run/y.sock",
    "asn": 65021,
    "router_id": "10.0.0.1",
    "neighbors": [{"address": "10.0.0.2", "add_path_receive": True}],
    "zebra": {"url": "unix:/run/zserv.api"},
}
# LB speakers admitted one by one from the Kubernetes API, with an MD5 key
KUBE_GROUP: dict[str, Any] = {
    "name": "lb",
    "kubernetes": {"namespace": "lb", "label_selector": "app=lb"},
    "md5_password_file": "/run/secrets/lb-md5",
    "vip_pools": ["10.1.0.0/16"],
    "node_networks": ["10.0.0.0/24"],
}
KUBE_RR = {**RR, "speaker_groups": [KUBE_GROUP]}
SECRETS = {"/run/secrets/lb-md5": "s3cret"}


def desired(raw: dict[str, Any]) -> bgp.DaemonConfig:
    return desired_config(RrConfig.model_validate(raw))


def guards(d: bgp.DaemonConfig) -> tuple[bgp.PolicySpec, ...]:
    """The guard-rail (import) policies of a desired config, without its export policy."""
    return tuple(p for p in d.policies if p.name in d.import_policies)


# a pod change's policy swap, as ``core.bgp.plan`` orders it: the new export and guard
# policies added, both assignments swapped to them at once, the old two deleted
POLICY_SWAP = (
    "AddPolicy",
    "AddPolicy",
    "SetImportPolicies",
    "SetExportPolicies",
    "DeletePolicy",
    "DeletePolicy",
)
