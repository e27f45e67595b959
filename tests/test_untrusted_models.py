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


# -- JSON nested deeper than anything the app writes ---------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB: json.loads raises RecursionError on it


def _nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def _keras_with_config(config: str) -> bytes:
    with zipfile.ZipFile(BUILTIN / "model.keras") as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    return zip_bytes({**members, "config.json": config.encode()})


def test_the_one_json_reader_refuses_deep_nesting_with_a_value_error():
    from models.bounded_io import MAX_JSON_DEPTH, UnreadableJson, parse_json

    assert parse_json(_nested(MAX_JSON_DEPTH)) and parse_json('{"a":' * MAX_JSON_DEPTH + "1" + "}" * MAX_JSON_DEPTH)
    for text in (DEEP, _nested(985), _nested(MAX_JSON_DEPTH + 1), '{"a":' * 65 + "1" + "}" * 65):
        with pytest.raises(UnreadableJson, match=f"more than {MAX_JSON_DEPTH} deep"):
            parse_json(text)
    assert issubclass(UnreadableJson, ValueError)  # every caller's `except ValueError` names its file


def test_a_store_folder_of_deep_json_is_listed_as_damaged_and_the_rest_still_work(tmp_path):
    older = "2025-01-01T00:00:00+00:00"  # than "good": a vocabulary is read when the model is used, not listed
    root = _store_with(tmp_path, {"deep-meta": {},
                                  "deep-vocab": {**BUILTIN_META, "name": "deep-vocab", "created": older},
                                  "deep-config": {**BUILTIN_META, "name": "deep-config", "created": older}})
    (root / "deep-meta" / "metadata.json").write_text(DEEP, encoding="utf-8")
    (root / "deep-vocab" / "vocabulary.json").write_text(DEEP, encoding="utf-8")
    (root / "deep-config" / "model.keras").write_bytes(_keras_with_config(_nested(985)))
    listing = run_cli(tmp_path, "models")
    assert listing.returncode == 0, listing.stderr
    by_id = {m["id"]: m for m in json.loads(listing.stdout)}
    assert by_id["deep-meta"]["damaged"] == "metadata.json cannot be read (it nests arrays or objects more than 64 deep)"  # noqa: E501
    assert "config.json nests arrays or objects more than 64 deep" in by_id["deep-config"]["damaged"]
    assert by_id["good"]["damaged"] is None
    scored = run_cli(tmp_path, "predict", "A wonderful film.")
    assert scored.returncode == 0 and json.loads(scored.stdout)["model"] == "good", scored.stderr
    refused(run_cli(tmp_path, "predict", "--model", "deep-vocab", "A wonderful film."),
            "vocabulary.json cannot be read", "more than 64 deep")
    refused(run_cli(tmp_path, "predict", "--model", "deep-config", "A wonderful film."), "more than 64 deep")


def test_a_model_trained_beside_a_damaged_folder_is_saved(tmp_path, tiny_training):
    from models.store import ModelStore
    from tests.conftest import save_trained

    root = _store_with(tmp_path, {"deep": {}})
    (root / "deep" / "metadata.json").write_text(DEEP, encoding="utf-8")
    store = ModelStore(root)
    saved = save_trained(store, tiny_training[1], name="good")  # unique_name reads every folder's name
    assert saved.name == "good (2)" and saved.damaged is None
    assert [i.name for i in store.list() if i.damaged is None] == ["good (2)", "good"]


DEEP_SSMODELS = {
    "metadata nested 100,000 deep": dict(meta=None, raw_meta=DEEP.encode()),
    "vocabulary nested 100,000 deep": dict(vocabulary=DEEP.encode()),
    "model config nested 985 deep": dict(model=_keras_with_config(_nested(985))),
}


@pytest.mark.parametrize("case", list(DEEP_SSMODELS))
def test_an_ssmodel_of_deep_json_is_refused_in_one_line(tmp_path, case):
    parts = dict(DEEP_SSMODELS[case])
    raw_meta = parts.pop("raw_meta", None)
    bad = _ssmodel(tmp_path / "deep.ssmodel", **parts)
    if raw_meta is not None:
        with zipfile.ZipFile(bad) as zf:
            members = {name: zf.read(name) for name in zf.namelist()}
        bad.write_bytes(zip_bytes({**members, "metadata.json": raw_meta}))
    refused(run_cli(tmp_path, "import", bad), "deep.ssmodel", "more than 64 deep")
    assert [m["builtin"] for m in json.loads(run_cli(tmp_path, "models").stdout)] == [True, True]


