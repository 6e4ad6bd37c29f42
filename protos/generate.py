"""Compile gobgp's API protos into the importable package ``lbroute.gobgp.apipb``.

The .proto files are not ours and are not committed: ``setup/install-debian-deps.sh``
unpacks them from Debian's ``golang-github-osrg-gobgp-dev`` package, the same source
version as the gobgpd we run, so stubs and daemon always agree.

grpc_tools writes modules that import each other as top-level names
(``import attribute_pb2``); inside a package those must be relative imports, which
is the one rewrite done here.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

PROTO_FILES = ("gobgp.proto", "attribute.proto", "capability.proto")
DEFAULT_SRC = Path("/opt/lbroute/gobgp-3.36.0/usr/share/gocode/src/github.com/osrg/gobgp/api")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "lbroute" / "gobgp" / "apipb"
LOCAL_IMPORT = re.compile(r"^import (\w+_pb2)( as \w+)?$", re.MULTILINE)


def generate(src: Path, out: Path) -> list[Path]:
    from grpc_tools import protoc  # imported late: only setup needs grpcio-tools

    missing = [name for name in PROTO_FILES if not (src / name).is_file()]
    if missing:
        raise SystemExit(
            f"protos: {', '.join(missing)} not found in {src}; "
            "run setup/install-debian-deps.sh first (it unpacks them from Debian)"
        )
    include = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        args = [
            "grpc_tools.protoc",
            f"-I{src}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(src / name) for name in PROTO_FILES),
        ]
        if protoc.main(args) != 0:
            raise SystemExit(f"protos: protoc failed on {src}")
        staged = Path(tmp)
        for path in staged.glob("*.py*"):
            text = LOCAL_IMPORT.sub(r"from . import \1\2", path.read_text())
            path.write_text(text)
        (staged / "__init__.py").write_text(
            '"""gobgp API stubs, generated at setup by protos/generate.py; not committed."""\n'
        )
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(staged, out)
    return sorted(out.iterdir())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="directory holding gobgp.proto")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="package directory to write")
    args = parser.parse_args(argv)
    written = generate(args.src, args.out)
    print(f"protos: wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
