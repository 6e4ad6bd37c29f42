"""``protos/generate.py`` as setup runs it: stubs any user can import, written again only when
their inputs change."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def generate(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # umask 077, as under a strict root shell: the modes must not depend on it (set by a shell,
    # not preexec_fn: a forked copy of this process would run grpc's fork handlers)
    argv = [sys.executable, str(ROOT / "protos" / "generate.py"), "--out", str(out), *args]
    return subprocess.run(
        ["/bin/sh", "-c", 'umask 077 && exec "$@"', "generate", *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_stubs_are_readable_by_every_user_and_import_as_one_package(tmp_path: Path) -> None:
    out = tmp_path / "pkg" / "apipb"
    done = generate(out)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o755  # tempfile's 0700 kept a non-root user out
    files = sorted(p.name for p in out.iterdir())
    assert {stat.S_IMODE((out / f).stat().st_mode) for f in files} == {0o644}
    # the six 4.8 protos, one service module, no boilerplate *_pb2_grpc for the others
    assert [f for f in files if f.endswith("_pb2.py")] == [
        f"{name}_pb2.py" for name in ("attribute", "capability", "common", "extcom", "gobgp", "nlri")
    ]
    assert [f for f in files if f.endswith("_grpc.py")] == ["gobgp_pb2_grpc.py"]
    # relative imports only: the package imports under any name
    probe = "import apipb.gobgp_pb2_grpc as g; print(g.GoBgpServiceStub.__name__)"
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=out.parent, timeout=60
    )
    assert imported.stdout.strip() == "GoBgpServiceStub", imported.stderr


def test_a_second_run_with_the_same_protos_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "apipb"
    assert generate(out).returncode == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    again = generate(out)
    assert again.returncode == 0 and "is up to date" in again.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    # a changed input (here: the stubs' record of it) is generated afresh
    init = out / "__init__.py"
    init.write_text(init.read_text().replace('SOURCE_DIGEST = "', 'SOURCE_DIGEST = "0'))
    assert "wrote 14 files" in generate(out).stderr


def test_protos_that_are_not_there_are_one_line_naming_setup(tmp_path: Path) -> None:
    done = generate(tmp_path / "apipb", "--src", str(tmp_path / "api"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "protos: gobgp.proto, attribute.proto, capability.proto, common.proto, extcom.proto, nlri.proto "
        f"not found in {tmp_path / 'api'}; "
        "run setup/install-debian-deps.sh first (it unpacks them from Debian)"
    ]
    assert not (tmp_path / "apipb").exists()
