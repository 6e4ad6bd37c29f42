"""``lbroute lab up --images``: the LB pods' sidecars and the RRs run from this tree's images,
inside the lab's namespaces, as the least privilege they were built for; and ``lab down``
removes every container, by recorded id or, after a crash, by the lab's label."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from announcer.config import AnnouncerConfig
from lbroute.config import load_config
from lbroute.kernel.fib import read_fib
from lbroute.kernel.ip import ip, list_netns, netns_exec
from lbroute.lab import daemons
from lbroute.lab.lab import Lab
from lbroute.lab.podman import podman
from lbroute.polling import eventually
from tests.support.fib import VIP
from tests.support.images import BFDD_CAPABILITIES, built_images, containers_labelled, live_conmons
from tests.support.lab import LabFactory, unique_prefix

NET_BIND_SERVICE = 1 << 10
CAP_BITS = {"NET_BIND_SERVICE": 10, "NET_RAW": 13, "SYS_ADMIN": 21}
LB_ANNOUNCER_YAML = Path(__file__).parents[2] / "deploy" / "kubernetes" / "base" / "lb" / "announcer.yaml"
POD_IP = "10.0.0.11"


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


def _run_bfdd(image: str, netns: str, name: str, caps: tuple[str, ...]) -> str:
    """The image's bfdd command, as the manifest's bfdd container runs it: its user, a read-only
    root, only ``caps``, the ConfigMap's announcer.yaml, the pod's address in $POD_IP."""
    argv = ["run", "--detach", "--pull=never", "--name", name, "--network", f"ns:/run/netns/{netns}",
            "--cap-drop", "all", "--read-only", "--user", "10001:10001",
            "--tmpfs", "/run/bfdd:rw,U,mode=0700", "--env", f"POD_IP={POD_IP}",
            "--volume", f"{LB_ANNOUNCER_YAML}:/etc/lbroute/announcer.yaml:ro"]  # fmt: skip
    for cap in caps:
        argv += ["--cap-add", cap]
    return podman(*argv, image, "/usr/local/bin/lbroute-bfdd").stdout.strip()


@pytest.mark.images
def test_the_sidecar_image_runs_bfdd_with_the_manifests_capabilities_and_not_without_any() -> None:
    image = built_images().announcer
    announcer = load_config(LB_ANNOUNCER_YAML, AnnouncerConfig)
    assert announcer.exabgp is not None and announcer.exabgp.bfd is not None
    prefix = unique_prefix()
    netns = f"{prefix}-bfdd"
    ids: list[str] = []
    ip("netns", "add", netns)
    try:
        ip("link", "set", "lo", "up", netns=netns)
        ip("addr", "add", f"{POD_IP}/32", "dev", "lo", netns=netns)
        ids.append(_run_bfdd(image, netns, f"{prefix}-bfdd-all", BFDD_CAPABILITIES))

        def listening() -> set[str]:
            out = subprocess.run(
                netns_exec(netns, "ss", "-ulnpH"), capture_output=True, text=True, check=True
            ).stdout
            ports = {line.split()[3].rsplit(":", 1)[1] for line in out.splitlines() if '"bfdd"' in line}
            assert {"3784", "4784"} <= ports, out  # single-hop and multihop BFD
            return ports

        eventually(
            listening, 15, interval=0.1, what="bfdd listening", context=lambda: podman("logs", ids[0]).stderr
        )
        [info] = json.loads(podman("inspect", ids[0]).stdout)
        assert info["State"]["Running"], info["State"]
        status = status_of(int(info["State"]["Pid"]))
        # as the image's user, holding exactly the three (from its file capability) and no more
        caps = sum(1 << CAP_BITS[c] for c in BFDD_CAPABILITIES)
        assert status["Uid"].split() == ["10001"] * 4, status["Uid"]
        assert int(status["CapPrm"], 16) == caps and int(status["CapBnd"], 16) == caps, status
        # its config rendered from the ConfigMap's announcer.yaml, from the pod's address
        conf = podman("exec", ids[0], "cat", "/run/bfdd/bfdd.conf").stdout.splitlines()
        for neighbor in announcer.exabgp.neighbors:
            assert f" peer {neighbor.address} multihop local-address {POD_IP}" in conf, conf
        assert f"  detect-multiplier {announcer.exabgp.bfd.detect_multiplier}" in conf, conf
        # without any one of the three, bfdd exits at start: the list is what it needs
        for missing in BFDD_CAPABILITIES:
            fewer = tuple(c for c in BFDD_CAPABILITIES if c != missing)
            ids.append(_run_bfdd(image, netns, f"{prefix}-bfdd-no-{missing.lower()}", fewer))

            def exited(cid: str = ids[-1]) -> dict[str, object]:
                [info] = json.loads(podman("inspect", cid).stdout)
                assert not info["State"]["Running"], info["State"]
                return dict(info["State"])

            state = eventually(exited, 15, interval=0.1, what=f"bfdd without {missing} exits")
            logs = podman("logs", ids[-1])
            assert state["ExitCode"] == 1, (missing, state)
            assert "initial cap_set_proc failed" in logs.stdout + logs.stderr, (missing, logs.stderr)
    finally:
        for cid in ids:
            podman("rm", "--force", "--time", "0", cid, check=False)
        ip("netns", "del", netns, check=False)
    assert not [ns for ns in list_netns() if ns.startswith(prefix)]
