"""Helpers for the data plane's tests: a namespace of their own, the controller as a real
process, and what the kernel really holds (read with ``nft``, never from our own cache)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from dataplane import nft_rules
from lbroute.core import nftables
from lbroute.kernel.nft import Nft


def kernel_buckets(netns: str, service: str = "web") -> tuple[str, ...] | None:
    """The Maglev table the kernel of ``netns`` holds for ``service``, bucket by bucket."""
    nft = Nft(netns=netns)
    observed = nft.read(nft_rules.FAMILY, nft_rules.LB_TABLE, [nft_rules.buckets_map(service)])
    found = observed.map(nft_rules.buckets_map(service)) if observed else None
    if found is None or found.elements is None:
        return None
    return tuple(address for _, address in sorted(found.elements))


def kernel_hash(netns: str) -> list[tuple[int, int]]:
    """(mod, seed) of every jhash our table's rules compute, as the kernel lists them."""
    doc = Nft(netns=netns).run("-j", "list", "table", nft_rules.FAMILY, nft_rules.LB_TABLE)
    import json

    found = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "jhash" in node:
                found.append((int(node["jhash"]["mod"]), int(node["jhash"].get("seed", 0))))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(doc))
    return found


def kernel_table(netns: str) -> nftables.ObservedTable | None:
    return Nft(netns=netns).read(nft_rules.FAMILY, nft_rules.LB_TABLE, [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Program:
    """``lbroute-dataplane run`` (or the realserver) as a process, its log in a file."""

    def __init__(
        self, module: str, config: dict[str, Any], directory: Path, *, prefix: list[str] | None = None
    ):
        self.path = directory / f"{module.split('.')[-1]}.yaml"
        self.path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log = directory / f"{module.split('.')[-1]}.log"
        argv = [
            *(prefix or []),
            sys.executable,
            "-m",
            module,
            "--log-level",
            "debug",
            "run",
            "--config",
            str(self.path),
        ]
        with open(self.log, "ab") as out:
            env = {"LBROUTE_LOG_FORMAT": "json", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)

    def rewrite(self, config: dict[str, Any]) -> None:
        """A new config, then SIGHUP."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.replace(self.path)
        self.proc.send_signal(signal.SIGHUP)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode


def metric(address: str, name: str, **labels: str) -> float:
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{want}}}" if labels else name):
            return float(value)
    return 0.0


def kernel_pins(netns: str, service: str = "web") -> dict[tuple[str, int], str]:
    """The flows the kernel of LB ``netns`` has pinned (nft-dsr): (client, port) -> backend."""
    import json

    doc = json.loads(
        Nft(netns=netns).run("-j", "list", "map", nft_rules.FAMILY, nft_rules.LB_TABLE, f"{service}_flows")
    )
    out: dict[tuple[str, int], str] = {}
    for item in doc["nftables"]:
        for key, backend in item.get("map", {}).get("elem", []):
            val = key["elem"]["val"] if "elem" in key else key
            client, port = val["concat"]
            out[(str(client), int(port))] = str(backend)
    return out
