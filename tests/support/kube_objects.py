"""Kubernetes objects as the fake API server stores them, for the announcer's tests."""

from __future__ import annotations

from typing import Any


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
