"""Model folders and model files from elsewhere: checked by the one metadata schema, read with bounds.

Every case runs the real CLI under a memory cap (tests/capped.py) on files crafted here: it
must exit 0 or 2 with one readable line, and leave every other model usable.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from models.metadata import MetadataError, ModelMetadata, clean_name
from models.paths import builtin_model_dirs
from tests.capped import deflate_of_zeros, refused, run_cli, zip_bytes

BUILTIN = builtin_model_dirs()[0]
BUILTIN_META = json.loads((BUILTIN / "metadata.json").read_text(encoding="utf-8"))


def _changed(meta: dict, path: str, value) -> dict:
    out = json.loads(json.dumps(meta))
    node = out
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return out


# metadata.json content -> what the listing must say about it
BAD_METADATA = {
    "maxlen a billion": (_changed(BUILTIN_META, "config.maxlen", 1_000_000_000), "maxlen must be at most"),
    "maxlen negative": (_changed(BUILTIN_META, "config.maxlen", -5), "maxlen must be at least 1"),
    "maxlen text": (_changed(BUILTIN_META, "config.maxlen", "abc"), "maxlen must be a whole number"),
    "vocabulary too large": (_changed(BUILTIN_META, "config.vocab_size", 10**12), "vocab_size must be at most"),
    "a list where an object belongs": (_changed(BUILTIN_META, "results", [1, 2]), "results must be a JSON object"),
    "text where a number belongs": (_changed(BUILTIN_META, "results.test_accuracy", "high"),
                                    "test_accuracy must be between 0 and 1"),
    "an object where a value belongs": (_changed(BUILTIN_META, "data.source", {"a": 1}),
                                        "data.source must be text"),
    "history of text": (_changed(BUILTIN_META, "history.loss", ["x"]), "history.loss must be a list"),
    "format version text": (_changed(BUILTIN_META, "format_version", "one"), "no valid format version"),
    "format version newer": (_changed(BUILTIN_META, "format_version", 99), "newer version of Sentiment Studio"),
    "dated in the far future": (_changed(BUILTIN_META, "created", "2999-01-01T00:00:00+00:00"),
                                "created is in the future"),
    "date not a date": (_changed(BUILTIN_META, "created", "yesterday"), "created is not a date"),
    "not an object": ([1, 2, 3], "not a JSON object"),
}


def _store_with(home: Path, folders: dict[str, object]) -> Path:
    """A store holding a copy of the built-in model ("good") and one folder per metadata given."""
    root = home / "models"
    good = root / "good"
    shutil.copytree(BUILTIN, good)
    (good / "metadata.json").write_text(json.dumps({**BUILTIN_META, "name": "good",
                                                    "created": "2026-01-01T00:00:00+00:00"}), encoding="utf-8")
    for folder, meta in folders.items():
        shutil.copytree(BUILTIN, root / folder)
        (root / folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return root


@pytest.mark.parametrize("case", list(BAD_METADATA))
def test_the_schema_refuses_each_bad_metadata_with_its_reason(case):
    meta, reason = BAD_METADATA[case]
    with pytest.raises(MetadataError, match=reason):
        ModelMetadata.from_json(meta)


def test_damaged_models_are_listed_with_the_reason_and_never_the_default(tmp_path):
    folders = {f"bad-{i}": meta for i, (meta, _) in enumerate(BAD_METADATA.values())}
    _store_with(tmp_path, folders)
    listing = run_cli(tmp_path, "models")
    assert listing.returncode == 0, listing.stderr
    by_id = {m["id"]: m for m in json.loads(listing.stdout)}
    for i, (_, reason) in enumerate(BAD_METADATA.values()):
        assert reason in (by_id[f"bad-{i}"]["damaged"] or ""), (reason, by_id[f"bad-{i}"])
    assert by_id["good"]["damaged"] is None and by_id[BUILTIN.name]["damaged"] is None

    # The newest usable model is the default, whatever a damaged one claims about its date.
    scored = run_cli(tmp_path, "predict", "A wonderful film.")
    assert scored.returncode == 0, scored.stderr
    for ref in ("bad-0", "bad-10"):  # maxlen a billion; dated in the far future
        refused(run_cli(tmp_path, "predict", "--model", ref, "A wonderful film."), "cannot be used")
    assert json.loads(run_cli(tmp_path, "predict", "--model", "good", "A wonderful film.").stdout)["label"]


def test_names_are_cleaned_of_control_characters():
    assert clean_name("  my\x1b[31m\tmodel\u200b\n ") == "my[31m model"
    meta = ModelMetadata.from_json({**BUILTIN_META, "name": "\x00\x07"}, fallback_name="folder")
    assert meta.name == "folder"


def test_fields_the_app_does_not_read_may_hold_any_json_and_are_kept():
    meta = ModelMetadata.from_json({**BUILTIN_META, "data": {**BUILTIN_META["data"], "histogram": [1, 2, 3]},
                                    "results": {**BUILTIN_META["results"], "per_class": {"pos": 0.8}}})
    assert meta.data["histogram"] == [1, 2, 3] and meta.to_json()["results"]["per_class"] == {"pos": 0.8}
    with pytest.raises(MetadataError, match="versions.keras must be a single value"):
        ModelMetadata.from_json({**BUILTIN_META, "versions": {"keras": ["3"]}})


def test_a_rename_keeps_what_this_version_does_not_know(tmp_path):
    from models.store import ModelStore

    root = _store_with(tmp_path, {"extra": {**BUILTIN_META, "name": "extra", "future_feature": {"k": [1, 2]}}})
    store = ModelStore(root)
    store.rename("extra", "renamed")
    saved = json.loads((root / "extra" / "metadata.json").read_text(encoding="utf-8"))
    assert saved["name"] == "renamed" and saved["future_feature"] == {"k": [1, 2]}


# -- .ssmodel files ---------------------------------------------------------------------------


def _ssmodel(path: Path, *, meta: dict | None = None, vocabulary: bytes | None = None,
             model: bytes | None = None) -> Path:
    path.write_bytes(zip_bytes({
        "model.keras": model if model is not None else (BUILTIN / "model.keras").read_bytes(),
        "vocabulary.json": vocabulary if vocabulary is not None else (BUILTIN / "vocabulary.json").read_bytes(),
        "metadata.json": json.dumps(meta if meta is not None else BUILTIN_META).encode(),
    }))
    return path


def _weights_bomb(megabytes: int) -> bytes:
    """A .keras zip whose config and metadata are the built-in model's, and whose weights member
    expands to ``megabytes`` MB (its few kilobytes of deflate stream are all zeros)."""
    with zipfile.ZipFile(BUILTIN / "model.keras") as zf:
        config, meta = zf.read("config.json"), zf.read("metadata.json")
    return zip_bytes({"metadata.json": meta, "config.json": config,
                      "model.weights.h5": (megabytes << 20, deflate_of_zeros(megabytes))})


def _vocabulary_of(num_words: int) -> bytes:
    vocab = json.loads((BUILTIN / "vocabulary.json").read_text(encoding="utf-8"))
    vocab["num_words"] = num_words
    vocab["words"] = vocab["words"][: num_words - 4]
    return json.dumps(vocab).encode()


BAD_SSMODELS = {
    "weights expanding to 2 GB": (dict(model=_weights_bomb(2048)), "larger than the limit"),
    "maxlen a billion": (dict(meta=BAD_METADATA["maxlen a billion"][0]), "maxlen must be at most"),
    "maxlen text": (dict(meta=BAD_METADATA["maxlen text"][0]), "maxlen must be a whole number"),
    "wrong types": (dict(meta=BAD_METADATA["a list where an object belongs"][0]), "results must be a JSON object"),
    "dated in the far future": (dict(meta=BAD_METADATA["dated in the far future"][0]), "in the future"),
    "vocabulary that does not match the model": (
        dict(vocabulary=_vocabulary_of(500), meta=_changed(BUILTIN_META, "config.vocab_size", 500)),
        "its model expects 2,000 word ids, its vocabulary has 500"),
    "vocabulary of a billion words": (dict(vocabulary=_vocabulary_of(10**9)), "num_words must be at most"),
}


@pytest.mark.parametrize("case", list(BAD_SSMODELS))
def test_bad_ssmodel_files_are_refused_and_add_nothing(tmp_path, case):
    parts, reason = BAD_SSMODELS[case]
    bad = _ssmodel(tmp_path / "from-a-colleague.ssmodel", **parts)
    assert bad.stat().st_size < 8 * 1024**2
    refused(run_cli(tmp_path, "import", bad), "from-a-colleague.ssmodel", reason)
    listing = run_cli(tmp_path, "models")
    assert [m["builtin"] for m in json.loads(listing.stdout)] == [True, True]  # the two built-in models only


def test_a_weights_bomb_put_into_the_store_by_hand_is_refused_and_the_rest_still_work(tmp_path):
    root = _store_with(tmp_path, {"bomb": {**BUILTIN_META, "name": "bomb", "created": "2026-06-01T00:00:00+00:00"}})
    (root / "bomb" / "model.keras").write_bytes(_weights_bomb(3072))
    listing = {m["id"]: m for m in json.loads(run_cli(tmp_path, "models").stdout)}
    assert "larger than the limit" in listing["bomb"]["damaged"]
    refused(run_cli(tmp_path, "predict", "--model", "bomb", "A wonderful film."), "larger than the limit")
    assert run_cli(tmp_path, "predict", "A wonderful film.").returncode == 0  # "good" is the default now
