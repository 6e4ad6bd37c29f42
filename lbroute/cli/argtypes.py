"""What a valid command-line value is: each type turns bad input into one clear argparse error.

Every error names the value as typed, cut to its first characters (``shown``).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
from collections.abc import Callable

from lbroute.core.echo import shown
from lbroute.lab.topology import TopologyError, check_prefix

# the longest deadline for one gobgpd read: a 64k-path RIB is read in seconds (docs/benchmarks-cli.md)
RPC_TIMEOUT_MAX = 600.0


def lab_name(text: str) -> str:
    """A lab's prefix (``--prefix``, ``--lab``): checked by the lab's own rule before any use."""
    try:
        return check_prefix(text)
    except TopologyError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def network(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a CIDR range like 10.1.0.0/16") from None


def vip_prefix(text: str) -> str:
    """A VIP as gobgpd names it: an address gets its host length (10.1.1.1 -> 10.1.1.1/32)."""
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a prefix like 10.1.1.1/32") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a positive number of seconds")
    return value


def positive_seconds(text: str) -> float:
    return _seconds(text)


def bounded_seconds(most: float) -> Callable[[str], float]:
    """Seconds, more than 0 and at most ``most``."""

    def parse(text: str) -> float:
        value = _seconds(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"{shown(text)} seconds: at most {most:g}")
        return value

    parse.__name__ = "seconds"  # what argparse calls the type in its own messages
    return parse


def rpc_timeout(text: str) -> float:
    value = _seconds(text)
    if value > RPC_TIMEOUT_MAX:
        raise argparse.ArgumentTypeError(f"{shown(text)} seconds: at most {RPC_TIMEOUT_MAX:g} for one read")
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a positive whole number")
    return int(text)


def bounded_int(least: int, most: int) -> Callable[[str], int]:
    """A whole number from ``least`` to ``most``."""

    def parse(text: str) -> int:
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()) or not least <= int(text) <= most:
            raise argparse.ArgumentTypeError(f"{shown(text)}: give a whole number from {least} to {most}")
        return int(text)

    parse.__name__ = "number"
    return parse


def restart_time(text: str) -> int:
    """A BGP graceful-restart time: 12 bits of seconds; 0 here means none."""
    if not (text.isascii() and text.isdigit()) or int(text) > 4095:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number of seconds from 0 to 4095")
    return int(text)


def lb_name(text: str) -> int:
    """``lb2`` (or ``2``) -> 2."""
    digits = text.removeprefix("lb")
    if not (digits.isascii() and digits.isdigit()) or int(digits) < 1 or len(digits) > 3:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not an LB name such as lb2")
    return int(digits)


def fault_target(text: str) -> str:
    """A host ``lab hang``/``lab link`` can act on: ``lb2``, ``rr``, ``rr2`` (the lab says which exist)."""
    if text in ("rr", "rr2") or (
        text.startswith("lb") and len(text) <= 5 and text[2:].isascii() and text[2:].isdigit()
    ):
        return text
    raise argparse.ArgumentTypeError(f"{shown(text)} is not a lab host such as lb2, rr or rr2")


def bfd_timers(text: str) -> tuple[int, int] | None:
    """``300x3`` -> (300, 3): a BFD interval in ms and a multiplier; ``off`` -> None."""
    if text == "off":
        return None
    interval, sep, multiplier = text.partition("x")
    if not (
        sep and interval.isascii() and interval.isdigit() and multiplier.isascii() and multiplier.isdigit()
    ):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not MSxN such as 300x3, or off")
    if not (10 <= int(interval) <= 60000 and 2 <= int(multiplier) <= 255) or len(text) > 12:
        raise argparse.ArgumentTypeError(
            f"{shown(text)}: an interval of 10 to 60000 ms and a multiplier of 2 to 255"
        )
    return int(interval), int(multiplier)


_HOST_PORT = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]{1,5})")


def target(text: str) -> str:
    """A gobgpd's gRPC address: ``unix:///absolute/path``, ``/absolute/path`` or ``HOST:PORT``
    (``[v6]:PORT`` for an IPv6 address), with a port from 1 to 65535."""
    problem = target_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def target_problem(text: str) -> str | None:
    """What is wrong with a gRPC target, or None; shared by the flags and the environment."""
    path = text.removeprefix("unix://") if text.startswith("unix://") else text
    if text.startswith("unix:") and not text.startswith("unix://"):
        return f"{shown(text)}: write a unix socket as unix:///absolute/path"
    if path.startswith("/"):
        return None if "\x00" not in path else f"{shown(text)}: a path cannot hold a NUL byte"
    if text.startswith("unix://"):
        return f"{shown(text)}: the socket path must be absolute (unix:///run/gobgpd/gobgp.sock)"
    match = _HOST_PORT.fullmatch(text)
    if match is None:
        return f"{shown(text)} is not a gobgpd address: unix:///path, /path or HOST:PORT"
    if match["v6"] is not None:
        try:
            ipaddress.IPv6Address(match["v6"])
        except ValueError:
            return f"{shown(text)}: {shown(match['v6'])} is not an IPv6 address"
    if not 1 <= int(match["port"]) <= 65535:
        return f"{shown(text)}: port {match['port']} is not between 1 and 65535"
    return None


def vty_directory(text: str) -> str:
    """An FRR vty socket directory (bgpd's ``--vty_socket``): an absolute path."""
    if not text.startswith("/") or "\x00" in text:
        raise argparse.ArgumentTypeError(
            f"{shown(text)}: give bgpd's vty socket directory as an absolute path"
        )
    return text
