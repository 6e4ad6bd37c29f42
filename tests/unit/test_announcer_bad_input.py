"""Bad input to ``lbroute-announcer`` (config check, render-exabgp-config, the command line):
exit 2 and one clear line per problem, nothing written — or accepted, because it is valid.
Called in process (``main(argv)``); the cases that need a running announcer are in
tests/process/test_announcer_bad_input.py."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from announcer.exabgp_config import HEADER
from announcer.main import main

NH = "10.0.0.11"


def write(tmp_path: Path, **cfg: Any) -> Path:
    data: dict[str, Any] = {"next_hop": NH, "services": [{"name": "web", "vips": ["10.1.1.1/32"]}], **cfg}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "announcer.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """Exit code, stderr lines, stdout."""
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, err.strip().splitlines(), out


def check(capsys: pytest.CaptureFixture[str], path: Path, *more: str) -> tuple[int, list[str]]:
    code, lines, out = cli(capsys, "config", "check", str(path), *more)
    assert out == ""  # stdout is exabgp's channel, even for errors
    return code, lines


def one_problem(capsys: pytest.CaptureFixture[str], path: Path, where: str, *more: str) -> str:
    code, lines = check(capsys, path, *more)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: {where}: "), lines
    return lines[0]


@pytest.fixture(autouse=True)
def _no_node_ip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NODE_IP", raising=False)
    monkeypatch.delenv("NODE_IP6", raising=False)
    # main() configures structlog onto this test's captured stderr, which closes after the test:
    # later tests' log lines would fail on it. These tests read main's own lines, not its logs.
    monkeypatch.setattr("announcer.main.logs.configure", lambda *args, **kwargs: None)


# --- next-hops ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("224.0.0.5", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("fe80::1", "link-local"),
    ],
)
def test_a_next_hop_that_is_nobodys_address_is_refused_from_file_env_and_flag(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, why: str
) -> None:
    vip = "2001:db8::1/128" if ":" in value else "10.1.1.1/32"
    services = [{"name": "web", "vips": [vip]}]
    assert why in one_problem(capsys, write(tmp_path, next_hop=value, services=services), "next_hop")
    path = write(tmp_path, next_hop=None, services=services)
    monkeypatch.setenv("NODE_IP", value)
    assert why in one_problem(capsys, path, "$NODE_IP")
    monkeypatch.delenv("NODE_IP")
    assert why in one_problem(capsys, path, "--next-hop", "--next-hop", value)


def test_a_next_hop_of_the_wrong_family_is_refused_with_a_hint(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = one_problem(capsys, write(tmp_path, next_hop="fd00::11"), "services[0].vips[0]")
    assert "10.1.1.1/32 is IPv4 and there is no IPv4 next-hop (fd00::11 is IPv6)" in line
    v6 = [{"name": "web", "vips": ["2001:db8::1/128"]}]
    line = one_problem(capsys, write(tmp_path, services=v6), "services[0].vips[0]")
    assert "no IPv6 next-hop; set next_hop6 or give the pod $NODE_IP6" in line
    line = one_problem(capsys, write(tmp_path, next_hop6="10.0.0.12"), "next_hop6")
    assert "is IPv4; next_hop6 is the node's IPv6 address" in line
    line = one_problem(capsys, write(tmp_path, next_hop="fd00::11", next_hop6="fd00::12"), "next_hop6")
    assert "next_hop fd00::11 is IPv6 already; give next_hop the node's IPv4 address" in line


def test_dual_stack_next_hops_from_file_env_and_flags(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    both = [{"name": "web", "vips": ["10.1.1.1/32", "2001:db8::1/128"]}]
    ok = f"{tmp_path / 'announcer.yaml'}: ok (1 services, 2 static routes)"
    assert check(capsys, write(tmp_path, next_hop6="fd00::11", services=both)) == (0, [ok])
    path = write(tmp_path, next_hop=None, services=both)
    monkeypatch.setenv("NODE_IP", NH)
    monkeypatch.setenv("NODE_IP6", "fd00::11")
    assert check(capsys, path) == (0, [ok])
    monkeypatch.delenv("NODE_IP6")
    assert check(capsys, path, "--next-hop6", "fd00::11") == (0, [ok])
    assert "is IPv4" in one_problem(capsys, path, "--next-hop6", "--next-hop6", "10.0.0.12")
    # a custom variable for the IPv6 one
    monkeypatch.setenv("HOST_IP6", "fd00::11")
    assert check(capsys, write(tmp_path, next_hop=None, next_hop6_env="HOST_IP6", services=both)) == (0, [ok])


def test_a_single_next_hop_config_stays_valid_either_family(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert check(capsys, write(tmp_path))[0] == 0
    v6 = [{"name": "web", "vips": ["2001:db8::1/128"]}]
    assert check(capsys, write(tmp_path, next_hop="fd00::11", services=v6))[0] == 0


# --- metrics, exabgp --------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "::ffff:0.0.0.0"])
def test_metrics_never_listen_on_every_address(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, address: str
) -> None:
    line = one_problem(capsys, write(tmp_path, metrics={"address": address, "port": 9473}), "metrics.address")
    assert "would listen on every address" in line


EXABGP = {"neighbors": [{"address": "10.0.0.2"}], "local_address": "172.16.1.2"}


@pytest.mark.parametrize(
    ("exabgp", "where", "what"),
    [
        ({"router_id": "fd00::1"}, "exabgp.router_id", "a BGP router-id is an IPv4 address"),
        (
            {"local_address": "fd00::2", "neighbors": [{"address": "fd00::1"}]},
            "exabgp.router_id",
            "required when local_address is IPv6",
        ),
        ({"neighbors": [{"address": "fd00::1"}]}, "exabgp.local_address", "are of different families"),
        ({"families": ["ipv6 unicast"]}, "exabgp", "families has no ipv4 unicast for services[0].vips[0]"),
        ({"announcer_command": "/bin/true;\n}\nneighbor 6.6.6.6 {"}, "exabgp.announcer_command", "'\\n'"),
        ({"announcer_command": "/bin/a } process evil { run /bin/b"}, "exabgp.announcer_command", "'{' '}'"),
        ({"announcer_command": "/bin/a; encoder text"}, "exabgp.announcer_command", "';'"),
        ({"announcer_command": "/bin/a # rest"}, "exabgp.announcer_command", "'#'"),
        ({"announcer_command": "/bin/a 'b c'"}, "exabgp.announcer_command", "quotes"),
    ],
)
def test_what_exabgp_or_the_router_would_refuse_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, exabgp: dict[str, Any], where: str, what: str
) -> None:
    line = one_problem(capsys, write(tmp_path, exabgp={**EXABGP, **exabgp}), where)
    assert what in line, line


def test_a_bad_value_is_echoed_cut_short(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    command = "/bin/a;" + "x" * 100_000
    path = write(tmp_path, exabgp={**EXABGP, "announcer_command": command})
    line = one_problem(capsys, path, "exabgp.announcer_command")
    # ours is cut short; the loader's own "(got ...)" suffix is the shared loader's to cut
    ours = line.split(" (got ")[0]
    assert len(ours) < 400 and "..." in ours


# --- MD5 key files --------------------------------------------------------------------------


def md5_config(tmp_path: Path, key: bytes | None, mode: int = 0o600, **extra: Any) -> Path:
    key_file = tmp_path / "md5"
    if key is not None:
        key_file.write_bytes(key)
        key_file.chmod(mode)
    neighbor = {"address": "10.0.0.2", "md5_password_file": str(key_file)}
    return write(tmp_path, exabgp={**EXABGP, "neighbors": [neighbor], **extra})


@pytest.mark.parametrize(
    ("key", "what"),
    [
        (b'se"cret\n', "holds '\"'"),
        (b"se'cret", 'holds "\'"'),
        (b"se\\cret", "holds '\\\\'"),
        (b"sec\nret\n", "not printable ASCII"),
        (bytes(range(256)), "not printable ASCII"),
        ("sécret".encode(), "not printable ASCII"),
        (b"k" * 81, "a key of 81 characters; TCP MD5 keys are 1 to 80"),
        (b"k" * 5000, "larger than 1024 bytes"),
        (b"\n", "is empty"),
        (None, "cannot read"),
    ],
)
def test_an_md5_key_that_cannot_go_into_exabgp_conf_is_a_config_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key: bytes | None, what: str
) -> None:
    path = md5_config(tmp_path, key)
    for argv in (["config", "check", str(path)], ["render-exabgp-config", str(path)]):
        code, lines, out = cli(capsys, *argv)
        assert (code, len(lines), out) == (2, 1, ""), lines
        assert lines[0].startswith(f"{path}: exabgp.neighbors[0].md5_password_file: "), lines
        assert what in lines[0], lines


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o666])
def test_an_md5_key_file_every_user_can_read_is_refused_as_lbroute_rr_refuses_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mode: int
) -> None:
    path = md5_config(tmp_path, b"good-key\n", mode)
    code, lines, out = cli(capsys, "config", "check", str(path))
    assert (code, out) == (2, ""), lines
    assert lines == [
        f"{path}: exabgp.neighbors[0].md5_password_file: {tmp_path / 'md5'}: mode {mode:04o} lets every "
        "user read the key; make it 0600 or 0400 (chmod 600, or a Secret volume's defaultMode: 0400)"
    ]
    # the same key, the owner's and its group's only: accepted
    for allowed in (0o600, 0o400, 0o640):
        (tmp_path / "md5").chmod(allowed)
        code, lines, _ = cli(capsys, "config", "check", str(path))
        assert code == 0, (oct(allowed), lines)


def test_an_md5_key_file_that_is_not_a_file_is_refused_without_reading(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    for target in (fifo, tmp_path):
        neighbor = {"address": "10.0.0.2", "md5_password_file": str(target)}
        path = write(tmp_path, exabgp={**EXABGP, "neighbors": [neighbor]})
        code, lines, _ = cli(capsys, "config", "check", str(path))
        assert code == 2 and lines == [
            f"{path}: exabgp.neighbors[0].md5_password_file: {target} is not a regular file"
        ]


def test_a_good_md5_key_is_rendered_as_is_also_one_of_hex_digits_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = md5_config(tmp_path, b"a b#c;{}[]x\n")
    code, _, out = cli(capsys, "render-exabgp-config", str(path))
    assert code == 0 and 'md5-password "a b#c;{}[]x";' in out and "md5-base64 false;" in out
    path = md5_config(tmp_path, b"deadbeef01\n")
    code, lines = check(capsys, path)
    assert code == 0, lines


# --- render --output ------------------------------------------------------------------------


def test_render_output_is_0600_atomic_and_replaces_only_its_own_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = md5_config(tmp_path, b"s3cret\n")
    out = tmp_path / "exabgp.conf"
    os.umask(0o022)
    assert cli(capsys, "render-exabgp-config", str(path), "--output", str(out)) == (0, [], "")
    text = out.read_text()
    assert text.splitlines()[0] == HEADER and 'md5-password "s3cret";' in text
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.chmod(0o644)  # someone loosened it: the next render writes a new 0600 file
    assert cli(capsys, "render-exabgp-config", str(path), "--output", str(out))[0] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "announcer.yaml",
        "exabgp.conf",
        "md5",
    ]  # no temp file


@pytest.mark.parametrize("kind", ["foreign", "symlink", "directory", "missing-directory"])
def test_render_output_refuses_what_it_did_not_write(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    path = write(tmp_path, exabgp=EXABGP)
    target = tmp_path / "exabgp.conf"
    precious = tmp_path / "precious"
    precious.write_text("neighbor 10.0.0.9 { }\n")
    if kind == "foreign":
        target.write_text("neighbor 10.0.0.9 { }\n")
        what = "exists and was not written by render-exabgp-config"
    elif kind == "symlink":
        target.symlink_to(precious)
        what = "is a symbolic link"
    elif kind == "directory":
        target.mkdir()
        what = "is not a regular file"
    else:
        target = tmp_path / "nope" / "exabgp.conf"
        what = "No such file or directory"
    code, lines, out = cli(capsys, "render-exabgp-config", str(path), "--output", str(target))
    assert (code, out) == (2, "") and len(lines) == 1, lines
    assert lines[0].startswith("render-exabgp-config: --output: ") and what in lines[0], lines
    assert precious.read_text() == "neighbor 10.0.0.9 { }\n"
    if kind == "foreign":
        assert target.read_text() == "neighbor 10.0.0.9 { }\n"


def test_rendered_config_has_one_process_block(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    command = "/usr/local/bin/lbroute-announcer run --config /etc/lbroute/announcer.yaml --log-level info"
    code, _, out = cli(
        capsys, "render-exabgp-config", str(write(tmp_path, exabgp={**EXABGP, "announcer_command": command}))
    )
    assert code == 0
    assert out.count("process ") == 1 and f"    run {command};\n" in out


# --- paths config check looks at ---------------------------------------------------------------


def test_metrics_listen_on_the_pods_address_from_the_environment_never_on_every_address() -> None:
    from announcer.config import MetricsConfig

    metrics = MetricsConfig(address_env="POD_IP")
    assert metrics.resolve_address({"POD_IP": "172.16.7.2"}) == ("172.16.7.2", [])
    for raw, why in (("0.0.0.0", "would listen on every address"), ("pod", "is not an IP address")):
        address, [problem] = metrics.resolve_address({"POD_IP": raw})
        assert address is None and problem.where == "$POD_IP" and why in problem.what
    assert MetricsConfig().resolve_address({"POD_IP": "172.16.7.2"}) == ("127.0.0.1", [])


def test_without_a_command_the_rendering_announcer_runs_the_rendered_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The default is this install's own lbroute-announcer (here: this venv's, in the image: the
    image's venv), never a path that may not exist, run with the file that was rendered."""
    path = write(tmp_path, exabgp=EXABGP)
    code, _, out = cli(capsys, "render-exabgp-config", str(path))
    assert code == 0
    program = Path(sys.executable).parent / "lbroute-announcer"
    assert program.is_file()
    assert f"    run {program} run --config {path.resolve()};\n" in out


