"""The LSTM family: the tutorials' Embedding -> LSTM -> Dense(sigmoid) over the last ``maxlen`` word ids.

Its pieces live where they always did (models.architecture, models.numpy_lstm, models.encoding,
models.explain's occlusion); this object is what the rest of the app asks for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.config import LSTM, SPECIFIED_MAXLEN
from models.families import ModelFamily, PreparedData


class LstmFamily(ModelFamily):
    name = LSTM
    title = "LSTM over word ids"
    reads = "the last maxlen words of a review, each as its vocabulary id (the rest is cut)"

    def describe(self, vocabulary: Any, maxlen: int | None) -> str:
        return f"LSTM: {vocabulary.num_words:,}-word vocabulary; reads the last {maxlen} tokens."

    def tokens_read(self, config) -> int | None:
        return config.maxlen

    # -- training --------------------------------------------------------------------------
    def prepare(self, config, data, should_stop) -> PreparedData:
        from models.training import prepare_arrays
        from models.vocabulary import OOV_ID

        vocabulary, (x_train, y_train), (x_test, y_test) = prepare_arrays(config, data, should_stop)
        oov = float(np.mean(x_train[x_train > 0] == OOV_ID)) if x_train.size else 0.0
        return PreparedData(vocabulary, x_train, y_train, x_test, y_test, oov)

    def network(self, config, prepared, for_training: bool = False):
        from models.architecture import build_model

        return build_model(config, for_training=for_training)

    def input_pipeline(self, x, y, batch_size: int, shuffle: bool = False, seed: int = 0):
        from models.training import input_pipeline

        return input_pipeline(x, y, batch_size, shuffle=shuffle)

    def stored_model(self, trained, config, prepared):
        from models.architecture import stored_model

        return stored_model(trained, config)

    # -- the store -------------------------------------------------------------------------
    def load_vocabulary(self, path):
        from models.vocabulary import Vocabulary

        return Vocabulary.load(path)

    def vocabulary_from_json(self, data):
        from models.vocabulary import Vocabulary

        return Vocabulary.from_json(data)

    def check_loaded(self, model, vocabulary, name: str) -> int | None:
        from models.errors import ModelStoreError
        from models.store import embedding_input_dim, model_sequence_length

        input_dim = embedding_input_dim(model)
        if input_dim is not None and input_dim != vocabulary.num_words:
            raise ModelStoreError(
                f"The model {name!r} does not match its vocabulary: the model expects "
                f"{input_dim} word ids, the vocabulary has {vocabulary.num_words}."
            )
        return model_sequence_length(model)

    # -- scoring ---------------------------------------------------------------------------
    def numpy_engine(self, info):
        from models.numpy_lstm import ModelTooLarge, NumpyLSTMClassifier, UnsupportedModel
        from models.store import MODEL_FILE, VOCAB_FILE
        from models.vocabulary import Vocabulary

        vocabulary = Vocabulary.load(info.path / VOCAB_FILE)
        try:
            net = NumpyLSTMClassifier.from_keras_file(info.path / MODEL_FILE)
        except ModelTooLarge as exc:
            raise ModelTooLarge(f"The model {info.name!r} cannot be used: {exc}.") from None
        if net.vocab_size != vocabulary.num_words:
            raise UnsupportedModel("vocabulary size differs from the embedding")  # Keras' loader reports it
        maxlen = net.maxlen or (info.metadata and info.metadata.maxlen) or SPECIFIED_MAXLEN
        return net, vocabulary, maxlen

    def is_numpy_engine(self, model) -> bool:
        from models.numpy_lstm import NumpyLSTMClassifier

        return isinstance(model, NumpyLSTMClassifier)

    def encode_chunk(self, vocabulary, texts, maxlen, keep_reviews):
        from models.encoding_worker import encode_chunk

        return encode_chunk(vocabulary, texts, maxlen, keep_reviews=keep_reviews)

    def uses_worker(self) -> bool:
        return True

    def probabilities(self, model, x, batch_size: int = 512):
        out = np.empty(len(x), dtype=np.float64)
        numpy_engine = self.is_numpy_engine(model)
        for start in range(0, len(x), batch_size):
            chunk = x[start:start + batch_size]
            if numpy_engine:
                out[start:start + len(chunk)] = model(chunk)
            else:
                # Calling the model directly avoids predict()'s per-call dataset set-up.
                out[start:start + len(chunk)] = np.asarray(model(chunk, training=False)).reshape(-1)
        return out

    def start(self, model, x, batch_size: int = 512):
        if self.is_numpy_engine(model):
            wait = model.start(x)
            return lambda: wait().astype(np.float64)
        return super().start(model, x, batch_size)

    def evaluation_inputs(self, split, vocabulary, maxlen, keras_word_index):
        from models.encoding import encode_split_with_lengths

        ids, lengths = encode_split_with_lengths(split, vocabulary, maxlen, keras_word_index)
        # The start mark takes one of the maxlen ids, so a review of maxlen tokens is already cut by one.
        return ids, lengths, lengths + 1 > maxlen

    def explain(self, predictor, texts, method):
        from models.explain import explain_lstm

        return explain_lstm(predictor, texts, method)

    def explain_stages(self, predictor, text, method, should_stop=None):
        from models.explain import explain_lstm_stages

        return explain_lstm_stages(predictor, text, method, should_stop)


LSTM_FAMILY = LstmFamily()
