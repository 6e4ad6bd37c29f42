"""lbroute's container images: their names for this source tree, building them, and the
Python lock they install from.

An image's tag is a digest of what goes into it: its Dockerfile, every file the Dockerfile
copies from the source tree (less what ``.dockerignore`` leaves out) and the base image.
``lbroute lab up --images`` and the tests therefore run exactly the bytes built from the tree
they run from, never an image that another checkout on the same machine tagged, and
``make images`` does nothing when that image exists.

    python -m lbroute.lab.images build [NAME ...]   (what `make images` runs)
    python -m lbroute.lab.images refs                (the image names for this tree, JSON)
    python -m lbroute.lab.images lock                (rewrite deploy/requirements.txt)
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import structlog

from lbroute import logs

from .errors import LabError
from .podman import SOURCE_TREE, PodmanError, environment, podman

log = structlog.get_logger()

NAMES = ("announcer", "control-plane", "data-plane")
REPOSITORY = "localhost/lbroute"
DEPLOY = SOURCE_TREE / "deploy"
LOCK = DEPLOY / "requirements.txt"
BASE_IMAGE_SCRIPT = DEPLOY / "base-image.sh"
BUILD_PIP_CONF = DEPLOY / "podman" / "build-pip.conf"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_LOGS = SOURCE_TREE / "build" / "images"
# images of earlier trees kept per name (a checkout switching branches builds nothing again),
# and a day at least: the store is shared, another checkout's tests may be about to run its own
KEEP = 4
KEEP_SECONDS = 24 * 3600

_FROM = re.compile(r"^FROM\s+(?:--\S+\s+)*(\S+)", re.MULTILINE | re.IGNORECASE)
_COPY = re.compile(r"^COPY\s+(.+)$", re.MULTILINE | re.IGNORECASE)


def version() -> str:
    return str(tomllib.loads((SOURCE_TREE / "pyproject.toml").read_text())["project"]["version"])


def dockerfile(name: str) -> Path:
    return DEPLOY / f"{name}.Dockerfile"


def base_of(text: str) -> str:
    """The image a Dockerfile's first stage starts from."""
    found = _FROM.search(text)
    if found is None:
        raise LabError("the Dockerfile has no FROM line")
    return found.group(1)


def copied_sources(text: str) -> list[str]:
    """What a Dockerfile's COPY lines take from the build context (not from another stage)."""
    out = []
    for match in _COPY.finditer(text):
        words = match.group(1).split()
        if any(w.startswith("--from") for w in words):
            continue
        out += [w for w in words if not w.startswith("--")][:-1]  # the last word is the destination
    return out


