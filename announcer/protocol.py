"""What a line from exabgp means to us. Pure, so the odd ones can be table-tested."""

from __future__ import annotations

import enum
import json


class Answer(enum.Enum):
    DONE = "done"  # the last command was accepted
    ERROR = "error"  # the last command was rejected
    SHUTDOWN = "shutdown"  # exabgp is going away: its Cease withdraws our routes for us
    MESSAGE = "message"  # a JSON message we did not ask for (state, update, ...)
    NOISE = "noise"  # anything else: logged, never fatal


def classify(line: str) -> Answer:
    text = line.strip()
    if text == "done":
        return Answer.DONE
    if text == "error":
        return Answer.ERROR
    if text.startswith("{"):
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
