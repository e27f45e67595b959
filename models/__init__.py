"""The Qt-free core of Sentiment Studio: data, vocabulary, Keras models, training, scoring and the model store.

Nothing in this package imports PySide6 or pyqtgraph, so it runs as happily in a
script or a test as inside the desktop app. TensorFlow is imported lazily, only by
the functions that need it (see ``models.keras_runtime``).
"""

__version__ = "0.1.0"
