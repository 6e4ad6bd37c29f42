"""Compile gobgp's API protos into the importable package ``lbroute.gobgp.apipb``.

The .proto files are not ours and are not committed: ``setup/install-debian-deps.sh``
unpacks them from Debian's ``golang-github-osrg-gobgp-dev`` package, the same source
version as the gobgpd we run, into the prefix ``/opt/lbroute/gobgp`` links to, so stubs
and daemon always agree.

gobgp 4.x keeps them in ``proto/api/`` (proto package ``api``) and they import each other
as ``api/X.proto``, so the include root is ``proto/``. grpc_tools then writes modules that
import each other as ``from api import X_pb2``; inside our package those must be relative
imports, which is the one rewrite done here.

The output records a digest of its inputs (the protos, this script, grpc_tools' version),
so running this again with nothing changed does nothing: ``make`` runs it every time, and
a new gobgpd behind the link gets new stubs.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_FILES = (
    "gobgp.proto",
    "attribute.proto",
    "capability.proto",
    "common.proto",
    "extcom.proto",
    "nlri.proto",
)
PROTO_PACKAGE = "api"  # the directory the protos sit in, and the name they import each other by
DEFAULT_SRC = Path("/opt/lbroute/gobgp/usr/share/gocode/src/github.com/osrg/gobgp/proto") / PROTO_PACKAGE
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "lbroute" / "gobgp" / "apipb"
PACKAGE_IMPORT = re.compile(rf"^from {PROTO_PACKAGE} import (\w+_pb2)( as \w+)?$", re.MULTILINE)
UNREWRITTEN = re.compile(rf"^(from {PROTO_PACKAGE}[ .]|import {PROTO_PACKAGE}\b)", re.MULTILINE)
SERVICE = re.compile(r"^service \w+", re.MULTILINE)
DIGEST = re.compile(r'^SOURCE_DIGEST = "([0-9a-f]+)"$', re.MULTILINE)
INIT = '''"""gobgp API stubs, generated at setup by protos/generate.py; not committed."""

# protos/generate.py's inputs; equal means these files are up to date
SOURCE_DIGEST = "{digest}"
'''


def source_digest(src: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    h.update(importlib.metadata.version("grpcio-tools").encode())
    for name in PROTO_FILES:
        h.update(name.encode() + b"\0" + (src / name).read_bytes())
    return h.hexdigest()


def up_to_date(out: Path, digest: str) -> bool:
    init = out / "__init__.py"
    if not init.is_file():
        return False
    found = DIGEST.search(init.read_text())
    return found is not None and found.group(1) == digest


def generate(src: Path, out: Path) -> list[Path]:
    missing = [name for name in PROTO_FILES if not (src / name).is_file()]
    if missing:
        raise SystemExit(
            f"protos: {', '.join(missing)} not found in {src}; "
            "run setup/install-debian-deps.sh first (it unpacks them from Debian)"
        )
    if src.name != PROTO_PACKAGE:
        raise SystemExit(f"protos: {src} must be the protos' own '{PROTO_PACKAGE}' directory")
    from grpc_tools import protoc  # imported late: only setup needs grpcio-tools

    include = Path(protoc.__file__).parent / "_proto"
    digest = source_digest(src)
    out.parent.mkdir(parents=True, exist_ok=True)
    # staged beside the package and swapped in by rename: importers never see half of it
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{src.parent}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(src / name) for name in PROTO_FILES),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protos: protoc failed on {src}")
        staged = Path(tmp) / PROTO_PACKAGE
        for name in PROTO_FILES:
            # grpc_tools writes a (boilerplate) *_pb2_grpc.py for every file; keep the services'
            if not SERVICE.search((src / name).read_text()):
                (staged / name.replace(".proto", "_pb2_grpc.py")).unlink()
        for path in staged.glob("*.py*"):
            text = PACKAGE_IMPORT.sub(r"from . import \1\2", path.read_text())
            if left := UNREWRITTEN.search(text):
                raise SystemExit(f"protos: {path.name} still imports {left.group(0)!r}; extend the rewrite")
            path.write_text(text)
        (staged / "__init__.py").write_text(INIT.format(digest=digest))
        # readable by everyone: a non-root user (a container's) imports these; tempfile's 0700 is not
        os.chmod(staged, 0o755)
        for path in staged.iterdir():
            os.chmod(path, 0o644)
        old = Path(tmp) / "old"
        if out.exists():
            out.rename(old)
        staged.rename(out)
        if old.exists():
            shutil.rmtree(old)
    return sorted(out.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--src", type=Path, default=DEFAULT_SRC, help=f"the '{PROTO_PACKAGE}' directory holding gobgp.proto"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="package directory to write")
    args = parser.parse_args(argv)
    if all((args.src / name).is_file() for name in PROTO_FILES) and up_to_date(
        args.out, source_digest(args.src)
    ):
        print(f"protos: {args.out} is up to date", file=sys.stderr)
        return 0
    written = generate(args.src, args.out)
    print(f"protos: wrote {len(written)} files to {args.out} from {args.src.resolve()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
