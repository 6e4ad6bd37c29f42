"""``hold_during`` when the hold probe misbehaves: it never opens its connections, never ends,
or reports what is not JSON. Each is a one-line ``LabError`` (the CLI's exit code 2), never a
traceback; the probe is a stand-in process on this machine, no namespace is made."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from lbroute.lab import hold
from lbroute.lab.errors import LabError
from lbroute.lab.lab import Lab

LAB = cast(
    Lab, SimpleNamespace(topology=SimpleNamespace(client_ns="none"), scenario=SimpleNamespace(dataplane=None))
)


def probe(monkeypatch: pytest.MonkeyPatch, script: str) -> None:
    """The probe replaced by ``sh -c script`` (``$1``: its progress file, ``$2``: its done file)."""

    def argv(netns: str, *args: str) -> list[str]:
        files = [args[args.index("--progress-file") + 1], args[args.index("--done-file") + 1]]
        return ["/usr/bin/sh", "-c", script, "probe", *files]

    monkeypatch.setattr(hold, "netns_exec", argv)


@pytest.mark.parametrize(
    ("script", "says", "seconds"),
    [
        ("exec sleep 30", "the hold probe: the hold probe's connections open not reached within 0.3s", 0.3),
        ('touch "$1"; exec sleep 30', "the hold probe did not end within 0.5s; it was killed", 0.3),
        (
            'touch "$1"; while [ ! -e "$2" ]; do sleep 0.02; done; echo "oops{"',
            "report is not JSON: oops{",
            1,
        ),
        ('touch "$1"; while [ ! -e "$2" ]; do sleep 0.02; done; echo no >&2; exit 1', "failed: no", 1),
        ('echo "first\nsecond" >&2; exit 1', "failed before its connections were open: first second", 60),
    ],
)
def test_a_probe_that_misbehaves_is_one_line_lab_error(
    script: str, says: str, seconds: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe(monkeypatch, script)
    monkeypatch.setattr(hold, "END_GRACE_SECONDS", 0.1)
    with pytest.raises(LabError) as caught:
        hold.hold_during(LAB, "10.1.1.1", 1, 0.3, lambda: None, timeout=0.1, open_within=seconds)
    assert says in str(caught.value) and "\n" not in str(caught.value)
