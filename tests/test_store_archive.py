"""Single-file model export and import (``.ssmodel`` archives) of the model store."""

import json
import warnings
import zipfile
from datetime import datetime

import numpy as np
import pytest

import models.store as store_module
from models.errors import ModelStoreError
from models.prediction import Predictor
from models.store import META_FILE, MODEL_FILE, VOCAB_FILE, ModelStore
from tests.conftest import save_trained

MEMBERS = [MODEL_FILE, VOCAB_FILE, META_FILE]


@pytest.fixture(scope="module")
def trained(tiny_training):
    return tiny_training[1]


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


@pytest.fixture
def saved(store, trained):
    return save_trained(store, trained)


@pytest.fixture
def archive(tmp_path, store, saved):
    return store.export_archive(saved.id, tmp_path / "shared.ssmodel")


def store_state(store):
    """Everything in the store folder, hidden entries included, with file contents."""
    return {p.relative_to(store.root).as_posix(): p.read_bytes() if p.is_file() else None
            for p in sorted(store.root.rglob("*"))}


def rewrite(archive, dest, replace=None, drop=(), extra=None):
    """A copy of ``archive`` with members replaced (name -> bytes), dropped or added."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(dest, "w") as out, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns when asked to write a duplicate name
        for name in src.namelist():
            if name in drop:
                continue
            out.writestr(name, (replace or {}).get(name, src.read(name)))
        for name, data in (extra or {}).items():
            out.writestr(zipfile.ZipInfo(name), data)
    return dest


def test_export_holds_exactly_the_three_model_files(archive, saved, tmp_path):
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == sorted(MEMBERS)
        for name in MEMBERS:
            assert zf.read(name) == (saved.path / name).read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".shared")] == []  # no temp file left


def test_round_trip_gives_a_second_model_that_predicts_the_same(store, saved, archive, trained):
    imported = store.import_archive(archive)
    assert imported.damaged is None and imported.id != saved.id
    assert imported.name == "my model (2)"  # the name was taken
    assert imported.created == saved.created  # when the model was trained, not copied
    assert imported.metadata.config == saved.metadata.config
    assert imported.metadata.imported.source == "shared.ssmodel"
    assert {i.id for i in store.list()} == {saved.id, imported.id}
    assert (imported.path / VOCAB_FILE).read_bytes() == (saved.path / VOCAB_FILE).read_bytes()

    texts = ["A great film, wonderful acting", "An awful film, terrible acting", "the plot of the movie"]
    original = Predictor.from_loaded(store.load(saved.id)).predict_many(texts)
    copy = Predictor.from_loaded(store.load(imported.id)).predict_many(texts)
    np.testing.assert_allclose([p.probability for p in copy], [p.probability for p in original], atol=1e-6)


def test_import_takes_a_given_name_and_keeps_names_unique(store, archive, saved):
    assert store.import_archive(archive, name="  from Ann  ").name == "from Ann"
    assert store.import_archive(archive, name="from ann").name == "from ann (2)"
    assert store.import_archive(archive, name="   ").name == "my model (2)"  # blank: the archive's name


def test_import_into_an_empty_store(tmp_path, archive):
    other = ModelStore(tmp_path / "elsewhere")
    info = other.import_archive(archive)
    assert info.name == "my model" and other.newest().id == info.id


def test_import_never_replaces_an_existing_folder(store, archive, monkeypatch):
    class FrozenClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2030, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr(store_module, "datetime", FrozenClock)
    squatter = store.root / "shared-20300102-030405"  # where the import would go first
    squatter.mkdir()
    (squatter / "keep.txt").write_text("mine")
    info = store.import_archive(archive, name="shared")
    assert (squatter / "keep.txt").read_text() == "mine" and sorted(p.name for p in squatter.iterdir()) == ["keep.txt"]
    assert info.path.name == "shared-20300102-030405-2" and info.damaged is None


def test_export_replaces_the_destination_whole(store, saved, tmp_path):
    dest = tmp_path / "out.ssmodel"
    dest.write_bytes(b"old contents")
    assert store.export_archive(saved.name, dest) == dest
    assert zipfile.is_zipfile(dest)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp") == []


def test_export_errors_are_readable(store, saved, tmp_path):
    with pytest.raises(ModelStoreError, match="Could not export the model to .*missing"):
        store.export_archive(saved.id, tmp_path / "missing" / "x.ssmodel")
    (saved.path / MODEL_FILE).unlink()
    with pytest.raises(ModelStoreError, match="cannot be exported: model.keras is missing"):
        store.export_archive(saved.id, tmp_path / "x.ssmodel")
    with pytest.raises(ModelStoreError, match="No model called"):
        store.export_archive("nope", tmp_path / "x.ssmodel")
    assert not (tmp_path / "x.ssmodel").exists()


def raw(data):
    def write(archive, dest):
        dest.write_bytes(data)
        return dest

    return write


def _meta(archive, **changes):
    with zipfile.ZipFile(archive) as zf:
        return json.dumps({**json.loads(zf.read(META_FILE)), **changes}).encode()


BAD_ARCHIVES = {
    "not a zip": (raw(b"just some text\n"), "is not a Sentiment Studio model file"),
    "empty file": (raw(b""), "is not a Sentiment Studio model file"),
    "extra member": (lambda a, d: rewrite(a, d, extra={"notes.txt": b"hi"}), "it holds .*notes.txt"),
    "missing member": (lambda a, d: rewrite(a, d, drop=[VOCAB_FILE]), "holding exactly model.keras"),
    "member in a folder": (lambda a, d: rewrite(a, d, drop=[MODEL_FILE], extra={"sub/model.keras": b"PK"}),
                           "it holds .*sub/model.keras"),
    "absolute member": (lambda a, d: rewrite(a, d, drop=[MODEL_FILE], extra={"/model.keras": b"PK"}),
                        "it holds .*/model.keras"),
    "parent member": (lambda a, d: rewrite(a, d, drop=[MODEL_FILE], extra={"../model.keras": b"PK"}),
                      r"it holds .*\.\./model.keras"),
    "duplicate member": (lambda a, d: rewrite(a, d, extra={VOCAB_FILE: b"{}"}),
                         "it holds .*vocabulary.json.*vocabulary.json"),
    "metadata not JSON": (lambda a, d: rewrite(a, d, replace={META_FILE: b"{nope"}), "JSON files cannot be read"),
    "metadata not an object": (lambda a, d: rewrite(a, d, replace={META_FILE: b"[1, 2]"}), "not a JSON object"),
    "vocabulary not JSON": (lambda a, d: rewrite(a, d, replace={VOCAB_FILE: b"\xff\xfe"}),
                            "JSON files cannot be read"),
    "vocabulary of another kind": (lambda a, d: rewrite(a, d, replace={VOCAB_FILE: b'{"the": 1}'}),
                                   "damaged: This file is not a Sentiment Studio vocabulary"),
    "newer format": (lambda a, d: rewrite(a, d, replace={META_FILE: _meta(a, format_version=99)}),
                     "newer version of Sentiment Studio"),
    "bad format version": (lambda a, d: rewrite(a, d, replace={META_FILE: _meta(a, format_version="x")}),
                           "no valid format version"),
    "model not a Keras file": (lambda a, d: rewrite(a, d, replace={MODEL_FILE: b"not a keras zip"}),
                               "model.keras is not a Keras model file"),
    "empty model": (lambda a, d: rewrite(a, d, replace={MODEL_FILE: b""}), "model.keras is empty"),
}


@pytest.mark.parametrize("case", list(BAD_ARCHIVES))
def test_bad_archives_are_refused_and_change_nothing(case, store, archive, tmp_path):
    make, message = BAD_ARCHIVES[case]
    bad = make(archive, tmp_path / "bad.ssmodel")
    before = store_state(store)
    with pytest.raises(ModelStoreError, match=message):
        store.import_archive(bad)
    assert store_state(store) == before


def test_corrupt_member_data_is_refused(store, archive, tmp_path):
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(MODEL_FILE)  # stored uncompressed, so its bytes sit in the file as they are
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.file_size // 2] ^= 0xFF
    bad = tmp_path / "corrupt.ssmodel"
    bad.write_bytes(bytes(data))
    before = store_state(store)
    with pytest.raises(ModelStoreError, match="corrupt.ssmodel is damaged"):
        store.import_archive(bad)
    assert store_state(store) == before


def test_oversized_members_are_refused(store, archive, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_METADATA_BYTES", 100)
    before = store_state(store)
    with pytest.raises(ModelStoreError, match="too large"):
        store.import_archive(archive)
    assert store_state(store) == before


def test_missing_file_and_folder_are_refused(store, tmp_path):
    with pytest.raises(ModelStoreError, match="does not exist"):
        store.import_archive(tmp_path / "nowhere.ssmodel")
    with pytest.raises(ModelStoreError, match="is a folder"):
        store.import_archive(tmp_path)


def test_a_failed_write_during_import_leaves_nothing(store, saved, archive, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_module, "write_json_atomic", full)
    before = store_state(store)
    with pytest.raises(ModelStoreError, match="Could not import the model .*No space left on device"):
        store.import_archive(archive)
    assert store_state(store) == before
