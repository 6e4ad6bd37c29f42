"""FRR's own parser accepts every frr.conf the renderer writes; vtysh's output is read bounded.

``bgpd -C`` (dry run) parses a config with the real FRR 8.4 and exits; it names each line it
cannot take (and still exits 0), so the check reads what it says. The vtysh reads run a
stand-in program in vtysh's place, one that misbehaves the way a stuck or flooded vtysh would.
"""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lbroute.frr.frr_conf import FrrRouter, RrNeighbor, render
from lbroute.frr.vtysh import Vtysh, VtyshError
from lbroute.lab.frr_router import BGPD, frr_router
from lbroute.lab.scenario import Scenario
from lbroute.lab.topology import Topology


def bgpd_complaints(conf: str, tmp_path: Path) -> str:
    """What bgpd's dry run says about ``conf``: empty when it takes every line."""
    path = tmp_path / "frr.conf"
    path.write_text(conf)
    result = subprocess.run(
        [str(BGPD), "-C", "-S", "-f", str(path), "--vty_socket", str(tmp_path), "-z", str(tmp_path / "zs")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # a note bgpd prints for a graceful-restart setting of a peer with no session yet
    said = [line for line in (result.stdout + result.stderr).splitlines() if "reset this peer" not in line]
    return "\n".join(said)


@pytest.mark.parametrize(
    ("rrs", "graceful_restart"),
    [(1, 30), (2, 0)],
)
def test_bgpd_takes_every_line_of_the_lab_config(tmp_path: Path, rrs: int, graceful_restart: int) -> None:
    topo = Topology("lbr", 3, rrs=rrs)
    conf = render(frr_router(topo, Scenario(graceful_restart=graceful_restart).for_topology(topo)))
    assert bgpd_complaints(conf, tmp_path) == ""


def test_bgpd_takes_an_md5_key_and_ipv6(tmp_path: Path) -> None:
    router = FrrRouter(
        "r1",
        65021,
        "10.0.0.1",
        (RrNeighbor("fd00::2", md5_password="k3y!", graceful_restart=True),),
        "fd00::1",
        families=("ipv4-unicast", "ipv6-unicast"),
    )
    assert bgpd_complaints(render(router), tmp_path) == ""


def test_the_check_sees_a_line_bgpd_refuses(tmp_path: Path) -> None:
    topo = Topology("lbr", 3)
    conf = render(frr_router(topo, Scenario().for_topology(topo)))
    broken = conf.replace(
        " exit-address-family", "  neighbor 10.0.0.2 addpath-rx-all-paths\n exit-address-family"
    )
    assert "No such command" in bgpd_complaints(broken, tmp_path)


def stand_in(tmp_path: Path, body: str) -> Vtysh:
    """A Vtysh whose vtysh is a small Python program (and a bgpd.vty for it to find)."""
    program = tmp_path / "vtysh"
    program.write_text(f"#!{sys.executable}\nimport select, sys\n{body}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "bgpd.vty").touch()
    return Vtysh(str(tmp_path), timeout=2.0, max_output=10_000, binary=program)


def test_output_past_the_limit_is_refused_not_read(tmp_path: Path) -> None:
    vtysh = stand_in(tmp_path, "sys.stdout.write('x' * 1_000_000)")
    with pytest.raises(VtyshError, match="more than 10000 bytes") as err:
        vtysh.json("show bgp ipv4 unicast json")
    assert not err.value.transient


def test_a_vtysh_that_does_not_answer_is_given_up_on(tmp_path: Path) -> None:
    vtysh = stand_in(tmp_path, "select.select([], [], [])")  # a vtysh that hangs, never answers
    with pytest.raises(VtyshError, match="did not answer within 2s") as err:
        vtysh.json("show bgp neighbors json")
    assert err.value.transient


def test_a_bgpd_that_is_not_running_is_transient_and_says_so(tmp_path: Path) -> None:
    vtysh = stand_in(tmp_path, "print('bgpd is not running'); sys.exit(1)")
    with pytest.raises(VtyshError, match="exit 1: bgpd is not running") as err:
        vtysh.json("show bgp neighbors json")
    assert err.value.transient
    (tmp_path / "bgpd.vty").unlink()
    with pytest.raises(VtyshError, match="no bgpd vty socket") as err:
        vtysh.json("show bgp neighbors json")
    assert err.value.transient


def test_an_answer_that_is_json_is_read(tmp_path: Path) -> None:
    vtysh = stand_in(tmp_path, "print('{\"routes\": {}}')")
    assert vtysh.list_paths() == []
