"""What the lab's containers run, as whom and with which capabilities (``--images``): least
privilege read off the ``podman run`` command line, without podman; and what a lab from
images refuses and remembers."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbroute.lab.containers import (
    IMAGE_UID,
    ContainerSpec,
    rr_gobgpd,
    rr_manager,
    run_argv,
    speaker,
)
from lbroute.lab.scenario import LabImages, Scenario, ScenarioError
from lbroute.lab.state import ContainerRecord, LabState
from lbroute.lab.topology import Topology

LAB = Path("/run/lbroute/lbr")
CP, AN = (
    "localhost/lbroute/control-plane:0.1.0-aaaaaaaaaaaa",
    "localhost/lbroute/announcer:0.1.0-bbbbbbbbbbbb",
)


def argv_of(spec: ContainerSpec) -> list[str]:
    return run_argv(spec, f"lbr-{spec.name}", {"lbroute.lab.dir": str(LAB)}, LAB / "containers", LAB / "logs")


def values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv) if word == flag]


def test_every_container_drops_every_capability_keeps_a_read_only_root_and_stays_in_its_namespace() -> None:
    specs = [
        speaker(AN, "lbr-lb1", LAB / "lb1", "lb1"),
        rr_gobgpd(CP, "lbr-rr", LAB / "rr" / "gobgp.sock"),
        rr_manager(CP, "lbr-rr", LAB / "rr" / "gobgp.sock", LAB / "config" / "rr.yaml"),
    ]
    for spec in specs:
        argv = argv_of(spec)
        assert values(argv, "--cap-drop") == ["all"], spec.name
        assert "--read-only" in argv and "--privileged" not in argv, spec.name
        assert values(argv, "--network") == [f"ns:/run/netns/{spec.netns}"], spec.name
        assert "--pull=never" in argv and values(argv, "--label") == [f"lbroute.lab.dir={LAB}"]
        # recorded where `lab down` finds them, logs where the process's would be
        assert values(argv, "--cidfile") == [f"{LAB}/containers/{spec.name}.cid"]
        assert values(argv, "--conmon-pidfile") == [f"{LAB}/containers/{spec.name}.conmon"]
        assert values(argv, "--log-opt") == [f"path={LAB}/logs/{spec.name}.log"]
        # bind mounts of the lab's own directories only, at the same path
        assert all(
            m.split(":")[0] == m.split(":")[1] and m.startswith(str(LAB)) for m in values(argv, "--volume")
        )


def test_who_runs_what() -> None:
    pod = speaker(AN, "lbr-lb1", LAB / "lb1", "lb1")
    assert (pod.user, pod.cap_add, pod.command) == (None, (), ())  # the image's user and command
    assert dict(pod.env) == {"LBROUTE_ANNOUNCER_CONFIG": f"{LAB}/lb1/announcer.yaml"}
    assert pod.mounts == (LAB / "lb1",)
    gobgpd = rr_gobgpd(CP, "lbr-rr", LAB / "rr" / "gobgp.sock")
    assert gobgpd.cap_add == ("NET_BIND_SERVICE",) and gobgpd.user == f"{IMAGE_UID}:{IMAGE_UID}"
    assert gobgpd.command[:3] == ("gobgpd", "--api-hosts", f"unix://{LAB}/rr/gobgp.sock")
    assert {"--pprof-disable", "--metrics-path="} <= set(gobgpd.command)
    manager = rr_manager(CP, "lbr-rr", LAB / "rr" / "gobgp.sock", LAB / "config" / "rr.yaml")
    # gobgpd's API socket is 0755: the manager must be the same user, and needs nothing else
    assert manager.user == gobgpd.user and manager.cap_add == ()
    assert manager.command == ("lbroute-rr", "run", "--config", f"{LAB}/config/rr.yaml")
    assert (gobgpd.name, manager.name) == ("gobgpd-rr", "rr-manager-rr")


IMAGES = LabImages(announcer=AN, control_plane=CP)


@pytest.mark.parametrize(
    ("scenario", "says"),
    [
        (Scenario(images=IMAGES, kube_api="http://127.0.0.1:1"), "images: not with kube_api"),
        (Scenario(images=IMAGES, rogue_lb=1), "images: not with rogue_lb"),
    ],
)
def test_what_a_lab_from_images_cannot_do_is_refused(scenario: Scenario, says: str) -> None:
    with pytest.raises(ScenarioError, match=says):
        scenario.for_topology(Topology("lbr", 2))


def test_the_images_and_containers_survive_the_state_file(tmp_path: Path) -> None:
    from lbroute.lab.state import claim_directory

    claim_directory(tmp_path / "lbr")
    record = ContainerRecord("gobgpd-rr", "lbr-gobgpd-rr", "ab" * 32, 4242, 99, "lbr-rr", CP, "/x.log")
    state = LabState(prefix="lbr", lbs=1, scenario=Scenario(images=IMAGES), containers={"gobgpd-rr": record})
    state.save(tmp_path)
    assert LabState.load("lbr", tmp_path) == state
