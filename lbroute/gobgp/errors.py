"""What a failed gobgpd call means, as types: the rest of lbroute classifies by type, never by grpc.

The adapter turns every ``grpc.RpcError`` into a ``GobgpError`` carrying the daemon's
target and the gRPC status name, so nothing outside ``lbroute.gobgp`` imports grpc.
``GobgpUnavailable`` is transient (the daemon is restarting, not listening yet or briefly
overloaded): retry it. ``GobgpRejected`` is permanent: gobgpd refused the request (4.8
answers ``UNKNOWN`` with a message for nearly every refusal, ``INVALID_ARGUMENT`` for an
enum left unspecified, and ``UNKNOWN: server stopped`` to everything after StopBgp), so
retrying the same thing cannot help.

This module imports no grpc on purpose: fakes raise the same types.
"""

from __future__ import annotations

# status names whose cause passes by itself
TRANSIENT_STATUSES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED"})


class GobgpError(Exception):
    """A gobgpd call that failed. ``status`` is the gRPC status name, e.g. ``UNAVAILABLE``."""

    def __init__(self, target: str, status: str, details: str = "") -> None:
        self.target = target
        self.status = status
        self.details = details
        super().__init__(f"{status}: {details}" if details else status)

    @staticmethod
    def of(target: str, status: str, details: str = "") -> GobgpError:
        """The right subclass for a status name."""
        kind = GobgpUnavailable if status in TRANSIENT_STATUSES else GobgpRejected
        return kind(target, status, details)


class GobgpUnavailable(GobgpError):
    """Transient: gobgpd did not answer (in time). Retry with backoff."""


class GobgpRejected(GobgpError):
    """Permanent: gobgpd answered and refused. A bug in what we sent, or a clash with others' objects."""


def is_transient(error: BaseException) -> bool:
    """True for a daemon that is restarting, not yet listening or briefly overloaded."""
    return isinstance(error, GobgpUnavailable)


def describe(error: BaseException) -> str:
    if isinstance(error, GobgpError):
        return str(error)
    return repr(error)
