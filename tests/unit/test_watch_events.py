"""gobgpd's event stream in one vocabulary; ``watch`` reports each session and path change once, and
nothing from the start-of-watch snapshot."""

from __future__ import annotations

from lbroute.core.events import (
    PathChange,
    PrefixesTouched,
    SessionChange,
    SessionReport,
    TouchedPath,
    path_change,
    session_change,
)
from lbroute.core.rib import Path

VIP = "10.1.1.1/32"


def test_session_changes_skip_the_snapshot_and_repeats() -> None:
    known: dict[str, str] = {}
    steps = [
        (SessionReport("172.16.1.2", "ESTABLISHED", initial=True), None),
        (SessionReport("172.16.1.2", "IDLE"), SessionChange(1.0, "rr", "172.16.1.2", "IDLE", "ESTABLISHED")),
        (SessionReport("172.16.1.2", "IDLE"), None),  # gobgpd repeats IDLE before deleting a dynamic peer
        (SessionReport("172.16.4.2", "ACTIVE"), SessionChange(1.0, "rr", "172.16.4.2", "ACTIVE", None)),
        (
            SessionReport("172.16.1.2", "ESTABLISHED"),
            SessionChange(1.0, "rr", "172.16.1.2", "ESTABLISHED", "IDLE"),
        ),
    ]
    for report, expected in steps:
        assert session_change(known, "rr", report, 1.0) == expected
    assert known == {"172.16.1.2": "ESTABLISHED", "172.16.4.2": "ACTIVE"}


def test_path_changes_report_a_new_state_once() -> None:
    known: dict[str, tuple[tuple[str, ...], int]] = {}
    three = [
        Path(VIP, h, "10.0.0.2", path_id=i) for i, h in enumerate(["10.0.0.13", "10.0.0.11", "10.0.0.12"])
    ]
    other = [Path("10.1.2.1/32", "10.0.0.11")]

    first = path_change(known, "router", VIP, three + other, 5.0)
    assert first == PathChange(5.0, "router", VIP, ("10.0.0.11", "10.0.0.12", "10.0.0.13"), 3)
    # the same burst re-read twice: one line
    assert path_change(known, "router", VIP, three, 5.1) is None
    two = three[1:]
    assert path_change(known, "router", VIP, two, 6.0) == PathChange(
        6.0, "router", VIP, ("10.0.0.11", "10.0.0.12"), 2
    )
    assert path_change(known, "router", VIP, [], 7.0) == PathChange(7.0, "router", VIP, (), 0)
    assert path_change(known, "router", VIP, [], 7.5) is None


def test_a_table_event_names_each_prefix_once_in_its_order() -> None:
    event = PrefixesTouched(
        (
            TouchedPath("10.1.2.1/32", "172.16.1.2", False),
            TouchedPath(VIP, "172.16.1.2", False),
            TouchedPath("10.1.2.1/32", "172.16.2.2", True),
        )
    )
    assert event.prefixes == ("10.1.2.1/32", VIP)
    assert SessionReport("10.0.0.1", "ESTABLISHED").established
    assert not SessionReport("10.0.0.1", "OPENCONFIRM").established
