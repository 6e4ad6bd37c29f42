"""The lab's state directory: made and marked by `up`, removed by `down` only when marked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lbroute.kernel.nft import NftError
from lbroute.lab.daemons import write_private
from lbroute.lab.errors import LabError
from lbroute.lab.lab import Lab
from lbroute.lab.state import MARKER, LabState, claim_directory, is_lab_directory, remove_directory
from lbroute.lab.topology import TopologyError


@pytest.mark.parametrize("prefix", ["", "..", "/etc", "a/b"])
def test_no_path_is_made_from_a_prefix_that_is_no_lab_name(tmp_path: Path, prefix: str) -> None:
    with pytest.raises(TopologyError):
        LabState.directory(prefix, tmp_path)
    with pytest.raises(TopologyError):
        Lab(prefix, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_claim_makes_and_marks_the_directory_and_remove_takes_it_away(tmp_path: Path) -> None:
    directory = LabState.directory("lbr", tmp_path / "root")
    assert not is_lab_directory(directory)
    claim_directory(directory)
    assert is_lab_directory(directory) and (directory / MARKER).is_file()
    claim_directory(directory)  # an earlier lab's directory of the same name is taken over
    LabState(prefix="lbr", lbs=2).save(tmp_path / "root")
    assert LabState.load("lbr", tmp_path / "root") == LabState(prefix="lbr", lbs=2)
    assert remove_directory(directory)
    assert not directory.exists() and (tmp_path / "root").is_dir()


def test_a_directory_or_link_the_lab_did_not_make_is_neither_used_nor_removed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    theirs = root / "lbr"
    theirs.mkdir(parents=True)
    (theirs / "notes").write_text("theirs\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / MARKER).write_text("even a marked directory, behind a link\n")
    (root / "lnk").symlink_to(elsewhere)
    for directory in (theirs, root / "lnk"):
        assert not is_lab_directory(directory)
        with pytest.raises(LabError, match="was not made by the lab"):
            claim_directory(directory)
        assert not remove_directory(directory)
    with pytest.raises(LabError, match="not a lab's state directory"):
        LabState(prefix="lbr").save(root)
    assert (theirs / "notes").read_text() == "theirs\n" and (elsewhere / MARKER).exists()
    assert not (theirs / "state.json").exists()


def test_an_unreadable_state_file_reads_as_no_state(tmp_path: Path) -> None:
    directory = LabState.directory("lbr", tmp_path)
    claim_directory(directory)
    for garbage in ("{not json", '{"prefix": "lbr", "no_such_field": 1}', "[]", "\x00\x01"):
        (directory / "state.json").write_text(garbage)
        assert LabState.load("lbr", tmp_path) is None


def test_a_file_with_a_key_is_never_readable_by_others(tmp_path: Path) -> None:
    conf = tmp_path / "lb1" / "exabgp.conf"
    conf.parent.mkdir()
    conf.write_text("an earlier lab's, world-readable\n")
    conf.chmod(0o644)
    old = os.umask(0)  # even with no umask to help
    try:
        write_private(conf, "neighbor 10.0.0.2 { md5-password secret; }\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    assert conf.read_text() == "neighbor 10.0.0.2 { md5-password secret; }\n"


def test_nft_refusing_half_way_is_a_lab_error_that_says_what_is_left(tmp_path: Path) -> None:
    """``lab backends`` reads every LB's table with nft (``kernel_buckets``): its refusal is one
    line at the CLI, like any other failure half-way, not a traceback."""
    lab = Lab("lbr", root=tmp_path)
    says = r"^lab backends failed: nft -j list: no table; the lab is left"
    with pytest.raises(LabError, match=says), lab._left_for_inspection("lab backends"):
        raise NftError("nft -j list", "no table")
