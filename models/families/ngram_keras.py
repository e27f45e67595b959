"""Export of an n-gram model to plain Keras: one ``.keras`` model that takes raw review strings.

The exported network is ``Input(string) -> TextVectorization(standardize=words_v1, ngrams=n,
vocabulary=the features, output_mode=multi_hot or tf_idf) -> Dense(1, sigmoid)``.
TextVectorization puts its out-of-vocabulary slot at index 0, so the Dense kernel gets a zero
row in front of the stored weights. ``words_v1`` (models/families/words_v1_keras.py, written
beside the model as ``words_v1.py``) is the app's tokenizer as TensorFlow string operations,
registered with Keras: after ``import words_v1``, ``keras.saving.load_model`` opens the file.
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from models.atomic_write import atomic_write

MODEL_FILE = "model.keras"
TOKENIZER_FILE = "words_v1.py"
README_FILE = "README.txt"
EXPORT_FILES = (MODEL_FILE, TOKENIZER_FILE, README_FILE)

README_CODE = """\
import keras, words_v1  # words_v1.py (in this folder) registers the tokenizer the model uses
model = keras.saving.load_model("model.keras")
print(float(model.predict(keras.ops.convert_to_tensor([review]), verbose=0)[0, 0]))"""

README_TEMPLATE = """\
{name}
{underline}
An n-gram sentiment model exported from Sentiment Studio {version} on {date}. It gives the
probability that a movie review is positive, from the raw text of the review.

  model.keras   the Keras 3 model: review strings in, P(positive) out
  words_v1.py   the tokenizer the model's TextVectorization layer calls (TensorFlow string ops)

The model reads the whole review: its {features:,} features are the most frequent runs of 1 to
{ngrams} words of its training reviews ({weighting}), and one sigmoid unit weighs them.

Score a review with plain Keras (put your text in `review` first), in this folder:

{code}

The app tokenizes the same way (lower case, HTML removed, words are runs of letters and digits
with inner apostrophes kept); words_v1.py says where the two can differ (rare).
"""


def build_string_model(features, kernel: np.ndarray, bias: float):
    """The plain Keras model on strings scoring as the app's n-gram engine."""
    from models.families import words_v1_keras
    from models.keras_runtime import keras

    k = keras()
    vectorize = k.layers.TextVectorization(
        standardize=words_v1_keras.words_v1, split="whitespace", ngrams=features.ngrams,
        output_mode=features.weighting, vocabulary=list(features.features),
        idf_weights=None if features.idf is None else np.asarray(features.idf, dtype=np.float32),
        name="words_v1_ngrams")
    inputs = k.Input(shape=(), dtype="string", name="review")
    dense = k.layers.Dense(1, activation="sigmoid", name="sentiment")
    model = k.Model(inputs, dense(vectorize(inputs)), name="ngram_linear_on_text")
    full = np.concatenate([[0.0], np.asarray(kernel, dtype=np.float64)]).astype(np.float32)[:, None]
    dense.set_weights([full, np.array([bias], dtype=np.float32)])
    return model


def export_ngram_keras(info, loaded, folder: Path, overwrite: bool):
    """Write model.keras, words_v1.py and README.txt into ``folder`` (all renamed into place together)."""
    import models
    from models.errors import ModelStoreError
    from models.families import words_v1_keras
    from models.families.ngram import _kernel_and_bias
    from models.keras_interop import KerasExport

    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ModelStoreError(f"{folder} is a file; give a folder to export the model into.")
    taken = [name for name in EXPORT_FILES if (folder / name).exists()]
    if taken and not overwrite:
        raise ModelStoreError(
            f"{folder} already holds {', '.join(taken)}. Choose another folder, or replace them (--force).")
    features = loaded.vocabulary
    kernel, bias = _kernel_and_bias(loaded.model)
    model = build_string_model(features, kernel, bias)
    readme = README_TEMPLATE.format(
        name=info.name, underline="=" * len(info.name), version=models.__version__,
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"), features=features.n_features,
        ngrams=features.ngrams, weighting=features.weighting.replace("_", "-"),
        code="\n".join("    " + line for line in README_CODE.splitlines()))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as stack:
            model_out = stack.enter_context(atomic_write(folder / MODEL_FILE, "wb"))
            code_out = stack.enter_context(atomic_write(folder / TOKENIZER_FILE, "w", encoding="utf-8", newline="\n"))
            readme_out = stack.enter_context(atomic_write(folder / README_FILE, "w", encoding="utf-8", newline="\n"))
            staged = folder / f".{MODEL_FILE}.{id(model_out)}.keras"
            try:
                model.save(staged)  # Keras writes by name; the bytes then go through the atomic writer
                with open(staged, "rb") as src:
                    shutil.copyfileobj(src, model_out)
            finally:
                staged.unlink(missing_ok=True)
            with open(words_v1_keras.__file__, encoding="utf-8") as src:
                code_out.write(src.read())
            readme_out.write(readme)
    except OSError as exc:
        raise ModelStoreError(f"Could not export the model to {folder} ({exc.strerror or exc}).") from None
    return KerasExport(folder, [folder / name for name in EXPORT_FILES], None, features.n_features)
