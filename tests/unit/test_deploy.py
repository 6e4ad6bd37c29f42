"""What the images are built from: the Dockerfiles copy what exists, an image's tag changes
with what goes into it and only with that, and the lock pins what pyproject.toml pins.
(The tools that check compose.yaml and the Dockerfiles: tests/process/test_deploy_tools.py.)"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from announcer.config import AnnouncerConfig
from lbroute.config import load_config
from lbroute.lab import daemons, images
from lbroute.lab.errors import LabError
from lbroute.lab.topology import Topology
from rr.config import RrConfig

ROOT = Path(__file__).parents[2]
DOCKERFILES = sorted((ROOT / "deploy").glob("*.Dockerfile"))


def test_compose_builds_and_mounts_what_exists() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_copies_what_exists_and_starts_from_the_base_image(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    sources = images.copied_sources(text)
    assert "deploy/requirements.txt" in sources and "setup/install-debian-deps.sh" in sources
    for src in sources:
        assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src}"
    assert images.base_of(text) == "debian:bookworm-slim"


def test_copy_lines_are_read_with_their_flags_and_without_other_stages() -> None:
    text = (
        "FROM --platform=linux/amd64 debian:bookworm-slim AS build\n"
        "COPY a b/ dest/\nCOPY --from=build /out/ /\nCOPY --chmod=0755 c.sh /usr/local/bin/c\n"
    )
    assert images.copied_sources(text) == ["a", "b/", "c.sh"]
    assert images.base_of(text) == "debian:bookworm-slim"


def test_what_dockerignore_leaves_out() -> None:
    patterns = images.ignore_patterns((ROOT / ".dockerignore").read_text())
    left_out = [
        ".venv/bin/python",
        "lbroute/__pycache__/x.cpython-311.pyc",
        "rr/x.pyc",
        "lbroute/gobgp/apipb/gobgp_pb2.py",
        "lbroute.egg-info/PKG-INFO",
    ]
    kept = [
        "lbroute/gobgp/client.py",
        "rr/main.py",
        "announcer/exabgp_launcher.py",
        "deploy/requirements.txt",
    ]
    assert [p for p in left_out if not images.is_ignored(p, patterns)] == []
    assert [p for p in kept if images.is_ignored(p, patterns)] == []


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    for path in images.inputs("announcer"):
        rel = path.relative_to(ROOT)
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, tree / rel)
    shutil.copy2(ROOT / ".dockerignore", tree / ".dockerignore")
    return tree


def test_an_images_tag_follows_what_goes_into_it_and_nothing_else(tmp_path: Path) -> None:
    tree = _tree(tmp_path)
    first = images.digest("announcer", "base-1", tree)
    assert images.digest("announcer", "base-1", tree) == first
    # what .dockerignore leaves out, and files the Dockerfile does not copy: the same image
    (tree / "announcer" / "__pycache__").mkdir(exist_ok=True)
    (tree / "announcer" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (tree / "docs").mkdir()
    (tree / "docs" / "deploy.md").write_text("# new\n")
    assert images.digest("announcer", "base-1", tree) == first
    # a changed source file, a new one, a mode bit, another base: another image
    seen = {first}
    main = tree / "announcer" / "main.py"
    main.write_text(main.read_text() + "\n# changed\n")
    seen.add(images.digest("announcer", "base-1", tree))
    (tree / "lbroute" / "extra.py").write_text("")
    seen.add(images.digest("announcer", "base-1", tree))
    (tree / "lbroute" / "extra.py").chmod(0o755)
    seen.add(images.digest("announcer", "base-1", tree))
    seen.add(images.digest("announcer", "base-2", tree))
    assert len(seen) == 5


def test_old_images_are_forgotten_only_beyond_the_newest_and_after_a_day() -> None:
    day = images.KEEP_SECONDS
    now = 100 * day
    tags = [(now - i * day - 1, f"localhost/lbroute/announcer:0.1.0-{i:012x}") for i in range(8)]
    keep = tags[0][1]
    gone = images.to_forget(tags, keep, now)
    # the one just built and the three newest others stay; of the rest, those older than a day go
    assert gone == [tag for _, tag in tags[images.KEEP :]]
    # an image built within the last day stays, however many there are: another checkout's may be
    # about to be tested
    assert images.to_forget(tags, keep, now=tags[-1][0] + 60) == []
    assert images.to_forget(tags[:3], keep, now) == []


def _pins(lines: list[str]) -> dict[str, str]:
    out = {}
    for line in lines:
        name, _, version = line.partition("==")
        out[name.lower().replace("_", "-")] = version
    return out


def test_the_lock_pins_every_package_at_pyprojects_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lines = [line for line in images.LOCK.read_text().splitlines() if line and not line.startswith("#")]
    assert all(line.count("==") == 1 and " " not in line for line in lines), lines
    locked = _pins(lines)
    assert len(locked) == len(lines), "a package is locked twice"
    wanted = _pins(project["project"]["dependencies"])
    assert {name: locked.get(name) for name in wanted} == wanted
    # the build backend too, at a version pyproject's build-system accepts
    [backend] = project["build-system"]["requires"]
    assert backend.startswith("setuptools>=")
    minimum = tuple(int(x) for x in backend.removeprefix("setuptools>=").split("."))
    assert tuple(int(x) for x in locked["setuptools"].split(".")[: len(minimum)]) >= minimum


# --- compose.yaml's configs, in step with the lab's ----------------------------------------------


def _lab_configs() -> tuple[RrConfig, RrConfig, AnnouncerConfig]:
    topo = Topology("lbr", 2)
    socket = Path("/run/lbroute/lbr/rr/gobgp.sock")
    rr = RrConfig.model_validate(daemons.rr_config(topo, 1, socket))
    router = RrConfig.model_validate(daemons.router_config(topo, socket, Path("/run/frr/zserv.api")))
    announcer = AnnouncerConfig.model_validate(
        daemons.announcer_config(topo, topo.nodes[0], Path("/run/lbroute/lbr/lb1"))
    )
    return rr, router, announcer


def test_compose_configs_load_and_agree_with_the_labs_on_what_makes_ecmp() -> None:
    compose = ROOT / "configs" / "compose"
    rr = load_config(compose / "rr.yaml", RrConfig)
    router = load_config(compose / "router.yaml", RrConfig)
    announcer = load_config(compose / "announcer.yaml", AnnouncerConfig)
    lab_rr, lab_router, lab_announcer = _lab_configs()
    assert announcer.exabgp is not None and lab_announcer.exabgp is not None
    assert rr.asn == router.asn == announcer.exabgp.asn == lab_rr.asn
    [group], [lab_group] = rr.speaker_groups, lab_rr.speaker_groups

    def v4(networks: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(n for n in networks if ":" not in n)

    # compose is IPv4 only; the lab is dual-stack: the IPv4 half must be the same
    assert group.timers == lab_group.timers
    assert (group.vip_pools, group.node_networks) == (v4(lab_group.vip_pools), v4(lab_group.node_networks))
    assert set(group.allowed_prefix_lengths) == set(lab_group.allowed_prefix_lengths) & {32}
    [to_router], [lab_to_router] = rr.neighbors, lab_rr.neighbors
    assert (to_router.add_path_send_max, to_router.passive) == (lab_to_router.add_path_send_max, True)
    [to_rr], [lab_to_rr] = router.neighbors, lab_router.neighbors
    assert to_rr.add_path_receive and lab_to_rr.add_path_receive and not to_rr.passive
    assert router.zebra is not None and lab_router.zebra is not None
    assert (router.zebra.version, router.zebra.software_name) == (
        lab_router.zebra.version,
        lab_router.zebra.software_name,
    )
    assert announcer.exabgp.hold_time == lab_announcer.exabgp.hold_time
    assert [s.vips for s in announcer.services] == [s.vips for s in lab_announcer.services]
    # one announcer.yaml for both speakers: the addresses come from each one's environment
    assert announcer.exabgp.local_address is None and announcer.next_hop is None


def test_compose_runs_the_daemons_with_the_labs_flags() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    lab_gobgpd = daemons.gobgpd_argv(Path("/run/gobgpd/gobgp.sock"))
    for name in ("rr-gobgpd", "router-gobgpd"):
        command = services[name]["command"]
        assert command[0] == "gobgpd" and set(lab_gobgpd[1:5]) <= set(command), name
    zebra = services["router-zebra"]["command"]
    lab_zebra = daemons.zebra_argv(Path("/run/frr"))
    # the same options; the lab's zebra also logs to a file of its own, compose's to stdout
    assert {a for a in zebra if a.startswith("-")} == {a for a in lab_zebra if a.startswith("-")} - {"--log"}
    # the same least privilege as the lab's containers
    assert all(s.get("cap_drop") == ["ALL"] and s.get("read_only") for s in services.values())
    assert services["rr-gobgpd"]["cap_add"] == services["router-gobgpd"]["cap_add"] == ["NET_BIND_SERVICE"]
    assert "cap_add" not in services["rr"] and "cap_add" not in services["lb1"]


def test_the_builds_apt_does_what_this_machines_apt_does_and_nothing_more() -> None:
    values = {"Acquire::Check-Valid-Until": "false", "Acquire::http::Proxy": "http://proxy:3128/", "Dir": "/"}
    assert images.apt_acquire_conf(values) == (
        'Acquire::http::Proxy "http://proxy:3128/";\nAcquire::Check-Valid-Until "false";\n'
    )
    assert images.apt_acquire_conf({}) == ""


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_an_image_keeps_no_command_whose_code_it_does_not_copy(dockerfile: Path) -> None:
    """The wheel names every program's console script; an image that leaves a program's
    package out must remove that script, or it would fail on import when run."""
    text = dockerfile.read_text()
    copied = {src.rstrip("/") for src in images.copied_sources(text)}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    removed = {
        word.rsplit("/", 1)[1]
        for line in text.splitlines()
        for word in line.split()
        if word.startswith("/out/opt/lbroute/venv/bin/")
    }
    for name, target in scripts.items():
        package = target.split(".", 1)[0]
        if package not in copied:
            assert name in removed, f"{dockerfile.name} installs {name} without {package}/"
    assert removed <= set(scripts), removed
    # the data-plane image runs both data-plane programs and has the drain's client
    if dockerfile.name == "data-plane.Dockerfile":
        assert {"dataplane", "announcer"} <= copied
        assert {"lbroute-dataplane", "lbroute-realserver", "lbroute-announcer"}.isdisjoint(removed)


def test_the_base_is_an_argument_whose_default_is_the_official_image() -> None:
    text = "ARG BASE=debian:bookworm-slim\nFROM ${BASE} AS build\nRUN true\nFROM ${BASE}\n"
    assert images.base_of(text) == "debian:bookworm-slim"
    with pytest.raises(LabError, match="no ARG BASE"):
        images.base_of("FROM ${BASE}\n")
    # where podman has no official image, lbroute's own, under its own name
    ours = "localhost/lbroute/debian:bookworm-slim"
    assert images.own_base("debian:bookworm-slim") == ours
    assert images.own_base("docker.io/library/debian:bookworm-slim") == ours


def test_the_base_image_script_makes_and_removes_only_its_own_image() -> None:
    """It once removed and retagged docker.io/library/debian:<codename>-slim: an image a user
    may have pulled. Every image name it touches is lbroute's own."""
    script = (ROOT / "deploy" / "base-image.sh").read_text()
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    assert "docker.io" not in code and "podman tag" not in code
    assert 'name="localhost/lbroute/debian:${codename}-slim"' in code
    removals = [line.strip() for line in code.splitlines() if "podman rmi" in line]
    assert len(removals) == 1 and removals[0].startswith('podman rmi -i "$name"'), removals


