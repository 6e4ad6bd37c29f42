"""Lines from exabgp on the announcer's stdin, at random: JSON of any shape, truncated,
binary, huge, deeply nested. ``classify`` never raises and calls a line an acknowledgement
only when it is one; through the real channel (a pipe) such garbage is logged and skipped,
and a healthy VIP is announced and stays announced — never withdrawn because of it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from collections.abc import Iterator

from hypothesis import assume, example, given
from hypothesis import strategies as st

from announcer.exabgp import Announcer, ExabgpChannel
from announcer.protocol import MAX_LINE, Answer, classify
from announcer.state import Route
from tests.support.properties import BAD_INPUT, json_values, odd_text

SHUTDOWN = '{"type": "notification", "notification": "shutdown"}'


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


json_lines = json_values.map(json.dumps)
lines = st.one_of(
    odd_text,
    json_lines,
    json_lines.flatmap(
        lambda text: st.integers(0, max(len(text) - 1, 0)).map(lambda n: text[:n])
    ),  # truncated
    st.integers(33, 20000).map(_deep),
    st.integers(33, 5000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.sampled_from(
        ["done", " error ", SHUTDOWN, "done done", "DONE", '{"type": "notification"}', "{" * 70000]
    ),
)


@BAD_INPUT
@given(line=lines)
@example(line="x" * (MAX_LINE + 1))
@example(line="[" * 100000)  # a RecursionError in json.loads, unless the depth is checked first
def test_classify_names_an_answer_only_for_an_answer(line: str) -> None:
    answer = classify(line)
    text = line.strip()
    assert (answer is Answer.DONE) == (text == "done")
    assert (answer is Answer.ERROR) == (text == "error")
    if answer is Answer.SHUTDOWN:
        message = json.loads(text)
        assert message["type"] == "notification" and message["notification"] == "shutdown"
    if text == SHUTDOWN:
        assert answer is Answer.SHUTDOWN


garbage_bytes = st.one_of(
    lines.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
    st.integers(MAX_LINE - 2, MAX_LINE + 70000).map(lambda n: b"\xff" * n),  # over the line limit
).map(lambda raw: raw.replace(b"\n", b" "))  # one line each: the channel splits on newlines


def not_an_answer(raw: bytes) -> bool:
    return classify(raw.decode(errors="replace").strip()) not in (Answer.DONE, Answer.ERROR, Answer.SHUTDOWN)


ROUTE = Route("10.1.1.1/32", "10.0.0.11")


@contextlib.contextmanager
def channel() -> Iterator[tuple[ExabgpChannel, int, io.BytesIO]]:
    """A channel reading a fresh pipe, its write end, and what it sends."""
    read_end, write_end = os.pipe()
    out = io.BytesIO()
    with os.fdopen(read_end, "rb", buffering=0) as stdin:
        try:
            yield ExabgpChannel(stdin, out), write_end, out
        finally:
            os.close(write_end)


def feed(fd: int, data: bytes) -> threading.Thread:
    """Write ``data`` from a thread (a pipe holds 64 KiB), keeping the write end open."""

    def write() -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@BAD_INPUT
@given(garbage=st.lists(garbage_bytes, max_size=5))
@example(garbage=[b"x" * (MAX_LINE + 10), b"\x00\x01\xfe", b'{"type": "state", "neighbor": ' * 40])
def test_garbage_before_the_ack_still_announces_a_healthy_vip(garbage: list[bytes]) -> None:
    assume(all(not_an_answer(raw) for raw in garbage))
    with channel() as (chan, write_end, out):
        writer = feed(write_end, b"".join(raw + b"\n" for raw in garbage) + b"done\n")
        announcer = Announcer(chan, ack_timeout=30)
        assert announcer.converge(frozenset({ROUTE}))
        writer.join(10)
    assert announcer.announced == {ROUTE}
    assert out.getvalue().decode() == ROUTE.announce_command() + "\n"
    assert chan.counters.unexpected + chan.counters.too_long >= sum(
        bool(raw.decode(errors="replace").strip()) for raw in garbage
    )


@BAD_INPUT
@given(garbage=st.lists(st.one_of(lines.map(str.encode), st.binary(max_size=200)), max_size=6))
def test_garbage_between_ticks_withdraws_nothing(garbage: list[bytes]) -> None:
    raws = [raw.replace(b"\n", b" ")[:5000] for raw in garbage]
    assume(all(not_an_answer(raw) for raw in raws))
    with channel() as (chan, write_end, out):
        announcer = Announcer(chan)
        announcer.announced = frozenset({ROUTE})  # announced and acknowledged before
        os.write(write_end, b"".join(raw + b"\n" for raw in raws))  # under 64 KiB: the pipe holds it
        chan.drain_unsolicited()  # what the main loop does when stdin is readable
        assert announcer.converge(frozenset({ROUTE}))  # the next tick: still healthy
        assert announcer.announced == {ROUTE}
        assert out.getvalue() == b""  # nothing sent, above all no withdraw
