"""The environment variables both programs read, set to anything: an address where one is
expected, text, unicode, 100 KB values. Each is used or refused with a problem naming the
variable, on one printable line and without echoing the value whole — never an exception."""

from __future__ import annotations

import argparse
import ipaddress
from pathlib import Path

import pytest
import structlog
from hypothesis import example, given
from hypothesis import strategies as st

from announcer.config import AnnouncerConfig, ExabgpConfig, MetricsConfig
from announcer.main import main as announcer_main
from dataplane.config import RealserverConfig
from dataplane.realserver_main import own_address
from lbroute import logs
from lbroute.cli.errors import TargetError
from lbroute.cli.main import parser
from lbroute.cli.targets import resolve
from lbroute.config import ConfigError, Problem, load_config
from tests.support.properties import BAD_INPUT, odd_text

CONFIGS = Path(__file__).parents[2] / "configs"

addresses = st.one_of(st.ip_addresses().map(str), st.ip_addresses().map(lambda a: f" {a}\n"))
values = st.one_of(
    odd_text,
    addresses,
    st.sampled_from(["0.0.0.0", "255.255.255.255", "::1", "::ffff:10.0.0.1", "10.0.0.11/32",
                     "10.0.0.11,10.0.0.12", "fe80::1%eth0", "1" * 100000, "unix:///x", "a:50051, :", ", ,"]),
)  # fmt: skip


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip())
    except ValueError:
        return False
    return True


def assert_clear(problems: list[Problem], var: str) -> None:
    for problem in problems:
        assert (
            problem.where in (f"${var}", var) or var in problem.what or problem.where.startswith("services[")
        )
        assert str(problem).isprintable() and len(str(problem)) < 600, str(problem)[:1000]


ANNOUNCER = AnnouncerConfig.model_validate(
    {"services": [{"name": "web", "vips": ["10.1.1.1/32"]}, {"name": "six", "vips": ["2001:db8::1/128"]}]}
)


@BAD_INPUT
@given(node_ip=values, node_ip6=values)
@example(node_ip="1" * 100000, node_ip6="")
@example(node_ip="2001:db8::11", node_ip6="2001:db8::12")
def test_node_ip_and_node_ip6(node_ip: str, node_ip6: str) -> None:
    hops, problems = ANNOUNCER.resolve_next_hops({"NODE_IP": node_ip, "NODE_IP6": node_ip6})
    for var in ("NODE_IP", "NODE_IP6"):
        assert_clear([p for p in problems if p.where == f"${var}"], var)
    assert_clear([p for p in problems if not p.where.startswith("$")], "NODE_IP")
    if not problems:
        assert hops.v4 is not None and ipaddress.ip_address(hops.v4).version == 4
        assert hops.v6 is not None and ipaddress.ip_address(hops.v6).version == 6
    for hop in (hops.v4, hops.v6):
        assert hop is None or is_address(hop)  # nothing but an address is ever a next-hop
    if not is_address(node_ip) and node_ip:
        assert any(p.where == "$NODE_IP" for p in problems)


@BAD_INPUT
@given(pod_ip=values)
def test_the_pod_address_of_exabgp_metrics_and_the_realserver(pod_ip: str) -> None:
    env = {"POD_IP": pod_ip}
    exabgp = ExabgpConfig.model_validate({"neighbors": [{"address": "10.0.0.2"}]})
    local, problems = exabgp.resolve_local_address(env)
    assert_clear(problems, "POD_IP")
    assert (local is None) == bool(problems) and (local is None or is_address(local))
    metrics = MetricsConfig.model_validate({"address_env": "POD_IP"})
    bind, problems = metrics.resolve_address(env)
    assert_clear(problems, "POD_IP")
    assert (bind is None) == bool(problems) and (bind is None or is_address(bind))
    if bind is not None:
        assert not ipaddress.ip_address(bind).is_unspecified  # never 0.0.0.0 from the env either


@BAD_INPUT
@given(pod_ip=values)
def test_the_realserver_address(monkeypatch: pytest.MonkeyPatch, pod_ip: str) -> None:
    monkeypatch.setenv("POD_IP", pod_ip.replace("\x00", ""))  # the kernel's env holds no NUL
    cfg = load_config(CONFIGS / "dataplane-realserver.yaml", RealserverConfig)
    assert cfg.address is None and cfg.address_env == "POD_IP"
    try:
        me = own_address(cfg, "cfg")
    except ConfigError as err:
        assert_clear(err.problems, "POD_IP")
        return
    assert ipaddress.ip_address(me).version == 4


TARGET_VARS = [
    "LBROUTE_RR",
    "LBROUTE_ROUTER",
    "LBROUTE_ROUTER_VTYSH",
    "LBROUTE_ROUTER_NETNS",
    "LBROUTE_VIP_POOL",
]


@BAD_INPUT
@given(
    env=st.dictionaries(st.sampled_from(TARGET_VARS), values, max_size=5),
    command=st.sampled_from(["vips", "peers", "diff", "fib", "rib"]),
)
@example(env={"LBROUTE_RR": "127.0.0.1:99999"}, command="vips")
@example(env={"LBROUTE_VIP_POOL": "0.0.0.0/0,::/0,x"}, command="vips")
def test_the_cli_targets_from_the_environment(env: dict[str, str], command: str) -> None:
    args: argparse.Namespace = parser().parse_args([command])
    try:
        targets = resolve(args, env, labs=lambda: [])
    except TargetError as err:
        line = str(err)
        assert line.isprintable() and len(line) < 600, line[:1000]
        assert any(var in line for var in env) or "target" in line, line
        return
    for daemon in targets.daemons:
        assert daemon.address in {*env.values(), *(s.strip() for v in env.values() for s in v.split(","))}


@BAD_INPUT
@given(level=values, fmt=values)
def test_log_level_and_format(monkeypatch: pytest.MonkeyPatch, level: str, fmt: str) -> None:
    monkeypatch.setenv("LBROUTE_LOG_LEVEL", level.replace("\x00", ""))
    monkeypatch.setenv("LBROUTE_LOG_FORMAT", fmt.replace("\x00", ""))
    try:
        logs.configure()
        structlog.get_logger().info("test.event")
    finally:
        structlog.reset_defaults()


@BAD_INPUT
@given(node_ip=values)
def test_announcer_config_check_with_any_node_ip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], node_ip: str
) -> None:
    monkeypatch.setattr("lbroute.logs.configure", lambda *args, **kwargs: None)
    monkeypatch.setenv("NODE_IP", node_ip.replace("\x00", ""))
    monkeypatch.delenv("NODE_IP6", raising=False)
    path = CONFIGS / "compose" / "announcer.yaml"
    code = announcer_main(["config", "check", str(path)])
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert code in (0, 2)
    lines = err.splitlines()
    assert all(line.startswith(f"{path}: ") and line.isprintable() and len(line) < 600 for line in lines), (
        lines
    )
    if code == 2:
        assert any("$NODE_IP" in line or "NODE_IP" in line for line in lines), lines
