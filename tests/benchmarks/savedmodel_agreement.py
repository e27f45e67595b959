"""How closely an exported SavedModel (raw text in) scores as the app, on the 25,000 test reviews of the archive.

    python -m tests.benchmarks.savedmodel_agreement ["IMDB LSTM (built-in)" "IMDB n-grams (built-in)" ...]

Each model is exported with models.serving.export into a temporary folder, loaded back with
``tf.saved_model.load`` and called 500 reviews at a time; the app's probabilities are Predictor.predict_many's
(unrounded). Printed per model: the largest and median |difference| and how many labels (at 0.5) differ.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tests.benchmarks.reproduce_presets import ARCHIVE, machine

DEFAULT_MODELS = ["IMDB LSTM (built-in)", "IMDB n-grams (built-in)"]


def main(names: list[str]) -> int:
    import tensorflow as tf

    from models.datasets import load_source
    from models.paths import builtin_model_dirs
    from models.prediction import Predictor
    from models.serving.export import export_saved_model
    from models.store import ModelStore

    texts = load_source(str(ARCHIVE)).test.texts
    print(f"{len(texts):,} test reviews; {machine()}\n")
    print("| model | largest abs difference | median | labels that differ |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="savedmodel-agreement-") as tmp:
        store = ModelStore(Path(tmp) / "home", builtin=builtin_model_dirs())
        for name in names:
            folder = export_saved_model(store, name, Path(tmp) / f"export-{len(name)}-{abs(hash(name))}").folder
            serve = tf.saved_model.load(str(folder)).signatures["serving_default"]
            served = np.concatenate([serve(text=tf.constant(texts[i:i + 500]))["probability"].numpy()
                                     for i in range(0, len(texts), 500)]).astype(np.float64)
            app = np.array([p.probability for p in Predictor.from_store(store, name).predict_many(texts)])
            diff = np.abs(served - app)
            print(f"| {name} | {diff.max():.1e} | {np.median(diff):.1e} | "
                  f"{int(((served >= 0.5) != (app >= 0.5)).sum())} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or DEFAULT_MODELS))