def test_the_images_bfdd_runs_with_the_labs_options_from_the_config_it_renders() -> None:
    """deploy/bfdd-entrypoint.sh renders bfdd.conf from the announcer config and starts bfdd
    with the options the lab's bfdd runs with (its log on stdout, the container's)."""
    script = (ROOT / "deploy" / "bfdd-entrypoint.sh").read_text()
    code = " ".join(line for line in script.splitlines() if not line.lstrip().startswith("#"))
    code = code.replace("\\ ", " ")
    render = 'lbroute-announcer render-bfdd-config "$config" --output "$run/bfdd.conf"'
    assert render in code
    exec_words = code.split("exec ", 1)[1].split()
    assert exec_words[0] == str(daemons.BFDD)
    assert exec_words[exec_words.index("-f") + 1] == '"$run/bfdd.conf"'
    lab = daemons.bfdd_argv(Path("/run/bfdd"))
    assert {w for w in exec_words if w.startswith("-")} == {w for w in lab if w.startswith("-")}
    assert exec_words[exec_words.index("--log") + 1] == "stdout"
    # as the image's own user, who is in FRR's vty group (bfdd refuses to start otherwise)
    assert exec_words[exec_words.index("-u") + 1] == exec_words[exec_words.index("-g") + 1] == "lbroute"
    dockerfile = (ROOT / "deploy" / "announcer.Dockerfile").read_text()
    assert "--groups frrvty" in dockerfile
    assert "deploy/bfdd-entrypoint.sh /usr/local/bin/lbroute-bfdd" in dockerfile
