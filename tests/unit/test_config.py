"""The one config loader: every problem with its place, and input bounded before it costs anything
(docs/decisions/input-bounds.md). The programs' own runs are in tests/process/test_config_check.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from announcer.config import AnnouncerConfig
from dataplane.config import DataplaneConfig, RealserverConfig
from lbroute.config import ConfigError, load_config, load_config_text
from rr.config import RrConfig

CONFIGS = Path(__file__).parents[2] / "configs"


@pytest.mark.parametrize(
    ("text", "where"),
    [("[1, 2]", "(top level)"), ("a: [", "line 1 column 5"), ("", "role")],
    ids=["not-a-mapping", "bad-yaml", "empty"],
)
def test_malformed_files(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, RrConfig, source="x.yaml")
    assert info.value.problems[0].where == where


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml", RrConfig)
    assert "cannot read" in str(info.value)


def test_models_are_frozen() -> None:
    cfg = load_config_text("next_hop: 10.0.0.11\n", AnnouncerConfig)
    with pytest.raises(ValueError):
        cfg.next_hop = "10.0.0.12"  # type: ignore[misc]


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_shipped_examples_are_valid(path: Path) -> None:
    models = {
        "announcer": AnnouncerConfig,
        "dataplane-realserver": RealserverConfig,
        "dataplane": DataplaneConfig,
    }
    model = next((m for prefix, m in models.items() if path.name.startswith(prefix)), RrConfig)
    load_config(path, model)


# --- input bounded before it costs anything ------------------------------------------------------

BASE = "role: route-reflector\ngobgpd: unix:///run/x.sock\nasn: 65021\nrouter_id: 10.0.0.2\n"


def problems(text: str) -> list[str]:
    """Each problem as ``where: what``; none when the text loads."""
    try:
        load_config_text(text, RrConfig, source="x.yaml")
    except ConfigError as err:
        return [str(p) for p in err.problems]
    return []


def file_problems(path: Path | str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, RrConfig)
    return [str(p) for p in info.value.problems]


def test_a_file_over_the_bound_is_refused_without_reading_it(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as f:
        f.truncate(50 << 20)  # 50 MB of holes: refused by its size, not read
    assert file_problems(huge) == ["(file): 52,428,800 bytes; a config is at most 1 MiB"]
    just_over = tmp_path / "over.yaml"
    just_over.write_text(BASE + "#" * (1 << 20))
    assert file_problems(just_over) == [f"(file): {len(BASE) + (1 << 20):,} bytes; a config is at most 1 MiB"]
    just_under = tmp_path / "under.yaml"
    just_under.write_text(BASE + "#" * ((1 << 20) - len(BASE) - 1) + "\n")
    assert load_config(just_under, RrConfig).asn == 65021
    with pytest.raises(ConfigError, match="longer than 1 MiB"):
        load_config_text(BASE + "#" * (1 << 20), RrConfig)


def test_what_is_not_a_regular_file_is_refused_unopened(tmp_path: Path) -> None:
    import os

    assert file_problems("/dev/zero") == [
        "(file): a character device, not a regular file; give the path of a config"
    ]
    assert file_problems(tmp_path) == ["(file): a directory, not a regular file; give the path of a config"]
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it would wait for a writer forever
    assert file_problems(fifo) == ["(file): a named pipe, not a regular file; give the path of a config"]


def test_binary_files_are_a_clear_problem(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"role: \xff\xfe\x00\x01\n")
    assert file_problems(binary) == ["(file): not UTF-8 text (byte 0xff at offset 6); a binary file?"]
    assert problems(BASE + "x: \x00\n") == [
        "(file): character #x0000 at offset 83 is not allowed in YAML: a binary file?"
    ]


@pytest.mark.parametrize(
    "text",
    ["a: " + "[" * 20_000 + "]" * 20_000, "a:\n" + "".join("  " * i + "- \n" for i in range(1, 900))],
    ids=["flow", "block"],
)
def test_deep_nesting_stops_at_the_bound(text: str) -> None:
    [problem] = problems(text)
    assert problem.endswith("nested deeper than 32 levels; a config needs a handful"), problem
    assert problem.startswith("line ")


def test_nesting_up_to_the_bound_is_read() -> None:
    # 31 lists inside the top-level mapping: read whole, then refused by the model (not the bound)
    [problem] = problems(BASE + "listen_addresses: " + "[" * 31 + "]" * 31 + "\n")
    assert problem.startswith("listen_addresses[0]:"), problem


def test_a_key_given_twice_is_a_problem_at_its_line() -> None:
    text = BASE + "speaker_groups: []\nneighbors: []\nspeaker_groups:\n  - {name: a, name: b}\n"
    assert problems(text) == [
        "line 7 column 1: duplicate key 'speaker_groups' (first at line 5); keep one",
        "line 8 column 15: duplicate key 'name' (first at line 8); keep one",
    ]


def test_a_second_role_is_blamed_not_what_the_last_role_would_forbid() -> None:
    text = BASE + "role: router\nspeaker_groups:\n  - {name: lb, dynamic_prefixes: [172.16.0.0/16], "
    text += "vip_pools: [10.1.0.0/16], node_networks: [10.0.0.0/24]}\n"
    assert problems(text) == ["line 5 column 1: duplicate key 'role' (first at line 1); keep one"]


def test_keys_merged_in_may_be_overridden() -> None:
    text = BASE + "neighbors:\n  - &n {address: 10.0.0.1, passive: true}\n  - {<<: *n, address: 10.0.0.3}\n"
    cfg = load_config_text(text, RrConfig)
    assert [(n.address, n.passive) for n in cfg.neighbors] == [("10.0.0.1", True), ("10.0.0.3", True)]


def test_a_million_digit_asn_is_one_line_without_a_traceback() -> None:
    assert problems(BASE.replace("65021", "1" * 1_000_000)) == [
        "line 3 column 6: a number of 1000000 characters; no setting takes more than 64"
    ]
    [quoted] = problems(BASE.replace("65021", '"' + "1" * 1_000_000 + '"'))
    assert quoted.startswith("asn: ") and len(quoted) < 200, quoted[:300]


def test_errors_echo_at_most_60_characters_of_a_value() -> None:
    [problem] = problems(BASE.replace("10.0.0.2", "x" * 1_000_000))
    assert problem == f"router_id: {'x' * 60!r}... is not an IP address such as 10.0.0.11"
    [unknown] = problems(BASE + "k" * 1000 + ": 1\n")
    assert unknown == f"{'k' * 60}...: unknown key; remove it or check its spelling"
    [literal] = problems(BASE.replace("route-reflector", "r" * 5000))
    assert len(literal) < 200 and literal.endswith("...)"), literal


# --- what gobgpd or the guard rails cannot honour is refused, what turns a guard off is said ------


@pytest.mark.parametrize(
    "address",
    ["0.0.0.0:9180", "[::]:9180", "[::ffff:0.0.0.0]:9180", "[::ffff:0:0]:9180", "::ffff:0.0.0.0:9180"],
)
def test_metrics_never_listen_on_every_address(address: str) -> None:
    [problem] = problems(BASE + f"metrics_address: '{address}'\n")
    assert problem.startswith("metrics_address:") and "never all of them" in problem, problem


@pytest.mark.parametrize("address", ["127.0.0.1:9180", "[::1]:9180", "10.0.0.2:65535"])
def test_metrics_on_one_address(address: str) -> None:
    assert problems(BASE + f"metrics_address: '{address}'\n") == []


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("", "is not a gRPC target"),
        ("unix:", "needs an absolute path"),
        ("unix://run/x.sock", "needs an absolute path"),
        ("gobgpd", "is not a gRPC target"),
        ("127.0.0.1:0", "is not a gRPC target"),
        ("127.0.0.1:99999", "is not a gRPC target"),
        # gobgpd's API has no authentication: never over the network
        ("10.0.0.2:50051", "use its unix socket or a loopback address"),
        ("rr-1.lab:50051", "use its unix socket or a loopback address"),
        ("[::]:50051", "use its unix socket or a loopback address"),
        ("unix:///" + "x" * 200, "at most 107 bytes, this one 201"),
    ],
)
def test_a_gobgpd_target_that_cannot_be_dialled_is_refused(target: str, why: str) -> None:
    [problem] = problems(BASE.replace("unix:///run/x.sock", repr(target)))
    assert problem.startswith("gobgpd: ") and why in problem, problem


@pytest.mark.parametrize(
    "target",
    [
        "unix:///run/x.sock",
        "unix:/run/x.sock",
        "/run/x.sock",
        "127.0.0.1:50051",
        "[::1]:50051",
        "localhost:50051",
    ],
)
def test_gobgpd_targets_that_can_be_dialled(target: str) -> None:
    assert problems(BASE.replace("unix:///run/x.sock", repr(target))) == []


def test_bgp_identifiers_are_ipv4() -> None:
    assert problems(BASE.replace("10.0.0.2", "2001:db8::2") + "cluster_id: 2001:db8::9\n") == [
        "router_id: 2001:db8::2 must be an IPv4 address (a BGP identifier is 4 bytes)",
        "cluster_id: 2001:db8::9 must be an IPv4 address (a cluster ID is 4 bytes)",
    ]


def group(name: str, dynamic: str, pools: str = "[10.1.0.0/16]", extra: str = "") -> str:
    return (
        f"  - {{name: {name}, dynamic_prefixes: {dynamic}, vip_pools: {pools}, "
        f"node_networks: [10.0.0.0/24]{extra}}}\n"
    )


def test_speaker_ranges_must_not_overlap() -> None:
    text = (
        BASE
        + "speaker_groups:\n"
        + group("a", "[172.16.0.0/16]")
        + group("b", "[172.17.0.0/16, 172.16.4.0/24]")
    )
    text += group("c", "[172.17.0.0/16]", "[10.3.0.0/16]")
    assert problems(text) == [
        "speaker_groups[1].dynamic_prefixes[1]: 172.16.4.0/24 overlaps speaker_groups[0].dynamic_prefixes[0] "
        "172.16.0.0/16: gobgpd admits a speaker there to one of them only",
        "speaker_groups[2].dynamic_prefixes[0]: 172.17.0.0/16 overlaps speaker_groups[1].dynamic_prefixes[0] "
        "172.17.0.0/16: gobgpd admits a speaker there to one of them only",
    ]


def test_pools_of_one_group_must_not_overlap() -> None:
    text = BASE + "speaker_groups:\n" + group("a", "[172.16.0.0/16]", "[10.1.0.0/16, 10.1.7.0/24]")
    assert problems(text) == [
        "speaker_groups[0].vip_pools[1]: 10.1.7.0/24 overlaps speaker_groups[0].vip_pools[0] 10.1.0.0/16 "
        "of the same group; keep one"
    ]


def warnings(text: str) -> list[str]:
    return [str(w) for w in load_config_text(text, RrConfig).warnings()]


NO_NODES = (
    "nodes: none listed: a speaker may announce any next-hop inside node_networks "
    "(another node's, the router's); list each node's address and pod CIDRs"
)


def test_what_turns_a_guard_rail_off_is_a_warning_not_a_problem() -> None:
    text = (
        BASE
        + "speaker_groups:\n"
        + group("a", "[0.0.0.0/0]", "[0.0.0.0/0]", ", allowed_prefix_lengths: [0, 32]")
    )
    text = text.replace("node_networks: [10.0.0.0/24]", "node_networks: [0.0.0.0/0]")
    text += "neighbors: [{address: 10.0.0.1}]\n"
    assert problems(text) == []
    assert warnings(text) == [
        "speaker_groups[0].dynamic_prefixes[0]: 0.0.0.0/0 admits a speaker from any address",
        "speaker_groups[0].vip_pools[0]: 0.0.0.0/0 lets the speakers announce any prefix",
        "speaker_groups[0].allowed_prefix_lengths: 0 with pool 0.0.0.0/0 admits a default route",
        "speaker_groups[0].node_networks[0]: 0.0.0.0/0 accepts any next-hop",
        NO_NODES,
        "neighbors[0].address: 10.0.0.1 is inside speaker_groups[0].dynamic_prefixes[0] 0.0.0.0/0: "
        "that group's guard rails judge its routes",
    ]


def test_pools_shared_by_two_groups_are_a_warning() -> None:
    text = (
        BASE
        + "speaker_groups:\n"
        + group("a", "[172.16.0.0/16]")
        + group("b", "[172.17.0.0/16]", "[10.1.2.0/24]")
    )
    assert warnings(text) == [
        NO_NODES,
        "speaker_groups[1].vip_pools[0]: 10.1.2.0/24 overlaps speaker_groups[0].vip_pools[0] 10.1.0.0/16: "
        "both groups may announce VIPs there",
    ]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("r*.yaml")), ids=lambda p: p.name)
def test_the_shipped_rr_configs_turn_no_guard_rail_off(path: Path) -> None:
    assert load_config(path, RrConfig).warnings() == []


# --- MD5 key files ------------------------------------------------------------------------------


def test_md5_key_files_hold_one_line_of_at_most_80_bytes(tmp_path: Path) -> None:
    from lbroute.config import read_md5_key

    good = tmp_path / "good"
    good.write_text("k" * 80 + "\n")
    # a key every user of the host can read is no secret
    good.chmod(0o644)
    with pytest.raises(
        ValueError, match=r"good: mode 0644 lets every user read the key; make it 0600 or 0400"
    ):
        read_md5_key(str(good))
    good.chmod(0o640)
    assert read_md5_key(str(good)) == "k" * 80
    cases = {
        "long": ("k" * 81, "must hold an MD5 key of 1 to 80 bytes"),
        "wide": ("é" * 41, "must hold an MD5 key of 1 to 80 bytes"),  # 82 bytes in 41 characters
        "empty": ("\n", "must hold an MD5 key of 1 to 80 bytes"),
        "control": ("a\x07b", "the key holds a control character"),
        "lines": ("one\ntwo", "the key holds a control character"),
    }
    for name, (text, why) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=why):
            read_md5_key(str(tmp_path / name))
    (tmp_path / "binary").write_bytes(b"\x8f\x00\xff")
    with pytest.raises(ValueError, match=r"binary: not UTF-8 text \(byte 0x8f at offset 0\)"):
        read_md5_key(str(tmp_path / "binary"))
    with pytest.raises(ValueError, match="a character device, not a regular file"):
        read_md5_key("/dev/zero")
    (tmp_path / "big").write_text("k" * 5000)
    with pytest.raises(ValueError, match="5,000 bytes; an MD5 key file is at most 1,024 bytes"):
        read_md5_key(str(tmp_path / "big"))


def test_group_names_and_neighbor_addresses_are_each_given_once() -> None:
    text = (
        BASE + "neighbors: [{address: 10.0.0.1}, {address: 10.0.0.3}, {address: 10.0.0.1}]\nspeaker_groups:\n"
    )
    text += group("a", "[172.16.0.0/16]") + group("a", "[172.17.0.0/16]", "[10.2.0.0/16]")
    assert problems(text) == [
        "speaker_groups[1].name: 'a' is also speaker_groups[0]'s",
        "neighbors[2].address: '10.0.0.1' is also neighbors[0]'s",
    ]


def test_every_node_problem_is_listed_with_its_place() -> None:
    text = (
        BASE
        + "speaker_groups:\n"
        + group("a", "[172.16.0.0/16]", "[10.1.0.0/16]", ", vips: [10.1.1.1/32, 10.2.0.1/32]")
        + "nodes:\n"
        + "  - {name: n1, addresses: [10.0.0.11, 10.0.0.99], pod_cidrs: [172.16.1.0/24]}\n"
        + "  - {name: n1, addresses: [10.0.0.11], pod_cidrs: [172.16.1.128/25]}\n"
        + "  - {name: n3, addresses: [10.9.0.13], pod_cidrs: [172.16.3.0/24]}\n"
    )
    assert problems(text) == [
        "speaker_groups[0]: vips[1]: 10.2.0.1/32 is in none of vip_pools; add its pool or fix the VIP",
    ]
    fixed = text.replace(", 10.2.0.1/32", "")
    assert problems(fixed) == [
        "nodes[1].name: 'n1' is also nodes[0]'s",
        "nodes[0].addresses: one address per IP version (the node's next-hop)",
        "nodes[1].addresses[0]: 10.0.0.11 is also nodes[0]'s",
        "nodes[2].addresses[0]: 10.9.0.13 is in no speaker group's node_networks: add it there",
        "nodes[1].pod_cidrs[0]: 172.16.1.128/25 overlaps nodes[0].pod_cidrs[0] 172.16.1.0/24: "
        "a speaker there would have two nodes",
    ]
    valid = BASE + "speaker_groups:\n" + group("a", "[172.16.0.0/16]")
    assert NO_NODES in warnings(valid)
    valid += "nodes: [{name: n1, addresses: [10.0.0.11], pod_cidrs: [172.16.1.0/24]}]\n"
    assert problems(valid) == [] and NO_NODES not in warnings(valid)


ROUTER = "role: router\ngobgpd: unix:///run/x.sock\nasn: 65021\nrouter_id: 10.0.0.1\n"


def test_the_fib_mode_is_zebra_unless_asked_and_resilient_refuses_what_would_not_be_ours() -> None:
    assert load_config_text(ROUTER, RrConfig, source="x.yaml").fib.mode == "zebra"
    cfg = load_config_text(ROUTER + "fib: {mode: resilient}\n", RrConfig, source="x.yaml")
    assert (cfg.fib.buckets, cfg.fib.idle_timer, cfg.fib.unbalanced_timer, cfg.fib.protocol) == (
        256,
        60,
        300,
        200,
    )
    assert problems(ROUTER + "fib: {mode: resilient, protocol: 186}\n") == [
        "fib.protocol: 186 is FRR's; take one nobody else writes routes with, such as 200"
    ]
    assert problems(ROUTER + "fib: {mode: resilient, protocol: 2}\n") == [
        "fib.protocol: 2 is kernel; take one nobody else writes routes with, such as 200"
    ]
    assert problems(ROUTER + "fib: {mode: resilient, nexthop_ids: [20, 10]}\n") == [
        "fib.nexthop_ids: 20-10: give [first, last] with 1 <= first <= last < 2^32"
    ]
    assert problems(ROUTER + "fib: {mode: resilient, buckets: 70000}\n") == [
        "fib.buckets: Input should be less than or equal to 65535 (got 70000)"
    ]
    both = ROUTER + "fib: {mode: resilient}\nzebra: {url: 'unix:/run/frr/zserv.api'}\n"
    assert problems(both) == [
        "zebra: fib.mode resilient writes the FIB itself, without zebra: drop zebra (or the mode)"
    ]
    assert problems(BASE + "fib: {mode: resilient}\n") == [
        "fib.mode: for role router; the RR does not program a FIB"
    ]


@pytest.mark.parametrize("settle", ["0", "0.1"])
def test_a_settle_time_too_short_to_wait_for_is_refused(settle: str) -> None:
    assert problems(ROUTER + f"fib: {{mode: resilient, settle_seconds: {settle}}}\n") == [
        f"fib.settle_seconds: {settle} is too short: a session must be up a while before its "
        "table is in; give at least 0.5 (the default is 5)"
    ]
    cfg = load_config_text(ROUTER + "fib: {mode: resilient, settle_seconds: 0.5}\n", RrConfig, source="x")
    assert cfg.fib.settle_seconds == 0.5
