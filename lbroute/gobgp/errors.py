"""Classify gRPC failures by status code: transient ones are retried, the rest are bugs or config."""

from __future__ import annotations

import grpc

TRANSIENT_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.ABORTED,
    }
)


def is_transient(error: BaseException) -> bool:
    """True for a daemon that is restarting, not yet listening or briefly overloaded."""
    return isinstance(error, grpc.RpcError) and error.code() in TRANSIENT_CODES


def describe(error: BaseException) -> str:
    if isinstance(error, grpc.RpcError):
        return f"{error.code().name}: {error.details()}"
    return repr(error)