def test_a_deep_word_index_and_a_deep_keras_config_are_refused_on_import(tmp_path):
    index = tmp_path / "word_index.json"
    index.write_text('{"the": 1, "x": ' + DEEP + "}", encoding="utf-8")
    refused(run_cli(tmp_path, "import", BUILTIN / "model.keras", "--word-index", index),
            "word_index.json", "more than 64 deep")
    deep = tmp_path / "deep.keras"
    deep.write_bytes(_keras_with_config('{"class_name": "Sequential", "config": ' + _nested(985) + "}"))
    refused(run_cli(tmp_path, "import", deep, "--word-index", BUILTIN / "vocabulary.json", tensorflow=True),
            "deep.keras", "more than 64 deep")
    assert [m["builtin"] for m in json.loads(run_cli(tmp_path, "models").stdout)] == [True, True]


# -- lone surrogates: valid JSON, but no text file can hold them ---------------------------


def test_the_one_json_reader_refuses_a_lone_surrogate_and_keeps_pairs():
    from models.bounded_io import UnreadableJson, parse_json

    assert parse_json('"\\ud83d\\ude00"') == "\U0001f600"  # a pair, as json.dumps writes an emoji
    assert parse_json('"\\\\ud800"') == "\\ud800"  # an escaped backslash, then text
    for text in ('"\\ud800"', '{"\\udc00x": 1}', '[1, {"a": ["ok", "\\uDBFF!"]}]', '"\\ude00\\ud83d"'):
        with pytest.raises(UnreadableJson, match="half of a UTF-16 pair"):
            parse_json(text)
    with pytest.raises(UnicodeDecodeError):  # a surrogate written as UTF-8 bytes is not UTF-8
        parse_json(b'"\xed\xa0\x80"')


def test_lone_surrogates_are_refused_where_they_are_read(tmp_path):
    """They crashed rename (an unknown metadata key), export --format keras (a vocabulary word)
    and import (a --word-index word) with UnicodeEncodeError when the file was written."""
    older = "2025-01-01T00:00:00+00:00"
    root = _store_with(tmp_path, {"odd-key": {**BUILTIN_META, "name": "odd-key", "x\ud800": 1, "created": older},
                                  "odd-word": {**BUILTIN_META, "name": "odd-word", "created": older}})
    vocabulary = json.loads((root / "odd-word" / "vocabulary.json").read_text(encoding="utf-8"))
    vocabulary["words"][5] = "bad\udc00"
    (root / "odd-word" / "vocabulary.json").write_text(json.dumps(vocabulary), encoding="utf-8")
    by_id = {m["id"]: m for m in json.loads(run_cli(tmp_path, "models").stdout)}
    assert "metadata.json cannot be read (it holds the escape \\ud800" in by_id["odd-key"]["damaged"]
    refused(run_cli(tmp_path, "rename", "odd-key", "renamed"), "cannot be renamed", "half of a UTF-16 pair")
    refused(run_cli(tmp_path, "export", "odd-word", tmp_path / "out", "--format", "keras"),
            "vocabulary.json cannot be read", "\\udc00")
    assert not (tmp_path / "out").exists()

    index = tmp_path / "word_index.json"
    index.write_text(json.dumps({"the": 1, "good\ud800": 2}), encoding="utf-8")
    refused(run_cli(tmp_path, "import", BUILTIN / "model.keras", "--word-index", index),
            "word_index.json", "half of a UTF-16 pair")
    bad = _ssmodel(tmp_path / "odd.ssmodel", meta={**BUILTIN_META, "name": "odd\udfff"})
    refused(run_cli(tmp_path, "import", bad), "odd.ssmodel", "half of a UTF-16 pair")
    assert sorted(m["id"] for m in json.loads(run_cli(tmp_path, "models").stdout)) == \
        sorted(["good", "odd-key", "odd-word", *(d.name for d in builtin_model_dirs())])
