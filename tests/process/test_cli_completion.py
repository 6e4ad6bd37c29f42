"""The generated bash completion, run by bash itself against the real parser."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from lbroute.cli.completion_cmd import bash_script
from lbroute.cli.main import parser

SCRIPT = bash_script(parser())


def complete(line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end; a trailing space starts a new word)."""
    words = line.split()
    if line.endswith(" "):
        words.append("")
    program = "\n".join(
        [
            SCRIPT,
            f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})",
            f"COMP_CWORD={len(words) - 1}",
            "_lbroute",
            'printf "%s\\n" "${COMPREPLY[@]}"',
        ]
    )
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, check=True)
    return [w for w in result.stdout.splitlines() if w]


pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def test_commands() -> None:
    offered = complete("lbroute ")
    assert {"vips", "peers", "rib", "fib", "diff", "watch", "lab", "completion"} <= set(offered)
    assert complete("lbroute vi") == ["vips"]


def test_options_of_a_command_and_of_a_nested_one() -> None:
    assert {"--json", "--rr", "--router", "--lab", "--vip", "--vip-pool"} <= set(complete("lbroute vips --"))
    assert "--lbs" in complete("lbroute lab up --")
    assert "--count" in complete("lbroute lab probe --")


def test_choices_of_an_option_value() -> None:
    assert complete("lbroute rib --at ") == ["rr", "router"]
    assert complete("lbroute rib --at ro") == ["router"]
    # an option's value is not taken for a command: completion continues inside `rib`
    assert "--json" in complete("lbroute rib --at rr --")


def test_positional_choices() -> None:
    assert complete("lbroute completion ") == ["bash"]
