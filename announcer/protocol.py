"""What a line from exabgp means to us. Pure, so the odd ones can be table-tested.

A line is only parsed as JSON when it is short and shallow enough (``MAX_LINE`` characters,
``MAX_DEPTH`` levels of nesting): the announcer subscribes to nothing, so exabgp sends it
acknowledgements and a few small notifications (the deepest, an UPDATE it would send only to
a process that asked for them, nests about eight levels). Anything larger is noise, never
a parser's RecursionError. Why these numbers: docs/decisions/announcer-input-bounds.md.
"""

from __future__ import annotations

import enum
import json

MAX_LINE = 65536  # characters of one line from exabgp; the channel drops the rest of a longer one
MAX_DEPTH = 32  # levels of JSON nesting a line may have to be parsed at all


class Answer(enum.Enum):
    DONE = "done"  # the last command was accepted
    ERROR = "error"  # the last command was rejected
    SHUTDOWN = "shutdown"  # exabgp is going away: its Cease withdraws our routes for us
    MESSAGE = "message"  # a JSON message we did not ask for (state, update, ...)
    NOISE = "noise"  # anything else: logged, never fatal


def too_deep(text: str, limit: int) -> bool:
    """Whether ``[``/``{`` nest deeper than ``limit`` outside JSON strings."""
    if text.count("[") + text.count("{") <= limit:
        return False  # cannot nest deeper than there are brackets
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def classify(line: str) -> Answer:
    if len(line) > MAX_LINE:
        return Answer.NOISE
    text = line.strip()
    if text == "done":
        return Answer.DONE
    if text == "error":
        return Answer.ERROR
    if text.startswith("{"):
        if too_deep(text, MAX_DEPTH):
            return Answer.NOISE
        try:
            message = json.loads(text)
        except ValueError:
            return Answer.NOISE
        if (
            isinstance(message, dict)
            and message.get("type") == "notification"
            and message.get("notification") == "shutdown"
        ):
            return Answer.SHUTDOWN
        return Answer.MESSAGE
    return Answer.NOISE
