"""``lbroute-dataplane`` and ``lbroute-realserver`` as real processes, without a kernel to
program: ``config check`` (exit 2, one line per problem, no traceback), and the keepalived
config they render, checked by the real ``keepalived --config-test``."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from lbroute.core.dataplane import Dataplane, Endpoint, ServiceSpec, next_table, status_json, status_of
from tests.support.programs import run

CONFIGS = Path(__file__).parents[2] / "configs"
KEEPALIVED = shutil.which("keepalived") or "/usr/sbin/keepalived"

BAD = """\
driver: nft-dsr
pod_networks: [172.16.0.0/16]
maglev: {table_size: 4096, seed: -1}
colour: blue
services:
  - name: Web
    vip: 10.1.1.300
    port: 80
  - name: api
    vip: 10.1.1.2
    port: 80
    target_port: 8080
    backends: [172.16.1.10, 10.0.0.1]
metrics: {address: "::", port: 9474}
"""


def test_config_check_lists_every_problem_at_its_place(tmp_path: Path) -> None:
    path = tmp_path / "dp.yaml"
    path.write_text(BAD)
    result = run("dataplane.main", "config", "check", str(path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    found = "\n".join(lines)
    for expected in (
        "colour: unknown key; remove it or check its spelling",
        "maglev.table_size: table size 4096 is not a prime",
        "maglev.seed: Input should be greater than or equal to 0",
        "services[0].name: String should match pattern",
        "services[0].vip: '10.1.1.300' is not an IP address",
        "metrics.address: this would listen on every address",
    ):
        assert expected in found, found
    assert result.stdout == ""


def test_whole_file_problems_come_once_fields_are_valid(tmp_path: Path) -> None:
    path = tmp_path / "dp.yaml"
    fixed = {"table_size: 4096, seed: -1": "table_size: 4093, seed: 1", "colour: blue\n": "",
             "name: Web": "name: web", "10.1.1.300": "10.1.1.1", '"::"': "127.0.0.1"}  # fmt: skip
    text = BAD
    for bad, good in fixed.items():
        text = text.replace(bad, good)
    path.write_text(text)
    result = run("dataplane.main", "config", "check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: services[0]: give backends: [addresses] or kubernetes: {{namespace, service}}, one of them",
        f"{path}: services[0].dscp: nft-dsr needs a DSCP value 1-31 per service",
        f"{path}: services[1].backends[1]: 10.0.0.1 is outside pod_networks (172.16.0.0/16)",
        f"{path}: services[1].dscp: nft-dsr needs a DSCP value 1-31 per service",
        f"{path}: services[1].target_port: 8080: under direct server return the backend answers from "
        "the VIP's own port 80; drop target_port or use nft-nat",
    ]


# the EndpointSlice-backed one is the LB pod's, in the Kubernetes manifests
KUBERNETES_CONFIG = CONFIGS.parent / "deploy" / "kubernetes" / "base" / "lb" / "dataplane.yaml"


@pytest.mark.parametrize("path", [CONFIGS / "dataplane.yaml", KUBERNETES_CONFIG], ids=lambda p: p.name)
def test_the_shipped_configs_check_ok(path: Path) -> None:
    result = run("dataplane.main", "config", "check", str(path))
    # the shipped status_file is under /run/lbroute, which may not exist here
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        assert result.stderr.strip().endswith("status_file: /run/lbroute is not a directory"), result.stderr
    else:
        assert result.stdout.startswith(f"{path}: ok (")


def test_the_realserver_config_checks_without_its_address_in_the_environment() -> None:
    result = run("dataplane.realserver_main", "config", "check", str(CONFIGS / "dataplane-realserver.yaml"))
    assert result.returncode == 0, result.stderr
    assert "ok ($POD_IP, 1 services, second chance on)" in result.stdout


def test_the_realserver_refuses_a_pod_ip_that_is_not_one(tmp_path: Path) -> None:
    result = run(
        "dataplane.realserver_main", "run", "--config", str(CONFIGS / "dataplane-realserver.yaml"),
        env={"POD_IP": "x" * 200, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 2
    assert (
        result.stderr.count("\n") == 1 and "$POD_IP is 'xxxxxxxx" in result.stderr and "..." in result.stderr
    )


def shipped(name: str, tmp_path: Path) -> str:
    """A shipped config, its status file moved to ``tmp_path``."""
    return (CONFIGS / name).read_text().replace("/run/lbroute/dataplane.json", str(tmp_path / "s.json"))


def keepalived_config_test(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KEEPALIVED, "--config-test", "-f", str(path)], capture_output=True, text=True, timeout=30
    )


def test_the_rendered_keepalived_config_passes_config_test(tmp_path: Path) -> None:
    cfg = tmp_path / "dp.yaml"
    cfg.write_text(
        (CONFIGS / "dataplane.yaml")
        .read_text()
        .replace("/run/lbroute/dataplane.json", str(tmp_path / "s.json"))
    )
    out = tmp_path / "ipvs.conf"
    result = run("dataplane.main", "render-keepalived", "--config", str(cfg), "--output", str(out))
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert "lb_algo mh" in text and text.index("172.16.1.10") < text.index("172.16.2.10") < text.index(
        "172.16.3.10"
    )
    checked = keepalived_config_test(out)
    assert checked.returncode == 0, checked.stderr
    # and the check is a real one: keepalived refuses a scheduler it does not know
    out.write_text(text.replace("lb_algo mh", "lb_algo nosuch"))
    assert keepalived_config_test(out).returncode != 0


def test_the_golden_keepalived_config_passes_config_test() -> None:
    checked = keepalived_config_test(Path(__file__).parents[1] / "unit" / "golden" / "keepalived.conf")
    assert checked.returncode == 0, checked.stderr


def test_render_keepalived_never_overwrites_a_file_it_did_not_write(tmp_path: Path) -> None:
    cfg = tmp_path / "dp.yaml"
    cfg.write_text(
        (CONFIGS / "dataplane.yaml")
        .read_text()
        .replace("/run/lbroute/dataplane.json", str(tmp_path / "s.json"))
    )
    theirs = tmp_path / "keepalived.conf"
    theirs.write_text("global_defs { router_id theirs }\n")
    result = run("dataplane.main", "render-keepalived", "--config", str(cfg), "--output", str(theirs))
    assert result.returncode == 2
    assert "not written by render-keepalived; not overwritten" in result.stderr
    assert theirs.read_text() == "global_defs { router_id theirs }\n"


def test_render_keepalived_refuses_backends_it_cannot_know(tmp_path: Path) -> None:
    cfg = tmp_path / "dp.yaml"
    cfg.write_text(
        KUBERNETES_CONFIG.read_text().replace("/run/lbroute/dataplane.json", str(tmp_path / "s.json"))
    )
    result = run("dataplane.main", "render-keepalived", "--config", str(cfg))
    assert result.returncode == 2
    assert "take backends from Kubernetes" in result.stderr and result.stdout == ""


def test_the_ipvs_driver_on_a_kernel_without_ipvs_says_so_and_exits_1(tmp_path: Path) -> None:
    """This kernel has no IPVS: the driver's socket cannot bind its netlink family. Nothing
    is changed anywhere (the socket only asks)."""
    cfg = tmp_path / "dp.yaml"
    cfg.write_text(shipped("dataplane.yaml", tmp_path).replace("driver: nft-dsr", "driver: ipvs"))
    result = run("dataplane.main", "run", "--config", str(cfg), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "the ipvs driver cannot start here: " in result.stderr and "CONFIG_IP_VS" in result.stderr


def _write_status(path: Path, *, ready: bool = True, age: float = 0.0, in_sync: bool = True) -> None:
    spec = ServiceSpec("web", "10.1.1.1", 80, 80)
    kept = next_table(spec, [Endpoint("172.16.1.10")], None, 251, 1)
    table = next_table(spec, [Endpoint("172.16.1.10", ready=ready)], kept, 251, 1)
    status = status_of(
        "nft-dsr", Dataplane((table,), 251, 1), now=time.time() - age, synced=True, in_sync=in_sync,
        generation=3,
    )  # fmt: skip
    path.write_text(status_json(status))


def test_status_passes_while_run_keeps_the_kernels_table_and_says_why_not(tmp_path: Path) -> None:
    """The LB pod's readiness probe: the controller's own state, not whether a VIP has a
    backend (the announcer gates each VIP on that)."""
    cfg = tmp_path / "dp.yaml"
    cfg.write_text(shipped("dataplane.yaml", tmp_path))
    status = tmp_path / "s.json"
    missing = run("dataplane.main", "status", "--config", str(cfg))
    assert missing.returncode == 1 and "s.json" in missing.stderr and missing.stdout == ""
    _write_status(status)
    ok = run("dataplane.main", "status", "--config", str(cfg))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"{status}: ok (generation 3; web 1 ready)\n"
    _write_status(status, ready=False)
    assert run("dataplane.main", "status", "--config", str(cfg)).returncode == 0
    for kw, why in (({"age": 60.0}, "is lbroute-dataplane running?"), ({"in_sync": False}, "differs")):
        _write_status(status, **kw)  # type: ignore[arg-type]
        failed = run("dataplane.main", "status", "--config", str(cfg))
        assert failed.returncode == 1 and why in failed.stderr, failed.stderr
    _write_status(status, age=60.0)
    assert run("dataplane.main", "status", "--config", str(cfg), "--max-age", "120").returncode == 0
    status.write_text('{"something": "else"}')
    foreign = run("dataplane.main", "status", "--config", str(cfg))
    assert foreign.returncode == 1 and "not a version-1 data-plane status" in foreign.stderr