def ignore_patterns(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def is_ignored(relative: str, patterns: list[str]) -> bool:
    """Whether ``.dockerignore`` leaves ``relative`` (or a directory above it) out of the context."""
    parts = relative.split("/")
    for i in range(1, len(parts) + 1):
        head = "/".join(parts[:i])
        for pattern in patterns:
            if fnmatch.fnmatchcase(head, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pattern[3:]):
                return True
    return False


def inputs(name: str, tree: Path = SOURCE_TREE) -> list[Path]:
    """The Dockerfile and every file it copies from ``tree``, sorted."""
    text = (tree / "deploy" / f"{name}.Dockerfile").read_text()
    patterns = ignore_patterns((tree / ".dockerignore").read_text())
    files = {tree / "deploy" / f"{name}.Dockerfile"}
    for source in copied_sources(text):
        path = tree / source
        if not path.exists():
            raise LabError(f"{name}.Dockerfile copies {source}, which {tree} does not have")
        candidates = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        files |= {p for p in candidates if not is_ignored(p.relative_to(tree).as_posix(), patterns)}
    return sorted(files)


def digest(name: str, base_id: str, tree: Path = SOURCE_TREE) -> str:
    """12 hex digits naming what image ``name`` is built from: base, Dockerfile, copied files."""
    h = hashlib.sha256(base_id.encode() + b"\0")
    for path in inputs(name, tree):
        mode = path.stat().st_mode & 0o111
        h.update(f"{path.relative_to(tree).as_posix()}\0{mode:o}\0".encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()[:12]


def base_image_id(name: str) -> str | None:
    base = base_of(dockerfile(name).read_text())
    result = podman("image", "inspect", "--format", "{{.Id}}", base, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        return None
    return result.stdout.strip()


def ref(name: str) -> str:
    """The image built from this tree: ``localhost/lbroute/NAME:VERSION-DIGEST``."""
    base = base_image_id(name)
    if base is None:
        wanted = base_of(dockerfile(name).read_text())
        raise LabError(f"no base image for {name} ({wanted}); run `make images`")
    return f"{REPOSITORY}/{name}:{version()}-{digest(name, base)}"


def refs() -> dict[str, str]:
    return {name: ref(name) for name in NAMES}


def exists(image: str) -> bool:
    return podman("image", "exists", image, check=False).returncode == 0


def built_refs() -> dict[str, str]:
    """This tree's images, all of which must exist: a LabError naming what to run otherwise."""
    found = refs()
    missing = [image for image in found.values() if not exists(image)]
    if missing:
        raise LabError(f"not built from this tree: {', '.join(missing)}; run `make images`")
    return found


# --- building ---------------------------------------------------------------------------------


def ensure_base(name: str) -> None:
    if base_image_id(name) is not None:
        return
    started = time.monotonic()
    log.info("images.base.making", target=base_of(dockerfile(name).read_text()))
    result = subprocess.run(["bash", str(BASE_IMAGE_SCRIPT)], env=environment(), check=False)
    if result.returncode != 0:
        raise LabError(f"{BASE_IMAGE_SCRIPT} failed (exit {result.returncode}); its messages are above")
    log.info("images.base.made", seconds=round(time.monotonic() - started, 1))


def build(name: str) -> str:
    """Build image ``name`` unless this tree's is there already; returns its reference."""
    ensure_base(name)
    image = ref(name)
    if exists(image):
        log.info("images.up_to_date", target=image)
        return image
    BUILD_LOGS.mkdir(parents=True, exist_ok=True)
    build_log = BUILD_LOGS / f"{name}.log"
    argv = [
        "podman", "build", "--pull=never", "--network", "host", "--layers",
        *_build_mounts(),
        "--label", f"org.opencontainers.image.version={version()}",
        "--label", f"lbroute.inputs={image.rsplit('-', 1)[1]}",
        "-f", str(dockerfile(name)), "-t", image, "-t", f"{REPOSITORY}/{name}:{version()}",
        str(SOURCE_TREE),
    ]  # fmt: skip
    started = time.monotonic()
    with open(build_log, "w") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=environment(), check=False)
    if result.returncode != 0:
        tail = build_log.read_text(errors="replace").splitlines()[-15:]
        raise LabError(f"building {image} failed; the end of {build_log}:\n" + "\n".join(tail))
    log.info("images.built", target=image, seconds=round(time.monotonic() - started, 1))
    forget_old(name, keep=image)
    return image


# how this machine's apt reaches its archive, if it says: the RUN steps' apt does the same
APT_ACQUIRE_KEYS = (
    "Acquire::http::Proxy",
    "Acquire::https::Proxy",
    "Acquire::Check-Valid-Until",
    "Acquire::Check-Date",
)


def apt_acquire_conf(values: dict[str, str]) -> str:
    """apt.conf lines for the settings this machine's apt has (pure: the values are given)."""
    return "".join(f'{key} "{values[key]}";\n' for key in APT_ACQUIRE_KEYS if values.get(key))


def _host_apt_values() -> dict[str, str]:
    out = {}
    for key in APT_ACQUIRE_KEYS:
        found = subprocess.run(["apt-config", "dump", key], capture_output=True, text=True, check=False)
        for line in found.stdout.splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                out[key] = value.strip().rstrip(";").strip('"')
    return out


def _build_mounts() -> list[str]:
    """For the RUN steps only, as build flags that never reach a layer (the Dockerfiles stay as
    Docker users build them): the host's CA bundle and a pip.conf naming it, so pip trusts
    what the host trusts (a proxy that re-signs TLS, a private index); and how the host's apt
    reaches its archive (a proxy; a mirror whose Release files have expired)."""
    mounts = []
    if HOST_CA_BUNDLE.is_file():
        mounts += [
            "-v", f"{HOST_CA_BUNDLE}:/run/host-ca/ca-certificates.crt:ro",
            "-v", f"{BUILD_PIP_CONF}:/etc/pip.conf:ro",
        ]  # fmt: skip
    acquire = apt_acquire_conf(_host_apt_values()) if shutil.which("apt-config") else ""
    if acquire:
        BUILD_LOGS.mkdir(parents=True, exist_ok=True)
        conf = BUILD_LOGS / "apt-acquire.conf"
        conf.write_text(
            "// this machine's apt settings for reaching its archive (lbroute/lab/images.py)\n" + acquire
        )
        mounts += ["-v", f"{conf}:/etc/apt/apt.conf.d/99lbroute-host-acquire:ro"]
    return mounts


def to_forget(tags: list[tuple[int, str]], keep: str, now: float) -> list[str]:
    """Of (created, tag), those beyond the newest KEEP (``keep`` counted) and older than a day."""
    newest_first = [(created, tag) for created, tag in sorted(tags, reverse=True) if tag != keep]
    return [tag for created, tag in newest_first[KEEP - 1 :] if now - created > KEEP_SECONDS]


def forget_old(name: str, keep: str, now: float | None = None) -> list[str]:
    """Untag this name's images of older trees: beyond the newest KEEP, and older than a day.
    An image a container uses stays (podman refuses)."""
    listed = podman("images", "--format", "json", "--filter", f"reference={REPOSITORY}/{name}")
    now = time.time() if now is None else now
    tags = []
    for image in json.loads(listed.stdout or "[]"):
        for tag in image.get("Names") or []:
            if re.fullmatch(rf"{re.escape(REPOSITORY)}/{re.escape(name)}:[\d.]+-[0-9a-f]{{12}}", tag):
                tags.append((int(image.get("Created", 0)), tag))
    old = to_forget(tags, keep, now)
    removed = [tag for tag in old if podman("rmi", tag, check=False).returncode == 0]
    if removed:
        log.info("images.forgotten", target=name, count=len(removed))
    return removed


# --- the lock ---------------------------------------------------------------------------------

LOCK_HEADER = """\
# Every Python package the images install, pinned: pyproject.toml's dependencies at their pins,
# what they pull in, and the build backend (setuptools). Written by `make lock`
# (python -m lbroute.lab.images lock) with Debian 12's python3, the images' interpreter;
# regenerate it after changing a dependency in pyproject.toml, never edit it by hand.
"""


def lock(python: str = "/usr/bin/python3") -> Path:
    """Resolve pyproject's dependencies in a fresh venv of ``python`` and pin what it installs."""
    project = tomllib.loads((SOURCE_TREE / "pyproject.toml").read_text())
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    # the machine's pip settings (its index, its CA), but no local wheel directory, extra
    # index or constraint: every pin must come from the index the images install from
    env = {**os.environ, "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": "", "PIP_CONSTRAINT": ""}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([python, "-m", "venv", tmp], check=True)
        pip = [f"{tmp}/bin/pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", "--no-cache-dir", *wanted], check=True, env=env)
        frozen = subprocess.run([*pip, "freeze", "--all"], check=True, capture_output=True, text=True).stdout
    pins = sorted(
        (line for line in frozen.splitlines() if line and not line.startswith("pip==")), key=str.lower
    )
    LOCK.write_text(LOCK_HEADER + "\n".join(pins) + "\n")
    return LOCK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lbroute.lab.images", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build_p = sub.add_parser("build", help="build this tree's images unless they exist")
    build_p.add_argument("names", nargs="*", metavar="NAME", help=f"{', '.join(NAMES)} (default: all)")
    sub.add_parser("refs", help="this tree's image names, as JSON")
    sub.add_parser("lock", help=f"rewrite {LOCK.relative_to(SOURCE_TREE)} from pyproject.toml")
    args = parser.parse_args(argv)
    logs.configure()
    try:
        if args.command == "build":
            unknown = sorted(set(args.names) - set(NAMES))
            if unknown:
                raise LabError(f"no image {', '.join(unknown)}; there are {', '.join(NAMES)}")
            for name in args.names or NAMES:
                sys.stdout.write(build(name) + "\n")
        elif args.command == "refs":
            sys.stdout.write(json.dumps(refs(), indent=2) + "\n")
        else:
            sys.stdout.write(f"wrote {lock()}\n")
    except (LabError, PodmanError) as err:
        sys.stderr.write(f"images: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
