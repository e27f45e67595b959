"""The store shared by several processes at once: names stay unique, a failed delete says so."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from models.errors import ModelStoreError
from models.paths import builtin_model_dirs
from models.store import ModelStore
from tests.capped import ROOT, capped_env

IMPORTERS = 6
# Each child waits for the go file, then imports the same archive under the same name.
_IMPORT = """
import os, sys, time
from pathlib import Path
from models.store import ModelStore
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
print(ModelStore(Path(sys.argv[1])).import_archive(Path(sys.argv[3]), name="shared name").name)
"""


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    folder = tmp_path_factory.mktemp("archive")
    builtin = ModelStore(folder / "empty", builtin=builtin_model_dirs())
    return builtin.export_archive(builtin.list()[0].id, folder / "model.ssmodel")


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_imports_under_one_name_get_distinct_names(tmp_path, archive, round_):
    store_root, go = tmp_path / "models", tmp_path / "go"
    children = [subprocess.Popen([sys.executable, "-c", _IMPORT, str(store_root), str(go), str(archive)], cwd=ROOT,
                                 env=capped_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for _ in range(IMPORTERS)]
    time.sleep(0.5)  # not for correctness: lets the children reach their wait, so they race
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    assert all(child.returncode == 0 for child in children), [err[-1000:] for _, err in outputs]
    names = [out.strip() for out, _ in outputs]
    stored = [info.name for info in ModelStore(store_root).list()]
    assert len(set(names)) == IMPORTERS and sorted(stored) == sorted(names), (names, stored)
    assert {name.casefold() for name in stored} == {"shared name"} | {f"shared name ({n})" for n in range(2, 7)}


def _stored_model(root):
    builtin = ModelStore(root.parent / "builtin-view", builtin=builtin_model_dirs())
    archive = builtin.export_archive(builtin.list()[0].id, root.parent / "m.ssmodel")
    return ModelStore(root).import_archive(archive, name="keep me")


def test_a_delete_that_cannot_remove_the_files_says_so_and_leaves_no_trash(tmp_path, monkeypatch):
    info = _stored_model(tmp_path / "models")

    def refuse(path, *args, **kwargs):  # as in a read-only folder (root may unlink anything here: simulated)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "unlink", refuse)
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelStoreError, match="Could not delete the model 'keep me' \\(permission denied\\): "
                                              "it is still in the store"):
        store.delete(info.id)
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [info.id]  # no .trash-PID folder
    assert [(i.name, i.damaged) for i in store.list()] == [("keep me", None)]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may delete in read-only folders")
def test_deleting_a_model_in_a_read_only_folder_is_refused_from_the_command_line(tmp_path):
    info = _stored_model(tmp_path / "models")
    info.path.chmod(0o555)
    try:
        proc = subprocess.run([sys.executable, "-m", "app", "delete", info.id], cwd=ROOT,
                              env=capped_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and "Could not delete" in proc.stderr and "deleted" not in proc.stdout
        assert [p.name for p in (tmp_path / "models").iterdir()] == [info.id]
    finally:
        info.path.chmod(0o755)