def test_a_config_path_exabgp_conf_cannot_hold_is_one_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    odd = tmp_path / "a;b"
    odd.mkdir()
    path = write(odd, exabgp=EXABGP)
    code, lines, out = cli(capsys, "render-exabgp-config", str(path))
    assert (code, out) == (2, "") and len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: exabgp.announcer_command: not set, and the default cannot be: ")


def test_the_local_address_comes_from_the_pods_environment_when_the_file_has_none(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One ConfigMap for every pod of a DaemonSet: each pod's address from the downward API."""
    path = write(tmp_path, exabgp={"neighbors": [{"address": "10.0.0.2"}]})
    monkeypatch.delenv("POD_IP", raising=False)
    code, lines, out = cli(capsys, "render-exabgp-config", str(path))
    assert (code, out) == (2, "") and lines == [
        f"{path}: exabgp.local_address: not set and $POD_IP is empty; set local_address or give the "
        "pod POD_IP from status.podIP"
    ]
    monkeypatch.setenv("POD_IP", "172.16.7.2")
    code, _, out = cli(capsys, "render-exabgp-config", str(path))
    assert code == 0
    assert "    local-address 172.16.7.2;\n" in out and "    router-id 172.16.7.2;\n" in out
    for bad, what in (("2001:db8::7", "of different families"), ("pod" * 40, "is not an IP address")):
        monkeypatch.setenv("POD_IP", bad)
        code, lines, out = cli(capsys, "render-exabgp-config", str(path))
        assert (code, out) == (2, "") and len(lines) == 1, lines
        assert lines[0].startswith(f"{path}: $POD_IP: ") and what in lines[0] and len(lines[0]) < 300, lines
    # the file's own value wins over the environment
    monkeypatch.setenv("POD_IP", "172.16.7.2")
    code, _, out = cli(capsys, "render-exabgp-config", str(write(tmp_path, exabgp=EXABGP)))
    assert code == 0 and "    local-address 172.16.1.2;\n" in out and "172.16.7.2" not in out


def test_config_check_says_when_the_drain_marker_cannot_be_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path, drain_marker=str(tmp_path / "nope" / "drained"))
    code, lines = check(capsys, path)
    assert code == 0 and len(lines) == 2, lines
    assert lines[0] == (
        f"{path}: warning: drain_marker: directory {tmp_path / 'nope'} does not exist: a drain will "
        "withdraw, but an announcer started again will not know it drained"
    )
    (tmp_path / "drained").write_text("draining\n")
    code, lines = check(capsys, write(tmp_path, drain_marker=str(tmp_path / "drained")))
    assert code == 0 and "exists: an announcer started now starts drained" in lines[0]


