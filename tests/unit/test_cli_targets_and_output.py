"""The CLI's edges without daemons or processes: targets from flags and env, argument types, output."""

from __future__ import annotations

import argparse
import json

import pytest

from lbroute.cli.errors import TargetError
from lbroute.cli.main import parser
from lbroute.cli.output import duration, print_json, timestamp
from lbroute.cli.targets import Targets, resolve
from lbroute.cli.vips_cmd import dataplane_entries
from lbroute.core.dataplane import Dataplane, Endpoint, ServiceSpec, next_table, status_of
from lbroute.core.session import Session, sessions_order
from lbroute.lab.dataplane import STATUS_MAX_AGE


def args_of(*argv: str) -> argparse.Namespace:
    return parser().parse_args(list(argv))


def test_flags_win_over_the_environment() -> None:
    env = {
        "LBROUTE_RR": "/env/rr.sock",
        "LBROUTE_ROUTER": "/env/router.sock",
        "LBROUTE_ROUTER_NETNS": "envns",
    }
    t = resolve(args_of("vips", "--rr", "/flag/rr.sock", "--router-netns", "flagns"), env)
    assert [(d.name, d.address) for d in t.rrs] == [("rr", "/flag/rr.sock")]
    assert t.router is not None and t.router.address == "/env/router.sock"
    assert t.router_netns == "flagns"


def test_several_rrs_from_flags_or_env_are_numbered() -> None:
    t = resolve(args_of("peers", "--rr", "a:50051", "--rr", "b:50051"), {})
    assert [(d.name, d.address) for d in t.rrs] == [("rr1", "a:50051"), ("rr2", "b:50051")]
    t = resolve(args_of("peers"), {"LBROUTE_RR": "a:50051, b:50051"})
    assert [d.name for d in t.rrs] == ["rr1", "rr2"]
    assert [d.name for d in t.daemons] == ["rr1", "rr2"]


def no_labs() -> list[str]:
    return []


def test_vip_pools_from_flags_and_env_normalised() -> None:
    env = {"LBROUTE_VIP_POOL": "10.2.0.0/16,10.1.0.0/16"}
    t = resolve(args_of("vips", "--vip-pool", "10.1.0.5/16"), env, labs=no_labs)
    assert t.vip_pools == ("10.1.0.0/16", "10.2.0.0/16")
    with pytest.raises(TargetError, match="LBROUTE_VIP_POOL"):
        resolve(args_of("vips"), {"LBROUTE_VIP_POOL": "ten"}, labs=no_labs)


def test_missing_targets_say_what_to_pass() -> None:
    t = resolve(args_of("vips"), {}, labs=no_labs)
    with pytest.raises(TargetError, match="--rr"):
        t.need_rrs()
    with pytest.raises(TargetError, match="--router"):
        t.need_daemons()


def test_with_no_target_at_all_the_one_running_lab_stands_in(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from lbroute.cli import targets

    read: list[str] = []

    def lab_targets(lab: object, pools: list[str], timeout: float = 10.0) -> Targets:
        read.append(lab.prefix)  # type: ignore[attr-defined]
        return Targets((), None, f"{lab.prefix}-router", (), timeout)  # type: ignore[attr-defined]

    monkeypatch.setattr(targets, "lab_targets", lab_targets)
    t = resolve(args_of("vips"), {}, labs=lambda: ["lbr"])
    assert read == ["lbr"] and t.router_netns == "lbr-router"
    assert "reading lab 'lbr', the only one running" in capsys.readouterr().err
    # not when any target is given, by flag or environment, nor for `fib` (the host's FIB by default)
    for argv, env in (
        (["vips", "--rr", "/x.sock"], {}),
        (["vips"], {"LBROUTE_ROUTER": "/y.sock"}),
        (["vips", "--router-netns", "ns1"], {}),
        (["fib"], {}),
    ):
        resolve(args_of(*argv), env, labs=lambda: ["lbr"])
    assert read == ["lbr"]
    # two labs: no guess, but the error names them
    t = resolve(args_of("peers"), {}, labs=lambda: ["lbr", "zz"])
    with pytest.raises(TargetError, match=r"labs running: lbr, zz"):
        t.need_daemons()


@pytest.mark.parametrize(
    "flag",
    [["--rr", "/x.sock"], ["--router", "/y.sock"], ["--router-vtysh", "/run/frr"], ["--router-netns", "ns1"]],
)
def test_lab_refuses_other_target_flags_beside_it(flag: list[str]) -> None:
    with pytest.raises(TargetError, match=f"--lab lbr sets every target itself; drop {flag[0]} "):
        resolve(args_of("vips", "--lab", "lbr", *flag), {}, labs=no_labs)


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("LBROUTE_RR", "127.0.0.1:99999", "port 99999 is not between 1 and 65535"),
        ("LBROUTE_RR", "a:1,unix:relative", "write a unix socket as unix:///absolute/path"),
        ("LBROUTE_ROUTER", "localhost", "is not a gobgpd address"),
    ],
)
def test_targets_from_the_environment_are_checked_like_flags(variable: str, value: str, says: str) -> None:
    with pytest.raises(TargetError, match=f"^{variable}: .*{says}"):
        resolve(args_of("vips"), {variable: value}, labs=no_labs)


