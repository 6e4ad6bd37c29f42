"""What a valid command-line value is: each type turns bad input into one clear argparse error."""

from __future__ import annotations

import argparse
import ipaddress

from lbroute.lab.topology import TopologyError, check_prefix


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
        raise argparse.ArgumentTypeError(f"{text!r} is not a CIDR range like 10.1.0.0/16") from None


def vip_prefix(text: str) -> str:
    """A VIP as gobgpd names it: an address gets its host length (10.1.1.1 -> 10.1.1.1/32)."""
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a prefix like 10.1.1.1/32") from None


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def restart_time(text: str) -> int:
    """A BGP graceful-restart time: 12 bits of seconds; 0 here means none."""
    if not text.isdigit() or int(text) > 4095:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds from 0 to 4095")
    return int(text)
