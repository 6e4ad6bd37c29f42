"""Kubernetes objects as the fake API server stores them, for the announcer's tests and the
rr manager's explicit peers (the lab's LB pods)."""

from __future__ import annotations

from typing import Any

from lbroute.lab.topology import Node


def service(*ips: str, name: str = "front", namespace: str = "web") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}},
    }


def endpoint_slice(*ready: bool, service: str = "front", namespace: str = "web") -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{service}-abc12",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [f"172.16.9.{i + 10}"], "conditions": {"ready": r}} for i, r in enumerate(ready)
        ],
    }


def lb_pod(i: int) -> dict[str, Any]:
    """The lab's LB pod ``lb<i>``, running on node ``i`` with its pod address."""
    return {
        "metadata": {"name": f"lb{i}", "namespace": "lb", "labels": {"app": "lb"}},
        "spec": {"nodeName": f"node{i}"},
        "status": {"phase": "Running", "podIP": Node(i).pod_ip, "hostIP": Node(i).ip},
    }