def test_an_frr_router_is_read_through_vtysh_from_a_flag_or_the_environment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for t in (
        resolve(args_of("vips", "--rr", "/rr.sock", "--router-vtysh", "/var/run/frr"), {}),
        resolve(args_of("vips", "--rr", "/rr.sock"), {"LBROUTE_ROUTER_VTYSH": "/var/run/frr"}),
    ):
        assert t.router is not None
        assert (t.router.name, t.router.address, t.router.kind) == ("router", "/var/run/frr", "frr")
    plain = resolve(args_of("vips", "--rr", "/rr.sock", "--router", "/g.sock"), {})
    assert plain.router is not None and plain.router.kind == "gobgpd"
    with pytest.raises(TargetError, match=r"either a gobgpd .* or an FRR bgpd"):
        resolve(args_of("vips", "--router", "/g.sock", "--router-vtysh", "/var/run/frr"), {})
    with pytest.raises(TargetError, match="either a gobgpd"):
        resolve(args_of("vips", "--router-vtysh", "/var/run/frr"), {"LBROUTE_ROUTER": "/g.sock"})
    with pytest.raises(
        TargetError, match=r"^LBROUTE_ROUTER_VTYSH: 'run/frr': give bgpd's vty socket directory"
    ):
        resolve(args_of("vips"), {"LBROUTE_ROUTER_VTYSH": "run/frr"}, labs=no_labs)
    with pytest.raises(SystemExit):
        args_of("vips", "--router-vtysh", "frr")
    assert "give bgpd's vty socket directory as an absolute path" in capsys.readouterr().err


def test_timestamps_and_durations() -> None:
    assert timestamp(1795671833.25) == "2026-11-26T05:43:53.250Z"
    assert [duration(s) for s in (None, 5, 192, 18180, 187200)] == ["-", "5s", "3m12s", "5h03m", "2d04h"]


def test_session_counters_and_order() -> None:
    def session(at: str, neighbor: str, received: int = 0, accepted: int = 0) -> Session:
        return Session(at, neighbor, 65021, "ESTABLISHED", 100.0, received, accepted, 0, 3)

    s = session("rr", "172.16.1.2", received=5, accepted=3)
    assert s.rejected == 2 and s.established
    assert s.age(160.5) == 60.5
    found = [session("router", "10.0.0.2"), session("rr", "172.16.10.2"), session("rr", "172.16.9.2")]
    assert [(x.at, x.neighbor) for x in sessions_order(found, ["rr", "router"])] == [
        ("rr", "172.16.9.2"),
        ("rr", "172.16.10.2"),
        ("router", "10.0.0.2"),
    ]


def test_json_lists_are_one_object_per_line_and_valid(capsys: pytest.CaptureFixture[str]) -> None:
    for data in (
        [],
        [{"prefix": "10.1.1.1/32", "fib_next_hops": None}, {"prefix": "10.1.2.1/32"}],
        {"equal": True},
    ):
        print_json(data)
        out = capsys.readouterr().out
        assert json.loads(out) == data
        if isinstance(data, list) and data:
            assert len(out.strip().splitlines()) == len(data) + 2


def test_vips_lab_in_sync_is_the_announcers_gate_so_a_stale_status_is_not() -> None:
    """The status file says in sync; written long ago (the controller is gone), it is not."""
    web = next_table(ServiceSpec("web", "10.1.1.1", 80, 80), [Endpoint("172.16.1.10")], None, 251, 7)
    status = status_of(
        "nft-nat", Dataplane((web,), 251, 7), now=100.0, synced=True, in_sync=True, generation=3
    )
    fresh = dataplane_entries("lb1", status, now=100.0 + STATUS_MAX_AGE)
    assert [(vip, e["in_sync"], e["reason"]) for vip, e in fresh] == [("10.1.1.1/32", True, "")]
    [(_, stale)] = dataplane_entries("lb1", status, now=100.0 + STATUS_MAX_AGE + 1)
    assert (
        stale["in_sync"] is False
        and "old" in stale["reason"]
        and "is lbroute-dataplane running?" in stale["reason"]
    )
