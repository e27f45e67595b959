"""models.atomic_write: the one way the app writes a file, whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from models.atomic_write import atomic_write, write_json_atomic


def test_a_failure_inside_the_block_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_write(target, "w", encoding="utf-8") as f:
        f.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_a_clean_exit_replaces_the_file_whole(tmp_path):
    target = tmp_path / "meta.json"
    write_json_atomic(target, {"name": "a"})
    write_json_atomic(target, {"name": "b"})
    assert target.read_text(encoding="utf-8") == '{\n  "name": "b"\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["meta.json"]


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text("keep", encoding="utf-8")
    link = tmp_path / "store" / "metadata.json"
    link.parent.mkdir()
    os.symlink(outside, link)
    write_json_atomic(link, {"name": "new"})
    assert outside.read_text(encoding="utf-8") == "keep"
    assert not link.is_symlink() and "new" in link.read_text(encoding="utf-8")


def test_a_folder_or_device_at_the_target_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(IsADirectoryError), atomic_write(tmp_path, "w") as f:
        f.write("never")
    with pytest.raises(OSError, match="device, pipe or socket"), atomic_write(Path("/dev/null")) as f:
        f.write(b"never")
    assert Path("/dev/null").is_char_device() and list(tmp_path.iterdir()) == []
