#!/usr/bin/python3
"""Start exabgp 4.2 with its reconnect backoff starting over once a session is up.

exabgp waits before each new connection attempt, and every failure lengthens the wait:
0, 1, 2, 3, 4, 5, 7, 9, 11, 14 ... up to 60 s (``exabgp/reactor/delay.py``). 4.2 resets
that wait on configuration changes, never on a session that came up (upstream issue
#1176, still so in 4.2.25). An LB pod lives through every restart of its route
reflector, so after a handful of them its speaker takes ten, then sixty seconds to come
back: long after the router's graceful-restart window, and with one RR and no graceful
restart that is how long the VIP is gone. This starts exabgp with one change: when a
session reaches ESTABLISHED, the wait goes back to zero.

Runs under the interpreter exabgp is installed for (Debian's ``/usr/bin/python3``), so it
imports nothing but the standard library and exabgp: ``python3 exabgp_launcher.py
exabgp.conf`` takes exabgp's own arguments.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
from collections.abc import Callable, Generator
from typing import Any

_MARK = "_lbroute_resets_backoff"


def reset_backoff_when_established(peer_class: Any) -> None:
    """Wrap ``Peer._main``, the generator exabgp runs once a session is ESTABLISHED."""
    established: Callable[[Any], Generator[Any, Any, Any]] = peer_class._main
    if getattr(established, _MARK, False):
        return

    def _main(self: Any) -> Generator[Any, Any, Any]:
        self._delay.reset()
        return (yield from established(self))

    setattr(_main, _MARK, True)
    peer_class._main = _main


def main() -> None:
    # started as a file from the announcer package, whose announcer/exabgp.py would shadow exabgp
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    peer = importlib.import_module("exabgp.reactor.peer")
    delay = importlib.import_module("exabgp.reactor.delay")
    if not hasattr(peer.Peer, "_main") or not hasattr(delay.Delay, "reset"):
        sys.exit("exabgp_launcher: this exabgp has no Peer._main or Delay.reset; run exabgp itself")
    reset_backoff_when_established(peer.Peer)
    # exabgp finds /etc/exabgp (its env file) from where it was started
    sys.argv[0] = shutil.which("exabgp") or "/usr/sbin/exabgp"
    importlib.import_module("exabgp.application").run_exabgp()


if __name__ == "__main__":
    main()