def test_config_check_refuses_a_control_socket_run_could_not_open(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    line = one_problem(
        capsys, write(tmp_path, control_socket=str(tmp_path / "nope" / "a.sock")), "control_socket"
    )
    assert "does not exist: the announcer cannot listen on" in line
    (tmp_path / "file").write_text("not a socket\n")
    line = one_problem(capsys, write(tmp_path, control_socket=str(tmp_path / "file")), "control_socket")
    assert "exists and is not a socket" in line
    line = one_problem(capsys, write(tmp_path, control_socket="/tmp/" + "s" * 120), "control_socket")
    assert "longer than the 107 bytes" in line


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "soon"])
def test_drain_timeout_must_be_a_positive_number(capsys: pytest.CaptureFixture[str], value: str) -> None:
    code, lines, out = cli(capsys, "drain", "--socket", "/nonexistent.sock", f"--timeout={value}")
    assert (code, out) == (2, "")
    assert lines == [
        f"lbroute-announcer drain: argument --timeout: {value!r} is not a positive number of seconds such as "
        "120 (see `lbroute-announcer drain --help`)"
    ]


def test_log_level_must_be_one_of_the_levels(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, lines, _ = cli(capsys, "--log-level", "garbage", "config", "check", str(write(tmp_path)))
    assert code == 2 and len(lines) == 1 and "invalid choice: 'garbage'" in lines[0], lines
    assert cli(capsys, "--log-level", "debug", "config", "check", str(write(tmp_path)))[0] == 0


def test_a_drain_that_ends_when_idle_is_refused_beside_a_forwarding_data_plane(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The data plane forwards: no socket on a VIP in the pod, so the drain would end at once."""
    dataplane = {"kind": "dataplane", "status_file": str(tmp_path / "dp.json")}
    services = [{"name": "web", "vips": ["10.1.1.1/32"], "check": dataplane}]
    drain = {"drain_graceful_shutdown": True, "drain_ends_when_idle": True}
    code, lines = check(capsys, write(tmp_path, services=services, **drain))
    assert code == 2 and len(lines) == 1, lines
    assert "services[0] has a dataplane check" in lines[0] and "drop drain_ends_when_idle" in lines[0]
    # each alone is fine
    assert check(capsys, write(tmp_path, services=services, drain_graceful_shutdown=True))[0] == 0
    tcp = [
        {"name": "web", "vips": ["10.1.1.1/32"], "check": {"kind": "tcp", "host": "127.0.0.1", "port": 80}}
    ]
    assert check(capsys, write(tmp_path, services=tcp, **drain))[0] == 0
