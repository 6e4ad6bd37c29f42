"""The pod's connections to its VIPs, counted from /proc/net/tcp as a little-endian kernel prints it."""

from __future__ import annotations

from announcer.connections import count

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0101010A:0050 0200020A:C350 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0101010A:0050 0200020A:C351 08 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   3: 0101010A:0050 0200020A:C352 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0
   4: 0201A8C0:B3D2 0100A8C0:00B3 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
   5: 0102010A:0007 0200020A:C353 01 00000000:00000000 00:00000000 00000000     0        0 5 1 0 20 4 30 10 -1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 0000000000000000FFFF00000101010A:0050 0000000000000000FFFF00000200020A:C354 01 0
   1: B80D0120000000000000000001000000:0050 B80D0120000000000000000002000000:C355 01 0
"""


def test_busy_connections_to_the_vips_are_counted_and_nothing_else() -> None:
    # established and close-wait to 10.1.1.1 count; listening, time-wait, the BGP session and
    # another address do not
    assert count(TCP.splitlines(), ["10.1.1.1/32"], "little") == 2
    assert count(TCP.splitlines(), ["10.1.1.1/32", "10.1.2.1/32"], "little") == 3
    assert count(TCP.splitlines(), [], "little") == 0


def test_ipv6_and_ipv4_mapped_sockets() -> None:
    assert count(TCP6.splitlines(), ["10.1.1.1/32"], "little") == 1
    assert count(TCP6.splitlines(), ["2001:db8::1/128"], "little") == 1
