"""This tree's images, and the containers a lab left behind, for the tests that run the lab
from the images."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbroute.lab import images
from lbroute.lab.containers import LABEL_DIR, conmon_alive
from lbroute.lab.errors import LabError
from lbroute.lab.podman import podman
from lbroute.lab.scenario import LabImages

# what the LB pod's bfdd container is granted (deploy/kubernetes/base/lb/deployment.yaml) and
# what the image test starts bfdd with: FRR's privs exit at start without any one of them
BFDD_CAPABILITIES = ("NET_BIND_SERVICE", "NET_RAW", "SYS_ADMIN")


def built_images() -> LabImages:
    """The images built from this tree; the test fails (never skips) when they are missing:
    `make test` builds them first."""
    try:
        refs = images.built_refs()
    except LabError as err:
        pytest.fail(f"the images tests need this tree's images: {err}")
    return LabImages(announcer=refs["announcer"], control_plane=refs["control-plane"])


def containers_labelled(lab_dir: Path) -> list[str]:
    """podman's names of every container, running or not, labelled with ``lab_dir``."""
    listed = podman("ps", "--all", "--format", "{{.Names}}", "--filter", f"label={LABEL_DIR}={lab_dir}")
    return listed.stdout.split()


def live_conmons(pids: list[tuple[int, int]]) -> list[int]:
    """The conmon processes, of (pid, start time), still running."""
    return [pid for pid, started in pids if conmon_alive(pid, started)]
