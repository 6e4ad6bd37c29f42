"""``lbroute lab up --images``: the LB pods' sidecars and the RRs run from this tree's images,
inside the lab's namespaces, as the least privilege they were built for; and ``lab down``
removes every container, by recorded id or, after a crash, by the lab's label."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import list_netns
from lbroute.lab import daemons
from lbroute.lab.lab import Lab
from lbroute.lab.podman import podman
from tests.support.fib import VIP
from tests.support.images import built_images, containers_labelled, live_conmons
from tests.support.lab import LabFactory, unique_prefix

NET_BIND_SERVICE = 1 << 10


def status_of(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


@pytest.mark.images
def test_lab_up_images_runs_each_part_from_its_image_as_its_own_user(make_lab: LabFactory) -> None:
    built = built_images()
    prefix = unique_prefix()
    lab = Lab(prefix, root=make_lab.root)
    make_lab.labs.append(lab)  # taken down (and checked) after the test, pass or fail
    result = subprocess.run(
        [str(daemons.VENV_BIN / "lbroute"), "lab", "up", "--images", "--lbs", "2", "--prefix", prefix,
         "--json"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "LBROUTE_STATE_ROOT": str(make_lab.root)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["images"] == {"announcer": built.announcer, "control-plane": built.control_plane}
    assert report["router_fib"] == {VIP: ["10.0.0.11", "10.0.0.12"]}
    lab = Lab(prefix, root=make_lab.root)
    make_lab.labs[-1] = lab
    # the router's kernel FIB, written by its zebra from what the containers announced
    [route] = read_fib(lab.topology.router_ns, prefix=VIP)
    assert route.next_hops == frozenset({"10.0.0.11", "10.0.0.12"}) and route.protocol == "bgp"
    want = {
        # name: (image, namespace, effective capabilities)
        "exabgp-lb1": (built.announcer, lab.topology.lb_ns(1), 0),
        "exabgp-lb2": (built.announcer, lab.topology.lb_ns(2), 0),
        "gobgpd-rr": (built.control_plane, lab.topology.rr_ns(1), NET_BIND_SERVICE),
        "rr-manager-rr": (built.control_plane, lab.topology.rr_ns(1), 0),
    }
    assert set(lab.state.containers) == set(want)
    assert sorted(containers_labelled(lab.dir)) == sorted(f"{prefix}-{name}" for name in want)
    for name, (image, netns, caps) in want.items():
        record = lab.state.containers[name]
        [info] = json.loads(podman("inspect", record.id).stdout)
        assert info["ImageName"] == image and info["HostConfig"]["ReadonlyRootfs"], name
        pid = int(info["State"]["Pid"])
        status = status_of(pid)
        # inside exactly that lab namespace, as uid 10001, with no capability but what it needs
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{netns}").st_ino, name
        assert status["Uid"].split() == ["10001"] * 4, (name, status["Uid"])
        assert int(status["CapEff"], 16) == caps and int(status["CapBnd"], 16) == caps, (name, status)
    # the sidecar rendered its own exabgp.conf (0600, in its own /run/lbroute) from the pod's
    # announcer.yaml, with the image's announcer as the API process
    rendered = podman(
        "exec", lab.state.containers["exabgp-lb1"].id, "stat", "-c", "%a %u", "/run/lbroute/exabgp.conf"
    )
    assert rendered.stdout.split() == ["600", "10001"]
    conf = podman("exec", lab.state.containers["exabgp-lb1"].id, "cat", "/run/lbroute/exabgp.conf").stdout
    assert f"run /opt/lbroute/venv/bin/lbroute-announcer run --config {lab.dir}/lb1/announcer.yaml;" in conf


@pytest.mark.parametrize("make_lab", ["images"], indirect=True)
@pytest.mark.parametrize("crash", ["state file lost", "run not recorded"])
def test_down_removes_every_container_also_after_a_crash(make_lab: LabFactory, crash: str) -> None:
    lab = make_lab(lbs=1)
    conmons = [(c.conmon_pid, c.conmon_start) for c in lab.state.containers.values()]
    assert len(conmons) == 3 and not live_conmons([]) and len(live_conmons(conmons)) == 3
    if crash == "state file lost":
        (lab.dir / "state.json").unlink()  # down finds the containers by the lab's label
    else:
        # the run of one container never came back: its id and conmon were not recorded
        state = json.loads((lab.dir / "state.json").read_text())
        state["containers"]["exabgp-lb1"].update(id="", conmon_pid=0, conmon_start=0)
        (lab.dir / "state.json").write_text(json.dumps(state))
    Lab(lab.prefix, root=lab.root).down()
    assert containers_labelled(lab.dir) == []
    assert live_conmons(conmons) == []
    assert not [ns for ns in list_netns() if ns.startswith(lab.prefix + "-")]
    assert not lab.dir.exists()
