"""The exec check runs a real program: a result for every outcome, never a crash."""

from __future__ import annotations

from announcer.config import HealthCheckConfig
from announcer.probes import run_probe


def check(**kw: object) -> HealthCheckConfig:
    return HealthCheckConfig.model_validate({"interval": 1.0, "timeout": 0.5, **kw})


def test_exec() -> None:
    assert run_probe("web", check(kind="exec", command=["/bin/true"])).ok
    failed = run_probe("web", check(kind="exec", command=["/bin/sh", "-c", "exit 3"]))
    assert (failed.ok, failed.reason) == (False, "exit 3")
    slow = run_probe("web", check(kind="exec", command=["/bin/sleep", "5"], timeout=0.1))
    assert (slow.ok, slow.reason) == (False, "timeout")
    missing = run_probe("web", check(kind="exec", command=["/nonexistent/check"]))
    assert not missing.ok and "FileNotFoundError" in missing.reason


def test_exec_output_is_not_kept() -> None:
    """A chatty check cannot grow the announcer: its stdout and stderr are /dev/null (the exit
    code is the answer). The check itself looks where its output goes."""
    both_null = '[ "$(readlink /proc/$$/fd/1)" = /dev/null ] && [ "$(readlink /proc/$$/fd/2)" = /dev/null ]'
    result = run_probe("web", check(kind="exec", command=["/bin/sh", "-c", both_null]))
    assert (result.ok, result.reason) == (True, "")
