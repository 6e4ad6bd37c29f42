"""Writing a rendered config for ``render-exabgp-config --output FILE`` (and
``render-bfdd-config --output FILE``): exabgp.conf holds MD5 keys, so it goes through
``lbroute.config.owned_file`` (0600, never half written, only over a file that starts with the
renderer's header)."""

from __future__ import annotations

from lbroute.config.owned_file import OutputError
from lbroute.config.owned_file import write as write_owned

from .exabgp_config import HEADER

__all__ = ["OutputError", "write"]


def write(path: str, text: str, *, header: str = HEADER, command: str = "render-exabgp-config") -> None:
    """``text`` (which starts with ``header``) to ``path``, replacing only a file that starts
    with ``header`` too."""
    write_owned(path, text, header=header, writer=command)
