"""BFD, pure parts: the rr config and what it makes of it, the plan, the metrics and ``peers``'
columns, and the pod side's bfdd.conf (docs/decisions/bfd.md). The real daemons' side is in
tests/integration/test_bfd.py and the round trip."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest

from announcer.bfdd_config import HEADER, render_bfdd_config
from announcer.config import AnnouncerConfig, ExabgpConfig
from announcer.exabgp_config import HEADER as EXABGP_HEADER
from announcer.main import main as announcer_main
from lbroute.cli.peers_cmd import session_json
from lbroute.config import ConfigError, load_config_text
from lbroute.core import bgp
from lbroute.core.session import Session
from rr.config import RrConfig
from rr.desired import desired_config
from rr.reconcile import Reconciler
from tests.fakes.gobgpd import FakeGobgpd
from tests.support.rr import GROUP, KUBE_GROUP, ROUTER, RR, SECRETS


def rr_problems(raw: dict[str, Any]) -> list[str]:
    try:
        load_config_text(_yaml(raw), RrConfig, source="rr.yaml")
    except ConfigError as err:
        return [str(p) for p in err.problems]
    return []


def _yaml(raw: dict[str, Any]) -> str:
    import yaml

    return yaml.safe_dump(raw)


def test_a_speaker_group_with_bfd_gets_300_ms_x_3_multihop_by_default() -> None:
    d = desired_config(RrConfig.model_validate({**RR, "speaker_groups": [{**GROUP, "bfd": {}}]}))
    assert d.peer_groups[0].session.bfd == bgp.Bfd(300_000, 300_000, 3, port=4784)
    # the router neighbor has none unless asked: BFD is per session
    assert d.peers[0].session.bfd is None


def test_timers_and_single_hop_as_configured_for_groups_peers_and_neighbors() -> None:
    bfd = {"transmit_interval_ms": 200, "receive_interval_ms": 250, "detect_multiplier": 5}
    raw = {
        **RR,
        "speaker_groups": [{**KUBE_GROUP, "bfd": {**bfd, "multihop": False}}],
        "neighbors": [{"address": "10.0.0.1", "bfd": bfd}],
    }
    d = desired_config(RrConfig.model_validate(raw), secrets=SECRETS, speakers={"lb": ("172.16.1.2",)})
    by_address = {p.address: p.session.bfd for p in d.peers}
    # the explicit speaker peer (from Kubernetes) and the router: gobgpd to port 3784 both
    assert by_address == {
        "10.0.0.1": bgp.Bfd(200_000, 250_000, 5, port=3784),
        "172.16.1.2": bgp.Bfd(200_000, 250_000, 5, port=3784),
    }


@pytest.mark.parametrize(
    ("bfd", "where"),
    [
        ({"transmit_interval_ms": 9}, "transmit_interval_ms"),
        ({"receive_interval_ms": 60001}, "receive_interval_ms"),
        ({"detect_multiplier": 1}, "detect_multiplier"),
        ({"detect_multiplier": 256}, "detect_multiplier"),
        ({"echo": True}, "echo"),
    ],
)
def test_bfd_values_bfdd_and_gobgpd_would_refuse_are_problems_at_their_place(
    bfd: dict[str, Any], where: str
) -> None:
    found = rr_problems({**RR, "speaker_groups": [{**GROUP, "bfd": bfd}]})
    assert len(found) == 1 and found[0].startswith(f"speaker_groups[0].bfd.{where}: "), found


def test_a_router_with_one_rr_refuses_bfd_towards_it_and_takes_it_with_two() -> None:
    one = {**ROUTER, "neighbors": [{"address": "10.0.0.2", "graceful_restart": {}, "bfd": {}}]}
    assert rr_problems(one) == [
        "neighbors[0].bfd: BFD towards the only RR would turn its restart into an outage; with one "
        "RR graceful restart keeps forwarding: set bfd only with two or more RRs"
    ]
    two = {**ROUTER, "neighbors": [{"address": a, "bfd": {}} for a in ("10.0.0.2", "10.0.0.3")]}
    assert rr_problems(two) == []
    assert {p.session.bfd for p in desired_config(RrConfig.model_validate(two)).peers} == {
        bgp.Bfd(300_000, 300_000, 3, port=3784)
    }
    # an RR does not know how many RRs the router has: its side is not refused
    assert rr_problems({**RR, "neighbors": [{"address": "10.0.0.1", "bfd": {}}]}) == []


def test_a_bfd_change_updates_the_group_and_replaces_the_peer_equal_writes_nothing() -> None:
    raw = {**RR, "speaker_groups": [{**GROUP, "bfd": {}}]}
    daemon = FakeGobgpd()
    Reconciler(daemon, desired_config(RrConfig.model_validate(raw))).reconcile_once()
    assert bgp.plan(desired_config(RrConfig.model_validate(raw)), daemon.observe()).operations == ()
    slower = {
        **raw,
        "speaker_groups": [{**GROUP, "bfd": {"transmit_interval_ms": 500}}],
        "neighbors": [{**RR["neighbors"][0], "bfd": {}}],
    }
    todo = bgp.plan(desired_config(RrConfig.model_validate(slower)), daemon.observe())
    assert [bgp.describe(op) for op in todo.operations] == ["update peer-group lb", "update peer 10.0.0.1"]
    off = bgp.plan(
        desired_config(RrConfig.model_validate({**RR, "speaker_groups": [GROUP]})), daemon.observe()
    )
    assert [bgp.describe(op) for op in off.operations] == ["update peer-group lb"]


def session(bfd: str) -> Session:
    return Session("rr", "172.16.1.2", 65021, "ESTABLISHED", None, 1, 1, None, 3, peer_group="lb", bfd=bfd)


def test_bfd_state_in_the_metrics_only_for_peers_with_bfd() -> None:
    daemon = FakeGobgpd()
    reconciler = Reconciler(
        daemon, desired_config(RrConfig.model_validate({**RR, "speaker_groups": [{**GROUP, "bfd": {}}]}))
    )
    reconciler.reconcile_once()
    daemon.establish("172.16.1.2")
    daemon.establish("172.16.2.2")
    daemon.sessions["172.16.2.2"].bfd_down = True
    reconciler.refresh_peer_metrics()
    text = generate_latest(reconciler.metrics.registry).decode()
    assert 'lbroute_rr_bfd_up{group="lb",peer="172.16.1.2"} 1.0' in text
    assert 'lbroute_rr_bfd_up{group="lb",peer="172.16.2.2"} 0.0' in text
    # a session without BFD has no series at all (not a 0 that would read as "BFD down")
    reconciler.metrics.record_sessions([session("")])
    assert "lbroute_rr_bfd_up{" not in generate_latest(reconciler.metrics.registry).decode()


def test_peers_json_says_the_bfd_state_or_null() -> None:
    assert session_json(session("UP"), 0.0)["bfd"] == "UP"
    assert session_json(session(""), 0.0)["bfd"] is None


# --- the pod's side: bfdd.conf -------------------------------------------------------------------

EXABGP: dict[str, Any] = {
    "neighbors": [{"address": "10.0.0.2"}, {"address": "10.0.0.3"}],
    "local_address": "172.16.1.2",
}


def test_bfdd_conf_has_one_multihop_session_per_rr_from_exabgps_address() -> None:
    text = render_bfdd_config(ExabgpConfig.model_validate({**EXABGP, "bfd": {}}))
    peer = "  receive-interval 300\n  transmit-interval 300\n  detect-multiplier 3\n  minimum-ttl 254\n !\n"
    assert text == (
        f"{HEADER}\nbfd\n"
        f" peer 10.0.0.2 multihop local-address 172.16.1.2\n{peer}"
        f" peer 10.0.0.3 multihop local-address 172.16.1.2\n{peer}"
        "!\n"
    )


def test_bfdd_conf_single_hop_has_no_ttl_floor_and_takes_the_timers() -> None:
    bfd = {"multihop": False, "transmit_interval_ms": 100, "receive_interval_ms": 150, "detect_multiplier": 4}
    text = render_bfdd_config(
        ExabgpConfig.model_validate({**EXABGP, "neighbors": EXABGP["neighbors"][:1], "bfd": bfd})
    )
    assert text.splitlines()[2:] == [
        " peer 10.0.0.2 local-address 172.16.1.2",
        "  receive-interval 150",
        "  transmit-interval 100",
        "  detect-multiplier 4",
        " !",
        "!",
    ]


def test_bfdd_conf_is_refused_without_bfd_and_bad_values_are_problems() -> None:
    with pytest.raises(ValueError, match=r"exabgp\.bfd is not set"):
        render_bfdd_config(ExabgpConfig.model_validate(EXABGP))
    text = _yaml({"exabgp": {**EXABGP, "bfd": {"minimum_ttl": 255, "detect_multiplier": 0}}})
    with pytest.raises(ConfigError) as info:
        load_config_text(text, AnnouncerConfig, source="a.yaml")
    assert sorted(p.where for p in info.value.problems) == [
        "exabgp.bfd.detect_multiplier",
        "exabgp.bfd.minimum_ttl",
    ]


def render(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """``lbroute-announcer render-bfdd-config ...`` in process: exit code, stderr lines, stdout."""
    code = announcer_main(["render-bfdd-config", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, err.strip().splitlines(), out


def test_render_bfdd_output_is_0600_and_replaces_only_its_own_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # main() would configure structlog onto this test's captured output, closed after the test
    monkeypatch.setattr("announcer.main.logs.configure", lambda *args, **kwargs: None)
    config = tmp_path / "announcer.yaml"
    config.write_text(_yaml({"next_hop": "10.0.0.11", "exabgp": {**EXABGP, "bfd": {}}}))
    out = tmp_path / "bfdd.conf"
    os.umask(0o022)
    assert render(capsys, str(config), "--output", str(out)) == (0, [], "")
    assert out.read_text().splitlines()[0] == HEADER and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert render(capsys, str(config), "--output", str(out))[0] == 0  # its own file: replaced
    # not over another renderer's file (exabgp.conf) nor anyone else's
    for first in (EXABGP_HEADER, "bfd"):
        out.write_text(first + "\n")
        code, lines, _ = render(capsys, str(config), "--output", str(out))
        assert code == 2 and lines == [
            f"render-bfdd-config: --output: {out} exists and was not written by render-bfdd-config "
            "(its first line is not the renderer's header); remove it or choose another --output"
        ]
        assert out.read_text() == first + "\n"
    # the pod's address from its environment when the file names none, as for exabgp.conf;
    # neither: one line, exit 2
    from_env = {k: v for k, v in EXABGP.items() if k != "local_address"}
    config.write_text(_yaml({"next_hop": "10.0.0.11", "exabgp": {**from_env, "bfd": {}}}))
    monkeypatch.setenv("POD_IP", "172.16.1.9")
    code, _, text = render(capsys, str(config))
    assert code == 0 and " peer 10.0.0.2 multihop local-address 172.16.1.9" in text.splitlines()
    monkeypatch.delenv("POD_IP")
    code, lines, text = render(capsys, str(config))
    assert (code, text) == (2, "") and len(lines) == 1 and "exabgp.local_address" in lines[0], lines
    # and without BFD in the config there is nothing to render: one line, exit 2
    config.write_text(_yaml({"next_hop": "10.0.0.11", "exabgp": EXABGP}))
    assert render(capsys, str(config)) == (
        2,
        [f"{config}: exabgp.bfd: required to render bfdd's config"],
        "",
    )
